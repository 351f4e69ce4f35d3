//! An evpn-mode plan applied through netlink in a namespace of the test's own: the VXLAN
//! device does not learn, its bridge port suppresses neighbour discovery and does not learn,
//! no flood entry is written, and the entries an EVPN control plane installs (flood entries
//! `self permanent`, remote MACs `extern_learn`, written here with `bridge` as FRR's zebra
//! writes them) are not drift; a port flag changed behind vxlan-mesh's back is, and so is
//! the bridge's `arp_accept` turned off.
//! Root needed; fails loudly without.
#![cfg(all(feature = "netlink", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vxlan_mesh_core::netlink::{self, Netns};
use vxlan_mesh_core::plan_host_from_toml;

mod common;
use common::Named;

const INVENTORY: &str = r#"
mode = "evpn"
[evpn]
underlay-prefix = "192.0.2.0/24"
[[networks]]
name = "lan"
vni = 100
bridge = "vxbr0"
[[hosts]]
name = "h1"
address = "192.0.2.1"
route-reflector = true
[[hosts]]
name = "h2"
address = "192.0.2.2"
"#;

#[test]
fn an_evpn_port_is_set_up_for_frr_and_frr_s_entries_are_not_drift() {
    let ns = Named::underlay("vxm-evpn");
    let inside = |args: &[&str]| ns.inside(args);
    let plan = plan_host_from_toml(INVENTORY, "h1").unwrap();
    let target = Netns::named(&ns.0).unwrap();

    netlink::apply(&target, &plan).unwrap();
    let port = inside(&["bridge", "-d", "link", "show", "dev", "vxm100"]);
    assert!(port.contains("neigh_suppress on"), "{port}");
    assert!(port.contains("learning off"), "{port}");
    let device = inside(&["ip", "-d", "link", "show", "dev", "vxm100"]);
    assert!(device.contains("nolearning"), "{device}");
    let fdb = inside(&["bridge", "fdb", "show", "dev", "vxm100"]);
    assert!(!fdb.contains("dst"), "vxlan-mesh wrote FDB entries in evpn mode: {fdb}");
    assert_eq!(netlink::status(&target, &plan).unwrap(), []);

    // What zebra installs from type-3 and type-2 routes.
    inside(&[
        "bridge",
        "fdb",
        "append",
        "00:00:00:00:00:00",
        "dev",
        "vxm100",
        "dst",
        "192.0.2.2",
        "self",
        "permanent",
    ]);
    inside(&[
        "bridge",
        "fdb",
        "append",
        "00:00:00:00:00:00",
        "dev",
        "vxm100",
        "dst",
        "192.0.2.9",
        "self",
        "permanent",
    ]);
    inside(&[
        "bridge",
        "fdb",
        "add",
        "02:00:00:00:00:07",
        "dev",
        "vxm100",
        "dst",
        "192.0.2.2",
        "self",
        "extern_learn",
    ]);
    assert_eq!(netlink::status(&target, &plan).unwrap(), []);
    assert!(netlink::apply(&target, &plan).unwrap().changes.is_empty());
    let fdb = inside(&["bridge", "fdb", "show", "dev", "vxm100"]);
    assert!(fdb.contains("dst 192.0.2.9") && fdb.contains("extern_learn"), "{fdb}");

    // A port flag changed by hand is drift, and apply sets it again.
    inside(&[
        "bridge",
        "link",
        "set",
        "dev",
        "vxm100",
        "neigh_suppress",
        "off",
        "learning",
        "on",
    ]);
    let drift: Vec<String> = netlink::status(&target, &plan)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(drift, ["update vxlan vxm100: neigh_suppress on, port learning off"]);
    netlink::apply(&target, &plan).unwrap();
    assert_eq!(netlink::status(&target, &plan).unwrap(), []);
    let port = inside(&["bridge", "-d", "link", "show", "dev", "vxm100"]);
    assert!(
        port.contains("neigh_suppress on") && port.contains("learning off"),
        "{port}"
    );
}

#[test]
fn the_evpn_bridge_accepts_gratuitous_arp_and_arp_accept_off_is_drift() {
    let ns = Named::underlay("vxm-arpacc");
    let inside = |args: &[&str]| ns.inside(args);
    let plan = plan_host_from_toml(INVENTORY, "h1").unwrap();
    let target = Netns::named(&ns.0).unwrap();
    let arp_accept = || {
        inside(&["sysctl", "-n", "net.ipv4.conf.vxbr0.arp_accept"])
            .trim()
            .to_string()
    };

    netlink::apply(&target, &plan).unwrap();
    // Set in the target namespace (the test's own stays as it was).
    assert_eq!(arp_accept(), "1");
    assert_eq!(netlink::status(&target, &plan).unwrap(), []);

    inside(&["sysctl", "-qw", "net.ipv4.conf.vxbr0.arp_accept=0"]);
    let drift: Vec<String> = netlink::status(&target, &plan)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(drift, ["update bridge vxbr0: arp_accept on"]);
    let applied = netlink::apply(&target, &plan).unwrap();
    assert_eq!(applied.changes.len(), 1, "{:?}", applied.changes);
    assert_eq!(arp_accept(), "1");
    assert_eq!(netlink::status(&target, &plan).unwrap(), []);
}
