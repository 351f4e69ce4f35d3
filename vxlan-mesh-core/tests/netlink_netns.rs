//! The netlink API acts in the namespace it is given, whatever namespace the calling thread
//! is in: devices, the nftables table, the ebtables chain and the lock all land in the
//! target. The caller's namespace (here the test runner's, i.e. the root namespace) is only
//! read, never changed. Root needed; fails loudly without.
#![cfg(all(feature = "netlink", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::MetadataExt as _;

use vxlan_mesh_core::netlink::{self, Netns};
use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::Change;

mod common;
use common::{run, Named};

/// What of ours the namespace the command runs in shows (read-only listings).
fn ours(prefix: &[&str], bridge: &str) -> (bool, bool, bool) {
    let with = |tail: &[&str]| {
        let args: Vec<&str> = prefix.iter().chain(tail).copied().collect();
        run(&args)
    };
    let links = with(&["ip", "-o", "link", "show"]);
    let tables = with(&["nft", "list", "tables"]);
    let chains = with(&["nft", "list", "chains", "bridge"]);
    (
        links.contains(&format!(": {bridge}:")),
        tables.contains("table inet vxlan_mesh"),
        chains.contains("chain VXLAN-MESH"),
    )
}

fn thread_netns_inode() -> u64 {
    std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino()
}

#[test]
fn the_api_acts_in_the_namespace_it_is_given_and_not_in_the_callers() {
    let ns = Named::underlay("vxmn");
    let in_target = ["ip", "netns", "exec", ns.0.as_str()];
    // A bridge name nobody else uses, so the caller-side check cannot be fooled.
    let bridge = format!("vxn{}", std::process::id() % 1_000_000);
    let fleet = FleetBuilder::new()
        .layout("ebtables")
        .firewall(true)
        .network("lan", 1000, &bridge)
        .hosts(3);
    let plan = fleet.fleet().plan("h1").unwrap();

    let caller_before = ours(&[], &bridge);
    let thread_ns = thread_netns_inode();
    let target = Netns::named(&ns.0).unwrap();
    let caller = Netns::current().unwrap();

    assert!(netlink::local_addresses(&target)
        .unwrap()
        .contains(&"192.0.2.1".parse().unwrap()));
    let report = netlink::apply(&target, &plan).unwrap();
    assert!(!report.changes.is_empty());
    assert_eq!(
        ours(&in_target, &bridge),
        (true, true, true),
        "all objects are in the target"
    );
    assert_eq!(ours(&[], &bridge), caller_before, "the caller's namespace is unchanged");
    assert_eq!(
        thread_netns_inode(),
        thread_ns,
        "the calling thread stayed where it was"
    );

    assert!(netlink::status(&target, &plan).unwrap().is_empty());
    assert_eq!(netlink::observe(&target).unwrap().bridges.len(), 1);
    assert_eq!(
        netlink::lock_path(&target).unwrap(),
        netlink::lock_path(&Netns::open(format!("/run/netns/{}", ns.0)).unwrap()).unwrap(),
        "one lock per namespace, whichever handle"
    );
    assert_ne!(
        netlink::lock_path(&target).unwrap(),
        netlink::lock_path(&caller).unwrap()
    );

    let down = netlink::down(&target).unwrap();
    // Per-peer mode has no FDB entries of its own, and removing the chain removes its jump:
    // one removal per change apply made, but for placing the jump.
    let placed = report
        .changes
        .iter()
        .filter(|c| matches!(c, Change::PlaceLoopJump { .. }))
        .count();
    assert_eq!(down.changes.len(), report.changes.len() - placed);
    assert_eq!(ours(&in_target, &bridge), (false, false, false));
    let _ = std::fs::remove_file(netlink::lock_path(&target).unwrap());
}

#[test]
fn a_path_that_is_not_a_network_namespace_is_an_error_naming_it() {
    let err = netlink::observe(&Netns::open("/proc/self/ns/uts").unwrap()).unwrap_err();
    assert!(err.to_string().contains("/proc/self/ns/uts"), "{err}");
    let err = Netns::named("vxmn-no-such-namespace").unwrap_err();
    assert!(err.to_string().contains("/run/netns/vxmn-no-such-namespace"), "{err}");
}
