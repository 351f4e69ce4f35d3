//! `vxlan-mesh status`: the differences between this host and its plan.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
use vxlan_mesh_core::{netlink, Change};

use crate::cli::{Cli, OutputFormat};
use crate::{inventory_file, keys, output};

/// Exit code when the host differs from its plan.
const DRIFT: u8 = 2;

pub fn run(cli: &Cli, host: Option<&str>, format: OutputFormat, key: &Path) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = fleet.plan(&host.name)?;
    keys::check_host_key(&plan, key)?;
    let changes =
        netlink::status(&netlink::Netns::current()?, &plan).context("cannot compare this host with its plan")?;
    match format {
        OutputFormat::Json => output::println(&serde_json::to_string_pretty(&StatusJson {
            changes: &changes,
            converged: changes.is_empty(),
            host: &plan.host,
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
        }
    }
    Ok(if changes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(DRIFT)
    })
}

/// `status --format json`: `changes` (empty when converged), `converged`, `host`; fields in
/// alphabetical order, as the command has always printed them.
#[derive(Serialize)]
struct StatusJson<'a> {
    changes: &'a [Change],
    converged: bool,
    host: &'a str,
}
