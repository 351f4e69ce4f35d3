//! `vxlan-mesh keygen`: a new WireGuard private key for this host, and its public key.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::Cli;
use crate::{keys, output};

pub fn run(cli: &Cli, out: &Path, force: bool) -> Result<ExitCode> {
    let public = keys::generate(out, force)?;
    if !cli.quiet {
        eprintln!(
            "wrote a new WireGuard private key to {} (mode 0600); its public key, for this host's `[[hosts]]` entry:",
            out.display()
        );
    }
    output::println(&format!("public-key = \"{public}\""))?;
    Ok(ExitCode::SUCCESS)
}
