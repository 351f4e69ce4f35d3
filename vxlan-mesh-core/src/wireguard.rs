//! The WireGuard underlay's pure facts: the `encryption` setting, the inner-address prefix and
//! how each host's inner address derives from its id, the shape of a public key, a peer of
//! the interface and its session as the interface reports it.
//!
//! Private keys never pass through this module (nor through the inventory or the plan): only
//! public keys, which are safe to print.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// WireGuard listen port used when `[wireguard]` does not name one (WireGuard's usual port).
pub const DEFAULT_WIREGUARD_PORT: u16 = 51820;

/// Name of the WireGuard interface when `[wireguard]` does not name one.
pub const DEFAULT_INTERFACE: &str = "vxmwg0";

/// Where a host's WireGuard private key is kept unless `apply --wireguard-key` says
/// otherwise (and where `vxlan-mesh keygen` writes it).
pub const DEFAULT_KEY_FILE: &str = "/etc/vxlan-mesh/wireguard.key";

/// Prefix the inner (WireGuard) addresses are taken from when `[wireguard]` does not name
/// one: a private (RFC 1918) /16, room for 65,534 host ids.
pub const DEFAULT_PREFIX: Prefix = Prefix {
    network: IpAddr::V4(Ipv4Addr::new(10, 213, 0, 0)),
    len: 16,
};

/// The `String` conversions serde uses to read and write a type as its text form
/// (`Display` and `FromStr`, whose error says what is wrong in words).
macro_rules! serde_as_text {
    ($t:ty) => {
        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.to_string()
            }
        }

        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }
    };
}

/// Whether the hosts' tunnels run in clear or inside WireGuard.
///
/// ```
/// use vxlan_mesh_core::Encryption;
/// assert_eq!(Encryption::default(), Encryption::None);
/// assert_eq!(Encryption::Wireguard.as_str(), "wireguard");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Encryption {
    /// VXLAN over the underlay in clear UDP.
    #[default]
    None,
    /// VXLAN between the hosts' WireGuard addresses: nothing leaves a host in clear.
    Wireguard,
}

impl Encryption {
    /// Every setting, in the order the documentation lists them.
    pub const ALL: &'static [Encryption] = &[Encryption::None, Encryption::Wireguard];

    /// The spelling used in the inventory.
    ///
    /// ```
    /// assert_eq!(vxlan_mesh_core::Encryption::None.as_str(), "none");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Encryption::None => "none",
            Encryption::Wireguard => "wireguard",
        }
    }

    /// What it means, for the manual and `--help`.
    pub fn describe(self) -> &'static str {
        match self {
            Encryption::None => "VXLAN over the underlay in clear UDP",
            Encryption::Wireguard => {
                "VXLAN between the hosts' WireGuard addresses (a WireGuard interface with every other host as a \
                 peer): nothing leaves a host in clear"
            }
        }
    }
}

/// An IP network prefix (`10.213.0.0/16`, `fd00:6d65:7368::/64`) with no host bits set.
///
/// ```
/// use vxlan_mesh_core::Prefix;
/// let p: Prefix = "10.213.0.0/16".parse().unwrap();
/// assert_eq!(p.to_string(), "10.213.0.0/16");
/// assert_eq!(p.host(3).map(|a| a.to_string()), Some("10.213.0.3".into()));
/// assert!("10.213.0.1/16".parse::<Prefix>().is_err()); // host bits set
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Prefix {
    network: IpAddr,
    len: u8,
}

