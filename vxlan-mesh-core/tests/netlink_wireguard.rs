//! The WireGuard part of the netlink apply against a real kernel, where it needs no
//! wireguard-go daemon (those paths run end to end in vxlan-mesh-cli/tests/e2e_wireguard.rs).
#![cfg(all(feature = "netlink", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::in_netns;
use vxlan_mesh_core::netlink::{self, ApplyError, Netns};
use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::HostPlan;

/// Host `a`'s plan of an encrypted pair `a`, `b`, inner addresses in a documentation range
/// (the default prefix is private).
fn plan_a() -> HostPlan {
    let fleet = FleetBuilder::new()
        .wireguard_prefix("192.0.2.128/25")
        .network("lan", 1000, "vxbr0")
        .lettered(2);
    fleet.fleet().plan("a").unwrap()
}

#[test]
fn a_missing_private_key_file_is_refused_before_anything_changes() {
    in_netns(|| {
        let mut plan = plan_a();
        plan.wireguard.as_mut().unwrap().private_key_file = Some("/nonexistent/wireguard.key".into());
        let err = netlink::apply(&Netns::current().unwrap(), &plan).unwrap_err();
        assert!(
            matches!(&err, ApplyError::Missing { role: "WireGuard private key file", name, by }
                if name == "/nonexistent/wireguard.key" && by == "vxmwg0"),
            "{err}"
        );
        let links = Command::new("ip").args(["-o", "link", "show"]).output().unwrap();
        let links = String::from_utf8_lossy(&links.stdout);
        assert!(!links.contains("vxbr0") && !links.contains("vxmwg0"), "{links}");
        let tables = Command::new("nft").args(["list", "tables"]).output().unwrap();
        assert!(!String::from_utf8_lossy(&tables.stdout).contains("vxlan_mesh"));
    });
}

#[test]
fn status_of_a_host_without_its_interface_reports_the_creation_and_no_sessions() {
    // Status refuses what apply would refuse, so the key file must be there (it is not read).
    let key = std::env::temp_dir().join(format!("vxm-wg-status-{}.key", std::process::id()));
    std::fs::write(&key, "").unwrap();
    let key_file = key.clone();
    let result = std::panic::catch_unwind(move || {
        in_netns(move || status_without_interface(key_file));
    });
    std::fs::remove_file(&key).unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn status_without_interface(key: std::path::PathBuf) {
    let mut plan = plan_a();
    plan.wireguard.as_mut().unwrap().private_key_file = Some(key);
    let here = Netns::current().unwrap();
    let drift = netlink::status(&here, &plan).unwrap();
    assert!(
        drift
            .iter()
            .any(|c| c.to_string().starts_with("create wireguard vxmwg0 192.0.2.129/25")),
        "{drift:?}"
    );
    assert!(netlink::wireguard_sessions(&here, &plan).unwrap().is_empty());
}
