//! What was read from a host, in types of its own: an attribute the kernel or `wg` did not
//! report is `None`, never a made-up value (a VNI 0, the address `0.0.0.0`, the all-zeros
//! key) that a plan could be compared with, or `status` could print, as if it were real.
//!
//! A plan's types ([`Vxlan`], [`WireguardPlan`], [`WireguardPeer`](crate::WireguardPeer)) say what is wanted; these
//! say what is there. [`super::diff`] compares the two, and a `None` where the plan wants a
//! value is drift, named as unset.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{LoopChain, State, Table};
use crate::ipv6::Ipv6Conf;
use crate::plan::{Bridge, FdbEntry, Vxlan, WireguardPlan};
use crate::port_flags::PortFlags;
use crate::wireguard::{ObservedWireguardPeer, PeerRoute, PublicKey};

/// The objects vxlan-mesh manages on a host as observed (read from the kernel by
/// `netlink::observe`, or built by hand in tests), which [`super::diff`] compares with a
/// desired [`State`].
///
/// ```
/// use vxlan_mesh_core::{diff, Observed};
/// # let fleet = vxlan_mesh_core::testing::two_hosts();
/// let desired = fleet.plan("a").unwrap().state();
/// // A host that is exactly as planned shows no difference.
/// assert!(diff(&desired, &Observed::from(&desired)).unwrap().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Observed {
    /// Owned bridges.
    pub bridges: Vec<Bridge>,
    /// Owned VXLAN devices.
    pub vxlans: Vec<ObservedVxlan>,
    /// Configured FDB entries on owned VXLAN devices: all-zeros MAC (flood) entries, and
    /// static or permanent ones.
    pub fdb: Vec<FdbEntry>,
    /// Entries owned VXLAN devices learned from received frames. Those towards an address
    /// that is no longer a destination of the device are stale tunnels.
    #[serde(default)]
    pub learned: Vec<FdbEntry>,
    /// The ebtables chain named [`crate::plan::EBTABLES_CHAIN`], when present, with the jumps
    /// to it from `FORWARD`.
    pub loop_rules: Option<LoopChain>,
    /// The nftables table named [`crate::plan::NFT_TABLE`], when present.
    pub firewall: Option<Table>,
    /// The owned WireGuard interface, when present.
    #[serde(default)]
    pub wireguard: Option<ObservedWireguard>,
    /// The routes the kernel chose towards the WireGuard peers' inner addresses (with
    /// encryption): each must leave through the WireGuard interface.
    #[serde(default)]
    pub wireguard_routes: Vec<PeerRoute>,
    /// Names of interfaces present on the host that vxlan-mesh does not own.
    pub foreign: Vec<String>,
}

/// A host on which everything `state` wants is there, exactly, and nothing else: what
/// applying it leaves (tests; teardown is the diff from nothing to it).
impl From<&State> for Observed {
    fn from(state: &State) -> Observed {
        Observed {
            bridges: state.bridges.clone(),
            vxlans: state.vxlans.iter().map(ObservedVxlan::from).collect(),
            fdb: state.fdb.clone(),
            learned: Vec::new(),
            loop_rules: state.loop_rules.clone(),
            firewall: state.firewall.clone(),
            wireguard: state.wireguard.as_ref().map(ObservedWireguard::from),
            wireguard_routes: Vec::new(),
            foreign: Vec::new(),
        }
    }
}

