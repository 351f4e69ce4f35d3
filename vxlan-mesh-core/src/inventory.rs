//! The fleet inventory as written by the operator: one TOML file for all servers.
//!
//! These types mirror the file one to one and carry no derived facts; call
//! [`Inventory::validate`] to obtain a [`Fleet`](crate::Fleet) that the planner accepts.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use serde::Serialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{ParseError, ParseProblem};
use crate::names::shown_message;
use crate::path::{FieldPath, Key, Position, Positions, Section};
use crate::schema::{self, InventoryTable};
use crate::wireguard::{Encryption, Prefix};

/// The settings' values the schema documents too (a module of their own, so that the
/// reader's use of the schema and the schema's use of them make no cycle).
pub(crate) use crate::settings::{LoopPrevention, Mode, DEFAULT_UNDERLAY_MTU, DEFAULT_VXLAN_PORT};

/// The whole fleet: global settings, the overlay networks and the hosts.
///
/// ```
/// use vxlan_mesh_core::Inventory;
///
/// let inv = Inventory::from_toml_str(r#"
///     [[networks]]
///     name = "lan"
///     vni = 100
///     bridge = "vxbr0"
///
///     [[hosts]]
///     name = "a"
///     address = "192.0.2.1"
///
///     [[hosts]]
///     name = "b"
///     address = "192.0.2.2"
/// "#).unwrap();
/// assert_eq!(inv.hosts.len(), 2);
/// assert_eq!(inv.port, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Inventory {
    /// UDP destination port of every tunnel; [`DEFAULT_VXLAN_PORT`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// How hosts are joined; [`Mode::Flood`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Loop prevention in per-peer mode; [`LoopPrevention::Isolation`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_prevention: Option<LoopPrevention>,
    /// Whether to accept VXLAN traffic from mesh peers only; `true` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firewall: Option<bool>,
    /// Whether tunnels run inside WireGuard; [`Encryption::None`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// The `[wireguard]` table: settings of the WireGuard underlay (with
    /// `encryption = "wireguard"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wireguard: Option<WireguardSpec>,
    /// The `[evpn]` table: settings of the BGP EVPN control plane (with `mode = "evpn"`
    /// only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evpn: Option<EvpnSpec>,
    /// The overlay L2 segments.
    #[serde(default)]
    pub networks: Vec<NetworkSpec>,
    /// The servers joined by the mesh.
    #[serde(default)]
    pub hosts: Vec<HostSpec>,
}

/// The `[wireguard]` table: fleet-wide settings of the WireGuard underlay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct WireguardSpec {
    /// Prefix the hosts' inner (WireGuard) addresses come from: host id `n` gets the `n`-th
    /// address; [`DEFAULT_PREFIX`](crate::wireguard::DEFAULT_PREFIX) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<Prefix>,
    /// UDP port WireGuard listens on; [`DEFAULT_WIREGUARD_PORT`](crate::wireguard::DEFAULT_WIREGUARD_PORT) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Name of the WireGuard interface;
    /// [`DEFAULT_INTERFACE`](crate::wireguard::DEFAULT_INTERFACE) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
}

/// The `[evpn]` table: fleet-wide settings of the BGP EVPN control plane.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct EvpnSpec {
    /// The fleet's (internal) BGP autonomous system number;
    /// [`DEFAULT_ASN`](crate::DEFAULT_ASN) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// The prefix every host's underlay address lies in: route reflectors accept BGP
    /// sessions from it, and the firewall accepts VXLAN and BGP from it (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underlay_prefix: Option<Prefix>,
    /// Accepts an `underlay_prefix` shorter than /16 (IPv4) or /48 (IPv6), what one site's
    /// underlay rarely exceeds: route reflectors then accept BGP sessions from that whole range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_wide_underlay_prefix: Option<bool>,
    /// BGP keepalive interval in seconds; a third of `hold_time` when only that is given,
    /// FRR's default when both are absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<u16>,
    /// BGP hold time in seconds; three times `keepalive` when only that is given, FRR's
    /// default when both are absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<u16>,
}

