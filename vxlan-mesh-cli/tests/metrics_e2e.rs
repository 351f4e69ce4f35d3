//! `status --format prometheus` and `--textfile` end to end, in network namespaces:
//!
//! - on a lab (vxlan-mesh-lab) after `apply`: `promtool check metrics` accepts the output,
//!   the host is converged, its device and network are up, and the device's byte and packet
//!   counters move when the containers ping each other over the overlay;
//! - a stranger (not in the inventory) sends VXLAN packets to a host's VXLAN port: the
//!   firewall's drop counter in the metrics moves by what nft counted;
//! - `--textfile` writes the file atomically and exits 0 on drift, where `--format
//!   prometheus` exits 2;
//! - the lock wait in the metrics is at least the time an apply held the lock;
//! - the example alert rules pass `promtool check rules`.
//!
//! Root, iproute2, iputils-ping, nftables and promtool (Debian package `prometheus`) are
//! required; the tests fail without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::Mode;
use vxlan_mesh_lab::names;

use common::lab::{fleet_of, lab_tagged};
use common::{cli_in as vxm_in, promtool_check_metrics, root, text, value, Netns, Scratch};

/// Hosts `a` and `b` in flood mode.
fn inventory() -> String {
    FleetBuilder::new().lettered(2).toml()
}

/// Per-peer mode: one device per peer, labelled with the peer.
fn per_peer() -> String {
    FleetBuilder::new().mode(Mode::PerPeer).lettered(3).toml()
}

/// A count or 0/1 state (see [`value`](common::value)).
fn sample(metrics: &str, name: &str, labels: &str) -> u64 {
    value(metrics, name, labels)
}

/// `vxlan-mesh -i INVENTORY ARGS…` in the namespace `ns`, to run.
fn vxm_cmd(ns: &str, inventory: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, common::BIN, "-i"])
        .arg(inventory)
        .args(args);
    cmd
}

fn status_prometheus(ns: &str, inventory: &Path, host: &str) -> Output {
    vxm_in(ns, inventory, &["status", "--host", host, "--format", "prometheus"])
}

/// Metrics of a converged host (exit 0 required).
fn converged_metrics(ns: &str, inventory: &Path, host: &str) -> String {
    let out = status_prometheus(ns, inventory, host);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    common::stdout(&out)
}

#[test]
fn byte_counters_move_with_overlay_traffic_and_promtool_accepts_the_output() {
    let tag = names::unique_tag("met");
    let dir = Scratch::new(&tag);
    let inv = dir.write("inventory.toml", &inventory());
    let fleet = fleet_of(&inventory());
    let lab = lab_tagged(&fleet, 1, &tag);
    let spec = lab.spec().clone();
    for h in &spec.hosts {
        let ran = vxm_in(&h.netns, &inv, &["apply", "--host", &h.name]);
        assert!(ran.status.success(), "{}", text(&ran));
    }
    lab.attach_containers().unwrap();
    let a = &spec.hosts[0].netns;
    let plan = fleet.plan("a").unwrap();
    let device = &plan.networks[0].vxlans[0].name;
    let labels = format!("host=\"a\",network=\"lan\",device=\"{device}\"");

    let before = converged_metrics(a, &inv, "a");
    promtool_check_metrics(&before);
    assert_eq!(sample(&before, "vxlan_mesh_converged", "host=\"a\""), 1);
    assert_eq!(sample(&before, "vxlan_mesh_pending_changes", "host=\"a\""), 0);
    assert_eq!(sample(&before, "vxlan_mesh_device_up", &labels), 1);
    assert_eq!(sample(&before, "vxlan_mesh_network_up", "bridge=\"vxbr0\""), 1);
    assert_eq!(sample(&before, "vxlan_mesh_device_fdb_entries", &labels), 1);
    assert_eq!(
        sample(&before, "vxlan_mesh_firewall_dropped_packets_total", "host=\"a\""),
        0
    );

    let matrix = lab.ping_matrix().unwrap();
    assert!(matrix.is_full(), "{}", matrix.render_text());

    let after = converged_metrics(a, &inv, "a");
    for name in [
        "vxlan_mesh_device_transmit_bytes_total",
        "vxlan_mesh_device_receive_bytes_total",
        "vxlan_mesh_device_transmit_packets_total",
        "vxlan_mesh_device_receive_packets_total",
    ] {
        let (b, a) = (sample(&before, name, &labels), sample(&after, name, &labels));
        assert!(a > b, "{name} did not move with traffic: {b} then {a}");
    }
}

