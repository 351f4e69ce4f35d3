//! The forwarding flags of a bridge port: the full set vxlan-mesh plans for every VXLAN
//! port, and each form's words for them (written here once).
//!
//! Every flag that changes where the bridge sends a frame is planned, read back and
//! repaired, not only those a mode changes: `hairpin on` on a flood-mode port sends every
//! broadcast back into the tunnel it came from (a storm between two hosts), `flood off`
//! or `mcast_flood off` cut the overlay's broadcast and unknown-unicast traffic, and
//! `proxy_arp on` makes the bridge answer ARP for addresses it routes.

use serde::{Deserialize, Serialize};

/// One forwarding flag of a bridge port.
///
/// ```
/// use vxlan_mesh_core::PortFlag;
/// assert_eq!(PortFlag::Hairpin.iproute2_word(), "hairpin");
/// assert_eq!(PortFlag::BroadcastFlood.networkd_key(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PortFlag {
    /// `isolated`: an isolated port never forwards to another isolated port.
    Isolated,
    /// `neigh_suppress`: the bridge answers ARP and neighbour solicitations itself.
    NeighSuppress,
    /// `learning`: the bridge learns source MACs of frames coming in through the port.
    Learning,
    /// `hairpin`: frames may leave through the port they came in by.
    Hairpin,
    /// `flood`: unknown unicast is flooded to the port.
    UnicastFlood,
    /// `mcast_flood`: unknown multicast is flooded to the port.
    MulticastFlood,
    /// `bcast_flood`: broadcast is flooded to the port.
    BroadcastFlood,
    /// `proxy_arp`: the bridge answers ARP on the port for addresses it routes.
    ProxyArp,
}

impl PortFlag {
    /// Every flag, in the order the forms write them.
    pub const ALL: [PortFlag; 8] = [
        PortFlag::Isolated,
        PortFlag::NeighSuppress,
        PortFlag::Learning,
        PortFlag::Hairpin,
        PortFlag::UnicastFlood,
        PortFlag::MulticastFlood,
        PortFlag::BroadcastFlood,
        PortFlag::ProxyArp,
    ];

    /// The flag's word in `ip link set dev NAME type bridge_slave WORD on|off`, as
    /// `ip -d link show` also lists it.
    pub const fn iproute2_word(self) -> &'static str {
        match self {
            PortFlag::Isolated => "isolated",
            PortFlag::NeighSuppress => "neigh_suppress",
            PortFlag::Learning => "learning",
            PortFlag::Hairpin => "hairpin",
            PortFlag::UnicastFlood => "flood",
            PortFlag::MulticastFlood => "mcast_flood",
            PortFlag::BroadcastFlood => "bcast_flood",
            PortFlag::ProxyArp => "proxy_arp",
        }
    }

    /// The flag in a change's description: its iproute2 word, except `learning`, which
    /// says it is the port's (the VXLAN device has a learning flag of its own).
    pub const fn describe(self) -> &'static str {
        match self {
            PortFlag::Learning => "port learning",
            other => other.iproute2_word(),
        }
    }

    /// The systemd-networkd `[Bridge]` key (systemd 252); `None` for broadcast flooding,
    /// which has none: the `sync` service's script sets it after networkd.
    pub const fn networkd_key(self) -> Option<&'static str> {
        match self {
            PortFlag::Isolated => Some("Isolated"),
            PortFlag::NeighSuppress => Some("NeighborSuppression"),
            PortFlag::Learning => Some("Learning"),
            PortFlag::Hairpin => Some("HairPin"),
            PortFlag::UnicastFlood => Some("UnicastFlood"),
            PortFlag::MulticastFlood => Some("MulticastFlood"),
            PortFlag::BroadcastFlood => None,
            PortFlag::ProxyArp => Some("ProxyARP"),
        }
    }
}