impl Prefix {
    /// The prefix holding `addr` alone (`/32` or `/128`).
    ///
    /// ```
    /// let p = vxlan_mesh_core::Prefix::single("10.213.0.2".parse().unwrap());
    /// assert_eq!(p.to_string(), "10.213.0.2/32");
    /// ```
    pub fn single(addr: IpAddr) -> Prefix {
        let len = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        Prefix { network: addr, len }
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// Bits the family's addresses have (32 or 128).
    fn bits(&self) -> u32 {
        match self.network {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    /// Host bits of `addr` as an integer, the network bits cleared.
    fn host_part(&self, addr: &IpAddr) -> u128 {
        let value = match addr {
            IpAddr::V4(a) => u128::from(u32::from(*a)),
            IpAddr::V6(a) => u128::from(*a),
        };
        let host_bits = self.bits() - u32::from(self.len);
        if host_bits >= 128 {
            value
        } else {
            value & ((1u128 << host_bits) - 1)
        }
    }

    /// Whether `addr` lies in the prefix.
    ///
    /// ```
    /// let p: vxlan_mesh_core::Prefix = "10.213.0.0/16".parse().unwrap();
    /// assert!(p.contains(&"10.213.9.9".parse().unwrap()));
    /// assert!(!p.contains(&"10.214.0.1".parse().unwrap()));
    /// ```
    pub fn contains(&self, addr: &IpAddr) -> bool {
        let same_family = matches!(
            (addr, self.network),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        );
        same_family && self.network_of(addr) == self.network
    }

    fn network_of(&self, addr: &IpAddr) -> IpAddr {
        let host = self.host_part(addr);
        match addr {
            IpAddr::V4(a) => IpAddr::V4((u32::from(*a) & !(host as u32)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(*a) & !host).into()),
        }
    }

    /// The largest host number the prefix holds: the last address is left out (IPv4's
    /// broadcast address; in IPv6 kept symmetric), as is the network address itself (0).
    ///
    /// ```
    /// let p: vxlan_mesh_core::Prefix = "192.168.7.0/24".parse().unwrap();
    /// assert_eq!(p.max_host(), 254);
    /// ```
    pub fn max_host(&self) -> u128 {
        let host_bits = self.bits() - u32::from(self.len);
        match host_bits {
            0 => 0,
            128.. => u128::MAX - 1,
            n => (1u128 << n) - 2,
        }
    }

    /// The address of host number `n` (a host id) in the prefix, if it fits.
    pub fn host(&self, n: u32) -> Option<IpAddr> {
        let n = u128::from(n);
        if n == 0 || n > self.max_host() {
            return None;
        }
        Some(match self.network {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) | n as u32).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) | n).into()),
        })
    }
}

impl Prefix {
    /// Whether the two prefixes share an address (one holds the other's network).
    ///
    /// ```
    /// let p = |s: &str| s.parse::<vxlan_mesh_core::Prefix>().unwrap();
    /// assert!(p("127.0.0.0/8").overlaps(&p("127.1.0.0/16")));
    /// assert!(p("0.0.0.0/1").overlaps(&p("127.0.0.0/8")));
    /// assert!(!p("10.0.0.0/8").overlaps(&p("127.0.0.0/8")));
    /// ```
    pub fn overlaps(&self, other: &Prefix) -> bool {
        self.contains(&other.network) || other.contains(&self.network)
    }
}

/// Ranges the inner (`[wireguard] prefix`) addresses must stay out of, with why: the kernel
/// treats their addresses specially, so a route or address there breaks the host, not the tunnel.
const RESERVED_INNER: &[(IpAddr, u8, &str)] = &[
    (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8, "`0.0.0.0/8` (this network)"),
    (IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8, "loopback `127.0.0.0/8`"),
    (IpAddr::V4(Ipv4Addr::new(224, 0, 0, 0)), 4, "multicast `224.0.0.0/4`"),
    (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 128, "the unspecified address `::`"),
    (IpAddr::V6(Ipv6Addr::LOCALHOST), 128, "loopback `::1`"),
    (
        IpAddr::V6(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0)),
        8,
        "multicast `ff00::/8`",
    ),
];

/// Why `prefix` cannot hold WireGuard's inner addresses, if it cannot: it overlaps a
/// loopback, multicast or unspecified range.
pub(crate) fn inner_prefix_problem(prefix: &Prefix) -> Option<&'static str> {
    RESERVED_INNER
        .iter()
        .find(|(network, len, _)| {
            prefix.overlaps(&Prefix {
                network: *network,
                len: *len,
            })
        })
        .map(|(_, _, what)| *what)
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.len)
    }
}

serde_as_text!(Prefix);

impl FromStr for Prefix {
    type Err = String;

    /// Parses `ADDRESS/LENGTH`; the error says what is wrong in words.
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, len) = s
            .split_once('/')
            .ok_or_else(|| "it has no prefix length (write it as `ADDRESS/LENGTH`)".to_string())?;
        let network: IpAddr = addr
            .parse()
            .map_err(|_| "its address part is not an IPv4 or IPv6 address".to_string())?;
        let max = match network {
            IpAddr::V4(_) => 32u8,
            IpAddr::V6(_) => 128u8,
        };
        let len: u8 = len
            .parse()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("its length must be a number from 0 to {max}"))?;
        let p = Prefix { network, len };
        if p.host_part(&network) != 0 {
            return Err(format!(
                "it has host bits set; the network is `{}/{len}`",
                p.network_of(&network)
            ));
        }
        Ok(p)
    }
}

