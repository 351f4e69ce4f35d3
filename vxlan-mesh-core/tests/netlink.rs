//! The netlink apply, observe, status and down against a real kernel: each test runs in a
//! thread that has unshared its own network namespace (root needed; fails loudly without),
//! so tests run in parallel and leave nothing behind.
#![cfg(all(feature = "netlink", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::in_netns;
use nix::sched::CloneFlags;
use vxlan_mesh_core::netlink::{self, ApplyError, Netns};
use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::{diff, plan_host_from_toml, Change, ForeignConflict, HostPlan, Observed, State};

/// The calling thread's namespace: the one `in_netns` made.
fn here() -> Netns {
    Netns::current().unwrap()
}

/// Runs a command in the calling thread's namespace; panics with its stderr on failure.
fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip_ifindex(name: &str) -> u32 {
    let out = sh(&format!("ip -o link show dev {name}"));
    out.split(':').next().unwrap().trim().parse().unwrap()
}

/// Hosts `h1`… (`peers + 1` of them) at `192.0.2.N+1`, or `2001:db8::N` (also when IPv4's
/// /24 is too small), on network `lan` (VNI 1000, bridge `vxbr0`).
fn inventory(mode: &str, family: &str, peers: usize, mtu: Option<u32>) -> String {
    let mut fleet = FleetBuilder::new()
        .layout(mode)
        .network("lan", 1000, "vxbr0")
        .underlay("192.0.2.1")
        .ipv6(family == "v6" || peers > 240)
        .hosts(peers + 1);
    if let Some(m) = mtu {
        fleet = fleet.mtu(m);
    }
    fleet.toml()
}

fn plan(mode: &str, family: &str, peers: usize, mtu: Option<u32>) -> HostPlan {
    plan_host_from_toml(&inventory(mode, family, peers, mtu), "h1").unwrap()
}

/// Observed state equals the plan's: same objects, same attributes (FDB entries compared
/// by what the kernel can hold: device, MAC, destination; entries a device's `remote`
/// implies are the kernel's own).
fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn assert_observed_equals(plan: &HostPlan, observed: &Observed) {
    let want = plan.state();
    assert_eq!(sorted(want.bridges.clone()), observed.bridges);
    assert_eq!(sorted(Observed::from(&want).vxlans), observed.vxlans);
    let key = |e: &vxlan_mesh_core::FdbEntry| (e.device.clone(), e.mac, e.destination);
    let implied: BTreeSet<_> = want
        .vxlans
        .iter()
        .filter_map(|v| v.remote.map(|r| (v.name.clone(), vxlan_mesh_core::MacAddr::ZERO, r)))
        .collect();
    let want_fdb: BTreeSet<_> = want.fdb.iter().map(key).chain(implied).collect();
    let have_fdb: BTreeSet<_> = observed.fdb.iter().map(key).collect();
    assert_eq!(want_fdb, have_fdb);
    assert_eq!(want.loop_rules, observed.loop_rules);
    assert_eq!(want.firewall, observed.firewall);
}

