//! The WireGuard interface: created through rtnetlink (kind `wireguard`), or where the kernel
//! has no WireGuard, by a `wireguard-go` daemon, as `wg-quick` does; configured and read with
//! `wg`, which talks to both (the kernel's generic netlink family, wireguard-go's UAPI
//! socket) in the same words; its address through rtnetlink.
//!
//! `wg show IFNAME dump` prints the private key on its first line: it is dropped there, and no
//! error or value of this module ever holds it.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use std::collections::HashMap;

use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};

use super::external;
use super::socket::Socket;
use super::ApplyError;
use crate::argv::reads::{self, WgShow};
use crate::argv::{self, Program};
use crate::diff::{InterfaceAddress, Observed, ObservedWireguard};
use crate::plan::WireguardPlan;
use crate::wireguard::{decode_key, ObservedWireguardPeer, PeerRoute, PeerSession, Prefix, PublicKey, Route};

/// Where the kernel keeps its modules' state: no `wireguard` there means no kernel WireGuard
/// (built in or loaded; `modprobe` may still load it on demand, which the fallback covers).
const KERNEL_MODULE: &str = "/sys/module/wireguard";

/// The daemon started where the kernel refuses the `wireguard` link kind.
pub(crate) const USERSPACE: &str = Program::WireguardGo.name();

/// Whether this kernel has WireGuard loaded or built in.
pub(crate) fn kernel_has_wireguard() -> bool {
    Path::new(KERNEL_MODULE).exists()
}

/// Starts `wireguard-go NAME`, which creates the TUN device `NAME` and its UAPI socket
/// before it returns (its daemon goes on serving; it exits when the device is deleted).
pub(crate) fn start_userspace(name: &str) -> Result<(), ApplyError> {
    // Its banner (a warning that a kernel module would be faster) is dropped: apply warns
    // once, in its own words.
    // argv's command, which the rendered shell script runs too.
    external::read(&argv::userspace_wireguard(name))?;
    // The daemon it leaves behind sets the device's MTU to its default when it takes the
    // device over, and answers on the UAPI socket only after that: one question waits for
    // it, so that the MTU set next stays.
    external::read(&reads::wg_show(name, WgShow::ListenPort)).map(drop)
}

/// The interface as `wg show dump` shows it, without its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dump {
    /// Public key (`None` without a private key).
    pub(crate) public_key: Option<PublicKey>,
    /// Listen port.
    pub(crate) listen_port: u16,
    /// Firewall mark (0: none).
    pub(crate) fwmark: u32,
    /// Whether the interface has a private key at all (a device wireguard-go has just
    /// created has none).
    pub(crate) has_private_key: bool,
    /// Peers in the order listed.
    pub(crate) peers: Vec<PeerSession>,
}

fn malformed(line: usize) -> ApplyError {
    // Only the line number: the first line holds the private key.
    ApplyError::Decode {
        what: "`wg show dump` output",
        message: format!("line {line} is not in the expected form"),
    }
}

