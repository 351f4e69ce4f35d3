//! netplan: one YAML file (`tunnels:` of mode vxlan, `bridges:`), networkd drop-ins for the
//! `.network` files netplan generates where netplan has no key (FDB flood entries, the
//! bridge ports' forwarding flags), and the shared firewall and loop-prevention units.

use askama::Template;
use vxlan_mesh_core::HostPlan;

// askama looks custom filters up as `filters::NAME` where the template struct is defined.
use crate::escape::filters;
use crate::networkd::{describe, fdb_of, not_underlay, wg_peers, Fdb, WgPeer, DIR};
use crate::shell::key_file;
use crate::{fill, units, Header, RenderError, RenderedFile};

/// The YAML file; netplan reads `etc/netplan/*.yaml` and wants them readable by root only.
pub(crate) const YAML: &str = "etc/netplan/60-vxlan-mesh.yaml";

#[derive(Template)]
#[template(path = "netplan.yaml")]
struct Yaml<'a> {
    h: &'a Header,
    flood: bool,
    /// Some VXLAN device is a bridge port, whose flags are in a drop-in.
    port_flags: bool,
    ebtables: bool,
    underlay_device: Option<&'a str>,
    wireguard: Option<Wireguard>,
    vxlans: Vec<Tunnel>,
    bridges: Vec<Bridge>,
}

/// The WireGuard tunnel (`mode: wireguard`).
struct Wireguard {
    name: String,
    public_key: String,
    /// The private key file: netplan takes a path as `key` (and writes `PrivateKeyFile=`).
    key_file: String,
    port: u16,
    address: String,
    mtu: u32,
    peers: Vec<WgPeer>,
}

struct Tunnel {
    description: String,
    name: String,
    vni: u32,
    local: String,
    remote: Option<String>,
    port: u16,
    mtu: u32,
    learning: bool,
    neigh_suppress: bool,
    /// The `checksums:` list, as the core words it for netplan (empty: no key).
    checksums: Vec<&'static str>,
}

struct Bridge {
    net: String,
    name: String,
    mtu: u32,
    interfaces: Vec<String>,
}

#[derive(Template)]
#[template(path = "netplan-dropin.conf")]
struct DropIn<'a> {
    h: &'a Header,
    network_file: String,
    name: &'a str,
    isolated: bool,
    port_learning: bool,
    /// `[Bridge]` settings of every port flag networkd has a key for (netplan has keys
    /// for none but neighbour suppression), as the core words them.
    port_flags: Vec<(&'static str, &'static str)>,
    fdb: Vec<Fdb>,
}

/// Name of the `.network` file netplan generates for interface `id`.
fn generated_network(id: &str) -> String {
    format!("10-netplan-{id}.network")
}

pub(crate) fn render(plan: &HostPlan, h: &Header) -> Result<Vec<RenderedFile>, RenderError> {
    let mut tunnels = Vec::new();
    let mut bridges = Vec::new();
    let mut dropins = Vec::new();
    let wireguard = match &plan.wireguard {
        Some(w) => {
            not_underlay(plan, &w.interface, YAML)?;
            Some(Wireguard {
                name: w.interface.clone(),
                public_key: w.public_key.to_string(),
                key_file: key_file(w),
                port: w.listen_port,
                address: format!("{}/{}", w.address, w.prefix_len),
                mtu: w.mtu,
                peers: wg_peers(w),
            })
        }
        None => None,
    };
    for net in &plan.networks {
        not_underlay(plan, &net.bridge.name, YAML)?;
        bridges.push(Bridge {
            net: net.name.clone(),
            name: net.bridge.name.clone(),
            mtu: net.bridge.mtu,
            interfaces: net
                .vxlans
                .iter()
                .filter(|v| v.bridge.as_deref() == Some(net.bridge.name.as_str()))
                .map(|v| v.name.clone())
                .collect(),
        });
        for v in &net.vxlans {
            not_underlay(plan, &v.name, YAML)?;
            tunnels.push(Tunnel {
                description: describe(plan, net, v),
                name: v.name.clone(),
                vni: v.vni,
                local: v.local.to_string(),
                remote: v.remote.map(|r| r.to_string()),
                port: v.port,
                mtu: v.mtu,
                learning: v.learning,
                neigh_suppress: v.port_flags.neigh_suppress,
                checksums: v.udp_checksum_mode().netplan_checksums(),
            });
            let fdb = fdb_of(net, v);
            if v.bridge.is_some() || !fdb.is_empty() {
                let network_file = generated_network(&v.name);
                let path = format!("{DIR}/{network_file}.d/50-vxlan-mesh.conf");
                let dropin = DropIn {
                    h,
                    network_file,
                    name: &v.name,
                    isolated: v.port_flags.isolated,
                    port_learning: v.port_flags.learning,
                    port_flags: if v.bridge.is_some() {
                        v.port_flags.networkd_settings()
                    } else {
                        Vec::new()
                    },
                    fdb,
                };
                dropins.push(RenderedFile {
                    contents: fill(&path, &dropin)?,
                    path: path.into(),
                    mode: 0o644,
                });
            }
        }
    }
    let yaml = Yaml {
        h,
        flood: plan.fdb().next().is_some(),
        port_flags: plan.vxlans().any(|v| v.bridge.is_some()),
        ebtables: plan.loop_rules.is_some(),
        underlay_device: plan.underlay_device.as_deref(),
        wireguard,
        vxlans: tunnels,
        bridges,
    };
    let mut files = vec![RenderedFile {
        contents: fill(YAML, &yaml)?,
        path: YAML.into(),
        mode: 0o600,
    }];
    files.extend(dropins);
    files.extend(units::render(plan, h, units::Manager::Networkd)?);
    Ok(files)
}