fn converge_twice(plan: HostPlan) {
    in_netns(move || {
        let report = netlink::apply(&here(), &plan).unwrap();
        assert!(!report.changes.is_empty());
        let observed = netlink::observe(&here()).unwrap();
        assert_observed_equals(&plan, &observed);
        let before: Vec<u32> = plan.vxlans().map(|v| ip_ifindex(&v.name)).collect();
        let bridge_before = ip_ifindex(&plan.networks[0].bridge.name);
        let again = netlink::apply(&here(), &plan).unwrap();
        assert_eq!(again.changes, Vec::<Change>::new(), "second apply must change nothing");
        assert!(netlink::status(&here(), &plan).unwrap().is_empty());
        let after: Vec<u32> = plan.vxlans().map(|v| ip_ifindex(&v.name)).collect();
        assert_eq!(before, after, "no device was recreated");
        assert_eq!(bridge_before, ip_ifindex(&plan.networks[0].bridge.name));
        // Kernel-side facts, read with iproute2 rather than our own observer.
        let details = sh("ip -d link show dev vxbr0");
        assert!(details.contains(&format!("mtu {}", plan.networks[0].mtu)), "{details}");
        assert!(details.contains("alias vxlan-mesh:lan"), "{details}");
        for vx in plan.vxlans() {
            let d = sh(&format!("ip -d link show dev {}", vx.name));
            assert!(d.contains(&format!("vxlan id {} ", vx.vni)), "{d}");
            assert!(d.contains("master vxbr0"), "{d}");
            assert!(d.contains(",UP"), "{d}");
            assert_eq!(d.contains("isolated on"), vx.port_flags.isolated, "{d}");
            assert_eq!(d.contains("nolearning"), !vx.learning, "{d}");
        }
        for e in plan.fdb() {
            let fdb = sh(&format!("bridge fdb show dev {}", e.device));
            assert!(
                fdb.contains(&format!("00:00:00:00:00:00 dst {} self permanent", e.destination)),
                "{fdb}"
            );
        }
        let down = netlink::down(&here()).unwrap();
        assert!(!down.changes.is_empty());
        let left = netlink::observe(&here()).unwrap();
        assert!(left.bridges.is_empty() && left.vxlans.is_empty() && left.fdb.is_empty());
        assert!(left.loop_rules.is_none() && left.firewall.is_none());
        assert!(sh("ip -o link show").lines().count() == 1, "only lo is left");
    });
}

#[test]
fn flood_v4_converges_and_second_apply_changes_nothing() {
    converge_twice(plan("flood", "v4", 3, None));
}

#[test]
fn flood_v6_converges_and_second_apply_changes_nothing() {
    converge_twice(plan("flood", "v6", 3, None));
}

#[test]
fn per_peer_isolation_converges_and_second_apply_changes_nothing() {
    converge_twice(plan("isolation", "v4", 3, None));
}

#[test]
fn per_peer_ebtables_v6_converges_and_second_apply_changes_nothing() {
    let p = plan("ebtables", "v6", 3, None);
    assert!(p.loop_rules.is_some());
    converge_twice(p);
}

#[test]
fn foreign_interface_with_a_wanted_name_is_an_error_and_untouched() {
    in_netns(|| {
        sh("ip link add vxbr0 type bridge && ip link set vxbr0 mtu 1400");
        let before = ip_ifindex("vxbr0");
        let p = plan("flood", "v4", 2, None);
        let err = netlink::apply(&here(), &p).unwrap_err();
        assert!(matches!(err, ApplyError::Foreign(_)), "{err}");
        assert!(err.to_string().contains("`vxbr0`"), "{err}");
        assert_eq!(ip_ifindex("vxbr0"), before);
        assert!(sh("ip link show vxbr0").contains("mtu 1400"));
        assert!(!sh("ip -o link show").contains("vxm"), "nothing was created");
        netlink::down(&here()).unwrap();
        assert_eq!(ip_ifindex("vxbr0"), before, "down leaves foreign objects alone");
    });
}

#[test]
fn foreign_bridge_ebtables_rule_and_nft_table_survive_apply_and_down() {
    in_netns(|| {
        sh("ip link add br-foreign type bridge");
        sh("ip link add vxm7 type bridge"); // a foreign device in our prefix, not wanted by the plan
        sh("ebtables -t filter -A FORWARD -i br-foreign -j ACCEPT");
        sh("nft add table inet foreign && nft add chain inet foreign c '{ type filter hook input priority 0; }'");
        sh("nft add rule inet foreign c udp dport 4789 accept");
        let p = plan("ebtables", "v4", 3, None);
        netlink::apply(&here(), &p).unwrap();
        netlink::apply(&here(), &p).unwrap();
        netlink::down(&here()).unwrap();
        sh("ip link show br-foreign");
        sh("ip link show vxm7");
        assert!(sh("ebtables -t filter -L FORWARD").contains("-i br-foreign -j ACCEPT"));
        assert!(!sh("ebtables -t filter -L").contains("VXLAN-MESH"));
        assert!(sh("nft list table inet foreign").contains("udp dport 4789 accept"));
        assert!(!sh("nft list tables").contains("vxlan_mesh"));
    });
}

