//! Where a value stands in the inventory: a typed path (`hosts[1].address`) that every error
//! carries, and the positions in the TOML text that the reader records for each path.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};

/// A key of the inventory, as spelled in the TOML file; which tables accept it, and what it
/// means there, is the [`schema`](crate::schema)'s.
///
/// ```
/// use vxlan_mesh_core::Key;
/// assert_eq!(Key::UnderlayMtu.as_str(), "underlay-mtu");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Key {
    /// `port` (top level).
    Port,
    /// `mode` (top level).
    Mode,
    /// `loop-prevention` (top level).
    LoopPrevention,
    /// `firewall` (top level).
    Firewall,
    /// `networks`: the `[[networks]]` tables at the top level, the list of names in a host.
    Networks,
    /// `hosts` (top level).
    Hosts,
    /// `name` of a network or host.
    Name,
    /// `vni` of a network.
    Vni,
    /// `bridge` of a network.
    Bridge,
    /// `mtu` of a network.
    Mtu,
    /// `container-ipv6` of a network.
    ContainerIpv6,
    /// `address` of a host.
    Address,
    /// `device` of a host.
    Device,
    /// `underlay-mtu` of a host.
    UnderlayMtu,
    /// `id` of a host.
    Id,
    /// `encryption` (top level).
    Encryption,
    /// `wireguard`: the `[wireguard]` table at the top level.
    Wireguard,
    /// `prefix` of the `[wireguard]` table.
    Prefix,
    /// `interface` of the `[wireguard]` table.
    Interface,
    /// `public-key` of a host.
    PublicKey,
    /// `endpoint` of a host.
    Endpoint,
    /// `persistent-keepalive` of a host.
    PersistentKeepalive,
    /// `evpn`: the `[evpn]` table at the top level.
    Evpn,
    /// `asn` of the `[evpn]` table.
    Asn,
    /// `keepalive` of the `[evpn]` table.
    Keepalive,
    /// `hold-time` of the `[evpn]` table.
    HoldTime,
    /// `underlay-prefix` of the `[evpn]` table.
    UnderlayPrefix,
    /// `allow-wide-underlay-prefix` of the `[evpn]` table.
    AllowWideUnderlayPrefix,
    /// `route-reflector` of a host.
    RouteReflector,
}

impl Key {
    /// The spelling in the inventory.
    ///
    /// ```
    /// assert_eq!(vxlan_mesh_core::Key::ContainerIpv6.as_str(), "container-ipv6");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Key::Port => "port",
            Key::Mode => "mode",
            Key::LoopPrevention => "loop-prevention",
            Key::Firewall => "firewall",
            Key::Networks => "networks",
            Key::Hosts => "hosts",
            Key::Name => "name",
            Key::Vni => "vni",
            Key::Bridge => "bridge",
            Key::Mtu => "mtu",
            Key::ContainerIpv6 => "container-ipv6",
            Key::Address => "address",
            Key::Device => "device",
            Key::UnderlayMtu => "underlay-mtu",
            Key::Id => "id",
            Key::Encryption => "encryption",
            Key::Wireguard => "wireguard",
            Key::Prefix => "prefix",
            Key::Interface => "interface",
            Key::PublicKey => "public-key",
            Key::Endpoint => "endpoint",
            Key::PersistentKeepalive => "persistent-keepalive",
            Key::Evpn => "evpn",
            Key::Asn => "asn",
            Key::Keepalive => "keepalive",
            Key::HoldTime => "hold-time",
            Key::UnderlayPrefix => "underlay-prefix",
            Key::AllowWideUnderlayPrefix => "allow-wide-underlay-prefix",
            Key::RouteReflector => "route-reflector",
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The part of the inventory a value belongs to.
///
/// ```
/// use vxlan_mesh_core::Section;
/// assert_eq!(Section::Host(2).to_string(), "hosts[2]");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Section {
    /// The top level of the file (`port`, `mode`, ...).
    Root,
    /// The `[[networks]]` table at this index (from 0, in file order).
    Network(usize),
    /// The `[[hosts]]` table at this index (from 0, in file order).
    Host(usize),
    /// The `[wireguard]` table.
    Wireguard,
    /// The `[evpn]` table.
    Evpn,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Section::Root => Ok(()),
            Section::Network(i) => write!(f, "networks[{i}]"),
            Section::Host(i) => write!(f, "hosts[{i}]"),
            Section::Wireguard => f.write_str("wireguard"),
            Section::Evpn => f.write_str("evpn"),
        }
    }
}

