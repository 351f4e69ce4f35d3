//! The inventory's schema, stated once: every key of every table with its type, default,
//! meaning and the rule codes that concern it.
//!
//! The reader takes the keys each table accepts (and the ones it requires) from here, and the
//! operator's manual, `vxlan-mesh.toml(5)`, is rendered from here, so a key cannot be accepted
//! and left undocumented.
//!
//! ```
//! use vxlan_mesh_core::schema::{self, InventoryTable};
//! use vxlan_mesh_core::Key;
//! let host_keys: Vec<Key> = schema::keys(InventoryTable::Hosts).collect();
//! assert_eq!(host_keys[..2], [Key::Name, Key::Address]);
//! assert!(schema::find(InventoryTable::Root, Key::Port).is_some_and(|k| k.rules.contains(&"port-zero")));
//! ```

use std::fmt;

use crate::evpn::DEFAULT_ASN;
use crate::path::{Key, Section};
use crate::settings::{LoopPrevention, Mode, DEFAULT_UNDERLAY_MTU, DEFAULT_VXLAN_PORT};
use crate::wireguard::{self, Encryption, Prefix};

/// A table of the inventory that holds keys.
///
/// ```
/// use vxlan_mesh_core::schema::InventoryTable;
/// assert_eq!(InventoryTable::Hosts.to_string(), "[[hosts]]");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum InventoryTable {
    /// The top level of the file.
    Root,
    /// The `[wireguard]` table.
    Wireguard,
    /// The `[evpn]` table.
    Evpn,
    /// Each `[[networks]]` table.
    Networks,
    /// Each `[[hosts]]` table.
    Hosts,
}

impl InventoryTable {
    /// Every table, in the order the manual lists them.
    pub const ALL: &'static [InventoryTable] = &[
        InventoryTable::Root,
        InventoryTable::Wireguard,
        InventoryTable::Evpn,
        InventoryTable::Networks,
        InventoryTable::Hosts,
    ];

    /// The table a section of an inventory is one of.
    ///
    /// ```
    /// use vxlan_mesh_core::{schema::InventoryTable, Section};
    /// assert_eq!(InventoryTable::of(Section::Host(3)), InventoryTable::Hosts);
    /// ```
    pub fn of(section: Section) -> InventoryTable {
        match section {
            Section::Root => InventoryTable::Root,
            Section::Wireguard => InventoryTable::Wireguard,
            Section::Evpn => InventoryTable::Evpn,
            Section::Network(_) => InventoryTable::Networks,
            Section::Host(_) => InventoryTable::Hosts,
        }
    }

    /// What the table is for, in one sentence.
    pub fn doc(self) -> &'static str {
        match self {
            InventoryTable::Root => "Settings of the whole fleet.",
            InventoryTable::Wireguard => {
                "Settings of the WireGuard underlay, with `encryption = \"wireguard\"` only; every key is optional."
            }
            InventoryTable::Evpn => "Settings of the BGP EVPN control plane (FRR), with `mode = \"evpn\"` only.",
            InventoryTable::Networks => "One overlay network (an L2 segment) per table; at least one.",
            InventoryTable::Hosts => "One server per table; at least two.",
        }
    }
}

impl fmt::Display for InventoryTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InventoryTable::Root => "top level",
            InventoryTable::Wireguard => "[wireguard]",
            InventoryTable::Evpn => "[evpn]",
            InventoryTable::Networks => "[[networks]]",
            InventoryTable::Hosts => "[[hosts]]",
        })
    }
}

/// The kind of value a key holds.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ValueType {
    /// An integer from 0 to `max` (the reader's range; validation may narrow it).
    Integer {
        /// The largest value the reader accepts.
        max: u64,
    },
    /// `true` or `false`.
    Boolean,
    /// A string.
    String,
    /// One of a set of strings, each with its meaning.
    OneOf(fn() -> Vec<(&'static str, &'static str)>),
    /// An IPv4 or IPv6 address in a string.
    Address,
    /// A network prefix (`10.213.0.0/16`) in a string.
    Prefix,
    /// An address and port (`198.51.100.7:51820`) in a string.
    Endpoint,
    /// An array of strings.
    Strings,
    /// A table (`[wireguard]`).
    Table(InventoryTable),
    /// An array of tables (`[[hosts]]`).
    Tables(InventoryTable),
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueType::Integer { max } => write!(f, "integer (0 to {max})"),
            ValueType::Boolean => f.write_str("boolean"),
            ValueType::String => f.write_str("string"),
            ValueType::OneOf(values) => {
                let list: Vec<String> = values().iter().map(|(v, _)| format!("\"{v}\"")).collect();
                write!(f, "one of {}", list.join(", "))
            }
            ValueType::Address => f.write_str("IP address (string)"),
            ValueType::Prefix => f.write_str("IP prefix (string)"),
            ValueType::Endpoint => f.write_str("address:port (string)"),
            ValueType::Strings => f.write_str("array of strings"),
            ValueType::Table(t) | ValueType::Tables(t) => write!(f, "table {t}"),
        }
    }
}

