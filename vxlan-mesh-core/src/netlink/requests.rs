//! One function per kernel operation, each building the rtnetlink request for it.
//!
//! Devices are addressed by name where the kernel allows it (`RTM_SETLINK` and
//! `RTM_NEWLINK` look a device up by `IFLA_IFNAME` when the index is 0), so requests for a
//! device created earlier in the same batch need no index.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::socket::Request;
use crate::plan::{FdbEntry, UdpChecksum, Vxlan};
use crate::port_flags::PortFlag;

fn named(name: &str) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    m
}

/// `ip link add NAME type wireguard` (down).
pub(crate) fn create_wireguard(name: &str) -> Request {
    let mut m = named(name);
    m.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Wireguard)]));
    Request::new(
        RouteNetlinkMessage::NewLink(m),
        NLM_F_CREATE | NLM_F_EXCL,
        "create wireguard",
        name,
    )
}

/// `ip address add|del ADDRESS/LEN dev NAME` (the interface's index given).
pub(crate) fn address(name: &str, index: u32, address: IpAddr, prefix_len: u8, add: bool) -> Request {
    let mut m = AddressMessage::default();
    m.header.family = match address {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    m.header.prefix_len = prefix_len;
    m.header.index = index;
    // IPv4 wants the local address in both (as `ip address add` sends it on a plain link).
    m.attributes.push(AddressAttribute::Local(address));
    m.attributes.push(AddressAttribute::Address(address));
    if add {
        Request::new(
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL,
            "add address to",
            name,
        )
    } else {
        Request::new(RouteNetlinkMessage::DelAddress(m), 0, "delete address from", name)
    }
}

/// `ip link add NAME type bridge` (down).
pub(crate) fn create_bridge(name: &str) -> Request {
    let mut m = named(name);
    m.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
    Request::new(
        RouteNetlinkMessage::NewLink(m),
        NLM_F_CREATE | NLM_F_EXCL,
        "create bridge",
        name,
    )
}

/// The attributes of a VXLAN device that cannot change after creation.
fn vxlan_data(vx: &Vxlan, underlay_index: Option<u32>) -> Vec<InfoVxlan> {
    let mut data = vec![
        InfoVxlan::Id(vx.vni),
        InfoVxlan::Port(vx.port),
        InfoVxlan::Learning(vx.learning),
    ];
    match vx.local {
        IpAddr::V4(a) => data.push(InfoVxlan::Local(a)),
        IpAddr::V6(a) => data.push(InfoVxlan::Local6(a)),
    }
    match vx.udp_checksum_mode() {
        UdpChecksum::V4 { checksum } => data.push(InfoVxlan::UDPCsum(checksum)),
        UdpChecksum::V6 { zero_tx, zero_rx } => {
            data.push(InfoVxlan::UDPZeroCsumTX(zero_tx));
            data.push(InfoVxlan::UDPZeroCsumRX(zero_rx));
        }
    }
    // A unicast remote travels in the group attribute, as with `ip link ... remote`.
    match vx.remote {
        Some(IpAddr::V4(a)) => data.push(InfoVxlan::Group(a)),
        Some(IpAddr::V6(a)) => data.push(InfoVxlan::Group6(a)),
        None => {}
    }
    if let Some(index) = underlay_index {
        data.push(InfoVxlan::Link(index));
    }
    data
}

/// `ip link add NAME type vxlan ...` (down; alias, MTU and bridge are set next, in the same
/// datagram).
pub(crate) fn create_vxlan(vx: &Vxlan, underlay_index: Option<u32>) -> Request {
    let mut m = named(&vx.name);
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Vxlan),
        LinkInfo::Data(InfoData::Vxlan(vxlan_data(vx, underlay_index))),
    ]));
    Request::new(
        RouteNetlinkMessage::NewLink(m),
        NLM_F_CREATE | NLM_F_EXCL,
        "create vxlan",
        &vx.name,
    )
}

/// `ip link set dev NAME alias ALIAS`: the ownership mark.
pub(crate) fn set_alias(name: &str, alias: &str) -> Request {
    let mut m = named(name);
    m.attributes.push(LinkAttribute::IfAlias(alias.to_string()));
    Request::new(RouteNetlinkMessage::SetLink(m), 0, "set alias of", name)
}

