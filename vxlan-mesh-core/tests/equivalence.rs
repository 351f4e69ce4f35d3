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

use common::converge::{reaches_what_apply_reaches, sh, spec};
use proptest::prelude::*;
use vxlan_mesh_core::netlink::Netns;
use vxlan_mesh_core::{argv, diff, netlink, HostPlan};

/// Runs what `apply --dry-run` prints for `plan` in `ns` (this thread's), as one shell script.
fn run_dry_run(ns: &Netns, plan: &HostPlan) {
    let changes = diff(&plan.state(), &netlink::observe(ns).unwrap()).unwrap();
    sh(
        "the dry-run script",
        &format!("set -e\n{}\n", argv::for_changes(&changes).join("\n")),
        &[],
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn dry_run_script_and_netlink_apply_reach_the_same_state(earlier in spec(), later in spec()) {
        reaches_what_apply_reaches(&earlier, &later, run_dry_run)?;
    }
}
