//! End-to-end proof of the peer-only firewall, in network namespaces: a non-peer machine on
//! the underlay sends VXLAN frames with the right VNI towards a host's container. Without
//! the firewall the container receives them (so this test can fail); with the plan's
//! firewall loaded it receives none, the host's drop counter shows they arrived and were
//! dropped, and the peers' containers still reach each other.
//!
//! The hosts are deployed from their plans with `ip`/`bridge` and `nft -f` of
//! [`nft_script`], as the rendered shell script does; the attacker is a plain vxlan device
//! with the target's VNI. Needs root, iproute2, iputils-ping and nftables; fails without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use vxlan_mesh_core::firewall::nft_script;
use vxlan_mesh_core::{Family, HostPlan, Inventory};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The attacker's MAC: the container counts frames from it.
const ATTACKER_MAC: &str = "02:00:00:00:66:66";

/// Runs `sh -c script` in namespace `ns` (or the test's own one for `None`) with `stdin`;
/// panics with the output on failure.
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

/// Namespaces of one test, all deleted on drop (also when the test fails).
struct Lab {
    prefix: String,
    made: Vec<String>,
}

impl Lab {
    fn new() -> Lab {
        let prefix = format!("vxfw{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        Lab {
            prefix,
            made: Vec::new(),
        }
    }

