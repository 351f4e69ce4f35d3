//! Errors of parsing, validation and planning. Every message names the field and the reason,
//! with values in backticks, so that an operator can fix the inventory without reading code.

use std::fmt;
use std::net::IpAddr;

use crate::path::{FieldPath, Key, Position, Section};

/// What kind of problem a [`ParseError`] is; each has a stable [`code`](Self::code).
///
/// ```
/// use vxlan_mesh_core::ParseProblem;
/// assert_eq!(ParseProblem::WrongType.code(), "wrong-type");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseProblem {
    /// The text is not TOML (a missing quote, a duplicate key, ...).
    Syntax,
    /// A value of the wrong kind (a string where an integer belongs, ...).
    WrongType,
    /// An integer beyond what its key can hold.
    OutOfRange,
    /// A string that is not one of its key's values (`mode`), or not an IP address.
    BadValue,
    /// A key the inventory does not have.
    UnknownKey,
    /// A required key is absent.
    MissingKey,
}

impl ParseProblem {
    /// Every problem; their [`code`](Self::code)s are the parser's part of the codes `check --format json` reports.
    pub const ALL: &'static [ParseProblem] = &[
        ParseProblem::Syntax,
        ParseProblem::WrongType,
        ParseProblem::OutOfRange,
        ParseProblem::BadValue,
        ParseProblem::UnknownKey,
        ParseProblem::MissingKey,
    ];

    /// The stable, kebab-case code of the problem, for tools that read errors (`check
    /// --format json`). Codes are never renamed or reused; new problems get new codes.
    pub fn code(self) -> &'static str {
        match self {
            ParseProblem::Syntax => "toml-syntax",
            ParseProblem::WrongType => "wrong-type",
            ParseProblem::OutOfRange => "out-of-range",
            ParseProblem::BadValue => "bad-value",
            ParseProblem::UnknownKey => "unknown-key",
            ParseProblem::MissingKey => "missing-key",
        }
    }

    /// What the problem is, in words, for the manual.
    pub fn describe(self) -> &'static str {
        match self {
            ParseProblem::Syntax => "the text is not TOML (a missing quote, a duplicate key, ...)",
            ParseProblem::WrongType => "a value of the wrong kind (a string where an integer belongs, ...)",
            ParseProblem::OutOfRange => "an integer beyond what its key can hold",
            ParseProblem::BadValue => {
                "a string that is not one of its key's values, or not an address, prefix or endpoint"
            }
            ParseProblem::UnknownKey => "a key its table does not have (the message names the allowed ones)",
            ParseProblem::MissingKey => "a required key is absent",
        }
    }
}

/// The inventory text is not valid TOML or does not match the schema.
///
/// The message names the field and the expected kind of value in words; `line` and `column`
/// point at the offending key or value, `path` names it when it is a field of the inventory.
///
/// ```
/// use vxlan_mesh_core::{FieldPath, Inventory, Key};
/// let err = Inventory::from_toml_str("port = \"x\"").unwrap_err();
/// assert_eq!(err.line, Some(1));
/// assert_eq!(err.code(), "wrong-type");
/// assert_eq!(err.path, Some(FieldPath::root(Key::Port)));
/// assert_eq!(err.message, "`port` must be an integer, got the string \"x\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseError {
    /// What kind of problem it is.
    pub problem: ParseProblem,
    /// The field it is about, when it is about one.
    pub path: Option<FieldPath>,
    /// What is wrong, naming the field and what it must be.
    pub message: String,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// 1-based column of the problem, when known.
    pub column: Option<usize>,
}

impl ParseError {
    pub(crate) fn new(problem: ParseProblem, path: Option<FieldPath>, message: String, at: Option<Position>) -> Self {
        ParseError {
            problem,
            path,
            message,
            line: at.map(|p| p.line),
            column: at.map(|p| p.column),
        }
    }

    /// The stable code of the problem ([`ParseProblem::code`]).
    pub fn code(&self) -> &'static str {
        self.problem.code()
    }
}

