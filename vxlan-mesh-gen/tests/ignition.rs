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
use std::process::{Command, Output};

use common::lab::{assert_overlay_works, deploy_networkd, form_lab};
use common::{example, TempDir};
use vxlan_mesh_core::HostPlan;
use vxlan_mesh_gen::{render, Format};

/// Debian ships the binary for the initramfs only.
const IGNITION: &str = "/usr/lib/dracut/modules.d/30ignition/ignition";

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
/// The networkd form's files, whose headers name the command that rendered them: here
/// `render --format ignition`.
fn networkd_tree(plan: &HostPlan) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
    render(plan, Format::Networkd)
        .unwrap()
        .into_iter()
        .map(|f| {
            let contents = f
                .contents
                .replace(" render --format networkd ", " render --format ignition ");
            (f.path, (f.mode, contents.into_bytes()))
        })
        .collect()
}

/// Flatcar's `/usr` is read-only: nothing may be written there; and every file with a
/// header names the command that rendered it, `--format ignition`, not the networkd form.
#[test]
fn no_file_is_under_usr_and_every_header_names_the_ignition_form() {
    for (name, path) in common::inventories() {
        for plan in common::fleet(&path).plans() {
            let root = Path::new("/");
            for f in render(&plan, Format::Networkd).unwrap() {
                let path = root.join(&f.path);
                assert!(
                    !path.starts_with("/usr"),
                    "{name}/{}: {} is under /usr",
                    plan.host,
                    path.display()
                );
            }
            let config = config_of(&plan);
            assert!(!config.contains("\"path\": \"/usr"), "{name}/{}: {config}", plan.host);
            for networkd in ["--format%20networkd", "--format networkd"] {
                assert!(!config.contains(networkd), "{name}/{}: {config}", plan.host);
            }
            assert!(config.contains("--format%20ignition"), "{name}/{}: {config}", plan.host);
        }
    }
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
    let (fleet, _) = example("per-peer-ebtables");
    let plan = fleet.plan("lxd1").unwrap();
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
    let (fleet, _) = example("hetzner");
    let plan = fleet.plan("lxd1").unwrap();
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

fn ignition_end_to_end(inventory: &str, base: &str) {
    let (_serial, fleet, lab, tmp) = form_lab(inventory, base);
    let mut daemons = Vec::new();
    for host in &lab.spec().hosts {
        let plan = fleet.plan(&host.name).unwrap();
        let ns = host.netns.as_str();
        let root = materialise(&config_of(&plan), &tmp.0.join(&host.name));
        let log = tmp.0.join(format!("{}.networkd.log", host.name));
        daemons.push(deploy_networkd(
            &lab,
            ns,
            &root,
            &[root.join("etc/systemd/network")],
            &plan,
            &log,
        ));
        if plan.firewall.is_some() {
            let out = lab.exec(ns, &["nft", "list", "table", "inet", "vxlan_mesh"]).unwrap();
            assert!(out.status.success(), "{ns}: no firewall: {}", text(&out));
        }
    }
    assert_overlay_works(&lab, &format!("Ignition form of {inventory}"));
    drop(daemons);
}

/// Per-peer mode with ebtables: the firewall and loop-prevention units and the networkd
/// drop-in come through `systemd.units`.
#[test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs root: run with --features e2e")]
fn end_to_end_per_peer_ebtables() {
    ignition_end_to_end("per-peer-ebtables", "gie");
}

/// Flood mode over IPv6, custom port, a second network only two of the hosts join.
#[test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs root: run with --features e2e")]
fn end_to_end_ipv6_flood() {
    ignition_end_to_end("ipv6-flood", "gi6");
}
