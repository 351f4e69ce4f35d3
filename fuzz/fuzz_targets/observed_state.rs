//! What vxlan-mesh reads back from the host is input too: link and FDB dumps (anyone with
//! CAP_NET_ADMIN names interfaces and sets aliases; Linux allows any byte in a name but `/`,
//! `:` and whitespace, and any text in an alias) and the `nft -j` listing of the owned table.
//!
//! Arbitrary dumps go through our own conversion (`observe`: dump → `Observed`), the
//! `wg show dump` reader (→ `ObservedWireguard`) and our nft JSON reader, then into the diff
//! against a real plan (encrypted or not) and the `--dry-run` commands:
//!
//! - nothing panics;
//! - nothing is made up: a VXLAN device's local or remote address is never the unspecified
//!   one, and the observed WireGuard interface's JSON holds `0.0.0.0` or the all-zeros key
//!   only when the dump did;
//! - every `--dry-run` command line keeps observed names inside quotes (no shell
//!   metacharacter of a hostile interface name reaches the shell unquoted);
//! - no change's one-line description carries a control character;
//! - an nft listing that reads as a complete table reads as one whose port is real.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use vxlan_mesh_core::netlink::fuzzing::{firewall_from_nft_json, observed_state, observed_wireguard};
use vxlan_mesh_core::{argv, diff, Inventory, Table};

#[derive(Arbitrary, Debug)]
enum Kind {
    Bridge,
    Vxlan,
    Veth,
    Other(String),
}

#[derive(Arbitrary, Debug)]
struct FakeLink {
    index: u8,
    name: Option<String>,
    /// Prefixed with the ownership mark when `owned`.
    alias: Option<String>,
    owned: bool,
    kind: Option<Kind>,
    mtu: u32,
    up: bool,
    controller: Option<u8>,
    vni: Option<u32>,
    local: Option<[u8; 4]>,
    local6: Option<[u8; 16]>,
    group: Option<[u8; 4]>,
    group6: Option<[u8; 16]>,
    port: Option<u16>,
    link: Option<u8>,
    learning: Option<bool>,
    csum: Option<bool>,
    isolated: Option<bool>,
    hairpin: Option<bool>,
    proxy_arp: Option<bool>,
}

#[derive(Arbitrary, Debug)]
struct FakeNeighbour {
    ifindex: u8,
    mac: Option<Vec<u8>>,
    destination: Option<Vec<u8>>,
    flags: u8,
    state: u16,
    vni: Option<u32>,
    port: Option<u16>,
    via: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    links: Vec<FakeLink>,
    neighbours: Vec<FakeNeighbour>,
    /// Which example fleet's first host is the desired state.
    per_peer: bool,
    /// The example fleet encrypted with WireGuard.
    encrypted: bool,
    /// `wg show vxmwg0 dump` of the owned WireGuard interface (absent when not one).
    wg_dump: String,
    nft_json: String,
}

fn link_message(f: &FakeLink) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = u32::from(f.index);
    if f.up {
        m.header.flags = LinkFlags::Up;
    }
    let a = &mut m.attributes;
    if let Some(n) = &f.name {
        a.push(LinkAttribute::IfName(n.clone()));
    }
    if let Some(al) = &f.alias {
        let al = if f.owned {
            format!("vxlan-mesh:{al}")
        } else {
            al.clone()
        };
        a.push(LinkAttribute::IfAlias(al));
    }
    a.push(LinkAttribute::Mtu(f.mtu));
    if let Some(c) = f.controller {
        a.push(LinkAttribute::Controller(u32::from(c)));
    }
    let mut info = Vec::new();
    match &f.kind {
        Some(Kind::Bridge) => info.push(LinkInfo::Kind(InfoKind::Bridge)),
        Some(Kind::Vxlan) => {
            info.push(LinkInfo::Kind(InfoKind::Vxlan));
            let mut d = Vec::new();
            d.extend(f.vni.map(InfoVxlan::Id));
            d.extend(f.local.map(|b| InfoVxlan::Local(Ipv4Addr::from(b))));
            d.extend(f.local6.map(|b| InfoVxlan::Local6(Ipv6Addr::from(b))));
            d.extend(f.group.map(|b| InfoVxlan::Group(Ipv4Addr::from(b))));
            d.extend(f.group6.map(|b| InfoVxlan::Group6(Ipv6Addr::from(b))));
            d.extend(f.port.map(InfoVxlan::Port));
            d.extend(f.link.map(|l| InfoVxlan::Link(u32::from(l))));
            d.extend(f.learning.map(InfoVxlan::Learning));
            d.extend(f.csum.map(InfoVxlan::UDPCsum));
            info.push(LinkInfo::Data(InfoData::Vxlan(d)));
        }
        Some(Kind::Veth) => info.push(LinkInfo::Kind(InfoKind::Veth)),
        Some(Kind::Other(k)) => info.push(LinkInfo::Kind(InfoKind::Other(k.clone()))),
        None => {}
    }
    if f.isolated.is_some() || f.hairpin.is_some() || f.proxy_arp.is_some() {
        let mut port = Vec::new();
        port.extend(f.isolated.map(InfoBridgePort::Isolated));
        port.extend(f.hairpin.map(InfoBridgePort::HairpinMode));
        port.extend(f.proxy_arp.map(InfoBridgePort::ProxyARP));
        info.push(LinkInfo::PortKind(InfoPortKind::Bridge));
        info.push(LinkInfo::PortData(InfoPortData::BridgePort(port)));
    }
    if !info.is_empty() {
        a.push(LinkAttribute::LinkInfo(info));
    }
    m
}

