//! `vxlan-mesh lab` end to end: the classic example inventories built in namespaces,
//! deployed through every `--via`, checked, cut and healed, and removed (also after a
//! SIGKILL mid-build). Needs root, iproute2, iputils-ping, nftables, systemd-networkd and
//! netplan; fails loudly without them. Every test has its own lab tag and removes its lab
//! on success and failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_lab::{list_namespaces, names};

mod common;

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

    fn lab<P: AsRef<Path>>(&self, inventory: Option<P>, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        if let Some(inv) = inventory {
            let inv = inv.as_ref();
            if inv.is_absolute() {
                cmd.arg("-i").arg(inv);
            } else {
                cmd.arg("-i").arg(example(&inv.to_string_lossy()));
            }
        }
        cmd.args(["lab", "--tag", &self.0]).args(args).output().unwrap()
    }

    fn ok<P: AsRef<Path>>(&self, inventory: Option<P>, args: &[&str]) -> String {
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
        let out = self.lab(None::<&str>, &["check", "--format", "json"]);
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
        let _ = self.lab(None::<&str>, &["down"]);
    }
}

fn text(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

/// An inventory of 3 hosts in `mode` (`flood`, `isolation` or `ebtables`), written to a
/// file removed on drop.
struct SmallFleet(PathBuf);

impl SmallFleet {
    fn new(mode: &str) -> SmallFleet {
        let s = FleetBuilder::new().layout(mode).hosts(3).toml();
        let path = std::env::temp_dir().join(format!("{mode}-{}.toml", names::unique_tag("fleet")));
        std::fs::write(&path, s).unwrap();
        SmallFleet(path)
    }
}

impl Drop for SmallFleet {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// up → check (every pair, full-size frames, no storm) → down (nothing left), with
/// `hosts` hosts of `containers` containers each.
fn up_check_down(via: &str, inventory: &Path, hosts: usize, containers: usize) {
    let tag = Tag::new();
    let n = containers.to_string();
    let up = tag.ok(Some(inventory), &["up", "--via", via, "--containers", &n]);
    let all = hosts * containers;
    assert!(up.contains(&format!("{hosts} hosts, {all} containers")), "{up}");
    let (v, code) = tag.check();
    let what = format!("{via} {}", inventory.display());
    assert_eq!(v["loop_check"]["storm"], false, "{what}: {}", text(&v["loop_check"]));
    assert_eq!(
        v["reachability"]["ok"],
        all * (all - 1),
        "{what}: {}",
        text(&v["reachability"])
    );
    assert_eq!(v["reachability"]["failed"].as_array().map(Vec::len), Some(0));
    let frames = v["frames"].as_array().unwrap();
    assert_eq!(frames.len(), hosts - 1);
    assert!(
        frames.iter().all(|f| f["fits"] == true && f["larger_fails"] == true),
        "{what}: {}",
        text(&v["frames"])
    );
    assert_eq!(v["ok"], true);
    assert_eq!(code, Some(0));
    assert_eq!(v["via"], via);

    let down = tag.ok(None::<&str>, &["down"]);
    assert!(
        down.contains(&format!("{} namespaces removed", 1 + hosts + all)),
        "{down}"
    );
    assert!(tag.namespaces().is_empty());
    // The state is gone too: check has no lab.
    let again = tag.lab(None::<&str>, &["check"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is up"));
}

/// The bundled example (4 hosts × 3 containers), then 3 hosts × 2 containers in every mode
/// and loop prevention: each deployed as the real form deploys it (for networkd and
/// netplan: the rendered units run around networkd, the ebtables unit included), so that a
/// per-peer lab never storms where a real host would not.
fn every_mode(via: &str) {
    up_check_down(via, &example("classic-geo.toml"), 4, 3);
    for mode in ["flood", "isolation", "ebtables"] {
        let fleet = SmallFleet::new(mode);
        up_check_down(via, &fleet.0, 3, 2);
    }
}

#[test]
fn via_netlink_in_every_mode() {
    every_mode("netlink");
}

#[test]
fn via_shell_in_every_mode() {
    every_mode("shell");
}

#[test]
fn via_networkd_in_every_mode() {
    every_mode("networkd");
}

#[test]
fn via_netplan_in_every_mode() {
    every_mode("netplan");
}

/// A per-peer lab without loop prevention storms: `check` reports the storm as a failed
/// loop check (exit 2), whatever else the storm breaks, instead of aborting.
#[test]
fn a_storm_is_a_failed_loop_check() {
    let tag = Tag::new();
    let fleet = SmallFleet::new("ebtables");
    tag.ok(Some(&fleet.0), &["up", "--via", "none", "--containers", "1"]);
    // Deploy by hand, then take the loop prevention away: the jump to the chain.
    for i in 0..3 {
        let ns = format!("{}h{i}", names::tag_prefix(&tag.0));
        let inv = fleet.0.to_str().unwrap();
        let apply = Command::new("ip")
            .args(["netns", "exec", &ns, BIN, "-q", "-i", inv, "apply"])
            .output()
            .unwrap();
        assert!(apply.status.success(), "{}", String::from_utf8_lossy(&apply.stderr));
        let del = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns,
                "ebtables",
                "-t",
                "filter",
                "-D",
                "FORWARD",
                "-j",
                "VXLAN-MESH",
            ])
            .output()
            .unwrap();
        assert!(del.status.success(), "{}", String::from_utf8_lossy(&del.stderr));
    }
    tag.ok(None::<&str>, &["attach"]);
    let (v, code) = tag.check();
    assert_eq!(v["loop_check"]["storm"], true, "{}", text(&v));
    assert_eq!(v["ok"], false);
    assert_eq!(code, Some(2), "{}", text(&v));
    let out = tag.lab(None::<&str>, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("STORM"));
}

#[test]
fn cut_loses_exactly_the_hosts_pairs_and_heal_brings_them_back() {
    let tag = Tag::new();
    tag.ok(Some("hetzner.toml"), &["up"]);
    let cut = tag.ok(None::<&str>, &["cut", "lxd3"]);
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

    tag.ok(None::<&str>, &["heal", "lxd3"]);
    let (v, code) = tag.check();
    assert_eq!(v["reachability"]["ok"], 132, "{}", text(&v["reachability"]));
    assert_eq!(code, Some(0));
    assert!(tag.lab(None::<&str>, &["cut", "nope"]).status.code() == Some(1));
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
    let down = tag.ok(None::<&str>, &["down"]);
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
    let attach = tag.lab(None::<&str>, &["attach"]);
    assert!(!attach.status.success());
    assert!(String::from_utf8_lossy(&attach.stderr).contains("vxbr0"));
    let bad = tag.lab(Some("classic-geo.toml"), &["up", "--via", "carrier-pigeon"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid value 'carrier-pigeon'"));
}

/// An encrypted inventory of 3 hosts (`192.0.2.N`, or `2001:db8::N` when `v6`) in `mode`,
/// whose public keys belong to nobody here: the lab must bring its own.
fn encrypted_fleet(mode: &str, v6: bool) -> SmallFleet {
    // Public keys whose private halves were thrown away when the test was written.
    let keys = [
        "Xc19hylN/yRezcvzIf1cWGR6P1Ocx8rHPkoMblAVoQc=",
        "YQ31MiYLGPzKOzgc2JOd47zXn5DiAWD+Rvs2kdkPrEo=",
        "/SxQoHzxwmOs8pYzw6pyuTTSLPNC3EKnuZnF1vAPojU=",
    ];
    let s = common::encrypted_inventory(&keys, mode, v6);
    let path = std::env::temp_dir().join(format!("wg-{}.toml", names::unique_tag("fleet")));
    std::fs::write(&path, s).unwrap();
    SmallFleet(path)
}

/// A private key file where the operator's would be, that the lab must neither read nor
/// write: its access time is set far back, so that a read moves it (relatime), and its key
/// is none of the inventory's, so that using it would fail the deployment.
struct UserKey {
    home: PathBuf,
    key: PathBuf,
}

impl UserKey {
    fn new() -> UserKey {
        let home = std::env::temp_dir().join(names::unique_tag("home"));
        std::fs::create_dir_all(&home).unwrap();
        let key = home.join("wireguard.key");
        let out = Command::new(BIN)
            .args(["-q", "keygen", "--out", key.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let touch = Command::new("touch")
            .args(["-a", "-d", "2000-01-01", key.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(touch.success());
        UserKey { home, key }
    }

    /// (access, modification and change times, size) of the key, and the names in HOME;
    /// read without reading the key, which would move its access time.
    fn snapshot(&self) -> KeySnapshot {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&self.key).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&self.home)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        (meta.atime(), meta.mtime(), meta.ctime(), meta.len(), names)
    }
}

/// What [`UserKey::snapshot`] compares.
type KeySnapshot = (i64, i64, i64, u64, Vec<String>);

impl Drop for UserKey {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// The metadata of the default key path (`/etc/vxlan-mesh/wireguard.key`), if any.
fn default_key() -> Option<(u64, i64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(vxlan_mesh_core::wireguard::DEFAULT_KEY_FILE)
        .ok()
        .map(|m| (m.len(), m.mtime()))
}

/// Pids of the wireguard-go daemons running in the network namespaces of lab `tag`.
fn wireguard_go_of(tag: &str) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let inodes: Vec<u64> = list_namespaces(&names::tag_prefix(tag))
        .unwrap()
        .iter()
        .filter_map(|n| std::fs::metadata(Path::new(vxlan_mesh_lab::NETNS_DIR).join(n)).ok())
        .map(|m| m.ino())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let ns = std::fs::metadata(format!("/proc/{pid}/ns/net")).map(|m| m.ino());
            comm.trim() == "wireguard-go" && ns.is_ok_and(|i| inodes.contains(&i))
        })
        .collect()
}

/// Whether process `pid` is gone (or dead, waiting for its parent to reap it).
fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesized command name.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// Nothing of lab `tag` is left: no namespace, no mount namespace file or mount, and every
/// wireguard-go in `daemons` exits (SIGKILL is asynchronous: wait for it, boundedly).
fn nothing_left(tag: &Tag, daemons: &[i32]) {
    assert!(tag.namespaces().is_empty(), "{:?}", tag.namespaces());
    let prefix = names::tag_prefix(&tag.0);
    let files: Vec<String> = std::fs::read_dir(vxlan_mesh_lab::MOUNT_NS_DIR)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    assert!(files.is_empty(), "mount namespace files left: {files:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&prefix), "mounts left:\n{mounts}");
    let start = Instant::now();
    while !daemons.iter().all(|p| dead(*p)) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "wireguard-go still running: {daemons:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!PathBuf::from(format!("/run/vxlan-mesh-lab/{}", tag.0)).exists());
}

/// An encrypted lab with `lab_args` to `up`, as the operator would run it with their own key
/// at HOME and in the environment: it comes up with the lab's own keys, one wireguard-go per
/// host, each in its own mount namespace; `check` passes at the encrypted MTU; the
/// operator's key is neither read nor written. Returns the check's JSON.
fn encrypted_up_check(tag: &Tag, fleet: &SmallFleet, user: &UserKey, up: &[&str], check: &[&str]) -> Value {
    let run = |inventory: Option<&Path>, args: &[&str]| {
        let mut cmd = Command::new(BIN);
        if let Some(inv) = inventory {
            cmd.arg("-i").arg(inv);
        }
        cmd.env("HOME", &user.home)
            .env("VXLAN_MESH_WIREGUARD_KEY", &user.key)
            .args(["lab", "--tag", &tag.0])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(Some(&fleet.0), up);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "up: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("lab's own key pairs"), "{stdout}");
    // One wireguard-go per host, each with its socket in its own /run/wireguard.
    assert_eq!(wireguard_go_of(&tag.0).len(), 3);
    for h in 0..3 {
        let netns = format!("{}h{h}", names::tag_prefix(&tag.0));
        let file = Path::new(vxlan_mesh_lab::MOUNT_NS_DIR).join(&netns);
        let ls = Command::new("nsenter")
            .arg(format!("--mount={}", file.display()))
            .arg(format!("--net=/run/netns/{netns}"))
            .args(["ls", "/run/wireguard"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&ls.stdout), "vxmwg0.sock\n", "{netns}");
    }
    let mut args = vec!["check", "--format", "json"];
    args.extend_from_slice(check);
    let out = run(None, &args);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.code(), Some(0), "{}", text(&v));
    assert_eq!(v["encryption"], "wireguard");
    assert_eq!(v["reachability"]["ok"], 6 * 5, "{}", text(&v["reachability"]));
    v
}

/// `lab down` of a 3-host lab with 2 containers per host (10 namespaces) leaves nothing of it,
/// and the operator's key as it was (`before`); `without_state`: the state file is removed
/// first, as after an `up` killed before it saved it, so that `down` has only the tag.
fn down_leaves_nothing(tag: &Tag, user: &UserKey, before: &KeySnapshot, without_state: bool) {
    let daemons = wireguard_go_of(&tag.0);
    if without_state {
        std::fs::remove_file(format!("/run/vxlan-mesh-lab/{}.json", tag.0)).unwrap();
    }
    let down = tag.ok(None::<&str>, &["down"]);
    assert!(down.contains("10 namespaces removed"), "{down}");
    nothing_left(tag, &daemons);
    assert_eq!(&user.snapshot(), before, "the operator's key was read or written");
}

/// An encrypted 3-host lab (`encrypted_fleet(mode, v6)`) brought up with `up`, checked
/// (frames at `mtu`) and taken down ([`down_leaves_nothing`]); returns the check's JSON.
fn encrypted_round(mode: &str, v6: bool, up: &[&str], mtu: u64, without_state: bool) -> Value {
    let tag = Tag::new();
    let fleet = encrypted_fleet(mode, v6);
    let user = UserKey::new();
    let before = user.snapshot();
    let v = encrypted_up_check(&tag, &fleet, &user, up, &[]);
    frames_fit_at(&v, mtu);
    down_leaves_nothing(&tag, &user, &before, without_state);
    v
}

/// Every largest-frame probe of a `check` report passed at `mtu`, and one byte more failed.
fn frames_fit_at(v: &Value, mtu: u64) {
    let frames = v["frames"].as_array().unwrap();
    assert!(
        frames
            .iter()
            .all(|f| f["mtu"] == mtu && f["fits"] == true && f["larger_fails"] == true),
        "{}",
        text(&v["frames"])
    );
}

#[test]
fn an_encrypted_lab_uses_its_own_keys_checks_and_leaves_nothing() {
    let tag = Tag::new();
    let fleet = encrypted_fleet("flood", false);
    let user = UserKey::new();
    let (before, etc_before) = (user.snapshot(), default_key());
    let v = encrypted_up_check(
        &tag,
        &fleet,
        &user,
        &["up", "--containers", "2"],
        &["--throughput", "--seconds", "1"],
    );
    // IPv4 underlay at 1500, IPv4 inner addresses: 1500 - 60 (WireGuard) - 50 (VXLAN).
    assert_eq!(v["frames"].as_array().unwrap().len(), 2);
    frames_fit_at(&v, 1390);
    // The baseline is the WireGuard link alone: host to host over the inner addresses.
    let t = &v["throughput"];
    assert_eq!(t["underlay_path"], "wireguard", "{}", text(t));
    assert_eq!(t["underlay_address"], "192.0.2.130", "{}", text(t));
    assert!(t["underlay_bits_per_second"].as_f64().unwrap() > 0.0, "{}", text(t));
    assert!(t["ratio"].as_f64().unwrap() > 0.0, "{}", text(t));
    let text_check = tag.ok(None::<&str>, &["check"]);
    assert!(text_check.contains("encrypted: wireguard"), "{text_check}");

    down_leaves_nothing(&tag, &user, &before, false);
    assert_eq!(default_key(), etc_before, "the default key path changed");
}

/// The rendered shell script deploys an encrypted lab too, with the lab's key of each host
/// in `VXLAN_MESH_WIREGUARD_KEY` (the operator's, set in the environment of `lab`, would
/// make the script refuse: it is none of the hosts' keys), in each host's mount namespace.
#[test]
fn an_encrypted_lab_via_the_shell_script() {
    let v = encrypted_round(
        "per-peer",
        false,
        &["up", "--via", "shell", "--containers", "2"],
        1390,
        false,
    );
    assert_eq!(v["via"], "shell");
}

/// IPv6 underlay, per-peer mode; then `down` without the state file (as after an `up` that
/// was killed before saving it) still finds the mount namespaces and daemons by the tag.
#[test]
fn an_encrypted_ipv6_lab_is_removed_by_its_tag_without_state() {
    // IPv6 underlay: 1500 - 80 (WireGuard) - 50 (VXLAN, IPv4 inner addresses).
    encrypted_round("per-peer", true, &["up", "--containers", "2"], 1370, true);
}

#[test]
fn encrypted_labs_refuse_networkd_and_netplan_saying_why_and_a_failed_up_leaves_no_keys() {
    let tag = Tag::new();
    let fleet = encrypted_fleet("flood", false);
    for via in ["networkd", "netplan"] {
        let out = tag.lab(Some(&fleet.0), &["up", "--via", via]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("`--via {via}` cannot deploy an encrypted inventory"))
                && err.contains("kernel's WireGuard module")
                && err.contains("/etc/vxlan-mesh/wireguard.key"),
            "{err}"
        );
        assert!(tag.namespaces().is_empty(), "nothing is built");
        assert!(!PathBuf::from(format!("/run/vxlan-mesh-lab/{}", tag.0)).exists());
    }
    // An `up` that fails after the lab made its keys (too many containers for the
    // containers' subnet) takes them away again.
    let out = tag.lab(Some(&fleet.0), &["up", "--containers", "100"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exceed"));
    assert!(!PathBuf::from(format!("/run/vxlan-mesh-lab/{}", tag.0)).exists());
}
