//! The ifupdown2 form (Proxmox VE): one file for `/etc/network/interfaces.d/` with an
//! `iface` per VXLAN device and per bridge, in the syntax Debian's ifupdown2 3.0 reads, plus
//! the firewall, loop-prevention and sync units the networkd form ships, ordered around
//! `networking.service` instead of systemd-networkd.
//!
//! What ifupdown2 says itself: the devices, their VNI, local and remote (`vxlan-svcnodeip`,
//! the kernel's remote of a per-peer device), flood list (`vxlan-remoteip`, one per peer),
//! port, learning, underlay device, MTU and the ownership mark (`alias`), the bridge with its
//! ports, STP off and no forwarding delay. What it has no attribute for, bridge port
//! isolation, runs as an `up` command of the bridge, written by the core's `argv::of`; the
//! sync unit's script checks everything afterwards, as after networkd.
//!
//! What it cannot build is refused with [`RenderError::Ifupdown2`] (see [`Ifupdown2Limit`]):
//! IPv6 VTEPs (ifupdown2 3.0 refuses them), evpn mode (its bridge port flags and FRR), and
//! WireGuard (ifupdown2 3.0 has no WireGuard support).

use std::fmt;
use std::net::IpAddr;

use askama::Template;
use vxlan_mesh_core::ops::Op;
use vxlan_mesh_core::{argv, HostPlan, MacAddr, UdpChecksum};

use crate::networkd::{describe, fdb_of, Fdb};
use crate::units::{self, Manager};
use crate::{fill, Header, RenderError, RenderedFile};

/// Where the file is installed; `/etc/network/interfaces` must `source` the directory (as
/// Debian's and Proxmox's do).
pub(crate) const PATH: &str = "etc/network/interfaces.d/vxlan-mesh";

/// Why a plan cannot be rendered for ifupdown2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ifupdown2Limit {
    /// A VTEP address is IPv6: ifupdown2 3.0 accepts IPv4 `vxlan-local-tunnelip` and
    /// `vxlan-remoteip` only.
    Ipv6Vtep,
    /// evpn mode: the bridge ports' ARP/ND suppression and learning, and FRR's
    /// configuration, are not part of this form.
    Evpn,
    /// `encryption = "wireguard"`: ifupdown2 3.0 cannot create a WireGuard interface.
    Wireguard,
    /// A VXLAN device without UDP checksums: ifupdown2 has no attribute for them (its
    /// devices send checksums).
    NoUdpChecksum,
    /// A flood entry with a MAC address: `vxlan-remoteip` adds all-zero entries only.
    FdbMac,
}

impl fmt::Display for Ifupdown2Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ifupdown2Limit::Ipv6Vtep => "ifupdown2 3.0 refuses IPv6 VTEP addresses (IPv4 only)",
            Ifupdown2Limit::Evpn => {
                "`mode = \"evpn\"` is not supported by this form (use networkd, netplan or shell with FRR)"
            }
            Ifupdown2Limit::Wireguard => {
                "`encryption = \"wireguard\"`: ifupdown2 3.0 cannot create the WireGuard interface"
            }
            Ifupdown2Limit::NoUdpChecksum => "ifupdown2 cannot turn VXLAN UDP checksums off",
            Ifupdown2Limit::FdbMac => "ifupdown2 adds flood entries of MAC 00:00:00:00:00:00 only",
        })
    }
}

/// The first thing of `plan` this form cannot build, if any.
pub(crate) fn limit(plan: &HostPlan) -> Option<Ifupdown2Limit> {
    let vxlans = || plan.networks.iter().flat_map(|n| n.vxlans.iter());
    if plan.evpn.is_some() {
        return Some(Ifupdown2Limit::Evpn);
    }
    if plan.wireguard.is_some() {
        return Some(Ifupdown2Limit::Wireguard);
    }
    let v6 = |a: &IpAddr| a.is_ipv6();
    if v6(&plan.address)
        || vxlans().any(|v| v6(&v.local) || v.remote.as_ref().is_some_and(v6))
        || plan.networks.iter().flat_map(|n| &n.fdb).any(|e| v6(&e.destination))
    {
        return Some(Ifupdown2Limit::Ipv6Vtep);
    }
    if vxlans().any(|v| v.port_flags.neigh_suppress || !v.port_flags.learning) {
        return Some(Ifupdown2Limit::Evpn);
    }
    if vxlans().any(|v| v.udp_checksum_mode() != UdpChecksum::V4 { checksum: true }) {
        return Some(Ifupdown2Limit::NoUdpChecksum);
    }
    if plan
        .networks
        .iter()
        .flat_map(|n| &n.fdb)
        .any(|e| e.mac != MacAddr::ZERO)
    {
        return Some(Ifupdown2Limit::FdbMac);
    }
    None
}

