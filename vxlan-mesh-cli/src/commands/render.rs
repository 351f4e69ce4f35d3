//! `vxlan-mesh render`: a host's plan as a shell script, systemd-networkd files or netplan
//! YAML.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use vxlan_mesh_gen::{render_with, write_files, Format, Options, RenderedFile};

use crate::cli::{Cli, RenderFormat};
use crate::inventory_file;

impl From<RenderFormat> for Format {
    fn from(f: RenderFormat) -> Format {
        match f {
            RenderFormat::Shell => Format::Shell,
            RenderFormat::Networkd => Format::Networkd,
            RenderFormat::Netplan => Format::Netplan,
        }
    }
}

pub fn run(cli: &Cli, format: RenderFormat, host: Option<&str>, all: bool, out: Option<&Path>) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let format = Format::from(format);
    let opts = Options {
        inventory: cli.inventory.display().to_string(),
    };
    if all {
        let Some(out) = out else {
            bail!("--all writes one folder per host and needs --out DIR");
        };
        for plan in fleet.plans() {
            let files = render_with(&plan, format, &opts)?;
            let dir = out.join(&plan.host);
            write(&dir, &files)?;
            if !cli.quiet {
                eprintln!("{}: {} file(s) in {}", plan.host, files.len(), dir.display());
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = fleet.plan(&host.name)?;
    let files = render_with(&plan, format, &opts)?;
    match (out, files.as_slice()) {
        (Some(out), _) => {
            write(out, &files)?;
            if !cli.quiet {
                eprintln!("{}: {} file(s) in {}", plan.host, files.len(), out.display());
            }
        }
        (None, [one]) => {
            std::io::stdout()
                .write_all(one.contents.as_bytes())
                .context("cannot write to stdout")?;
        }
        (None, many) => {
            let paths: Vec<String> = many.iter().map(|f| f.path.display().to_string()).collect();
            bail!(
                "the {format} form is {} files ({}); pass --out DIR to write them",
                many.len(),
                paths.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write(dir: &Path, files: &[RenderedFile]) -> Result<()> {
    write_files(dir, files).with_context(|| format!("cannot write the rendered files under `{}`", dir.display()))
}
