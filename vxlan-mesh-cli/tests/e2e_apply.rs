//! End to end: the classic topology (4 hosts behind an underlay switch, 3 containers per
//! host) built with the `vxlan-mesh-lab` fixture, every host deployed with
//! `vxlan-mesh apply` run inside its namespace (the host found by its local underlay
//! address). Root, iproute2, iputils-ping, nftables and ebtables needed; fails loudly
//! without.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use vxlan_mesh_lab::Lab;

use common::lab::{assert_full, lab_cli as cli, lab_for};
use common::{text as show, Scratch};

/// `mode`: `flood`, `isolation` or `ebtables`; `v6`: IPv6 underlay. Hosts `lxd1`… at
/// `192.0.2.N` (`2001:db8::N`).
fn inventory_text(mode: &str, v6: bool, hosts: usize, mtu: Option<u32>) -> String {
    common::inventory_named("lxd", "192.0.2", mode, v6, hosts, mtu)
}

/// Applies on every host of the lab whose name is in `hosts` (all when empty); returns the
/// printed changes per host.
fn apply_all(lab: &Lab, inventory: &Path, hosts: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for h in &lab.spec().hosts {
        if !hosts.is_empty() && !hosts.contains(&h.name.as_str()) {
            continue;
        }
        let o = cli(lab, &h.netns, inventory, &["apply"]);
        assert_eq!(o.status.code(), Some(0), "apply on {}: {}", h.name, show(&o));
        out.push(String::from_utf8_lossy(&o.stdout).into_owned());
    }
    out
}

/// The ops `status --format json` reports for a host, sorted.
fn pending_ops(lab: &Lab, netns: &str, inventory: &Path) -> Vec<String> {
    let mut ops: Vec<String> = pending(lab, netns, inventory)
        .iter()
        .map(|c| c["op"].as_str().unwrap().to_string())
        .collect();
    ops.sort();
    ops
}

/// The changes `status --format json` lists, as JSON.
fn pending(lab: &Lab, netns: &str, inventory: &Path) -> Vec<serde_json::Value> {
    let o = cli(lab, netns, inventory, &["status", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", show(&o)));
    json["changes"].as_array().unwrap().clone()
}

fn links(lab: &Lab, netns: &str) -> String {
    lab.exec_ok(netns, &["ip", "-o", "link", "show"]).unwrap()
}

/// (index, name) of the bridge and VXLAN devices of a host.
fn owned_indexes(lab: &Lab, netns: &str) -> std::collections::BTreeSet<(u32, String)> {
    links(lab, netns)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(": ");
            let index = parts.next()?.trim().parse().ok()?;
            let name = parts.next()?.split('@').next()?.to_string();
            (name.starts_with("vxm") || name == "vxbr0").then_some((index, name))
        })
        .collect()
}

fn classic_topology(mode: &str, v6: bool) {
    let tag = format!("e{}{}", &mode[..2], if v6 { 6 } else { 4 });
    let text = inventory_text(mode, v6, 4, None);
    let lab = lab_for(&text, 3, &tag);
    let dir = Scratch::new(&lab.spec().tag);
    let inv = dir.write("inventory.toml", &text);

    apply_all(&lab, &inv, &[]);
    lab.attach_containers().unwrap();

    let matrix = lab.ping_matrix().unwrap();
    assert_eq!(matrix.pairs(), 132, "{}", matrix.render_text());
    assert!(matrix.is_full(), "{}", matrix.render_text());

    // Full-size frames cross between hosts; one byte more does not.
    let (a, b) = (&lab.spec().hosts[0].containers[0], &lab.spec().hosts[3].containers[2]);
    let probe = lab.max_frame_probe(a, b, a.mtu).unwrap();
    assert!(probe.ok(), "{probe:?}");

    // No loop: after broadcasts the underlay is quiet.
    let check = lab.loop_check(Duration::from_secs(2)).unwrap();
    assert!(!check.storm, "{check:?}");

    // Idempotence: nothing to do, nothing recreated.
    let before: Vec<_> = lab.spec().hosts.iter().map(|h| owned_indexes(&lab, &h.netns)).collect();
    for printed in apply_all(&lab, &inv, &[]) {
        assert!(printed.trim().ends_with(": no changes"), "{printed}");
    }
    for (h, was) in lab.spec().hosts.iter().zip(&before) {
        assert!(!was.is_empty());
        assert_eq!(
            &owned_indexes(&lab, &h.netns),
            was,
            "{}: same devices, same indexes",
            h.name
        );
        let o = cli(&lab, &h.netns, &inv, &["status"]);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    }

    // Teardown leaves the lab's own devices (underlay, container veths) alone.
    for h in &lab.spec().hosts {
        let o = cli(&lab, &h.netns, &inv, &["down"]);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        assert!(owned_indexes(&lab, &h.netns).is_empty(), "{}", links(&lab, &h.netns));
        let l = links(&lab, &h.netns);
        assert!(l.contains(&format!(": {}@", h.device)), "{l}");
        assert_eq!(l.matches(": lab").count(), 3, "container veths stay: {l}");
    }
}

