//! The per-host plan: every object that must exist on one host, as plain serde data.
//!
//! The JSON form of [`HostPlan`] is a stable contract (see [`PLAN_SCHEMA`]): fields may be
//! added, never renamed or removed within a schema version.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::PlanError;
use crate::evpn::BgpTimers;
use crate::fleet::{Family, Fleet, Host};
use crate::inventory::{LoopPrevention, Mode};
use crate::ipv6::Ipv6Conf;
use crate::names::{owner_alias, vxlan_device, DEVICE_PREFIX};
use crate::port_flags::PortFlags;
use crate::vni;
use crate::wireguard::{self, Encryption, Prefix, PublicKey};
// The peer type is a WireGuard fact (the wireguard module's sessions hold it too); the plan
// names it where `WireguardPlan::peers` is.
pub(crate) use crate::wireguard::WireguardPeer;

/// Version of the plan's JSON contract (2: `loop_rules.rules` are typed objects instead of
/// ebtables argument strings; 3: `mode` `"evpn"` with the `evpn` section, the VXLAN
/// devices' bridge port flags `neigh_suppress` and `port_learning`, and `firewall.evpn`).
pub const PLAN_SCHEMA: u32 = 3;

/// Name of the ebtables chain vxlan-mesh owns in ebtables loop-prevention mode.
pub const EBTABLES_CHAIN: &str = "VXLAN-MESH";

/// Name of the nftables table (family `inet`) vxlan-mesh owns for the peer-only firewall.
pub const NFT_TABLE: &str = "vxlan_mesh";

/// A MAC address.
///
/// ```
/// use vxlan_mesh_core::MacAddr;
/// assert_eq!(MacAddr::ZERO.to_string(), "00:00:00:00:00:00");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The all-zeros address: in a VXLAN FDB, the default (flooding) destination.
    pub const ZERO: MacAddr = MacAddr([0; 6]);
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl From<MacAddr> for String {
    fn from(m: MacAddr) -> String {
        m.to_string()
    }
}

impl TryFrom<String> for MacAddr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let mut out = [0u8; 6];
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 6 {
            return Err(format!("`{s}` is not a MAC address"));
        }
        for (o, p) in out.iter_mut().zip(parts) {
            *o = u8::from_str_radix(p, 16).map_err(|_| format!("`{s}` is not a MAC address"))?;
        }
        Ok(MacAddr(out))
    }
}

/// A bridge containers attach to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Bridge {
    /// Interface name.
    pub name: String,
    /// Network it carries.
    pub network: String,
    /// MTU, set explicitly so that the bridge does not follow its smallest port.
    pub mtu: u32,
    /// Administratively up.
    pub up: bool,
    /// Ownership mark (interface alias).
    pub alias: String,
    /// `net.ipv4.conf.<bridge>.arp_accept = 1` (evpn mode): the bridge has no address, so
    /// only with it does a container's gratuitous ARP create the kernel neighbour entry that
    /// zebra announces as a type-2 MAC/IP route (what lets remote bridges answer ARP
    /// locally). `false` leaves the host's setting as it is.
    #[serde(default)]
    pub arp_accept: bool,
    /// IPv6 on the bridge: no router advertisements, no autoconfiguration, no address.
    #[serde(default)]
    pub ipv6: Ipv6Conf,
}

/// A VXLAN device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vxlan {
    /// Interface name.
    pub name: String,
    /// Network it carries.
    pub network: String,
    /// Peer host at the other end (per-peer mode).
    pub peer: Option<String>,
    /// VXLAN network identifier.
    pub vni: u32,
    /// Local underlay address.
    pub local: IpAddr,
    /// Remote underlay address (per-peer mode); flood mode uses FDB entries instead.
    pub remote: Option<IpAddr>,
    /// UDP destination port.
    pub port: u16,
    /// Underlay device the device is bound to.
    pub underlay_device: Option<String>,
    /// Whether the device learns remote MACs from received frames (flood mode: on, so that
    /// unicast frames go to one peer instead of being replicated to all).
    pub learning: bool,
    /// Whether outgoing packets carry a UDP checksum.
    pub udp_checksum: bool,
    /// MTU.
    pub mtu: u32,
    /// Bridge it is a port of.
    pub bridge: Option<String>,
    /// The forwarding flags of its bridge port, all of them planned (in the JSON, the
    /// fields sit in the device's object).
    #[serde(flatten)]
    pub port_flags: PortFlags,
    /// IPv6 on the device: no router advertisements, no autoconfiguration, no address.
    #[serde(default)]
    pub ipv6: Ipv6Conf,
    /// Administratively up.
    pub up: bool,
    /// Ownership mark (interface alias).
    pub alias: String,
}