#[test]
fn in_place_changes_and_recreation_are_minimal() {
    in_netns(|| {
        let p = plan("flood", "v4", 3, None);
        netlink::apply(&here(), &p).unwrap();
        let vx = ip_ifindex("vxm1000");
        // Smaller MTU: updated in place.
        let smaller = plan("flood", "v4", 3, Some(1400));
        let r = netlink::apply(&here(), &smaller).unwrap();
        assert!(r
            .changes
            .iter()
            .all(|c| matches!(c, Change::UpdateBridge { .. } | Change::UpdateVxlan { .. })));
        assert_eq!(r.changes.len(), 2, "{:?}", r.changes);
        assert_eq!(ip_ifindex("vxm1000"), vx);
        assert!(sh("ip link show vxm1000").contains("mtu 1400"));
        // One peer fewer: one FDB entry and the firewall change, nothing else.
        let fewer = plan("flood", "v4", 2, Some(1400));
        let r = netlink::apply(&here(), &fewer).unwrap();
        let kinds: Vec<&str> = r
            .changes
            .iter()
            .map(|c| match c {
                Change::DeleteFdb { .. } => "delete-fdb",
                Change::InstallFirewall { .. } => "firewall",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["firewall", "delete-fdb"], "{:?}", r.changes);
        let fdb = sh("bridge fdb show dev vxm1000");
        assert!(!fdb.contains("192.0.2.5") && fdb.contains("192.0.2.4"), "{fdb}");
        // Hand-made drift is repaired in place.
        sh("ip link set vxm1000 down && ip link set vxm1000 nomaster");
        assert_eq!(netlink::status(&here(), &fewer).unwrap().len(), 1);
        netlink::apply(&here(), &fewer).unwrap();
        assert!(netlink::status(&here(), &fewer).unwrap().is_empty());
        assert_eq!(ip_ifindex("vxm1000"), vx);
        // Switching to per-peer: the flood device goes, per-peer devices come.
        let pp = plan("isolation", "v4", 2, Some(1400));
        netlink::apply(&here(), &pp).unwrap();
        assert!(netlink::status(&here(), &pp).unwrap().is_empty());
        assert_observed_equals(&pp, &netlink::observe(&here()).unwrap());
    });
}

#[test]
fn a_recreated_device_is_reported_and_converges() {
    in_netns(|| {
        let p = plan("flood", "v4", 2, None);
        netlink::apply(&here(), &p).unwrap();
        // Someone changed the port by recreating the device by hand, keeping our alias.
        sh("ip link del vxm1000 && ip link add vxm1000 type vxlan id 1000 local 192.0.2.2 dstport 8472 nolearning");
        sh("ip link set vxm1000 alias vxlan-mesh:lan master vxbr0 mtu 1450 up");
        let drift = netlink::status(&here(), &p).unwrap();
        assert!(
            drift
                .iter()
                .any(|c| matches!(c, Change::RecreateVxlan { reason, .. } if reason.contains(&"port".to_string()))),
            "{drift:?}"
        );
        netlink::apply(&here(), &p).unwrap();
        assert!(netlink::status(&here(), &p).unwrap().is_empty());
    });
}

#[test]
fn lock_serializes_applies_in_one_namespace() {
    in_netns(|| {
        let path = netlink::lock_path(&here()).unwrap();
        // The lock directory is private (0700), or vxlan-mesh refuses it.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(path.parent().unwrap())
            .unwrap();
        let held = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap();
        held.lock().unwrap();
        let ns = std::fs::File::open("/proc/thread-self/ns/net").unwrap();
        let p = plan("flood", "v4", 2, None);
        let worker = std::thread::spawn(move || {
            nix::sched::setns(ns, CloneFlags::CLONE_NEWNET).unwrap();
            netlink::apply(&here(), &p).map(|r| r.changes.len())
        });
        std::thread::sleep(std::time::Duration::from_millis(700));
        assert!(!worker.is_finished(), "apply must wait for the lock");
        assert!(!sh("ip -o link show").contains("vxbr0"), "nothing applied while locked");
        held.unlock().unwrap();
        let n = worker.join().unwrap().unwrap();
        assert!(n > 0);
        sh("ip link show vxbr0");
    });
}

#[test]
fn teardown_is_the_diff_towards_nothing() {
    in_netns(|| {
        let p = plan("isolation", "v4", 3, None);
        netlink::apply(&here(), &p).unwrap();
        let observed = netlink::observe(&here()).unwrap();
        let expected = diff(&State::default(), &observed).unwrap();
        assert_eq!(netlink::down(&here()).unwrap().changes, expected);
    });
}

/// The `--dry-run` commands, run by a shell, build exactly what apply would: afterwards
/// the namespace is converged for the plan.
#[test]
fn dry_run_commands_reach_the_state_apply_would() {
    for p in [
        plan("flood", "v4", 3, None),
        plan("isolation", "v4", 3, None),
        plan("ebtables", "v6", 3, None),
    ] {
        in_netns(move || {
            let changes = diff(&p.state(), &netlink::observe(&here()).unwrap()).unwrap();
            for cmd in vxlan_mesh_core::argv::for_changes(&changes) {
                sh(&cmd);
            }
            let drift = netlink::status(&here(), &p).unwrap();
            assert!(drift.is_empty(), "{drift:#?}");
            // And the teardown commands remove everything.
            let observed = netlink::observe(&here()).unwrap();
            for cmd in vxlan_mesh_core::argv::for_changes(&diff(&State::default(), &observed).unwrap()) {
                sh(&cmd);
            }
            let left = netlink::observe(&here()).unwrap();
            let mut only_lo = Observed::default();
            only_lo.foreign = vec!["lo".into()];
            assert_eq!(left, only_lo);
        });
    }
}

/// A foreign device holding a VNI the plan needs on the same port: the kernel would refuse
/// ours, so apply refuses before changing anything, naming both devices.
#[test]
fn a_foreign_device_holding_a_vni_is_refused_before_any_change() {
    in_netns(|| {
        sh("ip link add fx type vxlan id 1001 local 192.0.2.2 dstport 4789");
        let p = plan("isolation", "v4", 3, None);
        let err = netlink::apply(&here(), &p).unwrap_err();
        assert!(
            matches!(&err, ApplyError::VniInUse { device, foreign, vni: 1001, .. } if device == "vxm1001" && foreign == "fx"),
            "{err}"
        );
        assert_eq!(netlink::status(&here(), &p).unwrap_err().to_string(), err.to_string());
        assert!(!sh("ip -o link show").contains("vxbr0"), "nothing was changed");
        sh("ip link del fx");
        netlink::apply(&here(), &p).unwrap();
        assert!(netlink::status(&here(), &p).unwrap().is_empty());
    });
}

/// A name held by a foreign interface as an alternative name is refused like its name:
/// the kernel would refuse the device, so nothing is changed.
#[test]
fn a_foreign_alternative_name_is_refused_before_any_change() {
    in_netns(|| {
        sh("ip link add fx type veth peer name fy && ip link property add dev fx altname vxm1001");
        let p = plan("isolation", "v4", 3, None);
        let err = netlink::apply(&here(), &p).unwrap_err();
        assert!(
            matches!(&err, ApplyError::Foreign(ForeignConflict::Interface { name }) if name == "vxm1001"),
            "{err}"
        );
        assert!(!sh("ip -o link show").contains("vxbr0"), "nothing was changed");
        sh("ip link del fx");
        netlink::apply(&here(), &p).unwrap();
        assert!(netlink::status(&here(), &p).unwrap().is_empty());
    });
}

/// A kernel refusal mid-apply is a typed error naming the object and operation, carrying
/// the changes made before it; refused devices stay down, and once the cause is gone the
/// next apply converges.
#[test]
fn netlink_error_names_the_object_and_rerun_converges() {
    in_netns(|| {
        // A foreign socket holds the VXLAN port: the kernel refuses to bring devices up.
        let socket = std::net::UdpSocket::bind("0.0.0.0:4789").unwrap();
        let p = plan("isolation", "v4", 3, None);
        let err = netlink::apply(&here(), &p).unwrap_err();
        // The firewall and the bridge were certainly made before the devices were tried.
        let ApplyError::Stopped { done, source, .. } = &err else {
            panic!("expected the changes made before the error, got {err}");
        };
        assert!(
            done.iter().any(|c| matches!(c, Change::CreateBridge { .. })),
            "{done:?}"
        );
        let err = &**source;
        match err {
            ApplyError::Netlink { operation, object, .. } => {
                assert_eq!((*operation, object.as_str()), ("set up", "vxm1000"), "{err}");
            }
            other => panic!("expected a netlink error, got {other}"),
        }
        assert!(err.to_string().contains("set up `vxm1000`"), "{err}");
        // The devices were made, marked and isolated; only bringing them up is pending.
        let pending = netlink::status(&here(), &p).unwrap();
        assert_eq!(pending.len(), 3, "one per peer: {pending:?}");
        assert!(
            pending.iter().all(
                |c| matches!(c, Change::UpdateVxlan { from, to } if !from.up && to.up && from.port_flags.isolated)
            ),
            "{pending:?}"
        );
        drop(socket);
        netlink::apply(&here(), &p).unwrap();
        assert!(netlink::status(&here(), &p).unwrap().is_empty());
    });
}

/// The rules of `FORWARD` as ebtables lists them.
fn forward_rules() -> Vec<String> {
    sh("ebtables -t filter -L FORWARD")
        .lines()
        .filter(|l| l.starts_with('-'))
        .map(str::to_string)
        .collect()
}

/// Issue 11 item 1: our jump is the first rule of `FORWARD`; a foreign rule put above it
/// is drift, and apply moves the jump back first without removing the foreign rule.
#[test]
fn a_rule_above_our_jump_is_drift_and_apply_puts_the_jump_first() {
    in_netns(|| {
        sh("ebtables -t filter -A FORWARD -i br-foreign -j ACCEPT");
        let p = plan("ebtables", "v4", 2, None);
        netlink::apply(&here(), &p).unwrap();
        assert_eq!(forward_rules(), ["-j VXLAN-MESH", "-i br-foreign -j ACCEPT"]);
        sh("ebtables -t filter -I FORWARD 1 -j ACCEPT");
        let drift = netlink::status(&here(), &p).unwrap();
        assert!(
            matches!(drift.as_slice(), [Change::PlaceLoopJump { jumps, .. }] if *jumps == [2]),
            "{drift:?}"
        );
        netlink::apply(&here(), &p).unwrap();
        assert_eq!(
            forward_rules(),
            ["-j VXLAN-MESH", "-j ACCEPT", "-i br-foreign -j ACCEPT"]
        );
        assert!(netlink::status(&here(), &p).unwrap().is_empty());
    });
}

/// Issue 11 item 9: a second jump to our chain is drift and is removed.
#[test]
fn a_duplicate_jump_is_drift_and_removed() {
    in_netns(|| {
        let p = plan("ebtables", "v4", 2, None);
        netlink::apply(&here(), &p).unwrap();
        sh("ebtables -t filter -A FORWARD -j ACCEPT && ebtables -t filter -A FORWARD -j VXLAN-MESH");
        let drift = netlink::status(&here(), &p).unwrap();
        assert!(
            matches!(drift.as_slice(), [Change::PlaceLoopJump { jumps, .. }] if *jumps == [1, 3]),
            "{drift:?}"
        );
        netlink::apply(&here(), &p).unwrap();
        assert_eq!(forward_rules(), ["-j VXLAN-MESH", "-j ACCEPT"]);
        assert!(netlink::status(&here(), &p).unwrap().is_empty());
        // Teardown removes every jump, however many.
        sh("ebtables -t filter -A FORWARD -j VXLAN-MESH");
        netlink::down(&here()).unwrap();
        assert_eq!(forward_rules(), ["-j ACCEPT"]);
    });
}

/// Issue 11 item 9: an object named like ours that is not ours (made by `setup`) is refused
/// by apply with the conflict `is_conflict` accepts, naming it (`named`); nothing changes
/// (`listing` prints the same, no device is created, status is an error), and down leaves it.
fn foreign_object_is_refused_and_left_alone(
    setup: &'static str,
    listing: &'static str,
    mode: &'static str,
    is_conflict: fn(&ForeignConflict) -> bool,
    named: &'static str,
) {
    in_netns(move || {
        sh(setup);
        let before = sh(listing);
        let p = plan(mode, "v4", 2, None);
        let err = netlink::apply(&here(), &p).unwrap_err();
        assert!(matches!(&err, ApplyError::Foreign(c) if is_conflict(c)), "{err}");
        assert!(err.to_string().contains(named), "{err}");
        assert!(
            netlink::status(&here(), &p).is_err(),
            "status must not call it converged or drift"
        );
        assert_eq!(sh(listing), before);
        assert!(!sh("ip -o link show").contains("vxbr0"), "nothing was created");
        netlink::down(&here()).unwrap();
        assert_eq!(sh(listing), before, "down leaves it alone");
    });
}

/// A chain `VXLAN-MESH` holding a rule we do not write (jumped to) is someone else's.
#[test]
fn a_foreign_chain_named_like_ours_is_refused_and_left_alone() {
    foreign_object_is_refused_and_left_alone(
        "ebtables -t filter -N VXLAN-MESH && ebtables -t filter -A VXLAN-MESH -p IPv4 -j ACCEPT \
         && ebtables -t filter -A FORWARD -j VXLAN-MESH",
        "ebtables -t filter -L",
        "ebtables",
        |c| matches!(c, ForeignConflict::Chain { chain, .. } if chain == "VXLAN-MESH"),
        "`VXLAN-MESH`",
    );
}

/// A table `inet vxlan_mesh` not in the shape we write is someone else's.
#[test]
fn a_foreign_nft_table_named_like_ours_is_refused_and_left_alone() {
    foreign_object_is_refused_and_left_alone(
        "nft add table inet vxlan_mesh \
         && nft add chain inet vxlan_mesh input '{ type filter hook input priority 0; }' \
         && nft add rule inet vxlan_mesh input tcp dport 22 accept",
        "nft list ruleset",
        "flood",
        |c| matches!(c, ForeignConflict::Table { table, .. } if table == "vxlan_mesh"),
        "`inet vxlan_mesh`",
    );
}

/// The `--dry-run` commands for a misplaced and duplicated jump (positions observed, deleted
/// highest first after ours is inserted on top) converge like apply does.
#[test]
fn dry_run_commands_put_the_jump_first_and_remove_duplicates() {
    in_netns(|| {
        let p = plan("ebtables", "v4", 2, None);
        netlink::apply(&here(), &p).unwrap();
        sh("ebtables -t filter -I FORWARD 1 -j ACCEPT && ebtables -t filter -A FORWARD -p ARP -j ACCEPT");
        sh("ebtables -t filter -A FORWARD -j VXLAN-MESH");
        let changes = diff(&p.state(), &netlink::observe(&here()).unwrap()).unwrap();
        let commands = vxlan_mesh_core::argv::for_changes(&changes);
        assert_eq!(
            commands,
            [
                "ebtables -t filter -I FORWARD 1 -j VXLAN-MESH",
                "ebtables -t filter -D FORWARD 5",
                "ebtables -t filter -D FORWARD 3",
            ]
        );
        for cmd in commands {
            sh(&cmd);
        }
        assert_eq!(forward_rules(), ["-j VXLAN-MESH", "-j ACCEPT", "-p ARP -j ACCEPT"]);
        assert!(netlink::status(&here(), &p).unwrap().is_empty());
    });
}
