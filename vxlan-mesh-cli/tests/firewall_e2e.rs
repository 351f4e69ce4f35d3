//! The peer-only firewall end to end, with `vxlan-mesh apply` and `down` in the namespace lab
//! (vxlan-mesh-lab): a stranger on the underlay switch — not in the inventory — sends VXLAN
//! frames with the right VNI to host `a`'s address, addressed to a container of `a`.
//!
//! - With `firewall = false` the container receives them: the attack works, so the test can
//!   fail.
//! - After `apply` of the same fleet with the firewall (the default), it receives none, while
//!   `a`'s drop counter shows they arrived; every container still reaches every other.
//! - Foreign nftables tables (one of them accepting the VXLAN port itself) are byte for byte
//!   the same after `apply`, a second `apply` and `down`; `down` removes our table.
//!
//! - Our table made dormant, or given an accept rule above ours, behind the tool's back:
//!   forged frames get through, `status` (netlink and the script) reports drift, `apply`
//!   replaces the table and none gets through again.
//! - Per-peer mode with ebtables: a foreign `FORWARD` rule below our jump applies (the
//!   chain's policy is RETURN); made ACCEPT behind the tool's back, the rule is skipped,
//!   `status` reports it, `apply` (and the script's `start`) set RETURN again.
//!
//! Root, iproute2, iputils-ping, nftables and ebtables are required; the tests fail without
//! them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::testing::{FOREIGN_NFT_TABLES, FOREIGN_NFT_TABLE_NAMES};
use vxlan_mesh_lab::{names, Lab};

use common::lab::{fleet_of, lab_tagged};
use common::{cli_in, Netns, Scratch};

/// The stranger's MAC, which the container's ingress counter matches.
const STRANGER_MAC: &str = "02:00:00:00:66:66";
/// The stranger's overlay address (outside the lab's container numbering).
const STRANGER_OVERLAY: &str = "198.51.100.200";
/// Frames sent per phase. Other tests on the machine share its per-CPU packet backlog, so a
/// few may be lost to their bursts: half must arrive (and, with the firewall, be dropped).
const SENT: u64 = 20;

/// Runs `sh -euc script` in namespace `ns` with `stdin`; panics with the output on failure.
fn sh_in(ns: &str, script: &str, stdin: &str) -> String {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-euc", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`ip` (iproute2) must be installed");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "in {ns}: `{script}` failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sh(ns: &str, script: &str) -> String {
    sh_in(ns, script, "")
}

