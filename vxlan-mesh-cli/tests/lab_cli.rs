//! `vxlan-mesh lab` end to end: the classic example inventories built in namespaces,
//! deployed through every `--via`, checked, cut and healed, and removed (also after a
//! SIGKILL mid-build). Needs root, iproute2, iputils-ping, nftables, systemd-networkd and
//! netplan; fails loudly without them. Every test has its own lab tag and removes its lab
//! on success and failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use vxlan_mesh_lab::{list_namespaces, names};

const BIN: &str = env!("CARGO_BIN_EXE_vxlan-mesh");

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

/// A lab tag whose lab is removed (`lab down`) on drop.
struct Tag(String);

impl Tag {
    fn new() -> Tag {
        Tag(names::unique_tag("c"))
    }

    fn lab(&self, inventory: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        if let Some(inv) = inventory {
            cmd.arg("-i").arg(example(inv));
        }
        cmd.args(["lab", "--tag", &self.0]).args(args).output().unwrap()
    }

    fn ok(&self, inventory: Option<&str>, args: &[&str]) -> String {
        let out = self.lab(inventory, args);
        assert!(
            out.status.success(),
            "lab {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `lab check --format json`, with its exit code.
    fn check(&self) -> (Value, Option<i32>) {
        let out = self.lab(None, &["check", "--format", "json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "check printed no JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v, out.status.code())
    }

    fn namespaces(&self) -> Vec<String> {
        list_namespaces(&names::tag_prefix(&self.0)).unwrap()
    }
}

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = self.lab(None, &["down"]);
    }
}

fn text(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

/// up → check (every pair, full-size frames, no storm) → down (nothing left).
fn up_check_down(via: &str, inventory: &str) {
    let tag = Tag::new();
    let up = tag.ok(Some(inventory), &["up", "--via", via]);
    assert!(up.contains("4 hosts, 12 containers"), "{up}");
    let (v, code) = tag.check();
    assert_eq!(
        v["reachability"]["ok"],
        132,
        "{via} {inventory}: {}",
        text(&v["reachability"])
    );
    assert_eq!(v["reachability"]["failed"].as_array().map(Vec::len), Some(0));
    let frames = v["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 3);
    assert!(
        frames.iter().all(|f| f["fits"] == true && f["larger_fails"] == true),
        "{}",
        text(&v["frames"])
    );
    assert_eq!(v["loop_check"]["storm"], false, "{}", text(&v["loop_check"]));
    assert_eq!(v["ok"], true);
    assert_eq!(code, Some(0));
    assert_eq!(v["via"], via);

    let down = tag.ok(None, &["down"]);
    assert!(down.contains("17 namespaces removed"), "{down}");
    assert!(tag.namespaces().is_empty());
    // The state is gone too: check has no lab.
    let again = tag.lab(None, &["check"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is up"));
}

#[test]
fn via_netlink_on_both_examples() {
    up_check_down("netlink", "classic-geo.toml");
    up_check_down("netlink", "hetzner.toml");
}

#[test]
fn via_shell_on_both_examples() {
    up_check_down("shell", "classic-geo.toml");
    up_check_down("shell", "hetzner.toml");
}

#[test]
fn via_networkd_on_both_examples() {
    up_check_down("networkd", "classic-geo.toml");
    up_check_down("networkd", "hetzner.toml");
}

#[test]
fn via_netplan_on_both_examples() {
    up_check_down("netplan", "classic-geo.toml");
    up_check_down("netplan", "hetzner.toml");
}

#[test]
fn cut_loses_exactly_the_hosts_pairs_and_heal_brings_them_back() {
    let tag = Tag::new();
    tag.ok(Some("hetzner.toml"), &["up"]);
    let cut = tag.ok(None, &["cut", "lxd3"]);
    assert!(cut.contains("lxd3"), "{cut}");
    let (v, code) = tag.check();
    assert_eq!(code, Some(2), "a failed check exits 2");
    assert_eq!(v["ok"], false);
    let failed = v["reachability"]["failed"].as_array().unwrap();
    // Every pair with exactly one end on lxd3: 3 containers × 9 others, both directions.
    assert_eq!(failed.len(), 54, "{}", text(&v["reachability"]));
    assert!(failed
        .iter()
        .all(|f| (f["from_host"] == "lxd3") != (f["to_host"] == "lxd3")));
    assert_eq!(v["reachability"]["ok"], 132 - 54);
    // The frame probe towards lxd3 fails, the others pass.
    for f in v["frames"].as_array().unwrap() {
        assert_eq!(f["fits"] == true, f["to_host"] != "lxd3", "{}", text(f));
    }

    tag.ok(None, &["heal", "lxd3"]);
    let (v, code) = tag.check();
    assert_eq!(v["reachability"]["ok"], 132, "{}", text(&v["reachability"]));
    assert_eq!(code, Some(0));
    assert!(tag.lab(None, &["cut", "nope"]).status.code() == Some(1));
}

#[test]
fn down_after_sigkill_mid_build_leaves_nothing() {
    let tag = Tag::new();
    // 160 containers: long enough a build to be killed in the middle.
    let mut child = Command::new(BIN)
        .arg("-i")
        .arg(example("classic-geo.toml"))
        .args(["lab", "--tag", &tag.0, "up", "--containers", "40"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while tag.namespaces().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "lab up made no namespace");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL: no destructor runs
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed before it finished");
    // An `ip -batch` child of the killed process may still be adding namespaces: wait until
    // their number stops changing.
    let mut left = tag.namespaces();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = tag.namespaces();
        if now == left {
            break;
        }
        left = now;
    }
    assert!(!left.is_empty(), "the kill left namespaces behind to clean up");
    assert!(
        !PathBuf::from(format!("/run/vxlan-mesh-lab/{}.json", tag.0)).exists(),
        "killed before it saved state"
    );
    let down = tag.ok(None, &["down"]);
    assert!(down.contains(&format!("{} namespaces removed", left.len())), "{down}");
    assert!(tag.namespaces().is_empty());
}

#[test]
fn up_refuses_an_existing_lab_and_unknown_vias_fail_early() {
    let tag = Tag::new();
    tag.ok(Some("classic-geo.toml"), &["up", "--via", "none", "--containers", "1"]);
    let again = tag.lab(Some("classic-geo.toml"), &["up", "--via", "none"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    // --via none: nothing deployed, containers attach only once bridges exist.
    let attach = tag.lab(None, &["attach"]);
    assert!(!attach.status.success());
    assert!(String::from_utf8_lossy(&attach.stderr).contains("vxbr0"));
    let bad = tag.lab(Some("classic-geo.toml"), &["up", "--via", "carrier-pigeon"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid value 'carrier-pigeon'"));
}
