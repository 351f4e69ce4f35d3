//! End to end: what an attacker or a careless operator changes behind vxlan-mesh's back
//! on a deployed `vxlan-mesh-lab` fleet is reported by `status` (exit 2, naming it) and
//! undone by `apply`, and the overlay's traffic shows it: the bridge port flags of the
//! VXLAN ports (hairpin storms a flood-mode overlay) and the FDB entries of our devices
//! (a flood entry with another VNI or port, an `extern_learn` entry towards a stranger).
//! Root, iproute2, iputils-ping needed; fails loudly without.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use vxlan_mesh_lab::Lab;

use common::lab::{assert_full, lab_cli as cli, lab_for};
use common::{text as show, Scratch};

fn apply_all(lab: &Lab, inventory: &Path) {
    for h in &lab.spec().hosts {
        let o = cli(lab, &h.netns, inventory, &["apply"]);
        assert_eq!(o.status.code(), Some(0), "apply on {}: {}", h.name, show(&o));
    }
}

/// `status` on every host exits 0.
fn all_converged(lab: &Lab, inventory: &Path) {
    for h in &lab.spec().hosts {
        let o = cli(lab, &h.netns, inventory, &["status"]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", h.name, show(&o));
    }
}

/// `status` on the host of `netns` reports drift (exit 2); its output.
fn drift(lab: &Lab, netns: &str, inventory: &Path) -> String {
    let o = cli(lab, netns, inventory, &["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One test of this file at a time: the storm one would starve the others' pings.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn sh(lab: &Lab, netns: &str, script: &str) -> String {
    lab.exec_ok(netns, &["sh", "-c", script]).unwrap()
}

/// A flood fleet of `hosts` hosts with `containers` containers each, applied and converged on
/// every host: the lab, its scratch directory and the inventory's path there.
fn converged_flood(hosts: usize, containers: usize, tag: &str) -> (Lab, Scratch, PathBuf) {
    let text = common::inventory_named("lxd", "192.0.2", "flood", false, hosts, None);
    let lab = lab_for(&text, containers, tag);
    let dir = Scratch::new(&lab.spec().tag);
    let inv = dir.write("inventory.toml", &text);
    apply_all(&lab, &inv);
    if containers > 0 {
        lab.attach_containers().unwrap();
    }
    all_converged(&lab, &inv);
    (lab, dir, inv)
}

/// Flood mode, three hosts. `hairpin on` on every VXLAN port sends each broadcast back into
/// the tunnel it came from, and from there back again: a storm that `status` used to call
/// converged. Every other forwarding flag changed by hand is named too, and `apply` sets
/// them all back: the storm stops and every container reaches every other.
#[test]
fn flood_port_flags_changed_by_hand_are_drift_and_apply_stops_the_storm() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (lab, _dir, inv) = converged_flood(3, 1, "pflag");
    let quiet = lab.loop_check(Duration::from_secs(2)).unwrap();
    assert!(!quiet.storm, "{quiet:?}");

    for h in &lab.spec().hosts {
        sh(&lab, &h.netns, "ip link set dev vxm1000 type bridge_slave hairpin on");
    }
    let storm = lab.loop_check(Duration::from_secs(2)).unwrap();
    assert!(storm.storm, "hairpin on every port must storm: {storm:?}");
    for h in &lab.spec().hosts {
        let out = drift(&lab, &h.netns, &inv);
        assert!(out.contains("update vxlan vxm1000: hairpin off"), "{}: {out}", h.name);
    }
    apply_all(&lab, &inv);
    all_converged(&lab, &inv);
    let calm = lab.loop_check(Duration::from_secs(2)).unwrap();
    assert!(!calm.storm, "{calm:?}");

    // Every other flag, on one host: each is named, and the overlay works again after apply.
    let h = &lab.spec().hosts[0];
    sh(
        &lab,
        &h.netns,
        "ip link set dev vxm1000 type bridge_slave isolated on learning off neigh_suppress on \
         flood off mcast_flood off bcast_flood off proxy_arp on",
    );
    let out = drift(&lab, &h.netns, &inv);
    for flag in [
        "isolated off",
        "neigh_suppress off",
        "port learning on",
        "flood on",
        "mcast_flood on",
        "bcast_flood on",
        "proxy_arp off",
    ] {
        assert!(out.contains(flag), "{flag}: {out}");
    }
    apply_all(&lab, &inv);
    all_converged(&lab, &inv);
    let port = sh(&lab, &h.netns, "ip -d link show dev vxm1000");
    for word in [
        "hairpin off",
        "learning on",
        "flood on",
        "mcast_flood on",
        "bcast_flood on",
        "proxy_arp off",
        "neigh_suppress off",
        "isolated off",
    ] {
        assert!(port.contains(word), "{word}: {port}");
    }
    assert_full(&lab);
}

/// The MAC address of a container's interface.
fn container_mac(lab: &Lab, c: &vxlan_mesh_lab::Container) -> String {
    let path = format!("/sys/class/net/{}/address", c.ifname);
    lab.exec_ok(&c.netns, &["cat", &path]).unwrap().trim().to_string()
}

/// Flood mode, three hosts. Every FDB entry of our devices is ours to judge: a flood entry
/// towards a peer with another VNI or port, and an `extern_learn` entry that sends a
/// container's MAC to a stranger, are drift (exit 2, named); `apply` deletes them, puts the
/// planned entry back, and every container reaches every other again.
#[test]
fn flood_fdb_entries_with_other_vni_port_or_destination_are_drift_and_apply_removes_them() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (lab, _dir, inv) = converged_flood(3, 1, "pfdb");
    let (h1, h2) = (&lab.spec().hosts[0], &lab.spec().hosts[1]);
    let peer = h2.address;

    let cases = [
        (
            format!("bridge fdb append 00:00:00:00:00:00 dev vxm1000 dst {peer} vni 999 self permanent"),
            format!("delete fdb 00:00:00:00:00:00 dst {peer} vni 999 on vxm1000"),
        ),
        (
            format!(
                "bridge fdb del 00:00:00:00:00:00 dev vxm1000 dst {peer} self && \
                 bridge fdb append 00:00:00:00:00:00 dev vxm1000 dst {peer} port 4790 self permanent"
            ),
            format!("delete fdb 00:00:00:00:00:00 dst {peer} port 4790 on vxm1000"),
        ),
        (
            format!(
                "bridge fdb replace {} dev vxm1000 dst 192.0.2.99 self extern_learn",
                container_mac(&lab, &h2.containers[0])
            ),
            format!(
                "delete fdb {} dst 192.0.2.99 on vxm1000",
                container_mac(&lab, &h2.containers[0])
            ),
        ),
    ];
    for (change, named) in cases {
        sh(&lab, &h1.netns, &change);
        let out = drift(&lab, &h1.netns, &inv);
        assert!(out.contains(&named), "{change}: {out}");
        apply_all(&lab, &inv);
        all_converged(&lab, &inv);
        let fdb = sh(&lab, &h1.netns, "bridge fdb show dev vxm1000");
        assert!(
            !fdb.contains("vni 999") && !fdb.contains("port 4790") && !fdb.contains("192.0.2.99"),
            "{fdb}"
        );
        assert!(
            fdb.contains(&format!("00:00:00:00:00:00 dst {peer} self permanent")),
            "{fdb}"
        );
        let matrix = lab.ping_matrix().unwrap();
        assert!(matrix.is_full(), "after {change}: {}", matrix.render_text());
    }
}

/// Sends router advertisements (with an autoconfiguration prefix, 2001:db8:99::/64) out of
/// a container's interface, as any container of the overlay can: a raw ICMPv6 socket, hop
/// limit 255, from the interface's link-local address, a few times while it may still be
/// tentative.
const RA_SENDER: &str = r#"
import socket, struct, sys, time
index = socket.if_nametoindex(sys.argv[1])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
prefix = struct.pack("!BBBBIII", 3, 4, 64, 0xC0, 86400, 14400, 0) + socket.inet_pton(socket.AF_INET6, "2001:db8:99::")
for _ in range(10):
    try:
        s.sendto(ra + prefix, ("ff02::1", 0, 0, index))
    except OSError:
        pass
    time.sleep(0.3)
"#;

/// IPv6 routes and addresses the host took from the overlay's bridge.
fn ipv6_from_overlay(lab: &Lab, netns: &str) -> String {
    sh(
        lab,
        netns,
        "ip -6 route show default; ip -6 route show 2001:db8:99::/64; ip -6 -o address show dev vxbr0; ip -6 -o address show dev vxm1000",
    )
}

/// Flood mode, two hosts. The bridge and the VXLAN port take no part in the overlay's IPv6:
/// a container's router advertisement gives the host no default route, no prefix route and
/// no address. `accept_ra` turned back on, or a link-local address made by hand, is drift
/// (exit 2, named), undone by `apply`.
#[test]
fn a_containers_router_advertisement_gives_the_host_nothing_and_ipv6_drift_is_repaired() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (lab, _dir, inv) = converged_flood(2, 1, "pra");
    for h in &lab.spec().hosts {
        assert_eq!(ipv6_from_overlay(&lab, &h.netns).trim(), "", "{}", h.name);
    }
    let sender = &lab.spec().hosts[1].containers[0];
    lab.exec_ok(&sender.netns, &["python3", "-c", RA_SENDER, &sender.ifname])
        .unwrap();
    for h in &lab.spec().hosts {
        assert_eq!(
            ipv6_from_overlay(&lab, &h.netns).trim(),
            "",
            "{} took routes or addresses from a container's router advertisement",
            h.name
        );
    }

    let h = &lab.spec().hosts[0];
    sh(&lab, &h.netns, "sysctl -qw net.ipv6.conf.vxbr0.accept_ra=1");
    let out = drift(&lab, &h.netns, &inv);
    assert!(out.contains("update bridge vxbr0: accept_ra off"), "{out}");
    apply_all(&lab, &inv);
    all_converged(&lab, &inv);
    assert_eq!(
        sh(&lab, &h.netns, "sysctl -n net.ipv6.conf.vxbr0.accept_ra").trim(),
        "0"
    );

    sh(&lab, &h.netns, "ip -6 address add fe80::99/64 dev vxm1000");
    let out = drift(&lab, &h.netns, &inv);
    assert!(out.contains("update vxlan vxm1000: flush IPv6 addresses"), "{out}");
    apply_all(&lab, &inv);
    all_converged(&lab, &inv);
    assert_eq!(ipv6_from_overlay(&lab, &h.netns).trim(), "");
    assert_full(&lab);
}