/// One overlay network (an L2 segment) as written in `[[networks]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NetworkSpec {
    /// Name of the network, used in ownership marks and generated file names.
    pub name: String,
    /// VXLAN network identifier; in per-peer mode the first of the network's VNI range.
    pub vni: u32,
    /// The bridge containers attach to on every host.
    pub bridge: String,
    /// MTU containers use; the largest the underlay allows when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Whether containers on this network use IPv6 (which needs an MTU of at least 1280);
    /// `true` when absent, as Linux enables IPv6 on every interface by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_ipv6: Option<bool>,
}

/// One server as written in `[[hosts]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct HostSpec {
    /// Host name, unique in the fleet.
    pub name: String,
    /// Underlay address (IPv4 or IPv6) the tunnels start and end at.
    pub address: IpAddr,
    /// Underlay device the tunnels are bound to; unbound when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// MTU of the underlay path; [`DEFAULT_UNDERLAY_MTU`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underlay_mtu: Option<u32>,
    /// Stable host id that per-peer VNIs derive from. When absent, the host takes the
    /// smallest id not used by hosts listed before it (so appending hosts never changes
    /// existing links; give explicit ids before removing hosts from the middle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// Names of the networks this host joins; all networks when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<String>>,
    /// The host's WireGuard public key in base64 (required with `encryption = "wireguard"`;
    /// checked by validation). Never a private key: those stay in a file on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Address and port the other hosts send WireGuard packets to, when not `address` and
    /// the WireGuard port (a host behind NAT or a port forward).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<SocketAddr>,
    /// Seconds between keepalive packets this host's peers send it (keeps NAT mappings
    /// open); none when absent or 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_keepalive: Option<u16>,
    /// Whether the host is a BGP route reflector (with `mode = "evpn"` only); `false` when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_reflector: Option<bool>,
}

impl Inventory {
    /// Parses an inventory from TOML text, rejecting unknown keys.
    ///
    /// The error names the field and the kind of value it must hold, and carries the line
    /// and column of the offending key or value.
    ///
    /// ```
    /// use vxlan_mesh_core::Inventory;
    /// let err = Inventory::from_toml_str("prot = 4789").unwrap_err();
    /// assert!(err.to_string().contains("prot"));
    /// ```
    pub fn from_toml_str(text: &str) -> Result<Self, ParseError> {
        Ok(Self::from_toml_str_with_positions(text)?.0)
    }

    /// As [`Inventory::from_toml_str`], and also where each value stands in `text`, to point
    /// the errors of [`Inventory::validate`] at a line and column by their
    /// [`path`](crate::ValidationError::path).
    ///
    /// ```
    /// use vxlan_mesh_core::{FieldPath, Inventory, Key, Position, Section};
    /// let (inv, positions) = Inventory::from_toml_str_with_positions("[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n")?;
    /// assert_eq!(inv.hosts.len(), 1);
    /// let at = positions.find(&FieldPath::of(Section::Host(0), Key::Address));
    /// assert_eq!(at, Some(Position { line: 3, column: 11 }));
    /// # Ok::<(), vxlan_mesh_core::ParseError>(())
    /// ```
    pub fn from_toml_str_with_positions(text: &str) -> Result<(Self, Positions), ParseError> {
        let doc = DeTable::parse(text).map_err(|e| {
            let at = e.span().map(|s| Position::of_offset(text, s.start));
            // The TOML reader quotes keys and values as written: escape what could forge lines.
            ParseError::new(ParseProblem::Syntax, None, shown_message(e.message().trim_end()), at)
        })?;
        let mut reader = Reader::new(text);
        // Tables with errors are left out of the inventory; it is only used without errors.
        let inventory = reader.root(doc.get_ref());
        match reader.errors.into_iter().min_by_key(|e| (e.line, e.column)) {
            None => Ok((inventory, reader.positions)),
            Some(first) => Err(first),
        }
    }

    /// The inventory of an empty file: no networks, no hosts, every setting absent.
    pub(crate) fn empty() -> Inventory {
        Inventory {
            port: None,
            mode: None,
            loop_prevention: None,
            firewall: None,
            encryption: None,
            wireguard: None,
            evpn: None,
            networks: Vec::new(),
            hosts: Vec::new(),
        }
    }

    /// Serializes the inventory back to TOML.
    ///
    /// ```
    /// use vxlan_mesh_core::Inventory;
    /// let inv = Inventory::from_toml_str("port = 8472").unwrap();
    /// assert!(inv.to_toml_string().unwrap().contains("port = 8472"));
    /// ```
    pub fn to_toml_string(&self) -> Result<String, ParseError> {
        toml::to_string(self).map_err(|e| ParseError::new(ParseProblem::Syntax, None, e.to_string(), None))
    }
}

