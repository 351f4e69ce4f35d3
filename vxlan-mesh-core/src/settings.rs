//! The fleet-wide settings' values: how the hosts of a network are joined ([`Mode`]), how
//! per-peer mode keeps frames from looping ([`LoopPrevention`]), and the defaults of the
//! VXLAN port and the underlay MTU. The inventory spells them and the schema documents them.

use serde::{Deserialize, Serialize};

/// UDP destination port used when the inventory does not name one (IANA's VXLAN port).
pub const DEFAULT_VXLAN_PORT: u16 = 4789;

/// Underlay MTU assumed for a host whose `underlay-mtu` is not given.
pub const DEFAULT_UNDERLAY_MTU: u32 = 1500;

/// How the hosts of a network are joined.
///
/// ```
/// use vxlan_mesh_core::Mode;
/// assert_eq!(Mode::default(), Mode::Flood);
/// assert_eq!(Mode::PerPeer.as_str(), "per-peer");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Mode {
    /// One VXLAN device per network with one all-zeros FDB entry per peer (head-end
    /// replication). Loop-free by construction.
    #[default]
    Flood,
    /// One VXLAN device per peer and network, as the classic script does; needs loop prevention.
    PerPeer,
    /// One VXLAN device per network, as in flood mode, whose FDB entries (flood list and
    /// remote MACs) a BGP EVPN control plane (FRR) installs: new hosts need configuration
    /// on themselves only.
    Evpn,
}

impl Mode {
    /// Every mode, in the order the documentation lists them.
    pub const ALL: &'static [Mode] = &[Mode::Flood, Mode::PerPeer, Mode::Evpn];

    /// The spelling used in the inventory.
    ///
    /// ```
    /// assert_eq!(vxlan_mesh_core::Mode::Flood.as_str(), "flood");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Flood => "flood",
            Mode::PerPeer => "per-peer",
            Mode::Evpn => "evpn",
        }
    }

    /// What the mode means, for the manual and `--help`.
    pub fn describe(self) -> &'static str {
        match self {
            Mode::Flood => {
                "one VXLAN device per network with one all-zeros FDB entry per peer (head-end replication); \
                 loop-free by construction"
            }
            Mode::PerPeer => {
                "one VXLAN device per peer and network, as the classic script does; needs `loop-prevention`"
            }
            Mode::Evpn => {
                "one VXLAN device per network whose flood list and remote MACs a BGP EVPN control plane (FRR, \
                 iBGP to route reflectors) installs; a new host needs configuration on itself only"
            }
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
#[non_exhaustive]
pub enum LoopPrevention {
    /// Bridge port isolation: isolated ports never forward to each other.
    #[default]
    Isolation,
    /// One ebtables rule with interface wildcards in a chain the tool owns.
    Ebtables,
}

impl LoopPrevention {
    /// Every kind of loop prevention, in the order the documentation lists them.
    pub const ALL: &'static [LoopPrevention] = &[LoopPrevention::Isolation, LoopPrevention::Ebtables];

    /// The spelling used in the inventory.
    ///
    /// ```
    /// assert_eq!(vxlan_mesh_core::LoopPrevention::Ebtables.as_str(), "ebtables");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            LoopPrevention::Isolation => "isolation",
            LoopPrevention::Ebtables => "ebtables",
        }
    }

    /// What it does, for the manual.
    pub fn describe(self) -> &'static str {
        match self {
            LoopPrevention::Isolation => "bridge port isolation: isolated ports never forward to each other",
            LoopPrevention::Ebtables => "one ebtables rule with interface wildcards in a chain the tool owns",
        }
    }
}
