//! `vxlan-mesh status`: the differences between this host and its plan, as text, JSON or
//! Prometheus metrics (printed, or written for node_exporter's textfile collector).

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde::Serialize;
use vxlan_mesh_core::netlink::frr::Frr;
use vxlan_mesh_core::{metrics, netlink, Change};

use crate::cli::{Cli, StatusFormat};
use crate::frr::FrrStatus;
use crate::{frr, inventory_file, keys, output};

/// Exit code when the host differs from its plan.
const DRIFT: u8 = 2;

/// Exit code when the host matches its plan but a health check failed: a WireGuard peer has
/// never completed a handshake (unreachable, a wrong key on either side, or no traffic yet),
/// or in evpn mode a BGP session is not established or zebra does not know a VNI.
const UNHEALTHY: u8 = 3;

pub fn run(
    cli: &Cli,
    host: Option<&str>,
    format: StatusFormat,
    textfile: Option<&Path>,
    key: &Path,
    bgp: &Frr,
) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = keys::with_host_key(fleet.plan(&host.name)?, key)?;
    let ns = netlink::Netns::current()?;
    const CONTEXT: &str = "cannot compare this host with its plan";
    let exposition = || -> Result<(String, Vec<Change>)> {
        let observed = netlink::observe_metrics(&ns, &plan).context(CONTEXT)?;
        Ok((metrics::render(&metrics::families(&plan, &observed)), observed.changes))
    };
    if let Some(path) = textfile {
        write_atomically(path, &exposition()?.0)?;
        // A collector run from a timer: the drift is in the file, and a non-zero exit
        // would only mark the unit failed.
        return Ok(ExitCode::SUCCESS);
    }
    if format == StatusFormat::Prometheus {
        let (text, changes) = exposition()?;
        output::print(&text)?;
        return Ok(if changes.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(DRIFT)
        });
    }

    let changes = netlink::status(&ns, &plan).context(CONTEXT)?;
    let frr = frr::status(bgp, &ns, &plan)?;
    let frr_changes = frr.as_ref().map_or(0, |f| f.changes.len());
    let frr_problems = frr.as_ref().map_or(&[][..], |f| f.problems.as_slice());
    let converged = changes.is_empty() && frr_changes == 0;
    let now = SystemTime::now();
    let peers: Vec<PeerJson> = netlink::wireguard_sessions(&ns, &plan)
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
    if format == StatusFormat::Json {
        output::println(&serde_json::to_string_pretty(&StatusJson {
            changes: &changes,
            converged,
            frr: frr.as_ref(),
            host: &plan.host,
            wireguard_peers: plan.wireguard.as_ref().map(|_| peers.as_slice()),
        })?)?;
    } else {
        if converged {
            if !cli.quiet {
                output::println(&format!("host {}: converged", plan.host))?;
            }
        } else {
            output::println(&format!(
                "host {}: {} difference(s) from the plan:",
                plan.host,
                changes.len() + frr_changes
            ))?;
            for change in &changes {
                output::println(&format!("  {change}"))?;
            }
            for change in frr.iter().flat_map(|f| &f.changes) {
                output::println(&format!("  {change}"))?;
            }
        }
        if let Some(f) = frr.as_ref().filter(|_| !cli.quiet) {
            let up = f.health.sessions.iter().filter(|s| s.established()).count();
            output::println(&format!(
                "  bgp evpn: {up} of {} session(s) established; zebra knows {} VNI(s)",
                f.health.sessions.len(),
                f.health.vnis.len()
            ))?;
        }
        for problem in frr_problems {
            output::println(&format!("  bgp evpn: {problem}"))?;
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
    Ok(if !converged {
        ExitCode::from(DRIFT)
    } else if !never_seen.is_empty() || !frr_problems.is_empty() {
        if format == StatusFormat::Text && !never_seen.is_empty() {
            eprintln!(
                "host {}: no WireGuard handshake yet with {} (unreachable, a wrong key on either side, or no traffic since apply)",
                plan.host,
                never_seen.join(", ")
            );
        }
        if format == StatusFormat::Text && !frr_problems.is_empty() {
            eprintln!(
                "host {}: the BGP EVPN control plane is not healthy ({} problem(s))",
                plan.host,
                frr_problems.len()
            );
        }
        ExitCode::from(UNHEALTHY)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes `text` to `path` so that a reader (node_exporter) sees the old file or the new
/// one, never a part: a temporary file in the same directory (same file system), synced,
/// then renamed over `path`. Mode 0644: node_exporter runs as another user.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("`--textfile` `{}` names no file", path.display()))?;
    // Dot-prefixed and not ending in .prom: the collector reads only `*.prom` files.
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::options()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write `--textfile` `{}`", path.display()));
    }
    Ok(())
}

/// `status --format json`: `changes` (empty when converged), `converged`, `host`; fields in
/// alphabetical order, as the command has always printed them.
#[derive(Serialize)]
struct StatusJson<'a> {
    changes: &'a [Change],
    converged: bool,
    /// In evpn mode (or with a block of ours left in FRR): FRR's drift and health.
    frr: Option<&'a FrrStatus>,
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
