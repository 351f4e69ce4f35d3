//! `lab up` prints, for each host, the commands that run `status`, `probe`, `wg` and `vtysh`
//! on it; here they are run as printed, with `sh -c`, on real labs: clear, encrypted
//! (wireguard-go in each host's mount namespace) and evpn (zebra and bgpd per host). `--tag`
//! is given after the `lab` subcommand (`lab up --tag T`) and before it (`lab --tag T ...`).
//! Needs root, iproute2, iputils-ping, nftables, wireguard-go, wireguard-tools and frr.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use common::Scratch;
use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_lab::names;

/// A lab removed (`lab down --tag T`, the tag after the subcommand) when dropped, also
/// when the test fails.
struct Tag(String);

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = Command::new(common::BIN)
            .args(["lab", "down", "--tag", &self.0])
            .output();
    }
}

/// `lab up --tag T` of `inventory`; the printed commands by (host, what).
fn up(inventory: &std::path::Path, tag: &Tag) -> BTreeMap<(String, String), String> {
    let out = Command::new(common::BIN)
        .arg("-i")
        .arg(inventory)
        .args(["lab", "up", "--containers", "1", "--tag", &tag.0])
        .output()
        .unwrap();
    assert!(out.status.success(), "lab up: {}", common::text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(&format!("lab `{}` up", tag.0)), "{stdout}");
    let mut commands = BTreeMap::new();
    for line in stdout.lines().filter(|l| l.starts_with("  ")) {
        let (head, command) = line.trim_start().split_once(": ").unwrap();
        let (host, what) = head.split_once(' ').unwrap();
        commands.insert((host.to_string(), what.to_string()), command.to_string());
    }
    commands
}

fn sh(command: &str) -> Output {
    Command::new("sh").args(["-c", command]).output().unwrap()
}

/// The command for (host, what), run: its exit code and output.
fn run(commands: &BTreeMap<(String, String), String>, host: &str, what: &str, extra: &str) -> (Option<i32>, String) {
    let command = commands
        .get(&(host.to_string(), what.to_string()))
        .unwrap_or_else(|| panic!("no `{what}` command for {host} in {commands:?}"));
    let out = sh(&format!("{command}{extra}"));
    (out.status.code(), common::text(&out))
}

fn inventory(dir: &Scratch, text: &str) -> std::path::PathBuf {
    dir.write("inventory.toml", text)
}

#[test]
fn a_clear_labs_printed_status_and_probe_run_on_their_host() {
    let dir = Scratch::new("howto");
    let inv = inventory(&dir, &FleetBuilder::new().underlay("198.51.100.0").hosts(2).toml());
    let tag = Tag(names::unique_tag("ht"));
    let commands = up(&inv, &tag);
    assert_eq!(commands.len(), 4, "{commands:?}");
    for host in ["h1", "h2"] {
        let (code, text) = run(&commands, host, "status", "");
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains(&format!("host {host}: converged")), "{text}");
        let (code, text) = run(&commands, host, "probe", "");
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("1 of 1 peer(s) fit"), "{text}");
    }
    // The printed status looks at its own host: drift made on h2 behind the tool's back
    // shows in h2's status only.
    let h2 = format!("{}h1", names::tag_prefix(&tag.0));
    let out = Command::new("ip")
        .args(["netns", "exec", &h2, "ip", "link", "set", "vxbr0", "mtu", "1300"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(run(&commands, "h2", "status", "").0, Some(2));
    assert_eq!(run(&commands, "h1", "status", "").0, Some(0));
    // The tag before the subcommand names the same lab.
    let check = Command::new(common::BIN)
        .args(["lab", "--tag", &tag.0, "check", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("\"reachability\""),
        "{}",
        common::text(&check)
    );
}

#[test]
fn an_encrypted_labs_printed_wg_and_status_reach_its_wireguard_go() {
    let dir = Scratch::new("howto-wg");
    // Public keys whose private halves nobody has: the lab makes its own.
    let keys = [
        "PTxMJzJm6i9Wq4fl6pfSfwn5BV1XZXYzODLSauYuKjs=",
        "aaDlFwFYWqM/2pYElqToS8h1zVFpsxZhGUYBcyVkLHs=",
    ];
    let inv = inventory(&dir, &common::encrypted_inventory(&keys, "flood", false));
    let tag = Tag(names::unique_tag("hw"));
    let commands = up(&inv, &tag);
    for host in ["wg1", "wg2"] {
        let (code, text) = run(&commands, host, "wg", "");
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("interface: vxmwg0") && text.contains("peer: "), "{text}");
        // Exit 3 until the first WireGuard handshake completes (the hardened overlay sends
        // nothing at link-up, so a session starts with the first packet, and a handshake
        // that crossed the peer's is retried after 5 s).
        let start = std::time::Instant::now();
        let (code, text) = loop {
            let (code, text) = run(&commands, host, "status", "");
            if code != Some(3) || start.elapsed() > std::time::Duration::from_secs(20) {
                break (code, text);
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        };
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("converged"), "{text}");
    }
}

#[test]
fn an_evpn_labs_printed_vtysh_and_status_reach_its_frr() {
    let dir = Scratch::new("howto-evpn");
    let inv = inventory(
        &dir,
        &FleetBuilder::new()
            .evpn("192.0.2.0/24")
            .evpn_settings(|e| {
                e.keepalive = Some(1);
                e.hold_time = Some(3);
            })
            .hosts(2)
            .toml(),
    );
    let tag = Tag(names::unique_tag("he"));
    let commands = up(&inv, &tag);
    for host in ["h1", "h2"] {
        let (code, text) = run(&commands, host, "vtysh", " -c 'show running-config'");
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("router bgp 65000"), "{text}");
        let (code, text) = run(&commands, host, "status", "");
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("converged"), "{text}");
    }
    let (code, text) = run(&commands, "h2", "vtysh", " -c 'show bgp l2vpn evpn summary'");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("192.0.2.1"), "{text}");
}