/// Flood mode, two hosts. A VXLAN device made by hand without a local address (`ip link add
/// ... type vxlan id VNI`, the kernel then reports none), given our device's name and alias,
/// is ours and wrong: `status` names the local address as unset (exit 2), in text and in
/// JSON (`null`, never `0.0.0.0` or a VNI 0), and `apply` re-creates the device.
#[test]
fn a_device_made_by_hand_without_a_local_address_is_drift_named_unset_and_apply_repairs_it() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (lab, _dir, inv) = converged_flood(2, 0, "unset");

    let h = &lab.spec().hosts[0];
    sh(
        &lab,
        &h.netns,
        "a=$(cat /sys/class/net/vxm1000/ifalias) && ip link del dev vxm1000 && \
         ip link add name vxm1000 type vxlan id 1000 dstport 4789 && \
         ip link set dev vxm1000 alias \"$a\" master vxbr0",
    );
    let out = drift(&lab, &h.netns, &inv);
    assert!(out.contains("recreate vxlan vxm1000 (local unset"), "{out}");
    assert!(!out.contains("0.0.0.0"), "{out}");

    let o = cli(&lab, &h.netns, &inv, &["status", "--format", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let recreate = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["op"] == "recreate-vxlan")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert!(recreate["from"]["local"].is_null(), "{recreate:#}");
    assert_eq!(recreate["from"]["vni"], 1000, "{recreate:#}");
    assert!(
        recreate["reason"].as_array().unwrap().contains(&"local unset".into()),
        "{recreate:#}"
    );
    let raw = String::from_utf8_lossy(&o.stdout);
    assert!(!raw.contains("0.0.0.0") && !raw.contains("\"vni\": 0,"), "{raw}");

    apply_all(&lab, &inv);
    all_converged(&lab, &inv);
    let device = sh(&lab, &h.netns, "ip -d link show dev vxm1000");
    assert!(device.contains("local 192.0.2.1"), "{device}");
}
