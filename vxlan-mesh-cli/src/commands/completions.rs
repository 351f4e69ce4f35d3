//! `vxlan-mesh completions SHELL` and `vxlan-mesh man`: generated from the clap definition,
//! so they never disagree with the parser; and the hidden `vxlan-mesh hosts` the completion
//! scripts ask for host names.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, ManSection};
use crate::manual;
use crate::output;
use crate::{host_completion, inventory_file};

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
    output::print(&host_completion::patch(shell, &script)?)?;
    Ok(ExitCode::SUCCESS)
}

/// `vxlan-mesh hosts` (hidden): the inventory's host names, one a line, for the completion
/// scripts.
pub fn hosts(cli: &Cli) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let names: String = fleet.hosts().iter().map(|h| format!("{}\n", h.name)).collect();
    output::print(&names)?;
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

/// The man page of `vxlan-mesh` (or of its inventory, by `section`) on stdout, or with
/// `out`, every page: one per command (`vxlan-mesh.1`, `vxlan-mesh-plan.1`, ...) written into
/// that directory, and the inventory's into the `man5` beside a `man1` directory.
pub fn man(out_dir: Option<&Path>, section: ManSection) -> Result<ExitCode> {
    let main_page = manual::main_page().context("cannot render the man page")?;
    match out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
            clap_mangen::generate_to(manual::command(), dir)
                .with_context(|| format!("cannot write man pages into `{}`", dir.display()))?;
            // The main page as `man` prints it, in place of clap_mangen's.
            let page = dir.join("vxlan-mesh.1");
            std::fs::write(&page, main_page).with_context(|| format!("cannot write `{}`", page.display()))?;
            let man5 = match (dir.file_name(), dir.parent()) {
                (Some(name), Some(parent)) if name == "man1" => parent.join("man5"),
                _ => dir.to_path_buf(),
            };
            std::fs::create_dir_all(&man5).with_context(|| format!("cannot create `{}`", man5.display()))?;
            let page = man5.join(manual::TOML_PAGE);
            std::fs::write(&page, manual::toml_page()).with_context(|| format!("cannot write `{}`", page.display()))?;
        }
        None if section == ManSection::Inventory => output::print(&manual::toml_page())?,
        None => output::print(&String::from_utf8_lossy(&main_page))?,
    }
    Ok(ExitCode::SUCCESS)
}
