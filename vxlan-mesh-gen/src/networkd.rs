//! systemd-networkd files: a `.netdev` and a `.network` per bridge and per VXLAN device,
//! in `etc/systemd/network`, plus the shared firewall and loop-prevention units.

use askama::Template;
use vxlan_mesh_core::{HostPlan, NetworkPlan, Vxlan, WireguardPlan};

use crate::shell::key_file;
use crate::{fill, units, Header, RenderError, RenderedFile};

/// Where networkd reads administrator configuration.
pub(crate) const DIR: &str = "etc/systemd/network";

#[derive(Template)]
#[template(path = "bridge.netdev")]
struct BridgeNetdev<'a> {
    h: &'a Header,
    net: &'a str,
    name: &'a str,
    mtu: u32,
    alias: &'a str,
}

#[derive(Template)]
#[template(path = "bridge.network")]
struct BridgeNetwork<'a> {
    h: &'a Header,
    net: &'a str,
    name: &'a str,
    mtu: u32,
}

#[derive(Template)]
#[template(path = "vxlan.netdev")]
struct VxlanNetdev<'a> {
    h: &'a Header,
    description: String,
    underlay_device: Option<&'a str>,
    name: &'a str,
    mtu: u32,
    alias: &'a str,
    vni: u32,
    local: String,
    remote: Option<String>,
    port: u16,
    learning: bool,
    /// `[VXLAN]` checksum settings, as the core words them for networkd.
    checksums: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "vxlan.network")]
struct VxlanNetwork<'a> {
    h: &'a Header,
    description: String,
    name: &'a str,
    mtu: u32,
    bridge: Option<&'a str>,
    isolated: bool,
    neigh_suppress: bool,
    port_learning: bool,
    /// `[Bridge]` settings of every port flag networkd has a key for, as the core words
    /// them.
    port_flags: Vec<(&'static str, &'static str)>,
    fdb: Vec<Fdb>,
}

#[derive(Template)]
#[template(path = "wireguard.netdev")]
struct WireguardNetdev<'a> {
    h: &'a Header,
    name: &'a str,
    mtu: u32,
    alias: &'a str,
    public_key: String,
    key_file: String,
    port: u16,
    peers: Vec<WgPeer>,
}

#[derive(Template)]
#[template(path = "wireguard.network")]
struct WireguardNetwork<'a> {
    h: &'a Header,
    name: &'a str,
    mtu: u32,
    address: String,
}

/// A WireGuard peer as the networkd and netplan templates show it.
pub(crate) struct WgPeer {
    pub name: String,
    pub public_key: String,
    pub endpoint: String,
    pub allowed_ips: Vec<String>,
    pub keepalive: Option<u16>,
}

/// The peers of `w`, in plan order.
pub(crate) fn wg_peers(w: &WireguardPlan) -> Vec<WgPeer> {
    w.peers
        .iter()
        .map(|p| WgPeer {
            name: p.name.clone(),
            public_key: p.public_key.to_string(),
            endpoint: p.endpoint.to_string(),
            allowed_ips: p.allowed_ips.iter().map(ToString::to_string).collect(),
            keepalive: p.persistent_keepalive,
        })
        .collect()
}

/// A flood entry as the templates show it.
pub(crate) struct Fdb {
    pub peer: String,
    pub mac: String,
    pub destination: String,
}

/// The flood entries of VXLAN device `v`.
pub(crate) fn fdb_of(net: &NetworkPlan, v: &Vxlan) -> Vec<Fdb> {
    net.fdb
        .iter()
        .filter(|e| e.device == v.name)
        .map(|e| Fdb {
            peer: e.peer.clone().unwrap_or_else(|| e.destination.to_string()),
            mac: e.mac.to_string(),
            destination: e.destination.to_string(),
        })
        .collect()
}

/// One line saying what a VXLAN device is for.
pub(crate) fn describe(plan: &HostPlan, net: &NetworkPlan, v: &Vxlan) -> String {
    match &v.peer {
        Some(peer) => format!("Network {}: VXLAN device towards {peer}, VNI {}", net.name, v.vni),
        None if plan.evpn.is_some() => format!(
            "Network {}: VXLAN device, VNI {}, flooding to the VTEPs FRR learns over BGP EVPN",
            net.name, v.vni
        ),
        None => format!(
            "Network {}: VXLAN device, VNI {}, flooding to {} peer(s)",
            net.name,
            v.vni,
            net.fdb.len()
        ),
    }
}

