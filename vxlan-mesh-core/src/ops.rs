//! The diff's [`Change`]s lowered once into a typed, ordered list of kernel operations.
//!
//! Every form reads these: the netlink executor turns each [`Op`] into requests,
//! [`crate::argv`] turns each into the `ip`, `bridge`, `ebtables` and `nft` command that does
//! the same (what `apply --dry-run` prints and the rendered shell script runs). The ordering rules live here and nowhere else:
//!
//! - the firewall comes first and goes last (the diff orders changes so);
//! - a device is created down, then its alias (the ownership mark), MTU and bridge are set
//!   together, then the bridge port's forwarding flags (isolation, neighbour suppression,
//!   learning, ...), and only then is it brought up: an isolated port never forwards before
//!   it is isolated, an EVPN port never learns from the tunnel;
//! - a device that moves to another bridge or goes down is taken down before it moves;
//! - the jump to the loop-prevention chain is inserted first in `FORWARD` before stale jumps
//!   are deleted (highest position first, so positions stay valid), and a chain loses its
//!   jumps before it is deleted.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::diff::{peer_delta, Change, InterfaceAddress, ObservedVxlan, ObservedWireguard};
use crate::ipv6::Ipv6Conf;
use crate::plan::{Bridge, FdbEntry, Firewall, LoopRule, LoopRules, Vxlan, WireguardPeer, WireguardPlan};
use crate::port_flags::{PortFlag, PortFlags};
use crate::wireguard::PublicKey;

/// The built-in ebtables chain vxlan-mesh's chain is jumped to from.
pub const FORWARD: &str = "FORWARD";

