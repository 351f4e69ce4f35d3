//! End to end, encrypted: 4 hosts behind an underlay switch (the `vxlan-mesh-lab` fixture),
//! 3 containers per host, every host deployed with `vxlan-mesh apply` and its own key. This
//! kernel has no WireGuard, so apply runs wireguard-go; its UAPI socket directory is per
//! mount namespace, so the lab gives each host namespace of an encrypted fleet a private
//! mount namespace of its own, and runs every command for a host in it (`Lab::exec`). After traffic, each host's `status --format prometheus` passes
//! `promtool check metrics` and shows a recent handshake with every peer.
//!
//! Root, iproute2, iputils-ping, nftables, wireguard-go, wireguard-tools (`wg`) and promtool
//! (Debian package `prometheus`) needed; fails loudly without.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vxlan_mesh_lab::{names, Lab};

use common::lab::{assert_full, lab_for};
use common::{promtool_check_metrics, text as show, value, Scratch, BIN};

const INTERFACE: &str = "vxmwg0";

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

/// Commands for the lab's hosts. The lab gives every host of an encrypted fleet its own
/// persistent mount namespace (with its own /run/wireguard), and `Lab::exec` runs a host's
/// commands in it; removing the lab kills the wireguard-go daemons and releases them.
struct HostMounts {
    lab: Lab,
}

impl HostMounts {
    fn new(lab: &Lab) -> HostMounts {
        // Operates on the lab without owning it: the test's `Lab` removes it.
        HostMounts {
            lab: Lab::open(lab.spec().clone()),
        }
    }

    /// Runs `argv` in host namespace `netns` and its mount namespace.
    fn exec(&self, netns: &str, argv: &[&str]) -> Output {
        self.lab.exec(netns, argv).unwrap()
    }

    fn cli(&self, netns: &str, inventory: &Path, key: &Path, args: &[&str]) -> Output {
        let mut argv = vec![BIN, "-i", inventory.to_str().unwrap()];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["--wireguard-key", key.to_str().unwrap()]);
        self.exec(netns, &argv)
    }
}