impl Vxlan {
    /// The kernel's UDP checksum settings for this device (they depend on its family).
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// let plan = fleet.plan("a").unwrap();
    /// let vx = plan.vxlans().next().unwrap();
    /// assert_eq!(vx.udp_checksum_mode().iproute2_words(), ["udpcsum"]);
    /// ```
    pub fn udp_checksum_mode(&self) -> UdpChecksum {
        match self.local {
            IpAddr::V4(_) => UdpChecksum::V4 {
                checksum: self.udp_checksum,
            },
            IpAddr::V6(_) => UdpChecksum::V6 {
                zero_tx: !self.udp_checksum,
                zero_rx: !self.udp_checksum,
            },
        }
    }
}

/// The UDP checksum attributes of a VXLAN device, as the kernel holds them: one flag over
/// IPv4 (`IFLA_VXLAN_UDP_CSUM`), two over IPv6 (zero checksum sent, zero checksum accepted).
/// Each form's words for them are derived here, once.
///
/// ```
/// use vxlan_mesh_core::UdpChecksum;
/// let v6 = UdpChecksum::V6 { zero_tx: false, zero_rx: false };
/// assert_eq!(v6.iproute2_words(), ["noudp6zerocsumtx", "noudp6zerocsumrx"]);
/// assert_eq!(v6.networkd_settings(), [("UDP6ZeroChecksumTx", "no"), ("UDP6ZeroChecksumRx", "no")]);
/// assert!(v6.netplan_checksums().is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UdpChecksum {
    /// IPv4 underlay.
    V4 {
        /// Outgoing packets carry a UDP checksum.
        checksum: bool,
    },
    /// IPv6 underlay.
    V6 {
        /// Outgoing packets carry a zero UDP checksum.
        zero_tx: bool,
        /// Incoming packets with a zero UDP checksum are accepted.
        zero_rx: bool,
    },
}

impl UdpChecksum {
    /// The `ip link add ... type vxlan` words.
    pub fn iproute2_words(self) -> Vec<&'static str> {
        match self {
            UdpChecksum::V4 { checksum } => vec![if checksum { "udpcsum" } else { "noudpcsum" }],
            UdpChecksum::V6 { zero_tx, zero_rx } => vec![
                if zero_tx { "udp6zerocsumtx" } else { "noudp6zerocsumtx" },
                if zero_rx { "udp6zerocsumrx" } else { "noudp6zerocsumrx" },
            ],
        }
    }

    /// The systemd-networkd `[VXLAN]` settings (networkd's defaults differ from the
    /// kernel's, so every one is written).
    pub fn networkd_settings(self) -> Vec<(&'static str, &'static str)> {
        let yes = |b: bool| if b { "yes" } else { "no" };
        match self {
            UdpChecksum::V4 { checksum } => vec![("UDPChecksum", yes(checksum))],
            UdpChecksum::V6 { zero_tx, zero_rx } => vec![
                ("UDP6ZeroChecksumTx", yes(zero_tx)),
                ("UDP6ZeroChecksumRx", yes(zero_rx)),
            ],
        }
    }

    /// The netplan `checksums:` list (empty: leave the key out, netplan's default is no
    /// checksum over IPv4 and a real one over IPv6).
    pub fn netplan_checksums(self) -> Vec<&'static str> {
        match self {
            UdpChecksum::V4 { checksum } => {
                if checksum {
                    vec!["udp"]
                } else {
                    Vec::new()
                }
            }
            UdpChecksum::V6 { zero_tx, zero_rx } => {
                let mut v = Vec::new();
                if zero_tx {
                    v.push("zero-udp6-tx");
                }
                if zero_rx {
                    v.push("zero-udp6-rx");
                }
                v
            }
        }
    }
}

