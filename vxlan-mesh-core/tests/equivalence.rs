//! One source from plan to kernel: for random small inventories, the `--dry-run` commands
//! (the lowered operations written by `argv::of`), run as one shell script in a fresh
//! network namespace, leave exactly the observed state that `netlink::apply` leaves in
//! another, both from nothing and from the state an earlier, different inventory left
//! (devices updated in place, recreated, removed; loop rules and firewall switched).
//!
//! Each case builds two namespaces (threads that unshared their own; root needed, and
//! iproute2, ebtables and nftables): few cases, a few seconds in all.
#![cfg(all(feature = "netlink", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::process::Command;

use common::converge::{apply, spec, states};
use proptest::prelude::*;
use vxlan_mesh_core::netlink::Netns;
use vxlan_mesh_core::{argv, diff, netlink, HostPlan};

/// Runs what `apply --dry-run` prints for `plan` in `ns` (this thread's), as one shell script.
fn run_dry_run(ns: &Netns, plan: &HostPlan) {
    let changes = diff(&plan.state(), &netlink::observe(ns).unwrap()).unwrap();
    let script = format!("set -e\n{}\n", argv::for_changes(&changes).join("\n"));
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "dry-run script failed: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn dry_run_script_and_netlink_apply_reach_the_same_state(earlier in spec(), later in spec()) {
        let (earlier, later) = (earlier.plan(), later.plan());
        let by_script = states(&earlier, &later, run_dry_run);
        let by_apply = states(&earlier, &later, apply);
        prop_assert_eq!(&by_script.0, &by_apply.0, "from nothing");
        prop_assert_eq!(&by_script.1, &by_apply.1, "from the earlier inventory's state");
    }
}