    fn ns(&mut self, role: &str) -> String {
        let name = format!("{}-{role}", self.prefix);
        let out = Command::new("ip").args(["netns", "add", &name]).output().unwrap();
        assert!(
            out.status.success(),
            "`ip netns add {name}` failed (needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.made.push(name.clone());
        sh(&name, "ip link set lo up");
        name
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in &self.made {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn prefix_len(addr: &IpAddr) -> u8 {
    if addr.is_ipv4() {
        24
    } else {
        64
    }
}

/// Deploys a host's plan in its namespace as the rendered shell script does: bridges with
/// the plan's MTU, VXLAN devices with VNI/local/remote/port, port isolation, flood entries,
/// and the firewall from the one nft script.
fn deploy(ns: &str, plan: &HostPlan) {
    let mut s = String::new();
    for n in &plan.networks {
        let b = &n.bridge;
        s += &format!(
            "ip link add {} type bridge\nip link set {} mtu {} up\n",
            b.name, b.name, b.mtu
        );
        for v in &n.vxlans {
            let remote = v.remote.map(|r| format!(" remote {r}")).unwrap_or_default();
            let learning = if v.learning { "" } else { " nolearning" };
            s += &format!(
                "ip link add {} type vxlan id {} local {}{remote} dstport {}{learning} udpcsum\n",
                v.name, v.vni, v.local, v.port
            );
            s += &format!("ip link set {} master {} mtu {} up\n", v.name, b.name, v.mtu);
            if v.isolated {
                s += &format!("bridge link set dev {} isolated on\n", v.name);
            }
        }
        for e in &n.fdb {
            s += &format!("bridge fdb append {} dev {} dst {}\n", e.mac, e.device, e.destination);
        }
    }
    sh(ns, &s);
    if let Some(fw) = &plan.firewall {
        sh_in(ns, "nft -f -", &nft_script(fw));
    }
}

fn inventory(mode: &str, family: Family, firewall: bool) -> Inventory {
    let (a, b) = match family {
        Family::V4 => ("192.0.2.1", "192.0.2.2"),
        Family::V6 => ("2001:db8::1", "2001:db8::2"),
    };
    let text = format!(
        "mode = \"{mode}\"\nfirewall = {firewall}\n\
         [[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n\
         [[hosts]]\nname = \"a\"\naddress = \"{a}\"\n[[hosts]]\nname = \"b\"\naddress = \"{b}\"\n"
    );
    Inventory::from_toml_str(&text).unwrap()
}

/// Frames from the attacker's MAC that reached the container's interface, counted at its
/// ingress hook (before anything in the container could drop them).
fn received(container: &str) -> u64 {
    let out = sh(container, "nft list chain netdev probe in");
    let n = out
        .split("counter packets ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    n.unwrap_or_else(|| panic!("no counter in:\n{out}"))
}

fn reset_probe(container: &str) {
    sh_in(
        container,
        "nft -f -",
        &format!(
            "table netdev probe {{}}\ndelete table netdev probe\n\
             table netdev probe {{\n chain in {{\n  type filter hook ingress device eth0 priority -500;\n  ether saddr {ATTACKER_MAC} counter\n }}\n}}\n"
        ),
    );
}

/// Packets the host's firewall dropped (its `udp dport … counter drop` rule).
fn dropped(host: &str) -> u64 {
    let out = sh(host, "nft list chain inet vxlan_mesh input");
    let line = out.lines().find(|l| l.contains("drop")).unwrap_or_default();
    let n = line
        .split("packets ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    n.unwrap_or_else(|| panic!("no drop counter in:\n{out}"))
}

/// Sends `count` pings from the attacker's overlay address to the container: each is one
/// VXLAN frame on the underlay (the neighbour entry is static, so no ARP is needed).
fn attack(attacker: &str, target: &str, count: u64) {
    // The pings get no answer when the firewall works: their exit status is not the test.
    sh(
        attacker,
        &format!("ping -c {count} -i 0.2 -W 1 {target} >/dev/null 2>&1 || true"),
    );
}

/// Frames the attacker sends per phase. The machine's other tests share its per-CPU packet
/// backlog, so a few may be lost to their bursts: half must arrive (and, with the firewall,
/// be dropped) for the phase to count.
const SENT: u64 = 20;

/// Whether `from` reaches `to` over the overlay: some replies within a few tries.
fn reach(from: &str, to: &str) {
    sh(
        from,
        &format!(
            "for i in 1 2 3 4 5; do ping -c 3 -i 0.2 -W 2 {to} >/dev/null 2>&1 && exit 0; sleep 0.5; done; exit 1"
        ),
    );
}

fn peer_only_firewall(mode: &str, family: Family) {
    let addr = |n: u8| -> IpAddr {
        match family {
            Family::V4 => format!("192.0.2.{n}").parse().unwrap(),
            Family::V6 => format!("2001:db8::{n:x}").parse().unwrap(),
        }
    };
    let attacker_addr = addr(0x66);
    let mut lab = Lab::new();
    let sw = lab.ns("sw");
    sh(&sw, "ip link add sw0 type bridge\nip link set sw0 up");

    // Underlay: hosts a and b from the inventory, and a stranger on the same switch.
    let open = inventory(mode, family, false).validate().unwrap();
    let closed = inventory(mode, family, true).validate().unwrap();
    let mut hosts = Vec::new();
    for (role, ip) in [
        ("a", open.hosts[0].address),
        ("b", open.hosts[1].address),
        ("x", attacker_addr),
    ] {
        let ns = lab.ns(role);
        sh(
            &sw,
            &format!("ip link add p-{role} type veth peer name ul0 netns {ns}\nip link set p-{role} master sw0 up"),
        );
        sh(
            &ns,
            &format!("ip addr add {ip}/{} dev ul0 nodad\nip link set ul0 up", prefix_len(&ip)),
        );
        hosts.push(ns);
    }
    let (ha, hb, attacker) = (hosts[0].clone(), hosts[1].clone(), hosts[2].clone());
    // The stranger and the peer reach host a on the underlay (this also resolves the
    // underlay neighbours, whose first packets a fresh vxlan device would otherwise lose).
    for from in [&attacker, &hb] {
        sh(
            from,
            &format!(
                "for i in $(seq 20); do ping -c 1 -W 1 {} >/dev/null && exit 0; sleep 0.5; done; exit 1",
                open.hosts[0].address
            ),
        );
    }

    // One container per host on the network's bridge.
    let mtu = open.plan("a").unwrap().networks[0].mtu;
    let mut containers = Vec::new();
    for (i, host) in [&ha, &hb].into_iter().enumerate() {
        let c = lab.ns(&format!("c{i}"));
        sh(
            host,
            &format!("ip link add ct{i} mtu {mtu} type veth peer name eth0 netns {c}"),
        );
        sh(
            &c,
            &format!(
                "ip link set eth0 mtu {mtu} up\nip addr add 198.51.100.{}/24 dev eth0",
                i + 1
            ),
        );
        containers.push(c);
    }
    let (ca, cb) = (containers[0].clone(), containers[1].clone());
    let ca_mac = sh(&ca, "cat /sys/class/net/eth0/address").trim().to_string();

    // The hosts as the inventory without firewall plans them.
    deploy(&ha, &open.plan("a").unwrap());
    deploy(&hb, &open.plan("b").unwrap());
    sh(&ha, "ip link set ct0 master vxbr0 up");
    sh(&hb, "ip link set ct1 master vxbr0 up");

    // The stranger: a vxlan device with a's VNI (per-peer: the a–b link's), aimed at a.
    let vni = open.plan("a").unwrap().networks[0].vxlans[0].vni;
    sh(
        &attacker,
        &format!(
            "ip link add vxatk address {ATTACKER_MAC} type vxlan id {vni} local {attacker_addr} remote {} dstport 4789\n\
             sysctl -qw net.ipv6.conf.vxatk.disable_ipv6=1\n\
             ip link set vxatk mtu {mtu} up\nip addr add 198.51.100.66/24 dev vxatk\n\
             ip neigh replace 198.51.100.1 lladdr {ca_mac} dev vxatk nud permanent",
            open.hosts[0].address
        ),
    );

    // Without the firewall the injected frames reach the container.
    reset_probe(&ca);
    attack(&attacker, "198.51.100.1", SENT);
    let got = received(&ca);
    assert!(
        got >= SENT / 2,
        "{mode} {family:?}: without the firewall the container got {got} of {SENT} injected frames"
    );
    reach(&cb, "198.51.100.1");

    // Apply the plans with the firewall (the same plans otherwise: only the table is new).
    for (ns, host) in [(&ha, "a"), (&hb, "b")] {
        let plan = closed.plan(host).unwrap();
        let fw = plan.firewall.as_ref().unwrap();
        sh_in(ns, "nft -f -", &nft_script(fw));
    }
    reset_probe(&ca);
    attack(&attacker, "198.51.100.1", SENT);
    assert_eq!(
        received(&ca),
        0,
        "{mode} {family:?}: injected frames passed the firewall"
    );
    let drops = dropped(&ha);
    assert!(
        drops >= SENT / 2,
        "{mode} {family:?}: the firewall dropped only {drops} of {SENT} frames"
    );

    // Peers still reach each other, both ways.
    reach(&cb, "198.51.100.1");
    reach(&ca, "198.51.100.2");
    assert_eq!(dropped(&ha), drops, "a peer's traffic hit the drop rule");
}

#[test]
fn flood_mode_ipv4_underlay() {
    peer_only_firewall("flood", Family::V4);
}

#[test]
fn flood_mode_ipv6_underlay() {
    peer_only_firewall("flood", Family::V6);
}

#[test]
fn per_peer_mode_ipv4_underlay() {
    peer_only_firewall("per-peer", Family::V4);
}

#[test]
fn per_peer_mode_ipv6_underlay() {
    peer_only_firewall("per-peer", Family::V6);
}