/// Parses `wg show IFNAME dump`: an interface line (private key, public key, listen port,
/// fwmark), then one line per peer (public key, preshared key, endpoint, allowed IPs,
/// latest handshake, bytes received, bytes sent, persistent keepalive), tab-separated.
pub(crate) fn parse_dump(text: &str) -> Result<Dump, ApplyError> {
    let mut lines = text.lines();
    let first: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let (public_key, listen_port, fwmark, has_private_key) = match first.as_slice() {
        [private, public, port, fwmark] => (
            decode_key(public).ok().map(PublicKey),
            port.parse().map_err(|_| malformed(1))?,
            parse_fwmark(fwmark).ok_or_else(|| malformed(1))?,
            // Only whether it is there: the key itself is never kept.
            *private != NONE,
        ),
        _ => return Err(malformed(1)),
    };
    let mut peers = Vec::new();
    for (i, line) in lines.enumerate() {
        let bad = || malformed(i + 2);
        let fields: Vec<&str> = line.split('\t').collect();
        let [key, psk, endpoint, allowed, handshake, rx, tx, keepalive] = fields.as_slice() else {
            return Err(bad());
        };
        let public_key = PublicKey(decode_key(key).map_err(|_| bad())?);
        let endpoint: Option<SocketAddr> = match *endpoint {
            NONE => None,
            e => Some(e.parse().map_err(|_| bad())?),
        };
        let allowed_ips = match *allowed {
            NONE => Vec::new(),
            list => list
                .split(',')
                .map(|p| p.parse::<Prefix>())
                .collect::<Result<_, _>>()
                .map_err(|_| bad())?,
        };
        let persistent_keepalive = match *keepalive {
            "off" => None,
            k => Some(k.parse().map_err(|_| bad())?),
        };
        let handshake: u64 = handshake.parse().map_err(|_| bad())?;
        peers.push(PeerSession {
            peer: ObservedWireguardPeer {
                public_key,
                endpoint,
                allowed_ips,
                persistent_keepalive,
                // Only whether it is there: the key itself is a secret, never kept.
                preshared_key: *psk != NONE,
            },
            latest_handshake: (handshake != 0).then(|| UNIX_EPOCH + Duration::from_secs(handshake)),
            rx_bytes: rx.parse().map_err(|_| bad())?,
            tx_bytes: tx.parse().map_err(|_| bad())?,
        });
    }
    Ok(Dump {
        public_key,
        listen_port,
        fwmark,
        has_private_key,
        peers,
    })
}

/// What `wg show dump` prints for an absent key, endpoint or allowed-IPs list.
const NONE: &str = "(none)";

/// A firewall mark as `wg show dump` prints it: `off`, or a number (`0x` hexadecimal).
fn parse_fwmark(text: &str) -> Option<u32> {
    match text {
        "off" => Some(0),
        t => match t.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => t.parse().ok(),
        },
    }
}

/// `wg show NAME dump`, parsed.
pub(crate) fn dump(name: &str) -> Result<Dump, ApplyError> {
    parse_dump(&external::read(&reads::wg_show(name, WgShow::Dump))?)
}

/// The owned WireGuard link as the link dump shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnedLink {
    pub(crate) name: String,
    pub(crate) index: u32,
    pub(crate) mtu: u32,
    pub(crate) up: bool,
    pub(crate) alias: String,
}

/// The interface's address and prefix length: the first one that is not IPv6 link-local
/// (which the kernel may add by itself); `None` when it has none.
fn address_of(index: u32, addresses: &[AddressMessage]) -> Option<InterfaceAddress> {
    addresses
        .iter()
        .filter(|m| m.header.index == index)
        .filter_map(|m| {
            let ip = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let ip = ip.or_else(|| {
                m.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            })?;
            let link_local = matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80);
            (!link_local).then_some(InterfaceAddress::new(ip, m.header.prefix_len))
        })
        .next()
}

/// The owned interface as observed, from its link, its addresses and its `wg show dump`
/// (read once by the caller, which keeps the sessions): its peers named by their public
/// keys; a key or address it lacks is `None`.
pub(crate) fn observe(link: &OwnedLink, addresses: &[AddressMessage], dump: Dump) -> ObservedWireguard {
    ObservedWireguard {
        interface: link.name.clone(),
        public_key: dump.public_key,
        address: address_of(link.index, addresses),
        listen_port: dump.listen_port,
        fwmark: dump.fwmark,
        mtu: link.mtu,
        up: link.up,
        alias: link.alias.clone(),
        peers: dump.peers.into_iter().map(|s| s.peer).collect(),
    }
}

