//! The lock file that serializes applies in one network namespace, and lets readers wait
//! for an apply in progress: one per namespace, named after the namespace's inode, in a
//! directory only its owner (root) may enter ([`ns_lock`] states where, how long and the
//! messages, which the shell script shares).

use std::fs::{File, TryLockError};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{open, openat, OFlag};
use nix::sys::stat::Mode;

use super::{ApplyError, Netns};
use crate::ns_lock;

/// How the namespace's lock is taken.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lock {
    /// Readers: several at once, none while an apply runs.
    Shared,
    /// `apply` and `down`: alone.
    Exclusive,
}

/// The lock file of the namespace `ns`.
pub(crate) fn path(ns: &Netns) -> Result<PathBuf, ApplyError> {
    Ok(Path::new(ns_lock::DIR).join(file_name(ns)?))
}

fn file_name(ns: &Netns) -> Result<String, ApplyError> {
    Ok(ns_lock::file_name(&ns.inode()?.to_string()))
}

/// Takes the lock of `ns`; released on drop.
pub(crate) fn take(ns: &Netns, kind: Lock) -> Result<File, ApplyError> {
    let wait = Duration::from_secs(match kind {
        Lock::Shared => ns_lock::READ_WAIT_SECS,
        Lock::Exclusive => ns_lock::WRITE_WAIT_SECS,
    });
    take_within(Path::new(ns_lock::DIR), ns, kind, wait)
}

fn take_within(dir: &Path, ns: &Netns, kind: Lock, wait: Duration) -> Result<File, ApplyError> {
    let path = dir.join(file_name(ns)?);
    let err = |source| ApplyError::Lock {
        path: path.clone(),
        source,
    };
    let dir_fd = private_dir(dir)?;
    // The directory is ours alone, yet a link is never followed: what is opened is the file.
    let file = File::from(
        openat(
            &dir_fd,
            path.file_name().unwrap_or_default(),
            OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| err(e.into()))?,
    );
    // std has no timed lock: poll, which costs nothing when nobody holds it.
    let deadline = Instant::now() + wait;
    loop {
        let tried = match kind {
            Lock::Shared => file.try_lock_shared(),
            Lock::Exclusive => file.try_lock(),
        };
        match tried {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(ApplyError::LockTimeout {
                    holders: holders(&file),
                    path,
                    seconds: wait.as_secs_f64(),
                })
            }
            Err(TryLockError::Error(source)) => return Err(err(source)),
        }
    }
}

/// Opens the lock directory `dir`, made 0700 if missing; refuses a symbolic link, anything
/// but a directory, a directory of another owner or one others may enter.
fn private_dir(dir: &Path) -> Result<std::os::fd::OwnedFd, ApplyError> {
    let refuse = |why: String| ApplyError::LockDir {
        path: dir.to_path_buf(),
        why,
    };
    let io = |source| ApplyError::Lock {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(io(e)),
        _ => {}
    }
    let fd = open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        // O_DIRECTORY | O_NOFOLLOW on a link fails with ENOTDIR: tell the two apart.
        nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR => {
            let link = std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink());
            refuse(
                if link {
                    "it is a symbolic link"
                } else {
                    "it is not a directory"
                }
                .to_string(),
            )
        }
        e => io(e.into()),
    })?;
    let meta = File::from(fd.try_clone().map_err(io)?).metadata().map_err(io)?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(refuse(ns_lock::foreign_owner(&meta.uid().to_string(), &me.to_string())));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refuse(ns_lock::open_mode(&format!("{:o}", meta.mode() & 0o7777))));
    }
    Ok(fd)
}

/// The pids holding a lock on `file`, as /proc/locks lists them (empty when unknown).
fn holders(file: &File) -> Vec<u32> {
    let Ok(meta) = file.metadata() else {
        return Vec::new();
    };
    let dev = meta.dev();
    let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let id = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let mut pids: Vec<u32> = locks
        .lines()
        // `N: -> FLOCK ...` lines are waiters, not holders.
        .filter(|l| !l.contains("->"))
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words.iter().position(|w| *w == id)?;
            words.get(at.checked_sub(1)?)?.parse().ok()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A scratch lock directory of the test's own (the real one is shared by every run).
    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vxm-lock-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// In a fresh namespace (root needed): a reader, and an apply, give up on a held lock
    /// with an error naming the lock file and the holder, and get it once it is free.
    #[test]
    #[cfg_attr(not(feature = "e2e"), ignore = "needs root: run with --features e2e")]
    fn a_waiter_gives_up_naming_the_holder_then_takes_the_free_lock() {
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare needs root");
            let ns = Netns::current().unwrap();
            let dir = scratch("wait");
            let short = Duration::from_millis(100);
            let apply = take_within(&dir, &ns, Lock::Exclusive, short).unwrap();
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o700);
            for kind in [Lock::Shared, Lock::Exclusive] {
                let err = take_within(&dir, &ns, kind, short).unwrap_err();
                let ApplyError::LockTimeout { holders, .. } = &err else {
                    panic!("{err}");
                };
                assert_eq!(holders, &[std::process::id()], "{err}");
                let text = err.to_string();
                assert!(
                    text.contains(&dir.join(file_name(&ns).unwrap()).display().to_string()),
                    "{text}"
                );
                assert!(text.contains(&format!("held by pid {}", std::process::id())), "{text}");
            }
            drop(apply);
            let reader = take_within(&dir, &ns, Lock::Shared, short).unwrap();
            // Readers share.
            take_within(&dir, &ns, Lock::Shared, short).unwrap();
            drop(reader);
            take_within(&dir, &ns, Lock::Exclusive, short).unwrap();
            std::fs::remove_dir_all(&dir).unwrap();
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    }

    #[test]
    fn a_lock_directory_others_could_use_is_refused_and_never_followed() {
        let ns = Netns::current().unwrap();
        let short = Duration::from_millis(10);
        let base = scratch("dirs");
        std::fs::create_dir_all(&base).unwrap();
        // A symbolic link to a directory that would otherwise do.
        let target = base.join("target");
        std::fs::DirBuilder::new().mode(0o700).create(&target).unwrap();
        let link = base.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = take_within(&link, &ns, Lock::Shared, short).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0, "the link was followed");
        // Open to others.
        let open = base.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = take_within(&open, &ns, Lock::Shared, short).unwrap_err();
        assert!(err.to_string().contains("its mode is 755"), "{err}");
        // Another user's.
        let theirs = base.join("theirs");
        std::fs::DirBuilder::new().mode(0o700).create(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
        let err = take_within(&theirs, &ns, Lock::Shared, short).unwrap_err();
        assert!(err.to_string().contains("owned by uid 65534"), "{err}");
        // A file where the directory should be.
        let file = base.join("file");
        std::fs::write(&file, "").unwrap();
        let err = take_within(&file, &ns, Lock::Shared, short).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
