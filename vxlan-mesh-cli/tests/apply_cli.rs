//! `vxlan-mesh apply|status|down` run with `ip netns exec` in namespaces these tests
//! create (root needed; fails loudly without). Each test has its own namespace, deleted on
//! success and failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{inventory_text, text, Netns, Scratch, BIN};

/// Writes an inventory of `hosts` hosts (see [`common::inventory_text`]).
fn inventory(dir_tag: &str, mode: &str, hosts: usize, mtu: Option<u32>) -> (Scratch, PathBuf) {
    let dir = Scratch::new(dir_tag);
    let path = dir.write("inventory.toml", &inventory_text(mode, false, hosts, mtu));
    (dir, path)
}

fn links(ns: &Netns) -> String {
    ns.sh("ip -o link show")
}

#[test]
fn apply_status_down_with_host_found_by_local_address() {
    let ns = Netns::new("cli");
    let (_d, inv) = inventory("cli", "isolation", 4, None);
    // h2's underlay address is assigned here: commands find the host without --host.
    ns.sh("ip addr add 198.51.100.2/32 dev lo");

    let out = ns.cli(&inv, &["status"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("host h2"),
        "{}",
        text(&out)
    );

    let dry = ns.cli(&inv, &["apply", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    let dry_out = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(dry_out.contains("ip link add name vxbr0 type bridge"), "{dry_out}");
    assert!(dry_out.contains("type bridge_slave isolated on"), "{dry_out}");
    assert!(!links(&ns).contains("vxbr0"), "--dry-run changes nothing");

    let out = ns.cli(&inv, &["apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        5,
        "firewall, bridge, 3 devices: {}",
        text(&out)
    );
    let before = links(&ns);
    let again = ns.cli(&inv, &["apply"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), "host h2: no changes");
    assert_eq!(links(&ns), before, "same devices, same indexes");

    let out = ns.cli(&inv, &["status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["converged"], true);
    assert_eq!(json["changes"].as_array().map(Vec::len), Some(0));

    // Drift by hand: status reports it as data and exits 2.
    ns.sh("ip link set vxm1000 nomaster");
    let out = ns.cli(&inv, &["status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["changes"][0]["op"], "update-vxlan", "{json}");

    let out = ns.cli(&inv, &["down"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!links(&ns).contains("vxm"), "{}", links(&ns));
    assert!(!links(&ns).contains("vxbr0"));
    assert!(!ns.sh("nft list tables").contains("vxlan_mesh"));
}

#[test]
fn unknown_host_and_no_local_host_are_errors() {
    let ns = Netns::new("nohost");
    let (_d, inv) = inventory("nohost", "flood", 2, None);
    let out = ns.cli(&inv, &["apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--host"),
        "{}",
        text(&out)
    );
    let out = ns.cli(&inv, &["apply", "--host", "nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`nope`"),
        "{}",
        text(&out)
    );
    assert!(!links(&ns).contains("vxbr0"));
}

/// SIGKILL at several points of a large apply; the next apply always converges, and no
/// device is ever left without its ownership mark.
#[test]
fn killed_mid_apply_then_apply_converges() {
    let (_d, inv) = inventory("kill", "isolation", 301, None);
    // Kill points spread over the time a whole apply takes on this machine right now, so
    // that some land mid-apply however fast or loaded the machine is.
    let full_ms = {
        let ns = Netns::new("kill");
        let start = std::time::Instant::now();
        let out = ns.cli(&inv, &["apply", "--force", "--host", "h1"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX).max(10)
    };
    let mut partial = 0;
    // Fixed delays, then (None) kills as soon as the first device shows up: devices are
    // made late in a run and in few datagrams, so a timed kill can miss that window.
    let delays: Vec<Option<u64>> = [2u64, 10, 25]
        .into_iter()
        .chain((1..=8).map(|i| full_ms * i / 10))
        .map(Some)
        .chain(std::iter::repeat_n(None, 5))
        .collect();
    for delay in delays {
        let ns = Netns::new("kill");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.0, BIN, "-q", "-i"])
            .arg(&inv)
            .args(["apply", "--force", "--host", "h1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        match delay {
            Some(ms) => std::thread::sleep(Duration::from_millis(ms)),
            None => {
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while child.try_wait().unwrap().is_none()
                    && std::time::Instant::now() < deadline
                    && !String::from_utf8_lossy(
                        &Command::new("ip")
                            .args(["-n", &ns.0, "-o", "link", "show", "type", "vxlan"])
                            .output()
                            .unwrap()
                            .stdout,
                    )
                    .contains("vxm")
                {}
            }
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.code().is_none() {
            // Killed: count it when it left some devices and not all of them.
            let made = ns.sh("ip -o link show type vxlan").lines().count();
            let out = ns.cli(&inv, &["status", "--host", "h1"]);
            if made > 0 && out.status.code() == Some(2) {
                partial += 1;
            }
        }
        // Every vxm device present carries our alias (no orphan blocks the next apply).
        let listing = ns.sh("ip -d -o link show");
        for line in listing.lines().filter(|l| l.contains(": vxm")) {
            assert!(line.contains("alias vxlan-mesh:lan:"), "orphan after kill: {line}");
        }
        let out = ns.cli(&inv, &["apply", "--force", "--host", "h1"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let out = ns.cli(&inv, &["status", "--host", "h1"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "after kill at {delay:?} ms (None: at the first device): {}",
            text(&out)
        );
        let n = ns.sh("ip -o link show type vxlan").lines().count();
        assert_eq!(n, 300);
        let isolated = ns.sh("bridge -d link show").matches("isolated on").count();
        assert_eq!(isolated, 300);
    }
    assert!(
        partial > 0,
        "no kill landed mid-apply (a whole apply took {full_ms} ms); the test proves nothing"
    );
}
