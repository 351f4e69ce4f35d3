//! Safety of `apply`, `status` and `down` at the edges (issue 11): missing tools, a busy
//! namespace, an underlay that cannot carry the MTU, VNIs the kernel would refuse, stale
//! static FDB entries, foreign bridge ports. Each test runs the CLI in namespaces it
//! creates (root needed) and deletes them on success and failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{stderr, stdout, text, Netns, Scratch};
use vxlan_mesh_core::testing::FleetBuilder;

/// Runs its arguments with `nft` and `ebtables` nowhere to be found: `PATH` names no real
/// directory and the sbin directories are hidden under empty file systems, in a mount
/// namespace of that one command.
const NO_TOOLS: &[&str] = &[
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    "mount -t tmpfs none /usr/sbin && mount -t tmpfs none /usr/local/sbin && exec env PATH=/nonexistent-dir \"$@\"",
    "sh",
];

/// `PATH` without the sbin directories, as cron has it.
const CRON_PATH: &[&str] = &["env", "PATH=/nonexistent-dir"];

/// Hosts `h1`… with id N at `198.51.100.N` on one network `lan` (VNI `vni`, bridge `vxbr0`).
fn fleet(vni: u32, hosts: usize) -> FleetBuilder {
    FleetBuilder::new()
        .network("lan", vni, "vxbr0")
        .underlay("198.51.100.0")
        .hosts(hosts)
}

/// A namespace where host h1 (198.51.100.1) lives.
fn host_ns(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    ns.sh("ip addr add 198.51.100.1/32 dev lo");
    ns
}

fn has_chain(ns: &Netns) -> bool {
    ns.sh("ebtables -t filter -L").contains("Bridge chain: VXLAN-MESH")
}

fn has_table(ns: &Netns) -> bool {
    ns.sh("nft list tables").contains("inet vxlan_mesh")
}

/// The tool is named, as missing, and nothing is reported as drift.
fn assert_names_missing_tool(out: &std::process::Output, tool: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let err = stderr(out);
    assert!(
        err.contains(&format!("`{tool}`")) && err.contains("not found"),
        "{}",
        text(out)
    );
    assert!(!stdout(out).contains("difference"), "{}", text(out));
}

