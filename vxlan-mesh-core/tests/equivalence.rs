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

use common::in_netns;
use proptest::prelude::*;
use vxlan_mesh_core::netlink::Netns;
use vxlan_mesh_core::{argv, diff, netlink, plan_host_from_toml, HostPlan, State};

/// A small inventory: the knobs that change what the kernel holds.
#[derive(Debug, Clone)]
struct Spec {
    hosts: usize,
    v6: bool,
    /// `flood`, `isolation` or `ebtables`.
    mode: &'static str,
    networks: usize,
    mtu: Option<u32>,
    port: u16,
    firewall: bool,
}

impl Spec {
    fn toml(&self) -> String {
        let mut s = format!("port = {}\nfirewall = {}\n", self.port, self.firewall);
        if self.mode != "flood" {
            s.push_str(&format!("mode = \"per-peer\"\nloop-prevention = \"{}\"\n", self.mode));
        }
        for k in 0..self.networks {
            s.push_str(&format!(
                "[[networks]]\nname = \"net{k}\"\nvni = {}\nbridge = \"br{k}\"\n",
                100 + k * 100
            ));
            if let Some(m) = self.mtu {
                s.push_str(&format!("mtu = {m}\n"));
            }
        }
        for i in 1..=self.hosts {
            let address = if self.v6 {
                format!("2001:db8::{i}")
            } else {
                format!("198.51.100.{i}")
            };
            s.push_str(&format!(
                "[[hosts]]\nname = \"h{i}\"\nid = {i}\naddress = \"{address}\"\n"
            ));
        }
        s
    }

    fn plan(&self) -> HostPlan {
        plan_host_from_toml(&self.toml(), "h1").unwrap()
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        2usize..5,
        any::<bool>(),
        prop::sample::select(vec!["flood", "isolation", "ebtables"]),
        1usize..3,
        prop::option::of(prop::sample::select(vec![1300u32, 1400])),
        prop::sample::select(vec![4789u16, 8472]),
        any::<bool>(),
    )
        .prop_map(|(hosts, v6, mode, networks, mtu, port, firewall)| Spec {
            hosts,
            v6,
            mode,
            networks,
            mtu,
            port,
            firewall,
        })
}

/// Runs what `apply --dry-run` prints for `plan` here, as one shell script.
fn run_dry_run(plan: &HostPlan) {
    let changes = diff(&plan.state(), &netlink::observe(&Netns::current().unwrap()).unwrap()).unwrap();
    let script = format!("set -e\n{}\n", argv::for_changes(&changes).join("\n"));
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "dry-run script failed: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The observed states after `earlier` then `later`, reached by one path.
fn states(earlier: &HostPlan, later: &HostPlan, by_script: bool) -> (State, State) {
    let (earlier, later) = (earlier.clone(), later.clone());
    in_netns(move || {
        let mut seen = Vec::new();
        for plan in [&earlier, &later] {
            if by_script {
                run_dry_run(plan);
            } else {
                netlink::apply(&Netns::current().unwrap(), plan).unwrap();
            }
            let observed = netlink::observe(&Netns::current().unwrap()).unwrap();
            let left = diff(&plan.state(), &observed).unwrap();
            assert!(left.is_empty(), "not converged for {}: {left:#?}", plan.host);
            seen.push(observed);
        }
        let later = seen.pop().unwrap();
        (seen.pop().unwrap(), later)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn dry_run_script_and_netlink_apply_reach_the_same_state(earlier in spec(), later in spec()) {
        let (earlier, later) = (earlier.plan(), later.plan());
        let by_script = states(&earlier, &later, true);
        let by_apply = states(&earlier, &later, false);
        prop_assert_eq!(&by_script.0, &by_apply.0, "from nothing");
        prop_assert_eq!(&by_script.1, &by_apply.1, "from the earlier inventory's state");
    }
}
