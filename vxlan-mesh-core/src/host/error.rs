//! Why an apply, a status or a teardown of a host failed, with the stage it failed in.

use std::path::PathBuf;

use crate::diff::Change;
use crate::key_file::KeyError;
use crate::netlink::frr::{BgpChange, FrrError};
use crate::netlink::{self, ApplyError};

/// Why [`super::apply`], [`super::preview`], [`super::status`] or [`super::down`] failed.
/// The stage variants (`Refused`, `Stopped`, ...) say how far an apply got; their
/// [`std::error::Error::source`] says why.
///
/// ```
/// use vxlan_mesh_core::host::HostError;
/// use vxlan_mesh_core::netlink::ApplyError;
/// let e = HostError::Stopped {
///     host: "a".into(),
///     source: ApplyError::Decode { what: "link dump", message: "short".into() },
/// };
/// assert_eq!(e.to_string(), "apply for host `a` stopped");
/// assert!(e.changes_made().is_empty());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The WireGuard private key file is unusable or not the host's.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Observing or changing the devices failed.
    #[error(transparent)]
    Devices(ApplyError),
    /// Reading the host (devices, firewall, WireGuard) for `status` failed.
    #[error("cannot compare this host with its plan")]
    Observe(#[source] ApplyError),
    /// FRR's `router bgp` block cannot be compared with the plan, or is one vxlan-mesh
    /// must not change.
    #[error("cannot compare {frr}'s BGP configuration with the plan")]
    FrrCompare {
        /// Which FRR.
        frr: String,
        /// Why.
        #[source]
        source: FrrError,
    },
    /// Loading the block into FRR failed.
    #[error("cannot load the BGP configuration into {frr}")]
    FrrLoad {
        /// Which FRR.
        frr: String,
        /// Why.
        #[source]
        source: FrrError,
    },
    /// Removing our block from FRR failed.
    #[error("cannot remove vxlan-mesh's BGP configuration from {frr}")]
    FrrRemove {
        /// Which FRR.
        frr: String,
        /// Why.
        #[source]
        source: FrrError,
    },
    /// FRR's sessions and VNIs cannot be read.
    #[error("cannot read the BGP EVPN state of {frr}")]
    FrrHealth {
        /// Which FRR.
        frr: String,
        /// Why.
        #[source]
        source: FrrError,
    },
    /// The record of our FRR block cannot be written or deleted.
    #[error("cannot record vxlan-mesh's FRR block in `{path}`", path = path.display())]
    Record {
        /// The record file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `preview`: the apply would fail before changing anything.
    #[error("apply for host `{host}` would fail")]
    WouldFail {
        /// The host.
        host: String,
        /// Why.
        #[source]
        source: Box<HostError>,
    },
    /// The apply was refused before any device changed (what FRR would refuse).
    #[error("apply for host `{host}` refused")]
    Refused {
        /// The host.
        host: String,
        /// Why.
        #[source]
        source: Box<HostError>,
    },
    /// The device changes stopped ([`ApplyError::Stopped`] tells which were made).
    #[error("apply for host `{host}` stopped")]
    Stopped {
        /// The host.
        host: String,
        /// Why.
        #[source]
        source: ApplyError,
    },
    /// The devices converged, then FRR failed.
    #[error("apply for host `{host}` stopped after the device changes")]
    StoppedAfterDevices {
        /// The host.
        host: String,
        /// What the devices' apply did.
        devices: netlink::DeviceReport,
        /// Why FRR failed.
        #[source]
        source: Box<HostError>,
    },
    /// The teardown of the devices stopped, after FRR's block was removed (if it was).
    #[error("teardown stopped")]
    TeardownStopped {
        /// What was removed from FRR (boxed: the error stays small on the happy path).
        frr: Option<Box<BgpChange>>,
        /// Why.
        #[source]
        source: ApplyError,
    },
}

impl HostError {
    /// The device changes certainly made before the failure, in order: an apply or a
    /// teardown that stopped part-way, or an apply whose FRR step failed.
    pub fn changes_made(&self) -> &[Change] {
        match self {
            HostError::Stopped { source, .. } | HostError::TeardownStopped { source, .. } => match source {
                ApplyError::Stopped { done, .. } => done,
                _ => &[],
            },
            HostError::StoppedAfterDevices { devices, .. } => &devices.changes,
            _ => &[],
        }
    }
}
