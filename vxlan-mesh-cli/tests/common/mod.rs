//! Harness for tests that run the CLI in network namespaces they create (root needed):
//! a named namespace deleted on drop, a temporary directory, command output as text.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const BIN: &str = env!("CARGO_BIN_EXE_vxlan-mesh");

fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "vxms-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A named network namespace with `lo` up, deleted on drop.
pub struct Netns(pub String);

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let ns = Netns(unique(tag));
        sh(&format!("ip netns add {}", ns.0));
        ns.sh("ip link set lo up");
        ns
    }

    /// Runs a shell command inside the namespace; panics on failure.
    pub fn sh(&self, cmd: &str) -> String {
        let out = self.try_sh(cmd);
        assert!(out.status.success(), "`{cmd}` failed: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a shell command inside the namespace.
    pub fn try_sh(&self, cmd: &str) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0, "sh", "-c", cmd])
            .output()
            .unwrap()
    }

    /// A UDP socket bound to `port` on every address of the namespace, held by the test
    /// until dropped (made by a thread that entered the namespace).
    pub fn hold_udp_port(&self, port: u16) -> std::net::UdpSocket {
        let path = format!("/run/netns/{}", self.0);
        std::thread::spawn(move || {
            let ns = std::fs::File::open(path).unwrap();
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            std::net::UdpSocket::bind(("0.0.0.0", port)).unwrap()
        })
        .join()
        .unwrap()
    }

    /// Runs the CLI inside the namespace.
    pub fn cli(&self, inventory: &Path, args: &[&str]) -> Output {
        self.cli_via(&[], inventory, args)
    }

    /// Runs the CLI inside the namespace behind `wrapper` (a command that ends by running
    /// its arguments, e.g. `env PATH=...`).
    pub fn cli_via(&self, wrapper: &[&str], inventory: &Path, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(wrapper)
            .args([BIN, "-i"])
            .arg(inventory)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Runs a shell command in the test's own namespace; panics on failure.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(out.status.success(), "`{cmd}` failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit code, stdout and stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A temporary directory, removed on drop.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    /// Writes `text` to `name` in the directory; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An inventory of `hosts` hosts (hN is 198.51.100.N), one network `lan` (VNI `vni`, bridge
/// vxbr0); `head` goes before the tables (mode, loop prevention, port, firewall) and
/// `host_extra` into every host table.
pub fn inventory(head: &str, vni: u32, hosts: usize, host_extra: &str) -> String {
    let mut s = format!("{head}\n[[networks]]\nname = \"lan\"\nvni = {vni}\nbridge = \"vxbr0\"\n");
    for i in 1..=hosts {
        s.push_str(&format!(
            "[[hosts]]\nname = \"h{i}\"\nid = {i}\naddress = \"198.51.100.{i}\"\n{host_extra}\n"
        ));
    }
    s
}