/// `vxlan-mesh -i INVENTORY ARGS…` in namespace `ns`; returns stdout, panics on failure.
fn cli(ns: &str, inventory: &Path, args: &[&str]) -> String {
    let out = cli_in(ns, inventory, args);
    assert!(
        out.status.success(),
        "vxlan-mesh {args:?} in {ns}: status {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `vxlan-mesh -i INVENTORY ARGS…` in namespace `ns`: exit code and stdout.
fn cli_code(ns: &str, inventory: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = cli_in(ns, inventory, args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// The rendered shell script of `host` run with `verb` in namespace `ns`: exit code and
/// output.
fn script_code(ns: &str, script: &Path, verb: &str) -> (Option<i32>, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "sh"])
        .arg(script)
        .arg(verb)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// Renders the shell form of `host` into `dir` and returns its path.
fn render_script(ns: &str, inventory: &Path, host: &str, dir: &Path) -> std::path::PathBuf {
    let path = dir.join(format!("{host}.sh"));
    std::fs::write(
        &path,
        cli(ns, inventory, &["render", "--format", "shell", "--host", host]),
    )
    .unwrap();
    path
}

/// Hosts `a`, `b`, `c` at `192.0.2.1`… (`2001:db8::1`… with `v6`) on network `lan` (VNI 100)
/// in `mode` (a mode or a per-peer loop prevention).
fn inventory_text(mode: &str, v6: bool, firewall: bool) -> String {
    FleetBuilder::new()
        .layout(mode)
        .firewall(firewall)
        .ipv6(v6)
        .lettered(3)
        .toml()
}

/// Frames from the stranger's MAC counted at the container interface's ingress hook, before
/// anything inside the container could drop them.
fn received(container: &str, ifname: &str) -> u64 {
    let out = sh(container, "nft list chain netdev probe in");
    counter(&out, "ether saddr").unwrap_or_else(|| panic!("no probe counter on {ifname}:\n{out}"))
}

fn reset_probe(container: &str, ifname: &str) {
    sh_in(
        container,
        "nft -f -",
        &format!(
            "table netdev probe {{}}\ndelete table netdev probe\n\
             table netdev probe {{\n chain in {{\n  type filter hook ingress device {ifname} priority -500;\n  ether saddr {STRANGER_MAC} counter\n }}\n}}\n"
        ),
    );
}

/// The packet count of the first rule of `listing` containing `marker`.
fn counter(listing: &str, marker: &str) -> Option<u64> {
    let line = listing.lines().find(|l| l.contains(marker) && l.contains("counter"))?;
    line.split("packets ").nth(1)?.split_whitespace().next()?.parse().ok()
}

/// Packets host `a`'s firewall dropped.
fn dropped(host: &str) -> u64 {
    let out = sh(host, "nft list chain inet vxlan_mesh input");
    counter(&out, "drop").unwrap_or_else(|| panic!("no drop counter:\n{out}"))
}

fn attack(stranger: &str, target: IpAddr) {
    // Unanswered when the firewall works: the pings' exit status is not the test.
    sh(
        stranger,
        &format!("ping -c {SENT} -i 0.2 -W 1 {target} >/dev/null 2>&1 || true"),
    );
}

fn foreign_tables(ns: &str) -> String {
    let mut s = String::new();
    for (family, name) in FOREIGN_NFT_TABLE_NAMES {
        s += &sh(ns, &format!("nft -s list table {family} {name}"));
    }
    s
}

/// The lab's ping matrix, taken again (up to three times) while some pair fails: on a
/// loaded machine a single probe with a short timeout can miss. A pair the firewall blocks
/// fails every time.
fn full_matrix(lab: &Lab) -> vxlan_mesh_lab::Reachability {
    let mut matrix = lab.ping_matrix().unwrap();
    for _ in 0..2 {
        if matrix.is_full() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
        matrix = lab.ping_matrix().unwrap();
    }
    matrix
}

/// The stranger: on the underlay switch of `lab` like any host, but not in the inventory;
/// its namespace and underlay address.
fn stranger(lab: &Lab, tag: &str, v6: bool) -> (Netns, &'static str) {
    let spec = lab.spec();
    let a = &spec.hosts[0];
    let stranger = Netns::named(&format!("{}x", names::tag_prefix(tag)));
    let stranger_addr = if v6 { "2001:db8::66" } else { "192.0.2.66" };
    let plen = if v6 { 64 } else { 24 };
    sh(
        &spec.switch,
        &format!(
            "ip link add px type veth peer name ul0 netns {}\nip link set px master {} up",
            stranger.0,
            names::SWITCH_BRIDGE
        ),
    );
    sh(
        &stranger.0,
        &format!("ip link set lo up\nip addr add {stranger_addr}/{plen} dev ul0 nodad\nip link set ul0 up"),
    );
    // Underlay reachability first (this also resolves the underlay neighbours, whose first
    // packets a fresh vxlan device would otherwise lose).
    sh(
        &stranger.0,
        &format!(
            "for i in $(seq 20); do ping -c 1 -W 1 {} >/dev/null && exit 0; sleep 0.5; done; exit 1",
            a.address
        ),
    );
    (stranger, stranger_addr)
}

/// The stranger's vxlan device, forging frames to host `a`'s first container: the VNI host
/// a uses towards b (the only VNI in flood mode). Needs the containers attached.
fn forge(lab: &Lab, fleet: &vxlan_mesh_core::Fleet, stranger: &str, stranger_addr: &str) {
    let a = &lab.spec().hosts[0];
    let target = &a.containers[0];
    let vni = fleet.plan("a").unwrap().networks[0].vxlans[0].vni;
    let target_mac = sh(&target.netns, &format!("cat /sys/class/net/{}/address", target.ifname));
    sh(
        stranger,
        &format!(
            "ip link add vxatk address {STRANGER_MAC} type vxlan id {vni} local {stranger_addr} remote {} dstport 4789\n\
             sysctl -qw net.ipv6.conf.vxatk.disable_ipv6=1\n\
             ip link set vxatk mtu {} up\nip addr add {STRANGER_OVERLAY}/24 dev vxatk\n\
             ip neigh replace {} lladdr {} dev vxatk nud permanent",
            a.address,
            target.mtu,
            target.ipv4.unwrap(),
            target_mac.trim()
        ),
    );
}

fn peer_only_firewall(mode: &str, v6: bool) {
    let tag = names::unique_tag("fw");
    let dir = Scratch::new(&tag);
    let open_inv = dir.join("open.toml");
    let closed_inv = dir.join("closed.toml");
    std::fs::write(&open_inv, inventory_text(mode, v6, false)).unwrap();
    std::fs::write(&closed_inv, inventory_text(mode, v6, true)).unwrap();
    let fleet = fleet_of(&inventory_text(mode, v6, true));
    let lab = lab_tagged(&fleet, 1, &tag);
    let spec = lab.spec().clone();
    let a = &spec.hosts[0];
    let target = &a.containers[0];
    let target_v4 = IpAddr::V4(target.ipv4.unwrap());
    let (stranger, stranger_addr) = stranger(&lab, &tag, v6);

    // Foreign tables on host a before vxlan-mesh ever runs.
    sh_in(&a.netns, "nft -f -", FOREIGN_NFT_TABLES);
    let foreign_before = foreign_tables(&a.netns);

    // Without the firewall.
    for h in &spec.hosts {
        cli(&h.netns, &open_inv, &["apply", "--host", &h.name]);
    }
    lab.attach_containers().unwrap();
    assert!(!sh(&a.netns, "nft list tables").contains("vxlan_mesh\n"));
    let matrix = full_matrix(&lab);
    assert!(matrix.is_full(), "without the firewall:\n{}", matrix.render_text());

    forge(&lab, &fleet, &stranger.0, stranger_addr);

    reset_probe(&target.netns, &target.ifname);
    attack(&stranger.0, target_v4);
    let got = received(&target.netns, &target.ifname);
    assert!(
        got >= SENT / 2,
        "{mode} v6={v6}: without the firewall the container got {got} of {SENT} injected frames"
    );

    // Apply with the firewall: the output says so, and the host is converged.
    let out = cli(&a.netns, &closed_inv, &["apply", "--host", "a"]);
    assert!(out.contains("install nftables table inet vxlan_mesh"), "{out}");
    for h in &spec.hosts[1..] {
        cli(&h.netns, &closed_inv, &["apply", "--host", &h.name]);
    }
    cli(&a.netns, &closed_inv, &["status", "--host", "a"]);

    reset_probe(&target.netns, &target.ifname);
    attack(&stranger.0, target_v4);
    assert_eq!(
        received(&target.netns, &target.ifname),
        0,
        "{mode} v6={v6}: injected frames passed the firewall"
    );
    let drops = dropped(&a.netns);
    assert!(
        drops >= SENT / 2,
        "{mode} v6={v6}: the firewall dropped only {drops} of {SENT} frames"
    );

    // Peers' traffic still flows: every container reaches every other.
    let matrix = full_matrix(&lab);
    assert!(
        matrix.is_full(),
        "with the firewall:\n{}\n{}",
        matrix.render_text(),
        sh(&a.netns, "nft list ruleset; ip -d link show; bridge fdb show")
    );

    // Foreign tables: untouched by apply, a second apply, and down.
    assert_eq!(foreign_tables(&a.netns), foreign_before, "after apply");
    let again = cli(&a.netns, &closed_inv, &["apply", "--host", "a"]);
    assert!(again.contains("no changes"), "{again}");
    assert_eq!(foreign_tables(&a.netns), foreign_before, "after the second apply");
    cli(&a.netns, &closed_inv, &["down", "--host", "a"]);
    assert_eq!(foreign_tables(&a.netns), foreign_before, "after down");
    let tables = sh(&a.netns, "nft list tables");
    assert!(!tables.contains("inet vxlan_mesh\n"), "{tables}");
    assert!(tables.contains("inet vxlan_mesh_other"), "{tables}");
}

#[test]
fn flood_mode_ipv4_underlay() {
    peer_only_firewall("flood", false);
}

#[test]
fn flood_mode_ipv6_underlay() {
    peer_only_firewall("flood", true);
}

#[test]
fn per_peer_mode_ipv4_underlay() {
    peer_only_firewall("per-peer", false);
}

#[test]
fn per_peer_mode_ipv6_underlay() {
    peer_only_firewall("per-peer", true);
}

/// Rules an intruder or a careless operator could put in our chain in place of the
/// accept-from-peers rule: each opens the VXLAN port to everyone while keeping the table's
/// outline (one set, one chain, an accept then a drop on the port).
const TAMPERED_ACCEPT_RULES: [&str; 3] = [
    "udp dport 4789 accept",
    "ip saddr != @peers udp dport 4789 accept",
    "ip saddr 0.0.0.0/0 udp dport 4789 accept",
];

#[test]
fn status_sees_a_tampered_firewall_and_apply_restores_it() {
    let tag = names::unique_tag("fwt");
    let dir = Scratch::new(&tag);
    let inv = dir.join("inventory.toml");
    std::fs::write(&inv, inventory_text("flood", false, true)).unwrap();
    let ns = Netns::named(&format!("{}t", names::tag_prefix(&tag)));
    sh(&ns.0, "ip link set lo up\nip addr add 192.0.2.1/24 dev lo");

    cli(&ns.0, &inv, &["apply", "--host", "a"]);
    let good = sh(&ns.0, "nft list chain inet vxlan_mesh input");
    assert!(good.contains("ip saddr @peers udp dport 4789 accept"), "{good}");

    for rule in TAMPERED_ACCEPT_RULES {
        sh(
            &ns.0,
            &format!(
                "nft flush chain inet vxlan_mesh input\n\
                 nft add rule inet vxlan_mesh input {rule}\n\
                 nft add rule inet vxlan_mesh input udp dport 4789 counter drop"
            ),
        );
        let status = cli_in(&ns.0, &inv, &["status", "--host", "a"]);
        assert_eq!(
            status.status.code(),
            Some(2),
            "status must report drift after `{rule}`:\n{}",
            String::from_utf8_lossy(&status.stdout)
        );
        let out = cli(&ns.0, &inv, &["apply", "--host", "a"]);
        assert!(
            out.contains("install nftables table inet vxlan_mesh"),
            "`{rule}`: {out}"
        );
        let restored = sh(&ns.0, "nft list chain inet vxlan_mesh input");
        assert!(
            !restored.lines().any(|l| l.trim() == rule),
            "`{rule}` survived apply:\n{restored}"
        );
        assert!(restored.contains("ip saddr @peers udp dport 4789 accept"), "{restored}");
    }
}

/// Changes to our table behind the tool's back that keep its set and chain (so it is still
/// ours) but let strangers in: a dormant table filters nothing; an accept rule above ours
/// decides first.
const TAMPERINGS: [&str; 2] = [
    "nft add table inet vxlan_mesh '{ flags dormant; }'",
    "nft insert rule inet vxlan_mesh input udp dport 4789 accept",
];

/// Forged frames from a stranger pass our table once it is made dormant or given an accept
/// rule at the top of its input chain; `status` (netlink: exit 2; the script: exit 3) sees
/// it, `apply` replaces the table, and no forged frame passes after.
#[test]
fn a_dormant_or_opened_table_is_drift_and_apply_closes_it_again() {
    let tag = names::unique_tag("fwd");
    let dir = Scratch::new(&tag);
    let inv = dir.join("inventory.toml");
    std::fs::write(&inv, inventory_text("flood", false, true)).unwrap();
    let fleet = fleet_of(&inventory_text("flood", false, true));
    let lab = lab_tagged(&fleet, 1, &tag);
    let spec = lab.spec().clone();
    let a = &spec.hosts[0];
    let target = &a.containers[0];
    let target_v4 = IpAddr::V4(target.ipv4.unwrap());
    let (stranger, stranger_addr) = stranger(&lab, &tag, false);
    for h in &spec.hosts {
        cli(&h.netns, &inv, &["apply", "--host", &h.name]);
    }
    lab.attach_containers().unwrap();
    forge(&lab, &fleet, &stranger.0, stranger_addr);
    let script = render_script(&a.netns, &inv, "a", &dir);

    for tampering in TAMPERINGS {
        sh(&a.netns, tampering);
        reset_probe(&target.netns, &target.ifname);
        attack(&stranger.0, target_v4);
        let got = received(&target.netns, &target.ifname);
        assert!(
            got >= SENT / 2,
            "after `{tampering}` the container got only {got} of {SENT} forged frames: the tampering must open the port"
        );
        // The forged frames also left a learned FDB entry towards the stranger (drift of
        // its own): the table must be named.
        let (code, out) = cli_code(&a.netns, &inv, &["status", "--host", "a"]);
        assert_eq!(code, Some(2), "status after `{tampering}`:\n{out}");
        assert!(
            out.contains("nftables table inet vxlan_mesh"),
            "status after `{tampering}`:\n{out}"
        );
        let (code, out) = script_code(&a.netns, &script, "status");
        assert_eq!(code, Some(3), "the script's status after `{tampering}`:\n{out}");
        assert!(out.contains("nftables table inet vxlan_mesh"), "{out}");

        let out = cli(&a.netns, &inv, &["apply", "--host", "a"]);
        assert!(
            out.contains("install nftables table inet vxlan_mesh"),
            "`{tampering}`: {out}"
        );
        cli(&a.netns, &inv, &["status", "--host", "a"]);
        let (code, out) = script_code(&a.netns, &script, "status");
        assert_eq!(code, Some(0), "the script's status after apply:\n{out}");
        reset_probe(&target.netns, &target.ifname);
        attack(&stranger.0, target_v4);
        assert_eq!(
            received(&target.netns, &target.ifname),
            0,
            "after `{tampering}` and apply, forged frames passed"
        );
    }
}

/// Whether container `from` reaches `to` (IPv4) with a few pings.
fn reaches(from: &vxlan_mesh_lab::Container, to: &vxlan_mesh_lab::Container) -> bool {
    Command::new("ip")
        .args(["netns", "exec", &from.netns, "ping", "-c", "3", "-i", "0.2", "-W", "1"])
        .arg(to.ipv4.unwrap().to_string())
        .output()
        .unwrap()
        .status
        .success()
}

/// Per-peer mode with ebtables loop prevention and a foreign `FORWARD` rule below our jump
/// (dropping frames from host a's container): with our chain's policy RETURN the rule
/// applies and the container reaches no one; with ACCEPT (ebtables' default for a new
/// chain) set behind the tool's back it is skipped and the container reaches b's. `status`
/// (netlink and the script) reports it, `apply` and the script's `start` set RETURN again.
#[test]
fn the_loop_chain_returns_to_forward_so_foreign_rules_below_it_apply() {
    let tag = names::unique_tag("fwe");
    let dir = Scratch::new(&tag);
    let text = inventory_text("ebtables", false, true);
    let inv = dir.join("inventory.toml");
    std::fs::write(&inv, &text).unwrap();
    let fleet = fleet_of(&text);
    let lab = lab_tagged(&fleet, 1, &tag);
    let spec = lab.spec().clone();
    let (a, b) = (&spec.hosts[0], &spec.hosts[1]);
    for h in &spec.hosts {
        cli(&h.netns, &inv, &["apply", "--host", &h.name]);
    }
    lab.attach_containers().unwrap();
    let (from, to) = (&a.containers[0], &b.containers[0]);
    assert!(reaches(from, to), "before the foreign rule");

    let mac = sh(&from.netns, &format!("cat /sys/class/net/{}/address", from.ifname));
    sh(
        &a.netns,
        &format!("ebtables -t filter -A FORWARD -s {} -j DROP", mac.trim()),
    );
    let forward = sh(&a.netns, "ebtables -t filter -L FORWARD");
    assert!(
        forward.contains("-j VXLAN-MESH\n-s "),
        "our jump first, the foreign rule below:\n{forward}"
    );
    assert!(
        !reaches(from, to),
        "the foreign rule below our jump must apply:\n{forward}"
    );
    cli(&a.netns, &inv, &["status", "--host", "a"]);
    let script = render_script(&a.netns, &inv, "a", &dir);
    let (code, out) = script_code(&a.netns, &script, "status");
    assert_eq!(code, Some(0), "the script's status:\n{out}");

    for repair in ["apply", "start"] {
        sh(&a.netns, "ebtables -t filter -P VXLAN-MESH ACCEPT");
        assert!(reaches(from, to), "with policy ACCEPT the foreign rule is skipped");
        let (code, out) = cli_code(&a.netns, &inv, &["status", "--host", "a"]);
        assert_eq!(code, Some(2), "status with policy ACCEPT:\n{out}");
        let (code, out) = script_code(&a.netns, &script, "status");
        assert_eq!(code, Some(3), "the script's status with policy ACCEPT:\n{out}");
        assert!(out.contains("has policy ACCEPT, not RETURN"), "{out}");
        if repair == "apply" {
            let out = cli(&a.netns, &inv, &["apply", "--host", "a"]);
            assert!(out.contains("refill ebtables chain VXLAN-MESH"), "{out}");
        } else {
            let (code, out) = script_code(&a.netns, &script, "start");
            assert_eq!(code, Some(0), "{out}");
        }
        cli(&a.netns, &inv, &["status", "--host", "a"]);
        let (code, out) = script_code(&a.netns, &script, "status");
        assert_eq!(code, Some(0), "the script's status after {repair}:\n{out}");
        assert!(!reaches(from, to), "after {repair} the foreign rule applies again");
    }
}

/// A table `inet vxlan_mesh` that is not vxlan-mesh's (no set `peers`, no chain `input`):
/// `apply`, the script's `start` and `status`, and its `firewall-start` (what
/// vxlan-mesh-firewall.service runs) refuse it with a message naming it and leave it as it
/// was; `stop` and `firewall-stop` leave it too.
#[test]
fn every_form_refuses_a_foreign_table_of_our_name_and_leaves_it() {
    let tag = names::unique_tag("fwf");
    let dir = Scratch::new(&tag);
    let inv = dir.join("inventory.toml");
    std::fs::write(&inv, inventory_text("flood", false, true)).unwrap();
    let ns = Netns::named(&format!("{}f", names::tag_prefix(&tag)));
    sh(&ns.0, "ip link set lo up\nip addr add 192.0.2.1/24 dev lo");
    sh_in(
        &ns.0,
        "nft -f -",
        "table inet vxlan_mesh {\n chain filter_in {\n  type filter hook input priority 0; policy accept;\n  tcp dport 22 accept\n }\n}\n",
    );
    let before = sh(&ns.0, "nft -s list table inet vxlan_mesh");
    let script = render_script(&ns.0, &inv, "a", &dir);

    let (code, out) = cli_code(&ns.0, &inv, &["apply", "--host", "a"]);
    assert_ne!(code, Some(0), "apply must refuse:\n{out}");
    assert!(out.contains("refusing to replace it"), "{out}");
    for verb in ["start", "status", "firewall-start"] {
        let (code, out) = script_code(&ns.0, &script, verb);
        assert_eq!(code, Some(1), "the script's {verb} must refuse:\n{out}");
        assert!(
            out.contains("nftables table inet vxlan_mesh exists but was not created by vxlan-mesh"),
            "{verb}: {out}"
        );
        assert_eq!(sh(&ns.0, "nft -s list table inet vxlan_mesh"), before, "after {verb}");
    }
    for verb in ["stop", "firewall-stop"] {
        let (code, out) = script_code(&ns.0, &script, verb);
        assert_eq!(code, Some(0), "{verb}: {out}");
        assert_eq!(sh(&ns.0, "nft -s list table inet vxlan_mesh"), before, "after {verb}");
    }
    // Without the foreign table, the same script loads ours.
    sh(&ns.0, "nft delete table inet vxlan_mesh");
    let (code, out) = script_code(&ns.0, &script, "firewall-start");
    assert_eq!(code, Some(0), "{out}");
    let ours = sh(&ns.0, "nft list chain inet vxlan_mesh input");
    assert!(ours.contains("ip saddr @peers udp dport 4789 accept"), "{ours}");
}