type Value<'i> = Spanned<DeValue<'i>>;

/// Reads the TOML document into an [`Inventory`], key by key, so that every error can name
/// the field and the kind of value it must hold in words, and records where each value
/// stands. Errors are collected; the first in the file is reported.
struct Reader<'t> {
    text: &'t str,
    /// Byte offset of the start of every line, to turn spans into positions without
    /// rescanning the text for each value.
    line_starts: Vec<usize>,
    positions: Positions,
    errors: Vec<ParseError>,
}

impl<'t> Reader<'t> {
    fn new(text: &'t str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Reader {
            text,
            line_starts,
            positions: Positions::default(),
            errors: Vec::new(),
        }
    }

    fn at(&self, span: &Range<usize>) -> Position {
        let line = self.line_starts.partition_point(|&s| s <= span.start).max(1);
        let start = self.line_starts[line - 1];
        let column = self.text.get(start..span.start).map_or(0, |l| l.chars().count()) + 1;
        Position { line, column }
    }

    fn fail(&mut self, problem: ParseProblem, path: Option<FieldPath>, message: String, span: &Range<usize>) {
        let at = self.at(span);
        self.errors.push(ParseError::new(problem, path, message, Some(at)));
    }

    fn wrong(&mut self, path: FieldPath, expected: &str, value: &Value<'_>) {
        let message = format!("`{path}` must be {expected}, got {}", got(value.get_ref()));
        self.fail(ParseProblem::WrongType, Some(path), message, &value.span());
    }

    /// The values of `table`'s known keys (the schema's keys of its kind of table), and
    /// whether it has others; unknown keys are errors naming the allowed ones.
    fn fields<'a, 'i>(&mut self, section: Section, table: &'a DeTable<'i>) -> (Vec<(Key, &'a Value<'i>)>, bool) {
        let allowed: Vec<Key> = schema::keys(InventoryTable::of(section)).collect();
        let mut out = Vec::new();
        let mut unknown = false;
        for (key, value) in table.iter() {
            match allowed.iter().find(|k| k.as_str() == key.get_ref()) {
                Some(&k) => {
                    let path = FieldPath::of(section, k);
                    let at = self.at(&value.span());
                    self.positions.insert(path, at);
                    out.push((k, value));
                }
                None => {
                    unknown = true;
                    let list: Vec<String> = allowed.iter().map(|k| format!("`{k}`")).collect();
                    let within = match section {
                        Section::Root => String::new(),
                        _ => format!(" in `{section}`"),
                    };
                    let hint = allowed
                        .iter()
                        .find(|k| is_typo(key.get_ref(), k.as_str()))
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default();
                    let message = format!(
                        "unknown key `{}`{within}{hint}; the allowed keys are {}",
                        key.get_ref().escape_debug(),
                        list.join(", ")
                    );
                    let path = (section != Section::Root).then_some(FieldPath::whole(section));
                    self.fail(ParseProblem::UnknownKey, path, message, &key.span());
                }
            }
        }
        (out, unknown)
    }

    fn root(&mut self, doc: &DeTable<'_>) -> Inventory {
        let mut inv = Inventory::empty();
        for (key, value) in self.fields(Section::Root, doc).0 {
            let path = FieldPath::root(key);
            match key {
                Key::Port => inv.port = self.integer(path, value, u16::MAX.into()).map(|p| p as u16),
                Key::Mode => inv.mode = self.one_of(path, value, Mode::ALL, |m| m.as_str()),
                Key::LoopPrevention => {
                    inv.loop_prevention = self.one_of(path, value, LoopPrevention::ALL, |l| l.as_str())
                }
                Key::Firewall => inv.firewall = self.boolean(path, value),
                Key::Encryption => inv.encryption = self.one_of(path, value, Encryption::ALL, |e| e.as_str()),
                Key::Wireguard => inv.wireguard = self.wireguard(value),
                Key::Evpn => inv.evpn = self.evpn(value),
                Key::Networks => {
                    for (section, t) in self.tables(key, value, Section::Network, "network") {
                        inv.networks.extend(self.network(section, t));
                    }
                }
                Key::Hosts => {
                    for (section, t) in self.tables(key, value, Section::Host, "host") {
                        inv.hosts.extend(self.host(section, t));
                    }
                }
                _ => {}
            }
        }
        inv
    }

    fn network(&mut self, section: Section, table: &Value<'_>) -> Option<NetworkSpec> {
        let t = table.get_ref().as_table()?;
        let at = self.at(&table.span());
        self.positions.insert(FieldPath::whole(section), at);
        let (mut name, mut vni, mut bridge, mut mtu, mut container_ipv6) = (None, None, None, None, None);
        let (fields, unknown) = self.fields(section, t);
        for (key, value) in fields {
            let path = FieldPath::of(section, key);
            match key {
                Key::Name => name = self.string(path, value),
                Key::Vni => vni = self.integer(path, value, u32::MAX.into()).map(|v| v as u32),
                Key::Bridge => bridge = self.string(path, value),
                Key::Mtu => mtu = self.integer(path, value, u32::MAX.into()).map(|v| v as u32),
                Key::ContainerIpv6 => container_ipv6 = self.boolean(path, value),
                _ => {}
            }
        }
        self.required(section, table, unknown);
        Some(NetworkSpec {
            name: name?,
            vni: vni?,
            bridge: bridge?,
            mtu,
            container_ipv6,
        })
    }

    fn wireguard(&mut self, table: &Value<'_>) -> Option<WireguardSpec> {
        let section = Section::Wireguard;
        let Some(t) = table.get_ref().as_table() else {
            self.wrong(FieldPath::root(Key::Wireguard), "a table (`[wireguard]`)", table);
            return None;
        };
        let at = self.at(&table.span());
        self.positions.insert(FieldPath::whole(section), at);
        let mut spec = WireguardSpec::default();
        for (key, value) in self.fields(section, t).0 {
            let path = FieldPath::of(section, key);
            match key {
                Key::Prefix => spec.prefix = self.prefix(path, value),
                Key::Port => spec.port = self.integer(path, value, u16::MAX.into()).map(|p| p as u16),
                Key::Interface => spec.interface = self.string(path, value),
                _ => {}
            }
        }
        Some(spec)
    }

    fn evpn(&mut self, table: &Value<'_>) -> Option<EvpnSpec> {
        let section = Section::Evpn;
        let Some(t) = table.get_ref().as_table() else {
            self.wrong(FieldPath::root(Key::Evpn), "a table (`[evpn]`)", table);
            return None;
        };
        let at = self.at(&table.span());
        self.positions.insert(FieldPath::whole(section), at);
        let mut spec = EvpnSpec::default();
        for (key, value) in self.fields(section, t).0 {
            let path = FieldPath::of(section, key);
            match key {
                Key::Asn => spec.asn = self.integer(path, value, u32::MAX.into()).map(|v| v as u32),
                Key::UnderlayPrefix => spec.underlay_prefix = self.prefix(path, value),
                Key::AllowWideUnderlayPrefix => spec.allow_wide_underlay_prefix = self.boolean(path, value),
                Key::Keepalive => spec.keepalive = self.integer(path, value, u16::MAX.into()).map(|v| v as u16),
                Key::HoldTime => spec.hold_time = self.integer(path, value, u16::MAX.into()).map(|v| v as u16),
                _ => {}
            }
        }
        Some(spec)
    }

    fn host(&mut self, section: Section, table: &Value<'_>) -> Option<HostSpec> {
        let t = table.get_ref().as_table()?;
        let at = self.at(&table.span());
        self.positions.insert(FieldPath::whole(section), at);
        let (mut name, mut address, mut device, mut underlay_mtu, mut id, mut networks) =
            (None, None, None, None, None, None);
        let (mut public_key, mut endpoint, mut persistent_keepalive, mut route_reflector) = (None, None, None, None);
        let (fields, unknown) = self.fields(section, t);
        for (key, value) in fields {
            let path = FieldPath::of(section, key);
            match key {
                Key::Name => name = self.string(path, value),
                Key::Address => address = self.address(path, value),
                Key::Device => device = self.string(path, value),
                Key::UnderlayMtu => underlay_mtu = self.integer(path, value, u32::MAX.into()).map(|v| v as u32),
                Key::Id => id = self.integer(path, value, u32::MAX.into()).map(|v| v as u32),
                Key::Networks => networks = self.strings(section, key, value),
                Key::PublicKey => public_key = self.string(path, value),
                Key::Endpoint => endpoint = self.endpoint(path, value),
                Key::PersistentKeepalive => {
                    persistent_keepalive = self.integer(path, value, u16::MAX.into()).map(|v| v as u16)
                }
                Key::RouteReflector => route_reflector = self.boolean(path, value),
                _ => {}
            }
        }
        self.required(section, table, unknown);
        Some(HostSpec {
            name: name?,
            address: address?,
            device,
            underlay_mtu,
            id,
            networks,
            public_key,
            endpoint,
            persistent_keepalive,
            route_reflector,
        })
    }

    /// One error naming every key the schema requires that is absent from `table`; none when
    /// the table has an unknown key (`unknown_keys`), which has its own error and is most
    /// likely the required one misspelt. (A required key that is present but wrong has its
    /// own error too.)
    fn required(&mut self, section: Section, table: &Value<'_>, unknown_keys: bool) {
        let present = |key: Key| {
            table
                .get_ref()
                .as_table()
                .is_some_and(|t| t.get(key.as_str()).is_some())
        };
        let missing: Vec<Key> = schema::required(InventoryTable::of(section))
            .filter(|key| !present(*key))
            .collect();
        let Some(&first) = missing.first() else {
            return;
        };
        if unknown_keys {
            return;
        }
        let names: Vec<String> = missing.iter().map(|k| format!("`{k}`")).collect();
        let message = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                format!("`{section}` has no {} or {last}, which are required", rest.join(", "))
            }
            _ => format!("`{section}` has no {}, which is required", names.join("")),
        };
        self.fail(
            ParseProblem::MissingKey,
            Some(FieldPath::of(section, first)),
            message,
            &table.span(),
        );
    }

    /// The tables of an array of tables (`[[hosts]]`), each with its section (`hosts[i]`, by
    /// its index in the array) and checked to be a table.
    fn tables<'a, 'i>(
        &mut self,
        key: Key,
        value: &'a Value<'i>,
        section: fn(usize) -> Section,
        one: &str,
    ) -> Vec<(Section, &'a Value<'i>)> {
        let Some(array) = value.get_ref().as_array() else {
            let expected = format!("an array of tables, one `[[{key}]]` per {one}");
            self.wrong(FieldPath::root(key), &expected, value);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in array.iter().enumerate() {
            if item.get_ref().as_table().is_some() {
                out.push((section(i), item));
            } else {
                let message = format!("`{}` must be a table, got {}", section(i), got(item.get_ref()));
                let path = Some(FieldPath::whole(section(i)));
                self.fail(ParseProblem::WrongType, path, message, &item.span());
            }
        }
        out
    }

    fn integer(&mut self, path: FieldPath, value: &Value<'_>, max: u64) -> Option<u64> {
        let Some(int) = value.get_ref().as_integer() else {
            self.wrong(path, "an integer", value);
            return None;
        };
        match u64::from_str_radix(int.as_str(), int.radix())
            .ok()
            .filter(|v| *v <= max)
        {
            Some(v) => Some(v),
            None => {
                let message = format!("`{path}` must be an integer from 0 to {max}, got {int}");
                self.fail(ParseProblem::OutOfRange, Some(path), message, &value.span());
                None
            }
        }
    }

    fn boolean(&mut self, path: FieldPath, value: &Value<'_>) -> Option<bool> {
        let b = value.get_ref().as_bool();
        if b.is_none() {
            self.wrong(path, "a boolean (`true` or `false`)", value);
        }
        b
    }

    fn string(&mut self, path: FieldPath, value: &Value<'_>) -> Option<String> {
        let s = value.get_ref().as_str().map(str::to_string);
        if s.is_none() {
            self.wrong(path, "a string", value);
        }
        s
    }

    fn strings(&mut self, section: Section, key: Key, value: &Value<'_>) -> Option<Vec<String>> {
        let Some(array) = value.get_ref().as_array() else {
            self.wrong(FieldPath::of(section, key), "an array of strings", value);
            return None;
        };
        let mut out = Vec::with_capacity(array.len());
        for (i, item) in array.iter().enumerate() {
            let path = FieldPath::element(section, key, i);
            let at = self.at(&item.span());
            self.positions.insert(path, at);
            out.push(self.string(path, item)?);
        }
        Some(out)
    }

    fn address(&mut self, path: FieldPath, value: &Value<'_>) -> Option<IpAddr> {
        const EXPECTED: &str =
            "an IPv4 or IPv6 address in quotes, such as \"192.0.2.1\" or \"2001:db8::1\" (no prefix length or zone)";
        let Some(text) = value.get_ref().as_str() else {
            self.wrong(path, EXPECTED, value);
            return None;
        };
        let addr = text.parse().ok();
        if addr.is_none() {
            let message = format!("`{path}` must be {EXPECTED}, got {}", got(value.get_ref()));
            self.fail(ParseProblem::BadValue, Some(path), message, &value.span());
        }
        addr
    }

    fn prefix(&mut self, path: FieldPath, value: &Value<'_>) -> Option<Prefix> {
        const EXPECTED: &str = "a network prefix in quotes, such as \"10.213.0.0/16\" or \"fd00:6d65:7368::/64\"";
        let Some(text) = value.get_ref().as_str() else {
            self.wrong(path, EXPECTED, value);
            return None;
        };
        match text.parse::<Prefix>() {
            Ok(p) => Some(p),
            Err(why) => {
                let message = format!("`{path}` must be {EXPECTED}, got {}: {why}", got(value.get_ref()));
                self.fail(ParseProblem::BadValue, Some(path), message, &value.span());
                None
            }
        }
    }

    fn endpoint(&mut self, path: FieldPath, value: &Value<'_>) -> Option<SocketAddr> {
        const EXPECTED: &str =
            "an address and port in quotes, such as \"198.51.100.7:51820\" or \"[2001:db8::7]:51820\"";
        let Some(text) = value.get_ref().as_str() else {
            self.wrong(path, EXPECTED, value);
            return None;
        };
        let addr = text.parse().ok();
        if addr.is_none() {
            let message = format!("`{path}` must be {EXPECTED}, got {}", got(value.get_ref()));
            self.fail(ParseProblem::BadValue, Some(path), message, &value.span());
        }
        addr
    }

    /// One of `all`, by its spelling `name`.
    fn one_of<T: Copy>(
        &mut self,
        path: FieldPath,
        value: &Value<'_>,
        all: &[T],
        name: fn(T) -> &'static str,
    ) -> Option<T> {
        let found = value
            .get_ref()
            .as_str()
            .and_then(|s| all.iter().copied().find(|v| name(*v) == s));
        if found.is_none() {
            let list: Vec<String> = all.iter().map(|v| format!("`{}`", name(*v))).collect();
            let message = format!(
                "`{path}` must be one of {}, got {}",
                list.join(", "),
                got(value.get_ref())
            );
            let problem = if value.get_ref().is_str() {
                ParseProblem::BadValue
            } else {
                ParseProblem::WrongType
            };
            self.fail(problem, Some(path), message, &value.span());
        }
        found
    }
}

