//! `vxlan-mesh down`: remove everything vxlan-mesh owns on this host (the work is
//! [`vxlan_mesh_core::host::down`]'s; this prints it).

use std::process::ExitCode;

use anyhow::Result;
use vxlan_mesh_core::host::{self, HostError, Options};
use vxlan_mesh_core::{key_file, netlink};

use crate::cli::Cli;
use crate::{inventory_file, output};

pub fn run(cli: &Cli, host: Option<&str>, opts: &Options) -> Result<ExitCode> {
    // Ownership marks, not the inventory, decide what goes; the inventory only names the
    // host in messages (and an explicit --host must exist in it, with its key when the
    // mesh is encrypted, so that a wrong --host is noticed before anything is removed).
    let name = match host {
        Some(h) => {
            let fleet = inventory_file::load(&cli.inventory)?;
            let host = inventory_file::select_host(&fleet, Some(h))?;
            key_file::with_host_key(fleet.plan(&host.name)?, &opts.wireguard_key)?;
            Some(host.name.clone())
        }
        None => None,
    };
    let who = name.map(|n| format!("host {n}: ")).unwrap_or_default();
    let here = netlink::Netns::current()?;
    let report = host::down(&here, opts).map_err(|e| {
        if let (HostError::TeardownStopped { frr: Some(change), .. }, false) = (&e, cli.quiet) {
            // Best effort: the error is what must reach the user.
            let _ = output::println(&format!("{who}{change}"));
        }
        super::apply::stopped(e, &who)
    })?;
    if let (Some(change), false) = (&report.frr, cli.quiet) {
        output::println(&format!("{who}{change}"))?;
    }
    super::apply::warn(&report.devices);
    if !cli.quiet {
        if report.is_empty() {
            output::println(&format!("{who}nothing owned by vxlan-mesh here"))?;
        }
        for change in &report.devices.changes {
            output::println(&format!("{who}{change}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
