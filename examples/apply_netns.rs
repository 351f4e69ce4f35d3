//! Embedding vxlan-mesh's engine: converge a host with one library call, in a network
//! namespace of its own, then check it and tear it down (root, iproute2, nftables).
//!
//! ```sh
//! sudo cargo run -p vxlan-mesh-gen --example apply_netns
//! ```
//!
//! It creates the namespace `vxm-example-PID` with a veth pair as the underlay (host `a`'s
//! address 192.0.2.1/24 on one end), plans host `a` of a two-host inventory, applies the
//! plan there with [`vxlan_mesh_core::host::apply`] (devices, firewall, loop prevention;
//! WireGuard and FRR when the inventory asks for them), prints the report and the
//! status, and deletes the namespace whatever happened.

use std::error::Error;
use std::process::{Command, ExitCode};

use vxlan_mesh_core::host::{self, Options, Report};
use vxlan_mesh_core::netlink::Netns;
use vxlan_mesh_core::Inventory;

/// Two hosts on documentation addresses (RFC 5737), one network.
const INVENTORY: &str = r#"
[[networks]]
name = "lan"
vni = 100
bridge = "vxbr0"

[[hosts]]
name = "a"
address = "192.0.2.1"

[[hosts]]
name = "b"
address = "192.0.2.2"
"#;

/// A network namespace made with `ip netns add`, deleted (with everything in it) when
/// dropped.
struct Namespace(String);

impl Namespace {
    fn create(name: String) -> Result<Namespace, Box<dyn Error>> {
        ip(&["netns", "add", &name])?;
        Ok(Namespace(name))
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.0]) {
            eprintln!("warning: {e}");
        }
    }
}

/// Runs `ip ARGS`; its failure as an error naming the command.
fn ip(args: &[&str]) -> Result<(), Box<dyn Error>> {
    let out = Command::new("ip").args(args).output()?;
    if !out.status.success() {
        return Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(())
}

/// Makes a namespace `name` holding host `a`'s underlay, applies `a`'s plan there in one
/// call and checks it with another; returns what apply did. The namespace is gone when
/// this returns, whether it succeeded or not.
pub fn apply_in_namespace(name: &str) -> Result<Report, Box<dyn Error>> {
    let plan = Inventory::from_toml_str(INVENTORY)?.validate()?.plan("a")?;
    let namespace = Namespace::create(name.to_string())?;
    let ns_name = namespace.0.as_str();
    ip(&[
        "-n", ns_name, "link", "add", "ul0", "type", "veth", "peer", "name", "ul1",
    ])?;
    ip(&["-n", ns_name, "addr", "add", "192.0.2.1/24", "dev", "ul0"])?;
    ip(&["-n", ns_name, "link", "set", "ul0", "up"])?;
    ip(&["-n", ns_name, "link", "set", "ul1", "up"])?;

    let ns = Netns::named(ns_name)?;
    let opts = Options::default();
    // The one call: check the key (with encryption), what FRR would refuse (mode evpn),
    // then converge the devices, firewall and loop prevention, then FRR.
    let report = host::apply(&ns, &plan, &opts)?;
    let status = host::status(&ns, &plan, &opts)?;
    if !status.converged() {
        return Err(format!("host `a` still differs from its plan: {:?}", status.changes()).into());
    }
    Ok(report)
}

fn main() -> ExitCode {
    let name = format!("vxm-example-{}", std::process::id());
    match apply_in_namespace(&name) {
        Ok(report) => {
            for warning in &report.devices.warnings {
                eprintln!("warning: {warning}");
            }
            for change in &report.devices.changes {
                println!("{change}");
            }
            if let Some(change) = &report.frr {
                println!("{change}");
            }
            println!(
                "host a: {} change(s) applied in `{name}`, then converged; namespace deleted",
                report.devices.changes.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