/// A VXLAN FDB entry: frames for `mac` on `device` are sent to `destination`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FdbEntry {
    /// VXLAN device.
    pub device: String,
    /// MAC address; all zeros for the flood (head-end replication) entry.
    pub mac: MacAddr,
    /// Underlay address of the peer.
    pub destination: IpAddr,
    /// Name of the peer host (for display; not observable in the kernel).
    pub peer: Option<String>,
    /// The VNI frames are sent with, when not the device's (`vni`): planned entries use the
    /// device's (`null`); an observed entry with another is drift.
    #[serde(default)]
    pub vni: Option<u32>,
    /// The UDP destination port, when not the device's (`port`): planned entries use the
    /// device's (`null`).
    #[serde(default)]
    pub port: Option<u16>,
    /// The underlay interface frames are sent through (`via`): planned entries name none
    /// (`null`).
    #[serde(default)]
    pub via: Option<String>,
}

impl FdbEntry {
    /// An entry sending frames for `mac` on `device` to `destination` with the device's own
    /// VNI and port, for no named peer; set the other fields after (the struct is
    /// `#[non_exhaustive]`).
    ///
    /// ```
    /// use vxlan_mesh_core::{FdbEntry, MacAddr};
    /// let mut e = FdbEntry::new("vxm100", MacAddr::ZERO, "192.0.2.2".parse().unwrap());
    /// assert!(e.device_defaults());
    /// e.port = Some(4790);
    /// assert_eq!(e.iproute2_extras(), ["port", "4790"]);
    /// ```
    pub fn new(device: impl Into<String>, mac: MacAddr, destination: IpAddr) -> FdbEntry {
        FdbEntry {
            device: device.into(),
            mac,
            destination,
            peer: None,
            vni: None,
            port: None,
            via: None,
        }
    }

    /// Whether the entry sends with the device's own VNI and port (no `vni`, no `port`).
    pub fn device_defaults(&self) -> bool {
        self.vni.is_none() && self.port.is_none()
    }

    /// What the entry sends with besides its destination, in iproute2's words (`port P`,
    /// `vni N`, `via DEV`), empty for the device's defaults.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// let mut e = fleet.plan("a").unwrap().fdb().next().unwrap().clone();
    /// assert!(e.iproute2_extras().is_empty());
    /// e.vni = Some(999);
    /// assert_eq!(e.iproute2_extras(), ["vni", "999"]);
    /// ```
    pub fn iproute2_extras(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(port) = self.port {
            v.extend(["port".to_string(), port.to_string()]);
        }
        if let Some(vni) = self.vni {
            v.extend(["vni".to_string(), vni.to_string()]);
        }
        if let Some(via) = &self.via {
            v.extend(["via".to_string(), via.clone()]);
        }
        v
    }
}

/// ebtables rules in a chain vxlan-mesh owns, jumped to from the first rule of `FORWARD`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LoopRules {
    /// The owned chain, in table `filter`.
    pub chain: String,
    /// Rules of the chain, in order.
    pub rules: Vec<LoopRule>,
}

impl LoopRules {
    /// The rules `rules` in chain `chain`.
    pub fn new(chain: impl Into<String>, rules: Vec<LoopRule>) -> LoopRules {
        LoopRules {
            chain: chain.into(),
            rules,
        }
    }
}

/// One rule of the owned ebtables chain, as data; [`LoopRule::ebtables_args`] gives its
/// ebtables arguments (the one place they are written).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LoopRule {
    /// Drop every frame that enters from a vxlan-mesh VXLAN port and leaves by another: one
    /// wildcard rule on the device prefix, whatever the number of peers.
    DropBetweenMeshPorts,
}

impl LoopRule {
    /// The rule's ebtables match and target arguments (after `-A CHAIN`), as `ebtables -L`
    /// also lists them.
    ///
    /// ```
    /// use vxlan_mesh_core::LoopRule;
    /// assert_eq!(LoopRule::DropBetweenMeshPorts.ebtables_args().join(" "), "-i vxm+ -o vxm+ -j DROP");
    /// ```
    pub fn ebtables_args(&self) -> Vec<String> {
        let ports = format!("{DEVICE_PREFIX}+");
        match self {
            LoopRule::DropBetweenMeshPorts => vec![
                "-i".into(),
                ports.clone(),
                "-o".into(),
                ports,
                "-j".into(),
                "DROP".into(),
            ],
        }
    }

