//! The Ignition form against the real Ignition of Debian (package `ignition` 2.14):
//!
//! - `ignition-validate` accepts the config of every host of every inventory, silently;
//! - the real Ignition binary (`--platform=file`, stages `fetch-offline` then `files`)
//!   materialises it into a root per host, where the files are exactly the networkd form's
//!   (paths, bytes and modes; nothing more);
//! - a user's config that merges ours by URL and verification hash (the README's recipe) gets
//!   both, and a wrong hash stops Ignition;
//! - end to end: in a namespace lab (crate `vxlan-mesh-lab`), the units Ignition wrote run as
//!   systemd would around systemd-networkd, networkd runs on the files Ignition wrote, and
//!   every container reaches every other, full-size frames cross, and nothing storms.
//!
//! Needs root, ignition, policycoreutils (setfiles, for Ignition's relabel step), iproute2,
//! iputils-ping, nftables, ebtables and systemd; fails (does not skip) without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::TempDir;
use vxlan_mesh_core::{Fleet, HostPlan};
use vxlan_mesh_gen::{render, Format};
use vxlan_mesh_lab::{names, Lab, LabSpec};

/// Debian ships the binary for the initramfs only.
const IGNITION: &str = "/usr/lib/dracut/modules.d/30ignition/ignition";
const NETWORKD: &str = "/lib/systemd/systemd-networkd";

/// What the root holds before Ignition runs, for its SELinux relabel step (setfiles), and
/// the record Ignition leaves: not part of the config's files.
const SCAFFOLD: [&str; 3] = [
    "etc/selinux/config",
    "etc/selinux/targeted/contexts/files/file_contexts",
    "etc/.ignition-result.json",
];

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn config_of(plan: &HostPlan) -> String {
    match render(plan, Format::Ignition).unwrap().as_slice() {
        [one] => one.contents.clone(),
        many => panic!("the Ignition form is one file, not {}", many.len()),
    }
}

/// Runs real Ignition on `config` (written to `dir`) into `dir/root`; Ignition's output
/// (its log, or its error) is returned with whether both stages passed.
fn try_materialise(config: &str, dir: &Path) -> (bool, String) {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("etc/selinux/targeted/contexts/files")).unwrap();
    std::fs::write(root.join(SCAFFOLD[0]), "SELINUX=disabled\nSELINUXTYPE=targeted\n").unwrap();
    std::fs::write(root.join(SCAFFOLD[1]), "").unwrap();
    let cfg = dir.join("config.ign");
    std::fs::write(&cfg, config).unwrap();
    let mut log = String::new();
    for stage in ["fetch-offline", "files"] {
        let out = run(Command::new(IGNITION)
            .env("IGNITION_CONFIG_FILE", &cfg)
            .arg("--platform=file")
            .arg(format!("--stage={stage}"))
            .arg("--root")
            .arg(&root)
            .arg("--config-cache")
            .arg(dir.join("cache.json"))
            .arg("--state-file")
            .arg(dir.join("state.json"))
            .arg("--log-to-stdout"));
        log.push_str(&text(&out));
        if !out.status.success() {
            return (false, log);
        }
    }
    (true, log)
}

fn materialise(config: &str, dir: &Path) -> PathBuf {
    let (ok, log) = try_materialise(config, dir);
    assert!(ok, "Ignition failed in {}:\n{log}", dir.display());
    dir.join("root")
}

