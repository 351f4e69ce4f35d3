//! Collecting what [`crate::metrics`] turns into Prometheus metrics: the same observation
//! and diff as [`super::status`], plus link counters, the firewall's drop counter, the
//! WireGuard peers' sessions and the time spent waiting for the lock.

use std::time::{Duration, Instant, SystemTime};

use super::lock::{self, Lock};
use super::{prepare, sessions_of, socket, ApplyError, Netns};
use crate::metrics::Observation;
use crate::plan::HostPlan;

/// Observes the namespace `ns` against `plan` for metrics: the pending changes (as
/// [`super::status`] returns them, failing where it fails), the owned links' carrier and
/// counters, the FDB entries, the firewall's drop counter, the WireGuard sessions (as
/// [`super::wireguard_sessions`] reads them, with encryption only), and how long the collection
/// waited for the lock and took.
///
/// ```no_run
/// # let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// use vxlan_mesh_core::{metrics, netlink};
/// let observed = netlink::observe_metrics(&netlink::Netns::current()?, &plan)?;
/// print!("{}", metrics::render(&metrics::families(&plan, &observed)));
/// # Ok::<(), vxlan_mesh_core::netlink::ApplyError>(())
/// ```
pub fn observe_metrics(ns: &Netns, plan: &HostPlan) -> Result<Observation, ApplyError> {
    let collected_at = SystemTime::now();
    let started = Instant::now();
    ns.run(|| {
        let _lock = lock::take(ns, Lock::Shared)?;
        let lock_wait = started.elapsed();
        Ok(Observation {
            lock_wait,
            duration: started.elapsed(),
            collected_at,
            ..observe_locked(plan)?
        })
    })
}

/// The observation of the current namespace against `plan`, under a lock the caller holds;
/// its timing fields are left for the caller to set.
pub(crate) fn observe_locked(plan: &HostPlan) -> Result<Observation, ApplyError> {
    let mut socket = socket::Socket::new()?;
    let (report, state, links) = prepare(&mut socket, &plan.state(), Some(plan))?;
    let wireguard = sessions_of(&links, plan)?;
    Ok(Observation {
        changes: report.changes,
        fdb: state.fdb,
        links: links.owned,
        firewall_drops: links.firewall_drops,
        firewall_blocked: links.firewall_blocked,
        wireguard,
        bgp: None,
        lock_wait: Duration::ZERO,
        duration: Duration::ZERO,
        collected_at: SystemTime::UNIX_EPOCH,
    })
}
