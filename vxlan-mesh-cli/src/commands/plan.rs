//! `vxlan-mesh plan`.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;

use anyhow::Result;
use vxlan_mesh_core::{Fleet, HostPlan};

use super::fleet_size;
use crate::cli::{Cli, OutputFormat};
use crate::inventory_file;
use crate::output;
use crate::progress::Progress;

pub fn run(cli: &Cli, host: Option<&str>, all: bool, format: OutputFormat, allow_large: bool) -> Result<ExitCode> {
    fleet_size::override_needs_all(all, allow_large)?;
    let fleet = inventory_file::load(&cli.inventory)?;
    if all {
        fleet_size::refuse_large(&fleet, "plan --all", allow_large)?;
        all_hosts(cli, &fleet, format)?;
        return Ok(ExitCode::SUCCESS);
    }
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = fleet.plan(&host.name)?;
    match format {
        OutputFormat::Json => output::println(&serde_json::to_string_pretty(&plan)?)?,
        OutputFormat::Text => output::print(&text_for(cli, &plan))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Every host's plan, streamed: one plan in memory at a time, whatever the fleet's size (the
/// JSON of 1,000 per-peer plans is about 600 MB).
fn all_hosts(cli: &Cli, fleet: &Fleet, format: OutputFormat) -> Result<()> {
    // When stdout is the terminal the output itself shows progress; a counter on the same
    // screen would only garble it.
    let quiet = cli.quiet || std::io::stdout().is_terminal();
    let mut progress = Progress::new("planning", fleet.hosts().len() as u64, quiet);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if format == OutputFormat::Json {
        out.write_all(b"[\n")?;
    }
    for (i, h) in fleet.hosts().iter().enumerate() {
        let plan = fleet.plan(&h.name)?;
        match format {
            // An array of plans, each the same object `plan --host` prints.
            OutputFormat::Json => {
                if i > 0 {
                    out.write_all(b",\n")?;
                }
                serde_json::to_writer_pretty(&mut out, &plan).map_err(std::io::Error::from)?;
            }
            OutputFormat::Text => {
                if i > 0 {
                    out.write_all(b"\n")?;
                }
                out.write_all(text_for(cli, &plan).as_bytes())?;
            }
        }
        progress.inc(1);
    }
    if format == OutputFormat::Json {
        out.write_all(b"\n]\n")?;
    }
    out.flush()?;
    progress.finish();
    Ok(())
}

/// The table, with `-v` followed by the details it leaves out.
fn text_for(cli: &Cli, plan: &HostPlan) -> String {
    let mut s = text(plan);
    if cli.verbose > 0 {
        s.push_str(&details(plan));
    }
    s
}

/// Peers with ids, the firewall's allow-list, ebtables rules and ownership marks.
fn details(plan: &HostPlan) -> String {
    let mut s = String::new();
    let _ = writeln!(s);
    let _ = writeln!(s, "peers:");
    for p in &plan.peers {
        let _ = writeln!(s, "  {:<16} id {:<6} {}", p.name, p.id, p.address);
    }
    if let Some(fw) = &plan.firewall {
        let peers: Vec<String> = fw.peers.iter().map(ToString::to_string).collect();
        let _ = writeln!(s, "firewall allow-list (UDP {}): {}", fw.port, peers.join(" "));
    }
    if let Some(rules) = &plan.loop_rules {
        for rule in &rules.rules {
            let op = vxlan_mesh_core::ops::Op::AppendRule {
                chain: rules.chain.clone(),
                rule: rule.clone(),
            };
            let _ = writeln!(s, "{}", vxlan_mesh_core::argv::of(&op));
        }
    }
    let _ = writeln!(s, "ownership marks (interface alias):");
    if let Some(wg) = &plan.wireguard {
        let _ = writeln!(s, "  {:<12} {}", wg.interface, wg.alias);
    }
    for net in &plan.networks {
        let _ = writeln!(s, "  {:<12} {}", net.bridge.name, net.bridge.alias);
        for vx in &net.vxlans {
            let _ = writeln!(s, "  {:<12} {}", vx.name, vx.alias);
        }
    }
    s
}

/// The BGP EVPN control plane's lines of the plan text.
fn evpn_text(s: &mut String, evpn: &vxlan_mesh_core::EvpnPlan) {
    let timers = evpn
        .timers
        .map(|t| format!("keepalive {}s, hold time {}s", t.keepalive, t.hold_time))
        .unwrap_or_else(|| "FRR's default timers".to_string());
    let role = if evpn.route_reflector {
        "route reflector"
    } else {
        "route reflector client"
    };
    let _ = writeln!(
        s,
        "evpn: BGP AS {} · router-id {} · {role} · {timers}",
        evpn.asn, evpn.router_id
    );
    for session in &evpn.sessions {
        let _ = writeln!(
            s,
            "  session {:<16} {} (route reflector)",
            session.peer, session.address
        );
    }
    if let Some(range) = &evpn.listen_range {
        let _ = writeln!(
            s,
            "  listen range {range} (accepts sessions from every host of the prefix)"
        );
    }
    let vnis: Vec<String> = evpn.vnis.iter().map(ToString::to_string).collect();
    let _ = writeln!(s, "  VNIs announced: {}", vnis.join(", "));
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
    match &plan.wireguard {
        Some(wg) => {
            let _ = writeln!(
                s,
                "encryption: wireguard · interface {} {}/{} · UDP {} · MTU {} · public key {}",
                wg.interface, wg.address, wg.prefix_len, wg.listen_port, wg.mtu, wg.public_key
            );
            for p in &wg.peers {
                let keepalive = p
                    .persistent_keepalive
                    .map(|k| format!(" · keepalive {k}s"))
                    .unwrap_or_default();
                let allowed: Vec<String> = p.allowed_ips.iter().map(ToString::to_string).collect();
                let _ = writeln!(
                    s,
                    "  peer {:<16} {:<24} allowed {} · key {}{keepalive}",
                    p.name,
                    p.endpoint,
                    allowed.join(","),
                    p.public_key
                );
            }
        }
        None => {
            let _ = writeln!(s, "encryption: none (VXLAN crosses the underlay in clear UDP)");
        }
    }
    match &plan.firewall {
        Some(fw @ vxlan_mesh_core::Firewall { wireguard: Some(w), .. }) => {
            let _ = writeln!(
                s,
                "firewall: nftables table inet {} accepts WireGuard (UDP {}) from {} peer address(es) only, VXLAN (UDP {}) in and out by {} only",
                fw.table,
                fw.port,
                fw.peers.len(),
                w.vxlan_port,
                w.interface
            );
        }
        Some(fw @ vxlan_mesh_core::Firewall { evpn: Some(e), .. }) => {
            let _ = writeln!(
                s,
                "firewall: nftables table inet {} accepts VXLAN (UDP {}) and BGP (TCP {}) from {} only",
                fw.table, fw.port, e.bgp_port, e.prefix
            );
        }
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
    if let Some(evpn) = &plan.evpn {
        evpn_text(&mut s, evpn);
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
            let remote = match (vx.remote, &plan.evpn) {
                (Some(r), _) => r.to_string(),
                (None, Some(_)) => "fdb: by FRR (EVPN)".to_string(),
                (None, None) => format!("fdb: {} peer(s)", net.fdb.len()),
            };
            let mut flags = Vec::new();
            if vx.port_flags.isolated {
                flags.push("isolated");
            }
            flags.push(if vx.learning { "learning" } else { "nolearning" });
            if vx.port_flags.neigh_suppress {
                flags.push("neigh_suppress");
            }
            if !vx.port_flags.learning {
                flags.push("port-nolearning");
            }
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
