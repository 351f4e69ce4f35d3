//! Reading the kernel's links and FDB into the [`Observed`] state the diff compares with a
//! plan.

use std::collections::HashMap;
use std::net::IpAddr;

use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{
    AfSpecInet, AfSpecInet6, AfSpecUnspec, InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoVxlan, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage, Prop, Stats64,
};
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage};

use netlink_packet_route::AddressFamily;

use super::wireguard::OwnedLink;
use crate::diff::{Observed, ObservedVxlan};
use crate::ipv6::Ipv6Conf;
use crate::metrics::{LinkObservation, LinkStats, PacketCounter};
use crate::names::{is_owned_alias, OWNER_MARK};
use crate::plan::{Bridge, FdbEntry, MacAddr, Vxlan};
use crate::port_flags::PortFlags;

/// What one link dump tells about the namespace.
#[derive(Debug, Default)]
pub(crate) struct Links {
    /// Interface name → index, for every interface.
    pub(crate) index: HashMap<String, u32>,
    /// Owned bridges and VXLAN devices, and foreign names.
    pub(crate) state: Observed,
    /// Interface index → MTU, for every interface.
    pub(crate) mtu: HashMap<u32, u32>,
    /// Bridge index → the names of its ports.
    pub(crate) ports: HashMap<u32, Vec<String>>,
    /// VXLAN devices vxlan-mesh does not own: the kernel refuses a second device with the
    /// same VNI and port, whoever made the first.
    pub(crate) foreign_vxlans: Vec<ForeignVxlan>,
    /// Owned bridges and VXLAN devices by name: carrier and counters, for metrics.
    pub(crate) owned: std::collections::BTreeMap<String, LinkObservation>,
    /// What the owned firewall table's drop rule dropped, read with the table.
    pub(crate) firewall_drops: Option<PacketCounter>,
    /// What the owned firewall table's output chain dropped (encrypted meshes).
    pub(crate) firewall_blocked: Option<PacketCounter>,
    /// The owned WireGuard interface (its peers and address are read apart).
    pub(crate) wireguard: Option<OwnedLink>,
    /// Its peers' sessions, from the same `wg show dump` as its peers.
    pub(crate) wireguard_sessions: Vec<crate::wireguard::PeerSession>,
    /// WireGuard links and TUN devices with no alias at all (foreign too): one named like
    /// the plan's interface may be one an apply created and was killed before it marked
    /// ([`super::wireguard::adopt_half_made`]).
    pub(crate) unmarked_wireguard: Vec<OwnedLink>,
}

/// What decides whether the kernel lets another VXLAN device share a VNI with this one
/// (`vxlan_vni_in_use`: VNI, destination port, address family and receive flags; not the
/// local or remote address, nor the underlay device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForeignVxlan {
    /// Interface name.
    pub(crate) name: String,
    /// VXLAN network identifier (`None`: not reported).
    pub(crate) vni: Option<u32>,
    /// UDP destination port (`None`: not reported).
    pub(crate) port: Option<u16>,
    /// An IPv6 device (local or remote address IPv6).
    pub(crate) ipv6: bool,
    /// Accepts IPv6 packets without UDP checksum (`udp6zerocsumrx`).
    pub(crate) zero_csum6_rx: bool,
    /// Any other receive flag (gbp, gpe, remcsumrx, external, vnifilter): such a device
    /// shares its VNI with plain devices like ours.
    pub(crate) special: bool,
}

impl ForeignVxlan {
    fn new(name: &str, data: &[InfoVxlan]) -> Self {
        let mut f = ForeignVxlan {
            name: name.to_string(),
            vni: None,
            port: None,
            ipv6: false,
            zero_csum6_rx: false,
            special: false,
        };
        for d in data {
            match d {
                InfoVxlan::Id(v) => f.vni = Some(*v),
                InfoVxlan::Port(p) => f.port = Some(*p),
                InfoVxlan::Local6(a) if !a.is_unspecified() => f.ipv6 = true,
                InfoVxlan::Group6(a) if !a.is_unspecified() => f.ipv6 = true,
                InfoVxlan::UDPZeroCsumRX(z) => f.zero_csum6_rx = *z,
                InfoVxlan::Gbp | InfoVxlan::Gpe | InfoVxlan::RemCsumNoPartial => f.special = true,
                InfoVxlan::RemCsumRX(on) | InfoVxlan::CollectMetadata(on) | InfoVxlan::Vnifilter(on) => {
                    f.special |= *on;
                }
                _ => {}
            }
        }
        f
    }