/// An owned VXLAN device as the kernel reported it. The attributes the kernel may leave out
/// of its link dump (a device created without `local`, say) are `None` when it did.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObservedVxlan {
    /// Interface name.
    pub name: String,
    /// Network it carries (from its alias).
    pub network: String,
    /// Peer host at the other end (from its alias, per-peer mode).
    pub peer: Option<String>,
    /// VXLAN network identifier; `None` when not reported.
    pub vni: Option<u32>,
    /// Local underlay address; `None` when the device has none.
    pub local: Option<IpAddr>,
    /// Remote underlay address; `None` when the device has none (flood mode).
    pub remote: Option<IpAddr>,
    /// UDP destination port; `None` when not reported.
    pub port: Option<u16>,
    /// Underlay device the device is bound to; `None` when unbound.
    pub underlay_device: Option<String>,
    /// Whether the device learns remote MACs; `None` when not reported.
    pub learning: Option<bool>,
    /// Whether outgoing packets carry a UDP checksum; `None` when not reported.
    pub udp_checksum: Option<bool>,
    /// MTU.
    pub mtu: u32,
    /// Bridge it is a port of.
    pub bridge: Option<String>,
    /// The forwarding flags of its bridge port.
    #[serde(flatten)]
    pub port_flags: PortFlags,
    /// IPv6 on the device.
    #[serde(default)]
    pub ipv6: Ipv6Conf,
    /// Administratively up.
    pub up: bool,
    /// Ownership mark (interface alias).
    pub alias: String,
}

/// The device exactly as planned.
impl From<&Vxlan> for ObservedVxlan {
    fn from(v: &Vxlan) -> ObservedVxlan {
        ObservedVxlan {
            name: v.name.clone(),
            network: v.network.clone(),
            peer: v.peer.clone(),
            vni: Some(v.vni),
            local: Some(v.local),
            remote: v.remote,
            port: Some(v.port),
            underlay_device: v.underlay_device.clone(),
            learning: Some(v.learning),
            udp_checksum: Some(v.udp_checksum),
            mtu: v.mtu,
            bridge: v.bridge.clone(),
            port_flags: v.port_flags,
            ipv6: v.ipv6,
            up: v.up,
            alias: v.alias.clone(),
        }
    }
}

/// The owned WireGuard interface as the link dump, the address dump and `wg show dump`
/// reported it: its peers named by their public keys, its private key never read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObservedWireguard {
    /// Interface name.
    pub interface: String,
    /// Its public key; `None` when it has no private key (a device just created).
    pub public_key: Option<PublicKey>,
    /// Its address (the first that is not IPv6 link-local); `None` when it has none (then
    /// its JSON has neither `address` nor `prefix_len`).
    #[serde(flatten, default)]
    pub address: Option<InterfaceAddress>,
    /// UDP port it listens on.
    pub listen_port: u16,
    /// Firewall mark on its own packets (0: none, as `wg` reports `off`).
    #[serde(default)]
    pub fwmark: u32,
    /// MTU.
    pub mtu: u32,
    /// Administratively up.
    pub up: bool,
    /// Ownership mark (interface alias).
    pub alias: String,
    /// Its peers, in the order `wg` listed them.
    pub peers: Vec<ObservedWireguardPeer>,
}

/// The interface exactly as planned.
impl From<&WireguardPlan> for ObservedWireguard {
    fn from(w: &WireguardPlan) -> ObservedWireguard {
        ObservedWireguard {
            interface: w.interface.clone(),
            public_key: Some(w.public_key),
            address: Some(InterfaceAddress {
                address: w.address,
                prefix_len: w.prefix_len,
            }),
            listen_port: w.listen_port,
            fwmark: w.fwmark,
            mtu: w.mtu,
            up: w.up,
            alias: w.alias.clone(),
            peers: w.peers.iter().map(ObservedWireguardPeer::from).collect(),
        }
    }
}

/// An address of an interface, with the length of the prefix it was set with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InterfaceAddress {
    /// The address.
    pub address: IpAddr,
    /// The prefix length.
    pub prefix_len: u8,
}

impl InterfaceAddress {
    /// `address`/`prefix_len`.
    ///
    /// ```
    /// let a = vxlan_mesh_core::InterfaceAddress::new("10.213.0.1".parse().unwrap(), 16);
    /// assert_eq!(a.to_string(), "10.213.0.1/16");
    /// ```
    pub fn new(address: IpAddr, prefix_len: u8) -> InterfaceAddress {
        InterfaceAddress { address, prefix_len }
    }
}

impl std::fmt::Display for InterfaceAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}