/// One kernel operation, in the order it must run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Op {
    /// Load (or atomically replace) the owned nftables table.
    LoadFirewall {
        /// The table.
        firewall: Firewall,
    },
    /// Delete the owned nftables table.
    RemoveFirewall {
        /// Table name (family `inet`).
        table: String,
    },
    /// Create a bridge, down.
    CreateBridge {
        /// Its name.
        name: String,
    },
    /// Create a VXLAN device, down, with its immutable attributes (VNI, addresses, port,
    /// underlay device, learning, UDP checksums).
    CreateVxlan {
        /// The device (its link settings are set by the [`Op::SetLink`] that follows).
        vxlan: Vxlan,
    },
    /// Change link settings of an interface; `None` leaves a setting as it is.
    SetLink {
        /// The interface.
        name: String,
        /// The settings.
        settings: LinkSettings,
    },
    /// Delete an interface.
    DeleteLink {
        /// The interface.
        name: String,
    },
    /// Set forwarding flags of a bridge port (the others are left as they are).
    SetPortFlags {
        /// The bridge port.
        name: String,
        /// The flags to set, with their values, in [`PortFlag::ALL`]'s order.
        flags: Vec<(PortFlag, bool)>,
    },
    /// Set a bridge's `net.ipv4.conf.<bridge>.arp_accept` (see [`Bridge::arp_accept`]).
    SetArpAccept {
        /// The bridge.
        bridge: String,
        /// Accept gratuitous ARP into the neighbour table (`1`) or not (`0`).
        accept: bool,
    },
    /// Set an interface's IPv6 sysctls to [`Ipv6Conf::HARDENED`]'s (no router
    /// advertisements, no autoconfiguration, no link-local address).
    HardenIpv6 {
        /// The interface.
        name: String,
    },
    /// Delete every IPv6 address of an interface (the plan puts none on it).
    FlushIpv6 {
        /// The interface.
        name: String,
    },
    /// Add a permanent FDB entry on a VXLAN device.
    AddFdb {
        /// The entry.
        entry: FdbEntry,
    },
    /// Delete an FDB entry of a VXLAN device.
    DeleteFdb {
        /// The entry.
        entry: FdbEntry,
    },
    /// Create an (empty) ebtables chain in table `filter`, with policy `RETURN`.
    CreateChain {
        /// The chain.
        chain: String,
    },
    /// Set an ebtables chain's policy to `RETURN` (ebtables' default for a new chain is
    /// `ACCEPT`, which would skip every rule of `FORWARD` below the jump to it).
    ReturnPolicy {
        /// The chain.
        chain: String,
    },
    /// Delete every rule of an ebtables chain.
    FlushChain {
        /// The chain.
        chain: String,
    },
    /// Append a loop-prevention rule to an ebtables chain.
    AppendRule {
        /// The chain.
        chain: String,
        /// The rule.
        rule: LoopRule,
    },
    /// Insert `-j CHAIN` as the first rule of `FORWARD`.
    InsertJump {
        /// The chain jumped to.
        chain: String,
    },
    /// Delete the first `-j CHAIN` rule of `FORWARD`, wherever it is (the shell script
    /// removes the jumps it counted this way: it knows their number, not their positions).
    DeleteJump {
        /// The chain jumped to.
        chain: String,
    },
    /// Delete the rule at a position (1 = first) of an ebtables chain.
    DeleteRuleAt {
        /// The chain holding the rule.
        chain: String,
        /// Its position.
        position: usize,
    },
    /// Delete an empty, unreferenced ebtables chain.
    DeleteChain {
        /// The chain.
        chain: String,
    },
    /// Create a WireGuard interface, down: a kernel `wireguard` link, or where the kernel
    /// has no WireGuard, the TUN device of a `wireguard-go` daemon started for it.
    CreateWireguard {
        /// Its name.
        name: String,
    },
    /// Give a WireGuard interface its private key (read by `wg` from the file: the key is
    /// never on a command line), listen port and firewall mark.
    ConfigureWireguard {
        /// The interface.
        interface: String,
        /// The private key's file; the key itself is never in an operation.
        private_key_file: Option<PathBuf>,
        /// The UDP port it listens on.
        listen_port: u16,
        /// The mark on its packets (0: none).
        fwmark: u32,
    },
    /// Add a peer to a WireGuard interface, or set every attribute of an existing peer:
    /// endpoint, allowed IPs, keepalive, and no preshared key (its session goes on).
    SetPeer {
        /// The interface.
        interface: String,
        /// The peer.
        peer: WireguardPeer,
    },
    /// Remove a peer from a WireGuard interface.
    RemovePeer {
        /// The interface.
        interface: String,
        /// The peer's public key.
        public_key: PublicKey,
    },
    /// Add an address (and the route of its prefix) to an interface.
    AddAddress {
        /// The interface.
        interface: String,
        /// The address.
        address: IpAddr,
        /// Its prefix length.
        prefix_len: u8,
    },
    /// Delete an address from an interface.
    DeleteAddress {
        /// The interface.
        interface: String,
        /// The address.
        address: IpAddr,
        /// Its prefix length.
        prefix_len: u8,
    },
}

/// Link settings changed together (`ip link set dev NAME ...`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LinkSettings {
    /// Interface alias (the ownership mark).
    pub alias: Option<String>,
    /// MTU.
    pub mtu: Option<u32>,
    /// Bridge membership.
    pub master: Option<Master>,
    /// Administratively up or down. Taking a device down is done before the other
    /// settings, bringing it up after them.
    pub up: Option<bool>,
}

/// The bridge an interface is a port of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Master {
    /// A port of this bridge.
    Bridge(String),
    /// Not a port of any bridge.
    None,
}

impl Master {
    fn of(bridge: Option<&String>) -> Master {
        bridge.map_or(Master::None, |b| Master::Bridge(b.clone()))
    }
}

fn set(name: &str, settings: LinkSettings) -> Op {
    Op::SetLink {
        name: name.to_string(),
        settings,
    }
}

fn up(name: &str) -> Op {
    set(
        name,
        LinkSettings {
            up: Some(true),
            ..LinkSettings::default()
        },
    )
}

