//! `vxlan-mesh check`.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, OutputFormat};
use crate::inventory_file;

pub fn run(cli: &Cli, format: OutputFormat) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "valid": true,
                "hosts": fleet.hosts.len(),
                "networks": fleet.networks.iter().map(|n| serde_json::json!({"name": n.name, "mtu": n.mtu})).collect::<Vec<_>>(),
            })
        ),
        OutputFormat::Text => {
            if !cli.quiet {
                let mtus: Vec<String> = fleet
                    .networks
                    .iter()
                    .map(|n| format!("{} mtu {}", n.name, n.mtu))
                    .collect();
                println!(
                    "{}: valid ({} hosts, {} mode; {})",
                    cli.inventory.display(),
                    fleet.hosts.len(),
                    fleet.mode.as_str(),
                    mtus.join(", ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
