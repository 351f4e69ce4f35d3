//! Apply, status and re-apply at fleet scale against a real kernel: a flood-mode host with
//! thousands of IPv6 peers, more FDB requests than one datagram, the socket's send buffer or
//! its receive buffer's acknowledgements can hold. Each test runs in a thread that has
//! unshared its own network namespace (root needed).
#![cfg(all(feature = "netlink", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::in_netns;
use vxlan_mesh_core::netlink::{self, Netns};
use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::{Change, HostPlan};

/// 4,000 IPv6 flood entries: about 240 KB of requests (more than the default 208 KiB send
/// buffer in one datagram) and 4,000 acknowledgements.
const PEERS: usize = 4000;

fn here() -> Netns {
    Netns::current().unwrap()
}

/// A flood fleet of `peers + 1` IPv6 hosts (documentation addresses), planned for `h1`.
fn flood(peers: usize) -> HostPlan {
    let fleet = FleetBuilder::new()
        .network("lan", 1000, "vxbr0")
        .ipv6(true)
        .hosts(peers + 1);
    fleet.fleet().plan("h1").unwrap()
}

/// Feeds `commands` to `bridge -batch -` in the calling thread's namespace.
fn bridge_batch(commands: &str) {
    use std::io::Write as _;
    let mut child = Command::new("bridge")
        .args(["-batch", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(commands.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "bridge -batch failed");
}

/// The flood destinations of `device`, as iproute2 lists them (not our own observer).
fn flood_destinations(device: &str) -> BTreeSet<String> {
    let out = Command::new("bridge")
        .args(["fdb", "show", "dev", device])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("00:00:00:00:00:00 dst "))
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect()
}

fn planned_destinations(plan: &HostPlan) -> BTreeSet<String> {
    plan.fdb().map(|e| e.destination.to_string()).collect()
}

/// Applies `plan`, then checks with iproute2 that every planned flood entry is there (and
/// no other), that `status` finds nothing and a re-apply changes nothing.
fn converges(plan: &HostPlan) {
    netlink::apply(&here(), plan).unwrap();
    let device = &plan.vxlans().next().unwrap().name;
    assert_eq!(flood_destinations(device), planned_destinations(plan));
    assert_eq!(netlink::status(&here(), plan).unwrap(), Vec::<Change>::new());
    let again = netlink::apply(&here(), plan).unwrap();
    assert_eq!(again.changes, Vec::<Change>::new(), "a re-apply changes nothing");
}

#[test]
fn flood_mode_with_4000_ipv6_peers_converges_from_empty_and_from_a_smaller_plan() {
    in_netns(|| {
        let big = flood(PEERS);
        assert_eq!(big.fdb().count(), PEERS);
        // From empty: one device, its creation and 4,000 flood entries.
        converges(&big);

        // Down to 100 peers (3,900 deletions), then from that smaller plan up again.
        let small = flood(100);
        converges(&small);
        converges(&big);

        // Behind the tool's back: 1,000 entries deleted and one stray destination added.
        let device = big.vxlans().next().unwrap().name.clone();
        let mut cmds = String::new();
        for e in big.fdb().take(1000) {
            cmds.push_str(&format!(
                "fdb del 00:00:00:00:00:00 dev {device} dst {}\n",
                e.destination
            ));
        }
        cmds.push_str(&format!(
            "fdb append 00:00:00:00:00:00 dev {device} dst 2001:db8:ffff::1 self permanent\n"
        ));
        bridge_batch(&cmds);
        let drift = netlink::status(&here(), &big).unwrap();
        let added = drift.iter().filter(|c| matches!(c, Change::AddFdb { .. })).count();
        let removed = drift.iter().filter(|c| matches!(c, Change::DeleteFdb { .. })).count();
        assert_eq!((added, removed, drift.len()), (1000, 1, 1001), "{:?}", drift.first());
        converges(&big);

        netlink::down(&here()).unwrap();
        assert!(netlink::observe(&here()).unwrap().vxlans.is_empty());
    });
}
