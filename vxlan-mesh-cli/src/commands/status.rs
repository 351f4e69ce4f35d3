//! `vxlan-mesh status`: the differences between this host and its plan.

use std::process::ExitCode;

use anyhow::{Context, Result};
use vxlan_mesh_core::netlink;

use crate::cli::{Cli, OutputFormat};
use crate::inventory_file;

/// Exit code when the host differs from its plan.
const DRIFT: u8 = 2;

pub fn run(cli: &Cli, host: Option<&str>, format: OutputFormat) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = fleet.plan(&host.name)?;
    let changes =
        netlink::status(&netlink::Netns::current()?, &plan).context("cannot compare this host with its plan")?;
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "host": plan.host,
                "converged": changes.is_empty(),
                "changes": changes,
            }))?
        ),
        OutputFormat::Text => {
            if changes.is_empty() {
                if !cli.quiet {
                    println!("host {}: converged", plan.host);
                }
            } else {
                println!("host {}: {} difference(s) from the plan:", plan.host, changes.len());
                for change in &changes {
                    println!("  {change}");
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
