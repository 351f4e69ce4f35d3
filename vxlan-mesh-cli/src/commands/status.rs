//! `vxlan-mesh status`: the differences between this host and its plan.

use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde::Serialize;
use vxlan_mesh_core::{netlink, Change};

use crate::cli::{Cli, OutputFormat};
use crate::{inventory_file, keys, output};

/// Exit code when the host differs from its plan.
const DRIFT: u8 = 2;

/// Exit code when the host matches its plan but a WireGuard peer has never completed a
/// handshake (unreachable, a wrong key on either side, or no traffic yet).
const PEER_NEVER_SEEN: u8 = 3;

pub fn run(cli: &Cli, host: Option<&str>, format: OutputFormat, key: &Path) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = keys::with_host_key(fleet.plan(&host.name)?, key)?;
    let here = netlink::Netns::current()?;
    let changes = netlink::status(&here, &plan).context("cannot compare this host with its plan")?;
    let now = SystemTime::now();
    let peers: Vec<PeerJson> = netlink::wireguard_sessions(&here, &plan)
        .context("cannot read the WireGuard peers")?
        .into_iter()
        .map(|(peer, s)| PeerJson {
            latest_handshake_age_seconds: s
                .latest_handshake
                .map(|t| now.duration_since(t).unwrap_or_default().as_secs()),
            peer,
            rx_bytes: s.rx_bytes,
            tx_bytes: s.tx_bytes,
        })
        .collect();
    let never_seen: Vec<&str> = peers
        .iter()
        .filter(|p| p.latest_handshake_age_seconds.is_none())
        .map(|p| p.peer.as_str())
        .collect();
    match format {
        OutputFormat::Json => output::println(&serde_json::to_string_pretty(&StatusJson {
            changes: &changes,
            converged: changes.is_empty(),
            host: &plan.host,
            wireguard_peers: plan.wireguard.as_ref().map(|_| peers.as_slice()),
        })?)?,
        OutputFormat::Text => {
            if changes.is_empty() {
                if !cli.quiet {
                    output::println(&format!("host {}: converged", plan.host))?;
                }
            } else {
                output::println(&format!(
                    "host {}: {} difference(s) from the plan:",
                    plan.host,
                    changes.len()
                ))?;
                for change in &changes {
                    output::println(&format!("  {change}"))?;
                }
            }
            for p in &peers {
                let seen = p
                    .latest_handshake_age_seconds
                    .map_or_else(|| "never (no handshake yet)".to_string(), |age| format!("{age}s ago"));
                if !cli.quiet || p.latest_handshake_age_seconds.is_none() {
                    output::println(&format!(
                        "  wireguard peer {}: latest handshake {seen}, received {} B, sent {} B",
                        p.peer, p.rx_bytes, p.tx_bytes
                    ))?;
                }
            }
        }
    }
    Ok(if !changes.is_empty() {
        ExitCode::from(DRIFT)
    } else if !never_seen.is_empty() {
        if format == OutputFormat::Text {
            eprintln!(
                "host {}: no WireGuard handshake yet with {} (unreachable, a wrong key on either side, or no traffic since apply)",
                plan.host,
                never_seen.join(", ")
            );
        }
        ExitCode::from(PEER_NEVER_SEEN)
    } else {
        ExitCode::SUCCESS
    })
}

/// `status --format json`: `changes` (empty when converged), `converged`, `host`; fields in
/// alphabetical order, as the command has always printed them.
#[derive(Serialize)]
struct StatusJson<'a> {
    changes: &'a [Change],
    converged: bool,
    host: &'a str,
    /// With encryption: each peer's session (`null` without encryption).
    wireguard_peers: Option<&'a [PeerJson]>,
}

/// One WireGuard peer's session in `status --format json`.
#[derive(Serialize)]
struct PeerJson {
    /// Seconds since the latest handshake; `null` if there never was one.
    latest_handshake_age_seconds: Option<u64>,
    peer: String,
    rx_bytes: u64,
    tx_bytes: u64,
}