/// What a key is when the inventory leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Absent {
    /// The key must be given.
    Required,
    /// This value, as written in the inventory (`true`).
    Literal(&'static str),
    /// This string.
    Text(&'static str),
    /// This number.
    Number(u64),
    /// This prefix.
    Prefix(Prefix),
    /// What the sentence says.
    Described(&'static str),
}

impl fmt::Display for Absent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Absent::Required => f.write_str("required"),
            Absent::Literal(v) => f.write_str(v),
            Absent::Text(v) => write!(f, "\"{v}\""),
            Absent::Number(n) => write!(f, "{n}"),
            Absent::Prefix(p) => write!(f, "\"{p}\""),
            Absent::Described(s) => f.write_str(s),
        }
    }
}

/// One key of one table.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct KeyDoc {
    /// The table it belongs to.
    pub table: InventoryTable,
    /// The key.
    pub key: Key,
    /// The kind of value.
    pub value: ValueType,
    /// What the key is when absent.
    pub absent: Absent,
    /// What it means, in a few sentences (backticks mark literal text).
    pub doc: &'static str,
    /// The codes of the validation rules about this key
    /// ([`ValidationError::CODES`](crate::ValidationError::CODES)).
    pub rules: &'static [&'static str],
    /// A value it can take, as written in TOML: the manual's example (a test reads every key
    /// with it).
    pub example: &'static str,
}

const fn key(table: InventoryTable, key: Key, value: ValueType, absent: Absent, doc: &'static str) -> KeyDoc {
    KeyDoc {
        table,
        key,
        value,
        absent,
        doc,
        rules: &[],
        example: "",
    }
}

impl KeyDoc {
    /// The key with its table, as messages name it: `port`, `wireguard.port`, `hosts.address`.
    ///
    /// ```
    /// use vxlan_mesh_core::{schema::{self, InventoryTable}, Key};
    /// assert_eq!(schema::find(InventoryTable::Hosts, Key::Address).map(|k| k.qualified()).as_deref(), Some("hosts.address"));
    /// ```
    pub fn qualified(&self) -> String {
        let table = match self.table {
            InventoryTable::Root => return self.key.to_string(),
            InventoryTable::Wireguard => "wireguard",
            InventoryTable::Evpn => "evpn",
            InventoryTable::Networks => "networks",
            InventoryTable::Hosts => "hosts",
        };
        format!("{table}.{}", self.key)
    }

    const fn rules(mut self, rules: &'static [&'static str]) -> KeyDoc {
        self.rules = rules;
        self
    }

    const fn example(mut self, example: &'static str) -> KeyDoc {
        self.example = example;
        self
    }
}

const U16: ValueType = ValueType::Integer { max: u16::MAX as u64 };
const U32: ValueType = ValueType::Integer { max: u32::MAX as u64 };

fn modes() -> Vec<(&'static str, &'static str)> {
    Mode::ALL.iter().map(|m| (m.as_str(), m.describe())).collect()
}

fn loop_preventions() -> Vec<(&'static str, &'static str)> {
    LoopPrevention::ALL.iter().map(|l| (l.as_str(), l.describe())).collect()
}

fn encryptions() -> Vec<(&'static str, &'static str)> {
    Encryption::ALL.iter().map(|e| (e.as_str(), e.describe())).collect()
}

use InventoryTable::{Evpn, Hosts, Networks, Root, Wireguard};

