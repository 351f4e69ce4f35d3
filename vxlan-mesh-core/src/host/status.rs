//! What [`super::status`] found: the device drift and the rest of the observation
//! ([`crate::metrics::Observation`]), FRR's drift and health, and what follows from them
//! (converged, healthy, the metrics).

use std::path::Path;

use serde::Serialize;

use super::{desired_block, frr_change, frr_record, locked, HostError};
use crate::metrics::{self, BgpObservation, MetricFamily, Observation};
use crate::netlink::frr::{BgpChange, Frr, Health, HealthProblem};
use crate::netlink::lock::Lock;
use crate::netlink::Netns;
use crate::plan::HostPlan;

/// FRR's part of a status: in mode `evpn`, or outside it while a block of ours is left.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FrrStatus {
    /// What `apply` would change in FRR's `router bgp` block (drift).
    pub changes: Vec<BgpChange>,
    /// The sessions and VNIs FRR reports (empty outside mode `evpn`).
    pub health: Health,
    /// What is wrong with them (a health problem, not drift).
    pub problems: Vec<HealthProblem>,
}

/// One observation of a host against its plan.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Status {
    /// The devices' drift, links, FDB, firewall counters and WireGuard sessions, and the
    /// collection's timing; with FRR's summary in [`Observation::bgp`].
    pub observation: Observation,
    /// FRR's drift and health; `None` outside mode `evpn` with no block of ours left.
    pub frr: Option<FrrStatus>,
}

impl Status {
    pub(super) fn new(mut observation: Observation, frr: Option<FrrStatus>) -> Status {
        observation.bgp = frr.as_ref().map(|f| BgpObservation {
            pending_changes: f.changes.len(),
            sessions: f
                .health
                .sessions
                .iter()
                .map(|s| (s.peer.clone(), s.established()))
                .collect(),
            vnis: f.health.vnis.iter().map(|v| (v.vni, v.remote_vteps.len())).collect(),
            problems: f.problems.len(),
        });
        Status { observation, frr }
    }

    /// The device changes `apply` would make (FRR's are in [`Status::frr`]).
    pub fn changes(&self) -> &[crate::diff::Change] {
        &self.observation.changes
    }

    /// How many differences from the plan: the device changes and FRR's.
    pub fn differences(&self) -> usize {
        self.observation.changes.len() + self.frr.as_ref().map_or(0, |f| f.changes.len())
    }

    /// The host matches its plan, FRR included.
    pub fn converged(&self) -> bool {
        self.differences() == 0
    }

    /// The plan's WireGuard peers that never completed a handshake (by host name).
    pub fn never_handshaken(&self) -> Vec<&str> {
        self.observation
            .wireguard
            .iter()
            .filter(|(_, s)| s.latest_handshake.is_none())
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// FRR's health problems (mode `evpn`).
    pub fn frr_problems(&self) -> &[HealthProblem] {
        self.frr.as_ref().map_or(&[], |f| f.problems.as_slice())
    }

    /// No WireGuard peer without a handshake, no FRR health problem.
    pub fn healthy(&self) -> bool {
        self.never_handshaken().is_empty() && self.frr_problems().is_empty()
    }

    /// The Prometheus metric families of this observation ([`crate::metrics::families`]).
    pub fn families(&self, plan: &HostPlan) -> Vec<MetricFamily> {
        metrics::families(plan, &self.observation)
    }
}

/// FRR's drift and health for `plan`, read under the caller's lock: in evpn mode the
/// block's drift, the sessions and VNIs; outside it, a block of ours left (asked of FRR only
/// when the record says there may be one); `None` when there is nothing to report.
pub(super) fn frr_status_locked(frr: &Frr, plan: &HostPlan, record: &Path) -> Result<Option<FrrStatus>, HostError> {
    let changes: Vec<BgpChange> = frr_change(frr, plan, record)?.into_iter().collect();
    if plan.evpn.is_none() || desired_block(plan).is_none() {
        return Ok((!changes.is_empty()).then(|| FrrStatus {
            changes,
            ..FrrStatus::default()
        }));
    }
    let health = frr.health_unlocked().map_err(|source| HostError::FrrHealth {
        frr: frr.to_string(),
        source,
    })?;
    // Every VNI of the plan, each on our device: a VNI zebra ties to another device is a
    // problem too (that device carries the VNI's traffic).
    let devices: Vec<(u32, &str)> = plan.vxlans().map(|v| (v.vni, v.name.as_str())).collect();
    let problems = health.problems_of_devices(&devices);
    Ok(Some(FrrStatus {
        changes,
        health,
        problems,
    }))
}

/// FRR's part of [`super::status`] alone, under the namespace's lock: what `lab up` polls
/// while the BGP sessions come up.
///
/// ```no_run
/// use vxlan_mesh_core::host;
/// use vxlan_mesh_core::netlink::{frr::Frr, Netns};
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a")?;
/// let frr = host::frr_status(&Netns::current()?, &plan, &Frr::system())?;
/// println!("{:?}", frr.map(|f| f.problems));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn frr_status(ns: &Netns, plan: &HostPlan, frr: &Frr) -> Result<Option<FrrStatus>, HostError> {
    let record = frr_record::path(ns).map_err(HostError::Observe)?;
    locked(ns, Lock::Shared, || frr_status_locked(frr, plan, &record)).map_err(HostError::Observe)?
}
