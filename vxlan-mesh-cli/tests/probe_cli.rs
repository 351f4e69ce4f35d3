//! `vxlan-mesh probe` end to end (root needed; fails loudly without): four hosts behind a
//! router namespace, one of them (`c`) on a 1400-byte link. Each test builds its own
//! namespaces with unique names and deletes them on success and failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use vxlan_mesh_core::testing::FleetBuilder;

use common::{cli_in, Scratch};

/// The hosts, in inventory order; `a` probes the others.
const HOSTS: [&str; 4] = ["a", "b", "c", "d"];
/// Host on the narrow link.
const NARROW: &str = "c";
/// Its link's MTU.
const NARROW_MTU: u32 = 1400;

#[derive(Clone, Copy, PartialEq)]
enum Family {
    V4,
    V6,
}

/// Host `i`'s underlay address and its router's address on the same link.
fn addresses(family: Family, i: usize) -> (String, String, u8) {
    match family {
        // One /28 per link inside 192.0.2.0/24.
        Family::V4 => (
            format!("192.0.2.{}", 16 * (i + 1) + 1),
            format!("192.0.2.{}", 16 * (i + 1) + 2),
            28,
        ),
        Family::V6 => (format!("2001:db8:{}::1", i + 1), format!("2001:db8:{}::2", i + 1), 64),
    }
}

/// The hosts of [`HOSTS`] at their [`addresses`], on network `lan` (VNI 100).
fn hosts(family: Family) -> FleetBuilder {
    HOSTS.iter().enumerate().fold(FleetBuilder::new(), |fleet, (i, name)| {
        fleet.host(name, &addresses(family, i).0)
    })
}

/// A router namespace and one namespace per host, each host on its own veth link to the
/// router; all namespaces deleted on drop.
struct Topology {
    family: Family,
    router: String,
    hosts: Vec<String>,
    /// Every namespace created so far, for cleanup of a half-built topology too.
    created: Vec<String>,
}

impl Topology {
    fn build(family: Family) -> Topology {
        let base = common::unique("vxmp");
        let mut t = Topology {
            family,
            router: format!("{base}-r"),
            hosts: HOSTS.iter().map(|h| format!("{base}-{h}")).collect(),
            created: Vec::new(),
        };
        for ns in std::iter::once(t.router.clone()).chain(t.hosts.clone()) {
            sh(&format!("ip netns add {ns}"));
            t.created.push(ns.clone());
            sh(&format!("ip -n {ns} link set lo up"));
            // No duplicate address detection: link-local addresses would stay tentative for
            // a second or so, and neighbour discovery fails until then.
            sh(&format!(
                "ip netns exec {ns} sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0"
            ));
        }
        let r = t.router.clone();
        for (i, (name, ns)) in HOSTS.iter().zip(&t.hosts).enumerate() {
            let (host, gw, len) = addresses(family, i);
            let port = format!("r-{name}");
            let mtu = if *name == NARROW { NARROW_MTU } else { 1500 };
            let nodad = if family == Family::V6 { " nodad" } else { "" };
            sh(&format!(
                "ip -n {ns} link add ul0 mtu {mtu} type veth peer name {port} netns {r}"
            ));
            sh(&format!("ip -n {r} link set {port} mtu {mtu} up"));
            sh(&format!("ip -n {ns} link set ul0 up"));
            sh(&format!("ip -n {ns} addr add {host}/{len} dev ul0{nodad}"));
            sh(&format!("ip -n {r} addr add {gw}/{len} dev {port}{nodad}"));
            sh(&format!("ip -n {ns} route add default via {gw}"));
        }
        // After the links exist: IPv6's `all` applies to the interfaces there are.
        sh(&format!(
            "ip netns exec {r} sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1"
        ));
        t
    }

    /// Takes host `name`'s link down at the router: the host is gone from the underlay.
    fn cut(&self, name: &str) {
        sh(&format!("ip -n {} link set r-{name} down", self.router));
    }