fn neighbour_message(f: &FakeNeighbour) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.ifindex = u32::from(f.ifindex);
    m.header.flags = NeighbourFlags::from_bits_retain(f.flags);
    m.header.state = NeighbourState::from(f.state);
    m.attributes.extend(f.vni.map(NeighbourAttribute::Vni));
    m.attributes.extend(f.port.map(NeighbourAttribute::Port));
    m.attributes.extend(f.via.map(|i| NeighbourAttribute::IfIndex(u32::from(i))));
    if let Some(mac) = &f.mac {
        m.attributes.push(NeighbourAttribute::LinkLayerAddress(mac.clone()));
    }
    if let Some(d) = &f.destination {
        m.attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::Other(d.clone())));
    }
    m
}

/// The text of a command line the shell reads unquoted: everything outside single quotes
/// and backslash escapes.
fn unquoted(line: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
            out.push(' ');
        } else if c == '\\' && !quoted {
            // `\x` outside quotes is a literal x (as in `'\''`).
            chars.next();
            out.push(' ');
        } else if !quoted {
            out.push(c);
        }
    }
    assert!(!quoted, "unterminated quote in {line:?}");
    out
}

const EXAMPLE: &str = "[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n\
                       [[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n\
                       [[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n";

/// The example hosts' WireGuard public keys (encrypted variant).
const KEY_A: &str = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
const KEY_B: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

fuzz_target!(|input: Input| {
    let links: Vec<LinkMessage> = input.links.iter().map(link_message).collect();
    let neighbours: Vec<NeighbourMessage> = input.neighbours.iter().map(neighbour_message).collect();
    let mut observed = observed_state(&links, &neighbours);
    for v in &observed.vxlans {
        for address in [v.local, v.remote].into_iter().flatten() {
            assert!(!address.is_unspecified(), "made-up address in {v:?}");
        }
    }
    observed.wireguard = observed_wireguard("vxmwg0", &input.wg_dump);
    if let Some(wg) = &observed.wireguard {
        let json = serde_json::to_string(wg).unwrap_or_default();
        let zeros = vxlan_mesh_core::PublicKey([0; 32]).to_string();
        for made_up in ["0.0.0.0", zeros.as_str()] {
            assert!(
                !json.contains(made_up) || input.wg_dump.contains(made_up),
                "{made_up} not in the dump but in {json}"
            );
        }
    }

    let mut text = if input.per_peer {
        format!("mode = \"per-peer\"\nloop-prevention = \"ebtables\"\n{EXAMPLE}")
    } else {
        EXAMPLE.to_string()
    };
    if input.encrypted {
        text = format!("encryption = \"wireguard\"\n{text}")
            .replace("\"192.0.2.1\"\n", &format!("\"192.0.2.1\"\npublic-key = \"{KEY_A}\"\n"))
            .replace("\"192.0.2.2\"\n", &format!("\"192.0.2.2\"\npublic-key = \"{KEY_B}\"\n"));
    }
    let Ok(fleet) = Inventory::from_toml_str(&text).map(|i| i.validate()) else {
        return;
    };
    let Ok(plan) = fleet.map(|f| f.plan("a")) else {
        return;
    };
    let Ok(plan) = plan else {
        return;
    };
    let desired = plan.state();
    for (want, have) in [(&desired, &observed), (&Default::default(), &observed)] {
        let Ok(changes) = diff(want, have) else {
            continue; // a foreign interface holds a wanted name: refused, fine
        };
        for c in &changes {
            let line = c.to_string();
            if let Some(ch) = line.chars().find(|ch| ch.is_control()) {
                panic!("change description holds {ch:?}: {line:?}");
            }
            for cmd in argv::for_change(c) {
                if cmd.contains("<<'EOF'") {
                    continue; // the nft script: plan values only
                }
                let bare = unquoted(&cmd);
                if let Some(ch) = bare.chars().find(|ch| {
                    !(ch.is_ascii_alphanumeric()
                        || " _.:/@%+=,-".contains(*ch))
                }) {
                    panic!("{ch:?} reaches the shell unquoted in {cmd:?}");
                }
            }
        }
    }

    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&input.nft_json) {
        match firewall_from_nft_json(&json) {
            Table::Ours(fw) => {
                assert_eq!(fw.table, "vxlan_mesh");
                // Ours converged only without table flags (a dormant table filters nothing).
                let flagged = json["nftables"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|i| i.pointer("/table/flags").is_some()));
                assert!(!flagged, "a table with flags read as converged: {json}");
            }
            Table::Foreign { table, .. } => assert_eq!(table, "vxlan_mesh"),
            _ => {}
        }
    }
});
