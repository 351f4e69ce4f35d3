//! Inventories the generator tests render: the two examples and the test fleets beside
//! this file (IPv6, ebtables, underlay device with the firewall off).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod lab;

use std::path::{Path, PathBuf};

use vxlan_mesh_core::{Fleet, Inventory};

/// `(short name, path)` of every inventory, examples first.
pub fn inventories() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [root.join("../examples"), root.join("tests/inventories")] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        found.sort();
        for p in found {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            out.push((name, p));
        }
    }
    assert!(
        out.len() >= 5,
        "expected the examples and test inventories, found {out:?}"
    );
    out
}

/// The validated fleet and path of the inventory `name` (see [`inventories`]).
pub fn example(name: &str) -> (Fleet, PathBuf) {
    let (_, path) = inventories()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no inventory {name}"));
    (fleet(&path), path)
}

/// Parses and validates an inventory file.
pub fn fleet(path: &Path) -> Fleet {
    let text = std::fs::read_to_string(path).unwrap();
    Inventory::from_toml_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .validate()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the real `netplan generate --root-dir ROOT` on a rendered netplan tree (its output
/// lands in ROOT/run/systemd/network); panics naming `what` unless it succeeds.
pub fn netplan_generate(root: &Path, what: &str) {
    let out = std::process::Command::new("netplan")
        .args(["generate", "--root-dir"])
        .arg(root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run netplan (apt-get install netplan.io): {e}"));
    assert!(
        out.status.success(),
        "netplan generate failed for {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The label headers name: the path relative to the workspace, stable across machines.
pub fn label(name: &str, path: &Path) -> String {
    let dir = path.parent().and_then(|d| d.file_name()).unwrap().to_string_lossy();
    format!("{dir}/{name}.toml")
}

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "vxm-gen-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
