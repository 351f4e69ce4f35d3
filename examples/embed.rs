//! Embedding vxlan-mesh in a Rust program: parse an inventory, validate it, plan one host,
//! use the plan as typed data, and render it in every deployable form.
//!
//! ```sh
//! cargo run -p vxlan-mesh-gen --example embed -- examples/hetzner.toml lxd2
//! ```
//!
//! Without arguments it uses host `lxd1` of the bundled Hetzner example. It prints the
//! container MTU per network, then every file each form would install (path, mode, size);
//! `vxlan-mesh render --out DIR` writes the same files.

use std::io::Write;
use std::process::ExitCode;

use vxlan_mesh_core::{HostPlan, Inventory};
use vxlan_mesh_gen::{render_with, Format, Options, RenderedFile};

/// The Hetzner example of the classic HOWTO, built into the program.
const BUNDLED: &str = include_str!("hetzner.toml");

/// Every form's files, in [`Format::ALL`] order (the forms the plan has: [`Format::of_plan`]).
type Rendered = Vec<(Format, Vec<RenderedFile>)>;

/// Parse → validate → plan → render. Every step's error names the field or object at fault.
fn plan_and_render(text: &str, source: &str, host: &str) -> Result<(HostPlan, Rendered), Box<dyn std::error::Error>> {
    let inventory = Inventory::from_toml_str(text)?;
    // Validation reports every broken rule at once, each naming the field and the reason.
    let fleet = inventory.validate()?;
    let plan = fleet.plan(host)?;
    let opts = Options::new(source);
    let mut rendered = Vec::new();
    for format in Format::of_plan(&plan) {
        rendered.push((format, render_with(&plan, format, &opts)?));
    }
    Ok((plan, rendered))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (text, source, host) = match (args.next(), args.next()) {
        (Some(path), host) => match std::fs::read_to_string(&path) {
            Ok(text) => (text, path, host.unwrap_or_else(|| "lxd1".to_string())),
            Err(e) => {
                eprintln!("error: cannot read `{path}`: {e}");
                return ExitCode::from(1);
            }
        },
        (None, _) => (
            BUNDLED.to_string(),
            "examples/hetzner.toml".to_string(),
            "lxd1".to_string(),
        ),
    };
    let (plan, rendered) = match plan_and_render(&text, &source, &host) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match print(&plan, &rendered) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): nothing left to tell anyone.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn print(plan: &HostPlan, rendered: &[(Format, Vec<RenderedFile>)]) -> std::io::Result<()> {
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
    for (format, files) in rendered {
        for f in files {
            writeln!(
                out,
                "{format}: {} (mode {:o}, {} bytes)",
                f.path.display(),
                f.mode,
                f.contents.len()
            )?;
        }
    }
    out.flush()
}