/// Every file under `root` but the scaffold, with its mode and bytes; a symbolic link or
/// other special file fails the test (neither form makes one).
fn tree(root: &Path) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if meta.is_dir() {
                dirs.push(path);
            } else if SCAFFOLD.iter().any(|s| rel == Path::new(s)) {
                continue;
            } else {
                assert!(meta.is_file(), "{} is not a regular file", path.display());
                let mode = meta.permissions().mode() & 0o7777;
                out.insert(rel, (mode, std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

/// The networkd form's files as [`tree`] lists them.
fn networkd_tree(plan: &HostPlan) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
    render(plan, Format::Networkd)
        .unwrap()
        .into_iter()
        .map(|f| (f.path, (f.mode, f.contents.into_bytes())))
        .collect()
}

#[test]
fn ignition_validate_accepts_every_host_of_every_inventory_without_a_warning() {
    let tmp = TempDir::new("ign-validate");
    for (name, path) in common::inventories() {
        for plan in common::fleet(&path).plans() {
            let file = tmp.0.join(format!("{name}-{}.ign", plan.host));
            std::fs::write(&file, config_of(&plan)).unwrap();
            let out = run(Command::new("ignition-validate").arg(&file));
            assert!(
                out.status.success() && text(&out).trim().is_empty(),
                "{name}/{}: ignition-validate says ({:?}):\n{}",
                plan.host,
                out.status,
                text(&out)
            );
        }
    }
}

#[test]
fn real_ignition_writes_exactly_the_networkd_files_with_their_modes() {
    let tmp = TempDir::new("ign-files");
    let mut hosts = 0;
    for (name, path) in common::inventories() {
        for plan in common::fleet(&path).plans() {
            let dir = tmp.0.join(format!("{name}-{}", plan.host));
            let root = materialise(&config_of(&plan), &dir);
            let got = tree(&root);
            let want = networkd_tree(&plan);
            let listing = |t: &BTreeMap<PathBuf, (u32, Vec<u8>)>| {
                t.iter()
                    .map(|(p, (m, _))| format!("{:o} {}", m, p.display()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(listing(&got), listing(&want), "{name}/{}: paths or modes", plan.host);
            for (p, (_, bytes)) in &want {
                assert!(
                    got[p].1 == *bytes,
                    "{name}/{}: {} differs:\n--- Ignition wrote ---\n{}\n--- networkd form ---\n{}",
                    plan.host,
                    p.display(),
                    String::from_utf8_lossy(&got[p].1),
                    String::from_utf8_lossy(bytes)
                );
            }
            hosts += 1;
        }
    }
    assert!(hosts >= 15, "expected every host of the five inventories, got {hosts}");
}

/// Re-provisioning over a root that still holds older copies of our files (an earlier
/// provisioning, an image built with them): they are replaced, not a failed boot
/// (`overwrite: true`; with `false` Ignition stops at "A file exists there already").
#[test]
fn files_left_by_an_earlier_provisioning_are_replaced() {
    let tmp = TempDir::new("ign-over");
    let (_, path) = common::inventories()
        .into_iter()
        .find(|(n, _)| n == "per-peer-ebtables")
        .unwrap();
    let plan = common::fleet(&path).plan("lxd1").unwrap();
    let want = networkd_tree(&plan);
    let root = tmp.0.join("root");
    for p in want.keys() {
        std::fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
        std::fs::write(root.join(p), "stale\n").unwrap();
    }
    let root = materialise(&config_of(&plan), &tmp.0);
    assert!(tree(&root) == want, "a stale file survived");
}

/// `%XX` for every byte: the simplest data URL, independent of the form's own encoder.
fn data_url(bytes: &[u8]) -> String {
    let mut url = String::from("data:,");
    for b in bytes {
        url.push_str(&format!("%{b:02X}"));
    }
    url
}

/// A user's config as the README shows it: its own file, and ours merged by URL with a
/// `sha512-` verification hash. (A data URL here, to stay offline; Ignition verifies an
/// https source's hash the same way.)
fn user_config(ours: &str, hash: &str) -> String {
    serde_json::json!({
        "ignition": {
            "version": "3.3.0",
            "config": {"merge": [{"source": data_url(ours.as_bytes()), "verification": {"hash": hash}}]}
        },
        "storage": {"files": [{"path": "/etc/hostname", "mode": 0o644, "contents": {"source": "data:,lxd1%0A"}}]}
    })
    .to_string()
}

fn sha512(dir: &Path, contents: &str) -> String {
    let file = dir.join("ours.ign");
    std::fs::write(&file, contents).unwrap();
    let out = run(Command::new("sha512sum").arg(&file));
    assert!(out.status.success(), "{}", text(&out));
    let sum = String::from_utf8_lossy(&out.stdout);
    format!("sha512-{}", sum.split_whitespace().next().unwrap())
}

#[test]
fn a_user_config_merging_ours_by_hash_gets_both_and_a_wrong_hash_stops_ignition() {
    let tmp = TempDir::new("ign-merge");
    let (_, path) = common::inventories().into_iter().find(|(n, _)| n == "hetzner").unwrap();
    let plan = common::fleet(&path).plan("lxd1").unwrap();
    let ours = config_of(&plan);
    let hash = sha512(&tmp.0, &ours);

    let merged = tmp.0.join("merged");
    let root = materialise(&user_config(&ours, &hash), &merged);
    let mut want = networkd_tree(&plan);
    want.insert("etc/hostname".into(), (0o644, b"lxd1\n".to_vec()));
    assert!(tree(&root) == want, "the merge did not write both configs' files");

    let mut wrong = hash.clone();
    wrong.replace_range(wrong.len() - 1.., if hash.ends_with('0') { "1" } else { "0" });
    let (ok, log) = try_materialise(&user_config(&ours, &wrong), &tmp.0.join("wrong"));
    assert!(!ok, "Ignition accepted a config whose hash does not match:\n{log}");
    assert!(log.contains("hash"), "{log}");
    assert!(
        !tmp.0.join("wrong/root/etc/hostname").exists(),
        "a failed fetch must write nothing"
    );
}

// ---------------------------------------------------------------------------------------
// End to end: networkd on the files Ignition wrote, in a namespace lab.

/// One lab at a time in this binary: concurrent ping bursts on a 2-core machine lose pings.
static ONE_LAB_AT_A_TIME: Mutex<()> = Mutex::new(());

/// systemd-networkd running in a host namespace; killed on drop.
struct Networkd(Child);

impl Drop for Networkd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// networkd in `ns` on `root`'s etc/systemd/network, as notes.md says it runs in a
/// namespace: a private mount namespace, read-only sysfs (no waiting for udev), its own
/// /run/systemd with the files in /run/systemd/network.
fn start_networkd(ns: &str, root: &Path, log: &Path) -> Networkd {
    let script = format!(
        "set -e; umount /sys; mount -t sysfs -o ro sysfs /sys; mount -t tmpfs tmpfs /run/systemd; \
         mkdir -p /run/systemd/network /run/systemd/netif; cp -r '{}'/. /run/systemd/network/; \
         chown -R systemd-network:systemd-network /run/systemd/netif; exec {NETWORKD}",
        root.join("etc/systemd/network").display()
    );
    let child = Command::new("ip")
        .args(["netns", "exec", ns, "unshare", "-m", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start systemd-networkd in {ns}: {e}"));
    Networkd(child)
}

/// Runs the start commands (`ExecStartPre=`, `ExecStart=`, `ExecStartPost=`, a leading `-`
/// meaning failure is fine) of the units Ignition wrote under `root` that are ordered
/// `Before=` (`before`) or `After=` systemd-networkd.service, as systemd would. An absolute
/// path that exists in `root` (a shipped script or nft file) is taken from there.
fn run_units(lab: &Lab, ns: &str, root: &Path, before: bool) {
    let dir = root.join("etc/systemd/system");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    let mut units: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "service"))
        .collect();
    units.sort();
    for unit in units {
        let body = std::fs::read_to_string(&unit).unwrap();
        let ordered = |key: &str| {
            body.lines().any(|l| {
                l.strip_prefix(key)
                    .is_some_and(|v| v.split_whitespace().any(|u| u == "systemd-networkd.service"))
            })
        };
        if !ordered(if before { "Before=" } else { "After=" }) {
            continue;
        }
        for key in ["ExecStartPre=", "ExecStart=", "ExecStartPost="] {
            for cmd in body.lines().filter_map(|l| l.strip_prefix(key)) {
                let (may_fail, cmd) = cmd.strip_prefix('-').map_or((false, cmd), |c| (true, c));
                let argv: Vec<String> = cmd
                    .split_whitespace()
                    .map(|a| a.trim_matches('\''))
                    .map(|a| match a.strip_prefix('/') {
                        Some(rel) if root.join(rel).exists() => root.join(rel).display().to_string(),
                        _ => a.to_string(),
                    })
                    .collect();
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                let out = lab.exec(ns, &argv).unwrap();
                assert!(
                    may_fail || out.status.success(),
                    "{}: {argv:?}: {}",
                    unit.display(),
                    text(&out)
                );
            }
        }
    }
}

/// Waits until every bridge and VXLAN device of `plan` is up (networkd made them); the
/// overlay checks then prove the rest (flood entries, isolation, MTUs).
fn wait_devices(lab: &Lab, ns: &str, plan: &HostPlan, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let devices: Vec<&str> = plan
        .networks
        .iter()
        .flat_map(|n| std::iter::once(n.bridge.name.as_str()).chain(n.vxlans.iter().map(|v| v.name.as_str())))
        .collect();
    loop {
        let links = lab.exec(ns, &["ip", "-br", "link"]).unwrap();
        let links = String::from_utf8_lossy(&links.stdout);
        let up = |d: &&str| {
            links.lines().any(|l| {
                let mut words = l.split_whitespace();
                words.next().is_some_and(|n| n.split('@').next() == Some(*d)) && l.contains("UP")
            })
        };
        let missing: Vec<&&str> = devices.iter().filter(|d| !up(d)).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{ns}: networkd did not bring up {missing:?}:\n{links}\n--- networkd log ---\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn overlay_works(lab: &Lab, what: &str) {
    lab.attach_containers().unwrap();
    // A loaded machine may lose a ping: a failed matrix is probed again, twice at most.
    let mut matrix = lab.ping_matrix().unwrap();
    for _ in 0..2 {
        if matrix.is_full() {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        matrix = lab.ping_matrix().unwrap();
    }
    assert!(
        matrix.is_full(),
        "{what}: not every container reaches every other:\n{}",
        matrix.render_text()
    );
    let hosts = &lab.spec().hosts;
    for a in hosts {
        for b in hosts.iter().filter(|b| b.name != a.name) {
            let (ca, cb) = (&a.containers[0], &b.containers[0]);
            let probe = lab.max_frame_probe(ca, cb, ca.mtu).unwrap();
            assert!(
                probe.ok(),
                "{what}: frames of MTU {} from {} to {}: {probe:?}",
                ca.mtu,
                a.name,
                b.name
            );
        }
    }
    let check = lab.loop_check(Duration::from_secs(1)).unwrap();
    assert!(!check.storm, "{what}: broadcast storm: {check:?}");
}

fn ignition_end_to_end(inventory: &str, base: &str) {
    let _serial = ONE_LAB_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (_, path) = common::inventories().into_iter().find(|(n, _)| n == inventory).unwrap();
    let fleet: Fleet = common::fleet(&path);
    let lab = Lab::build(LabSpec::from_fleet(&fleet, 3, &names::unique_tag(base)).unwrap()).unwrap();
    let tmp = TempDir::new(base);
    let mut daemons = Vec::new();
    for host in &lab.spec().hosts {
        let plan = fleet.plan(&host.name).unwrap();
        let ns = host.netns.as_str();
        let root = materialise(&config_of(&plan), &tmp.0.join(&host.name));
        run_units(&lab, ns, &root, true);
        let log = tmp.0.join(format!("{}.networkd.log", host.name));
        daemons.push(start_networkd(ns, &root, &log));
        wait_devices(&lab, ns, &plan, &log);
        run_units(&lab, ns, &root, false);
        if plan.firewall.is_some() {
            let out = lab.exec(ns, &["nft", "list", "table", "inet", "vxlan_mesh"]).unwrap();
            assert!(out.status.success(), "{ns}: no firewall: {}", text(&out));
        }
    }
    overlay_works(&lab, &format!("Ignition form of {inventory}"));
    drop(daemons);
}

/// Per-peer mode with ebtables: the firewall and loop-prevention units and the networkd
/// drop-in come through `systemd.units`.
#[test]
fn end_to_end_per_peer_ebtables() {
    ignition_end_to_end("per-peer-ebtables", "gie");
}

/// Flood mode over IPv6, custom port, a second network only two of the hosts join.
#[test]
fn end_to_end_ipv6_flood() {
    ignition_end_to_end("ipv6-flood", "gi6");
}
