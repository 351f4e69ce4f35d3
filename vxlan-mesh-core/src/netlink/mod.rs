//! Applying, observing and tearing down a host's plan in a network namespace through
//! rtnetlink (feature `netlink`, Linux only).
//!
//! Every function takes the namespace to act in ([`Netns`]: the caller's own, or one opened
//! from `/run/netns/NAME` or `/proc/PID/ns/net`) and acts there whatever namespace the
//! calling thread is in.
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
//! let here = vxlan_mesh_core::netlink::Netns::current()?;
//! let report = vxlan_mesh_core::netlink::apply(&here, &plan)?;
//! for change in &report.changes {
//!     println!("{change}");
//! }
//! assert!(vxlan_mesh_core::netlink::status(&here, &plan)?.is_empty());
//! # Ok(()) }
//! ```

mod addresses;
mod execute;
mod external;
pub mod frr;
pub(crate) mod lock;
mod metrics;
mod netns;
mod nf_probe;
mod observe;
mod preflight;
mod receive;
mod requests;
mod socket;
mod wireguard;

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use lock::Lock;
pub(crate) use metrics::observe_locked;
pub use metrics::observe_metrics;
pub use netns::Netns;

/// The parsers of what the kernel and `nft` return, reachable by the fuzz targets in
/// `fuzz/`. Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use netlink_packet_route::link::LinkMessage;
    use netlink_packet_route::neighbour::NeighbourMessage;

    use crate::diff::{Observed, ObservedWireguard, Table};

    /// The state a link dump and a bridge-family neighbour dump show, as `observe` builds it.
    pub fn observed_state(links: &[LinkMessage], neighbours: &[NeighbourMessage]) -> Observed {
        let links = super::observe::links(links);
        let fdb = super::observe::fdb(neighbours, &links);
        let mut state = links.state;
        state.fdb = fdb.configured;
        state.learned = fdb.learned;
        state
    }

    /// The owned WireGuard interface `name` (no address) as observed from the text of its
    /// `wg show NAME dump`; `None` when the text is not in that form.
    pub fn observed_wireguard(name: &str, dump: &str) -> Option<ObservedWireguard> {
        let link = super::wireguard::OwnedLink {
            name: name.to_string(),
            index: 1,
            mtu: 1420,
            up: true,
            alias: crate::wireguard::owner_alias(),
        };
        Some(super::wireguard::observe(
            &link,
            &[],
            super::wireguard::parse_dump(dump).ok()?,
        ))
    }

    /// The owned table as read from `nft -j list table inet vxlan_mesh`.
    pub fn firewall_from_nft_json(json: &serde_json::Value) -> Table {
        super::external::parse_firewall(json).table
    }
}

