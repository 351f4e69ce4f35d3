//! Shared by the tests that need a network namespace of their own (all of them need the
//! `netlink` feature).
#![allow(clippy::expect_used, clippy::unwrap_used, dead_code)]

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