/// A typed path to a value of the inventory: a section, optionally one of its keys, and
/// optionally an element of that key's array (`hosts[0].networks[2]`).
///
/// It displays (and serializes) as written in messages: `port`, `networks[0].vni`,
/// `hosts[1].networks[0]`, `hosts[3]`.
///
/// ```
/// use vxlan_mesh_core::{FieldPath, Key, Section};
/// let path = FieldPath::of(Section::Host(1), Key::Address);
/// assert_eq!(path.to_string(), "hosts[1].address");
/// assert_eq!(path.section(), Section::Host(1));
/// assert_eq!(FieldPath::root(Key::Port).to_string(), "port");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath {
    section: Section,
    key: Option<Key>,
    item: Option<usize>,
}

impl FieldPath {
    /// A whole section (`hosts[3]`).
    pub const fn whole(section: Section) -> FieldPath {
        FieldPath {
            section,
            key: None,
            item: None,
        }
    }

    /// A key of the top level (`port`).
    pub const fn root(key: Key) -> FieldPath {
        FieldPath::of(Section::Root, key)
    }

    /// A key of a section (`networks[0].vni`).
    pub const fn of(section: Section, key: Key) -> FieldPath {
        FieldPath {
            section,
            key: Some(key),
            item: None,
        }
    }

    /// An element of a key's array (`hosts[0].networks[2]`).
    pub const fn element(section: Section, key: Key, item: usize) -> FieldPath {
        FieldPath {
            section,
            key: Some(key),
            item: Some(item),
        }
    }

    /// The section the value belongs to.
    pub fn section(&self) -> Section {
        self.section
    }

    /// The key, unless the path is a whole section.
    pub fn key(&self) -> Option<Key> {
        self.key
    }

    /// The index in the key's array, if the path is an element of one.
    pub fn element_index(&self) -> Option<usize> {
        self.item
    }

    /// The path one level up: an element's key, a key's section, the section itself.
    fn parent(&self) -> Option<FieldPath> {
        match (self.key, self.item) {
            (Some(key), Some(_)) => Some(FieldPath::of(self.section, key)),
            (Some(_), None) if self.section != Section::Root => Some(FieldPath::whole(self.section)),
            _ => None,
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.section)?;
        if let Some(key) = self.key {
            if self.section != Section::Root {
                f.write_str(".")?;
            }
            f.write_str(key.as_str())?;
        }
        if let Some(i) = self.item {
            write!(f, "[{i}]")?;
        }
        Ok(())
    }
}

impl Serialize for FieldPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A 1-based line and column (in characters) in the inventory text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Position {
    /// The position of byte offset `at` of `text` (the end of the text if `at` is beyond it).
    ///
    /// ```
    /// use vxlan_mesh_core::Position;
    /// assert_eq!(Position::of_offset("é = 1\nab", 8), Position { line: 2, column: 2 });
    /// ```
    pub fn of_offset(text: &str, at: usize) -> Position {
        let before = text.get(..at).unwrap_or(text);
        Position {
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Where each value of one inventory text stands, by path; recorded while reading it with
/// [`Inventory::from_toml_str_with_positions`](crate::Inventory::from_toml_str_with_positions).
///
/// ```
/// use vxlan_mesh_core::{FieldPath, Inventory, Key, Position};
/// let (inv, positions) = Inventory::from_toml_str_with_positions("mode = \"flood\"\nport = 0\n")?;
/// let errors = inv.validate().unwrap_err();
/// let port = errors.iter().find(|e| e.path() == FieldPath::root(Key::Port)).unwrap();
/// assert_eq!(positions.find(&port.path()), Some(Position { line: 2, column: 8 }));
/// # Ok::<(), vxlan_mesh_core::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions(BTreeMap<FieldPath, Position>);

impl Positions {
    pub(crate) fn insert(&mut self, path: FieldPath, at: Position) {
        self.0.insert(path, at);
    }

    /// The position of the value at `path`; when the value is absent from the text (a key
    /// that takes its default), the position of the nearest enclosing one (the key of an
    /// element, the table of a key). `None` for whole-file facts.
    pub fn find(&self, path: &FieldPath) -> Option<Position> {
        let mut at = Some(*path);
        while let Some(p) = at {
            if let Some(pos) = self.0.get(&p) {
                return Some(*pos);
            }
            at = p.parent();
        }
        None
    }
}
