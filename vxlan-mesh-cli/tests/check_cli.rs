//! `vxlan-mesh check` as an operator runs it: one bad inventory per rule of the core, each
//! error with its position, code and field path, in text and JSON; inputs that are too large.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// The binary, run from the workspace root with no inventory from the environment.
fn vxm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vxlan-mesh"))
        .current_dir(root())
        .env_remove("VXLAN_MESH_INVENTORY")
        .args(args)
        .output()
        .unwrap()
}

/// A scratch directory of this test, removed when dropped (also when the test fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("vxm-check-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------- size limit

const LIMIT: usize = 4 << 20;

#[test]
fn an_endless_input_is_refused_at_the_size_limit() {
    let out = vxm(&["-i", "/dev/zero", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: /dev/zero: cannot read inventory: it is larger than 4 MiB, the limit for an inventory file\n"
    );
}

#[test]
fn a_fifo_that_never_ends_is_refused_at_the_size_limit() {
    let dir = Scratch::new("fifo");
    let fifo = dir.0.join("inventory.toml");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // `yes` writes until its reader goes away: the input never ends by itself.
    let mut writer = Command::new("sh")
        .arg("-c")
        .arg("exec yes '# padding' > \"$0\"")
        .arg(&fifo)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = vxm(&["-i", fifo.to_str().unwrap(), "check"]);
    let _ = writer.kill();
    let _ = writer.wait();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("inventory.toml: cannot read inventory: it is larger than 4 MiB"),
        "{stderr}"
    );
}

#[test]
fn an_inventory_of_exactly_the_limit_is_read() {
    let dir = Scratch::new("limit");
    let text = std::fs::read_to_string(root().join("examples/classic-geo.toml")).unwrap();
    let mut padded = text.clone();
    while padded.len() + 8 <= LIMIT {
        padded.push_str("#######\n");
    }
    padded.push_str(&"#".repeat(LIMIT - padded.len() - 1));
    padded.push('\n');
    assert_eq!(padded.len(), LIMIT);
    let path = dir.0.join("big.toml");
    std::fs::write(&path, &padded).unwrap();
    let out = vxm(&["-i", path.to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // One byte more is refused.
    padded.push('\n');
    std::fs::write(&path, &padded).unwrap();
    let out = vxm(&["-i", path.to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than 4 MiB"));
}

#[test]
fn a_file_that_is_not_utf8_is_refused_naming_the_offset() {
    let dir = Scratch::new("utf8");
    let path = dir.0.join("latin1.toml");
    std::fs::write(&path, b"port = 4789\n# caf\xe9\n").unwrap();
    let out = vxm(&["-i", path.to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.ends_with("latin1.toml: cannot read inventory: it is not UTF-8 text (invalid byte at offset 17)\n"),
        "{stderr}"
    );
}
