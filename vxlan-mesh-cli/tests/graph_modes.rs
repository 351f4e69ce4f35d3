//! `graph` draws what the mode means: in mode evpn the BGP sessions to the route reflectors
//! (and the reflectors marked), with WireGuard the encrypted tunnels. Snapshots of both graph
//! languages, and Graphviz's `dot -Tsvg` accepting the DOT.
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