/// The operations of one change, in order.
///
/// ```
/// use vxlan_mesh_core::{diff, ops, Observed};
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// let changes = diff(&plan.state(), &Observed::default()).unwrap();
/// let all: Vec<ops::Op> = changes.iter().flat_map(ops::for_change).collect();
/// assert!(all.contains(&ops::Op::CreateBridge { name: "vxbr0".into() }));
/// ```
pub fn for_change(change: &Change) -> Vec<Op> {
    match change {
        Change::InstallFirewall { firewall } => vec![Op::LoadFirewall {
            firewall: firewall.clone(),
        }],
        Change::RemoveFirewall { table } => vec![Op::RemoveFirewall { table: table.clone() }],
        Change::DeleteFdb { entry } => vec![Op::DeleteFdb { entry: entry.clone() }],
        Change::AddFdb { entry } => vec![Op::AddFdb { entry: entry.clone() }],
        Change::DeleteVxlan { vxlan } => vec![Op::DeleteLink {
            name: vxlan.name.clone(),
        }],
        Change::DeleteBridge { bridge } => vec![Op::DeleteLink {
            name: bridge.name.clone(),
        }],
        Change::DeleteWireguard { wireguard } => vec![Op::DeleteLink {
            name: wireguard.interface.clone(),
        }],
        Change::CreateWireguard { wireguard } => create_wireguard(wireguard),
        Change::UpdateWireguard { from, to } => update_wireguard(from, to),
        // The address again: the kernel adds the route of its prefix with it.
        Change::RestoreWireguardRoute { wireguard, .. } => vec![address(wireguard, false), address(wireguard, true)],
        // Not vxlan-mesh's to change: apply refuses before anything is done.
        Change::ForeignRoute { .. } => Vec::new(),
        Change::CreateBridge { bridge } => create_bridge(bridge),
        Change::UpdateBridge { from, to } => update_bridge(from, to),
        Change::InstallLoopRules { rules, exists } => install_loop_rules(rules, *exists),
        Change::PlaceLoopJump { chain, jumps } => place_jump(chain, jumps),
        Change::RemoveLoopRules { chain, jumps } => {
            let mut v = delete_jumps(jumps, 0);
            v.push(Op::FlushChain { chain: chain.clone() });
            v.push(Op::DeleteChain { chain: chain.clone() });
            v
        }
        Change::CreateVxlan { vxlan } => create_vxlan(vxlan),
        Change::RecreateVxlan { from, to, .. } => {
            let mut v = vec![Op::DeleteLink {
                name: from.name.clone(),
            }];
            v.extend(create_vxlan(to));
            v
        }
        Change::UpdateVxlan { from, to } => update_vxlan(from, to),
    }
}

/// The operations of a list of changes, in order.
///
/// ```
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// let changes = vxlan_mesh_core::diff(&plan.state(), &Default::default()).unwrap();
/// let ops = vxlan_mesh_core::ops::lower(&changes);
/// assert!(matches!(ops[0], vxlan_mesh_core::ops::Op::LoadFirewall { .. }));
/// ```
pub fn lower(changes: &[Change]) -> Vec<Op> {
    changes.iter().flat_map(for_change).collect()
}

fn create_bridge(b: &Bridge) -> Vec<Op> {
    // An explicit MTU after creation pins it: the bridge no longer follows its smallest port.
    let mut v = vec![
        Op::CreateBridge { name: b.name.clone() },
        set(
            &b.name,
            LinkSettings {
                alias: Some(b.alias.clone()),
                mtu: Some(b.mtu),
                ..LinkSettings::default()
            },
        ),
    ];
    if b.arp_accept {
        v.push(set_arp_accept(b));
    }
    // Before it comes up: a link-local address is made when it does.
    v.extend(harden_ipv6(&b.name, &Ipv6Conf::default_of_new_link(), &b.ipv6));
    if b.up {
        v.push(up(&b.name));
    }
    v
}

/// The operations that turn IPv6 settings `from` into `to` (only hardening: a plan never
/// turns them on).
fn harden_ipv6(name: &str, from: &Ipv6Conf, to: &Ipv6Conf) -> Vec<Op> {
    let mut v = Vec::new();
    if from.sysctls_differ(to) {
        v.push(Op::HardenIpv6 { name: name.to_string() });
    }
    if from.addresses && !to.addresses {
        v.push(Op::FlushIpv6 { name: name.to_string() });
    }
    v
}

