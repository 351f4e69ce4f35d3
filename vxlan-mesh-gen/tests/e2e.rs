//! End to end, each rendered form consumed by its real program inside a namespace lab of
//! 4 hosts × 3 containers (crate `vxlan-mesh-lab`): then every container pings every other,
//! frames of exactly the overlay MTU cross with DF set (one byte more does not), and
//! per-peer fleets do not storm.
//!
//! - shell: the script run in each host namespace: `start`, `start` again, `status`, and
//!   after the probes `stop`, which must leave nothing behind;
//! - networkd: the real systemd-networkd (v252) inside each host namespace, in a private
//!   mount namespace with a read-only sysfs and the files in /run/systemd/network, with the
//!   shipped units run as systemd would around it (firewall and ebtables before, the sync
//!   after), and the shipped script's `status` converged afterwards;
//! - netplan: the real `netplan generate --root-dir` on the YAML, then networkd on its output
//!   plus our drop-ins.
//!
//! Needs root, iproute2, iputils-ping, nftables, ebtables, shellcheck, netplan.io and systemd;
//! fails (does not skip) without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::lab::{assert_overlay_works, deploy_networkd, exec_expect, form_lab};
use vxlan_mesh_core::HostPlan;
use vxlan_mesh_gen::{render_with, write_files, Format, Options};
use vxlan_mesh_lab::Lab;

fn files_of(plan: &HostPlan, format: Format, dir: &Path) {
    let files = render_with(plan, format, &Options::default()).unwrap();
    write_files(dir, &files).unwrap();
}