    /// The rule a line of `ebtables -L` shows, if it is one vxlan-mesh writes.
    ///
    /// ```
    /// use vxlan_mesh_core::LoopRule;
    /// assert_eq!(LoopRule::from_listing("-i vxm+ -o vxm+ -j DROP"), Some(LoopRule::DropBetweenMeshPorts));
    /// assert_eq!(LoopRule::from_listing("-j ACCEPT"), None);
    /// ```
    pub fn from_listing(line: &str) -> Option<LoopRule> {
        let words: Vec<&str> = line.split_whitespace().collect();
        [LoopRule::DropBetweenMeshPorts]
            .into_iter()
            .find(|rule| rule.ebtables_args() == words)
    }
}

/// The peer-only firewall: an nftables table vxlan-mesh owns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Firewall {
    /// Table name (family `inet`).
    pub table: String,
    /// Underlay family.
    pub family: Family,
    /// Protected UDP port.
    pub port: u16,
    /// Addresses allowed to send to the port, sorted. With encryption, the port is the
    /// WireGuard port, and the peers' endpoint addresses are among them.
    pub peers: Vec<IpAddr>,
    /// With encryption: the VXLAN port, accepted on the WireGuard interface only.
    #[serde(default)]
    pub wireguard: Option<WireguardFilter>,
    /// In evpn mode: the underlay prefix VXLAN (`port`) and BGP are accepted from (`peers`
    /// is then empty: a host that joins needs no change on the others).
    #[serde(default)]
    pub evpn: Option<EvpnFilter>,
}

impl Firewall {
    /// The firewall of table `table` admitting `peers` (sorted here) to UDP `port`, without
    /// the WireGuard and evpn parts; set those after (the struct is `#[non_exhaustive]`).
    ///
    /// ```
    /// use vxlan_mesh_core::{Family, Firewall, WireguardFilter};
    /// let mut fw = Firewall::new("vxlan_mesh", Family::V4, 51820, vec!["192.0.2.2".parse().unwrap()]);
    /// fw.wireguard = Some(WireguardFilter::new("vxmwg0", 4789));
    /// assert_eq!(fw.wireguard.map(|w| w.vxlan_port), Some(4789));
    /// ```
    pub fn new(table: impl Into<String>, family: Family, port: u16, mut peers: Vec<IpAddr>) -> Firewall {
        peers.sort();
        Firewall {
            table: table.into(),
            family,
            port,
            peers,
            wireguard: None,
            evpn: None,
        }
    }
}

/// The firewall's part in evpn mode: whom it admits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EvpnFilter {
    /// Sources accepted: the fleet's underlay prefix.
    pub prefix: Prefix,
    /// The BGP port (TCP), accepted from the prefix only.
    pub bgp_port: u16,
}

impl EvpnFilter {
    /// Admits the underlay `prefix`, and BGP on `bgp_port` from it.
    pub fn new(prefix: Prefix, bgp_port: u16) -> EvpnFilter {
        EvpnFilter { prefix, bgp_port }
    }
}

/// The firewall's part for an encrypted mesh: VXLAN is accepted only from inside WireGuard
/// (whose cryptokey routing already ties each inner source address to one peer's key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireguardFilter {
    /// The WireGuard interface.
    pub interface: String,
    /// The VXLAN port.
    pub vxlan_port: u16,
}

impl WireguardFilter {
    /// Admits VXLAN on `vxlan_port` from inside the WireGuard `interface` only.
    pub fn new(interface: impl Into<String>, vxlan_port: u16) -> WireguardFilter {
        WireguardFilter {
            interface: interface.into(),
            vxlan_port,
        }
    }
}

