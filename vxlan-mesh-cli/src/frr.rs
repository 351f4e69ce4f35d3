//! The FRR side of `apply`, `status` and `down` (mode `evpn`): which FRR instance to talk
//! to (`--frr-pathspace`, `--frr-vty-dir`), and what the plan wants of it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use vxlan_mesh_core::netlink::frr::{BgpChange, Frr, Health, HealthProblem};
use vxlan_mesh_core::netlink::Netns;
use vxlan_mesh_core::HostPlan;

/// `--frr-pathspace NAME` and `--frr-vty-dir DIR` of the commands that act on this host.
#[derive(Debug, Args, Clone)]
pub struct FrrArg {
    /// The FRR instance holding the BGP EVPN configuration (mode `evpn`): the pathspace its
    /// daemons were started with (`-N NAME`). Default: the system's FRR.
    #[arg(long, value_name = "NAME", env = "VXLAN_MESH_FRR_PATHSPACE")]
    pub frr_pathspace: Option<String>,
    /// Where vtysh finds the FRR daemons' vty sockets (its `--vty_socket`; with
    /// `--frr-pathspace NAME`, in DIR/NAME). Default: FRR's own (/var/run/frr).
    #[arg(long, value_name = "DIR", env = "VXLAN_MESH_FRR_VTY_DIR")]
    pub frr_vty_dir: Option<PathBuf>,
}

impl FrrArg {
    /// The instance the arguments select.
    pub fn instance(&self) -> Frr {
        let mut frr = Frr::system();
        if let Some(name) = &self.frr_pathspace {
            frr = frr.pathspace(name.clone());
        }
        if let Some(dir) = &self.frr_vty_dir {
            frr = frr.vty_dir(dir.clone());
        }
        frr
    }
}

/// The `router bgp` block the plan wants in FRR and its AS number; `None` outside evpn
/// mode (where vxlan-mesh's block, if FRR still holds one, is removed).
fn desired(plan: &HostPlan) -> Option<(String, u32)> {
    vxlan_mesh_core::frr::Config::from_plan(plan).map(|c| (c.render(), c.asn()))
}

/// The VNIs the plan announces, which zebra must know.
fn vnis(plan: &HostPlan) -> &[u32] {
    plan.evpn.as_ref().map(|e| e.vnis.as_slice()).unwrap_or_default()
}

/// What converging FRR to the plan takes, changing nothing (`apply --dry-run`, `status`).
pub fn preview(frr: &Frr, ns: &Netns, plan: &HostPlan) -> Result<Option<BgpChange>> {
    match desired(plan) {
        Some((block, asn)) => frr.preview(ns, &block, asn),
        None => frr.preview_remove(ns),
    }
    .with_context(|| format!("cannot compare {frr}'s BGP configuration with the plan"))
}

/// Converges FRR to the plan: loads the plan's block, or removes ours outside evpn mode.
pub fn converge(frr: &Frr, ns: &Netns, plan: &HostPlan) -> Result<Option<BgpChange>> {
    match desired(plan) {
        // With the block in place already, zebra must know every VNI of the plan: one it
        // forgot is learnt again.
        Some((block, asn)) => frr
            .load(ns, &block, asn)
            .and_then(|change| change.map_or_else(|| frr.relearn(ns, asn, vnis(plan)), |c| Ok(Some(c)))),
        None => frr.remove(ns),
    }
    .with_context(|| format!("cannot load the BGP configuration into {frr}"))
}

/// The dry-run lines of a change: a `#` line naming it, then the vtysh command.
pub fn dry_run_lines(frr: &Frr, change: &BgpChange) -> [String; 2] {
    [format!("# {change}"), frr.command_line(&change.vtysh_commands())]
}

/// FRR's part of `status` in evpn mode.
#[derive(Debug, Serialize)]
pub struct FrrStatus {
    /// What `apply` would change in FRR's `router bgp` block (drift).
    pub changes: Vec<BgpChange>,
    /// The sessions and VNIs FRR reports.
    pub health: Health,
    /// What is wrong with them (a health problem, exit 3 without drift).
    pub problems: Vec<HealthProblem>,
}

/// FRR's drift and health for `plan`; `None` outside evpn mode with no block of ours left
/// (nothing to report). Outside evpn mode a block of ours still in FRR is drift.
pub fn status(frr: &Frr, ns: &Netns, plan: &HostPlan) -> Result<Option<FrrStatus>> {
    let changes: Vec<BgpChange> = preview(frr, ns, plan)?.into_iter().collect();
    if desired(plan).is_none() {
        return Ok((!changes.is_empty()).then(|| FrrStatus {
            changes,
            health: Health::default(),
            problems: Vec::new(),
        }));
    }
    let health = frr
        .health(ns)
        .with_context(|| format!("cannot read the BGP EVPN state of {frr}"))?;
    let devices: Vec<(u32, &str)> = plan.vxlans().map(|v| (v.vni, v.name.as_str())).collect();
    let problems = health.problems_of_devices(&devices);
    Ok(Some(FrrStatus {
        changes,
        health,
        problems,
    }))
}