/// The full set of forwarding flags of one bridge port. In the plan's JSON its fields sit
/// in the VXLAN device's object; an absent one is the kernel's default for a new port.
///
/// ```
/// use vxlan_mesh_core::{PortFlag, PortFlags};
/// let mut hairpin = PortFlags::KERNEL_DEFAULT;
/// hairpin.hairpin = true;
/// assert_eq!(hairpin.changes_to(&PortFlags::KERNEL_DEFAULT), [(PortFlag::Hairpin, false)]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PortFlags {
    /// Bridge port isolation flag (per-peer mode with isolation).
    #[serde(default)]
    pub isolated: bool,
    /// Bridge port neighbour suppression (`neigh_suppress`): the bridge answers ARP and
    /// neighbour solicitations for remote hosts from the entries EVPN installed, instead of
    /// flooding them (evpn mode).
    #[serde(default)]
    pub neigh_suppress: bool,
    /// Bridge port learning: whether the bridge learns source MACs of frames coming in
    /// through this port (off in evpn mode, where FRR installs the remote MACs).
    #[serde(rename = "port_learning", default = "on")]
    pub learning: bool,
    /// Hairpin mode: never, a frame from the tunnel must not go back into it.
    #[serde(default)]
    pub hairpin: bool,
    /// Unknown unicast flooded to the port (`flood`).
    #[serde(default = "on")]
    pub unicast_flood: bool,
    /// Unknown multicast flooded to the port (`mcast_flood`).
    #[serde(default = "on")]
    pub multicast_flood: bool,
    /// Broadcast flooded to the port (`bcast_flood`).
    #[serde(default = "on")]
    pub broadcast_flood: bool,
    /// Proxy ARP on the port: never, the overlay is one LAN.
    #[serde(default)]
    pub proxy_arp: bool,
}

/// Serde's default for the flags a new port has on.
fn on() -> bool {
    true
}

impl Default for PortFlags {
    fn default() -> Self {
        PortFlags::KERNEL_DEFAULT
    }
}

impl PortFlags {
    /// The flags the kernel gives a new bridge port (and what a device that is no port is
    /// read as).
    pub const KERNEL_DEFAULT: PortFlags = PortFlags {
        isolated: false,
        neigh_suppress: false,
        learning: true,
        hairpin: false,
        unicast_flood: true,
        multicast_flood: true,
        broadcast_flood: true,
        proxy_arp: false,
    };

    /// The value of one flag.
    pub fn get(&self, flag: PortFlag) -> bool {
        match flag {
            PortFlag::Isolated => self.isolated,
            PortFlag::NeighSuppress => self.neigh_suppress,
            PortFlag::Learning => self.learning,
            PortFlag::Hairpin => self.hairpin,
            PortFlag::UnicastFlood => self.unicast_flood,
            PortFlag::MulticastFlood => self.multicast_flood,
            PortFlag::BroadcastFlood => self.broadcast_flood,
            PortFlag::ProxyArp => self.proxy_arp,
        }
    }

    /// Every flag with its value, in [`PortFlag::ALL`]'s order.
    pub fn settings(&self) -> Vec<(PortFlag, bool)> {
        PortFlag::ALL.iter().map(|&f| (f, self.get(f))).collect()
    }

    /// The systemd-networkd `[Bridge]` settings of these flags: every flag networkd has a
    /// key for ([`PortFlag::networkd_key`]), written whatever its value.
    ///
    /// ```
    /// let s = vxlan_mesh_core::PortFlags::KERNEL_DEFAULT.networkd_settings();
    /// assert!(s.contains(&("HairPin", "no")) && s.contains(&("UnicastFlood", "yes")));
    /// ```
    pub fn networkd_settings(&self) -> Vec<(&'static str, &'static str)> {
        PortFlag::ALL
            .iter()
            .filter_map(|&f| Some((f.networkd_key()?, if self.get(f) { "yes" } else { "no" })))
            .collect()
    }

    /// The flags that differ in `wanted`, with `wanted`'s values: what turns these flags
    /// into those.
    pub fn changes_to(&self, wanted: &PortFlags) -> Vec<(PortFlag, bool)> {
        wanted
            .settings()
            .into_iter()
            .filter(|&(f, on)| self.get(f) != on)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_flags_read_as_the_kernel_default() -> Result<(), serde_json::Error> {
        let flags: PortFlags = serde_json::from_str("{}")?;
        assert_eq!(flags, PortFlags::KERNEL_DEFAULT);
        let flags: PortFlags = serde_json::from_str(r#"{"port_learning": false, "hairpin": true}"#)?;
        assert_eq!(
            PortFlags::KERNEL_DEFAULT.changes_to(&flags),
            [(PortFlag::Learning, false), (PortFlag::Hairpin, true)]
        );
        Ok(())
    }
}