#[test]
fn tools_in_sbin_are_found_without_path() {
    let ns = host_ns("sbin");
    let dir = Scratch::new("sbin");
    let ebt = dir.write("ebt.toml", &fleet(1000, 3).layout("ebtables").firewall(false).toml());
    let fw = dir.write("fw.toml", &fleet(1000, 3).firewall(true).toml());
    for inv in [&ebt, &fw] {
        let out = ns.cli_via(CRON_PATH, inv, &["apply"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let out = ns.cli_via(CRON_PATH, inv, &["status"]);
        assert_eq!(out.status.code(), Some(0), "converged: {}", text(&out));
    }
    // The switch to flood mode removed the chain through the sbin `ebtables`.
    assert!(!has_chain(&ns));
    assert!(has_table(&ns));
    let out = ns.cli_via(CRON_PATH, &fw, &["down"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!has_table(&ns));
}

#[test]
fn missing_ebtables_is_an_error_not_a_missing_chain() {
    let ns = host_ns("noebt");
    let dir = Scratch::new("noebt");
    let ebt = dir.write("ebt.toml", &fleet(1000, 3).layout("ebtables").firewall(false).toml());
    let iso = dir.write("iso.toml", &fleet(1000, 3).layout("isolation").firewall(false).toml());
    let out = ns.cli(&ebt, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    assert_names_missing_tool(&ns.cli_via(NO_TOOLS, &ebt, &["status"]), "ebtables");
    // A switch away from ebtables mode cannot remove the chain: it must not say it did.
    assert_names_missing_tool(&ns.cli_via(NO_TOOLS, &iso, &["apply"]), "ebtables");
    assert_names_missing_tool(&ns.cli_via(NO_TOOLS, &ebt, &["down"]), "ebtables");
    assert!(has_chain(&ns), "the chain is still there, as the errors said");
    assert!(ns.sh("ip -o link show").contains("vxbr0"), "nothing was half torn down");
}

#[test]
fn missing_nft_is_an_error_not_a_missing_table() {
    let ns = host_ns("nonft");
    let dir = Scratch::new("nonft");
    let fw = dir.write("fw.toml", &fleet(1000, 3).firewall(true).toml());
    let out = ns.cli(&fw, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_names_missing_tool(&ns.cli_via(NO_TOOLS, &fw, &["status"]), "nft");
    assert_names_missing_tool(&ns.cli_via(NO_TOOLS, &fw, &["down"]), "nft");
    assert!(has_table(&ns));
    // The cause is printed once.
    for command in ["down", "status"] {
        let err = stderr(&ns.cli_via(NO_TOOLS, &fw, &[command]));
        assert_eq!(err.matches("not found").count(), 1, "{command}: {err}");
    }
}

/// Changes that need a missing tool are refused before anything is made: no bridge without
/// its loop prevention, no devices without their firewall.
#[test]
fn a_change_that_needs_a_missing_tool_is_refused_before_any_change() {
    let ns = host_ns("needtool");
    let dir = Scratch::new("needtool");
    let ebt = dir.write("ebt.toml", &fleet(1000, 3).layout("ebtables").firewall(false).toml());
    let fw = dir.write("fw.toml", &fleet(1000, 3).firewall(true).toml());
    for (inv, tool) in [(&ebt, "ebtables"), (&fw, "nft")] {
        for args in [&["apply"][..], &["apply", "--dry-run"]] {
            assert_names_missing_tool(&ns.cli_via(NO_TOOLS, inv, args), tool);
        }
        assert!(!ns.sh("ip -o link show").contains("vxbr0"), "nothing was made");
    }
}

#[test]
fn without_owned_netfilter_objects_the_tools_are_not_needed() {
    let ns = host_ns("notneeded");
    let dir = Scratch::new("notneeded");
    let iso = dir.write("iso.toml", &fleet(1000, 3).layout("isolation").firewall(false).toml());
    for args in [&["apply"][..], &["status"], &["down"]] {
        let out = ns.cli_via(NO_TOOLS, &iso, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }
}

/// `status` while a large apply runs: it waits for the apply instead of reading a device
/// between its creation and its ownership mark, so it never fails (exit 1).
#[test]
fn status_during_a_large_apply_never_fails() {
    let ns = host_ns("busy");
    let dir = Scratch::new("busy");
    let inv = dir.write("inv.toml", &fleet(1000, 200).layout("isolation").firewall(false).toml());
    let mut overlapping = 0;
    for _ in 0..2 {
        let mut apply = std::process::Command::new("ip")
            .args(["netns", "exec", &ns.0, common::BIN, "-q", "-i"])
            .arg(&inv)
            .arg("apply")
            .spawn()
            .unwrap();
        while apply.try_wait().unwrap().is_none() {
            let out = ns.cli(&inv, &["status"]);
            assert_ne!(out.status.code(), Some(1), "{}", text(&out));
            overlapping += 1;
        }
        assert!(apply.wait().unwrap().success());
        let out = ns.cli(&inv, &["down"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    assert!(
        overlapping > 0,
        "no status ran during an apply: the test proves nothing"
    );
}

/// An underlay device of MTU 1400 under `underlay-mtu = 1500`: the kernel would clamp the
/// VXLAN MTU; apply, its dry run and status refuse, naming the field, the device and both
/// numbers, and nothing is created.
#[test]
fn an_underlay_smaller_than_underlay_mtu_is_refused() {
    let dir = Scratch::new("mtu");
    let bound = dir.write(
        "bound.toml",
        &fleet(1000, 3)
            .each_host(|h| {
                h.device = Some("ul0".into());
                h.underlay_mtu = Some(1500);
            })
            .toml(),
    );
    let routed = dir.write(
        "routed.toml",
        &fleet(1000, 3).each_host(|h| h.underlay_mtu = Some(1500)).toml(),
    );
    for (inv, path) in [(&bound, "underlay device `ul0`"), (&routed, "through `ul0`")] {
        let ns = Netns::new("mtu");
        ns.sh(
            "ip link add ul0 mtu 1400 type veth peer name ul1 mtu 1400 && ip addr add 198.51.100.1/24 dev ul0 \
             && ip link set ul0 up && ip link set ul1 up",
        );
        for args in [&["apply"][..], &["apply", "--dry-run"], &["status"]] {
            let out = ns.cli(inv, args);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
            let err = stderr(&out);
            for part in ["`underlay-mtu`", path, "1500", "MTU 1400"] {
                assert!(err.contains(part), "{args:?} must name {part}: {err}");
            }
        }
        assert!(!ns.sh("ip -o link show").contains("vxbr0"), "nothing was created");
        // At the underlay's MTU, the same inventory applies and converges.
        ns.sh("ip link set ul0 mtu 1500 && ip link set ul1 mtu 1500");
        let out = ns.cli(inv, &["apply"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let out = ns.cli(inv, &["status"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
}

/// The routes to the peers are asked in chunks (512 per round trip with a 4 MiB receive
/// buffer): with 1,199 peers, the one whose host route goes through a small device is found
/// in the third chunk and named by its own address, not a neighbour's.
#[test]
fn a_small_route_to_a_peer_beyond_the_first_chunk_of_lookups_is_found() {
    let dir = Scratch::new("mtu-many");
    let inv = dir.write("many.toml", &common::inventory_text("flood", true, 1200, None));
    let ns = Netns::new("mtu-many");
    ns.sh(
        "ip link add ul0 mtu 1500 type veth peer name ul1 mtu 1500 && ip -6 addr add 2001:db8::1/64 dev ul0 nodad \
         && ip link add ul2 mtu 1400 type veth peer name ul3 mtu 1400 && ip link set ul0 up && ip link set ul1 up \
         && ip link set ul2 up && ip link set ul3 up && ip -6 route add 2001:db8::4b0/128 dev ul2",
    );
    for args in [&["apply", "--dry-run"][..], &["status"]] {
        let out = ns.cli(&inv, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains("the route to peer address `2001:db8::4b0` (through `ul2`) has MTU 1400"),
            "{args:?}: {err}"
        );
    }
    // Without that route every peer is reached through ul0, which carries 1500.
    ns.sh("ip -6 route del 2001:db8::4b0/128");
    let out = ns.cli(&inv, &["apply", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A network's new VNI is held by a foreign VXLAN device on the same port: apply refuses
/// before deleting the working device, naming the foreign one; the dry run says the same.
/// A foreign device with that VNI on another port does not clash, as the kernel agrees.
#[test]
fn a_vni_held_by_a_foreign_device_is_refused_before_anything_is_removed() {
    let ns = host_ns("vni");
    let dir = Scratch::new("vni");
    let old = dir.write("old.toml", &fleet(1000, 3).port(4789).toml());
    let new = dir.write("new.toml", &fleet(2000, 3).port(4789).toml());
    let out = ns.cli(&old, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let before = ns.sh("ip -o link show type vxlan");
    ns.sh("ip link add other0 type vxlan id 2000 dstport 4790 local 198.51.100.1");
    ns.sh("ip link add clash0 type vxlan id 2000 dstport 4789 local 198.51.100.9");
    for args in [&["apply", "--dry-run"][..], &["apply"]] {
        let out = ns.cli(&new, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        let err = stderr(&out);
        assert!(err.contains("`clash0`") && err.contains("VNI 2000"), "{args:?}: {err}");
        assert!(!err.contains("other0"), "{err}");
        assert_eq!(
            err.matches("File exists").count(),
            0,
            "refused before the kernel: {err}"
        );
    }
    let after = ns.sh("ip -o link show type vxlan");
    assert_eq!(
        before.lines().filter(|l| l.contains("vxm")).collect::<Vec<_>>(),
        after.lines().filter(|l| l.contains("vxm")).collect::<Vec<_>>(),
        "the working device is untouched"
    );
    ns.sh("ip link del clash0");
    let out = ns.cli(&new, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = ns.cli(&new, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Deleting a bridge that still has a container's port warns and names the port.
#[test]
fn deleting_a_bridge_with_foreign_ports_warns_and_names_them() {
    let ns = host_ns("ports");
    let dir = Scratch::new("ports");
    let inv = dir.write("inv.toml", &fleet(1000, 3).toml());
    let out = ns.cli(&inv, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    ns.sh("ip link add ctr0 type veth peer name ctr1 && ip link set ctr0 master vxbr0");
    let out = ns.cli(&inv, &["down"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning:") && err.contains("`vxbr0`") && err.contains("`ctr0`"),
        "{}",
        text(&out)
    );
    assert!(!err.contains("vxm"), "our own ports are not foreign: {err}");
}

/// The kernel refuses to bring the device up mid-apply (a foreign socket holds the VXLAN
/// port): the changes already made are printed before the error.
#[test]
fn a_failed_apply_prints_what_it_had_done() {
    let ns = host_ns("stopped");
    let dir = Scratch::new("stopped");
    let inv = dir.write("inv.toml", &fleet(1000, 3).port(4789).toml());
    let socket = ns.hold_udp_port(4789);
    let out = ns.cli(&inv, &["apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let made = stdout(&out);
    assert!(
        made.contains("install nftables table inet vxlan_mesh"),
        "{}",
        text(&out)
    );
    assert!(made.contains("create bridge vxbr0"), "{}", text(&out));
    assert!(
        !made.contains("vxm1000"),
        "the refused device is not listed as made: {}",
        text(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("stopped after 2 of") && err.contains("set up `vxm1000`"),
        "{}",
        text(&out)
    );
    assert!(
        ns.sh("ip -o link show").contains("vxbr0"),
        "as printed, the bridge was made"
    );
    drop(socket);
    let out = ns.cli(&inv, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// `apply --host X` where X's address is not assigned refuses unless `--force`.
#[test]
fn apply_for_a_host_whose_address_is_elsewhere_needs_force() {
    let ns = Netns::new("force");
    let dir = Scratch::new("force");
    let inv = dir.write("inv.toml", &fleet(1000, 3).toml());
    let out = ns.cli(&inv, &["apply", "--host", "h2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`h2`") && err.contains("`198.51.100.2`") && err.contains("--force"),
        "{err}"
    );
    assert!(!ns.sh("ip -o link show").contains("vxbr0"), "nothing was applied");
    // Previewing another host is allowed.
    let out = ns.cli(&inv, &["apply", "--dry-run", "--host", "h2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = ns.cli(&inv, &["apply", "--force", "--host", "h2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Where the address is assigned, no --force is needed.
    ns.sh("ip addr add 198.51.100.2/32 dev lo");
    let out = ns.cli(&inv, &["apply", "--host", "h2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Without `--host` on a machine holding no inventory address, the error lists the hosts;
/// the dry run says how to preview another host.
#[test]
fn no_local_host_lists_the_hosts_and_how_to_preview_one() {
    let ns = Netns::new("nolocal");
    let dir = Scratch::new("nolocal");
    let inv = dir.write("inv.toml", &fleet(1000, 3).toml());
    for args in [&["apply"][..], &["status"], &["apply", "--dry-run"]] {
        let out = ns.cli(&inv, args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains("h1 (198.51.100.1)") && err.contains("h3 (198.51.100.3)"),
            "{args:?}: {err}"
        );
        assert_eq!(
            err.contains("apply --dry-run --host NAME"),
            args.contains(&"--dry-run"),
            "{err}"
        );
    }
}

/// A static FDB entry on our device that the plan does not contain is drift; apply
/// removes it.
#[test]
fn a_stray_static_fdb_entry_is_drift_and_removed() {
    let ns = host_ns("fdb");
    let dir = Scratch::new("fdb");
    let inv = dir.write("inv.toml", &fleet(1000, 3).toml());
    let out = ns.cli(&inv, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    ns.sh("bridge fdb add 02:00:00:00:00:01 dev vxm1000 dst 198.51.100.7 self permanent");
    let out = ns.cli(&inv, &["status"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stdout(&out).contains("delete fdb 02:00:00:00:00:01 dst 198.51.100.7"),
        "{}",
        text(&out)
    );
    let out = ns.cli(&inv, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!ns.sh("bridge fdb show dev vxm1000").contains("02:00:00:00:00:01"));
    let out = ns.cli(&inv, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