/// Whether `written` is `key` with one character added, removed, changed, or two neighbours
/// swapped, or spelt with `_` for `-`: the usual typos.
fn is_typo(written: &str, key: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (written.replace('_', "-").chars().collect(), key.chars().collect());
    if a == b {
        return true;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    ra.get(1..) == rb.get(1..)
        || ra.get(1..) == Some(rb)
        || Some(ra) == rb.get(1..)
        || (ra.len() >= 2 && ra.len() == rb.len() && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
}

/// What a value is, in words, for "got ..." (strings shortened and escaped, so a long or
/// hostile value cannot flood or forge output).
fn got(value: &DeValue<'_>) -> String {
    const LONGEST: usize = 64;
    match value {
        DeValue::String(s) => {
            let shown: String = s.chars().take(LONGEST).collect();
            let more = if s.chars().nth(LONGEST).is_some() { "…" } else { "" };
            format!("the string \"{}{more}\"", shown.escape_debug())
        }
        DeValue::Integer(i) => format!("the integer {i}"),
        DeValue::Float(f) => format!("the float {f}"),
        DeValue::Boolean(b) => format!("the boolean {b}"),
        DeValue::Datetime(d) => format!("the date-time {d}"),
        DeValue::Array(_) => "an array".into(),
        DeValue::Table(_) => "a table".into(),
    }
}
