//! `plan --all` and `render --all` refuse a fleet whose output would grow past the documented
//! limit (4,000,000 peer entries: a flood fleet of 2,000 hosts on one network), saying the
//! figure, the limit and the ways out, and write nothing; `--allow-large-output` lets them
//! through. Fleets are generated here; the allowed runs are cut short once they have started
//! writing (a 2,000-host fleet's plans are about 1 GB).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{vxm, Assert as _, Scratch};
use vxlan_mesh_core::testing::FleetBuilder;

/// A flood fleet of `hosts` hosts (documentation addresses), on `networks` networks that
/// every host joins.
fn fleet(dir: &Scratch, hosts: usize, networks: usize) -> std::path::PathBuf {
    let mut fleet = FleetBuilder::new().ipv6(true);
    for n in 0..networks {
        fleet = fleet.network(&format!("n{n}"), u32::try_from(100 + n).unwrap(), &format!("vxbr{n}"));
    }
    let text = fleet.hosts(hosts).toml();
    dir.write(&format!("fleet-{hosts}-{networks}.toml"), &text)
}

/// The refusal of `command` for a fleet of `entries` peer entries and `hosts` hosts.
fn refusal(command: &str, entries: u64, hosts: usize) -> String {
    format!(
        "error: `{command}` would write {entries} peer entries (each of the {hosts} hosts lists every peer of each of its networks, so the output grows with the square of the fleet), more than the limit of 4000000 (a flood fleet of 2,000 hosts on one network): pass `--host NAME` for one host's part, or `--allow-large-output` to write it all anyway\n"
    )
}

#[test]
fn plan_all_above_the_limit_is_refused_with_the_figure_the_limit_and_the_ways_out() {
    let dir = Scratch::new("large-plan");
    // 2,001 hosts on one network: 2,001 × 2,000 = 4,002,000 entries, just above the limit.
    let inv = fleet(&dir, 2001, 1);
    for format in ["json", "text"] {
        vxm()
            .args(["-i", inv.to_str().unwrap(), "plan", "--all", "--format", format])
            .assert()
            .code(1)
            .stdout_eq("")
            .stderr_eq(refusal("plan --all", 4_002_000, 2001));
    }
    // Per network: 1,415 hosts on two networks are 2 × 1,415 × 1,414 = 4,001,620.
    let two = fleet(&dir, 1415, 2);
    vxm()
        .args(["-i", two.to_str().unwrap(), "plan", "--all"])
        .assert()
        .code(1)
        .stderr_eq(refusal("plan --all", 4_001_620, 1415));
    // One host's plan is never refused.
    let one = vxm()
        .args([
            "-i",
            inv.to_str().unwrap(),
            "plan",
            "--host",
            "h2001",
            "--format",
            "json",
        ])
        .assert()
        .success()
        .stdout();
    assert_eq!(
        one.matches("\"device\": \"vxm100\"").count(),
        2000,
        "one FDB entry per peer"
    );
}

/// Starts `args` with stdout piped, reads until `wanted` shows up, then closes the pipe
/// (the command stops at its next write, as under `| head`) and returns what it read.
fn first_output(args: &[&str], wanted: &str) -> String {
    let mut child = vxm()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    while !String::from_utf8_lossy(&seen).contains(wanted) {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "ended before `{wanted}`: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    // A closed pipe ends the command quietly, with exit 0.
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&seen).into_owned()
}

#[test]
fn allow_large_output_writes_the_plans_and_the_limit_itself_is_allowed() {
    let dir = Scratch::new("large-plan-allowed");
    let above = fleet(&dir, 2001, 1);
    let text = first_output(
        &[
            "-i",
            above.to_str().unwrap(),
            "plan",
            "--all",
            "--allow-large-output",
            "--format",
            "json",
        ],
        "\"host\": \"h2\"",
    );
    assert!(text.starts_with("[\n{\n  \"schema\""), "{text}");
    // 2,000 hosts on one network (3,998,000 entries) need no flag.
    let at = fleet(&dir, 2000, 1);
    first_output(
        &["-i", at.to_str().unwrap(), "plan", "--all", "--format", "json"],
        "\"host\": \"h2\"",
    );
    // The flag means nothing without --all: a usage error.
    let usage = vxm()
        .args([
            "-i",
            at.to_str().unwrap(),
            "plan",
            "--host",
            "h1",
            "--allow-large-output",
        ])
        .assert()
        .code(1)
        .stderr();
    assert_eq!(
        usage,
        "error: --allow-large-output applies to --all only (one host's output is never refused)\n"
    );
}

/// Waits until `path` exists (at most a minute).
fn wait_for(path: &Path, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("render ended ({status}) before writing {}", path.display());
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn render_all_above_the_limit_writes_nothing_unless_allowed() {
    let dir = Scratch::new("large-render");
    let inv = fleet(&dir, 2001, 1);
    let out = dir.join("out");
    vxm()
        .args([
            "-i",
            inv.to_str().unwrap(),
            "render",
            "--format",
            "networkd",
            "--all",
            "--out",
        ])
        .arg(&out)
        .assert()
        .code(1)
        .stderr_eq(refusal("render --all", 4_002_000, 2001));
    assert!(!out.exists(), "nothing is written, not even the directory");
    // Allowed: it writes host folders (stopped after the first, by its process id).
    let mut child = vxm()
        .args([
            "-q",
            "-i",
            inv.to_str().unwrap(),
            "render",
            "--format",
            "networkd",
            "--all",
        ])
        .arg("--allow-large-output")
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&out.join("h2"), &mut child);
    let _ = child.kill();
    child.wait().unwrap();
    assert!(out.join("h1/etc/systemd/network").is_dir());
}