use crate::diff::{diff, Change, ForeignConflict, Observed, State};
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
    /// A dump kept being interrupted (`NLM_F_DUMP_INTR`: the table changed while it was
    /// read, e.g. under another program's continuous changes), so no consistent view of it
    /// was read.
    #[error("the kernel's {what} changed while they were read, {attempts} times in a row; try again")]
    DumpInterrupted {
        /// What was dumped.
        what: &'static str,
        /// How many dumps were tried.
        attempts: u32,
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
    /// Applying stopped part-way, after the changes in `done` were made (those after them
    /// may be partly made); `source` says why.
    #[error("stopped after {} of {total} change(s); the change(s) after those may be partly made", done.len())]
    Stopped {
        /// The changes certainly made, in order.
        done: Vec<Change>,
        /// How many changes the apply had.
        total: usize,
        /// Why it stopped.
        #[source]
        source: Box<ApplyError>,
    },
    /// An apply in the same namespace held the lock for longer than a reader waits.
    #[error("{}", crate::ns_lock::timeout_message(&path.display().to_string(), &seconds.to_string(), &held_by(holders)))]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long the reader waited.
        seconds: f64,
        /// The pids holding the lock, when the kernel tells (/proc/locks).
        holders: Vec<u32>,
    },
    /// The directory of the lock files is not private to its owner.
    #[error("{}", crate::ns_lock::refused_message(&path.display().to_string(), why))]
    LockDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// A sysctl could not be written (e.g. `net.ipv4.conf.<bridge>.arp_accept`).
    #[error("cannot write `{path}`", path = path.display())]
    Sysctl {
        /// The file under /proc/sys.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A network namespace could not be opened or entered.
    #[error("network namespace `{path}`", path = path.display())]
    Netns {
        /// The namespace file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
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

/// ` (held by pid 1234)`, or nothing when no holder is known.
fn held_by(holders: &[u32]) -> String {
    if holders.is_empty() {
        return String::new();
    }
    let pids: Vec<String> = holders.iter().map(u32::to_string).collect();
    format!(" (held by pid {})", pids.join(", "))
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
/// let report = vxlan_mesh_core::netlink::DeviceReport::default();
/// assert!(report.changes.is_empty() && report.warnings.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeviceReport {
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
    /// The kernel has no WireGuard: the interface is created by the userspace
    /// implementation, wireguard-go.
    Userspace {
        /// The WireGuard interface.
        interface: String,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::Userspace { interface } => write!(
                f,
                "this kernel has no WireGuard: `{}` is run by {}, the userspace implementation (slower), whose daemon exits when the interface is deleted",
                interface.escape_debug(),
                wireguard::USERSPACE
            ),
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

/// Reads the owned objects of the namespace `ns` (and the names of all foreign
/// interfaces). Waits (up to a minute) for an apply in progress there to finish, so that it
/// never reads a half-made change.
///
/// ```no_run
/// use vxlan_mesh_core::netlink::{self, Netns};
/// let state = netlink::observe(&Netns::current()?)?;
/// println!("{} owned bridge(s)", state.bridges.len());
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn observe(ns: &Netns) -> Result<Observed, ApplyError> {
    ns.run(|| {
        let _lock = lock::take(ns, Lock::Shared)?;
        let mut socket = socket::Socket::new()?;
        observe_with(&mut socket).map(|(state, _)| state)
    })
}

/// The owned objects, and everything the link dump tells beyond them.
fn observe_with(socket: &mut socket::Socket) -> Result<(Observed, observe::Links), ApplyError> {
    // Start `ebtables` and `nft` only for objects nf_tables says exist (or when it cannot
    // tell), and let them run while the netlink dumps do. Threads start in the network
    // namespace of the thread that starts them (see `Netns::run`).
    let present = nf_probe::probe();
    let read_firewall = present.is_none_or(|p| p.firewall);
    let read_loop_rules = present.is_none_or(|p| p.loop_rules) || external::ebtables_is_legacy();
    std::thread::scope(|scope| {
        let loop_rules = read_loop_rules.then(|| scope.spawn(external::observe_loop_rules));
        let firewall = read_firewall.then(|| scope.spawn(external::observe_firewall));
        let mut links = observe::links(&socket.dump_links()?);
        let fdb = observe::fdb(&socket.dump_fdb()?, &links);
        let mut state = std::mem::take(&mut links.state);
        state.fdb = fdb.configured;
        state.learned = fdb.learned;
        let addresses = socket.dump_addresses()?;
        observe::ipv6_addresses(&addresses, &links, &mut state);
        if let Some(link) = &links.wireguard {
            let dump = wireguard::dump(&link.name)?;
            links.wireguard_sessions = dump.peers.clone();
            state.wireguard = Some(wireguard::observe(link, &addresses, dump));
        }
        state.loop_rules = loop_rules.map(|t| joined(t.join())).transpose()?.flatten();
        let firewall = firewall.map(|t| joined(t.join())).transpose()?.flatten();
        links.firewall_drops = firewall.as_ref().and_then(|f| f.drops);
        links.firewall_blocked = firewall.as_ref().and_then(|f| f.blocked);
        state.firewall = firewall.map(|f| f.table);
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

pub use crate::wireguard::PeerSession;

/// The sessions of the plan's WireGuard peers in the namespace `ns`, in the plan's order,
/// each with the peer's host name: when the latest handshake was, and the bytes exchanged.
/// Empty without encryption or when the interface does not exist (`status` reports that as
/// drift); a peer the interface does not have is left out.
///
/// ```no_run
/// # let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// use vxlan_mesh_core::netlink::{self, Netns};
/// for (name, session) in netlink::wireguard_sessions(&Netns::current()?, &plan)? {
///     println!("{name}: {:?}", session.latest_handshake);
/// }
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn wireguard_sessions(ns: &Netns, plan: &HostPlan) -> Result<Vec<(String, PeerSession)>, ApplyError> {
    if plan.wireguard.is_none() {
        return Ok(Vec::new());
    }
    ns.run(|| {
        let mut socket = socket::Socket::new()?;
        let mut links = observe::links(&socket.dump_links()?);
        if let Some(link) = &links.wireguard {
            links.wireguard_sessions = wireguard::dump(&link.name)?.peers;
        }
        sessions_of(&links, plan)
    })
}

/// [`wireguard_sessions`] in the current namespace, given its links (read already).
fn sessions_of(links: &observe::Links, plan: &HostPlan) -> Result<Vec<(String, PeerSession)>, ApplyError> {
    let Some(want) = &plan.wireguard else {
        return Ok(Vec::new());
    };
    if links.wireguard.as_ref().is_none_or(|l| l.name != want.interface) {
        return Ok(Vec::new());
    }
    let mut sessions = links.wireguard_sessions.clone();
    Ok(want
        .peers
        .iter()
        .filter_map(|p| {
            let i = sessions.iter().position(|s| s.peer.public_key == p.public_key)?;
            Some((p.name.clone(), sessions.swap_remove(i)))
        })
        .collect())
}

/// The addresses assigned in the namespace `ns` (both families), read through netlink:
/// which host of an inventory this is.
///
/// ```no_run
/// use vxlan_mesh_core::netlink::{self, Netns};
/// let here = netlink::local_addresses(&Netns::current()?)?;
/// println!("{} address(es)", here.len());
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn local_addresses(ns: &Netns) -> Result<Vec<IpAddr>, ApplyError> {
    ns.run(|| {
        let mut socket = socket::Socket::new()?;
        Ok(addresses::local(&socket.dump_addresses()?))
    })
}

/// The differences between the plan and the namespace `ns`, as data; empty when
/// converged. Fails, like [`apply`], when the kernel would refuse the plan (a foreign
/// device holding a VNI, an underlay that cannot carry the MTU).
///
/// Waits (up to a minute) for an apply in progress in the namespace to finish, so that it
/// never reads a half-made change.
///
/// ```no_run
/// # let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// use vxlan_mesh_core::netlink::{self, Netns};
/// let drift = netlink::status(&Netns::current()?, &plan)?;
/// println!("{}", if drift.is_empty() { "converged" } else { "drift" });
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn status(ns: &Netns, plan: &HostPlan) -> Result<Vec<Change>, ApplyError> {
    preview(ns, plan).map(|report| report.changes)
}

/// What [`apply`] would do, changing nothing: the changes and the warnings, or the error
/// that would stop it before it changed anything.
///
/// ```no_run
/// # let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// use vxlan_mesh_core::netlink::{self, Netns};
/// let preview = netlink::preview(&Netns::current()?, &plan)?;
/// for change in &preview.changes {
///     println!("would {change}");
/// }
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn preview(ns: &Netns, plan: &HostPlan) -> Result<DeviceReport, ApplyError> {
    ns.run(|| {
        let _lock = lock::take(ns, Lock::Shared)?;
        preview_locked(plan)
    })
}

/// [`preview`] in the current namespace, under a lock the caller holds.
pub(crate) fn preview_locked(plan: &HostPlan) -> Result<DeviceReport, ApplyError> {
    let mut socket = socket::Socket::new()?;
    prepare(&mut socket, &plan.state(), Some(plan)).map(|(report, ..)| report)
}

/// Makes the namespace `ns` match the plan: observe, diff, check what the kernel would
/// refuse, then execute each change in order. Serialized with other applies in the same
/// namespace by a lock file.
///
/// ```no_run
/// # let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// use vxlan_mesh_core::netlink::{self, Netns};
/// let report = netlink::apply(&Netns::named("h1")?, &plan)?;
/// println!("{} change(s)", report.changes.len());
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn apply(ns: &Netns, plan: &HostPlan) -> Result<DeviceReport, ApplyError> {
    converge(ns, &plan.state(), Some(plan))
}

/// Removes every object vxlan-mesh owns in the namespace `ns`, and nothing else.
///
/// ```no_run
/// use vxlan_mesh_core::netlink::{self, Netns};
/// let report = netlink::down(&Netns::current()?)?;
/// println!("removed {} object(s)", report.changes.len());
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn down(ns: &Netns) -> Result<DeviceReport, ApplyError> {
    converge(ns, &State::default(), None)
}

/// Observe, diff and preflight: the report of what converging would do, the observed
/// state, and what the link dump told beyond it (the index of every interface...).
fn prepare(
    socket: &mut socket::Socket,
    desired: &State,
    plan: Option<&HostPlan>,
) -> Result<(DeviceReport, Observed, observe::Links), ApplyError> {
    let (mut observed, links) = observe_with(socket)?;
    if let Some(want) = plan.and_then(|p| p.wireguard.as_ref()) {
        if !links.unmarked_wireguard.is_empty() {
            wireguard::adopt_half_made(
                &mut observed,
                &links.unmarked_wireguard,
                want,
                &socket.dump_addresses()?,
            );
        }
        let names = links.index.iter().map(|(n, i)| (*i, n.as_str())).collect();
        observed.wireguard_routes = wireguard::peer_routes(socket, want, &names)?;
    }
    let changes = diff(desired, &observed)?;
    let warnings = preflight::check(socket, plan, &observed, &changes, &links)?;
    Ok((DeviceReport { changes, warnings }, observed, links))
}

fn converge(ns: &Netns, desired: &State, plan: Option<&HostPlan>) -> Result<DeviceReport, ApplyError> {
    ns.run(|| {
        let _lock = lock::take(ns, Lock::Exclusive)?;
        converge_locked(desired, plan)
    })
}

/// Converges the current namespace to `desired`, under the exclusive lock the caller holds.
pub(crate) fn converge_locked(desired: &State, plan: Option<&HostPlan>) -> Result<DeviceReport, ApplyError> {
    let mut socket = socket::Socket::new()?;
    let (report, _, links) = prepare(&mut socket, desired, plan)?;
    refuse_foreign_routes(&report.changes)?;
    execute_in_phases(&mut socket, &report.changes, links.index)?;
    Ok(report)
}

/// A route that is not ours and takes a peer's inner address away from the WireGuard
/// interface is reported by `status` but never removed: apply refuses before changing
/// anything, naming it.
fn refuse_foreign_routes(changes: &[Change]) -> Result<(), ApplyError> {
    match changes.iter().find_map(|c| match c {
        Change::ForeignRoute { interface, found } => Some((interface, found)),
        _ => None,
    }) {
        Some((interface, found)) => Err(ApplyError::Foreign(ForeignConflict::Route {
            peer: found.peer.clone(),
            address: found.address,
            route: found
                .route
                .as_ref()
                .map_or_else(|| "(none)".into(), ToString::to_string),
            interface: interface.clone(),
        })),
        None => Ok(()),
    }
}

/// Executes the changes phase by phase, so that a failure can tell which changes were
/// certainly made: those of the phases before it ([`ApplyError::Stopped`]). A phase is
/// one run of the executor (its stages and batching intact); interface indexes are read
/// again between phases.
fn execute_in_phases(
    socket: &mut socket::Socket,
    changes: &[Change],
    index: HashMap<String, u32>,
) -> Result<(), ApplyError> {
    let mut done = 0;
    let mut index = Some(index);
    for run in changes.chunk_by(|a, b| a.phase() == b.phase()) {
        let result = match index.take() {
            Some(index) => Ok(index),
            None => socket.dump_links().map(|dump| observe::links(&dump).index),
        }
        .and_then(|index| execute::run(socket, &crate::ops::lower(run), index));
        if let Err(source) = result {
            return Err(if done == 0 {
                source
            } else {
                ApplyError::Stopped {
                    done: changes.get(..done).unwrap_or_default().to_vec(),
                    total: changes.len(),
                    source: Box::new(source),
                }
            });
        }
        done += run.len();
    }
    Ok(())
}

/// The lock file that serializes applies in the namespace `ns` (readers wait for it too):
/// one per namespace, named after the namespace's inode, in /run/vxlan-mesh (made 0700,
/// refused when it is a symbolic link, another user's or open to others).
///
/// ```no_run
/// use vxlan_mesh_core::netlink::{self, Netns};
/// let path = netlink::lock_path(&Netns::current()?)?;
/// assert!(path.starts_with("/run/vxlan-mesh"));
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn lock_path(ns: &Netns) -> Result<PathBuf, ApplyError> {
    lock::path(ns)
}
