//! Underlay addresses: their family, and which of them can terminate a tunnel.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Address family of the underlay.
///
/// Exhaustive on purpose, unlike the crate's other public enums: IP has these two families,
/// and code that matches on them should not need a wildcard arm.
///
/// ```
/// use vxlan_mesh_core::Family;
/// assert_eq!(Family::of(&"2001:db8::1".parse().unwrap()), Family::V6);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 underlay.
    V4,
    /// IPv6 underlay.
    V6,
}

impl Family {
    /// Family of an address.
    ///
    /// ```
    /// use vxlan_mesh_core::Family;
    /// assert_eq!(Family::of(&"192.0.2.1".parse().unwrap()), Family::V4);
    /// ```
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// `"IPv4"` or `"IPv6"`.
    ///
    /// ```
    /// assert_eq!(vxlan_mesh_core::Family::V6.name(), "IPv6");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// Why `addr` cannot terminate a tunnel between hosts, if it cannot.
pub(crate) fn endpoint_problem(addr: &IpAddr) -> Option<&'static str> {
    if addr.is_unspecified() {
        return Some("it is the unspecified address");
    }
    if addr.is_multicast() {
        return Some("it is a multicast address; unicast VXLAN needs each host's own address");
    }
    if addr.is_loopback() {
        return Some("it is a loopback address, unreachable from other hosts");
    }
    match addr {
        IpAddr::V4(v4) if v4.is_broadcast() => return Some("it is the broadcast address"),
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => {
            return Some("it is an IPv4-mapped IPv6 address; write the IPv4 address itself")
        }
        // fe80::/10: only meaningful with an interface scope, which the inventory cannot carry.
        IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => {
            return Some("it is an IPv6 link-local address, usable only with an interface scope; use a global or unique-local address")
        }
        _ => {}
    }
    None
}
