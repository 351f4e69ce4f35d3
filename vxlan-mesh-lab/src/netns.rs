//! Running Rust code (e.g. netlink requests) inside a lab namespace.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};

use crate::names::NETNS_DIR;
use crate::LabError;

/// Runs `f` on a fresh thread that first joins the network namespace `name` (a name under
/// `/run/netns`, or an absolute path such as `/proc/PID/ns/net`), and returns its result.
///
/// Namespace membership is per thread, so the calling thread and the rest of the process
/// stay where they are; the helper thread ends with `f`, so no thread is left in the
/// namespace. Sockets opened by `f` stay bound to the namespace after it returns.
///
/// ```no_run
/// // Inside a lab host namespace, list the interfaces netlink would see.
/// let names = vxlan_mesh_lab::run_in_netns("vxm-lab-h0", || {
///     std::fs::read_to_string("/proc/thread-self/net/dev").map(|t| t.lines().count())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_in_netns<T, F>(name: &str, f: F) -> Result<T, LabError>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    let path: PathBuf = if name.starts_with('/') {
        PathBuf::from(name)
    } else {
        Path::new(NETNS_DIR).join(name)
    };
    let file = File::open(&path).map_err(|source| LabError::Io { path, source })?;
    std::thread::scope(|s| {
        let handle = s.spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).map_err(|source| LabError::Setns {
                name: name.to_string(),
                source,
            })?;
            Ok(f())
        });
        handle
            .join()
            .unwrap_or_else(|_| Err(LabError::ThreadPanicked { name: name.to_string() }))
    })
}
