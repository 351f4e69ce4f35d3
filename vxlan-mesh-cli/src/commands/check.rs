//! `vxlan-mesh check`.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, OutputFormat};
use crate::inventory_file;
use crate::output;

pub fn run(cli: &Cli, format: OutputFormat) -> Result<ExitCode> {
    let result = inventory_file::check(&cli.inventory);
    match format {
        // The JSON form always goes to stdout, valid or not, so that a tool reads one object:
        // {"file", "valid", "errors": [{"line", "column", "code", "path", "message"}], and when valid
        // "mode", "hosts", "networks": [{"name", "mtu"}]}.
        OutputFormat::Json => {
            let value = match &result {
                Ok(fleet) => serde_json::json!({
                    "file": cli.inventory,
                    "valid": true,
                    "errors": [],
                    "mode": fleet.mode(),
                    "hosts": fleet.hosts().len(),
                    "networks": fleet.networks().iter().map(|n| serde_json::json!({"name": n.name, "mtu": n.mtu})).collect::<Vec<_>>(),
                }),
                Err(invalid) => serde_json::json!({
                    "file": invalid.file,
                    "valid": false,
                    "errors": invalid.errors,
                }),
            };
            output::println(&serde_json::to_string_pretty(&value)?)?;
            Ok(if result.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        OutputFormat::Text => {
            let fleet = result?;
            if !cli.quiet {
                let mtus: Vec<String> = fleet
                    .networks()
                    .iter()
                    .map(|n| format!("{} mtu {}", n.name, n.mtu))
                    .collect();
                output::println(&format!(
                    "{}: valid ({} hosts, {} mode; {})",
                    cli.inventory.display(),
                    fleet.hosts().len(),
                    fleet.mode().as_str(),
                    mtus.join(", ")
                ))?;
            }
            if cli.verbose > 0 {
                for n in fleet.networks() {
                    output::println(&format!(
                        "  network {}: bridge {}, VNI {}{}, container MTU {} (max {}), {} hosts",
                        n.name,
                        n.bridge,
                        n.vni,
                        if n.vni_last != n.vni {
                            format!("..{}", n.vni_last)
                        } else {
                            String::new()
                        },
                        n.mtu,
                        n.max_mtu,
                        n.members.len()
                    ))?;
                }
                for h in fleet.hosts() {
                    output::println(&format!(
                        "  host {} (id {}): {}, underlay MTU {}",
                        h.name, h.id, h.address, h.underlay_mtu
                    ))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