#[test]
fn the_firewall_drop_counter_counts_strangers_vxlan_packets() {
    let dir = Scratch::new("metdrop");
    let inv = dir.write("inventory.toml", &inventory());
    let host = Netns::new("metA");
    let stranger = Netns::new("metS");
    host.sh(&format!(
        "ip link add ul0 type veth peer name ul0 netns {}\nip addr add 192.0.2.1/24 dev ul0\nip link set ul0 up",
        stranger.0
    ));
    stranger.sh("ip addr add 192.0.2.66/24 dev ul0\nip link set ul0 up");
    let ran = host.cli(&inv, &["apply", "--host", "a"]);
    assert!(ran.status.success(), "{}", text(&ran));
    let nft_dropped = || -> u64 {
        let listing = host.sh("nft list chain inet vxlan_mesh input");
        let line = listing.lines().find(|l| l.contains("drop")).unwrap();
        line.split("packets ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };

    // Device b's VXLAN is missing (b never applied), but host a converges on its own plan.
    let before = converged_metrics(&host.0, &inv, "a");
    let dropped_before = sample(&before, "vxlan_mesh_firewall_dropped_packets_total", "host=\"a\"");
    assert_eq!(dropped_before, nft_dropped());

    // VXLAN packets with a's VNI: header (flags 0x08, VNI 100), then a broadcast ARP frame.
    const SENT: usize = 10;
    let vxlan = r"\010\000\000\000\000\000\144\000\377\377\377\377\377\377\002\000\000\000\146\146\010\006";
    stranger.sh(&format!(
        "ping -c 3 -W 1 192.0.2.1 >/dev/null\n\
         bash -c 'for i in $(seq {SENT}); do printf \"{vxlan}\" > /dev/udp/192.0.2.1/4789; done'"
    ));

    let after = converged_metrics(&host.0, &inv, "a");
    let dropped = sample(&after, "vxlan_mesh_firewall_dropped_packets_total", "host=\"a\"");
    assert!(dropped > dropped_before, "the drop counter did not move:\n{after}");
    assert_eq!(dropped, nft_dropped(), "the metric is not nft's counter");
    let bytes = sample(&after, "vxlan_mesh_firewall_dropped_bytes_total", "host=\"a\"");
    assert!(bytes >= dropped * 22, "{bytes} bytes for {dropped} packets");
}

#[test]
fn textfile_is_written_atomically_and_exits_0_on_drift() {
    let dir = Scratch::new("mettext");
    let inv = dir.write("inventory.toml", &per_peer());
    let host = Netns::new("metT");
    host.sh("ip addr add 192.0.2.1/24 dev lo");

    // Nothing applied: drift. Printed metrics exit 2 as status does.
    let printed = status_prometheus(&host.0, &inv, "a");
    assert_eq!(printed.status.code(), Some(2), "{}", text(&printed));
    assert_eq!(
        sample(&common::stdout(&printed), "vxlan_mesh_converged", "host=\"a\""),
        0
    );

    let file = dir.join("vxlan_mesh.prom");
    std::fs::write(&file, "stale\n").unwrap();
    let written = host.cli(&inv, &["status", "--host", "a", "--textfile", file.to_str().unwrap()]);
    assert_eq!(written.status.code(), Some(0), "{}", text(&written));
    assert!(common::stdout(&written).is_empty(), "{}", text(&written));
    let metrics = std::fs::read_to_string(&file).unwrap();
    promtool_check_metrics(&metrics);
    assert!(sample(&metrics, "vxlan_mesh_pending_changes", "host=\"a\"") > 0);
    for peer in ["b", "c"] {
        assert_eq!(sample(&metrics, "vxlan_mesh_device_up", &format!("peer=\"{peer}\"")), 0);
    }
    // Only the file itself is left: the temporary file was renamed over it.
    let entries: Vec<String> = std::fs::read_dir(&*dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");

    // Into a directory that does not exist: an error naming the file, exit 1.
    let missing = dir.join("no/such/dir/x.prom");
    let failed = host.cli(
        &inv,
        &["status", "--host", "a", "--textfile", missing.to_str().unwrap()],
    );
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(
        common::stderr(&failed).contains("no/such/dir/x.prom"),
        "{}",
        text(&failed)
    );
}

#[test]
fn the_example_alert_rules_pass_promtool() {
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(root().join("examples/prometheus-alerts.yml"))
        .output()
        .expect("promtool (Debian package `prometheus`) must be installed");
    assert!(out.status.success(), "{}", text(&out));
    let rules = std::fs::read_to_string(root().join("examples/prometheus-alerts.yml")).unwrap();
    for metric in [
        "vxlan_mesh_pending_changes",
        "vxlan_mesh_firewall_dropped_packets_total",
        "vxlan_mesh_firewall_blocked_clear_packets_total",
        "vxlan_mesh_device_up",
        "vxlan_mesh_wireguard_peer_latest_handshake_timestamp_seconds",
        "vxlan_mesh_bgp_session_up",
        "vxlan_mesh_bgp_sessions_established",
        "vxlan_mesh_evpn_vni_known",
        "vxlan_mesh_evpn_remote_vteps",
    ] {
        assert!(rules.contains(metric), "the alert rules do not use `{metric}`");
    }
}

/// Whether the process `pid` has the file `path` open.
fn has_open(pid: u32, path: &Path) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.filter_map(Result::ok)
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|p| p == path))
        })
        .unwrap_or(false)
}

