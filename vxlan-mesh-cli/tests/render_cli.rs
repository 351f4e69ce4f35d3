//! `vxlan-mesh render` as an operator runs it: stdout for the single-file shell form, files in
//! their deploy layout with --out, one folder per host with --all, clear errors otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

fn vxm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vxlan-mesh"))
        .current_dir(root())
        .env_remove("VXLAN_MESH_INVENTORY")
        .args(args)
        .output()
        .unwrap()
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vxm-render-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn shell_goes_to_stdout_and_names_its_inventory_and_host() {
    let out = vxm(&[
        "-i",
        "examples/hetzner.toml",
        "render",
        "--format",
        "shell",
        "--host",
        "lxd2",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.starts_with("#!/bin/sh\n# vxlan-mesh "), "{script}");
    assert!(script.contains("host 'lxd2'"));
    assert!(script.contains("# Inventory: 'examples/hetzner.toml'"));
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
    assert!(err.starts_with("error: the networkd form is 8 files ("), "{err}");
    assert!(err.contains("etc/systemd/network/50-vxlan-mesh-vxm100.netdev"), "{err}");
    assert!(err.trim_end().ends_with("pass --out DIR to write them"), "{err}");
}

#[test]
fn all_needs_out_and_writes_one_folder_per_host() {
    let out = vxm(&[
        "-i",
        "examples/classic-geo.toml",
        "render",
        "--format",
        "netplan",
        "--all",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--all writes one folder per host and needs --out DIR"));

    let dir = scratch("all");
    let d = dir.to_str().unwrap();
    let out = vxm(&[
        "-i",
        "examples/classic-geo.toml",
        "render",
        "--format",
        "netplan",
        "--all",
        "--out",
        d,
    ]);
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
    std::fs::remove_dir_all(&dir).unwrap();
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