/// Refuses to write a file whose `[Match] Name=` is the host's underlay device: networkd
/// would take the device over and drop the addresses the file does not list.
pub(crate) fn not_underlay(plan: &HostPlan, name: &str, file: &str) -> Result<(), RenderError> {
    match &plan.underlay_device {
        Some(dev) if dev == name => Err(RenderError::MatchesUnderlay {
            file: file.to_string(),
            device: dev.clone(),
        }),
        _ => Ok(()),
    }
}

fn file(path: String, contents: String) -> RenderedFile {
    RenderedFile {
        path: path.into(),
        mode: 0o644,
        contents,
    }
}

/// The WireGuard interface's `.netdev` and `.network`.
fn wireguard(plan: &HostPlan, w: &WireguardPlan, h: &Header) -> Result<Vec<RenderedFile>, RenderError> {
    let base = format!("{DIR}/50-vxlan-mesh-{}", w.interface);
    not_underlay(plan, &w.interface, &format!("{base}.network"))?;
    let netdev = WireguardNetdev {
        h,
        name: &w.interface,
        mtu: w.mtu,
        alias: &w.alias,
        public_key: w.public_key.to_string(),
        key_file: key_file(w),
        port: w.listen_port,
        peers: wg_peers(w),
    };
    let network = WireguardNetwork {
        h,
        name: &w.interface,
        mtu: w.mtu,
        address: format!("{}/{}", w.address, w.prefix_len),
    };
    Ok(vec![
        file(format!("{base}.netdev"), fill(&format!("{base}.netdev"), &netdev)?),
        file(format!("{base}.network"), fill(&format!("{base}.network"), &network)?),
    ])
}

pub(crate) fn render(plan: &HostPlan, h: &Header) -> Result<Vec<RenderedFile>, RenderError> {
    let mut files = Vec::new();
    if let Some(w) = &plan.wireguard {
        files.extend(wireguard(plan, w, h)?);
    }
    for net in &plan.networks {
        let br = &net.bridge;
        let base = format!("{DIR}/50-vxlan-mesh-{}", br.name);
        not_underlay(plan, &br.name, &format!("{base}.network"))?;
        let netdev = BridgeNetdev {
            h,
            net: &net.name,
            name: &br.name,
            mtu: br.mtu,
            alias: &br.alias,
        };
        files.push(file(
            format!("{base}.netdev"),
            fill(&format!("{base}.netdev"), &netdev)?,
        ));
        let network = BridgeNetwork {
            h,
            net: &net.name,
            name: &br.name,
            mtu: br.mtu,
        };
        files.push(file(
            format!("{base}.network"),
            fill(&format!("{base}.network"), &network)?,
        ));

        for v in &net.vxlans {
            let base = format!("{DIR}/50-vxlan-mesh-{}", v.name);
            not_underlay(plan, &v.name, &format!("{base}.network"))?;
            let netdev = VxlanNetdev {
                h,
                description: describe(plan, net, v),
                underlay_device: v.underlay_device.as_deref(),
                name: &v.name,
                mtu: v.mtu,
                alias: &v.alias,
                vni: v.vni,
                local: v.local.to_string(),
                remote: v.remote.map(|r| r.to_string()),
                port: v.port,
                learning: v.learning,
                checksums: v.udp_checksum_mode().networkd_settings(),
            };
            files.push(file(
                format!("{base}.netdev"),
                fill(&format!("{base}.netdev"), &netdev)?,
            ));
            let network = VxlanNetwork {
                h,
                description: describe(plan, net, v),
                name: &v.name,
                mtu: v.mtu,
                bridge: v.bridge.as_deref(),
                isolated: v.port_flags.isolated,
                neigh_suppress: v.port_flags.neigh_suppress,
                port_learning: v.port_flags.learning,
                port_flags: v.port_flags.networkd_settings(),
                fdb: fdb_of(net, v),
            };
            files.push(file(
                format!("{base}.network"),
                fill(&format!("{base}.network"), &network)?,
            ));
        }
    }
    files.extend(units::render(plan, h, units::Manager::Networkd)?);
    Ok(files)
}