/// Every key of the inventory, table by table, in the order the manual lists them; the
/// reader accepts exactly these.
pub const KEYS: &[KeyDoc] = &[
    key(Root, Key::Port, U16, Absent::Number(DEFAULT_VXLAN_PORT as u64),
        "UDP destination port of every VXLAN tunnel (IANA's VXLAN port by default; Linux's own default is 8472).")
        .rules(&["port-zero", "wireguard-port-is-vxlan-port"])
        .example("4789"),
    key(Root, Key::Mode, ValueType::OneOf(modes), Absent::Text(Mode::Flood.as_str()), "How the hosts of a network are joined.")
        .rules(&["evpn-missing-underlay-prefix"])
        .example("\"flood\""),
    key(Root, Key::LoopPrevention, ValueType::OneOf(loop_preventions), Absent::Text(LoopPrevention::Isolation.as_str()),
        "How per-peer mode keeps frames from looping between the VXLAN ports of one bridge (with `mode = \"per-peer\"` only).")
        .rules(&["loop-prevention-without-per-peer"])
        .example("\"isolation\""),
    key(Root, Key::Firewall, ValueType::Boolean, Absent::Literal("true"),
        "Whether each host accepts VXLAN (and in evpn mode BGP) packets from the mesh's hosts only (an nftables table the tool owns).")
        .example("true"),
    key(Root, Key::Encryption, ValueType::OneOf(encryptions), Absent::Text(Encryption::None.as_str()),
        "Whether the tunnels run inside WireGuard.")
        .rules(&["evpn-with-encryption"])
        .example("\"none\""),
    key(Root, Key::Wireguard, ValueType::Table(Wireguard), Absent::Described("all defaults"),
        "Settings of the WireGuard underlay.")
        .rules(&["wireguard-without-encryption"])
        .example("{}"),
    key(Root, Key::Evpn, ValueType::Table(Evpn), Absent::Described("all defaults (but `underlay-prefix` is required in evpn mode)"),
        "Settings of the BGP EVPN control plane.")
        .rules(&["evpn-without-evpn-mode"])
        .example("{}"),
    key(Root, Key::Networks, ValueType::Tables(Networks), Absent::Required, "The overlay networks.")
        .rules(&["no-networks"])
        .example("[]"),
    key(Root, Key::Hosts, ValueType::Tables(Hosts), Absent::Required, "The servers of the mesh.")
        .rules(&["too-few-hosts", "evpn-no-route-reflector"])
        .example("[]"),
    key(Wireguard, Key::Prefix, ValueType::Prefix, Absent::Prefix(wireguard::DEFAULT_PREFIX),
        "Prefix the hosts' inner (WireGuard) addresses come from: host id n gets the n-th address. It must not hold underlay addresses.")
        .rules(&["wireguard-prefix-too-small", "wireguard-prefix-holds-underlay", "wireguard-prefix-reserved"])
        .example("\"10.213.0.0/16\""),
    key(Wireguard, Key::Port, U16, Absent::Number(wireguard::DEFAULT_WIREGUARD_PORT as u64),
        "UDP port WireGuard listens on; not the VXLAN `port`.")
        .rules(&["wireguard-port-zero", "wireguard-port-is-vxlan-port"])
        .example("51820"),
    key(Wireguard, Key::Interface, ValueType::String, Absent::Text(wireguard::DEFAULT_INTERFACE),
        "Name of the WireGuard interface.")
        .rules(&["bad-name", "wireguard-interface-taken"])
        .example("\"vxmwg0\""),
    key(Evpn, Key::Asn, U32, Absent::Number(DEFAULT_ASN as u64),
        "The fleet's internal BGP autonomous system number (not 0, not 23456).")
        .rules(&["bad-asn"])
        .example("65000"),
    key(Evpn, Key::UnderlayPrefix, ValueType::Prefix, Absent::Described("required in evpn mode"),
        "The prefix every host's underlay address lies in: route reflectors accept BGP sessions from it, and the firewall accepts VXLAN and BGP from it.")
        .rules(&["evpn-missing-underlay-prefix", "evpn-underlay-prefix-family", "evpn-address-outside-underlay-prefix", "evpn-underlay-prefix-too-wide"])
        .example("\"198.51.100.0/24\""),
    key(Evpn, Key::AllowWideUnderlayPrefix, ValueType::Boolean, Absent::Literal("false"),
        "Accept an `underlay-prefix` wider than /16 (IPv4) or /48 (IPv6): route reflectors then accept BGP sessions, and the firewall VXLAN and BGP, from all of it.")
        .example("true"),
    key(Evpn, Key::Keepalive, U16, Absent::Described("a third of `hold-time`, or FRR's default"),
        "BGP keepalive interval in seconds; below `hold-time` unless both are 0.")
        .rules(&["evpn-keepalive-not-below-hold-time"])
        .example("10"),
    key(Evpn, Key::HoldTime, U16, Absent::Described("three times `keepalive`, or FRR's default"),
        "BGP hold time in seconds: 0 (no keepalives) or at least 3.")
        .rules(&["evpn-hold-time-too-short"])
        .example("30"),
    key(Networks, Key::Name, ValueType::String, Absent::Required,
        "Name of the network, unique; used in ownership marks and generated file names.")
        .rules(&["bad-name", "duplicate-network-name", "network-too-small", "too-many-bridge-ports"])
        .example("\"lan\""),
    key(Networks, Key::Vni, U32, Absent::Required,
        "VXLAN network identifier (1 to 16777215); in per-peer mode the first of the network's VNI range, which must not overlap another network's.")
        .rules(&["vni-out-of-range", "vni-range-overflow", "vni-collision"])
        .example("100"),
    key(Networks, Key::Bridge, ValueType::String, Absent::Required,
        "The bridge containers attach to on every host (an interface name, unique per network).")
        .rules(&["bad-name", "duplicate-bridge"])
        .example("\"vxbr0\""),
    key(Networks, Key::Mtu, U32, Absent::Described("the largest the underlay allows"),
        "MTU containers use: at most the smallest `underlay-mtu` minus the VXLAN (and WireGuard) overhead.")
        .rules(&["mtu-too-small", "mtu-too-large"])
        .example("1400"),
    key(Networks, Key::ContainerIpv6, ValueType::Boolean, Absent::Literal("true"),
        "Whether containers on this network use IPv6, which needs an MTU of at least 1280.")
        .example("true"),
    key(Hosts, Key::Name, ValueType::String, Absent::Required, "Host name, unique in the fleet; `--host` takes it.")
        .rules(&["bad-name", "duplicate-host-name"])
        .example("\"lxd1\""),
    key(Hosts, Key::Address, ValueType::Address, Absent::Required,
        "Underlay address the tunnels start and end at; all hosts IPv4 or all IPv6.")
        .rules(&["duplicate-address", "bad-address", "mixed-families", "evpn-address-outside-underlay-prefix"])
        .example("\"192.0.2.1\""),
    key(Hosts, Key::Device, ValueType::String, Absent::Described("unbound"),
        "Underlay device the tunnels are bound to; never an overlay bridge.")
        .rules(&["bad-name", "device-is-bridge"])
        .example("\"eth0\""),
    key(Hosts, Key::UnderlayMtu, U32, Absent::Number(DEFAULT_UNDERLAY_MTU as u64),
        "MTU of the host's underlay path (at most 65535).")
        .rules(&["underlay-mtu-too-small", "underlay-mtu-too-large"])
        .example("1500"),
    key(Hosts, Key::Id, U32, Absent::Described("the smallest id not used by the hosts listed before it"),
        "Stable host id (at least 1, unique) that per-peer VNIs and WireGuard addresses derive from; give explicit ids before removing hosts from the middle.")
        .rules(&["duplicate-host-id", "host-id-zero", "wireguard-prefix-too-small", "vni-range-overflow"])
        .example("1"),
    key(Hosts, Key::Networks, ValueType::Strings, Absent::Described("all networks"), "Names of the networks this host joins.")
        .rules(&["unknown-network", "network-too-small"])
        .example("[\"lan\"]"),
    key(Hosts, Key::PublicKey, ValueType::String, Absent::Described("required with `encryption = \"wireguard\"`"),
        "The host's WireGuard public key in base64, as `vxlan-mesh keygen` prints it. Never a private key.")
        .rules(&["missing-public-key", "bad-public-key", "duplicate-public-key", "low-order-public-key", "wireguard-key-without-encryption"])
        .example("\"yqLoGkczmD/xXZPf6IcZm07lVt+bJFwpIj62fkJt23o=\""),
    key(Hosts, Key::Endpoint, ValueType::Endpoint, Absent::Described("`address` and the WireGuard `port`"),
        "Address and port the other hosts send WireGuard packets to (a host behind NAT or a port forward).")
        .rules(&["bad-endpoint", "wireguard-key-without-encryption"])
        .example("\"198.51.100.7:51820\""),
    key(Hosts, Key::PersistentKeepalive, U16, Absent::Described("none"),
        "Seconds between keepalive packets this host's peers send it, to keep NAT mappings open; 0 is none.")
        .rules(&["wireguard-key-without-encryption"])
        .example("25"),
    key(Hosts, Key::RouteReflector, ValueType::Boolean, Absent::Literal("false"),
        "Whether the host is a BGP route reflector (with `mode = \"evpn\"` only; at least one is required, two on different failure domains are recommended).")
        .rules(&["route-reflector-without-evpn", "evpn-no-route-reflector"])
        .example("true"),
];