/// Keys made with `vxlan-mesh keygen`, one per host: (private key file, public key).
fn keygen(dir: &Path, hosts: usize) -> Vec<(PathBuf, String)> {
    (1..=hosts)
        .map(|i| {
            let path = dir.join(format!("wg{i}.key"));
            let out = common::vxm()
                .args(["keygen", "--out", path.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", show(&out));
            let public = String::from_utf8(out.stdout).unwrap();
            let public = public.trim().trim_start_matches("public-key = ").trim_matches('"');
            (path, public.to_string())
        })
        .collect()
}

/// An encrypted inventory of the first `hosts` of `keys`: hosts `wgN` at `192.0.2.N`, one
/// network, in `mode` (`flood` or `per-peer`).
fn inventory(keys: &[(PathBuf, String)], hosts: usize, mode: &str) -> String {
    inventory_in(keys, hosts, mode, false)
}

/// [`inventory`], with the hosts at `2001:db8::N` when `v6`.
fn inventory_in(keys: &[(PathBuf, String)], hosts: usize, mode: &str, v6: bool) -> String {
    let public: Vec<&str> = keys.iter().take(hosts).map(|(_, p)| p.as_str()).collect();
    common::encrypted_inventory(&public, mode, v6)
}

/// Applies on the first `hosts` hosts of the lab; each must succeed.
fn apply(lab: &Lab, mounts: &HostMounts, inventory: &Path, keys: &[(PathBuf, String)], hosts: usize) {
    for (h, (key, _)) in lab.spec().hosts.iter().zip(keys).take(hosts) {
        let out = mounts.cli(&h.netns, inventory, key, &["apply"]);
        assert_eq!(out.status.code(), Some(0), "apply on {}: {}", h.name, show(&out));
    }
}

/// Counts UDP packets to `port` crossing the underlay switch, in an nftables table of the
/// switch namespace.
fn switch_counters(lab: &Lab) -> (u64, u64) {
    let text = lab
        .exec_ok(&lab.spec().switch, &["nft", "-j", "list", "table", "bridge", "wgcap"])
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let count = |port: u64| {
        json["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i.get("rule"))
            .find(|r| r["expr"][1]["match"]["right"] == port)
            .and_then(|r| r["expr"][2]["counter"]["packets"].as_u64())
            .unwrap()
    };
    (count(4789), count(51820))
}

fn count_underlay(lab: &Lab, v6: bool) {
    let ether = if v6 { "ip6" } else { "ip" };
    let script = format!(
        "table bridge wgcap {{\n chain cap {{\n  type filter hook forward priority 0; policy accept;\n  \
         ether type {ether} udp dport 4789 counter\n  ether type {ether} udp dport 51820 counter\n }}\n}}\n"
    );
    nft_in(&lab.spec().switch, &script);
}

/// Loads an nftables script in namespace `netns`.
fn nft_in(netns: &str, script: &str) {
    let out = Command::new("ip")
        .args(["netns", "exec", netns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            std::io::Write::write_all(c.stdin.as_mut().unwrap(), script.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
}

/// `(latest handshake, bytes received, bytes sent)` of every peer of a host's interface.
fn sessions(mounts: &HostMounts, netns: &str) -> Vec<(String, u64, u64, u64)> {
    let out = mounts.exec(netns, &["wg", "show", INTERFACE, "dump"]);
    assert!(out.status.success(), "{}", show(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                f[4].parse().unwrap(),
                f[5].parse().unwrap(),
                f[6].parse().unwrap(),
            )
        })
        .collect()
}

/// `status --format prometheus` on a host after traffic: promtool accepts it, and every peer
/// has a handshake the example alert (3 minutes) does not fire on, and bytes both ways.
fn recent_handshakes_in_metrics<'a>(
    mounts: &HostMounts,
    netns: &str,
    inv: &Path,
    key: &Path,
    peers: impl Iterator<Item = &'a str>,
) {
    let out = mounts.cli(netns, inv, key, &["status", "--format", "prometheus"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let metrics = String::from_utf8(out.stdout).unwrap();
    promtool_check_metrics(&metrics);
    let collected: f64 = value(&metrics, "vxlan_mesh_collection_timestamp_seconds", "");
    for peer in peers {
        let label = format!("peer=\"{peer}\"");
        let handshake: f64 = value(
            &metrics,
            "vxlan_mesh_wireguard_peer_latest_handshake_timestamp_seconds",
            &label,
        );
        assert!(
            handshake > 0.0 && collected.floor() - handshake <= 180.0 && handshake <= collected.ceil(),
            "handshake with `{peer}` at {handshake}, collected at {collected}:\n{metrics}"
        );
        for counter in ["receive", "transmit"] {
            let name = format!("vxlan_mesh_wireguard_peer_{counter}_bytes_total");
            assert!(
                value::<u64>(&metrics, &name, &label) > 0,
                "{name} of `{peer}`:\n{metrics}"
            );
        }
    }
}

/// `container_mtu`: 1500 minus WireGuard's overhead over the underlay's family and VXLAN's
/// over the (IPv4) inner addresses.
fn encrypted_mesh(mode: &str, v6: bool, container_mtu: u32, tag: &str) {
    let mesh = Mesh::new(tag, 4, mode, v6);
    let (lab, mounts, keys, inv) = (&mesh.lab, &mesh.mounts, &mesh.keys, &mesh.inventory);
    count_underlay(lab, v6);

    // Every host, with the userspace fallback said once per apply.
    for (h, (key, _)) in lab.spec().hosts.iter().zip(keys) {
        let out = mounts.cli(&h.netns, inv, key, &["apply"]);
        assert_eq!(out.status.code(), Some(0), "apply on {}: {}", h.name, show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.matches("is run by wireguard-go").count(), 1, "{stderr}");
    }
    lab.attach_containers().unwrap();

    assert_full(lab);
    let containers: Vec<_> = lab.containers().collect();
    let (a, b) = (containers[0], containers.last().unwrap());
    assert_eq!(a.mtu, container_mtu);
    let probe = lab.max_frame_probe(a, b, a.mtu).unwrap();
    assert!(probe.fits && probe.larger_fails, "{probe:?}");

    // On the underlay: WireGuard only, not one VXLAN packet.
    let (vxlan, wireguard) = switch_counters(lab);
    assert_eq!(vxlan, 0, "VXLAN packets crossed the underlay in clear");
    assert!(wireguard > 100, "{wireguard} WireGuard packets");

    // Idempotent, converged, every peer seen.
    for (h, (key, _)) in lab.spec().hosts.iter().zip(keys) {
        let out = mounts.cli(&h.netns, inv, key, &["apply"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("no changes"),
            "{}",
            show(&out)
        );
        let out = mounts.cli(&h.netns, inv, key, &["status"]);
        assert_eq!(out.status.code(), Some(0), "status on {}: {}", h.name, show(&out));
        let peers = lab.spec().hosts.iter().filter(|p| p.name != h.name);
        recent_handshakes_in_metrics(mounts, &h.netns, inv, key, peers.map(|p| p.name.as_str()));
    }

    // `down` removes the interface and its daemon.
    let h = &lab.spec().hosts[0];
    let out = mounts.cli(&h.netns, inv, &keys[0].0, &["down", "--host", &h.name]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(!mounts
        .exec(&h.netns, &["ip", "link", "show"])
        .stdout
        .windows(INTERFACE.len())
        .any(|w| w == INTERFACE.as_bytes()));
    // wireguard-go removes its socket as it exits, after the device is gone: on a loaded
    // machine that is a moment after `down` returns.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut sockets = mounts.exec(&h.netns, &["ls", "/run/wireguard"]);
    while !sockets.stdout.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        sockets = mounts.exec(&h.netns, &["ls", "/run/wireguard"]);
    }
    assert!(sockets.stdout.is_empty(), "wireguard-go left {}", show(&sockets));
}

#[test]
fn flood_mesh_inside_wireguard_reaches_every_pair_with_no_vxlan_on_the_underlay() {
    encrypted_mesh("flood", false, 1390, "wgf");
}

#[test]
fn per_peer_mesh_inside_wireguard_reaches_every_pair_with_no_vxlan_on_the_underlay() {
    encrypted_mesh("per-peer", false, 1390, "wgp");
}

#[test]
fn over_an_ipv6_underlay_too() {
    encrypted_mesh("flood", true, 1370, "wg6");
}

/// An encrypted mesh: keys made, inventory written, the lab built (3 containers per host).
/// Fields drop in order: the lab (its daemons and mount namespaces with it), the scratch
/// directory last.
struct Mesh {
    mounts: HostMounts,
    lab: Lab,
    keys: Vec<(PathBuf, String)>,
    inventory: PathBuf,
    dir: Scratch,
}

impl Mesh {
    /// `hosts` hosts in `mode` (over IPv6 with `v6`), nothing applied yet.
    fn new(tag: &str, hosts: usize, mode: &str, v6: bool) -> Mesh {
        let dir = Scratch::new(tag);
        let keys = keygen(&dir, hosts);
        let text = inventory_in(&keys, hosts, mode, v6);
        let inventory = dir.write("inventory.toml", &text);
        let lab = lab_for(&text, 3, tag);
        let mounts = HostMounts::new(&lab);
        Mesh {
            mounts,
            lab,
            keys,
            inventory,
            dir,
        }
    }

    /// Three hosts in flood mode, deployed, containers attached.
    fn deployed(tag: &str) -> Mesh {
        let mesh = Mesh::new(tag, 3, "flood", false);
        apply(&mesh.lab, &mesh.mounts, &mesh.inventory, &mesh.keys, 3);
        mesh.lab.attach_containers().unwrap();
        mesh
    }
}

#[test]
fn a_spoofed_vxlan_packet_from_the_underlay_delivers_nothing() {
    let tag = "wgs";
    let mesh = Mesh::deployed(tag);
    let (lab, mounts) = (&mesh.lab, &mesh.mounts);

    // A stranger on the underlay switch with host wg1's address sends VXLAN (the mesh's VNI
    // and port) to wg3. It neither asks (a permanent entry for wg3) nor answers ARP, so
    // wg1's traffic keeps going to wg1.
    let spec = lab.spec();
    let victim = &spec.hosts[2];
    let stranger = format!("{}-x", spec.switch);
    let victim_mac = {
        let out = lab.exec_ok(
            &victim.netns,
            &["cat", &format!("/sys/class/net/{}/address", victim.device)],
        );
        out.unwrap().trim().to_string()
    };
    let _stranger = StrangerNs(stranger.clone());
    let port = format!("{tag}x{}", std::process::id() % 100_000);
    let sh = |cmd: &str| {
        let out = run("sh", &["-c", cmd]);
        assert!(out.status.success(), "{cmd}: {}", show(&out));
    };
    sh(&format!("ip netns add {stranger}"));
    sh(&format!(
        "ip -n {sw} link add {port} type veth peer name ul0 netns {stranger} && ip -n {sw} link set {port} master {br} up",
        sw = spec.switch,
        br = names::SWITCH_BRIDGE
    ));
    sh(&format!(
        "ip netns exec {stranger} sysctl -qw net.ipv4.conf.all.arp_ignore=8 net.ipv4.conf.default.arp_ignore=8 && \
         ip -n {stranger} link set ul0 up && ip -n {stranger} addr add 192.0.2.1/24 dev ul0 && \
         ip -n {stranger} neigh add 192.0.2.3 lladdr {victim_mac} dev ul0 nud permanent && \
         ip -n {stranger} link add vx type vxlan id 1000 local 192.0.2.1 remote 192.0.2.3 dstport 4789 && \
         ip -n {stranger} link set vx up && ip -n {stranger} addr add 198.51.100.250/24 dev vx"
    ));
    // Frames from the stranger's VXLAN device that the victim's bridge passes on towards
    // its containers, counted there.
    let stranger_mac = run("ip", &["netns", "exec", &stranger, "cat", "/sys/class/net/vx/address"]);
    let stranger_mac = String::from_utf8(stranger_mac.stdout).unwrap().trim().to_string();
    nft_in(
        &victim.netns,
        &format!(
            "table bridge spoofcap {{\n chain c {{\n  type filter hook forward priority 0; policy accept;\n  \
             ether saddr {stranger_mac} counter\n }}\n}}\n"
        ),
    );
    let delivered = || -> u64 {
        let text = lab
            .exec_ok(&victim.netns, &["nft", "-j", "list", "table", "bridge", "spoofcap"])
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|i| {
                i.pointer("/rule/expr/1/counter/packets")
                    .and_then(serde_json::Value::as_u64)
            })
            .unwrap()
    };
    let dropped = |ns: &str| -> String {
        let out = mounts.exec(ns, &["nft", "list", "chain", "inet", "vxlan_mesh", "input"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let drops_before = dropped(&victim.netns);
    // Broadcast ARP requests in VXLAN, several.
    let _ = run(
        "ip",
        &[
            "netns",
            "exec",
            &stranger,
            "ping",
            "-c",
            "5",
            "-i",
            "0.2",
            "-W",
            "1",
            "198.51.100.251",
        ],
    );
    assert_eq!(delivered(), 0, "a spoofed VXLAN frame reached the overlay");
    assert_ne!(
        dropped(&victim.netns),
        drops_before,
        "the spoofed packets never arrived"
    );

    // And garbage to the WireGuard port delivers nothing either.
    let _ = run(
        "ip",
        &[
            "netns",
            "exec",
            &stranger,
            "bash",
            "-c",
            "for i in 1 2 3 4 5; do printf 'garbage-%s' $i > /dev/udp/192.0.2.3/51820; done",
        ],
    );
    assert_eq!(delivered(), 0);
    assert_full(lab);
}

/// A namespace of this test, deleted on drop.
struct StrangerNs(String);

impl Drop for StrangerNs {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.0]);
    }
}

#[test]
fn adding_a_host_keeps_the_old_peers_sessions() {
    let tag = "wga";
    let dir = Scratch::new(tag);
    let keys = keygen(&dir, 4);
    let three = dir.write("three.toml", &inventory(&keys, 3, "flood"));
    let four_text = inventory(&keys, 4, "flood");
    let four = dir.write("four.toml", &four_text);
    let lab = lab_for(&four_text, 3, tag);
    let mounts = HostMounts::new(&lab);
    apply(&lab, &mounts, &three, &keys, 3);
    // The fourth host has no bridge yet: attach the others' containers only.
    for h in &lab.spec().hosts[..3] {
        for c in &h.containers {
            lab.exec_ok(
                &h.netns,
                &["ip", "link", "set", &c.host_ifname, "master", &c.bridge, "up"],
            )
            .unwrap();
        }
    }
    // Traffic between the first three hosts' containers: sessions with handshakes.
    let first = &lab.spec().hosts[0];
    for peer in &lab.spec().hosts[1..3] {
        let target = peer.containers[0].ipv4.unwrap().to_string();
        let out = lab
            .exec(&first.containers[0].netns, &["ping", "-c", "2", "-W", "2", &target])
            .unwrap();
        assert!(out.status.success(), "{}", show(&out));
    }
    let before = sessions(&mounts, &first.netns);
    assert_eq!(before.len(), 2);
    assert!(
        before.iter().all(|(_, handshake, rx, _)| *handshake > 0 && *rx > 0),
        "{before:?}"
    );

    // The first host knows the newcomer before the newcomer exists: converged, but a peer
    // never seen, which status tells apart from drift.
    let out = mounts.cli(&first.netns, &four, &keys[0].0, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = mounts.cli(&first.netns, &four, &keys[0].0, &["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let text = show(&out);
    assert!(text.contains("host wg1: converged"), "{text}");
    assert!(text.contains("no WireGuard handshake yet with wg4"), "{text}");

    apply(&lab, &mounts, &four, &keys, 4);
    lab.attach_containers().unwrap();
    let after = sessions(&mounts, &first.netns);
    assert_eq!(after.len(), 3);
    for (key, handshake, rx, tx) in &before {
        let (_, h2, rx2, tx2) = after.iter().find(|(k, ..)| k == key).unwrap();
        // A reset peer starts again from no handshake and zero counters.
        assert!(
            h2 >= handshake && rx2 >= rx && tx2 >= tx,
            "peer {key} was reset: {before:?} -> {after:?}"
        );
    }
    assert_full(&lab);
}

#[test]
fn drift_in_the_wireguard_interface_is_reported_and_repaired_peer_by_peer() {
    let tag = "wgd";
    let mesh = Mesh::deployed(tag);
    let (lab, mounts, keys, inv) = (&mesh.lab, &mesh.mounts, &mesh.keys, &mesh.inventory);
    assert_full(lab);

    // By hand on wg1: wg2's peer removed, wg3's allowed IPs changed, the MTU lowered. (Not
    // wg3's endpoint: WireGuard roams it back to wherever wg3's next packet comes from, which
    // races with the status below.)
    let first = &lab.spec().hosts[0];
    let (wg2, wg3) = (&keys[1].1, &keys[2].1);
    for cmd in [
        vec!["wg", "set", INTERFACE, "peer", wg2, "remove"],
        vec!["wg", "set", INTERFACE, "peer", wg3, "allowed-ips", "192.0.2.250/32"],
        vec!["ip", "link", "set", "dev", INTERFACE, "mtu", "1400"],
    ] {
        let out = mounts.exec(&first.netns, &cmd);
        assert!(out.status.success(), "{cmd:?}: {}", show(&out));
    }
    let out = mounts.cli(&first.netns, inv, &keys[0].0, &["status"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let text = show(&out);
    assert!(
        text.contains("update wireguard vxmwg0: mtu 1400 -> 1440, add peer wg2, update peer wg3"),
        "{text}"
    );

    let out = mounts.cli(&first.netns, inv, &keys[0].0, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = mounts.cli(&first.netns, inv, &keys[0].0, &["status", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["converged"], true, "{}", show(&out));
    assert_full(lab);
    let peers = json["wireguard_peers"].as_array().unwrap();
    assert_eq!(peers.len(), 2, "{json}");
}

/// What the firewall's output chain on host `netns` dropped: packets of its one rule (`oifname
/// != IFNAME udp dport 4789 counter drop`); `None` without the chain.
fn blocked_in_clear(mounts: &HostMounts, netns: &str) -> Option<u64> {
    let out = mounts.exec(netns, &["nft", "-j", "list", "chain", "inet", "vxlan_mesh", "output"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    json["nftables"].as_array()?.iter().find_map(|i| {
        i.pointer("/rule/expr/2/counter/packets")
            .and_then(serde_json::Value::as_u64)
    })
}

/// With the WireGuard interface down (wireguard-go stopped, an admin, a unit ordering) or
/// gone, the VXLAN devices still start from the inner address, and the kernel routes their
/// packets by whatever else matches: here an explicit route to the inner prefix through the
/// underlay (on a real host, the default route; in this lab the underlay's /24 holds the
/// inner prefix too). The firewall's output chain keeps every one of them off the underlay,
/// its counter shows them, and status reports the interface as drift.
#[test]
fn with_wireguard_down_or_gone_no_vxlan_leaves_in_clear() {
    let tag = "wgl";
    let mesh = Mesh::deployed(tag);
    let (lab, mounts, keys, inv) = (&mesh.lab, &mesh.mounts, &mesh.keys, &mesh.inventory);
    assert_full(lab);
    count_underlay(lab, false);

    // wg1 and wg2: the interface down (it keeps its address, so the VXLAN devices keep
    // sending); wg3: the interface deleted, and its daemon exits with it.
    let hosts = &lab.spec().hosts;
    for (i, h) in hosts.iter().enumerate() {
        let gateway = hosts[(i + 1) % hosts.len()].address.to_string();
        let gone = i == 2;
        let wg: &[&str] = if gone {
            &["ip", "link", "del", "dev", INTERFACE]
        } else {
            &["ip", "link", "set", "dev", INTERFACE, "down"]
        };
        let route = ["ip", "route", "add", common::WIREGUARD_INNER, "via", &gateway];
        for cmd in [wg, &route] {
            let out = mounts.exec(&h.netns, cmd);
            assert!(out.status.success(), "{cmd:?} on {}: {}", h.name, show(&out));
        }
    }
    let before: Vec<Option<u64>> = hosts[..2].iter().map(|h| blocked_in_clear(mounts, &h.netns)).collect();

    // Each host's first container pings the next host's: nothing gets through, and nothing
    // crosses in clear.
    for (i, h) in hosts.iter().enumerate() {
        let peer = &hosts[(i + 1) % hosts.len()];
        let target = peer.containers[0].ipv4.unwrap().to_string();
        let out = lab
            .exec(
                &h.containers[0].netns,
                &["ping", "-c", "3", "-i", "0.2", "-W", "1", &target],
            )
            .unwrap();
        assert!(
            !out.status.success(),
            "{} reached {}: {}",
            h.name,
            peer.name,
            show(&out)
        );
    }
    let (vxlan, _) = switch_counters(lab);
    assert_eq!(vxlan, 0, "VXLAN packets crossed the underlay in clear");
    for ((h, (key, _)), before) in hosts.iter().zip(keys).zip(before) {
        let after = blocked_in_clear(mounts, &h.netns).unwrap_or_else(|| panic!("{}: no output chain", h.name));
        let before = before.unwrap_or_default();
        assert!(
            after > before,
            "{}: the output chain dropped nothing ({before} -> {after})",
            h.name
        );
        // The metric is that counter.
        let out = mounts.cli(&h.netns, inv, key, &["status", "--format", "prometheus"]);
        let metrics = String::from_utf8_lossy(&out.stdout).into_owned();
        promtool_check_metrics(&metrics);
        let metric: u64 = value(&metrics, "vxlan_mesh_firewall_blocked_clear_packets_total", "");
        assert!(metric >= after, "{}: {metric} < {after}:\n{metrics}", h.name);
    }

    // status: drift on every host, the interface down or missing.
    for ((h, (key, _)), expected) in hosts.iter().zip(keys).zip([
        "update wireguard vxmwg0: up",
        "update wireguard vxmwg0: up",
        "create wireguard vxmwg0",
    ]) {
        let out = mounts.cli(&h.netns, inv, key, &["status"]);
        assert_eq!(out.status.code(), Some(2), "status on {}: {}", h.name, show(&out));
        assert!(show(&out).contains(expected), "status on {}: {}", h.name, show(&out));
    }

    // apply brings the interfaces back (the test's route, as specific as the interface's,
    // removed first), and the mesh with them.
    for (h, (key, _)) in hosts.iter().zip(keys) {
        let route = ["ip", "route", "del", common::WIREGUARD_INNER];
        let out = mounts.exec(&h.netns, &route);
        assert!(out.status.success(), "{route:?} on {}: {}", h.name, show(&out));
        let out = mounts.cli(&h.netns, inv, key, &["apply"]);
        assert_eq!(out.status.code(), Some(0), "apply on {}: {}", h.name, show(&out));
    }
    assert_full(lab);
    let (vxlan, _) = switch_counters(lab);
    assert_eq!(vxlan, 0, "VXLAN packets crossed the underlay in clear");
}

/// The rendered shell script of host `host`, written into `dir` (as `HOST.sh`).
fn script_of(dir: &Scratch, inventory: &Path, host: &str) -> PathBuf {
    let out = common::vxm()
        .args([
            "-i",
            inventory.to_str().unwrap(),
            "render",
            "--format",
            "shell",
            "--host",
            host,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    dir.write(&format!("{host}.sh"), &String::from_utf8(out.stdout).unwrap())
}

/// Runs the rendered script `script` with `verb` on host `netns` with the private key `key`.
fn script(mounts: &HostMounts, netns: &str, script: &Path, key: &Path, verb: &str) -> Output {
    let env = format!("VXLAN_MESH_WIREGUARD_KEY={}", key.display());
    mounts.exec(netns, &["env", &env, "sh", script.to_str().unwrap(), verb])
}

/// Whether the first container of host `from` reaches the first container of host `to`.
fn reaches(lab: &Lab, from: usize, to: usize) -> bool {
    let hosts = &lab.spec().hosts;
    let target = hosts[to].containers[0].ipv4.unwrap().to_string();
    // Up to 8 s, not one try: the first packet may start a WireGuard handshake, which is
    // retried after 5 s when it crossed the peer's (longer than an ARP resolution waits).
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(8) {
        let ping = ["ping", "-c", "1", "-W", "2", target.as_str()];
        if lab
            .exec(&hosts[from].containers[0].netns, &ping)
            .unwrap()
            .status
            .success()
        {
            return true;
        }
    }
    false
}

/// Every attribute `wg` reports of the interface and its peers is compared: a preshared key
/// (the plan has none: a key only one side has stops every new handshake), a firewall mark
/// (it steers WireGuard's own packets by policy routing) and a keepalive set by hand are
/// drift in `status` (text and Prometheus) and in the rendered script's `status`; `apply`
/// clears them through the one `wg set` path, peer by peer.
#[test]
fn a_preshared_key_a_firewall_mark_or_a_keepalive_set_by_hand_is_drift_that_apply_clears() {
    let tag = "wgk";
    let mesh = Mesh::deployed(tag);
    let (lab, mounts, keys, inv) = (&mesh.lab, &mesh.mounts, &mesh.keys, &mesh.inventory);
    let first = &lab.spec().hosts[0];
    let key = &keys[0].0;
    let sh = script_of(&mesh.dir, inv, &first.name);
    let out = script(mounts, &first.netns, &sh, key, "status");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let psk = mesh.dir.write("psk", "");
    let out = mounts.exec(&first.netns, &["sh", "-c", &format!("wg genpsk > {}", psk.display())]);
    assert!(out.status.success(), "{}", show(&out));
    let (wg2, wg3) = (&keys[1].1, &keys[2].1);
    let psk = psk.to_str().unwrap();
    for cmd in [
        vec!["wg", "set", INTERFACE, "peer", wg2, "preshared-key", psk],
        vec!["wg", "set", INTERFACE, "fwmark", "0x2a"],
        vec!["wg", "set", INTERFACE, "peer", wg3, "persistent-keepalive", "7"],
    ] {
        let out = mounts.exec(&first.netns, &cmd);
        assert!(out.status.success(), "{cmd:?}: {}", show(&out));
    }

    let out = mounts.cli(&first.netns, inv, key, &["status"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let text = show(&out);
    assert!(
        text.contains(
            "update wireguard vxmwg0: fwmark 0x2a -> off, update peer wg2 (preshared key), update peer wg3 (persistent keepalive)"
        ),
        "{text}"
    );
    assert!(
        !text.contains(&std::fs::read_to_string(psk).unwrap().trim().to_string()),
        "{text}"
    );
    let out = mounts.cli(&first.netns, inv, key, &["status", "--format", "prometheus"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let out = script(mounts, &first.netns, &sh, key, "status");
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let text = show(&out);
    assert!(
        text.contains("firewall mark") && text.contains("preshared-key"),
        "{text}"
    );

    let out = mounts.cli(&first.netns, inv, key, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let dump = mounts.exec(&first.netns, &["wg", "show", INTERFACE, "dump"]);
    let dump = String::from_utf8(dump.stdout).unwrap();
    let lines: Vec<Vec<&str>> = dump.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines[0][3], "off", "fwmark still set");
    for peer in &lines[1..] {
        assert_eq!((peer[1], peer[7]), ("(none)", "off"), "peer {} not cleared", peer[0]);
    }
    let out = mounts.cli(&first.netns, inv, key, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = script(mounts, &first.netns, &sh, key, "status");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // The script's start clears them too.
    let out = mounts.exec(
        &first.netns,
        &["wg", "set", INTERFACE, "peer", wg3, "preshared-key", psk],
    );
    assert!(out.status.success(), "{}", show(&out));
    let out = script(mounts, &first.netns, &sh, key, "start");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = mounts.cli(&first.netns, inv, key, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_full(lab);
}

/// An apply killed (SIGKILL) right after wireguard-go created the device, before it marked
/// it: the device has no alias, no key, no peer, no address. The next apply (and the
/// rendered script's start) finishes it instead of refusing it as foreign; a device of that
/// name with any configuration of its own stays foreign and is refused.
#[test]
fn a_wireguard_device_left_unmarked_by_a_killed_apply_is_finished_by_the_next() {
    let tag = "wgk9";
    let mesh = Mesh::new(tag, 3, "flood", false);
    let (lab, mounts, keys, inv, dir) = (&mesh.lab, &mesh.mounts, &mesh.keys, &mesh.inventory, &mesh.dir);
    let hosts = &lab.spec().hosts;
    // What apply's first step runs, and nothing after it.
    for h in &hosts[..2] {
        let out = mounts.exec(&h.netns, &["wireguard-go", INTERFACE]);
        assert!(out.status.success(), "{}", show(&out));
    }
    let (first, second) = (&hosts[0], &hosts[1]);
    let out = mounts.cli(&first.netns, inv, &keys[0].0, &["status"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        show(&out).contains("update wireguard vxmwg0: mtu 1420 -> 1440, up, alias  -> vxlan-mesh::wireguard"),
        "{}",
        show(&out)
    );
    // What the device lacks is named unset, never shown as a made-up value: in text and in
    // JSON, where its key is `null` and it has no address at all.
    let zero_key = vxlan_mesh_core::PublicKey([0; 32]).to_string();
    for words in ["address unset -> ", &format!("key unset -> {}", keys[0].1)] {
        assert!(show(&out).contains(words), "{words}: {}", show(&out));
    }
    let out = mounts.cli(&first.netns, inv, &keys[0].0, &["status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let raw = String::from_utf8_lossy(&out.stdout);
    assert!(!raw.contains("0.0.0.0") && !raw.contains(&zero_key), "{raw}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let from = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["op"] == "update-wireguard")
        .map(|c| c["from"].clone())
        .unwrap_or_else(|| panic!("{json:#}"));
    assert!(
        from["public_key"].is_null() && from.get("address").is_none(),
        "{from:#}"
    );
    let out = mounts.cli(&first.netns, inv, &keys[0].0, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // The rendered script finishes one as well.
    let sh = script_of(dir, inv, &second.name);
    let out = script(mounts, &second.netns, &sh, &keys[1].0, "status");
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(show(&out).contains("half-made"), "{}", show(&out));
    let out = script(mounts, &second.netns, &sh, &keys[1].0, "start");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    for (h, (key, _)) in hosts.iter().zip(keys).take(2) {
        let out = mounts.cli(&h.netns, inv, key, &["status"]);
        assert_ne!(out.status.code(), Some(2), "status on {}: {}", h.name, show(&out));
        assert!(show(&out).contains("converged"), "status on {}: {}", h.name, show(&out));
    }

    // Someone's own device of that name, configured: refused, untouched.
    let third = &hosts[2];
    let own = dir.write("own.key", "");
    let out = mounts.exec(
        &third.netns,
        &[
            "sh",
            "-c",
            &format!(
                "wireguard-go {INTERFACE} && wg genkey > {0} && wg set {INTERFACE} private-key {0}",
                own.display()
            ),
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let out = mounts.cli(&third.netns, inv, &keys[2].0, &["apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(show(&out).contains("was not created by vxlan-mesh"), "{}", show(&out));
    let link = mounts.exec(&third.netns, &["ip", "-d", "-o", "link", "show", "dev", INTERFACE]);
    assert!(
        !String::from_utf8_lossy(&link.stdout).contains(" alias "),
        "{}",
        show(&link)
    );
    mounts.exec(&third.netns, &["ip", "link", "del", INTERFACE]);

    // And a real SIGKILL: the apply is killed as soon as the device appears (while it waits
    // for wireguard-go's control socket, before it marks the device), then applied again.
    let kill = format!(
        "{BIN} -i {} apply --wireguard-key {} & pid=$!; \
         while ! ip link show dev {INTERFACE} >/dev/null 2>&1; do :; done; kill -9 $pid; wait $pid; \
         ip -d -o link show dev {INTERFACE}",
        inv.display(),
        keys[2].0.display()
    );
    let out = mounts.exec(&third.netns, &["sh", "-c", &kill]);
    assert!(show(&out).contains(INTERFACE), "{}", show(&out));
    apply(lab, mounts, inv, keys, 3);
    lab.attach_containers().unwrap();
    assert_full(lab);
}

/// A route that takes a peer's inner address off the WireGuard interface cuts the overlay to
/// it (the firewall drops its VXLAN packets rather than send them in clear): `status` reports
/// it by name (exit 2), in the rendered script too. The interface's own route deleted:
/// `apply` gives the address again, and the route with it. A route not ours that wins over
/// the interface's (more specific): `apply` refuses, names it and how to remove it, and
/// changes nothing.
#[test]
fn a_route_that_takes_a_peers_inner_address_off_wireguard_is_drift() {
    let tag = "wgr";
    let mesh = Mesh::deployed(tag);
    let (lab, mounts, keys, inv) = (&mesh.lab, &mesh.mounts, &mesh.keys, &mesh.inventory);
    let hosts = &lab.spec().hosts;
    let first = &hosts[0];
    let key = &keys[0].0;
    let sh = script_of(&mesh.dir, inv, &first.name);
    assert!(reaches(lab, 0, 1));
    let wg2_inner = "192.0.2.130";
    let run_ok = |cmd: &[&str]| {
        let out = mounts.exec(&first.netns, cmd);
        assert!(out.status.success(), "{cmd:?}: {}", show(&out));
    };

    // The interface's own route deleted: every peer's inner address now goes by the
    // underlay's /24.
    run_ok(&["ip", "route", "del", common::WIREGUARD_INNER, "dev", INTERFACE]);
    assert!(!reaches(lab, 0, 1), "reached wg2 without the route");
    let out = mounts.cli(&first.netns, inv, key, &["status"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let text = show(&out);
    assert!(
        text.contains(
            "restore the route of 192.0.2.129/25 through wireguard vxmwg0 (192.0.2.130 goes by `192.0.2.0/24 dev"
        ),
        "{text}"
    );
    let out = mounts.cli(&first.netns, inv, key, &["status", "--format", "prometheus"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let out = script(mounts, &first.netns, &sh, key, "status");
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(
        show(&out).contains("peer address 192.0.2.130 goes by"),
        "{}",
        show(&out)
    );
    let out = mounts.cli(&first.netns, inv, key, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(reaches(lab, 0, 1), "wg2 unreachable after apply");
    let out = mounts.cli(&first.netns, inv, key, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // The script's start restores it too.
    run_ok(&["ip", "route", "del", common::WIREGUARD_INNER, "dev", INTERFACE]);
    let out = script(mounts, &first.netns, &sh, key, "start");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = mounts.cli(&first.netns, inv, key, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // A more specific route, not ours, through the underlay.
    let via = hosts[1].address.to_string();
    run_ok(&["ip", "route", "add", &format!("{wg2_inner}/32"), "via", &via]);
    assert!(!reaches(lab, 0, 1), "reached wg2 through the underlay route");
    let out = mounts.cli(&first.netns, inv, key, &["status"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let text = show(&out);
    assert!(
        text.contains(&format!(
            "route not added by vxlan-mesh takes peer wg2 out of wireguard vxmwg0: 192.0.2.130 goes by `192.0.2.130/32 via {via} dev"
        )),
        "{text}"
    );
    let out = script(mounts, &first.netns, &sh, key, "status");
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(
        show(&out).contains("peer address 192.0.2.130 goes by"),
        "{}",
        show(&out)
    );
    let out = script(mounts, &first.netns, &sh, key, "start");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let out = mounts.cli(&first.netns, inv, key, &["apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = show(&out);
    assert!(
        text.contains("vxlan-mesh did not add that route and does not remove it")
            && text.contains(&format!("ip route del 192.0.2.130/32 via {via} dev")),
        "{text}"
    );
    let routes = mounts.exec(&first.netns, &["ip", "route", "show", &format!("{wg2_inner}/32")]);
    assert!(!routes.stdout.is_empty(), "apply removed a route it did not add");

    run_ok(&["ip", "route", "del", &format!("{wg2_inner}/32")]);
    let out = mounts.cli(&first.netns, inv, key, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_full(lab);
}
