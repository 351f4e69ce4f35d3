//! The fleet inventory as written by the operator: one TOML file for all servers.
//!
//! These types mirror the file one to one and carry no derived facts; call
//! [`Inventory::validate`] to obtain a [`Fleet`](crate::Fleet) that the planner accepts.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// UDP destination port used when the inventory does not name one (IANA's VXLAN port).
pub const DEFAULT_PORT: u16 = 4789;

/// Underlay MTU assumed for a host whose `underlay-mtu` is not given.
pub const DEFAULT_UNDERLAY_MTU: u32 = 1500;

/// The whole fleet: global settings, the overlay networks and the hosts.
///
/// ```
/// use vxlan_mesh_core::Inventory;
///
/// let inv = Inventory::from_toml_str(r#"
///     [[networks]]
///     name = "lan"
///     vni = 100
///     bridge = "vxbr0"
///
///     [[hosts]]
///     name = "a"
///     address = "192.0.2.1"
///
///     [[hosts]]
///     name = "b"
///     address = "192.0.2.2"
/// "#).unwrap();
/// assert_eq!(inv.hosts.len(), 2);
/// assert_eq!(inv.port, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Inventory {
    /// UDP destination port of every tunnel; [`DEFAULT_PORT`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// How hosts are joined; [`Mode::Flood`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Loop prevention in per-peer mode; [`LoopPrevention::Isolation`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_prevention: Option<LoopPrevention>,
    /// Whether to accept VXLAN traffic from mesh peers only; `true` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firewall: Option<bool>,
    /// The overlay L2 segments.
    #[serde(default)]
    pub networks: Vec<NetworkSpec>,
    /// The servers joined by the mesh.
    #[serde(default)]
    pub hosts: Vec<HostSpec>,
}

/// How the hosts of a network are joined.
///
/// ```
/// use vxlan_mesh_core::Mode;
/// assert_eq!(Mode::default(), Mode::Flood);
/// assert_eq!(Mode::PerPeer.as_str(), "per-peer");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One VXLAN device per network with one all-zeros FDB entry per peer (head-end
    /// replication). Loop-free by construction.
    #[default]
    Flood,
    /// One VXLAN device per peer and network, as the classic script does; needs loop prevention.
    PerPeer,
}

impl Mode {
    /// The spelling used in the inventory.
    ///
    /// ```
    /// assert_eq!(vxlan_mesh_core::Mode::Flood.as_str(), "flood");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Flood => "flood",
            Mode::PerPeer => "per-peer",
        }
    }
}

/// How per-peer mode keeps frames from looping between VXLAN ports of one bridge.
///
/// ```
/// use vxlan_mesh_core::LoopPrevention;
/// assert_eq!(LoopPrevention::default(), LoopPrevention::Isolation);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoopPrevention {
    /// Bridge port isolation: isolated ports never forward to each other.
    #[default]
    Isolation,
    /// One ebtables rule with interface wildcards in a chain the tool owns.
    Ebtables,
}

impl LoopPrevention {
    /// The spelling used in the inventory.
    ///
    /// ```
    /// assert_eq!(vxlan_mesh_core::LoopPrevention::Ebtables.as_str(), "ebtables");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            LoopPrevention::Isolation => "isolation",
            LoopPrevention::Ebtables => "ebtables",
        }
    }
}

/// One overlay network (an L2 segment) as written in `[[networks]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetworkSpec {
    /// Name of the network, used in ownership marks and generated file names.
    pub name: String,
    /// VXLAN network identifier; in per-peer mode the first of the network's VNI range.
    pub vni: u32,
    /// The bridge containers attach to on every host.
    pub bridge: String,
    /// MTU containers use; the largest the underlay allows when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Whether containers on this network use IPv6 (which needs an MTU of at least 1280);
    /// `true` when absent, as Linux enables IPv6 on every interface by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_ipv6: Option<bool>,
}

/// One server as written in `[[hosts]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HostSpec {
    /// Host name, unique in the fleet.
    pub name: String,
    /// Underlay address (IPv4 or IPv6) the tunnels start and end at.
    pub address: IpAddr,
    /// Underlay device the tunnels are bound to; unbound when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// MTU of the underlay path; [`DEFAULT_UNDERLAY_MTU`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underlay_mtu: Option<u32>,
    /// Stable host id that per-peer VNIs derive from. When absent, the host takes the
    /// smallest id not used by hosts listed before it (so appending hosts never changes
    /// existing links; give explicit ids before removing hosts from the middle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// Names of the networks this host joins; all networks when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<String>>,
}

impl Inventory {
    /// Parses an inventory from TOML text, rejecting unknown keys.
    ///
    /// The error carries the line and column of the offending key or value.
    ///
    /// ```
    /// use vxlan_mesh_core::Inventory;
    /// let err = Inventory::from_toml_str("prot = 4789").unwrap_err();
    /// assert!(err.to_string().contains("prot"));
    /// ```
    pub fn from_toml_str(text: &str) -> Result<Self, ParseError> {
        toml::from_str(text).map_err(|e| ParseError::from_toml(text, &e))
    }

    /// Serializes the inventory back to TOML.
    ///
    /// ```
    /// use vxlan_mesh_core::Inventory;
    /// let inv = Inventory::from_toml_str("port = 8472").unwrap();
    /// assert!(inv.to_toml_string().unwrap().contains("port = 8472"));
    /// ```
    pub fn to_toml_string(&self) -> Result<String, ParseError> {
        toml::to_string(self).map_err(|e| ParseError {
            message: e.to_string(),
            line: None,
            column: None,
        })
    }
}
