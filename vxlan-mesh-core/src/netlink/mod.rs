//! Applying, observing and tearing down a host's plan in the current network namespace
//! through rtnetlink (feature `netlink`, Linux only).
//!
//! Links, bridge ports and FDB entries go through netlink; the owned ebtables chain and
//! nftables table through the `ebtables` and `nft` commands. Only objects vxlan-mesh owns
//! (interface alias `vxlan-mesh:...`, chain [`crate::plan::EBTABLES_CHAIN`], table
//! [`crate::plan::NFT_TABLE`]) are ever modified or deleted.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fleet = vxlan_mesh_core::testing::two_hosts();
//! let plan = fleet.plan("a")?;
//! let report = vxlan_mesh_core::netlink::apply(&plan)?;
//! for change in &report.changes {
//!     println!("{change}");
//! }
//! assert!(vxlan_mesh_core::netlink::status(&plan)?.is_empty());
//! # Ok(()) }
//! ```

mod execute;
mod external;
mod nf_probe;
mod observe;
mod preflight;
mod receive;
mod requests;
mod socket;

use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use external::MISSING_JUMP;

/// The parsers of what the kernel and `nft` return, reachable by the fuzz targets in
/// `fuzz/`. Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use netlink_packet_route::link::LinkMessage;
    use netlink_packet_route::neighbour::NeighbourMessage;

    use crate::diff::State;
    use crate::plan::Firewall;

    /// The state a link dump and a bridge-family neighbour dump show, as `observe` builds it.
    pub fn observed_state(links: &[LinkMessage], neighbours: &[NeighbourMessage]) -> State {
        let links = super::observe::links(links);
        let fdb = super::observe::fdb(neighbours, &links);
        let mut state = links.state;
        state.fdb = fdb;
        state
    }

    /// The owned table as read from `nft -j list table inet vxlan_mesh`.
    pub fn firewall_from_nft_json(json: &serde_json::Value) -> Firewall {
        super::external::parse_firewall(json)
    }
}

use crate::diff::{diff, Change, ForeignConflict, State};
use crate::plan::HostPlan;

/// Why observing or applying failed. Every variant names the object and the operation;
/// the underlying error, if any, is the [`std::error::Error::source`] and is not repeated
/// in the message (so that a printed chain shows each cause once).
///
/// ```
/// use vxlan_mesh_core::netlink::ApplyError;
/// let e = ApplyError::Netlink {
///     operation: "create vxlan",
///     object: "vxm100".into(),
///     source: std::io::Error::from_raw_os_error(17),
/// };
/// assert!(e.to_string().contains("create vxlan `vxm100`"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The kernel refused a request.
    #[error("netlink: {operation} `{object}` failed")]
    Netlink {
        /// What was attempted, e.g. `create vxlan`.
        operation: &'static str,
        /// The object, e.g. `vxm100`.
        object: String,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// The netlink socket itself failed.
    #[error("netlink socket: cannot {what} the kernel")]
    Socket {
        /// What failed (open, bind, send to, receive from).
        what: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A reply could not be decoded.
    #[error("cannot decode {what}: {message}")]
    Decode {
        /// What was being read.
        what: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// A wanted name is held by an interface vxlan-mesh does not own.
    #[error(transparent)]
    Foreign(#[from] ForeignConflict),
    /// A device the plan refers to does not exist.
    #[error("{role} `{name}` needed by `{by}` does not exist")]
    Missing {
        /// What kind of device (`bridge`, `underlay device`, `vxlan device`).
        role: &'static str,
        /// Its name.
        name: String,
        /// The object that needs it.
        by: String,
    },
    /// `ebtables` or `nft` is needed (an owned object exists, or must be made) but is
    /// neither in `PATH` nor in /usr/sbin, /sbin or /usr/local/sbin.
    #[error(
        "cannot run `{program}`: not found in PATH nor in {dirs}; it is needed to read or change what vxlan-mesh owns here (install it or add its directory to PATH)",
        dirs = external::SBIN_DIRS.join(", ")
    )]
    ToolMissing {
        /// The program.
        program: &'static str,
    },
    /// `ebtables` or `nft` could not be run.
    #[error("cannot run `{program}`")]
    Spawn {
        /// The program.
        program: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// `ebtables` or `nft` failed.
    #[error("`{command}` failed: {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// What it printed on standard error.
        stderr: String,
    },
    /// The underlay cannot carry `underlay-mtu`: the kernel would clamp the VXLAN devices'
    /// MTU (or drop their largest packets).
    #[error(
        "`underlay-mtu` of host `{host}` is {underlay_mtu} but {path} has MTU {mtu}; set `underlay-mtu = {mtu}` (the overlay MTU follows) or raise the MTU of `{device}`",
        path = underlay_path(device, towards)
    )]
    UnderlayMtu {
        /// The host whose plan it is.
        host: String,
        /// The plan's `underlay-mtu`.
        underlay_mtu: u32,
        /// The underlay device (the host's `device`, or the route's output interface).
        device: String,
        /// Its MTU (or the route's MTU, if smaller).
        mtu: u32,
        /// The peer address whose route was read, when no `device` is set.
        towards: Option<IpAddr>,
    },
    /// A foreign VXLAN device holds the VNI and port a device of the plan needs: the kernel
    /// would refuse ours.
    #[error(
        "vxlan `{device}` needs VNI {vni} on UDP port {port}, but interface `{foreign}` (not created by vxlan-mesh) already uses them and the kernel allows one device per VNI and port; nothing was changed: change the network's `vni` or remove `{foreign}`"
    )]
    VniInUse {
        /// Our device.
        device: String,
        /// The VNI.
        vni: u32,
        /// The UDP port.
        port: u16,
        /// The foreign device holding them.
        foreign: String,
    },
    /// An apply in the same namespace held the lock for longer than a reader waits.
    #[error("another vxlan-mesh apply or down in this network namespace still holds `{path}` after {seconds} s; try again when it has finished", path = path.display())]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long the reader waited.
        seconds: f64,
    },
    /// The lock file could not be opened or locked.
    #[error("lock file `{path}`", path = path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn underlay_path(device: &str, towards: &Option<IpAddr>) -> String {
    match towards {
        None => format!("underlay device `{}`", device.escape_debug()),
        Some(peer) => format!(
            "the route to peer address `{peer}` (through `{}`)",
            device.escape_debug()
        ),
    }
}

