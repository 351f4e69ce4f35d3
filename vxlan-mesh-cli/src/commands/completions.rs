//! `vxlan-mesh completions SHELL` and `vxlan-mesh man`: generated from the clap definition,
//! so they never disagree with the parser.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::output;

/// The binary's name, as the completion scripts register it.
const BIN: &str = "vxlan-mesh";

pub fn completions(shell: Shell) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    // Into memory first: clap_complete panics when its writer fails (e.g. a closed pipe).
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut buf);
    let mut script = String::from_utf8_lossy(&buf).into_owned();
    if shell == Shell::Bash {
        script = fix_bash_states(&script);
    }
    output::print(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// Works around clap_complete's bash script for a binary name with a hyphen
/// (clap-rs/clap#6421): its loop over the words spells a subcommand's state
/// `vxlan__mesh__subcmd__plan`, while the `case` arms that complete that subcommand's options
/// are labelled `vxlan__subcmd__mesh__subcmd__plan`, so no arm ever matches and
/// `vxlan-mesh plan --<TAB>` offers nothing. The arms are relabelled the way the loop spells
/// them; once clap_complete is fixed there is nothing left to replace.
fn fix_bash_states(script: &str) -> String {
    let escaped = BIN.replace('-', "__");
    let broken = BIN.replace('-', "__subcmd__");
    script.replace(&format!("{broken}__subcmd__"), &format!("{escaped}__subcmd__"))
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