impl std::error::Error for ParseError {}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// Why a name is unusable as an interface, host or network name.
///
/// ```
/// use vxlan_mesh_core::NameProblem;
/// assert!(NameProblem::TooLong { len: 16, max: 15 }.to_string().contains("16 bytes"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameProblem {
    /// Empty string.
    #[error("it is empty")]
    Empty,
    /// Longer than the limit (15 bytes for Linux interface names, IFNAMSIZ − 1).
    #[error("it is {len} bytes long, more than the {max} allowed")]
    TooLong {
        /// Length found.
        len: usize,
        /// Maximum allowed.
        max: usize,
    },
    /// Holds a character outside `[A-Za-z0-9_.-]`.
    #[error("it contains {found:?}; only letters, digits, `_`, `.` and `-` are allowed")]
    BadChar {
        /// The offending character.
        found: char,
    },
    /// `.` or `..`, which are path components rather than names.
    #[error("`.` and `..` are not names")]
    Dots,
    /// Starts with `.`: a hidden file name where names become folders (`render --all --out`).
    #[error("it starts with `.`, which would make a hidden file or folder")]
    LeadingDot,
    /// Starts with `-`, which tools would read as an option.
    #[error("it starts with `-`, which commands would read as an option")]
    LeadingDash,
    /// Starts with the prefix reserved for the VXLAN devices vxlan-mesh creates.
    #[error("the prefix `{prefix}` is reserved for the VXLAN devices vxlan-mesh creates")]
    Reserved {
        /// The reserved prefix.
        prefix: &'static str,
    },
}