/// The WireGuard interface of an encrypted mesh on one host. It carries no private key: the
/// key stays in a file on the host, which `apply` is given by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireguardPlan {
    /// Interface name.
    pub interface: String,
    /// This host's public key (its private half must be in the key file).
    pub public_key: PublicKey,
    /// The file holding this host's private key, which the WireGuard interface is given
    /// ([`DEFAULT_KEY_FILE`](crate::wireguard::DEFAULT_KEY_FILE) unless the host says
    /// otherwise); `null` as observed on a host, where only the public key shows.
    pub private_key_file: Option<PathBuf>,
    /// Inner address of this host; the VXLAN devices' `local`.
    pub address: IpAddr,
    /// Length of the inner prefix the address is set with (its route reaches every peer).
    pub prefix_len: u8,
    /// UDP port WireGuard listens on.
    pub listen_port: u16,
    /// Firewall mark WireGuard puts on its own packets (0: none, what a plan always wants:
    /// a mark would send them by whatever policy routing matches it, not by the underlay).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fwmark: u32,
    /// MTU of the interface: the underlay MTU minus WireGuard's overhead.
    pub mtu: u32,
    /// Administratively up.
    pub up: bool,
    /// Ownership mark (interface alias).
    pub alias: String,
    /// The other hosts, in inventory order.
    pub peers: Vec<WireguardPeer>,
}

/// Whether a number is 0 (left out of a serialized plan: the default).
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The BGP EVPN control plane of one host (evpn mode): what the FRR configuration is
/// made from ([`crate::frr::Config::from_plan`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EvpnPlan {
    /// The fleet's AS number (every session is internal BGP).
    pub asn: u32,
    /// BGP router id: the IPv4 underlay address, or the host id as a 32-bit number over
    /// IPv6 (host id 7 is `0.0.0.7`), where a host has no IPv4 address to take it from.
    pub router_id: Ipv4Addr,
    /// Whether this host is a route reflector.
    pub route_reflector: bool,
    /// Sessions this host opens: to every route reflector but itself, in address order.
    pub sessions: Vec<BgpSession>,
    /// Route reflectors: the prefix they accept client sessions from (`bgp listen range`),
    /// so that a new host needs configuration on itself only.
    pub listen_range: Option<Prefix>,
    /// The VNIs this host announces (one per network it joins), ascending.
    pub vnis: Vec<u32>,
    /// The sessions' timers; FRR's defaults when absent.
    pub timers: Option<BgpTimers>,
}

/// A BGP session to a route reflector.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BgpSession {
    /// The reflector's underlay address (FRR's neighbour).
    pub address: IpAddr,
    /// Its host name.
    pub peer: String,
}

/// A host the plan's host has tunnels to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Peer {
    /// Host name.
    pub name: String,
    /// Stable host id.
    pub id: u32,
    /// Underlay address.
    pub address: IpAddr,
}

/// How loops are prevented on this host.
///
/// ```
/// use vxlan_mesh_core::LoopPreventionPlan;
/// assert_eq!(LoopPreventionPlan::ByConstruction.describe(), "none needed: one VXLAN device per network (flood and evpn modes)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LoopPreventionPlan {
    /// Flood and evpn modes: one VXLAN port per bridge cannot loop.
    ByConstruction,
    /// Bridge port isolation on every VXLAN port.
    Isolation,
    /// One ebtables rule in an owned chain.
    Ebtables,
}

impl LoopPreventionPlan {
    /// Human-readable description.
    ///
    /// ```
    /// assert!(vxlan_mesh_core::LoopPreventionPlan::Isolation.describe().contains("isolation"));
    /// ```
    pub fn describe(self) -> &'static str {
        match self {
            LoopPreventionPlan::ByConstruction => "none needed: one VXLAN device per network (flood and evpn modes)",
            LoopPreventionPlan::Isolation => "bridge port isolation on every VXLAN port",
            LoopPreventionPlan::Ebtables => "one ebtables rule in chain VXLAN-MESH",
        }
    }
}

/// The objects of one network on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NetworkPlan {
    /// Network name.
    pub name: String,
    /// Base VNI (flood mode: the VNI).
    pub vni: u32,
    /// MTU containers on this network must use.
    pub mtu: u32,
    /// Largest MTU the underlay allows for this network.
    pub max_mtu: u32,
    /// The bridge.
    pub bridge: Bridge,
    /// The VXLAN devices (one in flood mode, one per peer in per-peer mode).
    pub vxlans: Vec<Vxlan>,
    /// FDB flood entries (flood mode; in evpn mode FRR installs them).
    pub fdb: Vec<FdbEntry>,
}

