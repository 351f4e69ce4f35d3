//! `vxlan-mesh render`: a host's plan as a shell script, systemd-networkd files, netplan
//! YAML, an Ignition config, an ifupdown2 interfaces file or (evpn mode) its FRR
//! configuration.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use vxlan_mesh_core::HostPlan;
use vxlan_mesh_gen::{render_with, Format, Options, OutputDir};

use super::fleet_size;
use crate::cli::{Cli, RenderFormat};
use crate::inventory_file;
use crate::output;

impl From<RenderFormat> for Format {
    fn from(f: RenderFormat) -> Format {
        match f {
            RenderFormat::Shell => Format::Shell,
            RenderFormat::Networkd => Format::Networkd,
            RenderFormat::Netplan => Format::Netplan,
            RenderFormat::Ignition => Format::Ignition,
            RenderFormat::Frr => Format::Frr,
            RenderFormat::Ifupdown2 => Format::Ifupdown2,
        }
    }
}

pub fn run(
    cli: &Cli,
    format: RenderFormat,
    host: Option<&str>,
    all: bool,
    out: Option<&Path>,
    allow_large: bool,
) -> Result<ExitCode> {
    fleet_size::override_needs_all(all, allow_large)?;
    let fleet = inventory_file::load(&cli.inventory)?;
    let format = Format::from(format);
    let opts = Options::new(cli.inventory.display().to_string());
    if all {
        let Some(out) = out else {
            bail!("--all writes one folder per host and needs --out DIR");
        };
        fleet_size::refuse_large(&fleet, "render --all", allow_large)?;
        let dir = open(out)?;
        // One host at a time, from plan to files on disk: memory stays near one host's plan,
        // whatever the fleet's size.
        for h in fleet.hosts() {
            let plan = fleet.plan(&h.name)?;
            write(cli, &dir, Path::new(&plan.host), &plan, format, &opts)?;
        }
        sync(&dir)?;
        return Ok(ExitCode::SUCCESS);
    }
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = fleet.plan(&host.name)?;
    match out {
        Some(out) => {
            let dir = open(out)?;
            write(cli, &dir, Path::new(""), &plan, format, &opts)?;
            sync(&dir)?;
        }
        None => match render_with(&plan, format, &opts)?.as_slice() {
            [one] => output::print(&one.contents)?,
            many => {
                let paths: Vec<String> = many.iter().map(|f| f.path.display().to_string()).collect();
                bail!(
                    "the {format} form is {} files ({}); pass --out DIR to write them",
                    many.len(),
                    paths.join(", ")
                );
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn open(out: &Path) -> Result<OutputDir> {
    OutputDir::open(out).with_context(|| format!("cannot write the rendered files under `{}`", out.display()))
}

/// The last write's renames made durable (each write syncs the ones before it).
fn sync(dir: &OutputDir) -> Result<()> {
    dir.sync()
        .with_context(|| format!("cannot write the rendered files under `{}`", dir.path().display()))
}

/// Renders `plan` and writes it into `sub` of `dir`; says what it wrote and which files of
/// the previous render there it removed.
fn write(cli: &Cli, dir: &OutputDir, sub: &Path, plan: &HostPlan, format: Format, opts: &Options) -> Result<()> {
    let files = render_with(plan, format, opts)?;
    let shown = if sub.as_os_str().is_empty() {
        dir.path().to_path_buf()
    } else {
        dir.path().join(sub)
    };
    let written = dir
        .write(sub, &files)
        .with_context(|| format!("cannot write the rendered files under `{}`", shown.display()))?;
    if !cli.quiet {
        let mut line = format!(
            "{}: {} file(s) in {}",
            plan.host,
            written.written.len(),
            shown.display()
        );
        if !written.removed.is_empty() {
            let removed: Vec<String> = written.removed.iter().map(|p| p.display().to_string()).collect();
            line.push_str(&format!("; removed {} stale: {}", removed.len(), removed.join(", ")));
        }
        if !written.kept.is_empty() {
            let kept: Vec<String> = written.kept.iter().map(|p| p.display().to_string()).collect();
            line.push_str(&format!(
                "; kept {} no longer rendered but changed since render wrote them (remove them by hand if they are stale): {}",
                kept.len(),
                kept.join(", ")
            ));
        }
        eprintln!("{line}");
    }
    Ok(())
}
