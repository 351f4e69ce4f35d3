//! Inventories for the tests that walk a fleet through a sequence of edits, and how they
//! show a command's result.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;

/// A command's exit code and output, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One inventory of an edit sequence: hosts `h<N>` (or `lxd<N>`) with id N and address
/// `192.0.2.N`.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// Host name prefix (`lxd`, `h`).
    pub prefix: &'static str,
    /// `flood`, `isolation` or `ebtables`.
    pub mode: &'static str,
    /// Host numbers.
    pub hosts: Vec<u8>,
    /// (name, vni, bridge).
    pub networks: Vec<(&'static str, u32, &'static str)>,
    pub port: u16,
    pub firewall: bool,
    /// Host 1 binds its tunnels to `ul0`.
    pub device: bool,
}

impl Fleet {
    /// Flood mode, firewall on, port 4789.
    pub fn new(prefix: &'static str, hosts: &[u8], networks: &[(&'static str, u32, &'static str)]) -> Fleet {
        Fleet {
            prefix,
            mode: "flood",
            hosts: hosts.to_vec(),
            networks: networks.to_vec(),
            port: 4789,
            firewall: true,
            device: false,
        }
    }

    /// The inventory's TOML text.
    pub fn toml(&self) -> String {
        let mut s = format!("port = {}\nfirewall = {}\n", self.port, self.firewall);
        if self.mode != "flood" {
            s.push_str(&format!("mode = \"per-peer\"\nloop-prevention = \"{}\"\n", self.mode));
        }
        for (name, vni, bridge) in &self.networks {
            s.push_str(&format!(
                "[[networks]]\nname = \"{name}\"\nvni = {vni}\nbridge = \"{bridge}\"\n"
            ));
        }
        for h in &self.hosts {
            s.push_str(&format!(
                "[[hosts]]\nname = \"{}{h}\"\nid = {h}\naddress = \"192.0.2.{h}\"\n",
                self.prefix
            ));
            if *h == 1 && self.device {
                s.push_str("device = \"ul0\"\n");
            }
        }
        s
    }

    /// The validated fleet.
    pub fn validate(&self) -> vxlan_mesh_core::Fleet {
        let text = self.toml();
        vxlan_mesh_core::Inventory::from_toml_str(&text)
            .unwrap()
            .validate()
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// The name of host number `n`.
    pub fn host(&self, n: u8) -> String {
        format!("{}{n}", self.prefix)
    }
}