fn set_arp_accept(b: &Bridge) -> Op {
    Op::SetArpAccept {
        bridge: b.name.clone(),
        accept: true,
    }
}

fn update_bridge(from: &Bridge, to: &Bridge) -> Vec<Op> {
    let settings = LinkSettings {
        alias: (from.alias != to.alias).then(|| to.alias.clone()),
        mtu: (from.mtu != to.mtu).then_some(to.mtu),
        master: None,
        up: (from.up != to.up).then_some(to.up),
    };
    let mut v = Vec::new();
    if settings != LinkSettings::default() {
        v.push(set(&to.name, settings));
    }
    if to.arp_accept && !from.arp_accept {
        v.push(set_arp_accept(to));
    }
    v.extend(harden_ipv6(&to.name, &from.ipv6, &to.ipv6));
    v
}

fn install_loop_rules(rules: &LoopRules, exists: bool) -> Vec<Op> {
    let chain = rules.chain.clone();
    let mut v = if exists {
        vec![
            Op::FlushChain { chain: chain.clone() },
            Op::ReturnPolicy { chain: chain.clone() },
        ]
    } else {
        vec![Op::CreateChain { chain: chain.clone() }]
    };
    v.extend(rules.rules.iter().map(|rule| Op::AppendRule {
        chain: chain.clone(),
        rule: rule.clone(),
    }));
    v
}

/// Jumps observed at `jumps`, deleted highest first after `shift` rules were inserted above.
fn delete_jumps(jumps: &[usize], shift: usize) -> Vec<Op> {
    let mut stale: Vec<usize> = jumps.to_vec();
    stale.sort_unstable();
    stale.dedup();
    stale
        .into_iter()
        .rev()
        .map(|p| Op::DeleteRuleAt {
            chain: FORWARD.to_string(),
            position: p + shift,
        })
        .collect()
}

/// The jump goes in first, so that loop prevention never lapses; then the stale ones go.
fn place_jump(chain: &str, jumps: &[usize]) -> Vec<Op> {
    if jumps.first() == Some(&1) {
        return delete_jumps(&jumps[1..], 0);
    }
    let mut v = vec![Op::InsertJump {
        chain: chain.to_string(),
    }];
    v.extend(delete_jumps(jumps, 1));
    v
}

fn create_vxlan(vx: &Vxlan) -> Vec<Op> {
    let mut v = vec![
        Op::CreateVxlan { vxlan: vx.clone() },
        set(
            &vx.name,
            LinkSettings {
                alias: Some(vx.alias.clone()),
                mtu: Some(vx.mtu),
                master: vx.bridge.as_ref().map(|b| Master::Bridge(b.clone())),
                up: None,
            },
        ),
    ];
    // A new port has the kernel's flags: only those the plan wants otherwise are set.
    if vx.bridge.is_some() {
        v.extend(set_port_flags(&vx.name, &PortFlags::KERNEL_DEFAULT, &vx.port_flags));
    }
    v.extend(harden_ipv6(&vx.name, &Ipv6Conf::default_of_new_link(), &vx.ipv6));
    if vx.up {
        v.push(up(&vx.name));
    }
    v
}

/// The operation that turns port flags `from` into `to`, if any differ.
fn set_port_flags(name: &str, from: &PortFlags, to: &PortFlags) -> Option<Op> {
    let flags = from.changes_to(to);
    (!flags.is_empty()).then(|| Op::SetPortFlags {
        name: name.to_string(),
        flags,
    })
}

fn update_vxlan(from: &ObservedVxlan, to: &Vxlan) -> Vec<Op> {
    let moved = from.bridge != to.bridge;
    let settings = LinkSettings {
        alias: (from.alias != to.alias).then(|| to.alias.clone()),
        mtu: (from.mtu != to.mtu).then_some(to.mtu),
        master: moved.then(|| Master::of(to.bridge.as_ref())),
        up: (moved || (from.up && !to.up)).then_some(false),
    };
    let mut v = Vec::new();
    if settings != LinkSettings::default() {
        v.push(set(&to.name, settings));
    }
    // A port that joins a bridge starts with the kernel's flags.
    if to.bridge.is_some() {
        let had = if moved {
            &PortFlags::KERNEL_DEFAULT
        } else {
            &from.port_flags
        };
        v.extend(set_port_flags(&to.name, had, &to.port_flags));
    }
    v.extend(harden_ipv6(&to.name, &from.ipv6, &to.ipv6));
    if to.up && (!from.up || moved) {
        v.push(up(&to.name));
    }
    v
}

