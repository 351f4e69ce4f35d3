//! One host, converged in one call: [`apply`], [`preview`] (`apply --dry-run`),
//! [`status`] and [`down`] (feature `netlink`).
//!
//! Each call does everything a host's plan asks, in the order it must be done, under one
//! hold of the network namespace's lock:
//!
//! 1. the WireGuard private key file is checked against the host's `public-key` (by path:
//!    the key is read, its public half derived, and the copies overwritten; the plan keeps
//!    only the path, see [`crate::key_file`]);
//! 2. in mode `evpn`, what FRR would refuse (someone else's `router bgp`, another AS, a
//!    daemon not running) stops the apply before any device changes;
//! 3. devices, bridge ports, FDB entries, the firewall table, the loop-prevention chain
//!    and the WireGuard interface are observed once, diffed and converged
//!    ([`crate::netlink`]);
//! 4. FRR's `router bgp` block is converged after the devices (zebra announces a VNI once
//!    its VXLAN device exists), or, outside mode `evpn`, a block of ours left by an
//!    earlier evpn apply is removed.
//!
//! Outside mode `evpn` no `vtysh` is run unless vxlan-mesh's own record says a block of
//! its may be loaded in FRR (a file per namespace under `/run/vxlan-mesh/frr`, written by
//! an evpn apply, deleted once the block is gone): a flood or per-peer host needs neither
//! FRR nor a working `vtysh`.
//!
//! [`status`] makes one observation under the lock (links, FDB, nftables, ebtables, the
//! WireGuard interface with its peers' sessions, FRR's block and health) from which the
//! drift, the health and the Prometheus metrics ([`Status::families`]) all come.
//!
//! ```no_run
//! use vxlan_mesh_core::host::{self, Options};
//! use vxlan_mesh_core::netlink::Netns;
//! let plan = vxlan_mesh_core::testing::two_hosts().plan("a")?;
//! let here = Netns::current()?;
//! let report = host::apply(&here, &plan, &Options::default())?;
//! for change in &report.devices.changes {
//!     println!("{change}");
//! }
//! let status = host::status(&here, &plan, &Options::default())?;
//! assert!(status.converged());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod frr_record;
mod status;

use std::path::PathBuf;

pub use error::HostError;
pub use status::{frr_status, FrrStatus, Status};

use crate::diff::State;
use crate::key_file;
use crate::netlink::frr::{BgpChange, Frr};
use crate::netlink::lock::{self, Lock};
use crate::netlink::{self, ApplyError, Netns};
use crate::plan::HostPlan;

/// What the calls need beyond the plan: which FRR holds the BGP EVPN configuration, and
/// where this host's WireGuard private key is.
///
/// ```
/// use vxlan_mesh_core::host::Options;
/// use vxlan_mesh_core::netlink::frr::Frr;
/// let opts = Options::default().frr(Frr::system().pathspace("h1")).wireguard_key("/tmp/h1.key");
/// assert_eq!(opts.wireguard_key.to_str(), Some("/tmp/h1.key"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The FRR instance (mode `evpn`); default: the system's.
    pub frr: Frr,
    /// The WireGuard private key file (with encryption; not read otherwise); default
    /// [`crate::wireguard::DEFAULT_KEY_FILE`].
    pub wireguard_key: PathBuf,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            frr: Frr::system(),
            wireguard_key: PathBuf::from(crate::wireguard::DEFAULT_KEY_FILE),
        }
    }
}

impl Options {
    /// Selects the FRR instance.
    pub fn frr(mut self, frr: Frr) -> Options {
        self.frr = frr;
        self
    }

    /// Selects the WireGuard private key file.
    pub fn wireguard_key(mut self, path: impl Into<PathBuf>) -> Options {
        self.wireguard_key = path.into();
        self
    }
}

/// What an [`apply`] or [`down`] did, or a [`preview`] would do.
///
/// ```
/// let report = vxlan_mesh_core::host::Report::default();
/// assert!(report.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The device changes (and their warnings), in order.
    pub devices: netlink::DeviceReport,
    /// The change to FRR's `router bgp` block, if any.
    pub frr: Option<BgpChange>,
}

impl Report {
    /// Nothing was (or would be) changed.
    pub fn is_empty(&self) -> bool {
        self.devices.changes.is_empty() && self.frr.is_none()
    }
}

/// What the plan wants of FRR: its `router bgp` block and AS number in mode `evpn`.
fn desired_block(plan: &HostPlan) -> Option<(String, u32)> {
    crate::frr::Config::from_plan(plan).map(|c| (c.render(), c.asn()))
}

