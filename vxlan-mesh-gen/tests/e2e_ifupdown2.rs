//! End to end, the ifupdown2 form consumed by the real ifupdown2 (Debian 3.0) inside each
//! host namespace of a lab of 4 hosts × 3 containers: in a private mount namespace whose
//! `/etc/network/interfaces` (`source /etc/network/interfaces.d/*`), `interfaces.d` and
//! `/run` (ifupdown2's state) are the host's own directories of the test, with the shipped
//! units run as systemd would around `networking.service` (firewall and ebtables before,
//! the sync after). Then: the shipped script's `status` is converged, every container pings
//! every other, frames of exactly the overlay MTU cross with DF set (one byte more does
//! not), no storm; a second `ifup -a` prints nothing and keeps every device (same ifindex);
//! a device's MTU, isolation or flood entry changed behind the tool's back is drift for the
//! script's `status` and repaired by `ifup -a`; a host removed from the inventory leaves nothing on the others after a re-render and
//! `ifreload -a` (devices towards it, flood entries, firewall), and nothing on itself once
//! the script's `stop` ran and its file is gone (`ifreload -a` then re-creates nothing).
//!
//! Needs root, iproute2, iputils-ping, nftables, ebtables and ifupdown2; fails (does not
//! skip) without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::lab::{assert_overlay_works, exec_expect, form_lab};
use vxlan_mesh_core::{Fleet, HostPlan, Inventory};
use vxlan_mesh_gen::{render, write_files, Format, RenderError};
use vxlan_mesh_lab::systemd::Order;
use vxlan_mesh_lab::Lab;

const SCRIPT: &str = "etc/vxlan-mesh/vxlan-mesh.sh";

/// ifupdown2 warns on every run when bridge-utils is not installed; nothing depends on it.
const BRCTL_WARNING: &str = "warning: /sbin/brctl: missing";

/// The host's own `/etc/network/interfaces`, as Debian and Proxmox write it.
const INTERFACES: &str = "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n";

/// Writes the ifupdown2 form of `plan` into `root` (replacing an earlier one's files).
fn install(plan: &HostPlan, root: &Path) {
    let _ = std::fs::remove_file(root.join("etc/network/interfaces.d/vxlan-mesh"));
    write_files(root, &render(plan, Format::Ifupdown2).unwrap()).unwrap();
    std::fs::write(root.join("etc/network/interfaces"), INTERFACES).unwrap();
    std::fs::create_dir_all(root.join("run/network")).unwrap();
}

/// Runs ifupdown2's `command` (`ifup -a`, `ifreload -a`) in host `ns`, in a mount namespace
/// where `/etc/network/interfaces{,.d}` and `/run` are those of `root`; returns its output,
/// less the brctl warning, after asserting it succeeded.
fn ifupdown2(lab: &Lab, ns: &str, root: &Path, command: &str) -> String {
    let r = root.display();
    let script = format!(
        "mount --bind {r}/run /run && mount --bind {r}/etc/network/interfaces /etc/network/interfaces && \
         mount --bind {r}/etc/network/interfaces.d /etc/network/interfaces.d && {command}"
    );
    let out = exec_expect(lab, ns, &["unshare", "-m", "sh", "-c", &script], 0);
    out.lines()
        .filter(|l| !l.starts_with(BRCTL_WARNING))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `N: name` of every link of `ns`, sorted.
fn indexes(lab: &Lab, ns: &str) -> Vec<String> {
    let text = exec_expect(lab, ns, &["ip", "-o", "link"], 0);
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|n| n.trim().parse::<u32>().is_ok()))
        .map(|l| l.split(':').take(2).collect::<Vec<_>>().join(":"))
        .collect();
    v.sort();
    v
}