/// Everything one host needs, computed from the fleet by [`Fleet::plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HostPlan {
    /// Version of this JSON contract ([`PLAN_SCHEMA`]).
    pub schema: u32,
    /// Host name.
    pub host: String,
    /// Stable host id.
    pub host_id: u32,
    /// Underlay address.
    pub address: IpAddr,
    /// Underlay family.
    pub family: Family,
    /// Underlay device, if tunnels are bound to one.
    pub underlay_device: Option<String>,
    /// Underlay MTU.
    pub underlay_mtu: u32,
    /// Encapsulation overhead in bytes (VXLAN, plus WireGuard with encryption).
    pub overhead: u32,
    /// Whether the tunnels run inside WireGuard.
    #[serde(default)]
    pub encryption: Encryption,
    /// The WireGuard interface, with encryption.
    #[serde(default)]
    pub wireguard: Option<WireguardPlan>,
    /// Mode.
    pub mode: Mode,
    /// UDP destination port.
    pub port: u16,
    /// Loop prevention.
    pub loop_prevention: LoopPreventionPlan,
    /// ebtables rules (ebtables loop prevention only).
    pub loop_rules: Option<LoopRules>,
    /// Peer-only firewall, when enabled.
    pub firewall: Option<Firewall>,
    /// The BGP EVPN control plane, in evpn mode.
    #[serde(default)]
    pub evpn: Option<EvpnPlan>,
    /// Hosts this host has tunnels to, in inventory order.
    pub peers: Vec<Peer>,
    /// Networks the host joins, in inventory order.
    pub networks: Vec<NetworkPlan>,
}

impl HostPlan {
    /// All VXLAN devices of all networks.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// let plan = fleet.plan("a").unwrap();
    /// assert_eq!(plan.vxlans().count(), 1);
    /// ```
    pub fn vxlans(&self) -> impl Iterator<Item = &Vxlan> {
        self.networks.iter().flat_map(|n| n.vxlans.iter())
    }

    /// All FDB entries of all networks.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// let plan = fleet.plan("a").unwrap();
    /// assert_eq!(plan.fdb().next().map(|e| e.destination.to_string()), Some("192.0.2.2".into()));
    /// ```
    pub fn fdb(&self) -> impl Iterator<Item = &FdbEntry> {
        self.networks.iter().flat_map(|n| n.fdb.iter())
    }
}

impl Fleet {
    /// The plan of the host called `host`.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// let plan = fleet.plan("b").unwrap();
    /// assert_eq!(plan.networks[0].mtu, 1450);
    /// assert!(fleet.plan("nope").is_err());
    /// ```
    pub fn plan(&self, host: &str) -> Result<HostPlan, PlanError> {
        let me = self.host(host).ok_or_else(|| PlanError::UnknownHost {
            host: crate::names::shown(host),
            known: self.hosts.iter().map(|h| h.name.clone()).collect(),
        })?;
        Ok(plan_host(self, me))
    }

    /// The plans of every host, in inventory order.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// assert_eq!(fleet.plans().len(), 2);
    /// ```
    pub fn plans(&self) -> Vec<HostPlan> {
        self.hosts.iter().map(|h| plan_host(self, h)).collect()
    }
}