/// The change FRR needs (read under the caller's lock): the plan's block in evpn mode; else
/// the removal of ours, asked of FRR only when the record says there may be one.
fn frr_change(frr: &Frr, plan: &HostPlan, record: &std::path::Path) -> Result<Option<BgpChange>, HostError> {
    let compare = |source| HostError::FrrCompare {
        frr: frr.to_string(),
        source,
    };
    match desired_block(plan) {
        Some((block, asn)) => frr.change_to_unlocked(&block, asn).map_err(compare),
        None if frr_record::exists(record) => frr.removal_unlocked().map_err(compare),
        None => Ok(None),
    }
}

/// Runs `work` in the namespace `ns` holding its lock.
fn locked<T: Send>(
    ns: &Netns,
    kind: Lock,
    work: impl FnOnce() -> Result<T, HostError> + Send,
) -> Result<Result<T, HostError>, ApplyError> {
    ns.run(|| {
        let _lock = lock::take(ns, kind)?;
        Ok(work())
    })
}

/// `plan` with its WireGuard private key file checked and set (see [`crate::key_file`]).
fn keyed(plan: &HostPlan, opts: &Options) -> Result<HostPlan, HostError> {
    Ok(key_file::with_host_key(plan.clone(), &opts.wireguard_key)?)
}

/// What [`apply`] would do, changing nothing: the device changes with their warnings, and
/// FRR's change; or the error that would stop the apply before it changed anything.
///
/// ```no_run
/// use vxlan_mesh_core::host::{self, Options};
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a")?;
/// let here = vxlan_mesh_core::netlink::Netns::current()?;
/// let report = host::preview(&here, &plan, &Options::default())?;
/// println!("{} change(s) pending", report.devices.changes.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn preview(ns: &Netns, plan: &HostPlan, opts: &Options) -> Result<Report, HostError> {
    let plan = keyed(plan, opts)?;
    let would_fail = |source| HostError::WouldFail {
        host: plan.host.clone(),
        source: Box::new(source),
    };
    let record = frr_record::path(ns).map_err(|e| would_fail(HostError::Devices(e)))?;
    locked(ns, Lock::Shared, || {
        let devices = netlink::preview_locked(&plan).map_err(HostError::Devices)?;
        let frr = frr_change(&opts.frr, &plan, &record)?;
        Ok(Report { devices, frr })
    })
    .map_err(HostError::Devices)
    .and_then(|r| r)
    .map_err(would_fail)
}

/// Makes the namespace `ns` match the plan: devices, firewall, loop prevention, WireGuard
/// and FRR, in that order, under the namespace's lock. What FRR would refuse stops it
/// before any device changes ([`HostError::Refused`]).
///
/// ```no_run
/// use vxlan_mesh_core::host::{self, Options};
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a")?;
/// let report = host::apply(&vxlan_mesh_core::netlink::Netns::named("h1")?, &plan, &Options::default())?;
/// println!("{} device change(s)", report.devices.changes.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn apply(ns: &Netns, plan: &HostPlan, opts: &Options) -> Result<Report, HostError> {
    let plan = keyed(plan, opts)?;
    let host = || plan.host.clone();
    let stopped = |source| HostError::Stopped { host: host(), source };
    let record = frr_record::path(ns).map_err(stopped)?;
    locked(ns, Lock::Exclusive, || {
        let frr = frr_change(&opts.frr, &plan, &record).map_err(|e| HostError::Refused {
            host: host(),
            source: Box::new(e),
        })?;
        let devices = netlink::converge_locked(&plan.state(), Some(&plan)).map_err(stopped)?;
        // FRR after the devices: zebra announces a VNI once its VXLAN device exists. The
        // change was read under this same lock, so it is still the one FRR needs.
        let relearnt =
            converge_frr(&opts.frr, &plan, &record, frr.as_ref()).map_err(|e| HostError::StoppedAfterDevices {
                host: host(),
                devices: devices.clone(),
                source: Box::new(e),
            })?;
        Ok(Report {
            devices,
            frr: frr.or(relearnt),
        })
    })
    .map_err(stopped)?
}