/// Links, nft tables and the ebtables listing of a host namespace.
fn footprint(lab: &Lab, ns: &str) -> String {
    let mut names: Vec<String> = indexes(lab, ns)
        .iter()
        .map(|l| {
            l.split(':')
                .nth(1)
                .unwrap_or("")
                .trim()
                .split('@')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    names.sort();
    let tables = exec_expect(lab, ns, &["nft", "list", "tables"], 0);
    let mut tables: Vec<&str> = tables.lines().filter(|t| *t != "table bridge filter").collect();
    tables.sort_unstable();
    let ebt = exec_expect(lab, ns, &["ebtables", "-t", "filter", "-L"], 0);
    format!("links: {names:?}\nnft: {tables:?}\nebtables: {ebt}")
}

/// `fleet`'s inventory `name` without host `gone`.
fn without(name: &str, gone: &str) -> Fleet {
    let (_, path) = common::example(name);
    let mut inv = Inventory::from_toml_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    inv.hosts.retain(|h| h.name != gone);
    inv.validate().unwrap()
}

fn ifupdown2_form(inventory: &str, base: &str) {
    let (_serial, fleet, lab, tmp) = form_lab(inventory, base);
    let hosts = lab.spec().hosts.clone();
    let mut before = Vec::new();
    for host in &hosts {
        let plan = fleet.plan(&host.name).unwrap();
        let root = tmp.0.join(&host.name);
        let ns = host.netns.as_str();
        before.push(footprint(&lab, ns));
        install(&plan, &root);
        // As systemd boots it: the units before networking.service, `ifup -a`, the sync.
        lab.run_units(ns, &root, Order::BeforeNetworkd).unwrap();
        ifupdown2(&lab, ns, &root, "ifup -a");
        // ifupdown2 alone built the host every other form builds (alias, MTU, flags,
        // isolation, flood entries): the script's status finds nothing to correct...
        let script = root.join(SCRIPT);
        exec_expect(&lab, ns, &["sh", script.to_str().unwrap(), "status"], 0);
        // ... and the sync, run after networking.service, changes nothing.
        let ifindexes = indexes(&lab, ns);
        lab.run_units(ns, &root, Order::AfterNetworkd).unwrap();
        assert_eq!(indexes(&lab, ns), ifindexes, "{ns}: the sync re-created a device");

        // A second `ifup -a` says nothing and re-creates nothing; the host stays converged.
        let ifindexes = indexes(&lab, ns);
        let again = ifupdown2(&lab, ns, &root, "ifup -a");
        assert!(again.trim().is_empty(), "{ns}: a second ifup -a said:\n{again}");
        assert_eq!(
            indexes(&lab, ns),
            ifindexes,
            "{ns}: a second ifup -a re-created a device"
        );
        exec_expect(&lab, ns, &["sh", script.to_str().unwrap(), "status"], 0);
        if plan.firewall.is_some() {
            exec_expect(&lab, ns, &["nft", "list", "table", "inet", "vxlan_mesh"], 0);
        }
    }
    assert_overlay_works(&lab, &format!("ifupdown2 form of {inventory}"));

    // Changed behind the tool's back on the first host: a device's MTU, and its isolation
    // (per-peer) or a flood entry (flood). The script's status sees it; `ifup -a` repairs it.
    let (host, plan) = (&hosts[0], fleet.plan(&hosts[0].name).unwrap());
    let (root, ns) = (tmp.0.join(&host.name), host.netns.as_str());
    let v = &plan.networks[0].vxlans[0];
    exec_expect(&lab, ns, &["ip", "link", "set", "dev", &v.name, "mtu", "1300"], 0);
    if v.port_flags.isolated {
        exec_expect(
            &lab,
            ns,
            &["bridge", "link", "set", "dev", &v.name, "isolated", "off"],
            0,
        );
    }
    if let Some(e) = plan.networks[0].fdb.iter().find(|e| e.device == v.name) {
        let (mac, dst) = (e.mac.to_string(), e.destination.to_string());
        exec_expect(
            &lab,
            ns,
            &["bridge", "fdb", "del", &mac, "dev", &v.name, "dst", &dst],
            0,
        );
    }
    let script = root.join(SCRIPT);
    exec_expect(&lab, ns, &["sh", script.to_str().unwrap(), "status"], 3);
    ifupdown2(&lab, ns, &root, "ifup -a");
    exec_expect(&lab, ns, &["sh", script.to_str().unwrap(), "status"], 0);

    // The last host leaves the fleet.
    let gone = hosts.last().unwrap();
    let smaller = without(inventory, &gone.name);
    let gone_address = fleet.plan(&gone.name).unwrap().address.to_string();
    for host in &hosts[..hosts.len() - 1] {
        let plan = smaller.plan(&host.name).unwrap();
        let root = tmp.0.join(&host.name);
        let ns = host.netns.as_str();
        install(&plan, &root);
        ifupdown2(&lab, ns, &root, "ifreload -a");
        // `systemctl reload networking` is not propagated to the sync unit: the README says
        // to restart it after a reload, as done here.
        lab.run_units(ns, &root, Order::AfterNetworkd).unwrap();
        let links = exec_expect(&lab, ns, &["ip", "-d", "link"], 0);
        let fdb = exec_expect(&lab, ns, &["bridge", "fdb"], 0);
        let nft = exec_expect(&lab, ns, &["nft", "list", "ruleset"], 0);
        for (what, text) in [("links", &links), ("fdb", &fdb), ("nft", &nft)] {
            assert!(
                !text.contains(&format!("{gone_address} ")) && !text.contains(&format!("{gone_address}\n")),
                "{ns}: {what} still refer to {} ({gone_address}):\n{text}",
                gone.name
            );
        }
        assert!(
            !links.contains(&format!(":{}", gone.name)),
            "{ns}: a device towards {} stayed:\n{links}",
            gone.name
        );
        exec_expect(&lab, ns, &["sh", root.join(SCRIPT).to_str().unwrap(), "status"], 0);
    }
    // On the host that left: the shipped script's `stop` removes every marked device, the
    // firewall and the loop prevention; then its file is deleted, and `ifreload -a` (which
    // on its own leaves the devices of a deleted file's ports) re-creates nothing.
    let root = tmp.0.join(&gone.name);
    let ns = gone.netns.as_str();
    exec_expect(&lab, ns, &["sh", root.join(SCRIPT).to_str().unwrap(), "stop"], 0);
    std::fs::remove_file(root.join("etc/network/interfaces.d/vxlan-mesh")).unwrap();
    ifupdown2(&lab, ns, &root, "ifreload -a");
    assert_eq!(&footprint(&lab, ns), before.last().unwrap(), "{ns}: something stayed");
}

#[test]
fn ifupdown2_flood() {
    ifupdown2_form("classic-geo", "gif");
}

#[test]
fn ifupdown2_per_peer_isolation() {
    ifupdown2_form("hetzner", "gip");
}

#[test]
fn ifupdown2_per_peer_ebtables() {
    ifupdown2_form("per-peer-ebtables", "gie2");
}

/// ifupdown2 3.0 refuses IPv6 VTEPs; so does the form, with a typed error naming the host.
#[test]
fn an_ipv6_fleet_is_refused_with_a_typed_error() {
    let (fleet, _) = common::example("ipv6-flood");
    let plan = fleet.plans().remove(0);
    assert!(!Format::of_plan(&plan).any(|f| f == Format::Ifupdown2));
    match render(&plan, Format::Ifupdown2) {
        Err(e @ RenderError::Ifupdown2 { .. }) => {
            assert!(e.to_string().contains("IPv6"), "{e}");
            assert!(e.to_string().contains(&format!("`{}`", plan.host)), "{e}");
        }
        other => panic!("expected the IPv6 refusal, got {other:?}"),
    }
}

/// evpn and WireGuard fleets are refused too (documented in the README).
#[test]
fn evpn_and_wireguard_fleets_are_refused() {
    for (name, limit) in [
        ("evpn-four", vxlan_mesh_gen::Ifupdown2Limit::Evpn),
        ("encrypted-per-peer", vxlan_mesh_gen::Ifupdown2Limit::Wireguard),
    ] {
        let (fleet, _) = common::example(name);
        let plan = fleet.plans().remove(0);
        match render(&plan, Format::Ifupdown2) {
            Err(RenderError::Ifupdown2 { limit: got, .. }) => assert_eq!(got, limit, "{name}"),
            other => panic!("{name}: expected a refusal, got {other:?}"),
        }
    }
}

/// `#` starts a comment only at the start of a line, where no value is written: an inventory
/// named with one still renders (its name is in every header).
#[test]
fn an_inventory_path_with_a_hash_renders() {
    let (fleet, _) = common::example("hetzner");
    let opts = vxlan_mesh_gen::Options::new("fleets/#1.toml");
    let files = vxlan_mesh_gen::render_with(&fleet.plan("lxd1").unwrap(), Format::Ifupdown2, &opts).unwrap();
    assert!(
        files[0].contents.contains("inventory fleets/#1.toml"),
        "{}",
        files[0].contents
    );
}
