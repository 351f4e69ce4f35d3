//! One source from plan to kernel, the shell side: for random small inventories, the
//! rendered script's `start` in a fresh network namespace leaves exactly the observed state
//! that `netlink::apply` leaves in another, both from nothing and from the state an earlier,
//! different inventory left (devices updated in place, recreated, removed; loop rules and
//! firewall switched). The `--dry-run` side of the same property, and the harness both
//! share, are vxlan-mesh-core's tests/equivalence.rs and tests/common.
//!
//! Each case builds two namespaces (threads that unshared their own; root needed, and
//! iproute2, ebtables and nftables): few cases, a few seconds in all.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../../vxlan-mesh-core/tests/common/mod.rs"]
mod core_common;

use core_common::converge::{reaches_what_apply_reaches, sh, spec};
use proptest::prelude::*;
use vxlan_mesh_core::netlink::Netns;
use vxlan_mesh_core::HostPlan;
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