    /// Whether the kernel refuses to create `ours` beside this device.
    pub(crate) fn clashes_with(&self, ours: &Vxlan) -> bool {
        let ipv6 = ours.local.is_ipv6() || ours.remote.is_some_and(|r| r.is_ipv6());
        // Our devices set `udp6zerocsumrx` exactly when an IPv6 device has no checksums.
        let zero_csum6_rx = ours.local.is_ipv6() && !ours.udp_checksum;
        !self.special
            && self.vni == Some(ours.vni)
            && self.port == Some(ours.port)
            && self.ipv6 == ipv6
            && self.zero_csum6_rx == zero_csum6_rx
    }
}

/// `vxlan-mesh:<network>[:<peer>]` → (network, peer). Names cannot contain `:`.
fn parse_alias(alias: &str) -> (String, Option<String>) {
    let rest = alias.strip_prefix(OWNER_MARK).unwrap_or(alias);
    match rest.split_once(':') {
        Some((net, peer)) => (net.to_string(), Some(peer.to_string())),
        None => (rest.to_string(), None),
    }
}

struct Raw<'a> {
    name: Option<&'a str>,
    altnames: Vec<&'a str>,
    alias: Option<&'a str>,
    mtu: u32,
    controller: Option<u32>,
    kind: Option<&'a InfoKind>,
    vxlan: Option<&'a [InfoVxlan]>,
    port_flags: PortFlags,
    arp_accept: bool,
    ipv6: Ipv6Conf,
    stats: Option<&'a Stats64>,
}