fn configure_wireguard(w: &WireguardPlan) -> Op {
    Op::ConfigureWireguard {
        interface: w.interface.clone(),
        private_key_file: w.private_key_file.clone(),
        listen_port: w.listen_port,
        fwmark: w.fwmark,
    }
}

fn set_peer(w: &WireguardPlan, peer: &WireguardPeer) -> Op {
    Op::SetPeer {
        interface: w.interface.clone(),
        peer: peer.clone(),
    }
}

fn address(w: &WireguardPlan, add: bool) -> Op {
    address_op(w.interface.clone(), w.address, w.prefix_len, add)
}

/// Adding (`add`) or deleting the address `address`/`prefix_len` of `interface`.
fn address_op(interface: String, address: IpAddr, prefix_len: u8, add: bool) -> Op {
    if add {
        Op::AddAddress {
            interface,
            address,
            prefix_len,
        }
    } else {
        Op::DeleteAddress {
            interface,
            address,
            prefix_len,
        }
    }
}

/// Created down and marked, keyed, addressed and given its peers before it comes up.
fn create_wireguard(w: &WireguardPlan) -> Vec<Op> {
    let mut v = vec![
        Op::CreateWireguard {
            name: w.interface.clone(),
        },
        set(
            &w.interface,
            LinkSettings {
                alias: Some(w.alias.clone()),
                mtu: Some(w.mtu),
                ..LinkSettings::default()
            },
        ),
        configure_wireguard(w),
        address(w, true),
    ];
    v.extend(w.peers.iter().map(|p| set_peer(w, p)));
    if w.up {
        v.push(up(&w.interface));
    }
    v
}

/// Only what differs, and peers one by one: an unchanged peer is not touched, so its
/// session (handshake, counters) goes on.
fn update_wireguard(from: &ObservedWireguard, to: &WireguardPlan) -> Vec<Op> {
    let settings = LinkSettings {
        alias: (from.alias != to.alias).then(|| to.alias.clone()),
        mtu: (from.mtu != to.mtu).then_some(to.mtu),
        master: None,
        up: (from.up && !to.up).then_some(false),
    };
    let mut v = Vec::new();
    if settings != LinkSettings::default() {
        v.push(set(&to.interface, settings));
    }
    if from.listen_port != to.listen_port || from.public_key != Some(to.public_key) || from.fwmark != to.fwmark {
        v.push(configure_wireguard(to));
    }
    if from.address != Some(InterfaceAddress::new(to.address, to.prefix_len)) {
        if let Some(had) = from.address {
            v.push(address_op(from.interface.clone(), had.address, had.prefix_len, false));
        }
        v.push(address(to, true));
    }
    let peers = peer_delta(from, to);
    v.extend(peers.removed.into_iter().map(|p| Op::RemovePeer {
        interface: to.interface.clone(),
        public_key: p.public_key,
    }));
    v.extend(peers.set.into_iter().map(|(p, _)| set_peer(to, p)));
    if to.up && !from.up {
        v.push(up(&to.interface));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misplaced_jump_is_inserted_first_then_the_old_ones_go_highest_first() {
        let ops = place_jump("C", &[2, 5]);
        let del = |position| Op::DeleteRuleAt {
            chain: FORWARD.into(),
            position,
        };
        assert_eq!(ops, [Op::InsertJump { chain: "C".into() }, del(6), del(3)]);
        assert_eq!(place_jump("C", &[1, 3, 4]), [del(4), del(3)]);
        assert_eq!(place_jump("C", &[]), [Op::InsertJump { chain: "C".into() }]);
    }
}
