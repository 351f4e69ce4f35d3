//! `vxlan-mesh status`: the differences between this host and its plan, as text, JSON or
//! Prometheus metrics (printed, or written for node_exporter's textfile collector).

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
use vxlan_mesh_core::{metrics, netlink, Change};

use crate::cli::{Cli, StatusFormat};
use crate::{inventory_file, output};

/// Exit code when the host differs from its plan.
const DRIFT: u8 = 2;

pub fn run(cli: &Cli, host: Option<&str>, format: StatusFormat, textfile: Option<&Path>) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = fleet.plan(&host.name)?;
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
    let changes = match format {
        StatusFormat::Prometheus => {
            let (text, changes) = exposition()?;
            output::print(&text)?;
            changes
        }
        StatusFormat::Json => {
            let changes = netlink::status(&ns, &plan).context(CONTEXT)?;
            output::println(&serde_json::to_string_pretty(&StatusJson {
                changes: &changes,
                converged: changes.is_empty(),
                host: &plan.host,
            })?)?;
            changes
        }
        StatusFormat::Text => {
            let changes = netlink::status(&ns, &plan).context(CONTEXT)?;
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
            changes
        }
    };
    Ok(if changes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(DRIFT)
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
    host: &'a str,
}