fn plan_host(fleet: &Fleet, me: &Host) -> HostPlan {
    let per_peer = fleet.mode == Mode::PerPeer;
    let evpn = fleet.mode == Mode::Evpn;
    let loop_prevention = match (fleet.mode, fleet.loop_prevention) {
        (Mode::Flood | Mode::Evpn, _) => LoopPreventionPlan::ByConstruction,
        (Mode::PerPeer, LoopPrevention::Isolation) => LoopPreventionPlan::Isolation,
        (Mode::PerPeer, LoopPrevention::Ebtables) => LoopPreventionPlan::Ebtables,
    };

    let mut peer_seen = vec![false; fleet.hosts.len()];
    let mut networks = Vec::with_capacity(me.networks.len());
    for &ni in &me.networks {
        let net = &fleet.networks[ni];
        let others = net
            .members
            .iter()
            .map(|&hi| &fleet.hosts[hi])
            .filter(|h| h.name != me.name);
        let device = |vni: u32, remote: Option<IpAddr>, peer: Option<&str>| Vxlan {
            name: vxlan_device(vni),
            network: net.name.clone(),
            peer: peer.map(str::to_string),
            vni,
            local: tunnel_address(me),
            remote,
            port: fleet.port,
            // Inside WireGuard the route to the inner prefix picks the device.
            underlay_device: me.device.clone().filter(|_| fleet.wireguard.is_none()),
            // Flood mode learns which peer owns a MAC from received frames, so unicast goes
            // to one peer; without learning every frame would be replicated to all peers (the
            // all-zeros entries are the only match). A per-peer device has one remote anyway.
            // In evpn mode FRR installs the remote MACs: learning would race it.
            learning: !per_peer && !evpn,
            udp_checksum: true,
            mtu: net.mtu,
            bridge: Some(net.bridge.clone()),
            port_flags: PortFlags {
                isolated: loop_prevention == LoopPreventionPlan::Isolation,
                // EVPN's type-2 routes give the bridge remote MACs and IPs: it answers
                // ARP/ND itself, and learns nothing from the tunnel.
                neigh_suppress: evpn,
                learning: !evpn,
                // The rest as a new port has them: flooding on (the overlay's broadcast and
                // unknown unicast go through the tunnel), no hairpin, no proxy ARP.
                ..PortFlags::KERNEL_DEFAULT
            },
            ipv6: Ipv6Conf::HARDENED,
            up: true,
            alias: owner_alias(&net.name, peer),
        };
        let mut vxlans = Vec::new();
        let mut fdb = Vec::new();
        if per_peer {
            for peer in others {
                // Validation guarantees the range fits; the fallback keeps this total.
                let vni = vni::link_vni(net.vni, me.id, peer.id).unwrap_or(vni::MAX_VNI);
                vxlans.push(device(vni, Some(tunnel_address(peer)), Some(&peer.name)));
            }
        } else if evpn {
            // FRR installs the flood list from type-3 routes.
            vxlans.push(device(net.vni, None, None));
        } else {
            let vx = device(net.vni, None, None);
            for peer in others {
                fdb.push(FdbEntry {
                    device: vx.name.clone(),
                    mac: MacAddr::ZERO,
                    destination: tunnel_address(peer),
                    peer: Some(peer.name.clone()),
                    vni: None,
                    port: None,
                    via: None,
                });
            }
            vxlans.push(vx);
        }
        for &hi in &net.members {
            peer_seen[hi] = true;
        }
        networks.push(NetworkPlan {
            name: net.name.clone(),
            vni: net.vni,
            mtu: net.mtu,
            max_mtu: net.max_mtu,
            bridge: Bridge {
                name: net.bridge.clone(),
                network: net.name.clone(),
                mtu: net.mtu,
                up: true,
                alias: owner_alias(&net.name, None),
                arp_accept: evpn,
                ipv6: Ipv6Conf::HARDENED,
            },
            vxlans,
            fdb,
        });
    }

    let peers: Vec<Peer> = fleet
        .hosts
        .iter()
        .zip(&peer_seen)
        .filter(|(h, seen)| **seen && h.name != me.name)
        .map(|(h, _)| Peer {
            name: h.name.clone(),
            id: h.id,
            address: h.address,
        })
        .collect();

    let wireguard = wireguard_plan(fleet, me, &peers);
    let evpn_plan = evpn_plan(fleet, me, &networks);
    let firewall = fleet.firewall.then(|| {
        // In evpn mode the whole underlay prefix is admitted, so a new host needs no change
        // on the others.
        let evpn_filter = fleet.evpn.as_ref().map(|e| EvpnFilter {
            prefix: e.underlay_prefix,
            bgp_port: crate::evpn::BGP_PORT,
        });
        let mut addrs: Vec<IpAddr> = match evpn_filter {
            Some(_) => Vec::new(),
            None => peers.iter().map(|p| p.address).collect(),
        };
        let (port, filter) = match (&fleet.wireguard, &wireguard) {
            (Some(settings), Some(wg)) => {
                // A peer behind NAT sends from its endpoint's address, not its own.
                addrs.extend(wg.peers.iter().map(|p| p.endpoint.ip()));
                let filter = WireguardFilter {
                    interface: settings.interface.clone(),
                    vxlan_port: fleet.port,
                };
                (settings.port, Some(filter))
            }
            _ => (fleet.port, None),
        };
        addrs.sort_unstable();
        addrs.dedup();
        Firewall {
            table: NFT_TABLE.to_string(),
            family: fleet.family,
            port,
            peers: addrs,
            wireguard: filter,
            evpn: evpn_filter,
        }
    });

    let loop_rules = (loop_prevention == LoopPreventionPlan::Ebtables).then(|| LoopRules {
        chain: EBTABLES_CHAIN.to_string(),
        rules: vec![LoopRule::DropBetweenMeshPorts],
    });

    HostPlan {
        schema: PLAN_SCHEMA,
        host: me.name.clone(),
        host_id: me.id,
        address: me.address,
        family: fleet.family,
        underlay_device: me.device.clone(),
        underlay_mtu: me.underlay_mtu,
        overhead: fleet.encapsulation().overhead(),
        encryption: fleet.encryption(),
        wireguard,
        mode: fleet.mode,
        port: fleet.port,
        loop_prevention,
        loop_rules,
        firewall,
        evpn: evpn_plan,
        peers,
        networks,
    }
}

