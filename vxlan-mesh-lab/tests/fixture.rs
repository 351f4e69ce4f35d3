//! The fixture's own tests, in network namespaces (root, iproute2, iputils-ping).
//!
//! The overlay here is deployed by hand with `ip link add … type vxlan` and `bridge fdb
//! append`, only to validate the fixture; the product's deployers are tested elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::{Fleet, Mode};
use vxlan_mesh_lab::{cleanup_prefix, list_namespaces, names, run_in_netns, Lab, LabSpec, NETNS_DIR};

/// Runs iproute2's `program` (`ip`, `bridge`) with `-n netns` and the words of `args`;
/// panics with its stderr on failure.
fn iproute2(program: &str, netns: &str, args: &str) {
    let out = Command::new(program)
        .args(["-n", netns])
        .args(args.split_whitespace())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} -n {netns} {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ip(netns: &str, args: &str) {
    iproute2("ip", netns, args);
}

fn bridge_cmd(netns: &str, args: &str) {
    iproute2("bridge", netns, args);
}

/// Bridges only (what a deployment creates first), no VXLAN: containers on one host reach
/// each other, nothing crosses hosts.
fn deploy_bridges(lab: &Lab, fleet: &Fleet) {
    for host in &lab.spec().hosts {
        let plan = fleet.plan(&host.name).unwrap();
        for n in &plan.networks {
            ip(&host.netns, &format!("link add {} type bridge", n.bridge.name));
            ip(
                &host.netns,
                &format!("link set {} mtu {} up", n.bridge.name, n.bridge.mtu),
            );
        }
    }
}

/// The plan's overlay by hand, from its values: bridges, VXLAN devices (with their remote
/// in per-peer mode) as up ports of them, and flood entries (flood mode). Nothing is
/// isolated and there is no loop prevention.
fn deploy_by_hand(lab: &Lab, fleet: &Fleet) {
    deploy_bridges(lab, fleet);
    for host in &lab.spec().hosts {
        let plan = fleet.plan(&host.name).unwrap();
        for n in &plan.networks {
            for vx in &n.vxlans {
                let remote = vx.remote.map(|r| format!("remote {r}")).unwrap_or_default();
                ip(
                    &host.netns,
                    &format!(
                        "link add {} type vxlan id {} local {} {remote} dstport {} nolearning",
                        vx.name, vx.vni, vx.local, vx.port
                    ),
                );
                ip(
                    &host.netns,
                    &format!("link set {} mtu {} master {} up", vx.name, vx.mtu, n.bridge.name),
                );
            }
            for e in &n.fdb {
                bridge_cmd(
                    &host.netns,
                    &format!("fdb append {} dev {} dst {}", e.mac, e.device, e.destination),
                );
            }
        }
    }
}

fn exists(ns: &str) -> bool {
    Path::new(NETNS_DIR).join(ns).exists()
}

#[test]
fn full_matrix_after_hand_deployed_flood_overlay() {
    let fleet = FleetBuilder::new().hosts(3).fleet();
    let lab = Lab::build(LabSpec::from_fleet(&fleet, 2, &names::unique_tag("t")).unwrap()).unwrap();
    deploy_by_hand(&lab, &fleet);
    lab.attach_containers().unwrap();
    let m = lab.ping_matrix().unwrap();
    // 6 containers: 30 ordered pairs, each over IPv4 and IPv6.
    assert_eq!(m.pairs(), 30, "{}", m.render_text());
    assert!(m.is_full(), "{}", m.render_text());
    assert_eq!(m.cell("h1", "h3").map(|c| (c.ok, c.failed)), Some((4, 0)));

    let a = &lab.spec().hosts[0].containers[0];
    let b = &lab.spec().hosts[2].containers[1];
    assert_eq!(a.mtu, 1450);
    let probe = lab.max_frame_probe(a, b, a.mtu).unwrap();
    assert!(probe.ok(), "{probe:?}");
    // Probing above the path MTU must report that the frame does not fit.
    let too_big = lab.max_frame_probe(a, b, a.mtu + 10).unwrap();
    assert!(!too_big.fits, "{too_big:?}");

    let lc = lab.loop_check(Duration::from_secs(1)).unwrap();
    assert!(!lc.storm, "{lc:?}");
    assert_eq!(lc.broadcasts, 3);
}

#[test]
fn without_overlay_every_cross_host_pair_fails() {
    let fleet = FleetBuilder::new().hosts(4).fleet();
    let lab = Lab::build(LabSpec::from_fleet(&fleet, 2, &names::unique_tag("t")).unwrap()).unwrap();
    deploy_bridges(&lab, &fleet);
    lab.attach_containers().unwrap();
    let m = lab.ping_matrix().unwrap();
    // 8 containers, 56 ordered pairs: 4 hosts × 2 same-host pairs reachable, 48 not.
    assert_eq!(m.pairs(), 56);
    assert_eq!(m.ok, 8, "{}", m.render_text());
    assert_eq!(m.failed.len(), 48);
    assert!(m.failed.iter().all(|f| f.from_host != f.to_host));
    assert!(!m.is_full());
}

#[test]
fn attach_without_bridge_fails_naming_it() {
    let fleet = FleetBuilder::new().hosts(2).fleet();
    let lab = Lab::build(LabSpec::from_fleet(&fleet, 1, &names::unique_tag("t")).unwrap()).unwrap();
    let err = lab.attach_containers().unwrap_err().to_string();
    assert!(err.contains("vxbr0"), "{err}");
}

#[test]
fn cut_loses_exactly_the_host_pairs_and_heal_restores_them() {
    let fleet = FleetBuilder::new().hosts(3).fleet();
    let lab = Lab::build(LabSpec::from_fleet(&fleet, 1, &names::unique_tag("t")).unwrap()).unwrap();
    deploy_by_hand(&lab, &fleet);
    lab.attach_containers().unwrap();
    lab.cut("h2").unwrap();
    let m = lab.ping_matrix().unwrap();
    let mut lost: Vec<(String, String)> = m
        .failed
        .iter()
        .map(|f| (f.from_host.clone(), f.to_host.clone()))
        .collect();
    lost.sort();
    let expect: Vec<(String, String)> = [("h1", "h2"), ("h2", "h1"), ("h2", "h3"), ("h3", "h2")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(lost, expect, "{}", m.render_text());
    lab.heal("h2").unwrap();
    let m = lab.ping_matrix().unwrap();
    assert!(m.is_full(), "{}", m.render_text());
}

#[test]
fn ipv6_underlay_and_named_device() {
    let fleet = FleetBuilder::new()
        .network("lan", 7, "br-lan")
        .host("a", "2001:db8::1")
        .host("b", "2001:db8:1::2")
        .edit_host("a", |a| a.device = Some("eth9".into()))
        .edit_host("b", |b| b.underlay_mtu = Some(9000))
        .fleet();
    let lab = Lab::build(LabSpec::from_fleet(&fleet, 1, &names::unique_tag("t")).unwrap()).unwrap();
    let a = lab.host_netns("a").unwrap();
    let links = lab.exec_ok(a, &["ip", "-br", "link"]).unwrap();
    assert!(links.contains("eth9"), "{links}");
    let b = lab.host_netns("b").unwrap();
    let ul = lab.exec_ok(b, &["ip", "link", "show", "ul0"]).unwrap();
    assert!(ul.contains("mtu 9000"), "{ul}");
    // Different /64s: the fixture adds on-link routes so the underlay still connects.
    let ping = lab.exec(a, &["ping", "-c", "1", "-W", "2", "2001:db8:1::2"]).unwrap();
    assert!(ping.status.success(), "{}", String::from_utf8_lossy(&ping.stdout));
    deploy_by_hand(&lab, &fleet);
    lab.attach_containers().unwrap();
    let m = lab.ping_matrix().unwrap();
    assert_eq!(m.pairs(), 2);
    assert!(m.is_full(), "{}", m.render_text());
    let (ca, cb) = (&lab.spec().hosts[0].containers[0], &lab.spec().hosts[1].containers[0]);
    assert_eq!(ca.mtu, 1430);
    assert!(lab.max_frame_probe(ca, cb, ca.mtu).unwrap().ok());
}

#[test]
fn drop_removes_every_namespace() {
    let fleet = FleetBuilder::new().hosts(2).fleet();
    let tag = names::unique_tag("t");
    let lab = Lab::build(LabSpec::from_fleet(&fleet, 2, &tag).unwrap()).unwrap();
    let all = lab.spec().namespaces();
    assert_eq!(all.len(), 1 + 2 + 4);
    assert!(all.iter().all(|n| exists(n)));
    assert_eq!(list_namespaces(&names::tag_prefix(&tag)).unwrap().len(), all.len());
    // A process left running inside the lab must not keep anything alive.
    let c = lab.spec().hosts[0].containers[0].netns.clone();
    let child = Command::new("ip")
        .args(["netns", "exec", &c, "sleep", "600"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(lab);
    assert!(all.iter().all(|n| !exists(n)));
    assert!(list_namespaces(&names::tag_prefix(&tag)).unwrap().is_empty());
    let status = child.wait_with_output().unwrap().status;
    assert!(!status.success(), "the process in the lab was killed");
}

#[test]
fn second_lab_with_same_tag_is_refused_and_cleanup_prefix_removes_leftovers() {
    let fleet = FleetBuilder::new().hosts(2).fleet();
    let tag = names::unique_tag("t");
    // A crashed run: the lab is never dropped.
    let spec = Lab::build(LabSpec::from_fleet(&fleet, 1, &tag).unwrap())
        .unwrap()
        .persist();
    let all = spec.namespaces();
    assert!(all.iter().all(|n| exists(n)));
    let err = Lab::build(spec.clone()).unwrap_err();
    assert!(matches!(err, vxlan_mesh_lab::LabError::NamespaceExists { .. }), "{err}");
    // The refused build removed nothing of the existing lab.
    assert!(all.iter().all(|n| exists(n)));
    let removed = cleanup_prefix(&names::tag_prefix(&tag)).unwrap();
    assert_eq!(removed.len(), all.len());
    assert!(all.iter().all(|n| !exists(n)));
    assert!(cleanup_prefix(&names::tag_prefix(&tag)).unwrap().is_empty());
    assert!(cleanup_prefix("").is_err());
}

#[test]
fn run_in_netns_runs_code_inside_the_host_namespace() {
    let fleet = FleetBuilder::new().hosts(2).fleet();
    let lab = Lab::build(LabSpec::from_fleet(&fleet, 1, &names::unique_tag("t")).unwrap()).unwrap();
    let ns = lab.host_netns("h1").unwrap();
    let inside = run_in_netns(ns, || std::fs::read_to_string("/proc/thread-self/net/dev").unwrap()).unwrap();
    assert!(inside.contains("ul0:"), "{inside}");
    assert!(inside.contains("lab0c0:"), "{inside}");
    // The calling thread stays where it was.
    let outside = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
    assert!(!outside.contains("lab0c0:"));
    assert!(run_in_netns("vxm-does-not-exist", || ()).is_err());
}

#[test]
fn underlay_rate_shapes_every_switch_port() {
    let fleet = FleetBuilder::new().hosts(2).fleet();
    let spec = LabSpec::from_fleet(&fleet, 1, &names::unique_tag("t"))
        .unwrap()
        .with_underlay_rate("100mbit");
    let lab = Lab::build(spec).unwrap();
    let out = Command::new("tc")
        .args(["-n", &lab.spec().switch, "qdisc", "show"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("tbf").count(), 2, "{text}");
    assert!(text.contains("rate 100Mbit"), "{text}");
}

/// Per-peer mode without loop prevention (one VXLAN port per peer on each bridge, nothing
/// isolated): a broadcast circulates forever. The loop check must call that a storm.
#[test]
fn loop_check_reports_a_storm_without_loop_prevention() {
    let fleet = FleetBuilder::new().mode(Mode::PerPeer).hosts(3).fleet();
    let lab = Lab::build(LabSpec::from_fleet(&fleet, 1, &names::unique_tag("t")).unwrap()).unwrap();
    // One VXLAN port per peer on each bridge, deliberately NOT isolated.
    deploy_by_hand(&lab, &fleet);
    lab.attach_containers().unwrap();
    let lc = lab.loop_check(Duration::from_secs(1)).unwrap();
    eprintln!("{lc:?}");
    // Tear the storm down at once: it eats the machine's CPU.
    drop(lab);
    assert!(lc.storm, "{lc:?}");
}

/// An encrypted fleet's hosts each get a mount namespace of their own: `/run/wireguard` is
/// private to the host (what one host's wireguard-go puts there, no other host and not the
/// machine sees), `/sys` shows the host's own devices, and the namespaces are released
/// with the lab, also when found only by the tag prefix (a crashed run).
#[test]
fn encrypted_hosts_get_private_mount_namespaces_released_with_the_lab() {
    let fleet = FleetBuilder::new()
        .hosts(2)
        .public_keys(&[
            "Xc19hylN/yRezcvzIf1cWGR6P1Ocx8rHPkoMblAVoQc=",
            "YQ31MiYLGPzKOzgc2JOd47zXn5DiAWD+Rvs2kdkPrEo=",
        ])
        .fleet();
    let tag = names::unique_tag("mnt");
    let spec = LabSpec::from_fleet(&fleet, 1, &tag).unwrap();
    let files: Vec<_> = spec.hosts.iter().map(|h| h.mount_ns.clone().unwrap()).collect();
    let lab = Lab::build(spec).unwrap();
    let (h0, h1) = (lab.spec().hosts[0].netns.clone(), lab.spec().hosts[1].netns.clone());
    let (h0, h1) = (h0.as_str(), h1.as_str());
    let marker = format!("{tag}.sock");
    lab.exec_ok(h0, &["touch", &format!("/run/wireguard/{marker}")])
        .unwrap();
    assert_eq!(lab.exec_ok(h0, &["ls", "/run/wireguard"]).unwrap().trim(), marker);
    assert_eq!(lab.exec_ok(h1, &["ls", "/run/wireguard"]).unwrap(), "");
    assert!(!Path::new("/run/wireguard").join(&marker).exists());
    let devices = lab.exec_ok(h0, &["ls", "/sys/class/net"]).unwrap();
    assert!(devices.split_whitespace().any(|d| d == "ul0"), "{devices}");
    assert!(files.iter().all(|f| f.exists()));

    // As after a crash: nothing but the tag prefix to go by.
    let _kept = lab.persist();
    let removed = cleanup_prefix(&names::tag_prefix(&tag)).unwrap();
    assert!(removed.iter().any(|n| n == h0), "{removed:?}");
    assert!(files.iter().all(|f| !f.exists()), "{files:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&names::tag_prefix(&tag)), "{mounts}");
}