/// The keys `table` accepts, in the manual's order.
pub fn keys(table: InventoryTable) -> impl Iterator<Item = Key> {
    docs(table).map(|k| k.key)
}

/// The documentation of every key of `table`.
pub fn docs(table: InventoryTable) -> impl Iterator<Item = &'static KeyDoc> {
    KEYS.iter().filter(move |k| k.table == table)
}

/// The documentation of `key` in `table`, if the table has it.
pub fn find(table: InventoryTable, key: Key) -> Option<&'static KeyDoc> {
    docs(table).find(|k| k.key == key)
}

/// The keys `table` requires.
pub fn required(table: InventoryTable) -> impl Iterator<Item = Key> {
    docs(table).filter(|k| k.absent == Absent::Required).map(|k| k.key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Inventory, ParseProblem, ValidationError};

    /// A minimal inventory with `key = value` written in `table`.
    fn with(doc: &KeyDoc, value: &str) -> String {
        let line = format!("{} = {value}\n", doc.key);
        match doc.table {
            InventoryTable::Root => line,
            InventoryTable::Wireguard => format!("[wireguard]\n{line}"),
            InventoryTable::Evpn => format!("[evpn]\n{line}"),
            InventoryTable::Networks => {
                let mut t = String::from("[[networks]]\n");
                for (k, v) in [("name", "\"lan\""), ("vni", "1"), ("bridge", "\"br\"")] {
                    if k != doc.key.as_str() {
                        t.push_str(&format!("{k} = {v}\n"));
                    }
                }
                t + &line
            }
            InventoryTable::Hosts => {
                let mut t = String::from("[[hosts]]\n");
                for (k, v) in [("name", "\"a\""), ("address", "\"192.0.2.1\"")] {
                    if k != doc.key.as_str() {
                        t.push_str(&format!("{k} = {v}\n"));
                    }
                }
                t + &line
            }
        }
    }

    #[test]
    fn the_reader_reads_every_key_with_its_example() {
        for doc in KEYS {
            let text = with(doc, doc.example);
            assert!(
                Inventory::from_toml_str(&text).is_ok(),
                "{} {}: {text}",
                doc.table,
                doc.key
            );
        }
    }

    #[test]
    fn integer_ranges_are_the_readers() {
        for doc in KEYS {
            if let ValueType::Integer { max } = doc.value {
                assert!(
                    Inventory::from_toml_str(&with(doc, &max.to_string())).is_ok(),
                    "{}",
                    doc.key
                );
                let over = Inventory::from_toml_str(&with(doc, &(max + 1).to_string()));
                assert_eq!(
                    over.map_err(|e| e.problem),
                    Err(ParseProblem::OutOfRange),
                    "{}",
                    doc.key
                );
            }
        }
    }

    #[test]
    fn every_value_of_a_choice_is_read() {
        for doc in KEYS {
            if let ValueType::OneOf(values) = doc.value {
                for (v, _) in values() {
                    let text = with(doc, &format!("\"{v}\""));
                    assert!(Inventory::from_toml_str(&text).is_ok(), "{text}");
                }
                let text = with(doc, "\"no-such-value\"");
                assert_eq!(
                    Inventory::from_toml_str(&text).map_err(|e| e.problem),
                    Err(ParseProblem::BadValue)
                );
            }
        }
    }

    #[test]
    fn rule_codes_are_real_and_every_rule_concerns_a_key() {
        let listed: Vec<&str> = KEYS.iter().flat_map(|k| k.rules.iter().copied()).collect();
        for code in &listed {
            assert!(ValidationError::CODES.contains(code), "{code} is not a rule");
        }
        for code in ValidationError::CODES {
            assert!(listed.contains(code), "no key lists the rule {code}");
        }
    }

    #[test]
    fn keys_are_unique_per_table_and_tables_are_reachable() {
        for table in InventoryTable::ALL {
            let mut seen: Vec<Key> = keys(*table).collect();
            let n = seen.len();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), n, "{table}");
            assert!(n > 0, "{table}");
            let reachable = *table == InventoryTable::Root
                || KEYS
                    .iter()
                    .any(|k| matches!(k.value, ValueType::Table(t) | ValueType::Tables(t) if t == *table));
            assert!(reachable, "{table}");
        }
    }
}