/// Takes over the device named like the plan's interface when it is one an apply created
/// and was killed (or failed) before marking: a WireGuard device (it answers `wg`) with no
/// alias, no private key, no peer and no address. Nothing in such a device is anyone's
/// configuration, so the next apply finishes it, as it finishes a half-made VXLAN device;
/// any other unmarked device of that name stays foreign, and is refused.
pub(crate) fn adopt_half_made(
    observed: &mut Observed,
    unmarked: &[OwnedLink],
    want: &WireguardPlan,
    addresses: &[AddressMessage],
) {
    if observed.wireguard.is_some() {
        return;
    }
    let Some(link) = unmarked.iter().find(|l| l.name == want.interface) else {
        return;
    };
    // A device `wg` cannot read (a plain TUN device, or no `wg`) is not taken.
    let Ok(dump) = dump(&link.name) else {
        return;
    };
    let blank = !dump.has_private_key && dump.peers.is_empty() && address_of(link.index, addresses).is_none();
    if blank {
        observed.wireguard = Some(observe(link, addresses, dump));
        observed.foreign.retain(|f| *f != link.name);
    }
}

/// The route the kernel matches towards each peer's inner address (`ip route get fibmatch`).
pub(crate) fn peer_routes(
    socket: &mut Socket,
    want: &WireguardPlan,
    names: &HashMap<u32, &str>,
) -> Result<Vec<PeerRoute>, ApplyError> {
    let mut out = Vec::new();
    for peer in &want.peers {
        for inner in &peer.allowed_ips {
            let address = inner.network();
            let route = socket.route_match(address)?.map(|m| route_of(&m, names));
            out.push(PeerRoute::new(peer.name.clone(), address, route));
        }
    }
    Ok(out)
}