/// Ownership mark (interface alias) of the WireGuard interface: the owner mark with an empty
/// network name, which no network can have, so it never equals a network's mark.
pub(crate) fn owner_alias() -> String {
    format!("{}:wireguard", crate::names::OWNER_MARK)
}

/// A firewall mark in the words `wg set … fwmark` takes: `off` for none, else hexadecimal.
///
/// ```
/// use vxlan_mesh_core::wireguard::fwmark_text;
/// assert_eq!((fwmark_text(0), fwmark_text(42)), ("off".to_string(), "0x2a".to_string()));
/// ```
pub fn fwmark_text(mark: u32) -> String {
    if mark == 0 {
        "off".into()
    } else {
        format!("{mark:#x}")
    }
}

/// Bytes of a WireGuard public (or private) key.
pub const KEY_LEN: usize = 32;

/// A WireGuard public key: 32 bytes, written in base64 (44 characters ending in `=`), as
/// `wg pubkey` and `vxlan-mesh keygen` print it.
///
/// ```
/// use vxlan_mesh_core::PublicKey;
/// let k: PublicKey = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=".parse().unwrap();
/// assert_eq!(k.to_string(), "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=");
/// assert!("not a key".parse::<PublicKey>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct PublicKey(pub [u8; KEY_LEN]);

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_key(&self.0))
    }
}

serde_as_text!(PublicKey);

/// The canonical encodings of the Curve25519 points of small order (RFC 7748 section 6.1's
/// warning; the list libsodium and WireGuard refuse): 0, 1, the two points of order 8, and
/// p − 1. A Diffie-Hellman with any of them yields a shared secret known in advance.
const SMALL_ORDER: [[u8; KEY_LEN]; 5] = [
    [0; KEY_LEN],
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09,
        0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44,
        0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57,
    ],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ],
];

impl PublicKey {
    /// Whether the key is a point of small order, in any of its encodings: X25519 ignores
    /// the top bit, and reads p and p + 1 as 0 and 1 (the non-canonical encodings).
    ///
    /// ```
    /// use vxlan_mesh_core::PublicKey;
    /// assert!(PublicKey([0; 32]).is_low_order());
    /// let mut p_plus_one = [0xff; 32];
    /// p_plus_one[0] = 0xee;
    /// assert!(PublicKey(p_plus_one).is_low_order());
    /// assert!(!"HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=".parse::<PublicKey>().unwrap().is_low_order());
    /// ```
    pub fn is_low_order(&self) -> bool {
        let mut x = self.0;
        x[KEY_LEN - 1] &= 0x7f;
        // p = 2^255 - 19 (ed ff .. ff 7f) and p + 1 (ee ff .. ff 7f) reduce to 0 and 1; every
        // other value below 2^255 is its own canonical form, or not of small order.
        if x[1..KEY_LEN - 1].iter().all(|b| *b == 0xff) && x[KEY_LEN - 1] == 0x7f && matches!(x[0], 0xed | 0xee) {
            let reduced = x[0] - 0xed;
            x = [0; KEY_LEN];
            x[0] = reduced;
        }
        SMALL_ORDER.contains(&x)
    }
}

impl FromStr for PublicKey {
    type Err = String;

    /// Parses the base64 form; the error says what is wrong in words.
    fn from_str(s: &str) -> Result<Self, String> {
        decode_key(s).map(PublicKey)
    }
}

