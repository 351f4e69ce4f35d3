//! Shared by the tests that need a network namespace of their own (all of them need the
//! `netlink` feature).
#![allow(clippy::expect_used, clippy::unwrap_used, dead_code)]

use std::process::Command;

use nix::sched::{unshare, CloneFlags};

pub mod converge;

/// Runs `f` in a fresh, anonymous network namespace (gone when the thread ends), so tests
/// run in parallel and leave nothing behind. Needs root; fails loudly without.
pub fn in_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET) needs root");
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Runs a command; its standard output (fails the test when the command fails).
pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("spawn");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A named namespace, deleted on drop.
pub struct Named(pub String);

impl Drop for Named {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

impl Named {
    /// A new namespace `<tag>-<pid>` with h1's underlay address on its loopback.
    pub fn underlay(tag: &str) -> Named {
        let ns = Named(format!("{tag}-{}", std::process::id()));
        run(&["ip", "netns", "add", &ns.0]);
        ns.inside(&["ip", "link", "set", "lo", "up"]);
        ns.inside(&["ip", "addr", "add", "192.0.2.1/24", "dev", "lo"]);
        ns
    }

    /// Runs a command in the namespace; its standard output.
    pub fn inside(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", self.0.as_str()];
        all.extend(args);
        run(&all)
    }
}