#[test]
fn flood_ipv4_every_container_reaches_every_other() {
    classic_topology("flood", false);
}

#[test]
fn flood_ipv6_underlay_every_container_reaches_every_other() {
    classic_topology("flood", true);
}

#[test]
fn per_peer_isolation_ipv4_every_container_reaches_every_other() {
    classic_topology("isolation", false);
}

#[test]
fn per_peer_isolation_ipv6_underlay_every_container_reaches_every_other() {
    classic_topology("isolation", true);
}

#[test]
fn per_peer_ebtables_ipv4_every_container_reaches_every_other() {
    classic_topology("ebtables", false);
}

#[test]
fn per_peer_ebtables_ipv6_underlay_every_container_reaches_every_other() {
    classic_topology("ebtables", true);
}

/// Add a host, change the MTU, remove a host: each re-apply makes only the changes the
/// edit implies, and the mesh works after each.
fn inventory_edits(mode: &str) {
    let four = inventory_text(mode, false, 4, None);
    let lab = lab_for(&four, 3, &format!("ed{}", &mode[..2]));
    let dir = Scratch::new(&lab.spec().tag);
    let inv = dir.write("inventory.toml", &inventory_text(mode, false, 3, None));
    let first3 = ["lxd1", "lxd2", "lxd3"];
    let (add_op, del_op) = if mode == "flood" {
        ("add-fdb", "delete-fdb")
    } else {
        ("create-vxlan", "delete-vxlan")
    };
    apply_all(&lab, &inv, &first3);

    // Add lxd4: old hosts gain one tunnel (or flood entry) and one firewall peer.
    std::fs::write(&inv, &four).unwrap();
    for h in &lab.spec().hosts[..3] {
        assert_eq!(
            pending_ops(&lab, &h.netns, &inv),
            [add_op, "install-firewall"],
            "{}",
            h.name
        );
    }
    let before: Vec<_> = lab.spec().hosts[..3]
        .iter()
        .map(|h| owned_indexes(&lab, &h.netns))
        .collect();
    apply_all(&lab, &inv, &[]);
    for (h, was) in lab.spec().hosts[..3].iter().zip(&before) {
        let now = owned_indexes(&lab, &h.netns);
        assert!(was.is_subset(&now), "{}: nothing recreated: {was:?} vs {now:?}", h.name);
    }
    lab.attach_containers().unwrap();
    let matrix = lab.ping_matrix().unwrap();
    assert!(matrix.is_full(), "{}", matrix.render_text());

    // Smaller MTU: changed in place on the bridge and every device.
    std::fs::write(&inv, inventory_text(mode, false, 4, Some(1400))).unwrap();
    let devices = if mode == "flood" { 1 } else { 3 };
    let mut want = vec!["update-bridge".to_string()];
    want.extend(std::iter::repeat_n("update-vxlan".to_string(), devices));
    for h in &lab.spec().hosts {
        assert_eq!(pending_ops(&lab, &h.netns, &inv), want, "{}", h.name);
    }
    apply_all(&lab, &inv, &[]);
    let (a, b) = (&lab.spec().hosts[0].containers[0], &lab.spec().hosts[2].containers[1]);
    let probe = lab.max_frame_probe(a, b, 1400).unwrap();
    assert!(probe.fits, "{probe:?}");

    // Remove lxd4: the others drop its tunnel and firewall entry (in flood mode also the
    // entries their device learned towards it, one per MAC seen behind lxd4, for the ping
    // matrix ran); lxd4 tears down.
    std::fs::write(&inv, inventory_text(mode, false, 3, Some(1400))).unwrap();
    let gone = lab.spec().hosts[3].address.to_string();
    for h in &lab.spec().hosts[..3] {
        let changes = pending(&lab, &h.netns, &inv);
        let (fdb, rest): (Vec<_>, Vec<_>) = changes.iter().partition(|c| c["op"] == "delete-fdb");
        let mut rest: Vec<&str> = rest.iter().map(|c| c["op"].as_str().unwrap()).collect();
        rest.sort_unstable();
        if mode == "flood" {
            assert_eq!(rest, ["install-firewall"], "{}", h.name);
            assert!(fdb.len() > 1, "{}: the flood entry and learned ones: {fdb:?}", h.name);
            for c in &fdb {
                assert_eq!(c["entry"]["destination"], gone.as_str(), "{}: {c}", h.name);
            }
        } else {
            assert!(fdb.is_empty(), "{}: {fdb:?}", h.name);
            assert_eq!(rest, [del_op, "install-firewall"], "{}", h.name);
        }
    }
    apply_all(&lab, &inv, &first3);
    let o = cli(&lab, &lab.spec().hosts[3].netns, &inv, &["down"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let matrix = lab.ping_matrix().unwrap();
    for cell in &matrix.cells {
        if cell.from != "lxd4" && cell.to != "lxd4" {
            assert_eq!(cell.failed, 0, "{}", matrix.render_text());
        }
    }
    for h in &lab.spec().hosts[..3] {
        assert!(pending_ops(&lab, &h.netns, &inv).is_empty());
    }
}

#[test]
fn flood_inventory_edits_converge_with_minimal_changes() {
    inventory_edits("flood");
}

#[test]
fn per_peer_inventory_edits_converge_with_minimal_changes() {
    inventory_edits("isolation");
}

/// Issue 11 item 1: a foreign `ACCEPT` put at the top of `FORWARD` (as other tools do) must
/// not bypass ebtables loop prevention: `status` calls it drift, `apply` puts our jump first
/// again (leaving the foreign rule below it), and a broadcast then does not storm.
#[test]
fn per_peer_ebtables_jump_is_put_back_first_after_a_foreign_accept() {
    let text = inventory_text("ebtables", false, 3, None);
    let lab = lab_for(&text, 3, "ejmp");
    let dir = Scratch::new(&lab.spec().tag);
    let inv = dir.write("inventory.toml", &text);
    apply_all(&lab, &inv, &[]);
    lab.attach_containers().unwrap();
    let host = lab.spec().hosts[0].clone();
    let forward = || -> Vec<String> {
        let listing = lab
            .exec_ok(&host.netns, &["ebtables", "-t", "filter", "-L", "FORWARD"])
            .unwrap();
        listing
            .lines()
            .filter(|l| l.starts_with('-'))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(forward(), ["-j VXLAN-MESH"]);

    lab.exec_ok(
        &host.netns,
        &["ebtables", "-t", "filter", "-I", "FORWARD", "1", "-j", "ACCEPT"],
    )
    .unwrap();
    let status = cli(&lab, &host.netns, &inv, &["status"]);
    assert_eq!(status.status.code(), Some(2), "{}", show(&status));
    assert_eq!(pending_ops(&lab, &host.netns, &inv), ["place-loop-jump"]);

    apply_all(&lab, &inv, &[host.name.as_str()]);
    assert_eq!(forward(), ["-j VXLAN-MESH", "-j ACCEPT"]);
    assert!(pending_ops(&lab, &host.netns, &inv).is_empty());
    let check = lab.loop_check(Duration::from_secs(2)).unwrap();
    assert!(!check.storm, "{check:?}");
    assert_full(&lab);
}