/// Sends `change` to FRR, keeping the record true: written before a block of ours is
/// loaded, deleted once none is left. With our block already in place, zebra must know
/// every VNI of the plan: one it forgot is learnt again, and that change is returned.
fn converge_frr(
    frr: &Frr,
    plan: &HostPlan,
    record: &std::path::Path,
    change: Option<&BgpChange>,
) -> Result<Option<BgpChange>, HostError> {
    match desired_block(plan) {
        Some((_, asn)) => {
            if !frr_record::exists(record) {
                frr_record::write(record, frr, asn)?;
            }
            let load = |source| HostError::FrrLoad {
                frr: frr.to_string(),
                source,
            };
            match change {
                Some(change) => frr.send_unlocked(change).map_err(load).map(|()| None),
                None => {
                    let vnis = plan.evpn.as_ref().map(|e| e.vnis.as_slice()).unwrap_or_default();
                    frr.relearn_unlocked(asn, vnis).map_err(load)
                }
            }
        }
        None => {
            if let Some(change) = change {
                frr.send_unlocked(change).map_err(|source| HostError::FrrRemove {
                    frr: frr.to_string(),
                    source,
                })?;
            }
            frr_record::remove(record).map(|()| None)
        }
    }
}

/// Compares the namespace `ns` with the plan in one observation under the lock: the
/// device drift, FRR's drift and health, the WireGuard sessions and everything the
/// metrics show. Fails, like [`apply`], when the kernel or FRR would refuse the plan.
///
/// ```no_run
/// use vxlan_mesh_core::host::{self, Options};
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a")?;
/// let status = host::status(&vxlan_mesh_core::netlink::Netns::current()?, &plan, &Options::default())?;
/// println!("converged: {}, healthy: {}", status.converged(), status.healthy());
/// print!("{}", vxlan_mesh_core::metrics::render(&status.families(&plan)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn status(ns: &Netns, plan: &HostPlan, opts: &Options) -> Result<Status, HostError> {
    let plan = keyed(plan, opts)?;
    let collected_at = std::time::SystemTime::now();
    let started = std::time::Instant::now();
    let record = frr_record::path(ns).map_err(HostError::Observe)?;
    let (lock_wait, observed, frr) = ns
        .run(|| {
            let _lock = lock::take(ns, Lock::Shared)?;
            let lock_wait = started.elapsed();
            let observed = netlink::observe_locked(&plan)?;
            Ok((
                lock_wait,
                observed,
                status::frr_status_locked(&opts.frr, &plan, &record),
            ))
        })
        .map_err(HostError::Observe)?;
    let mut status = Status::new(observed, frr?);
    status.observation.lock_wait = lock_wait;
    status.observation.duration = started.elapsed();
    status.observation.collected_at = collected_at;
    Ok(status)
}

/// Removes everything vxlan-mesh owns in the namespace `ns`, and nothing else: FRR's block
/// first (with the devices gone its sessions would only flap), then the devices, firewall,
/// loop-prevention chain and WireGuard interface. Asks FRR whatever the record says (a
/// block loaded by hand or by an older vxlan-mesh goes too); no FRR, or no bgpd, means no
/// block.
///
/// ```no_run
/// use vxlan_mesh_core::host::{self, Options};
/// let report = host::down(&vxlan_mesh_core::netlink::Netns::current()?, &Options::default())?;
/// println!("removed {} object(s)", report.devices.changes.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn down(ns: &Netns, opts: &Options) -> Result<Report, HostError> {
    let teardown = |source| HostError::TeardownStopped { frr: None, source };
    let record = frr_record::path(ns).map_err(teardown)?;
    locked(ns, Lock::Exclusive, || {
        let remove = |source| HostError::FrrRemove {
            frr: opts.frr.to_string(),
            source,
        };
        let frr = opts.frr.removal_unlocked().map_err(remove)?;
        if let Some(change) = &frr {
            opts.frr.send_unlocked(change).map_err(remove)?;
        }
        frr_record::remove(&record)?;
        let devices =
            netlink::converge_locked(&State::default(), None).map_err(|source| HostError::TeardownStopped {
                frr: frr.clone().map(Box::new),
                source,
            })?;
        Ok(Report { devices, frr })
    })
    .map_err(teardown)?
}

/// The record file of the namespace `ns` (see the module docs): present while a `router
/// bgp` block of vxlan-mesh may be loaded in FRR.
///
/// ```no_run
/// let path = vxlan_mesh_core::host::frr_record_path(&vxlan_mesh_core::netlink::Netns::current()?)?;
/// assert!(path.starts_with("/run/vxlan-mesh/frr"));
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn frr_record_path(ns: &Netns) -> Result<PathBuf, ApplyError> {
    frr_record::path(ns)
}
