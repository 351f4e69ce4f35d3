//! `vxlan-mesh keygen` and `--wireguard-key`: a private key is written once, privately, and
//! never shown; `apply`, `status` and `down` refuse a key that is not the host's, naming the
//! host and both public keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{stderr, stdout, Scratch};
use vxlan_mesh_core::testing::FleetBuilder;

fn vxm(args: &[&str]) -> Output {
    common::vxm().args(args).output().unwrap()
}

/// Runs `keygen --out path` and returns the public key it printed.
fn keygen(path: &Path) -> String {
    let out = vxm(&["keygen", "--out", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    line.trim()
        .strip_prefix("public-key = \"")
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a public-key line: {line}"))
        .to_string()
}

/// What `wg pubkey` (wireguard-tools) derives from the key file.
fn wg_pubkey(path: &Path) -> String {
    let mut child = Command::new("wg")
        .arg("pubkey")
        .stdin(std::fs::File::open(path).unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .expect("wg (wireguard-tools) is needed by this test");
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(child.wait().unwrap().success());
    out.trim().to_string()
}

#[test]
fn keygen_writes_a_private_key_only_its_owner_reads_and_prints_its_public_key() {
    let dir = Scratch::new("keygen");
    let path = dir.join("etc/vxlan-mesh/wireguard.key");
    let public = keygen(&path);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(wg_pubkey(&path), public);
    let private = std::fs::read_to_string(&path).unwrap();
    assert_eq!(private.trim().len(), 44);
    assert_ne!(private.trim(), public);
    // Only the key file is left in the directory (no temporary file).
    assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
}

#[test]
fn keygen_refuses_to_overwrite_a_key_without_force() {
    let dir = Scratch::new("keygen-force");
    let path = dir.join("wireguard.key");
    let first = keygen(&path);
    let before = std::fs::read(&path).unwrap();
    let out = vxm(&["keygen", "--out", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("exists; refusing to overwrite a private key (pass --force"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);

    let out = vxm(&["keygen", "--out", path.to_str().unwrap(), "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(std::fs::read(&path).unwrap(), before);
    assert_ne!(wg_pubkey(&path), first);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}

/// An encrypted two-host inventory whose hosts have the public keys `a` and `b`.
fn inventory(dir: &Scratch, a: &str, b: &str) -> String {
    let text = FleetBuilder::new().lettered(2).public_keys(&[a, b]).toml();
    dir.write("inventory.toml", &text).to_str().unwrap().to_string()
}

#[test]
fn a_wrong_private_key_is_refused_naming_the_host_and_both_public_keys() {
    let dir = Scratch::new("wrong-key");
    let (key_a, key_b) = (dir.join("a.key"), dir.join("b.key"));
    let (pub_a, pub_b) = (keygen(&key_a), keygen(&key_b));
    let inv = inventory(&dir, &pub_a, &pub_b);
    let private_b = std::fs::read_to_string(&key_b).unwrap();
    let expected = format!(
        "host `a`: the private key in `{}` has the public key `{pub_b}`, but the inventory's `public-key` of host `a` is `{pub_a}`",
        key_b.display()
    );
    // The key by flag and by environment; apply (also --dry-run), status and down.
    let runs: [(&[&str], bool); 5] = [
        (&["apply", "--host", "a", "--force"], false),
        (&["apply", "--host", "a", "--dry-run"], false),
        (&["status", "--host", "a"], false),
        (&["down", "--host", "a"], false),
        (&["apply", "--host", "a", "--dry-run"], true),
    ];
    for (args, by_env) in runs {
        let mut cmd = common::vxm();
        cmd.args(["-i", &inv]).args(args);
        if by_env {
            cmd.env("VXLAN_MESH_WIREGUARD_KEY", &key_b);
        } else {
            cmd.args(["--wireguard-key", key_b.to_str().unwrap()]);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(&expected), "{args:?}: {err}");
        assert!(!err.contains(private_b.trim()) && !stdout(&out).contains(private_b.trim()));
    }
}

/// `status --host a` with the key file `key`.
fn status_with(inv: &str, key: &Path) -> Output {
    vxm(&[
        "-i",
        inv,
        "status",
        "--host",
        "a",
        "--wireguard-key",
        key.to_str().unwrap(),
    ])
}

#[test]
fn a_key_file_others_can_read_or_that_holds_no_key_is_refused_without_showing_it() {
    let dir = Scratch::new("bad-key");
    let key = dir.join("a.key");
    let public = keygen(&key);
    let inv = inventory(&dir, &public, "1VY4lZYnYrHKR8drJcLOjvYyqts+9ocnTXoTmNI+MjU=");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = status_with(&inv, &key);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("is readable by others or writable by its group (mode 644)"),
        "{err}"
    );

    let garbage = dir.write("garbage.key", "this is not a key at all, and must not be echoed\n");
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = status_with(&inv, &garbage);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("does not hold a WireGuard private key"), "{err}");
    assert!(!err.contains("must not be echoed"), "{err}");
}

/// The message after the `error: ` (CLI) or `HOST: ` (script) prefix of the line naming `key`.
fn refusal(said: &str, key: &Path) -> Option<String> {
    let shown = format!("`{}`", key.display());
    said.lines().find_map(|l| l.find(&shown).map(|at| l[at..].to_string()))
}

#[test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs root (chown): run with --features e2e")]
fn the_shell_script_refuses_a_key_file_the_cli_refuses_with_the_same_message() {
    let dir = Scratch::new("script-key");
    let key = dir.join("a.key");
    let public = keygen(&key);
    let inv = inventory(&dir, &public, "1VY4lZYnYrHKR8drJcLOjvYyqts+9ocnTXoTmNI+MjU=");
    let script = vxm(&["-i", &inv, "render", "--format", "shell", "--host", "a"]);
    assert!(script.status.success(), "{}", stderr(&script));
    let script = dir.write("vxlan-mesh.sh", &stdout(&script));
    let ns = common::Netns::new("scriptkey");
    // Both forms, in a namespace of the test's own, by `status` (which changes nothing).
    let both = || {
        let cli = ns.cli(
            Path::new(&inv),
            &["status", "--host", "a", "--wireguard-key", key.to_str().unwrap()],
        );
        let sh = ns.try_sh(&format!(
            "VXLAN_MESH_WIREGUARD_KEY={} sh {} status",
            key.display(),
            script.display()
        ));
        (cli, sh)
    };
    let cases: [(u32, u32, Option<String>); 7] = [
        (0o600, 0, None),
        (0o640, 0, None),
        (
            0o644,
            0,
            Some(vxlan_mesh_core::key_file::exposed_message(key.to_str().unwrap(), "644")),
        ),
        (
            0o604,
            0,
            Some(vxlan_mesh_core::key_file::exposed_message(key.to_str().unwrap(), "604")),
        ),
        (
            0o660,
            0,
            Some(vxlan_mesh_core::key_file::exposed_message(key.to_str().unwrap(), "660")),
        ),
        (
            0o620,
            0,
            Some(vxlan_mesh_core::key_file::exposed_message(key.to_str().unwrap(), "620")),
        ),
        (
            0o600,
            65534,
            Some(vxlan_mesh_core::key_file::owner_message(key.to_str().unwrap(), "65534")),
        ),
    ];
    for (mode, owner, refused) in cases {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(&key, Some(owner), None).unwrap();
        let (cli, sh) = both();
        let (cli_said, sh_said) = (common::text(&cli), common::text(&sh));
        match &refused {
            Some(message) => {
                assert_eq!(cli.status.code(), Some(1), "mode {mode:o} owner {owner}: {cli_said}");
                assert_eq!(sh.status.code(), Some(1), "mode {mode:o} owner {owner}: {sh_said}");
                assert_eq!(refusal(&cli_said, &key).as_ref(), Some(message), "{cli_said}");
                assert_eq!(refusal(&sh_said, &key).as_ref(), Some(message), "{sh_said}");
            }
            None => {
                // Accepted: both go on to compare the host with the plan (it differs: exit 2,
                // or 3 as no WireGuard peer was ever seen).
                assert!(matches!(cli.status.code(), Some(2 | 3)), "mode {mode:o}: {cli_said}");
                assert!(matches!(sh.status.code(), Some(2 | 3)), "mode {mode:o}: {sh_said}");
                assert_eq!(refusal(&cli_said, &key), None, "{cli_said}");
                assert_eq!(refusal(&sh_said, &key), None, "{sh_said}");
            }
        }
    }
}

#[test]
fn keygen_makes_missing_directories_private_and_leaves_existing_ones() {
    let dir = Scratch::new("keygen-dirs");
    std::fs::set_permissions(&*dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = dir.join("etc/vxlan-mesh/wireguard.key");
    keygen(&key);
    for made in [dir.join("etc"), dir.join("etc/vxlan-mesh")] {
        let mode = std::fs::metadata(&made).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700, "{}", made.display());
    }
    let mode = std::fs::metadata(&*dir).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o755, "an existing directory keeps its mode");
}

#[test]
fn a_private_key_pasted_as_a_public_key_is_refused_without_printing_it() {
    let dir = Scratch::new("pasted");
    let key = dir.join("a.key");
    let public = keygen(&key);
    let private = std::fs::read_to_string(&key).unwrap().trim().to_string();
    let other = "1VY4lZYnYrHKR8drJcLOjvYyqts+9ocnTXoTmNI+MjU=";
    // Host a's own entry, or its peer b's, holds a's private key instead of a public key.
    for (a, b, host) in [(&*private, other, "a"), (&*public, &*private, "b")] {
        let inv = inventory(&dir, a, b);
        for args in [&["status", "--host", "a"][..], &["apply", "--host", "a", "--dry-run"]] {
            let out = common::vxm()
                .args(["-i", &inv])
                .args(args)
                .args(["--wireguard-key", key.to_str().unwrap()])
                .output()
                .unwrap();
            let said = common::text(&out);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
            assert!(
                said.contains(&format!(
                    "host `{host}`: its `public-key` in the inventory is the private key in `{}` (not printed here)",
                    key.display()
                )),
                "{args:?}: {said}"
            );
            assert!(!said.contains(&private), "the private key was printed: {said}");
        }
    }
}