/// The BGP EVPN control plane of `me`, in evpn mode: a client peers with every route
/// reflector; a reflector with the other reflectors, and accepts every other host through
/// its listen range.
fn evpn_plan(fleet: &Fleet, me: &Host, networks: &[NetworkPlan]) -> Option<EvpnPlan> {
    let settings = fleet.evpn.as_ref()?;
    let mut sessions: Vec<BgpSession> = fleet
        .hosts
        .iter()
        .filter(|h| h.route_reflector && h.name != me.name)
        .map(|h| BgpSession {
            address: h.address,
            peer: h.name.clone(),
        })
        .collect();
    // FRR lists neighbours in address order: the rendered block compares line by line.
    sessions.sort();
    let mut vnis: Vec<u32> = networks.iter().map(|n| n.vni).collect();
    vnis.sort_unstable();
    Some(EvpnPlan {
        asn: settings.asn,
        router_id: crate::evpn::router_id(me.address, me.id),
        route_reflector: me.route_reflector,
        sessions,
        listen_range: me.route_reflector.then_some(settings.underlay_prefix),
        vnis,
        timers: settings.timers,
    })
}

/// The address `host`'s tunnels start and end at: its inner (WireGuard) address with
/// encryption, its underlay address without.
fn tunnel_address(host: &Host) -> IpAddr {
    host.wireguard.as_ref().map_or(host.address, |w| w.address)
}

/// The WireGuard interface of `me`, whose peers are the hosts it has tunnels to.
fn wireguard_plan(fleet: &Fleet, me: &Host, peers: &[Peer]) -> Option<WireguardPlan> {
    let settings = fleet.wireguard.as_ref()?;
    let mine = me.wireguard.as_ref()?;
    let peers = peers
        .iter()
        .filter_map(|p| fleet.host(&p.name))
        .filter_map(|h| {
            let w = h.wireguard.as_ref()?;
            Some(WireguardPeer {
                name: h.name.clone(),
                public_key: w.public_key,
                endpoint: w.endpoint,
                allowed_ips: vec![Prefix::single(w.address)],
                persistent_keepalive: w.persistent_keepalive,
                preshared_key: false,
            })
        })
        .collect();
    Some(WireguardPlan {
        interface: settings.interface.clone(),
        public_key: mine.public_key,
        private_key_file: Some(PathBuf::from(wireguard::DEFAULT_KEY_FILE)),
        address: mine.address,
        prefix_len: settings.prefix.prefix_len(),
        listen_port: settings.port,
        fwmark: 0,
        mtu: fleet
            .encapsulation()
            .wireguard_mtu(me.underlay_mtu)
            .unwrap_or(me.underlay_mtu),
        up: true,
        alias: wireguard::owner_alias(),
        peers,
    })
}
