//! Errors of parsing, validation and planning. Every message names the field and the reason,
//! with values in backticks, so that an operator can fix the inventory without reading code.

use std::fmt;
use std::net::IpAddr;

/// The inventory text is not valid TOML or does not match the schema.
///
/// ```
/// use vxlan_mesh_core::Inventory;
/// let err = Inventory::from_toml_str("port = \"x\"").unwrap_err();
/// assert_eq!(err.line, Some(1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// What is wrong, as reported by the TOML reader.
    pub message: String,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// 1-based column of the problem, when known.
    pub column: Option<usize>,
}

impl ParseError {
    pub(crate) fn from_toml(text: &str, err: &toml::de::Error) -> Self {
        let (line, column) = match err.span() {
            Some(span) => {
                let before = text.get(..span.start).unwrap_or(text);
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        ParseError {
            // The reader quotes keys and values as written: escape what could forge lines.
            message: crate::names::shown_message(err.message().trim_end()),
            line,
            column,
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

/// One broken rule of the inventory, naming the host or network, the field and the reason.
///
/// ```
/// use vxlan_mesh_core::ValidationError;
/// let e = ValidationError::PortZero;
/// assert!(e.to_string().contains("`port`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// Fewer than two hosts.
    #[error("`hosts`: a mesh needs at least two hosts, found {found}")]
    TooFewHosts {
        /// Number of hosts in the inventory.
        found: usize,
    },
    /// No `[[networks]]`.
    #[error("`networks`: at least one network is required")]
    NoNetworks,
    /// `port = 0`.
    #[error("`port`: 0 is not a usable UDP port (use 1..65535, usually 4789)")]
    PortZero,
    /// `loop-prevention` given while `mode` is not per-peer.
    #[error("`loop-prevention`: only applies to `mode = \"per-peer\"`; flood mode is loop-free by construction (remove the key or change `mode`)")]
    LoopPreventionWithoutPerPeer,
    /// A name that cannot be used.
    #[error("`{field}` = `{value}`: {problem}")]
    BadName {
        /// The field path, e.g. `hosts[2].device` or `networks[0].bridge`.
        field: String,
        /// The value as written (control characters escaped).
        value: String,
        /// Why it is rejected.
        problem: NameProblem,
    },
    /// Two hosts with one name.
    #[error("`hosts[{index}].name`: `{name}` is already the name of `hosts[{first}]`")]
    DuplicateHostName {
        /// The repeated name.
        name: String,
        /// Index of the second occurrence.
        index: usize,
        /// Index of the first occurrence.
        first: usize,
    },
    /// Two hosts with one underlay address.
    #[error("host `{host}`: `address` `{address}` is already the address of host `{other}`")]
    DuplicateAddress {
        /// The host with the repeated address.
        host: String,
        /// The host that has it first.
        other: String,
        /// The repeated address.
        address: IpAddr,
    },
    /// An underlay address that cannot terminate a tunnel.
    #[error("host `{host}`: `address` `{address}` cannot be a tunnel endpoint: {reason}")]
    BadAddress {
        /// The host.
        host: String,
        /// The address.
        address: IpAddr,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// IPv4 and IPv6 underlay addresses in one fleet.
    #[error("host `{host}`: `address` `{address}` is {family}, but host `{first_host}` has an {first_family} address; a mesh's underlay must be all IPv4 or all IPv6")]
    MixedFamilies {
        /// The host that differs.
        host: String,
        /// Its address.
        address: IpAddr,
        /// Its family.
        family: &'static str,
        /// The first host of the fleet.
        first_host: String,
        /// The first host's family.
        first_family: &'static str,
    },
    /// Two hosts with one explicit or implicit id.
    #[error("host `{host}`: `id` {id} is already the id of host `{other}`")]
    DuplicateHostId {
        /// The host.
        host: String,
        /// The other host with the id.
        other: String,
        /// The id.
        id: u32,
    },
    /// Host id 0.
    #[error("host `{host}`: `id` must be at least 1, found 0")]
    HostIdZero {
        /// The host.
        host: String,
    },
    /// A host names a network that does not exist.
    #[error("host `{host}`: `networks` names `{network}`, which is not a network of the inventory")]
    UnknownNetwork {
        /// The host.
        host: String,
        /// The unknown network name.
        network: String,
    },
    /// A network joined by fewer than two hosts.
    #[error("network `{network}`: joined by {found} host(s); a mesh needs at least two")]
    NetworkTooSmall {
        /// The network.
        network: String,
        /// How many hosts join it.
        found: usize,
    },
    /// Two networks with one name.
    #[error("`networks[{index}].name`: `{name}` is already the name of `networks[{first}]`")]
    DuplicateNetworkName {
        /// The repeated name.
        name: String,
        /// Index of the second occurrence.
        index: usize,
        /// Index of the first occurrence.
        first: usize,
    },
    /// Two networks with one bridge.
    #[error("network `{network}`: `bridge` `{bridge}` is already the bridge of network `{other}`")]
    DuplicateBridge {
        /// The network.
        network: String,
        /// The other network.
        other: String,
        /// The bridge name.
        bridge: String,
    },
    /// VNI outside 1..=16777215.
    #[error("network `{network}`: `vni` {vni} is outside the valid range 1..=16777215")]
    VniOutOfRange {
        /// The network.
        network: String,
        /// The VNI.
        vni: u32,
    },
    /// Per-peer VNI range beyond 16777215.
    #[error("network `{network}`: `vni` {vni} leaves no room for the per-peer VNI range: {links} links (host ids up to {max_id}) need VNIs {vni}..={last}, beyond the maximum 16777215")]
    VniRangeOverflow {
        /// The network.
        network: String,
        /// The base VNI.
        vni: u32,
        /// Number of VNIs the range needs.
        links: u64,
        /// Largest host id.
        max_id: u32,
        /// Last VNI the range would need.
        last: u64,
    },
    /// Two networks' VNIs (ranges, in per-peer mode) overlap.
    #[error("network `{network}`: `vni` range {first}..={last} collides with network `{other}` ({other_first}..={other_last})")]
    VniCollision {
        /// The network.
        network: String,
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
    },
    /// A network MTU below what containers need.
    #[error("network `{network}`: `mtu` {mtu} is below the minimum {min} ({why})")]
    MtuTooSmall {
        /// The network.
        network: String,
        /// The MTU given.
        mtu: u32,
        /// The minimum.
        min: u32,
        /// Why this minimum applies.
        why: &'static str,
    },
    /// A network MTU above what the underlay allows.
    #[error("network `{network}`: `mtu` {mtu} is above the maximum {max}: host `{host}` has `underlay-mtu` {underlay_mtu} and VXLAN over {family} adds {overhead} bytes")]
    MtuTooLarge {
        /// The network.
        network: String,
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
    },
    /// A host whose underlay MTU leaves too little room for the overlay.
    #[error("host `{host}`: `underlay-mtu` {underlay_mtu} leaves an overlay MTU of {overlay} for network `{network}`, below the minimum {min} ({why})")]
    UnderlayMtuTooSmall {
        /// The host.
        host: String,
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
    },
    /// An underlay device that is one of the overlay's own bridges.
    #[error("host `{host}`: `device` `{device}` is the bridge of network `{network}`; tunnels cannot run over the overlay they carry (name the underlay device, e.g. `eth0`)")]
    DeviceIsBridge {
        /// The host.
        host: String,
        /// The device it names.
        device: String,
        /// The network whose bridge that is.
        network: String,
    },
    /// An underlay MTU above the Linux maximum.
    #[error("host `{host}`: `underlay-mtu` {underlay_mtu} is above the maximum 65535")]
    UnderlayMtuTooLarge {
        /// The host.
        host: String,
        /// Its underlay MTU.
        underlay_mtu: u32,
    },
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
/// ```
/// let err = vxlan_mesh_core::plan_host_from_toml("port = ", "a").unwrap_err();
/// assert!(matches!(err, vxlan_mesh_core::Error::Parse(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not a well-formed inventory.
    #[error("invalid inventory syntax: {0}")]
    Parse(#[from] ParseError),
    /// The inventory breaks validation rules.
    #[error("{0}")]
    Invalid(#[from] ValidationErrors),
    /// The plan cannot be made.
    #[error("{0}")]
    Plan(#[from] PlanError),
}