/// A command ifupdown2 runs (`up ...`), which it hands to `/bin/sh`: the words of
/// [`argv::of`], each single-quoted. The template writes it through the `hook` filter, which
/// takes nothing but a `Hook`.
struct Hook(String);

impl Hook {
    fn of(op: &Op) -> Hook {
        let command = argv::of(op);
        let mut words = vec![argv::single_quoted(command.program.name())];
        words.extend(command.args.iter().map(|a| argv::single_quoted(a)));
        Hook(words.join(" "))
    }
}

/// The template's custom filter, found by askama as `filters::NAME`.
// askama's `filter_fn` makes each filter a `pub` item; the module keeps them in the crate.
#[allow(unreachable_pub)]
mod filters {
    use askama::filters::Safe;

    /// Writes a hook command: only a [`Hook`](super::Hook) is accepted, whose every word is
    /// quoted, so this cannot pass a string through unquoted.
    #[askama::filter_fn]
    pub fn hook(value: &super::Hook, _: &dyn askama::Values) -> askama::Result<Safe<String>> {
        Ok(Safe(value.0.clone()))
    }
}

#[derive(Template)]
#[template(path = "ifupdown2.interfaces")]
struct Interfaces<'a> {
    h: &'a Header,
    networks: Vec<Net>,
}

struct Net {
    name: String,
    bridge: String,
    alias: String,
    mtu: u32,
    ports: Vec<String>,
    /// Sets every forwarding flag of each port (isolation among them) once the bridge has
    /// it: ifupdown2 3.0 has attributes for few of them.
    port_flags: Vec<Hook>,
    /// The bridge's IPv6 hardening (no router advertisements, no autoconfiguration).
    harden: Hook,
    vxlans: Vec<Vx>,
}

struct Vx {
    description: String,
    name: String,
    alias: String,
    mtu: u32,
    vni: u32,
    local: String,
    remote: Option<String>,
    flood: Vec<Fdb>,
    port: u16,
    learning: bool,
    physdev: Option<String>,
    /// The device's IPv6 hardening (no router advertisements, no autoconfiguration).
    harden: Hook,
}

pub(crate) fn render(plan: &HostPlan, h: &Header) -> Result<Vec<RenderedFile>, RenderError> {
    if let Some(limit) = limit(plan) {
        return Err(RenderError::Ifupdown2 {
            host: plan.host.clone(),
            limit,
        });
    }
    let networks = plan
        .networks
        .iter()
        .map(|net| Net {
            name: net.name.clone(),
            bridge: net.bridge.name.clone(),
            alias: net.bridge.alias.clone(),
            mtu: net.bridge.mtu,
            ports: net
                .vxlans
                .iter()
                .filter(|v| v.bridge.as_deref() == Some(net.bridge.name.as_str()))
                .map(|v| v.name.clone())
                .collect(),
            port_flags: net
                .vxlans
                .iter()
                .map(|v| {
                    Hook::of(&Op::SetPortFlags {
                        name: v.name.clone(),
                        flags: v.port_flags.settings(),
                    })
                })
                .collect(),
            harden: Hook::of(&Op::HardenIpv6 {
                name: net.bridge.name.clone(),
            }),
            vxlans: net
                .vxlans
                .iter()
                .map(|v| Vx {
                    description: describe(plan, net, v),
                    name: v.name.clone(),
                    alias: v.alias.clone(),
                    mtu: v.mtu,
                    vni: v.vni,
                    local: v.local.to_string(),
                    remote: v.remote.map(|r| r.to_string()),
                    flood: fdb_of(net, v),
                    port: v.port,
                    learning: v.learning,
                    physdev: v.underlay_device.clone(),
                    harden: Hook::of(&Op::HardenIpv6 { name: v.name.clone() }),
                })
                .collect(),
        })
        .collect();
    let mut files = vec![RenderedFile {
        contents: fill(PATH, &Interfaces { h, networks })?,
        path: PATH.into(),
        mode: 0o644,
    }];
    files.extend(units::render(plan, h, Manager::Ifupdown2)?);
    Ok(files)
}
