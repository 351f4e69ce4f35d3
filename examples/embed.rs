//! Embedding vxlan-mesh in a Rust program: parse an inventory, validate it, plan one host,
//! and use the plan as typed data (here: print the container MTU per network and the plan's
//! JSON, the same contract `vxlan-mesh plan --format json` prints).
//!
//! ```sh
//! cargo run -p vxlan-mesh-cli --example embed -- examples/hetzner.toml lxd2
//! ```
//!
//! Without arguments it plans host `lxd1` of the bundled Hetzner example.

use std::io::Write;
use std::process::ExitCode;

use vxlan_mesh_core::{Error, HostPlan, Inventory};

/// The Hetzner example of the classic HOWTO, built into the program.
const BUNDLED: &str = include_str!("hetzner.toml");

fn plan(text: &str, host: &str) -> Result<HostPlan, Error> {
    let inventory = Inventory::from_toml_str(text)?;
    // Validation reports every broken rule at once, each naming the field and the reason.
    let fleet = inventory.validate()?;
    Ok(fleet.plan(host)?)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (text, host) = match (args.next(), args.next()) {
        (Some(path), host) => match std::fs::read_to_string(&path) {
            Ok(text) => (text, host.unwrap_or_else(|| "lxd1".to_string())),
            Err(e) => {
                eprintln!("error: cannot read `{path}`: {e}");
                return ExitCode::from(1);
            }
        },
        (None, _) => (BUNDLED.to_string(), "lxd1".to_string()),
    };
    let plan = match plan(&text, &host) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match print(&plan) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): nothing left to tell anyone.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn print(plan: &HostPlan) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for net in &plan.networks {
        // What an orchestrator needs most: the MTU to give every container NIC.
        writeln!(
            out,
            "{}: network {} on bridge {}: container MTU {}, {} VXLAN device(s)",
            plan.host,
            net.name,
            net.bridge.name,
            net.mtu,
            net.vxlans.len()
        )?;
    }
    writeln!(out, "{}", serde_json::to_string_pretty(plan)?)?;
    out.flush()
}