/// Defines [`ValidationError`] with one stable code per variant, written beside it, so that
/// the list of codes ([`ValidationError::CODES`]) cannot miss a rule.
macro_rules! validation_errors {
    (
        $(#[$meta:meta])*
        pub enum ValidationError {
            $( $(#[$vmeta:meta])* $variant:ident $({ $($fields:tt)* })? = $code:literal, )*
        }
    ) => {
        $(#[$meta])*
        pub enum ValidationError {
            $( $(#[$vmeta])* $variant $({ $($fields)* })?, )*
        }

        impl ValidationError {
            /// The code of every rule, in declaration order: each is kebab-case, stable (never
            /// renamed or reused) and unique.
            pub const CODES: &'static [&'static str] = &[$($code),*];

            /// The stable code of the broken rule, e.g. `duplicate-address`.
            ///
            /// ```
            /// use vxlan_mesh_core::ValidationError;
            /// assert_eq!(ValidationError::PortZero.code(), "port-zero");
            /// assert!(ValidationError::CODES.contains(&"duplicate-address"));
            /// ```
            pub fn code(&self) -> &'static str {
                match self {
                    $( Self::$variant { .. } => $code, )*
                }
            }
        }
    };
}

validation_errors! {
    /// One broken rule of the inventory, naming the host or network, the field and the reason.
    ///
    /// Besides its message, each error is data: a stable [`code`](Self::code) and the
    /// [`path`](Self::path) of the field it is about, which
    /// [`Positions::find`](crate::Positions::find) turns into a line and column.
    ///
    /// ```
    /// use vxlan_mesh_core::{FieldPath, Key, ValidationError};
    /// let e = ValidationError::PortZero;
    /// assert!(e.to_string().contains("`port`"));
    /// assert_eq!(e.path(), FieldPath::root(Key::Port));
    /// ```
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[non_exhaustive]
    pub enum ValidationError {
        /// Fewer than two hosts.
        #[error("`hosts`: a mesh needs at least two hosts, found {found}")]
        TooFewHosts {
            /// Number of hosts in the inventory.
            found: usize,
        } = "too-few-hosts",
        /// No `[[networks]]`.
        #[error("`networks`: at least one network is required")]
        NoNetworks = "no-networks",
        /// `port = 0`.
        #[error("`port`: 0 is not a usable UDP port (use 1..65535, usually 4789)")]
        PortZero = "port-zero",
        /// `loop-prevention` given while `mode` is not per-peer.
        #[error("`loop-prevention`: only applies to `mode = \"per-peer\"`; flood and evpn modes have one VXLAN device per network and cannot loop (remove the key or change `mode`)")]
        LoopPreventionWithoutPerPeer = "loop-prevention-without-per-peer",
        /// A name that cannot be used.
        #[error("`{field}` = `{value}`: {problem}")]
        BadName {
            /// The field, e.g. `hosts[2].device` or `networks[0].bridge`.
            field: FieldPath,
            /// The value as written (control characters escaped).
            value: String,
            /// Why it is rejected.
            problem: NameProblem,
        } = "bad-name",
        /// Two hosts with one name.
        #[error("`hosts[{index}].name`: `{name}` is already the name of `hosts[{first}]`")]
        DuplicateHostName {
            /// The repeated name.
            name: String,
            /// Index of the second occurrence.
            index: usize,
            /// Index of the first occurrence.
            first: usize,
        } = "duplicate-host-name",
        /// Two hosts with one underlay address.
        #[error("host `{host}`: `address` `{address}` is already the address of host `{other}`")]
        DuplicateAddress {
            /// The host with the repeated address.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// The host that has it first.
            other: String,
            /// The repeated address.
            address: IpAddr,
        } = "duplicate-address",
        /// An underlay address that cannot terminate a tunnel.
        #[error("host `{host}`: `address` `{address}` cannot be a tunnel endpoint: {reason}")]
        BadAddress {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// The address.
            address: IpAddr,
            /// Why it is rejected.
            reason: &'static str,
        } = "bad-address",
        /// IPv4 and IPv6 underlay addresses in one fleet.
        #[error("host `{host}`: `address` `{address}` is {family}, but host `{first_host}` has an {first_family} address; a mesh's underlay must be all IPv4 or all IPv6")]
        MixedFamilies {
            /// The host that differs.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// Its address.
            address: IpAddr,
            /// Its family.
            family: &'static str,
            /// The first host of the fleet.
            first_host: String,
            /// The first host's family.
            first_family: &'static str,
        } = "mixed-families",
        /// Two hosts with one explicit or implicit id.
        #[error("host `{host}`: `id` {id} is already the id of host `{other}`")]
        DuplicateHostId {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// The other host with the id.
            other: String,
            /// The id.
            id: u32,
        } = "duplicate-host-id",
        /// Host id 0.
        #[error("host `{host}`: `id` must be at least 1, found 0")]
        HostIdZero {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
        } = "host-id-zero",
        /// A host names a network that does not exist.
        #[error("host `{host}`: `networks` names `{network}`, which is not a network of the inventory")]
        UnknownNetwork {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// The unknown network name.
            network: String,
            /// Its index in the host's `networks` list.
            item: usize,
        } = "unknown-network",
        /// A network joined by fewer than two hosts.
        #[error("network `{network}`: joined by {found} host(s); a mesh needs at least two")]
        NetworkTooSmall {
            /// The network.
            network: String,
            /// Its index in `networks`.
            index: usize,
            /// How many hosts join it.
            found: usize,
        } = "network-too-small",
        /// In per-peer mode, more peers than a Linux bridge has ports: each member's bridge
        /// takes one VXLAN device per peer, and the kernel refuses the port after its last
        /// (`BR_MAX_PORTS`, `Exchange full`) half-way through `apply`.
        #[error("network `{network}`: joined by {found} hosts in per-peer mode, so bridge `{bridge}` of each needs {ports} tunnel ports; a Linux bridge has at most {max} (flood mode needs one port per host)")]
        TooManyBridgePorts {
            /// The network.
            network: String,
            /// Its index in `networks`.
            index: usize,
            /// Its bridge.
            bridge: String,
            /// How many hosts join it.
            found: usize,
            /// Tunnel ports each member's bridge needs (one per peer).
            ports: usize,
            /// Ports a Linux bridge can have.
            max: usize,
        } = "too-many-bridge-ports",
        /// Two networks with one name.
        #[error("`networks[{index}].name`: `{name}` is already the name of `networks[{first}]`")]
        DuplicateNetworkName {
            /// The repeated name.
            name: String,
            /// Index of the second occurrence.
            index: usize,
            /// Index of the first occurrence.
            first: usize,
        } = "duplicate-network-name",
        /// Two networks with one bridge.
        #[error("network `{network}`: `bridge` `{bridge}` is already the bridge of network `{other}`")]
        DuplicateBridge {
            /// The network.
            network: String,
            /// Its index in `networks`.
            index: usize,
            /// The other network.
            other: String,
            /// The bridge name.
            bridge: String,
        } = "duplicate-bridge",
        /// VNI outside 1..=16777215.
        #[error("network `{network}`: `vni` {vni} is outside the valid range 1..=16777215")]
        VniOutOfRange {
            /// The network.
            network: String,
            /// Its index in `networks`.
            index: usize,
            /// The VNI.
            vni: u32,
        } = "vni-out-of-range",
        /// Per-peer VNI range beyond 16777215.
        #[error("network `{network}`: `vni` {vni} leaves no room for the per-peer VNI range: {links} links (host ids up to {max_id}) need VNIs {vni}..={last}, beyond the maximum 16777215")]
        VniRangeOverflow {
            /// The network.
            network: String,
            /// Its index in `networks`.
            index: usize,
            /// The base VNI.
            vni: u32,
            /// Number of VNIs the range needs.
            links: u64,
            /// Largest host id.
            max_id: u32,
            /// Last VNI the range would need.
            last: u64,
        } = "vni-range-overflow",
        /// Two networks' VNIs (ranges, in per-peer mode) overlap.
        #[error("network `{network}`: `vni` range {first}..={last} collides with network `{other}` ({other_first}..={other_last})")]
        VniCollision {
            /// The network.
            network: String,
            /// Its index in `networks`.
            index: usize,
            /// First VNI of its range.
            first: u32,
            /// Last VNI of its range.
            last: u32,
            /// The other network.
            other: String,
            /// First VNI of the other range.
            other_first: u32,
            /// Last VNI of the other range.
            other_last: u32,
        } = "vni-collision",
        /// A network MTU below what containers need.
        #[error("network `{network}`: `mtu` {mtu} is below the minimum {min} ({why})")]
        MtuTooSmall {
            /// The network.
            network: String,
            /// Its index in `networks`.
            index: usize,
            /// The MTU given.
            mtu: u32,
            /// The minimum.
            min: u32,
            /// Why this minimum applies.
            why: &'static str,
        } = "mtu-too-small",
        /// A network MTU above what the underlay allows.
        #[error("network `{network}`: `mtu` {mtu} is above the maximum {max}: host `{host}` has `underlay-mtu` {underlay_mtu} and VXLAN over {family} adds {overhead} bytes")]
        MtuTooLarge {
            /// The network.
            network: String,
            /// Its index in `networks`.
            index: usize,
            /// The MTU given.
            mtu: u32,
            /// The computed maximum.
            max: u32,
            /// The host that limits it.
            host: String,
            /// That host's underlay MTU.
            underlay_mtu: u32,
            /// Underlay family.
            family: &'static str,
            /// Encapsulation overhead.
            overhead: u32,
        } = "mtu-too-large",
        /// A host whose underlay MTU leaves too little room for the overlay.
        #[error("host `{host}`: `underlay-mtu` {underlay_mtu} leaves an overlay MTU of {overlay} for network `{network}`, below the minimum {min} ({why})")]
        UnderlayMtuTooSmall {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// Its underlay MTU.
            underlay_mtu: u32,
            /// The network.
            network: String,
            /// Resulting overlay MTU (may be 0).
            overlay: u32,
            /// The minimum.
            min: u32,
            /// Why this minimum applies.
            why: &'static str,
        } = "underlay-mtu-too-small",
        /// An underlay device that is one of the overlay's own bridges.
        #[error("host `{host}`: `device` `{device}` is the bridge of network `{network}`; tunnels cannot run over the overlay they carry (name the underlay device, e.g. `eth0`)")]
        DeviceIsBridge {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// The device it names.
            device: String,
            /// The network whose bridge that is.
            network: String,
        } = "device-is-bridge",
        /// An underlay MTU above the Linux maximum.
        #[error("host `{host}`: `underlay-mtu` {underlay_mtu} is above the maximum 65535")]
        UnderlayMtuTooLarge {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// Its underlay MTU.
            underlay_mtu: u32,
        } = "underlay-mtu-too-large",
        /// A `[wireguard]` table while `encryption` is not `"wireguard"`.
        #[error("`wireguard`: only applies to `encryption = \"wireguard\"`; the tunnels are in clear (set `encryption = \"wireguard\"` or remove the table)")]
        WireguardWithoutEncryption = "wireguard-without-encryption",
        /// A host without `public-key` while encryption is on.
        #[error("host `{host}`: `public-key` is required with `encryption = \"wireguard\"` (run `vxlan-mesh keygen` on the host and paste the public key it prints)")]
        MissingPublicKey {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
        } = "missing-public-key",
        /// A `public-key` that is not base64 of 32 bytes.
        #[error("host `{host}`: `public-key` `{key}` is not usable: {why}")]
        BadPublicKey {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// The value as written (shortened and escaped; a public key is no secret).
            key: String,
            /// Why it is refused.
            why: String,
        } = "bad-public-key",
        /// Two hosts with one public key (one private key copied to two hosts).
        #[error("host `{host}`: `public-key` `{key}` is already the public key of host `{other}`; every host needs its own key pair")]
        DuplicatePublicKey {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// The host that has it first.
            other: String,
            /// The repeated key.
            key: String,
        } = "duplicate-public-key",
        /// `wireguard.port = 0`.
        #[error("`wireguard.port`: 0 is not a usable UDP port (use 1..65535, usually 51820)")]
        WireguardPortZero = "wireguard-port-zero",
        /// The WireGuard port is the VXLAN port: both sockets cannot listen on it.
        #[error("`wireguard.port`: {port} is also the VXLAN `port`; WireGuard and VXLAN each need their own UDP port")]
        WireguardPortIsVxlanPort {
            /// The port.
            port: u16,
        } = "wireguard-port-is-vxlan-port",
        /// A host id without an address in the inner prefix.
        #[error("host `{host}`: `id` {id} has no address in `wireguard.prefix` `{prefix}`, which holds host ids 1..={max}; use a larger prefix")]
        WireguardPrefixTooSmall {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// Its id.
            id: u32,
            /// The prefix.
            prefix: String,
            /// The largest id the prefix holds.
            max: u128,
        } = "wireguard-prefix-too-small",
        /// An underlay address inside the inner prefix: routes to it would loop through WireGuard.
        #[error("host `{host}`: `address` `{address}` lies in `wireguard.prefix` `{prefix}`; the inner prefix must not hold underlay addresses (its route would send WireGuard's own packets into the tunnel)")]
        WireguardPrefixHoldsUnderlay {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// Its underlay address.
            address: IpAddr,
            /// The prefix.
            prefix: String,
        } = "wireguard-prefix-holds-underlay",
        /// The WireGuard interface name is taken by another object of the mesh.
        #[error("`wireguard.interface` `{interface}` is {taken_by}; the WireGuard interface needs a name of its own")]
        WireguardInterfaceTaken {
            /// The name.
            interface: String,
            /// What has it already, in words.
            taken_by: String,
        } = "wireguard-interface-taken",
        /// An `endpoint` that peers cannot dial.
        #[error("host `{host}`: `endpoint` `{endpoint}` cannot be dialled: {reason}")]
        BadEndpoint {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// The endpoint.
            endpoint: std::net::SocketAddr,
            /// Why it is refused.
            reason: &'static str,
        } = "bad-endpoint",
        /// WireGuard keys or settings on a host while encryption is off.
        #[error("host `{host}`: `{key}` only applies to `encryption = \"wireguard\"` (set it or remove the key)")]
        WireguardKeyWithoutEncryption {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// The key.
            key: Key,
        } = "wireguard-key-without-encryption",
        /// An `[evpn]` table while `mode` is not `"evpn"`.
        #[error("`evpn`: only applies to `mode = \"evpn\"` (set `mode = \"evpn\"` or remove the table)")]
        EvpnWithoutEvpnMode = "evpn-without-evpn-mode",
        /// `route-reflector` on a host while `mode` is not `"evpn"`.
        #[error("host `{host}`: `route-reflector` only applies to `mode = \"evpn\"` (set `mode = \"evpn\"` or remove the key)")]
        RouteReflectorWithoutEvpn {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
        } = "route-reflector-without-evpn",
        /// EVPN mode without any route reflector.
        #[error("`hosts`: `mode = \"evpn\"` needs at least one host with `route-reflector = true` (two, on different failure domains, are recommended)")]
        EvpnNoRouteReflector = "evpn-no-route-reflector",
        /// EVPN mode with WireGuard encryption.
        #[error("`encryption`: `\"wireguard\"` cannot be combined with `mode = \"evpn\"`: every host's WireGuard peer list names every other host, so a new host would need every host re-applied, which EVPN exists to avoid (use `mode = \"flood\"` with encryption, or evpn without)")]
        EvpnWithEncryption = "evpn-with-encryption",
        /// EVPN mode without `[evpn] underlay-prefix`.
        #[error("`evpn.underlay-prefix` is required with `mode = \"evpn\"`: the prefix holding every host's underlay address, from which route reflectors accept BGP sessions and the firewall accepts VXLAN and BGP (e.g. `underlay-prefix = \"198.51.100.0/24\"`)")]
        EvpnMissingUnderlayPrefix {
            /// Whether the inventory has an `[evpn]` table: without one, the error points at
            /// `mode`, the key that asks for it (there is no table to point into).
            table: bool,
        } = "evpn-missing-underlay-prefix",
        /// An underlay prefix of the other address family than the hosts' addresses.
        #[error("`evpn.underlay-prefix` `{prefix}` is {family}, but the underlay is {underlay}")]
        EvpnUnderlayPrefixFamily {
            /// The prefix.
            prefix: String,
            /// Its family.
            family: &'static str,
            /// The underlay's family.
            underlay: &'static str,
        } = "evpn-underlay-prefix-family",
        /// A host whose underlay address is outside the underlay prefix.
        #[error("host `{host}`: `address` `{address}` lies outside `evpn.underlay-prefix` `{prefix}`; route reflectors would refuse its BGP session and the firewall its VXLAN packets")]
        EvpnAddressOutsidePrefix {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// Its address.
            address: IpAddr,
            /// The prefix.
            prefix: String,
        } = "evpn-address-outside-underlay-prefix",
        /// An AS number BGP cannot use.
        #[error("`evpn.asn` {asn} is not usable: {reason}")]
        BadAsn {
            /// The AS number.
            asn: u32,
            /// Why it is refused.
            reason: &'static str,
        } = "bad-asn",
        /// A BGP hold time of 1 or 2 seconds.
        #[error("`evpn.hold-time` {hold_time} is not allowed: BGP's hold time is 0 (no keepalives) or at least 3 seconds")]
        EvpnHoldTimeTooShort {
            /// The hold time.
            hold_time: u16,
        } = "evpn-hold-time-too-short",
        /// A keepalive interval not below the hold time.
        #[error("`evpn.keepalive` {keepalive} must be below `evpn.hold-time` {hold_time}, unless both are 0 (no keepalives)")]
        EvpnKeepaliveNotBelowHoldTime {
            /// The keepalive interval.
            keepalive: u16,
            /// The hold time.
            hold_time: u16,
        } = "evpn-keepalive-not-below-hold-time",
        /// An underlay prefix wider than a site's, without the explicit opt-in.
        #[error("`evpn.underlay-prefix` `{prefix}` is wider than /{min_len}: route reflectors would accept BGP sessions from all of it (and the firewall VXLAN and BGP); give the site's own prefix, or set `allow-wide-underlay-prefix = true` if that is intended")]
        EvpnUnderlayPrefixTooWide {
            /// The prefix.
            prefix: String,
            /// The shortest length accepted without the opt-in.
            min_len: u8,
        } = "evpn-underlay-prefix-too-wide",
        /// A public key that is a point of small order: a key exchange with it has a known result.
        #[error("host `{host}`: `public-key` `{key}` is a low-order Curve25519 point, which no real key pair has: every key exchange with it yields a secret known in advance (run `vxlan-mesh keygen` on the host and paste the public key it prints)")]
        LowOrderPublicKey {
            /// The host.
            host: String,
            /// Its index in `hosts`.
            index: usize,
            /// The key.
            key: String,
        } = "low-order-public-key",
        /// A WireGuard prefix overlapping loopback, multicast or unspecified addresses.
        #[error("`wireguard.prefix` `{prefix}` overlaps {range}; the inner addresses need a unicast prefix of their own (e.g. `10.213.0.0/16` or `fd00:6d65:7368::/64`)")]
        WireguardPrefixReserved {
            /// The prefix.
            prefix: String,
            /// The range it overlaps, in words.
            range: &'static str,
        } = "wireguard-prefix-reserved",
    }
}

impl ValidationError {
    /// The field the broken rule is about: where an operator fixes it.
    ///
    /// ```
    /// use vxlan_mesh_core::Inventory;
    /// let errors = Inventory::from_toml_str(r#"
    ///     [[networks]]
    ///     name = "lan"
    ///     vni = 0
    ///     bridge = "vxbr0"
    /// "#).unwrap().validate().unwrap_err();
    /// let paths: Vec<String> = errors.iter().map(|e| e.path().to_string()).collect();
    /// assert_eq!(paths, ["hosts", "networks[0].vni"]);
    /// ```
    pub fn path(&self) -> FieldPath {
        use ValidationError as E;
        let host = |i: &usize, key| FieldPath::of(Section::Host(*i), key);
        let network = |i: &usize, key| FieldPath::of(Section::Network(*i), key);
        match self {
            E::TooFewHosts { .. } => FieldPath::root(Key::Hosts),
            E::NoNetworks => FieldPath::root(Key::Networks),
            E::PortZero => FieldPath::root(Key::Port),
            E::LoopPreventionWithoutPerPeer => FieldPath::root(Key::LoopPrevention),
            E::BadName { field, .. } => *field,
            E::DuplicateHostName { index, .. } => host(index, Key::Name),
            E::DuplicateAddress { index, .. } | E::BadAddress { index, .. } | E::MixedFamilies { index, .. } => {
                host(index, Key::Address)
            }
            E::DuplicateHostId { index, .. } | E::HostIdZero { index, .. } => host(index, Key::Id),
            E::UnknownNetwork { index, item, .. } => FieldPath::element(Section::Host(*index), Key::Networks, *item),
            E::UnderlayMtuTooSmall { index, .. } | E::UnderlayMtuTooLarge { index, .. } => {
                host(index, Key::UnderlayMtu)
            }
            E::DeviceIsBridge { index, .. } => host(index, Key::Device),
            E::NetworkTooSmall { index, .. }
            | E::DuplicateNetworkName { index, .. }
            | E::TooManyBridgePorts { index, .. } => network(index, Key::Name),
            E::DuplicateBridge { index, .. } => network(index, Key::Bridge),
            E::VniOutOfRange { index, .. } | E::VniRangeOverflow { index, .. } | E::VniCollision { index, .. } => {
                network(index, Key::Vni)
            }
            E::MtuTooSmall { index, .. } | E::MtuTooLarge { index, .. } => network(index, Key::Mtu),
            E::WireguardWithoutEncryption => FieldPath::root(Key::Wireguard),
            E::MissingPublicKey { index, .. }
            | E::BadPublicKey { index, .. }
            | E::DuplicatePublicKey { index, .. }
            | E::LowOrderPublicKey { index, .. } => host(index, Key::PublicKey),
            E::WireguardPortZero | E::WireguardPortIsVxlanPort { .. } => FieldPath::of(Section::Wireguard, Key::Port),
            E::WireguardPrefixTooSmall { .. }
            | E::WireguardPrefixHoldsUnderlay { .. }
            | E::WireguardPrefixReserved { .. } => FieldPath::of(Section::Wireguard, Key::Prefix),
            E::WireguardInterfaceTaken { .. } => FieldPath::of(Section::Wireguard, Key::Interface),
            E::BadEndpoint { index, .. } => host(index, Key::Endpoint),
            E::WireguardKeyWithoutEncryption { index, key, .. } => host(index, *key),
            E::EvpnWithoutEvpnMode => FieldPath::root(Key::Evpn),
            E::RouteReflectorWithoutEvpn { index, .. } => host(index, Key::RouteReflector),
            E::EvpnNoRouteReflector => FieldPath::root(Key::Hosts),
            E::EvpnWithEncryption => FieldPath::root(Key::Encryption),
            E::EvpnMissingUnderlayPrefix { table: false } => FieldPath::root(Key::Mode),
            E::EvpnMissingUnderlayPrefix { table: true }
            | E::EvpnUnderlayPrefixFamily { .. }
            | E::EvpnUnderlayPrefixTooWide { .. } => FieldPath::of(Section::Evpn, Key::UnderlayPrefix),
            E::EvpnAddressOutsidePrefix { index, .. } => host(index, Key::Address),
            E::BadAsn { .. } => FieldPath::of(Section::Evpn, Key::Asn),
            E::EvpnHoldTimeTooShort { .. } => FieldPath::of(Section::Evpn, Key::HoldTime),
            E::EvpnKeepaliveNotBelowHoldTime { .. } => FieldPath::of(Section::Evpn, Key::Keepalive),
        }
    }
}

/// All rules an inventory breaks, in the order they were found.
///
/// ```
/// use vxlan_mesh_core::Inventory;
/// let inv = Inventory::from_toml_str("port = 0").unwrap();
/// let errors = inv.validate().unwrap_err();
/// assert!(errors.iter().any(|e| e.to_string().contains("`port`")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// Iterates over the individual errors.
    ///
    /// ```
    /// use vxlan_mesh_core::{ValidationError, ValidationErrors};
    /// let e = ValidationErrors(vec![ValidationError::NoNetworks]);
    /// assert_eq!(e.iter().count(), 1);
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a ValidationError;
    type IntoIter = std::slice::Iter<'a, ValidationError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "the inventory breaks {n} rule{}:", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Errors when asking a validated fleet for a host's plan.
///
/// ```
/// use vxlan_mesh_core::PlanError;
/// let e = PlanError::UnknownHost { host: "x".into(), known: vec!["a".into()] };
/// assert!(e.to_string().contains("`x`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// No host of that name.
    #[error("no host named `{host}` in the inventory (hosts: {})", known.join(", "))]
    UnknownHost {
        /// The requested name.
        host: String,
        /// The names that exist.
        known: Vec<String>,
    },
}

/// Any error of the pipeline from text to plan.
///
/// Each variant shows its inner error's message as its own and returns that error's source,
/// so that a chain of causes prints every cause once.
///
/// ```
/// let err = vxlan_mesh_core::plan_host_from_toml("port = ", "a").unwrap_err();
/// assert!(matches!(err, vxlan_mesh_core::Error::Parse(_)));
/// assert!(std::error::Error::source(&err).is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a well-formed inventory.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The inventory breaks validation rules.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The plan cannot be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
}