/// The standard base64 (with padding) of a 32-byte key: 44 characters, the last `=`, the
/// form `wg` reads and writes key files in.
pub(crate) fn encode_key(bytes: &[u8; KEY_LEN]) -> String {
    let mut out = String::with_capacity(44);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The 32 bytes of a key written as standard base64, or why it is not one. The reason never
/// quotes the text, so that it may be shown for a private key too.
pub(crate) fn decode_key(s: &str) -> Result<[u8; KEY_LEN], String> {
    const WHAT: &str =
        "a WireGuard key is 32 bytes in base64: 44 characters ending in `=`, as `vxlan-mesh keygen` or `wg pubkey` print it";
    let bytes = s.as_bytes();
    if bytes.len() != 44 || bytes[43] != b'=' || bytes[42] == b'=' {
        return Err(format!("it is {} characters long; {WHAT}", s.chars().count()));
    }
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = [0u8; KEY_LEN];
    let mut at = 0;
    for &c in &bytes[..43] {
        let v = BASE64
            .iter()
            .position(|&b| b == c)
            .ok_or_else(|| format!("it holds a character outside base64; {WHAT}"))?;
        bits = (bits << 6) | v as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            if at < KEY_LEN {
                out[at] = (bits >> nbits) as u8;
            }
            at += 1;
            bits &= (1 << nbits) - 1;
        }
    }
    // 43 characters carry 258 bits: the 2 left over must be zero in a canonical encoding.
    if bits != 0 {
        return Err(format!("its last character is not a canonical base64 ending; {WHAT}"));
    }
    Ok(out)
}

/// A peer of the WireGuard interface.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireguardPeer {
    /// Host name.
    pub name: String,
    /// Its public key.
    pub public_key: PublicKey,
    /// Where its WireGuard packets are sent.
    pub endpoint: SocketAddr,
    /// Inner addresses routed to it and accepted from it: its inner address alone.
    pub allowed_ips: Vec<Prefix>,
    /// Keepalive interval towards it, in seconds (none when absent).
    pub persistent_keepalive: Option<u16>,
    /// Whether a preshared key is mixed into its handshakes. A plan never sets one (the
    /// inventory has none), so one found on a host was set behind vxlan-mesh's back: both
    /// sides must agree on it, and a key only one side has stops every handshake.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preshared_key: bool,
}

/// One peer of the WireGuard interface as `wg show dump` lists it (named by its public key:
/// the interface knows no host names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObservedWireguardPeer {
    /// Its public key.
    pub public_key: PublicKey,
    /// Where its packets are sent; `None` when it has no endpoint (`(none)`).
    pub endpoint: Option<SocketAddr>,
    /// Inner addresses routed to it and accepted from it.
    pub allowed_ips: Vec<Prefix>,
    /// Keepalive interval towards it, in seconds (`None`: off).
    pub persistent_keepalive: Option<u16>,
    /// Whether a preshared key is mixed into its handshakes (the key itself is never read).
    #[serde(default)]
    pub preshared_key: bool,
}

/// The peer exactly as planned.
impl From<&WireguardPeer> for ObservedWireguardPeer {
    fn from(p: &WireguardPeer) -> ObservedWireguardPeer {
        ObservedWireguardPeer {
            public_key: p.public_key,
            endpoint: Some(p.endpoint),
            allowed_ips: p.allowed_ips.clone(),
            persistent_keepalive: p.persistent_keepalive,
            preshared_key: p.preshared_key,
        }
    }
}

/// One peer of `wg show dump`, with what the kernel knows of its session (read by
/// `netlink::wireguard_sessions`, shown by `status` and [`crate::metrics`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PeerSession {
    /// The peer as configured (named by its public key: the interface knows no names).
    pub peer: ObservedWireguardPeer,
    /// When the latest handshake with it completed; `None` if never.
    pub latest_handshake: Option<SystemTime>,
    /// Bytes received from it.
    pub rx_bytes: u64,
    /// Bytes sent to it.
    pub tx_bytes: u64,
}

/// The kernel's main routing table, where the route of the interface's prefix is.
pub const MAIN_TABLE: u32 = 254;

/// The route the kernel chose towards a peer's inner address (read by `status` and `apply`
/// as `ip route get fibmatch ADDRESS` shows it). Traffic to the peer is encrypted only when
/// it leaves through the WireGuard interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PeerRoute {
    /// The peer's host name.
    pub peer: String,
    /// Its inner address (the VXLAN devices' destination).
    pub address: IpAddr,
    /// The route that matches it; `None` when none does.
    pub route: Option<Route>,
}

impl PeerRoute {
    /// The route towards `address` of peer `peer`.
    pub fn new(peer: String, address: IpAddr, route: Option<Route>) -> PeerRoute {
        PeerRoute { peer, address, route }
    }
}