/// `ip link set dev NAME mtu MTU` (on a bridge this also pins the MTU: the bridge no
/// longer follows its smallest port).
pub(crate) fn set_mtu(name: &str, mtu: u32) -> Request {
    let mut m = named(name);
    m.attributes.push(LinkAttribute::Mtu(mtu));
    Request::new(RouteNetlinkMessage::SetLink(m), 0, "set mtu of", name)
}

/// `ip link set dev NAME master BRIDGE` (or `nomaster` with index 0).
pub(crate) fn set_master(name: &str, bridge_index: u32) -> Request {
    let mut m = named(name);
    m.attributes.push(LinkAttribute::Controller(bridge_index));
    Request::new(RouteNetlinkMessage::SetLink(m), 0, "set bridge of", name)
}

/// `ip link set dev NAME up|down`.
pub(crate) fn set_up(name: &str, up: bool) -> Request {
    let mut m = named(name);
    m.header.change_mask = LinkFlags::Up;
    if up {
        m.header.flags = LinkFlags::Up;
    }
    Request::new(
        RouteNetlinkMessage::SetLink(m),
        0,
        if up { "set up" } else { "set down" },
        name,
    )
}

/// `ip link set dev NAME type bridge_slave FLAG on|off ...`: port data travels in
/// RTM_NEWLINK.
pub(crate) fn set_port_flags(name: &str, flags: &[(PortFlag, bool)]) -> Request {
    let mut m = named(name);
    let data = flags
        .iter()
        .map(|&(flag, on)| match flag {
            PortFlag::Isolated => InfoBridgePort::Isolated(on),
            PortFlag::NeighSuppress => InfoBridgePort::NeighSupress(on),
            PortFlag::Learning => InfoBridgePort::Learning(on),
            PortFlag::Hairpin => InfoBridgePort::HairpinMode(on),
            PortFlag::UnicastFlood => InfoBridgePort::UnicastFlood(on),
            PortFlag::MulticastFlood => InfoBridgePort::MulticastFlood(on),
            PortFlag::BroadcastFlood => InfoBridgePort::BroadcastFlood(on),
            PortFlag::ProxyArp => InfoBridgePort::ProxyARP(on),
        })
        .collect();
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::PortKind(InfoPortKind::Bridge),
        LinkInfo::PortData(InfoPortData::BridgePort(data)),
    ]));
    Request::new(RouteNetlinkMessage::NewLink(m), 0, "set port flags of", name)
}

/// `ip link del dev NAME`.
pub(crate) fn delete_link(name: &str, index: u32, what: &'static str) -> Request {
    let mut m = LinkMessage::default();
    m.header.index = index;
    Request::new(RouteNetlinkMessage::DelLink(m), 0, what, name)
}

/// The entry's message: its VNI, port and underlay interface only where it has its own
/// (the kernel then uses the device's, as for `bridge fdb` without them).
fn fdb_message(e: &FdbEntry, device_index: u32, via: Option<u32>) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Bridge;
    m.header.ifindex = device_index;
    m.header.state = NeighbourState::Permanent;
    m.header.flags = NeighbourFlags::Own;
    m.attributes
        .push(NeighbourAttribute::LinkLayerAddress(e.mac.0.to_vec()));
    m.attributes.push(NeighbourAttribute::Destination(match e.destination {
        IpAddr::V4(a) => NeighbourAddress::Inet(a),
        IpAddr::V6(a) => NeighbourAddress::Inet6(a),
    }));
    m.attributes.extend(e.port.map(NeighbourAttribute::Port));
    m.attributes.extend(e.vni.map(NeighbourAttribute::Vni));
    m.attributes.extend(via.map(NeighbourAttribute::IfIndex));
    m
}

/// `bridge fdb append MAC dev DEVICE dst DESTINATION` (self, permanent).
pub(crate) fn add_fdb(e: &FdbEntry, device_index: u32, via: Option<u32>) -> Request {
    Request::new(
        RouteNetlinkMessage::NewNeighbour(fdb_message(e, device_index, via)),
        NLM_F_CREATE | NLM_F_APPEND,
        "add fdb entry to",
        &format!("{} dst {}", e.device, e.destination),
    )
}

/// `bridge fdb del MAC dev DEVICE dst DESTINATION [port P] [vni N] [via DEV]`.
pub(crate) fn delete_fdb(e: &FdbEntry, device_index: u32, via: Option<u32>) -> Request {
    Request::new(
        RouteNetlinkMessage::DelNeighbour(fdb_message(e, device_index, via)),
        0,
        "delete fdb entry of",
        &format!("{} dst {}", e.device, e.destination),
    )
}
