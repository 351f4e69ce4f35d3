//! One source from plan to kernel, the shell side: for random small inventories, the
//! rendered script's `start` in a fresh network namespace leaves exactly the observed state
//! that `netlink::apply` leaves in another, both from nothing and from the state an earlier,
//! different inventory left (devices updated in place, recreated, removed; loop rules and
//! firewall switched). The `--dry-run` side of the same property, and the harness both
//! share, are vxlan-mesh-core's tests/equivalence.rs and tests/common.
//!
//! Also here: what the script alone compares (the kernel's flags netlink's observed state
//! does not carry) is compared on a real kernel.
//!
//! Each case builds two namespaces (threads that unshared their own; root needed, and
//! iproute2, ebtables and nftables): few cases, a few seconds in all.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../../vxlan-mesh-core/tests/common/mod.rs"]
mod core_common;

use std::process::Command;

use core_common::converge::{reaches_what_apply_reaches, sh, spec};
use core_common::in_netns;
use proptest::prelude::*;
use vxlan_mesh_core::netlink::Netns;
use vxlan_mesh_core::ops::{self, Op};
use vxlan_mesh_core::{argv, plan_host_from_toml, Change, HostPlan};
use vxlan_mesh_gen::{render, Format};

/// Runs `start` of the rendered script of `plan` in `ns` (this thread's: the shell inherits
/// it).
fn run_script(_ns: &Netns, plan: &HostPlan) {
    let files = render(plan, Format::Shell).unwrap();
    sh("vxlan-mesh.sh", &files[0].contents, &["start"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn script_start_and_netlink_apply_reach_the_same_state(earlier in spec(), later in spec()) {
        reaches_what_apply_reaches(&earlier, &later, run_script)?;
    }
}

/// The exit code and standard output of the script's `status`.
fn status(script: &str) -> (Option<i32>, String) {
    let out = Command::new("sh")
        .args(["-c", script, "vxlan-mesh.sh", "status"])
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn an_ipv6_device_whose_receive_checksum_flag_differs_is_re_created() {
    let plan = plan_host_from_toml(
        "[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"br0\"\n\
         [[hosts]]\nname = \"a\"\naddress = \"2001:db8::1\"\n\
         [[hosts]]\nname = \"b\"\naddress = \"2001:db8::2\"\n",
        "a",
    )
    .unwrap();
    let script = render(&plan, Format::Shell).unwrap()[0].contents.clone();
    in_netns(move || {
        sh("vxlan-mesh.sh", &script, &["start"]);
        assert_eq!(status(&script).0, Some(0), "converged after start");
        // The same device in every respect but one: it accepts zero UDP checksums.
        let vx = plan.vxlans().next().unwrap();
        let mut lines = vec![argv::of(&Op::DeleteLink { name: vx.name.clone() }).shell()];
        lines.extend(
            ops::for_change(&Change::CreateVxlan { vxlan: vx.clone() })
                .iter()
                .chain(&plan.fdb().map(|e| Op::AddFdb { entry: e.clone() }).collect::<Vec<_>>())
                .map(|op| argv::of(op).shell()),
        );
        assert!(lines[1].ends_with(" noudp6zerocsumtx noudp6zerocsumrx"), "{}", lines[1]);
        lines[1] = lines[1].replace(" noudp6zerocsumrx", " udp6zerocsumrx");
        sh("the flipped device", &format!("set -e\n{}\n", lines.join("\n")), &[]);

        let (code, out) = status(&script);
        assert_eq!(code, Some(3), "{out}");
        assert!(out.contains("cannot change in place"), "{out}");
        sh("vxlan-mesh.sh", &script, &["start"]);
        assert_eq!(status(&script), (Some(0), "converged\n".to_string()));
    });
}