/// A route message in the words of [`Route`].
fn route_of(message: &RouteMessage, names: &HashMap<u32, &str>) -> Route {
    let address = |a: &RouteAddress| match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    };
    let header = &message.header;
    // A default route carries no destination.
    let mut destination = None;
    let (mut table, mut device, mut gateway) = (u32::from(header.table), None, None);
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Destination(a) => destination = address(a),
            RouteAttribute::Gateway(a) => gateway = address(a),
            RouteAttribute::Oif(i) => {
                device = Some(names.get(i).map_or_else(|| format!("if{i}"), |n| (*n).to_string()))
            }
            RouteAttribute::Table(t) => table = *t,
            _ => {}
        }
    }
    let kind = match header.kind {
        RouteType::Unicast => None,
        RouteType::BlackHole => Some("blackhole".to_string()),
        RouteType::Unreachable => Some("unreachable".to_string()),
        RouteType::Prohibit => Some("prohibit".to_string()),
        RouteType::Throw => Some("throw".to_string()),
        other => Some(format!("{other:?}").to_lowercase()),
    };
    Route::new(
        destination,
        header.destination_prefix_length,
        table,
        device,
        gateway,
        kind,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PRIVATE: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    const PUBLIC: &str = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
    const PEER: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

    #[test]
    fn a_dump_gives_the_interface_and_its_peers_without_the_private_key() {
        let text = format!(
            "{PRIVATE}\t{PUBLIC}\t51820\toff\n\
             {PEER}\t(none)\t192.0.2.2:51820\t10.213.0.2/32\t1700000000\t1234\t5678\t25\n\
             {PUBLIC}\t{PRIVATE}\t(none)\t(none)\t0\t0\t0\toff\n"
        );
        let dump = parse_dump(&text).unwrap();
        assert_eq!(dump.public_key.map(|k| k.to_string()), Some(PUBLIC.into()));
        assert_eq!((dump.listen_port, dump.fwmark, dump.has_private_key), (51820, 0, true));
        let first = &dump.peers[0];
        assert_eq!(
            first.peer.endpoint.map(|e| e.to_string()),
            Some("192.0.2.2:51820".into())
        );
        assert_eq!(first.peer.allowed_ips[0].to_string(), "10.213.0.2/32");
        assert_eq!(first.peer.persistent_keepalive, Some(25));
        assert_eq!(
            first.latest_handshake,
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!((first.rx_bytes, first.tx_bytes), (1234, 5678));
        let second = &dump.peers[1];
        assert_eq!(second.latest_handshake, None);
        assert_eq!(second.peer.endpoint, None);
        assert!(second.peer.allowed_ips.is_empty());
        assert!(!first.peer.preshared_key && second.peer.preshared_key);
        assert!(!format!("{dump:?}").contains(PRIVATE));
    }

    #[test]
    fn a_fresh_device_shows_no_private_key_and_a_mark_reads_in_hex() {
        let dump = parse_dump("(none)\t(none)\t40000\t0x2a\n").unwrap();
        assert_eq!((dump.has_private_key, dump.public_key, dump.fwmark), (false, None, 42));
        assert!(dump.peers.is_empty());
    }

    /// Host `a` of an encrypted two-host fleet: its WireGuard interface as planned.
    fn planned() -> WireguardPlan {
        let mut text =
            String::from("encryption = \"wireguard\"\n[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n");
        for (name, last, key) in [("a", 1, PUBLIC), ("b", 2, PEER)] {
            text.push_str(&format!(
                "[[hosts]]\nname = \"{name}\"\naddress = \"192.0.2.{last}\"\npublic-key = \"{key}\"\n"
            ));
        }
        let fleet = crate::Inventory::from_toml_str(&text).unwrap().validate().unwrap();
        fleet.plan("a").unwrap().wireguard.unwrap()
    }

    #[test]
    fn what_the_interface_lacks_is_observed_as_none_and_is_drift_named_unset() {
        let want = planned();
        let link = OwnedLink {
            name: want.interface.clone(),
            index: 9,
            mtu: want.mtu,
            up: true,
            alias: want.alias.clone(),
        };
        // No private key (so no public key), the planned peer without an endpoint, and no
        // address at all.
        let dump = parse_dump(&format!(
            "(none)\t(none)\t{}\toff\n{PEER}\t(none)\t(none)\t{}\t0\t0\t0\toff\n",
            want.listen_port, want.peers[0].allowed_ips[0]
        ))
        .unwrap();
        let have = observe(&link, &[], dump);
        assert_eq!((have.public_key, have.address), (None, None));
        assert_eq!(have.peers[0].endpoint, None);

        let desired = crate::State {
            wireguard: Some(want.clone()),
            ..crate::State::default()
        };
        let observed = Observed {
            wireguard: Some(have),
            ..Observed::default()
        };
        let changes = crate::diff(&desired, &observed).unwrap();
        assert!(
            matches!(changes.as_slice(), [crate::Change::UpdateWireguard { .. }]),
            "{changes:?}"
        );
        let change = &changes[0];
        let text = change.to_string();
        for words in [
            format!("address unset -> {}/{}", want.address, want.prefix_len),
            format!("key unset -> {PUBLIC}"),
            "update peer b (endpoint unset)".to_string(),
        ] {
            assert!(text.contains(&words), "{words:?} not in {text:?}");
        }
        // Nothing made up reaches the JSON `status` prints either.
        let json = serde_json::to_string(&changes).unwrap();
        for sentinel in ["0.0.0.0", ":0\"", &crate::wireguard::encode_key(&[0; 32])] {
            assert!(!json.contains(sentinel), "{sentinel} in {json}");
        }
        assert!(
            json.contains("\"public_key\":null") && json.contains("\"endpoint\":null"),
            "{json}"
        );
        // An interface without an address has neither `address` nor `prefix_len`.
        let from = serde_json::to_value(&observed.wireguard).unwrap();
        assert!(
            from.get("address").is_none() && from.get("prefix_len").is_none(),
            "{from}"
        );
        assert_eq!(from["interface"], want.interface.as_str());
    }

    #[test]
    fn a_malformed_dump_is_an_error_that_never_quotes_the_private_key() {
        let err = parse_dump(&format!("{PRIVATE}\tgarbage\n")).unwrap_err();
        assert!(!err.to_string().contains(PRIVATE), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
