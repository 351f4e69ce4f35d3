//! `vxlan-mesh`: one inventory for the whole fleet; check it, plan a host, apply or render it.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod inventory_file;
mod locate;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(&cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
