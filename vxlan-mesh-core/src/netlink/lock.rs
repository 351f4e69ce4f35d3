//! The lock file that serializes applies in one network namespace, and lets readers wait
//! for an apply in progress: one per namespace, named after the namespace's inode.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{ApplyError, Netns};

/// How long a reader ([`super::observe`], [`super::status`], [`super::preview`]) waits for
/// an apply in the same namespace to finish before giving up: an apply of hundreds of
/// devices takes seconds, not minutes.
const READ_LOCK_WAIT: Duration = Duration::from_secs(60);

/// How the namespace's lock is taken.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lock {
    /// Readers: several at once, none while an apply runs; bounded wait.
    Shared,
    /// `apply` and `down`: alone; waits for as long as the other apply takes.
    Exclusive,
}

/// The lock file of the namespace `ns`.
pub(crate) fn path(ns: &Netns) -> Result<PathBuf, ApplyError> {
    Ok(Path::new("/run/lock").join(format!("vxlan-mesh-net{}.lock", ns.inode()?)))
}

/// Takes the lock of `ns`; released on drop.
pub(crate) fn take(ns: &Netns, kind: Lock) -> Result<File, ApplyError> {
    take_within(ns, kind, READ_LOCK_WAIT)
}

fn take_within(ns: &Netns, kind: Lock, wait: Duration) -> Result<File, ApplyError> {
    let path = path(ns)?;
    let err = |source| ApplyError::Lock {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(err)?;
    match kind {
        Lock::Exclusive => file.lock().map_err(err)?,
        Lock::Shared => {
            // std has no timed lock: poll, which costs nothing when nobody holds it.
            let deadline = Instant::now() + wait;
            loop {
                match file.try_lock_shared() {
                    Ok(()) => break,
                    Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(TryLockError::WouldBlock) => {
                        return Err(ApplyError::LockTimeout {
                            path,
                            seconds: wait.as_secs_f64(),
                        })
                    }
                    Err(TryLockError::Error(source)) => return Err(err(source)),
                }
            }
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// In a fresh namespace (root needed): a reader gives up on a held lock, with an error
    /// naming the lock file, and gets it once it is free.
    #[test]
    #[cfg_attr(not(feature = "e2e"), ignore = "needs root: run with --features e2e")]
    fn a_reader_waits_for_an_apply_then_times_out() {
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare needs root");
            let ns = Netns::current().unwrap();
            let apply = take(&ns, Lock::Exclusive).unwrap();
            let err = take_within(&ns, Lock::Shared, Duration::from_millis(100)).unwrap_err();
            assert!(matches!(err, ApplyError::LockTimeout { .. }), "{err}");
            assert!(
                err.to_string().contains(&path(&ns).unwrap().display().to_string()),
                "{err}"
            );
            drop(apply);
            let reader = take_within(&ns, Lock::Shared, Duration::from_millis(100)).unwrap();
            // Readers share.
            take_within(&ns, Lock::Shared, Duration::from_millis(100)).unwrap();
            drop(reader);
            let _ = std::fs::remove_file(path(&ns).unwrap());
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    }
}
