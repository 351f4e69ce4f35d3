//! Where in the inventory text a validation error belongs.
//!
//! The core validates a parsed [`vxlan_mesh_core::Inventory`] that no longer knows its
//! source positions; its errors name the host or network and the field instead. This module
//! re-reads the same text into a loosely typed, spanned mirror and finds the value the error
//! is about, so that `check` can print `file:line:column` like a compiler does.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::{Spanned, Value};
use vxlan_mesh_core::ValidationError as E;

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

type Table = BTreeMap<String, Spanned<Value>>;

/// The inventory with the span of every value; every key optional, so that it reads any
/// text the strict parser accepted.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Doc {
    port: Option<Spanned<Value>>,
    mode: Option<Spanned<Value>>,
    loop_prevention: Option<Spanned<Value>>,
    #[serde(default)]
    networks: Vec<Spanned<Table>>,
    #[serde(default)]
    hosts: Vec<Spanned<Table>>,
}

/// Positions of validation errors in one inventory text.
pub struct Locator<'t> {
    text: &'t str,
    doc: Doc,
}

impl<'t> Locator<'t> {
    /// Reads `text` (which the strict parser already accepted); an unreadable text yields a
    /// locator that finds nothing, so errors are still printed, only without a position.
    pub fn new(text: &'t str) -> Self {
        let doc = toml::from_str(text).unwrap_or_default();
        Locator { text, doc }
    }

    /// The position of the value `err` is about, if it can be found.
    pub fn locate(&self, err: &E) -> Option<Position> {
        self.span(err).map(|s| position(self.text, s.start))
    }

    fn span(&self, err: &E) -> Option<Range<usize>> {
        let d = &self.doc;
        match err {
            E::PortZero => d.port.as_ref().map(Spanned::span),
            E::LoopPreventionWithoutPerPeer => d.loop_prevention.as_ref().or(d.mode.as_ref()).map(Spanned::span),
            E::TooFewHosts { .. } => d.hosts.first().map(|h| key_or_table(h, "name")),
            E::BadName { field, .. } => {
                let (list, index, key) = split_field(field)?;
                let tables = if list == "hosts" { &d.hosts } else { &d.networks };
                tables.get(index).map(|t| key_or_table(t, key))
            }
            E::DuplicateHostName { index, .. } => d.hosts.get(*index).map(|t| key_or_table(t, "name")),
            E::DuplicateNetworkName { index, .. } => d.networks.get(*index).map(|t| key_or_table(t, "name")),
            E::DuplicateAddress { host, address, .. } => {
                // The second host with that address is the one reported.
                let a = address.to_string();
                last_with(&d.hosts, host, |t| value_is(t, "address", &a)).map(|t| key_or_table(t, "address"))
            }
            E::BadAddress { host, .. } | E::MixedFamilies { host, .. } => {
                last_with(&d.hosts, host, |_| true).map(|t| key_or_table(t, "address"))
            }
            E::DuplicateHostId { host, id, .. } => {
                last_with(&d.hosts, host, |t| int_is(t, "id", i64::from(*id))).map(|t| key_or_table(t, "id"))
            }
            E::HostIdZero { host } => last_with(&d.hosts, host, |t| int_is(t, "id", 0)).map(|t| key_or_table(t, "id")),
            E::UnknownNetwork { host, network } => {
                let t = last_with(&d.hosts, host, |_| true)?;
                let list = t.get_ref().get("networks")?;
                let item = list
                    .get_ref()
                    .as_array()
                    .and_then(|a| a.iter().position(|v| v.as_str().is_some_and(|s| shown(s) == *network)));
                // `toml::Value` arrays carry no element spans; find the element's text
                // inside the array's span instead.
                match item {
                    Some(_) => find_in(self.text, list.span(), &format!("\"{network}\"")).or(Some(list.span())),
                    None => Some(list.span()),
                }
            }
            E::DeviceIsBridge { host, device, .. } => {
                last_with(&d.hosts, host, |t| value_is(t, "device", device)).map(|t| key_or_table(t, "device"))
            }
            E::UnderlayMtuTooSmall { host, .. } | E::UnderlayMtuTooLarge { host, .. } => {
                last_with(&d.hosts, host, |_| true).map(|t| key_or_table(t, "underlay-mtu"))
            }
            E::NetworkTooSmall { network, .. } => {
                last_with(&d.networks, network, |_| true).map(|t| key_or_table(t, "name"))
            }
            E::DuplicateBridge { network, bridge, .. } => {
                last_with(&d.networks, network, |t| value_is(t, "bridge", bridge)).map(|t| key_or_table(t, "bridge"))
            }
            E::VniOutOfRange { network, .. }
            | E::VniRangeOverflow { network, .. }
            | E::VniCollision { network, .. } => {
                last_with(&d.networks, network, |_| true).map(|t| key_or_table(t, "vni"))
            }
            E::MtuTooSmall { network, .. } | E::MtuTooLarge { network, .. } => {
                last_with(&d.networks, network, |_| true).map(|t| key_or_table(t, "mtu"))
            }
            // `NoNetworks` (and any rule added to the core later) belongs to the whole file.
            _ => None,
        }
    }
}

