//! `vxlan-mesh plan`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use vxlan_mesh_core::HostPlan;

use crate::cli::{Cli, OutputFormat};
use crate::inventory_file;

pub fn run(cli: &Cli, host: Option<&str>, format: OutputFormat) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = fleet.plan(&host.name)?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        OutputFormat::Text => print!("{}", text(&plan)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan as a readable table.
pub fn text(plan: &HostPlan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "host {} (id {}) underlay {} {}mtu {} · mode {} · port {}",
        plan.host,
        plan.host_id,
        plan.address,
        plan.underlay_device
            .as_ref()
            .map(|d| format!("dev {d} "))
            .unwrap_or_default(),
        plan.underlay_mtu,
        plan.mode.as_str(),
        plan.port
    );
    let _ = writeln!(s, "loop prevention: {}", plan.loop_prevention.describe());
    match &plan.firewall {
        Some(fw) => {
            let _ = writeln!(
                s,
                "firewall: nftables table inet {} accepts UDP {} from {} peer(s) only",
                fw.table,
                fw.port,
                fw.peers.len()
            );
        }
        None => {
            let _ = writeln!(s, "firewall: off (UDP {} open to anyone)", plan.port);
        }
    }
    for net in &plan.networks {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "network {} · bridge {} · container MTU {} (max {}, overhead {})",
            net.name, net.bridge.name, net.mtu, net.max_mtu, plan.overhead
        );
        let _ = writeln!(
            s,
            "  {:<12} {:>8}  {:<24} {:<16} FLAGS",
            "DEVICE", "VNI", "REMOTE", "PEER"
        );
        for vx in &net.vxlans {
            let remote = vx
                .remote
                .map(|r| r.to_string())
                .unwrap_or_else(|| format!("fdb: {} peer(s)", net.fdb.len()));
            let mut flags = Vec::new();
            if vx.isolated {
                flags.push("isolated");
            }
            flags.push(if vx.learning { "learning" } else { "nolearning" });
            let _ = writeln!(
                s,
                "  {:<12} {:>8}  {:<24} {:<16} {}",
                vx.name,
                vx.vni,
                remote,
                vx.peer.as_deref().unwrap_or("-"),
                flags.join(",")
            );
        }
        for e in &net.fdb {
            let _ = writeln!(
                s,
                "  fdb {} dst {} dev {} ({})",
                e.mac,
                e.destination,
                e.device,
                e.peer.as_deref().unwrap_or("-")
            );
        }
    }
    s
}
