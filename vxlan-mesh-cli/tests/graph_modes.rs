//! `graph` draws what the mode means: in mode evpn the BGP sessions to the route reflectors
//! (and the reflectors marked), with WireGuard the encrypted tunnels. Snapshots of both graph
//! languages, and Graphviz's `dot -Tsvg` accepting the DOT. Large fleets: an encrypted one's tunnels
//! drawn as one star per network, an evpn one's sessions all drawn (from the membership lists,
//! in linear time).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::{vxm, Assert as _, Scratch};

/// Three encrypted hosts in flood mode (public keys of key pairs made for this test with
/// `wg genkey | wg pubkey`).
fn wireguard_inventory() -> String {
    let keys = [
        "PTxMJzJm6i9Wq4fl6pfSfwn5BV1XZXYzODLSauYuKjs=",
        "aaDlFwFYWqM/2pYElqToS8h1zVFpsxZhGUYBcyVkLHs=",
        "4rOBWMqcfZtqpKhL//2srGDKEVzfOLeYUAwtlf2NTWc=",
    ];
    common::encrypted_inventory(&keys, "flood", false)
}

fn graph(inventory: &str, format: &str) -> String {
    vxm()
        .args(["-i", inventory, "graph", "--format", format])
        .assert()
        .success()
        .stdout()
}

fn svg(dot: &str) -> String {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("graphviz `dot` is needed");
    child.stdin.as_mut().unwrap().write_all(dot.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn evpn_graph_shows_bgp_sessions_and_route_reflectors() {
    let mermaid = graph("examples/evpn.toml", "mermaid");
    let dot = graph("examples/evpn.toml", "dot");
    insta::assert_snapshot!("graph-evpn-mermaid", mermaid);
    insta::assert_snapshot!("graph-evpn-dot", dot);
    // examples/evpn.toml: two reflectors (rr-fra, rr-ams) and three clients, each client
    // with a session to both reflectors, and the reflectors with one between them.
    assert_eq!(mermaid.matches("iBGP EVPN session").count(), 3 * 2 + 1);
    assert_eq!(mermaid.matches("BGP route reflector").count(), 2);
    let picture = svg(&dot);
    assert_eq!(picture.matches("iBGP EVPN session").count(), 7);
    assert_eq!(picture.matches("BGP route reflector").count(), 2);
}

#[test]
fn wireguard_graph_marks_the_tunnels_encrypted() {
    let dir = Scratch::new("graph-wg");
    let inventory = dir.write("wg.toml", &wireguard_inventory());
    let inventory = inventory.to_str().unwrap();
    let mermaid = graph(inventory, "mermaid");
    let dot = graph(inventory, "dot");
    insta::assert_snapshot!("graph-wireguard-mermaid", mermaid);
    insta::assert_snapshot!("graph-wireguard-dot", dot);
    // Three hosts: three tunnels, each once.
    assert_eq!(mermaid.matches("WireGuard, encrypted").count(), 3);
    assert_eq!(svg(&dot).matches("WireGuard, encrypted").count(), 3);
    // A clear fleet has neither.
    let clear = graph("examples/hetzner.toml", "dot");
    assert!(!clear.contains("WireGuard") && !clear.contains("BGP"), "{clear}");
}

/// `hosts` hosts on one network in `head`'s mode (documentation addresses); `extra(i)` goes
/// into host i's table.
fn large(dir: &Scratch, head: &str, hosts: usize, extra: impl Fn(usize) -> String) -> String {
    let mut text = format!("{head}\n[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n");
    for i in 1..=hosts {
        text += &format!(
            "[[hosts]]\nname = \"h{i}\"\naddress = \"2001:db8::{i:x}\"\n{}",
            extra(i)
        );
    }
    dir.write("large.toml", &text).to_str().unwrap().to_string()
}

/// A distinct public key per host: its number in the first two bytes.
fn key(i: usize) -> String {
    let mut bytes = [7u8; 32];
    bytes[..2].copy_from_slice(&(i as u16).to_be_bytes());
    format!("public-key = \"{}\"\n", vxlan_mesh_core::PublicKey(bytes))
}

#[test]
fn a_large_encrypted_fleet_draws_its_tunnels_as_one_star_per_network() {
    let dir = Scratch::new("graph-wg-large");
    // 101 hosts: one above the size drawn pair by pair.
    for (mode, links) in [("flood", 0), ("per-peer", 101 * 100 / 2)] {
        let inventory = large(
            &dir,
            &format!("mode = \"{mode}\"\nencryption = \"wireguard\""),
            101,
            key,
        );
        let mermaid = graph(&inventory, "mermaid");
        let dot = graph(&inventory, "dot");
        // No tunnel pair by pair: one thick edge per membership instead.
        assert!(!mermaid.contains("WireGuard, encrypted"), "{mermaid}");
        assert_eq!(mermaid.matches(" <==> n0\n").count(), 101, "{mermaid}");
        assert_eq!(dot.matches(" -- n0 [style=bold, color=darkgreen];\n").count(), 101);
        let title = if mode == "flood" {
            "its members all flood to each other, through a WireGuard tunnel between every two"
        } else {
            "WireGuard tunnels drawn as a star per network: every two members have one"
        };
        assert!(mermaid.contains(title), "{mermaid}");
        // Per-peer links keep their own VNI each.
        assert_eq!(mermaid.matches("|\"VNI ").count(), links, "{mode}");
    }
    // 100 hosts: every tunnel drawn.
    let inventory = large(&dir, "encryption = \"wireguard\"", 100, key);
    assert_eq!(
        graph(&inventory, "mermaid").matches("WireGuard, encrypted").count(),
        100 * 99 / 2
    );
}

#[test]
fn a_large_evpn_fleet_draws_every_session_to_its_reflectors() {
    let dir = Scratch::new("graph-evpn-large");
    let head = "mode = \"evpn\"\n[evpn]\nunderlay-prefix = \"2001:db8::/48\"";
    let reflector = |i: usize| {
        if i <= 2 {
            "route-reflector = true\n".to_string()
        } else {
            String::new()
        }
    };
    let inventory = large(&dir, head, 3000, reflector);
    let dot = graph(&inventory, "dot");
    // 2,998 clients with a session to each of two reflectors, and one between these.
    assert_eq!(dot.matches("iBGP EVPN session").count(), 2998 * 2 + 1);
    assert_eq!(dot.matches("dir=both").count(), 1);
    assert_eq!(dot.matches("BGP route reflector").count(), 2);
    assert!(dot.contains("    h2999 -- h1 [style=dashed, dir=forward"), "{dot}");
}
