//! The network namespace the netlink functions act in, whatever namespace the calling
//! thread is in: work runs on a worker thread that enters the namespace with `setns(2)`.
//! Sockets it opens, threads it starts and programs it runs (`nft`, `ebtables`) are all in
//! that namespace, and so is the lock file it takes.

use std::fs::File;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};

use super::ApplyError;

/// A handle on a network namespace (an open namespace file), as netavark's netlink socket
/// takes one. Cheap to keep: the namespace stays alive while the handle is open.
///
/// ```no_run
/// use vxlan_mesh_core::netlink::{self, Netns};
/// let here = Netns::current()?;
/// let lab = Netns::named("lab-h1")?; // /run/netns/lab-h1, as made by `ip netns add`
/// # let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// netlink::apply(&lab, &plan)?;
/// assert_ne!(netlink::lock_path(&here)?, netlink::lock_path(&lab)?);
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
#[derive(Debug)]
pub struct Netns {
    file: File,
    path: PathBuf,
}

impl Netns {
    /// The calling thread's network namespace, as it is now (a handle on it: moving the
    /// thread to another namespace later does not change the handle).
    pub fn current() -> Result<Netns, ApplyError> {
        Netns::open("/proc/thread-self/ns/net")
    }

    /// A namespace of iproute2 by name (`/run/netns/NAME`, see `ip netns add`).
    pub fn named(name: &str) -> Result<Netns, ApplyError> {
        Netns::open(Path::new("/run/netns").join(name))
    }

    /// The namespace file at `path`: `/run/netns/NAME`, `/proc/PID/ns/net`,
    /// `/proc/PID/task/TID/ns/net` or a bind mount of one. That it is a network namespace
    /// is checked when it is entered.
    pub fn open(path: impl AsRef<Path>) -> Result<Netns, ApplyError> {
        let path = path.as_ref().to_path_buf();
        match File::open(&path) {
            Ok(file) => Ok(Netns { file, path }),
            Err(source) => Err(ApplyError::Netns { path, source }),
        }
    }

    /// The path the handle was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The namespace's inode number: the same for every handle on one namespace.
    pub(crate) fn inode(&self) -> Result<u64, ApplyError> {
        self.file
            .metadata()
            .map(|m| m.ino())
            .map_err(|source| ApplyError::Netns {
                path: self.path.clone(),
                source,
            })
    }

    /// Runs `work` on a thread that has entered the namespace; the calling thread stays
    /// where it is.
    pub(crate) fn run<T: Send>(&self, work: impl FnOnce() -> Result<T, ApplyError> + Send) -> Result<T, ApplyError> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    setns(&self.file, CloneFlags::CLONE_NEWNET).map_err(|errno| ApplyError::Netns {
                        path: self.path.clone(),
                        source: errno.into(),
                    })?;
                    work()
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(ApplyError::Netns {
                        path: self.path.clone(),
                        source: std::io::Error::other("the worker thread in the namespace panicked"),
                    })
                })
        })
    }
}