/// One route of a routing table, as much of it as tells where it sends packets.
///
/// ```
/// use vxlan_mesh_core::wireguard::Route;
/// let r = Route::new("192.0.2.130".parse().ok(), 32, 254, Some("ul0".into()), "192.0.2.2".parse().ok(), None);
/// assert_eq!(r.to_string(), "192.0.2.130/32 via 192.0.2.2 dev ul0");
/// let b = Route::new("192.0.2.128".parse().ok(), 25, 100, None, None, Some("blackhole".into()));
/// assert_eq!(b.to_string(), "blackhole 192.0.2.128/25 table 100");
/// // The kernel reports no destination for a default route.
/// let d = Route::new(None, 0, 254, Some("ul0".into()), "192.0.2.1".parse().ok(), None);
/// assert_eq!(d.to_string(), "default via 192.0.2.1 dev ul0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Route {
    /// Its destination network; `None` for a default route, which has none.
    pub destination: Option<IpAddr>,
    /// Its prefix length.
    pub prefix_len: u8,
    /// The routing table holding it.
    pub table: u32,
    /// The interface it sends through; `None` for a route that sends nowhere.
    pub device: Option<String>,
    /// Its next hop, if any.
    pub gateway: Option<IpAddr>,
    /// Its type when not an ordinary (unicast) route: `blackhole`, `unreachable`, ….
    pub kind: Option<String>,
}

impl Route {
    /// A route from its parts.
    pub fn new(
        destination: Option<IpAddr>,
        prefix_len: u8,
        table: u32,
        device: Option<String>,
        gateway: Option<IpAddr>,
        kind: Option<String>,
    ) -> Route {
        Route {
            destination,
            prefix_len,
            table,
            device,
            gateway,
            kind,
        }
    }
}

/// In `ip route` words, so that `ip route del` takes it as it is.
impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(kind) = &self.kind {
            write!(f, "{kind} ")?;
        }
        match self.destination {
            Some(destination) => write!(f, "{destination}/{}", self.prefix_len)?,
            None => f.write_str("default")?,
        }
        if let Some(gateway) = self.gateway {
            write!(f, " via {gateway}")?;
        }
        if let Some(device) = &self.device {
            write!(f, " dev {}", device.escape_debug())?;
        }
        if self.table != MAIN_TABLE {
            write!(f, " table {}", self.table)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn inner_prefixes_refuse_loopback_and_multicast() {
        assert!(inner_prefix_problem(&"10.213.0.0/16".parse().unwrap()).is_none());
        assert!(inner_prefix_problem(&"127.9.0.0/16".parse().unwrap())
            .unwrap()
            .contains("loopback"));
        assert!(inner_prefix_problem(&"ff02::/64".parse().unwrap())
            .unwrap()
            .contains("multicast"));
    }

    #[test]
    fn the_interface_mark_is_no_network_s() {
        assert_eq!(owner_alias(), "vxlan-mesh::wireguard");
        // A per-peer device's mark in a network named "" (which no network can be named).
        assert_eq!(owner_alias(), crate::names::owner_alias("", Some("wireguard")));
        assert!(crate::names::check_name("").is_err());
    }

    #[test]
    fn keys_round_trip_through_base64() {
        for seed in [0u8, 1, 0x7f, 0xff] {
            let bytes: [u8; KEY_LEN] = std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 7));
            let text = encode_key(&bytes);
            assert_eq!(text.len(), 44);
            assert_eq!(decode_key(&text), Ok(bytes));
        }
    }

    #[test]
    fn non_canonical_and_short_keys_are_refused() {
        // Same bytes as "AAAA…A=" but the two spare bits set.
        let bad = format!("{}B=", "A".repeat(42));
        assert!(decode_key(&bad).is_err());
        assert!(decode_key("AAAA").is_err());
        assert!(decode_key(&format!("{}==", "A".repeat(42))).is_err());
    }

    #[test]
    fn ipv6_prefixes_give_host_addresses() {
        let p: Prefix = "fd00:6d65:7368::/64".parse().unwrap();
        assert_eq!(p.host(258).map(|a| a.to_string()), Some("fd00:6d65:7368::102".into()));
        let tiny: Prefix = "10.0.0.0/30".parse().unwrap();
        assert_eq!(tiny.max_host(), 2);
        assert!(tiny.host(3).is_none());
    }
}