/// What an [`apply`] or [`down`] did (or, from [`preview`], would do).
///
/// ```
/// let report = vxlan_mesh_core::netlink::Report::default();
/// assert!(report.changes.is_empty() && report.warnings.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The changes executed, in order.
    pub changes: Vec<Change>,
    /// What the changes do beyond vxlan-mesh's own objects.
    pub warnings: Vec<Warning>,
}

/// Something a change does beyond vxlan-mesh's own objects, done anyway.
///
/// ```
/// use vxlan_mesh_core::netlink::Warning;
/// let w = Warning::ForeignBridgePorts { bridge: "vxbr0".into(), ports: vec!["veth1".into()] };
/// assert!(w.to_string().contains("`veth1`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "warning", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Warning {
    /// A bridge that is deleted still has ports vxlan-mesh does not own (containers' or
    /// VMs' interfaces): they lose their network with it.
    ForeignBridgePorts {
        /// The bridge.
        bridge: String,
        /// Its foreign ports, sorted.
        ports: Vec<String>,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::ForeignBridgePorts { bridge, ports } => {
                let ports: Vec<String> = ports.iter().map(|p| format!("`{}`", p.escape_debug())).collect();
                write!(
                    f,
                    "bridge `{}` is deleted with ports vxlan-mesh did not attach: {} (they are detached and lose the overlay)",
                    bridge.escape_debug(),
                    ports.join(", ")
                )
            }
        }
    }
}

/// Reads the owned objects of the current network namespace (and the names of all
/// foreign interfaces).
///
/// ```no_run
/// let state = vxlan_mesh_core::netlink::observe()?;
/// println!("{} owned bridge(s)", state.bridges.len());
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn observe() -> Result<State, ApplyError> {
    // Never read a half-made change: wait for an apply in progress to finish.
    let _lock = lock(Lock::Shared)?;
    let mut socket = socket::Socket::new()?;
    observe_with(&mut socket).map(|(state, _)| state)
}

/// The owned objects, and everything the link dump tells beyond them.
fn observe_with(socket: &mut socket::Socket) -> Result<(State, observe::Links), ApplyError> {
    // Start `ebtables` and `nft` only for objects nf_tables says exist (or when it cannot
    // tell), and let them run while the netlink dumps do. Threads start in the calling
    // thread's network namespace.
    let present = nf_probe::probe();
    let read_firewall = present.is_none_or(|p| p.firewall);
    let read_loop_rules = present.is_none_or(|p| p.loop_rules) || external::ebtables_is_legacy();
    std::thread::scope(|scope| {
        let loop_rules = read_loop_rules.then(|| scope.spawn(external::observe_loop_rules));
        let firewall = read_firewall.then(|| scope.spawn(external::observe_firewall));
        let mut links = observe::links(&socket.dump_links()?);
        let fdb = observe::fdb(&socket.dump_fdb()?, &links);
        let mut state = std::mem::take(&mut links.state);
        state.fdb = fdb;
        state.loop_rules = loop_rules.map(|t| joined(t.join())).transpose()?.flatten();
        state.firewall = firewall.map(|t| joined(t.join())).transpose()?.flatten();
        Ok((state, links))
    })
}

fn joined<T>(r: std::thread::Result<Result<T, ApplyError>>) -> Result<T, ApplyError> {
    r.unwrap_or_else(|_| {
        Err(ApplyError::Decode {
            what: "ebtables or nft output",
            message: "the reading thread panicked".into(),
        })
    })
}

