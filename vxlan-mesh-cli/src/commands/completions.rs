//! `vxlan-mesh completions SHELL` and `vxlan-mesh man`: generated from the clap definition,
//! so they never disagree with the parser.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::output;

pub fn completions(shell: Shell) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    // Into memory first: clap_complete panics when its writer fails (e.g. a closed pipe).
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "vxlan-mesh", &mut buf);
    output::print(&String::from_utf8_lossy(&buf))?;
    Ok(ExitCode::SUCCESS)
}

/// The man page of `vxlan-mesh` on stdout, or with `out`, one page per command
/// (`vxlan-mesh.1`, `vxlan-mesh-plan.1`, ...) written into that directory.
pub fn man(out_dir: Option<&Path>) -> Result<ExitCode> {
    let cmd = Cli::command();
    match out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("cannot write man pages into `{}`", dir.display()))?;
        }
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .context("cannot render the man page")?;
            output::print(&String::from_utf8_lossy(&buf))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
