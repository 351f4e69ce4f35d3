//! `vxlan-mesh status`: the differences between this host and its plan, as text, JSON or
//! Prometheus metrics (printed, or written for node_exporter's textfile collector).

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde::Serialize;
use vxlan_mesh_core::host::{self, FrrStatus, Options, Status};
use vxlan_mesh_core::{metrics, netlink, Change};

use crate::cli::{Cli, StatusFormat};
use crate::{inventory_file, output};

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
    opts: &Options,
) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = fleet.plan(&host.name)?;
    let ns = netlink::Netns::current()?;
    // One observation under the namespace's lock: drift, health and metrics all come from it.
    let status = host::status(&ns, &plan, opts)?;
    if let Some(path) = textfile {
        write_atomically(path, &metrics::render(&status.families(&plan)))?;
        // A collector run from a timer: the drift and the health are in the file, and a
        // non-zero exit would only mark the unit failed.
        return Ok(ExitCode::SUCCESS);
    }
    match format {
        StatusFormat::Prometheus => output::print(&metrics::render(&status.families(&plan)))?,
        StatusFormat::Json => print_json(&plan.host, plan.wireguard.is_some(), &status)?,
        StatusFormat::Text => print_text(cli, &plan.host, &status)?,
    }
    Ok(if !status.converged() {
        ExitCode::from(DRIFT)
    } else if !status.healthy() {
        ExitCode::from(UNHEALTHY)
    } else {
        ExitCode::SUCCESS
    })
}

/// `status` as text: the differences, FRR's sessions and problems, the WireGuard peers, and
/// (on standard error) why the host is unhealthy.
fn print_text(cli: &Cli, host: &str, status: &Status) -> Result<()> {
    if status.converged() {
        if !cli.quiet {
            output::println(&format!("host {host}: converged"))?;
        }
    } else {
        output::println(&format!(
            "host {host}: {} difference(s) from the plan:",
            status.differences()
        ))?;
        for change in status.changes() {
            output::println(&format!("  {change}"))?;
        }
        for change in status.frr.iter().flat_map(|f| &f.changes) {
            output::println(&format!("  {change}"))?;
        }
    }
    if let Some(f) = status.frr.as_ref().filter(|_| !cli.quiet) {
        let up = f.health.sessions.iter().filter(|s| s.established()).count();
        output::println(&format!(
            "  bgp evpn: {up} of {} session(s) established; zebra knows {} VNI(s)",
            f.health.sessions.len(),
            f.health.vnis.len()
        ))?;
    }
    for problem in status.frr_problems() {
        output::println(&format!("  bgp evpn: {problem}"))?;
    }
    for p in peers(status) {
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
    if status.converged() {
        let never_seen = status.never_handshaken();
        if !never_seen.is_empty() {
            eprintln!(
                "host {host}: no WireGuard handshake yet with {} (unreachable, a wrong key on either side, or no traffic since apply)",
                never_seen.join(", ")
            );
        }
        if !status.frr_problems().is_empty() {
            eprintln!(
                "host {host}: the BGP EVPN control plane is not healthy ({} problem(s))",
                status.frr_problems().len()
            );
        }
    }
    Ok(())
}

/// `status --format json`.
fn print_json(host: &str, encrypted: bool, status: &Status) -> Result<()> {
    let peers = peers(status);
    output::println(&serde_json::to_string_pretty(&StatusJson {
        changes: status.changes(),
        converged: status.converged(),
        frr: status.frr.as_ref(),
        host,
        wireguard_peers: encrypted.then_some(peers.as_slice()),
    })?)
}

/// The WireGuard peers' sessions, as `status` shows them.
fn peers(status: &Status) -> Vec<PeerJson> {
    let now = SystemTime::now();
    status
        .observation
        .wireguard
        .iter()
        .map(|(peer, s)| PeerJson {
            latest_handshake_age_seconds: s
                .latest_handshake
                .map(|t| now.duration_since(t).unwrap_or_default().as_secs()),
            peer: peer.clone(),
            rx_bytes: s.rx_bytes,
            tx_bytes: s.tx_bytes,
        })
        .collect()
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
