//! `vxlan-mesh render` as an operator runs it: stdout for the single-file shell form, files in
//! their deploy layout with --out, one folder per host with --all, clear errors otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Output;

use common::{inventory_text, Scratch};

fn vxm(args: &[&str]) -> Output {
    common::vxm().args(args).output().unwrap()
}

#[test]
fn shell_goes_to_stdout_and_names_its_inventory_and_host() {
    for host in ["lxd1", "lxd2"] {
        let out = vxm(&[
            "-i",
            "examples/hetzner.toml",
            "render",
            "--format",
            "shell",
            "--host",
            host,
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.starts_with("#!/bin/sh\n# vxlan-mesh "), "{script}");
        assert!(script.contains(&format!("host '{host}'")));
        assert!(script.contains("# Inventory: 'examples/hetzner.toml'"));
        if host == "lxd1" {
            assert!(script.contains("'vxm1003'"), "per-peer device towards lxd4 missing");
        }
    }
}

#[test]
fn a_multi_file_form_without_out_is_refused_with_the_file_list() {
    let out = vxm(&[
        "-i",
        "examples/classic-geo.toml",
        "render",
        "--format",
        "networkd",
        "--host",
        "lxd1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: the networkd form is 9 files ("), "{err}");
    assert!(err.contains("etc/systemd/network/50-vxlan-mesh-vxm100.netdev"), "{err}");
    assert!(err.trim_end().ends_with("pass --out DIR to write them"), "{err}");
}

#[test]
fn all_needs_out_and_writes_one_folder_per_host() {
    let all = [
        "-i",
        "examples/classic-geo.toml",
        "render",
        "--format",
        "netplan",
        "--all",
    ];
    let out = vxm(&all);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--all writes one folder per host and needs --out DIR"));

    let dir = Scratch::new("all");
    let d = dir.to_str().unwrap();
    let out = vxm(&[&all[..], &["--out", d]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for host in ["lxd1", "lxd2", "lxd3", "lxd4"] {
        let yaml = dir.join(host).join("etc/netplan/60-vxlan-mesh.yaml");
        let mode = std::fs::metadata(&yaml).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", yaml.display());
        let dropin = dir
            .join(host)
            .join("etc/systemd/network/10-netplan-vxm100.network.d/50-vxlan-mesh.conf");
        assert_eq!(
            std::fs::read_to_string(dropin).unwrap().matches("[BridgeFDB]").count(),
            3
        );
    }
}

#[test]
fn host_and_all_conflict() {
    let out = vxm(&[
        "-i",
        "examples/classic-geo.toml",
        "render",
        "--format",
        "shell",
        "--host",
        "lxd1",
        "--all",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'--host <HOST>' cannot be used with '--all'"));
}

/// `render --out DIR` for host `h1` of `inventory`; returns stderr, panics on failure.
fn render_out(inventory: &Path, format: &str, out: &Path) -> String {
    let out = common::vxm()
        .arg("-i")
        .arg(inventory)
        .args(["render", "--format", format, "--host", "h1", "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn a_symlink_in_the_output_tree_is_never_followed() {
    let dir = Scratch::new("symlink");
    let inv = dir.write("fleet.toml", &inventory_text("isolation", false, 3, None));
    // Someone who can write the output directory planted links: a directory to elsewhere,
    // and the shell script's name to a file of root's.
    let outside = dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let precious = outside.join("precious");
    std::fs::write(&precious, "precious\n").unwrap();
    std::fs::set_permissions(&precious, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(out.join("etc")).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("etc/systemd")).unwrap();
    // The script's directory: a link at a file's own name is replaced (its target
    // untouched), a link on the way to it is refused.
    std::os::unix::fs::symlink(&outside, out.join("etc/vxlan-mesh")).unwrap();

    let run = |format: &str| {
        common::vxm()
            .arg("-i")
            .arg(&inv)
            .args(["render", "--format", format, "--host", "h1", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let networkd = run("networkd");
    assert_eq!(networkd.status.code(), Some(1), "{}", common::text(&networkd));
    let stderr = String::from_utf8_lossy(&networkd.stderr);
    assert!(
        ["etc/systemd", "etc/vxlan-mesh"]
            .iter()
            .any(|l| stderr.contains(&format!(
                "`{}` is a symbolic link; refusing to write through it",
                out.join(l).display()
            ))),
        "{stderr}"
    );
    let shell = run("shell");
    assert_eq!(shell.status.code(), Some(1), "{}", common::text(&shell));
    // Nothing landed outside, the link's target kept its content and mode.
    let mut names: Vec<String> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["precious"]);
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "precious\n");
    assert_eq!(
        std::fs::metadata(&precious).unwrap().permissions().mode() & 0o7777,
        0o640
    );
}

#[test]
fn a_rerender_removes_what_it_no_longer_writes_and_nothing_else() {
    let dir = Scratch::new("stale");
    let inv = dir.write("fleet.toml", &inventory_text("isolation", false, 3, None));
    let out = dir.join("out");
    let net = out.join("etc/systemd/network");
    let stderr = render_out(&inv, "networkd", &out);
    assert!(!stderr.contains("removed"), "{stderr}");
    // Per-peer mode: the last device (`vxm1001`) is the one towards h3.
    let towards_h3 = ["50-vxlan-mesh-vxm1001.netdev", "50-vxlan-mesh-vxm1001.network"];
    for f in towards_h3 {
        assert!(net.join(f).exists(), "{f}");
    }
    std::fs::write(net.join("10-mine.network"), "[Match]\nName=eth9\n").unwrap();

    // h3 leaves the fleet: its device's files go, the operator's file stays.
    std::fs::write(&inv, inventory_text("isolation", false, 2, None)).unwrap();
    let stderr = render_out(&inv, "networkd", &out);
    for f in towards_h3 {
        assert!(!net.join(f).exists(), "{f} left behind");
        assert!(stderr.contains(&format!("etc/systemd/network/{f}")), "{stderr}");
    }
    assert!(stderr.contains("; removed 2 stale: "), "{stderr}");
    assert!(net.join("50-vxlan-mesh-vxm1000.netdev").exists());
    assert_eq!(
        std::fs::read_to_string(net.join("10-mine.network")).unwrap(),
        "[Match]\nName=eth9\n"
    );
}

/// A file render wrote that the operator edited afterwards is theirs now: a render that no
/// longer writes it keeps it and says so; the manifest holds each file's SHA-256, which
/// `sha256sum -c` accepts.
#[test]
fn a_rerender_keeps_a_file_edited_since_it_was_rendered() {
    let dir = Scratch::new("edited");
    let inv = dir.write("fleet.toml", &inventory_text("isolation", false, 3, None));
    let out = dir.join("out");
    let net = out.join("etc/systemd/network");
    render_out(&inv, "networkd", &out);
    let check = std::process::Command::new("sha256sum")
        .args(["--quiet", "-c", vxlan_mesh_gen::MANIFEST])
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let edited = net.join("50-vxlan-mesh-vxm1001.network");
    let mine = std::fs::read_to_string(&edited).unwrap() + "# kept for the migration\n";
    std::fs::write(&edited, &mine).unwrap();

    std::fs::write(&inv, inventory_text("isolation", false, 2, None)).unwrap();
    let stderr = render_out(&inv, "networkd", &out);
    assert!(!net.join("50-vxlan-mesh-vxm1001.netdev").exists());
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), mine, "{stderr}");
    assert!(
        stderr.contains("; removed 1 stale: etc/systemd/network/50-vxlan-mesh-vxm1001.netdev; kept 1 "),
        "{stderr}"
    );
}

#[test]
fn concurrent_renders_into_one_directory_leave_whole_files() {
    // Two inventories whose files differ (3 and 40 peers), rendered again and again at the
    // same time into the same directory: every file must be one render's whole version.
    let dir = Scratch::new("concurrent");
    let small = dir.write("small.toml", &inventory_text("flood", false, 3, None));
    let big = dir.write("big.toml", &inventory_text("flood", false, 40, None));
    let expected = |inv: &Path, tag: &str| {
        let d = dir.join(tag);
        render_out(inv, "networkd", &d);
        d
    };
    let (small_dir, big_dir) = (expected(&small, "small"), expected(&big, "big"));
    let out = dir.join("out");
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let inv = if i % 2 == 0 { small.clone() } else { big.clone() };
            let out = out.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    render_out(&inv, "networkd", &out);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let net = Path::new("etc/systemd/network");
    for entry in std::fs::read_dir(out.join(net)).unwrap() {
        let name = entry.unwrap().file_name();
        let rel = net.join(&name);
        let got = std::fs::read(out.join(&rel)).unwrap();
        let versions = [
            std::fs::read(small_dir.join(&rel)).ok(),
            std::fs::read(big_dir.join(&rel)).ok(),
        ];
        assert!(
            versions.iter().flatten().any(|v| *v == got),
            "{} is neither render's version (a temporary file or a spliced one)",
            rel.display()
        );
    }
}