fn raw(link: &LinkMessage) -> Raw<'_> {
    let mut r = Raw {
        name: None,
        altnames: Vec::new(),
        alias: None,
        mtu: 0,
        controller: None,
        kind: None,
        vxlan: None,
        // What a device that is no bridge port is read as.
        port_flags: PortFlags::KERNEL_DEFAULT,
        arp_accept: false,
        // An interface without IPv6 (the kernel's `ipv6.disable=1`) has nothing to harden.
        ipv6: Ipv6Conf::HARDENED,
        stats: None,
    };
    for attr in &link.attributes {
        match attr {
            LinkAttribute::IfName(n) => r.name = Some(n),
            LinkAttribute::PropList(props) => {
                r.altnames.extend(props.iter().filter_map(|p| match p {
                    Prop::AltIfName(n) => Some(n.as_str()),
                    _ => None,
                }));
            }
            LinkAttribute::IfAlias(a) => r.alias = Some(a),
            LinkAttribute::Mtu(m) => r.mtu = *m,
            LinkAttribute::Controller(c) => r.controller = Some(*c),
            LinkAttribute::Stats64(s) => r.stats = Some(s),
            // The kernel reports every interface's IPv4 sysctls (`net.ipv4.conf.<if>.*`)
            // in the dump.
            LinkAttribute::AfSpecUnspec(specs) => {
                for spec in specs {
                    match spec {
                        AfSpecUnspec::Inet(inet) => {
                            for i in inet {
                                if let AfSpecInet::DevConf(conf) = i {
                                    r.arp_accept = conf.arp_accept == 1;
                                }
                            }
                        }
                        // And its IPv6 ones (`net.ipv6.conf.<if>.*`).
                        AfSpecUnspec::Inet6(inet6) => {
                            for i in inet6 {
                                if let AfSpecInet6::DevConf(conf) = i {
                                    r.ipv6.accept_ra = conf.accept_ra != 0;
                                    r.ipv6.autoconf = conf.autoconf != 0;
                                    // IN6_ADDR_GEN_MODE_NONE.
                                    r.ipv6.link_local = conf.addr_gen_mode != 1;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(k) => r.kind = Some(k),
                        LinkInfo::Data(InfoData::Vxlan(d)) => r.vxlan = Some(d),
                        LinkInfo::PortData(InfoPortData::BridgePort(p)) => {
                            let f = &mut r.port_flags;
                            for flag in p {
                                match flag {
                                    InfoBridgePort::Isolated(b) => f.isolated = *b,
                                    InfoBridgePort::NeighSupress(b) => f.neigh_suppress = *b,
                                    InfoBridgePort::Learning(b) => f.learning = *b,
                                    InfoBridgePort::HairpinMode(b) => f.hairpin = *b,
                                    InfoBridgePort::UnicastFlood(b) => f.unicast_flood = *b,
                                    InfoBridgePort::MulticastFlood(b) => f.multicast_flood = *b,
                                    InfoBridgePort::BroadcastFlood(b) => f.broadcast_flood = *b,
                                    InfoBridgePort::ProxyARP(b) => f.proxy_arp = *b,
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    r
}

/// Sorts a dump into owned objects and foreign names.
pub(crate) fn links(dump: &[LinkMessage]) -> Links {
    let names: HashMap<u32, String> = dump
        .iter()
        .filter_map(|l| raw(l).name.map(|n| (l.header.index, n.to_string())))
        .collect();
    let mut out = Links {
        index: names.iter().map(|(i, n)| (n.clone(), *i)).collect(),
        ..Links::default()
    };
    for link in dump {
        let r = raw(link);
        let Some(name) = r.name else { continue };
        out.mtu.insert(link.header.index, r.mtu);
        if let Some(c) = r.controller {
            out.ports.entry(c).or_default().push(name.to_string());
        }
        let up = link.header.flags.contains(LinkFlags::Up);
        let observation = LinkObservation {
            up: up && link.header.flags.contains(LinkFlags::LowerUp),
            stats: r.stats.map(link_stats),
        };
        let bridge = r.controller.and_then(|c| names.get(&c).cloned());
        match (r.alias, r.kind) {
            // A kernel WireGuard link, or wireguard-go's TUN device.
            (Some(alias), Some(InfoKind::Wireguard | InfoKind::Tun)) if alias == crate::wireguard::owner_alias() => {
                out.wireguard = Some(OwnedLink {
                    name: name.to_string(),
                    index: link.header.index,
                    mtu: r.mtu,
                    up,
                    alias: alias.to_string(),
                });
            }
            (Some(alias), Some(InfoKind::Bridge)) if is_owned_alias(Some(alias)) => {
                let (network, _) = parse_alias(alias);
                out.owned.insert(name.to_string(), observation);
                out.state.bridges.push(Bridge {
                    name: name.to_string(),
                    network,
                    mtu: r.mtu,
                    up,
                    alias: alias.to_string(),
                    arp_accept: r.arp_accept,
                    ipv6: r.ipv6,
                });
            }
            (Some(alias), Some(InfoKind::Vxlan)) if is_owned_alias(Some(alias)) => {
                let (network, peer) = parse_alias(alias);
                out.owned.insert(name.to_string(), observation);
                // What the kernel does not report stays `None`: never a value made up here.
                let mut vx = ObservedVxlan {
                    name: name.to_string(),
                    network,
                    peer,
                    vni: None,
                    local: None,
                    remote: None,
                    port: None,
                    underlay_device: None,
                    learning: None,
                    udp_checksum: None,
                    mtu: r.mtu,
                    bridge,
                    port_flags: r.port_flags,
                    ipv6: r.ipv6,
                    up,
                    alias: alias.to_string(),
                };
                let mut v4_csum = None;
                let mut v6_zero_csum = None;
                for d in r.vxlan.unwrap_or_default() {
                    match d {
                        InfoVxlan::Id(v) => vx.vni = Some(*v),
                        // The kernel leaves out an unspecified local address: none is set.
                        InfoVxlan::Local(a) if !a.is_unspecified() => vx.local = Some(IpAddr::V4(*a)),
                        InfoVxlan::Local6(a) if !a.is_unspecified() => vx.local = Some(IpAddr::V6(*a)),
                        InfoVxlan::Group(a) if !a.is_unspecified() => vx.remote = Some(IpAddr::V4(*a)),
                        InfoVxlan::Group6(a) if !a.is_unspecified() => vx.remote = Some(IpAddr::V6(*a)),
                        InfoVxlan::Port(p) => vx.port = Some(*p),
                        InfoVxlan::Link(i) => vx.underlay_device = names.get(i).cloned(),
                        InfoVxlan::Learning(l) => vx.learning = Some(*l),
                        InfoVxlan::UDPCsum(c) => v4_csum = Some(*c),
                        InfoVxlan::UDPZeroCsumTX(z) => v6_zero_csum = Some(*z),
                        _ => {}
                    }
                }
                // Which checksum setting applies depends on the device's family, which its
                // addresses tell; with neither, the kernel makes an IPv4 device.
                vx.udp_checksum = match vx.local.or(vx.remote) {
                    Some(IpAddr::V6(_)) => v6_zero_csum.map(|zero| !zero),
                    _ => v4_csum,
                };
                out.state.vxlans.push(vx);
            }
            // Everything else, including an owned-looking alias on another kind of device,
            // is foreign: never modified, never deleted.
            (alias, kind) => {
                if alias.is_none_or(str::is_empty) && matches!(kind, Some(InfoKind::Wireguard | InfoKind::Tun)) {
                    out.unmarked_wireguard.push(OwnedLink {
                        name: name.to_string(),
                        index: link.header.index,
                        mtu: r.mtu,
                        up,
                        alias: String::new(),
                    });
                }
                if kind == Some(&InfoKind::Vxlan) {
                    out.foreign_vxlans
                        .push(ForeignVxlan::new(name, r.vxlan.unwrap_or_default()));
                }
                out.state.foreign.push(name.to_string());
                // The kernel refuses a new interface named like another's alternative
                // name just as one named like its name.
                out.state.foreign.extend(r.altnames.iter().map(|n| n.to_string()));
            }
        }
    }
    out.state.bridges.sort();
    out.state.vxlans.sort();
    out.state.foreign.sort();
    out
}

/// Marks the owned bridges and VXLAN devices that hold IPv6 addresses (the plan puts none
/// on them).
pub(crate) fn ipv6_addresses(dump: &[AddressMessage], links: &Links, state: &mut Observed) {
    let holders: std::collections::HashSet<u32> = dump
        .iter()
        .filter(|a| a.header.family == AddressFamily::Inet6)
        .map(|a| a.header.index)
        .collect();
    let holds = |name: &str| links.index.get(name).is_some_and(|i| holders.contains(i));
    for b in &mut state.bridges {
        b.ipv6.addresses = holds(&b.name);
    }
    for v in &mut state.vxlans {
        v.ipv6.addresses = holds(&v.name);
    }
}

fn link_stats(s: &Stats64) -> LinkStats {
    LinkStats {
        rx_bytes: s.rx_bytes,
        tx_bytes: s.tx_bytes,
        rx_packets: s.rx_packets,
        tx_packets: s.tx_packets,
        rx_errors: s.rx_errors,
        tx_errors: s.tx_errors,
        rx_dropped: s.rx_dropped,
        tx_dropped: s.tx_dropped,
    }
}

/// Neighbour states of configured entries: VXLAN reports `permanent` as both bits.
const NUD_NOARP: u16 = 0x40;
const NUD_PERMANENT: u16 = 0x80;

/// The FDB entries of owned VXLAN devices, as `observe` reads them: every entry of the
/// devices themselves (`self`), with its destination, VNI, port and underlay interface. In
/// flood and per-peer modes each is vxlan-mesh's to judge; in evpn mode the diff leaves
/// them to FRR.
#[derive(Debug, Default)]
pub(crate) struct Fdb {
    /// Every all-zeros (flooding) entry, and every static or permanent entry someone
    /// configured (`bridge fdb add MAC dev DEV dst ... self`): one the plan does not contain
    /// diverts a MAC's frames, so it is drift, removed by apply.
    pub(crate) configured: Vec<FdbEntry>,
    /// Entries the device learned from received frames, and entries another tool installed
    /// as learned (`extern_learn`): the diff decides which destinations are still peers.
    pub(crate) learned: Vec<FdbEntry>,
}

pub(crate) fn fdb(dump: &[NeighbourMessage], links: &Links) -> Fdb {
    let owned: HashMap<u32, &str> = links
        .state
        .vxlans
        .iter()
        .filter_map(|v| links.index.get(&v.name).map(|i| (*i, v.name.as_str())))
        .collect();
    let names: HashMap<u32, &str> = links.index.iter().map(|(n, i)| (*i, n.as_str())).collect();
    let mut out = Fdb::default();
    for n in dump {
        let Some(device) = owned.get(&n.header.ifindex) else {
            continue;
        };
        let mut mac = None;
        let mut destination = None;
        let (mut vni, mut port, mut via) = (None, None, None);
        for attr in &n.attributes {
            match attr {
                NeighbourAttribute::LinkLayerAddress(bytes) => {
                    mac = <[u8; 6]>::try_from(bytes.as_slice()).ok().map(MacAddr)
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => destination = Some(IpAddr::V4(*a)),
                NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => destination = Some(IpAddr::V6(*a)),
                // In the bridge family the address comes undecoded: its length tells.
                NeighbourAttribute::Destination(NeighbourAddress::Other(bytes)) => {
                    destination = match bytes.len() {
                        4 => <[u8; 4]>::try_from(bytes.as_slice()).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(bytes.as_slice()).ok().map(IpAddr::from),
                        _ => None,
                    }
                }
                // The kernel reports these only where they differ from the device's own.
                NeighbourAttribute::Vni(v) => vni = Some(*v),
                NeighbourAttribute::Port(p) => port = Some(*p),
                // An index no longer in the link dump keeps a name, so that the entry is
                // still told apart (and its deletion names the index).
                NeighbourAttribute::IfIndex(i) => {
                    via = Some(names.get(i).map_or_else(|| format!("if{i}"), |n| (*n).to_string()))
                }
                _ => {}
            }
        }
        // Entries of the bridge the device is a port of (`master`) are the bridge's.
        if !n.header.flags.contains(NeighbourFlags::Own) {
            continue;
        }
        let external = n.header.flags.contains(NeighbourFlags::ExtLearned);
        let configured = !external && u16::from(n.header.state) & (NUD_PERMANENT | NUD_NOARP) != 0;
        if let (Some(mac), Some(destination)) = (mac, destination) {
            let entry = FdbEntry {
                device: (*device).to_string(),
                mac,
                destination,
                peer: None,
                vni,
                port,
                via,
            };
            if mac == MacAddr::ZERO || configured {
                out.configured.push(entry);
            } else {
                out.learned.push(entry);
            }
        }
    }
    for list in [&mut out.configured, &mut out.learned] {
        list.sort();
        list.dedup();
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An owned VXLAN device of `flags` with the kernel's counters.
    fn owned_vxlan(flags: LinkFlags) -> LinkMessage {
        let mut stats = Stats64::default();
        stats.rx_bytes = 10;
        stats.tx_bytes = 20;
        stats.rx_packets = 1;
        stats.tx_packets = 2;
        stats.rx_errors = 3;
        stats.tx_errors = 4;
        stats.rx_dropped = 5;
        stats.tx_dropped = 6;
        let mut link = LinkMessage::default();
        link.header.index = 7;
        link.header.flags = flags;
        link.attributes = vec![
            LinkAttribute::IfName("vxm100".into()),
            LinkAttribute::IfAlias("vxlan-mesh:lan".into()),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Vxlan)]),
            LinkAttribute::Stats64(stats),
        ];
        link
    }

    #[test]
    fn owned_links_carry_their_counters_and_are_up_only_with_carrier() {
        let running = links(&[owned_vxlan(LinkFlags::Up | LinkFlags::LowerUp)]);
        let expected = LinkObservation {
            up: true,
            stats: Some(LinkStats {
                rx_bytes: 10,
                tx_bytes: 20,
                rx_packets: 1,
                tx_packets: 2,
                rx_errors: 3,
                tx_errors: 4,
                rx_dropped: 5,
                tx_dropped: 6,
            }),
        };
        assert_eq!(running.owned.get("vxm100"), Some(&expected));
        // Administratively up without carrier (IFF_LOWER_UP) is not up.
        let no_carrier = links(&[owned_vxlan(LinkFlags::Up)]);
        assert_eq!(no_carrier.owned.get("vxm100").map(|l| l.up), Some(false));
    }

    #[test]
    fn attributes_the_kernel_leaves_out_are_none_and_drift_named_unset() {
        let plan = crate::testing::two_hosts().plan("a").unwrap();
        let want = plan.vxlans().next().unwrap().clone();
        let mut link = LinkMessage::default();
        link.header.index = 7;
        link.header.flags = LinkFlags::Up | LinkFlags::LowerUp;
        // As `ip link add NAME type vxlan id VNI` makes it: no local address (the kernel
        // then reports none), and here no port either.
        link.attributes = vec![
            LinkAttribute::IfName(want.name.clone()),
            LinkAttribute::IfAlias(want.alias.clone()),
            LinkAttribute::Mtu(want.mtu),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Vxlan),
                LinkInfo::Data(InfoData::Vxlan(vec![
                    InfoVxlan::Id(want.vni),
                    InfoVxlan::Learning(want.learning),
                    InfoVxlan::UDPCsum(want.udp_checksum),
                ])),
            ]),
        ];
        let observed = links(&[link]).state;
        let have = &observed.vxlans[0];
        assert_eq!((have.vni, have.local, have.port), (Some(want.vni), None, None));

        let changes = crate::diff(&plan.state(), &observed).unwrap();
        let recreate = changes
            .iter()
            .find_map(|c| match c {
                crate::Change::RecreateVxlan { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(recreate, ["local unset", "port unset"]);
        let text: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert!(
            text.contains(&format!(
                "recreate vxlan {} (local unset, port unset: cannot change in place)",
                want.name
            )),
            "{text:?}"
        );
        // `status --format json` prints the changes: absent values are `null`, never made up.
        let json = serde_json::to_string(&changes).unwrap();
        assert!(!json.contains("0.0.0.0") && !json.contains("\"port\":0"), "{json}");
        assert!(
            json.contains("\"local\":null") && json.contains("\"port\":null"),
            "{json}"
        );
    }

    #[test]
    fn alias_parts() {
        assert_eq!(parse_alias("vxlan-mesh:lan"), ("lan".to_string(), None));
        assert_eq!(
            parse_alias("vxlan-mesh:lan:lxd2"),
            ("lan".to_string(), Some("lxd2".to_string()))
        );
    }
}