/// Stdout of `argv` in `ns`, which must succeed. Stderr is left out: iproute2 may print a
/// stray error about another test's namespace being deleted meanwhile.
fn stdout_ok(lab: &Lab, ns: &str, argv: &[&str]) -> String {
    let out = lab.exec(ns, argv).unwrap();
    assert!(
        out.status.success(),
        "{ns}: {argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Links, nft tables and ebtables chains of a host namespace, to compare before and after.
fn footprint(lab: &Lab, ns: &str) -> String {
    let links = stdout_ok(lab, ns, &["ip", "-br", "link"]);
    let mut names: Vec<&str> = links
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|n| n.split('@').next().unwrap_or(n))
        .collect();
    names.sort_unstable();
    // Loading the firewall replaces its table, which moves it in the listing: sort.
    let tables = stdout_ok(lab, ns, &["nft", "list", "tables"]);
    // `table bridge filter` is ebtables' standard table (ebtables-nft creates it on first
    // use); it may be shared with other ebtables users, so `stop` removes only our chain and
    // jump from it. Its contents are compared through the ebtables listing below.
    let mut tables: Vec<&str> = tables.lines().filter(|t| *t != "table bridge filter").collect();
    tables.sort_unstable();
    let ebt = stdout_ok(lab, ns, &["ebtables", "-t", "filter", "-L"]);
    format!("links: {names:?}\nnft: {tables:?}\nebtables: {ebt}")
}

fn shell_form(inventory: &str, base: &str) {
    let (_serial, fleet, lab, tmp) = form_lab(inventory, base);
    let mut before = Vec::new();
    for host in &lab.spec().hosts {
        let plan = fleet.plan(&host.name).unwrap();
        let dir = tmp.0.join(&host.name);
        files_of(&plan, Format::Shell, &dir);
        let script = dir.join("etc/vxlan-mesh/vxlan-mesh.sh");
        let script = script.to_str().unwrap();
        let ns = host.netns.as_str();
        before.push(footprint(&lab, ns));

        // A dry run prints and changes nothing.
        let dry = lab.exec(ns, &["env", "DRYRUN=1", "sh", script, "start"]).unwrap();
        assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
        assert!(String::from_utf8_lossy(&dry.stdout).contains("ip link add name vxbr0 type bridge"));
        assert_eq!(footprint(&lab, ns), before[before.len() - 1], "DRYRUN=1 changed {ns}");

        exec_expect(&lab, ns, &["sh", script, "status"], 3);
        exec_expect(&lab, ns, &["sh", script, "start"], 0);
        let once = footprint(&lab, ns);
        let indexes = stdout_ok(&lab, ns, &["ip", "-o", "link"]);
        // Once converged, a dry run plans no device to create or delete...
        let dry = exec_expect(&lab, ns, &["env", "DRYRUN=1", "sh", script, "start"], 0);
        assert!(
            !dry.contains("link add") && !dry.contains("link del"),
            "{ns}: not converged:\n{dry}"
        );
        // ... and a second start keeps every device (same ifindex) and adds nothing.
        exec_expect(&lab, ns, &["sh", script, "start"], 0);
        assert_eq!(footprint(&lab, ns), once, "{ns}: a second start changed something");
        let index_of = |text: &str| -> Vec<String> {
            // "7: vxm100: <...>" → "7: vxm100"
            // Only link lines: iproute2 may add a stray "Error: Peer netns reference is
            // invalid." while another test deletes its namespaces.
            let mut v: Vec<String> = text
                .lines()
                .filter(|l| l.split(':').next().is_some_and(|n| n.trim().parse::<u32>().is_ok()))
                .map(|l| l.split(':').take(2).collect::<Vec<_>>().join(":"))
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            index_of(&stdout_ok(&lab, ns, &["ip", "-o", "link"])),
            index_of(&indexes),
            "{ns}: a second start re-created a device"
        );
        let status = exec_expect(&lab, ns, &["sh", script, "status"], 0);
        assert!(!status.contains("missing"), "{status}");
    }
    assert_overlay_works(&lab, &format!("shell form of {inventory}"));

    for (host, before) in lab.spec().hosts.iter().zip(&before) {
        let script = tmp.0.join(&host.name).join("etc/vxlan-mesh/vxlan-mesh.sh");
        let ns = host.netns.as_str();
        exec_expect(&lab, ns, &["sh", script.to_str().unwrap(), "stop"], 0);
        // The container veths' host ends stay (the lab made them); everything else is gone.
        assert_eq!(&footprint(&lab, ns), before, "{ns}: stop left something behind");
        exec_expect(&lab, ns, &["sh", script.to_str().unwrap(), "stop"], 0);
    }
}

/// The underlay address is still on the underlay device (networkd did not take it over).
fn assert_underlay_untouched(lab: &Lab, ns: &str, plan: &HostPlan) {
    let dev = &lab.spec().hosts.iter().find(|h| h.netns == ns).unwrap().device;
    let addrs = exec_expect(lab, ns, &["ip", "addr", "show", "dev", dev], 0);
    assert!(
        addrs.contains(&plan.address.to_string()),
        "{ns}: underlay {dev} lost its address:\n{addrs}"
    );
}

fn networkd_form(inventory: &str, base: &str, netplan: bool) {
    let (_serial, fleet, lab, tmp) = form_lab(inventory, base);
    let mut daemons = Vec::new();
    for host in &lab.spec().hosts {
        let plan = fleet.plan(&host.name).unwrap();
        let root = tmp.0.join(&host.name);
        let ns = host.netns.as_str();
        let mut dirs = Vec::new();
        if netplan {
            files_of(&plan, Format::Netplan, &root);
            common::netplan_generate(&root, &host.name);
            dirs.push(root.join("run/systemd/network"));
            let ours = root.join("etc/systemd/network");
            if ours.exists() {
                dirs.push(ours);
            }
        } else {
            files_of(&plan, Format::Networkd, &root);
            dirs.push(root.join("etc/systemd/network"));
        }
        // The units the form installs, the way systemd runs them around networkd.
        let log = tmp.0.join(format!("{}.networkd.log", host.name));
        daemons.push(deploy_networkd(&lab, ns, &root, &dirs, &plan, &log));
        // The shipped script judges what networkd and the sync made converged.
        let script = root.join("etc/vxlan-mesh/vxlan-mesh.sh");
        exec_expect(&lab, ns, &["sh", script.to_str().unwrap(), "status"], 0);
        assert_underlay_untouched(&lab, ns, &plan);
        if plan.firewall.is_some() {
            exec_expect(&lab, ns, &["nft", "list", "table", "inet", "vxlan_mesh"], 0);
        }
    }
    let form = if netplan { "netplan" } else { "networkd" };
    assert_overlay_works(&lab, &format!("{form} form of {inventory}"));
    drop(daemons);
}

#[test]
fn shell_flood() {
    shell_form("classic-geo", "gsf");
}

#[test]
fn shell_per_peer_isolation() {
    shell_form("hetzner", "gsp");
}

#[test]
fn shell_per_peer_ebtables() {
    shell_form("per-peer-ebtables", "gse");
}

/// IPv6 underlay, custom port, and a second network only two of the hosts join.
#[test]
fn shell_ipv6_flood() {
    shell_form("ipv6-flood", "gs6");
}

#[test]
fn networkd_flood() {
    networkd_form("classic-geo", "gnf", false);
}

#[test]
fn networkd_per_peer_isolation() {
    networkd_form("hetzner", "gnp", false);
}

/// ebtables loop prevention through the shipped unit's commands, then networkd.
#[test]
fn networkd_per_peer_ebtables() {
    networkd_form("per-peer-ebtables", "gne", false);
}

/// IPv6 underlay (UDP6 checksum keys), custom port, two networks.
#[test]
fn networkd_ipv6_flood() {
    networkd_form("ipv6-flood", "gn6", false);
}

#[test]
fn netplan_flood() {
    networkd_form("classic-geo", "gpf", true);
}

#[test]
fn netplan_per_peer_isolation() {
    networkd_form("hetzner", "gpp", true);
}

/// A bridge named like the plan's that was there before systemd-networkd started, without
/// vxlan-mesh's mark and with a container's port attached: networkd configures it as if it
/// had made it, but the sync refuses to mark it (as `apply` refuses it), so the script's
/// `stop` (like a later `down`) leaves it, its port still attached.
#[test]
fn networkd_sync_does_not_adopt_a_foreign_bridge() {
    let (fleet, _) = common::example("classic-geo");
    let (_serial, lab) = common::lab::lab_of(&fleet, 1, "gnx");
    let tmp = common::TempDir::new("gnx");
    let host = &lab.spec().hosts[0];
    let ns = host.netns.as_str();
    let plan = fleet.plan(&host.name).unwrap();
    let bridge = plan.networks[0].bridge.name.clone();
    for cmd in [
        format!("ip link add {bridge} type bridge"),
        "ip link add vxmxctr0 type veth peer name vxmxctr1".to_string(),
        format!("ip link set vxmxctr0 master {bridge}"),
    ] {
        let argv: Vec<&str> = cmd.split(' ').collect();
        exec_expect(&lab, ns, &argv, 0);
    }
    let root = tmp.0.join(&host.name);
    files_of(&plan, Format::Networkd, &root);
    let log = tmp.0.join("networkd.log");
    lab.run_units(ns, &root, vxlan_mesh_lab::systemd::Order::BeforeNetworkd)
        .unwrap();
    let _daemon = common::lab::Networkd(
        lab.start_networkd(ns, &[root.join("etc/systemd/network")], &log)
            .unwrap(),
    );
    let err = lab
        .run_units(ns, &root, vxlan_mesh_lab::systemd::Order::AfterNetworkd)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("{bridge} exists and is not owned by vxlan-mesh")),
        "the sync must refuse the foreign bridge: {err}"
    );
    let details = exec_expect(&lab, ns, &["ip", "-d", "link", "show", "dev", &bridge], 0);
    assert!(!details.contains("alias vxlan-mesh"), "the sync marked it:\n{details}");

    let script = root.join("etc/vxlan-mesh/vxlan-mesh.sh");
    exec_expect(&lab, ns, &["sh", script.to_str().unwrap(), "stop"], 0);
    let port = exec_expect(&lab, ns, &["ip", "-d", "link", "show", "dev", "vxmxctr0"], 0);
    assert!(
        port.contains(&format!("master {bridge}")),
        "stop deleted the bridge:\n{port}"
    );
}