/// The differences between the plan and the current namespace, as data; empty when
/// converged. Fails, like [`apply`], when the kernel would refuse the plan (a foreign
/// device holding a VNI, an underlay that cannot carry the MTU).
///
/// Waits (up to a minute) for an apply in progress in the namespace to finish, so that it
/// never reads a half-made change.
///
/// ```no_run
/// # let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// let drift = vxlan_mesh_core::netlink::status(&plan)?;
/// println!("{}", if drift.is_empty() { "converged" } else { "drift" });
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn status(plan: &HostPlan) -> Result<Vec<Change>, ApplyError> {
    preview(plan).map(|report| report.changes)
}

/// What [`apply`] would do, changing nothing: the changes and the warnings, or the error
/// that would stop it before it changed anything.
///
/// ```no_run
/// # let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// let preview = vxlan_mesh_core::netlink::preview(&plan)?;
/// for change in &preview.changes {
///     println!("would {change}");
/// }
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn preview(plan: &HostPlan) -> Result<Report, ApplyError> {
    let _lock = lock(Lock::Shared)?;
    let mut socket = socket::Socket::new()?;
    prepare(&mut socket, &plan.state(), Some(plan)).map(|(report, _)| report)
}

/// Makes the current namespace match the plan: observe, diff, check what the kernel would
/// refuse, then execute each change in order. Serialized with other applies in the same
/// namespace by a lock file.
///
/// ```no_run
/// # let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// let report = vxlan_mesh_core::netlink::apply(&plan)?;
/// println!("{} change(s)", report.changes.len());
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn apply(plan: &HostPlan) -> Result<Report, ApplyError> {
    converge(&plan.state(), Some(plan))
}

/// Removes every object vxlan-mesh owns in the current namespace, and nothing else.
///
/// ```no_run
/// let report = vxlan_mesh_core::netlink::down()?;
/// println!("removed {} object(s)", report.changes.len());
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn down() -> Result<Report, ApplyError> {
    converge(&State::default(), None)
}

/// Observe, diff and preflight: the report of what converging would do, and the index of
/// every interface.
fn prepare(
    socket: &mut socket::Socket,
    desired: &State,
    plan: Option<&HostPlan>,
) -> Result<(Report, HashMap<String, u32>), ApplyError> {
    let (observed, links) = observe_with(socket)?;
    let changes = diff(desired, &observed)?;
    let warnings = preflight::check(socket, plan, &observed, &changes, &links)?;
    Ok((Report { changes, warnings }, links.index))
}

fn converge(desired: &State, plan: Option<&HostPlan>) -> Result<Report, ApplyError> {
    let _lock = lock(Lock::Exclusive)?;
    let mut socket = socket::Socket::new()?;
    let (report, index) = prepare(&mut socket, desired, plan)?;
    execute::run(&mut socket, &report.changes, index)?;
    Ok(report)
}

/// The lock file that serializes applies in the calling thread's network namespace:
/// one per namespace, named after the namespace's inode.
///
/// ```no_run
/// let path = vxlan_mesh_core::netlink::lock_path()?;
/// assert!(path.starts_with("/run/lock"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn lock_path() -> io::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt as _;
    let inode = std::fs::metadata("/proc/thread-self/ns/net")?.ino();
    Ok(Path::new("/run/lock").join(format!("vxlan-mesh-net{inode}.lock")))
}

/// How long a reader ([`observe`], [`status`]) waits for an apply in the same namespace to
/// finish before giving up: an apply of hundreds of devices takes seconds, not minutes.
const READ_LOCK_WAIT: Duration = Duration::from_secs(60);

/// How the namespace's lock is taken.
#[derive(Debug, Clone, Copy)]
enum Lock {
    /// Readers: several at once, none while an apply runs; bounded wait.
    Shared,
    /// `apply` and `down`: alone; waits for as long as the other apply takes.
    Exclusive,
}

/// Takes the namespace's lock; released on drop.
fn lock(kind: Lock) -> Result<File, ApplyError> {
    lock_within(kind, READ_LOCK_WAIT)
}

fn lock_within(kind: Lock, wait: Duration) -> Result<File, ApplyError> {
    let path = lock_path().map_err(|source| ApplyError::Lock {
        path: PathBuf::from("/proc/thread-self/ns/net"),
        source,
    })?;
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
    fn a_reader_waits_for_an_apply_then_times_out() {
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare needs root");
            let apply = lock(Lock::Exclusive).unwrap();
            let err = lock_within(Lock::Shared, Duration::from_millis(100)).unwrap_err();
            assert!(matches!(err, ApplyError::LockTimeout { .. }), "{err}");
            assert!(
                err.to_string().contains(&lock_path().unwrap().display().to_string()),
                "{err}"
            );
            drop(apply);
            let reader = lock_within(Lock::Shared, Duration::from_millis(100)).unwrap();
            // Readers share.
            lock_within(Lock::Shared, Duration::from_millis(100)).unwrap();
            drop(reader);
            let _ = std::fs::remove_file(lock_path().unwrap());
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    }
}