/// The core escapes control characters in names it reports; compare like with like.
fn shown(s: &str) -> String {
    s.escape_debug().to_string()
}

/// The span of `key` in table `t`, or of the table itself when the key is absent (e.g. an
/// `underlay-mtu` that takes its default).
fn key_or_table(t: &Spanned<Table>, key: &str) -> Range<usize> {
    t.get_ref().get(key).map_or_else(|| t.span(), Spanned::span)
}

/// The last table whose `name` is `name` (as the core shows it) and that satisfies `pred`;
/// the core reports the later of two clashing entries.
fn last_with<'a>(
    tables: &'a [Spanned<Table>],
    name: &str,
    pred: impl Fn(&Table) -> bool,
) -> Option<&'a Spanned<Table>> {
    tables.iter().rev().find(|t| {
        let t_ref = t.get_ref();
        value_is(t_ref, "name", name) && pred(t_ref)
    })
}

fn value_is(t: &Table, key: &str, want: &str) -> bool {
    t.get(key)
        .and_then(|v| v.get_ref().as_str())
        .is_some_and(|s| s == want || shown(s) == want)
}

fn int_is(t: &Table, key: &str, want: i64) -> bool {
    t.get(key).and_then(|v| v.get_ref().as_integer()) == Some(want)
}

/// `hosts[2].device` → (`hosts`, 2, `device`).
fn split_field(field: &str) -> Option<(&str, usize, &str)> {
    let (list, rest) = field.split_once('[')?;
    let (index, key) = rest.split_once("].")?;
    let list = match list {
        "hosts" => "hosts",
        "networks" => "networks",
        _ => return None,
    };
    Some((list, index.parse().ok()?, key))
}

fn find_in(text: &str, within: Range<usize>, needle: &str) -> Option<Range<usize>> {
    let hay = text.get(within.clone())?;
    let at = hay.find(needle)? + within.start;
    Some(at..at + needle.len())
}

/// 1-based line and column of byte offset `at`.
pub fn position(text: &str, at: usize) -> Position {
    let before = text.get(..at).unwrap_or(text);
    Position {
        line: before.matches('\n').count() + 1,
        column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use vxlan_mesh_core::Inventory;

    fn first_error_position(text: &str) -> Option<Position> {
        let errors = Inventory::from_toml_str(text).unwrap().validate().unwrap_err();
        Locator::new(text).locate(&errors.0[0])
    }

    #[test]
    fn points_at_the_offending_value_of_the_later_duplicate() {
        let text = "[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n\n[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n[[hosts]]\nname = \"b\"\naddress =   \"192.0.2.1\"\n";
        assert_eq!(first_error_position(text), Some(Position { line: 11, column: 13 }));
    }

    #[test]
    fn finds_an_unknown_network_inside_the_list() {
        let text = "[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\nnetworks = [\"lan\", \"wan\"]\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n";
        assert_eq!(first_error_position(text), Some(Position { line: 8, column: 20 }));
    }

    #[test]
    fn position_counts_characters_not_bytes() {
        assert_eq!(position("é = 1\nab", 8), Position { line: 2, column: 2 });
    }
}