#[test]
fn the_lock_wait_is_the_time_an_apply_held_the_namespace_s_lock() {
    let dir = Scratch::new("metlock");
    let inv = dir.write("inventory.toml", &inventory());
    let host = Netns::new("metL");
    host.sh("ip addr add 192.0.2.1/24 dev lo");
    let inode = common::sh(&format!("stat -L -c %i /run/netns/{}", host.0));
    let path = PathBuf::from(format!("/run/vxlan-mesh/net{}.lock", inode.trim()));
    // The lock directory is private (0700), or vxlan-mesh refuses it.
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(path.parent().unwrap())
        .unwrap();
    // The test is the apply in progress: it holds the lock as `apply` does.
    let apply = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap();
    apply.lock().unwrap();
    let mut status = vxm_cmd(&host.0, &inv, &["status", "--host", "a", "--format", "prometheus"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once `status` has the lock file open, its clock runs and it waits for us (`ip netns
    // exec` execs the command: same process).
    while !has_open(status.id(), &path) {
        assert!(
            status.try_wait().unwrap().is_none(),
            "status ended without waiting for the lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    const HELD: Duration = Duration::from_millis(300);
    std::thread::sleep(HELD);
    drop(apply);
    let out = status.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let metrics = common::stdout(&out);
    let waited: f64 = value(&metrics, "vxlan_mesh_lock_wait_seconds", "host=\"a\"");
    // A lower bound by causality, not a timing: the lock was held this long after `status`
    // started waiting.
    assert!(
        waited >= HELD.as_secs_f64(),
        "waited {waited} s for a lock held {HELD:?}:\n{metrics}"
    );
    let took: f64 = value(&metrics, "vxlan_mesh_collection_duration_seconds", "host=\"a\"");
    assert!(took >= waited, "{metrics}");
}