    /// Makes the router drop the ICMP errors it would send: a path MTU black hole, where
    /// only the binary search can find the MTU.
    fn black_hole(&self) {
        let rules = "add table inet vxmp; \
                     add chain inet vxmp out { type filter hook output priority 0; }; \
                     add rule inet vxmp out icmp type destination-unreachable drop; \
                     add rule inet vxmp out icmpv6 type packet-too-big drop";
        sh(&format!("ip netns exec {} nft '{rules}'", self.router));
    }

    /// Writes the inventory (the narrow host with `underlay-mtu = narrow_mtu` if given).
    fn inventory(&self, dir: &Path, narrow_mtu: Option<u32>) -> PathBuf {
        let mut fleet = hosts(self.family);
        if let Some(mtu) = narrow_mtu {
            fleet = fleet.edit_host(NARROW, |h| h.underlay_mtu = Some(mtu));
        }
        let text = fleet.toml();
        let path = dir.join(format!("{}-{}.toml", self.router, narrow_mtu.unwrap_or(0)));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs `vxlan-mesh probe ARGS` in host `a`'s namespace (which picks host `a` by its
    /// address, without `--host`).
    fn probe(&self, inventory: &Path, args: &[&str]) -> Output {
        cli_in(&self.hosts[0], inventory, &[&["probe"], args].concat())
    }

    /// `probe --format json`: exit code and report.
    fn probe_json(&self, inventory: &Path, args: &[&str]) -> (i32, Value) {
        let out = self.probe(inventory, &[&["--format", "json"], args].concat());
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "probe printed no JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), report)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in &self.created {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed (these tests need root, iproute2, iputils-ping and nft): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Per peer: (verdict, path MTU).
fn verdicts(report: &Value) -> Vec<(String, String, Option<u64>)> {
    report["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["peer"].as_str().unwrap().to_string(),
                p["verdict"].as_str().unwrap().to_string(),
                p["path_mtu"].as_u64(),
            )
        })
        .collect()
}

fn peer(name: &str, verdict: &str, mtu: Option<u64>) -> (String, String, Option<u64>) {
    (name.to_string(), verdict.to_string(), mtu)
}

/// The narrow link is found and reported as too small for the plan (exit 3); with its
/// `underlay-mtu` in the inventory the plan fits (exit 0); a host that is cut off is
/// reported unreachable.
fn narrow_link_then_fixed_then_cut(family: Family) {
    let topo = Topology::build(family);
    let dir = Scratch::new("probe");

    let plain = topo.inventory(&dir, None);
    let (code, report) = topo.probe_json(&plain, &[]);
    assert_eq!(
        verdicts(&report),
        [
            peer("b", "fits", Some(1500)),
            peer("c", "too-small", Some(u64::from(NARROW_MTU))),
            peer("d", "fits", Some(1500)),
        ],
        "{report:#}"
    );
    assert_eq!((code, &report["ok"]), (3, &Value::Bool(false)), "{report:#}");

    // The table says the same.
    let out = topo.probe(&plain, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("c "))
        .unwrap_or_default();
    assert!(line.contains(" 1400 ") && line.contains("too small"), "{text}");
    assert_eq!(out.status.code(), Some(3), "{text}");

    let fixed = topo.inventory(&dir, Some(NARROW_MTU));
    let (code, report) = topo.probe_json(&fixed, &["--host", "a"]);
    assert_eq!(
        verdicts(&report),
        [
            peer("b", "fits", Some(1500)),
            peer("c", "fits", Some(u64::from(NARROW_MTU))),
            peer("d", "fits", Some(1500)),
        ],
        "{report:#}"
    );
    assert_eq!((code, &report["ok"]), (0, &Value::Bool(true)), "{report:#}");

    topo.cut("d");
    let (code, report) = topo.probe_json(&fixed, &["--timeout", "0.5"]);
    assert_eq!(
        verdicts(&report),
        [
            peer("b", "fits", Some(1500)),
            peer("c", "fits", Some(u64::from(NARROW_MTU))),
            peer("d", "unreachable", None),
        ],
        "{report:#}"
    );
    assert_eq!(report["peers"][2]["reachable"], Value::Bool(false), "{report:#}");
    assert_eq!(code, 3, "{report:#}");
}

#[test]
fn ipv4_narrow_link_then_fixed_then_cut() {
    narrow_link_then_fixed_then_cut(Family::V4);
}

#[test]
fn ipv6_narrow_link_then_fixed_then_cut() {
    narrow_link_then_fixed_then_cut(Family::V6);
}

/// Probing as another host than this one would test the wrong paths: an error (exit 1)
/// naming the host and its address, and no report.
#[test]
fn probing_as_a_host_whose_address_is_elsewhere_is_refused() {
    let topo = Topology::build(Family::V4);
    let dir = Scratch::new("probe");
    let out = topo.probe(&topo.inventory(&dir, None), &["--host", "b"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    let (address, _, _) = addresses(Family::V4, 1);
    assert!(
        stderr.contains(&format!(
            "host `b`: its underlay address `{address}` is not assigned on this machine"
        )),
        "{stderr}"
    );
}

/// With the router's "fragmentation needed" / "packet too big" dropped, nothing tells the
/// sender the path MTU: the binary search alone must land on exactly 1400.
fn black_hole_measured_exactly(family: Family) {
    let topo = Topology::build(family);
    topo.black_hole();
    let dir = Scratch::new("probe");
    let (code, report) = topo.probe_json(&topo.inventory(&dir, None), &["--timeout", "0.2"]);
    assert_eq!(
        verdicts(&report)[1],
        peer("c", "too-small", Some(u64::from(NARROW_MTU))),
        "{report:#}"
    );
    assert!(report["peers"][1]["probes"].as_u64().unwrap() > 3, "{report:#}");
    assert_eq!(code, 3, "{report:#}");
}

#[test]
fn ipv4_black_hole_measured_exactly() {
    black_hole_measured_exactly(Family::V4);
}

#[test]
fn ipv6_black_hole_measured_exactly() {
    black_hole_measured_exactly(Family::V6);
}

/// An encrypted mesh where host `c` is behind NAT: its `address` (198.51.100.99, its own
/// private address over there) is reachable from nowhere, its `endpoint` is where it is
/// reached. The probe measures the path to the endpoint (exit 3: the 1400-byte link is too
/// small for the plan), and says so in the report.
#[test]
fn an_encrypted_peer_behind_nat_is_probed_at_its_endpoint() {
    let topo = Topology::build(Family::V4);
    let dir = Scratch::new("probe");
    let keys = [
        "yqLoGkczmD/xXZPf6IcZm07lVt+bJFwpIj62fkJt23o=",
        "1VY4lZYnYrHKR8drJcLOjvYyqts+9ocnTXoTmNI+MjU=",
        "Rv4Otndn0+l632AjSfd4VOyAzxLAVrJVMro4o9sRtC0=",
        "3+o18TNcY2UtqB3oumKI+0SavTHs97094Azw1PRAjSs=",
    ];
    let (c_reached, _, _) = addresses(Family::V4, 2);
    let text = hosts(Family::V4)
        .public_keys(&keys)
        .edit_host(NARROW, |c| {
            c.address = "198.51.100.99".parse().unwrap();
            c.endpoint = Some(format!("{c_reached}:51820").parse().unwrap());
        })
        .toml();
    let inv = dir.join("behind-nat.toml");
    std::fs::write(&inv, text).unwrap();
    let (code, report) = topo.probe_json(&inv, &["--timeout", "0.5"]);
    assert_eq!(
        verdicts(&report),
        [
            peer("b", "fits", Some(1500)),
            peer("c", "too-small", Some(u64::from(NARROW_MTU))),
            peer("d", "fits", Some(1500)),
        ],
        "{report:#}"
    );
    assert_eq!(report["peers"][1]["address"], Value::String(c_reached), "{report:#}");
    assert_eq!(code, 3, "{report:#}");
}
