//! The equivalence properties' harness: small random inventories (the knobs that change
//! what the kernel holds) and the observed states one path to the kernel reaches. Shared
//! by tests/equivalence.rs (the `--dry-run` commands) and vxlan-mesh-gen's
//! tests/script_equivalence.rs (the rendered script), which includes this folder by path.

use std::process::Command;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use vxlan_mesh_core::netlink::{self, Netns};
use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::{diff, plan_host_from_toml, HostPlan, Observed};

use super::in_netns;

/// A small inventory of hosts `h1`, `h2`, ...
#[derive(Debug, Clone)]
pub struct Spec {
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
    pub fn toml(&self) -> String {
        let mut fleet = FleetBuilder::new()
            .port(self.port)
            .firewall(self.firewall)
            .layout(self.mode);
        for k in 0..self.networks {
            let vni = u32::try_from(100 + k * 100).unwrap();
            fleet = fleet.network(&format!("net{k}"), vni, &format!("br{k}"));
        }
        if let Some(m) = self.mtu {
            fleet = fleet.mtu(m);
        }
        fleet.underlay("198.51.100.0").ipv6(self.v6).hosts(self.hosts).toml()
    }

    pub fn plan(&self) -> HostPlan {
        plan_host_from_toml(&self.toml(), "h1").unwrap()
    }
}

pub fn spec() -> impl Strategy<Value = Spec> {
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

/// One path from a plan to the kernel: makes namespace `ns` (the calling thread's) match it.
pub type Path = fn(&Netns, &HostPlan);

/// The path every other is compared with: `netlink::apply`.
pub fn apply(ns: &Netns, plan: &HostPlan) {
    netlink::apply(ns, plan).unwrap();
}

/// The observed states after `earlier` then `later`, each reached by `path` in one fresh
/// namespace; each must leave nothing for `diff` to change.
pub fn states(earlier: &HostPlan, later: &HostPlan, path: Path) -> (Observed, Observed) {
    let (earlier, later) = (earlier.clone(), later.clone());
    in_netns(move || {
        let ns = Netns::current().unwrap();
        let mut seen = Vec::new();
        for plan in [&earlier, &later] {
            path(&ns, plan);
            let observed = netlink::observe(&ns).unwrap();
            let left = diff(&plan.state(), &observed).unwrap();
            assert!(left.is_empty(), "not converged for {}: {left:#?}", plan.host);
            seen.push(observed);
        }
        let later = seen.pop().unwrap();
        (seen.pop().unwrap(), later)
    })
}

/// The property: `path` reaches the state `apply` reaches, both from nothing and from the
/// state `earlier` left.
pub fn reaches_what_apply_reaches(earlier: &Spec, later: &Spec, path: Path) -> Result<(), TestCaseError> {
    let (earlier, later) = (earlier.plan(), later.plan());
    let by_path = states(&earlier, &later, path);
    let by_apply = states(&earlier, &later, apply);
    prop_assert_eq!(&by_path.0, &by_apply.0, "from nothing");
    prop_assert_eq!(&by_path.1, &by_apply.1, "from the earlier inventory's state");
    Ok(())
}

/// Runs shell text `script` here with positional arguments `args` (`$0` is `what`);
/// fails the test, with `what` and the shell's errors, unless it succeeds.
pub fn sh(what: &str, script: &str, args: &[&str]) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(what)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}
