//! `vxlan-mesh check`.

use std::process::ExitCode;

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use vxlan_mesh_core::Mode;

use crate::cli::{Cli, OutputFormat};
use crate::inventory_file::{self, Diagnostic};
use crate::output;

pub fn run(cli: &Cli, format: OutputFormat) -> Result<ExitCode> {
    let result = inventory_file::check(&cli.inventory);
    match format {
        // The JSON form always goes to stdout, valid or not, so that a tool reads one object.
        OutputFormat::Json => {
            let value = match &result {
                Ok(fleet) => CheckJson {
                    errors: &[],
                    file: &cli.inventory,
                    hosts: Some(fleet.hosts().len()),
                    mode: Some(fleet.mode()),
                    networks: Some(
                        fleet
                            .networks()
                            .iter()
                            .map(|n| NetworkJson {
                                mtu: n.mtu,
                                name: &n.name,
                            })
                            .collect(),
                    ),
                    valid: true,
                },
                Err(invalid) => CheckJson {
                    errors: &invalid.errors,
                    file: &invalid.file,
                    hosts: None,
                    mode: None,
                    networks: None,
                    valid: false,
                },
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

/// `check --format json`: `errors` (`[{"line", "column", "message"}]`, empty when valid),
/// `file`, `valid`, and when valid `hosts`, `mode`, `networks` (`[{"mtu", "name"}]`). Fields
/// in alphabetical order, as the command has always printed them.
#[derive(Serialize)]
struct CheckJson<'a> {
    errors: &'a [Diagnostic],
    file: &'a Path,
    #[serde(skip_serializing_if = "Option::is_none")]
    hosts: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<Mode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    networks: Option<Vec<NetworkJson<'a>>>,
    valid: bool,
}

/// A network in [`CheckJson`].
#[derive(Serialize)]
struct NetworkJson<'a> {
    mtu: u32,
    name: &'a str,
}
