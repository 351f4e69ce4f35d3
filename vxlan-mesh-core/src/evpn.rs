//! Facts of the BGP EVPN control plane (`mode = "evpn"`) that validation, the plan and the
//! FRR configuration share: the AS number rules, the timers, the router id.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use crate::Family;

/// AS number used when `[evpn] asn` is absent: the first private 2-byte AS (RFC 6996).
pub const DEFAULT_ASN: u32 = 65000;

/// AS_TRANS (RFC 6793): the placeholder 2-byte speakers see for a 4-byte AS; never a real AS.
pub(crate) const AS_TRANS: u32 = 23456;

/// BGP's TCP port.
pub(crate) const BGP_PORT: u16 = 179;

/// The shortest `[evpn] underlay-prefix` accepted without `allow-wide-underlay-prefix`, per
/// underlay family: route reflectors accept BGP sessions from the whole prefix, so a `/0`
/// would open iBGP to the internet. A site's underlay rarely spans more than a /16 (IPv4) or
/// a /48 (IPv6), the usual assignment to one site.
pub(crate) fn min_underlay_prefix_len(family: Family) -> u8 {
    match family {
        Family::V4 => 16,
        Family::V6 => 48,
    }
}

/// Why `asn` cannot be the fleet's AS number, if it cannot.
pub(crate) fn asn_problem(asn: u32) -> Option<&'static str> {
    match asn {
        0 => Some("AS 0 is reserved (RFC 7607); use 1..=4294967295, e.g. a private AS such as 65000"),
        AS_TRANS => Some("AS 23456 is AS_TRANS (RFC 6793), a placeholder that is never a real AS"),
        _ => None,
    }
}

/// BGP timers of the mesh's sessions, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BgpTimers {
    /// Interval between keepalive messages.
    pub keepalive: u16,
    /// Time without a message after which a session is declared down (0: never).
    pub hold_time: u16,
}

/// The BGP router id of a host: its underlay address over IPv4; over IPv6, where a host has
/// no IPv4 address to take it from, its host id as a 32-bit number (host id 7 is
/// `0.0.0.7`). Both are unique in the fleet (addresses and ids are) and stable (they change
/// only when the inventory changes the host's address or id).
pub(crate) fn router_id(address: IpAddr, host_id: u32) -> Ipv4Addr {
    match address {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => Ipv4Addr::from(host_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underlay_prefixes_no_wider_than_a_site() {
        assert_eq!(min_underlay_prefix_len(Family::V4), 16);
        assert_eq!(min_underlay_prefix_len(Family::V6), 48);
    }

    #[test]
    fn reserved_asns_are_refused() {
        assert!(asn_problem(DEFAULT_ASN).is_none());
        assert!(asn_problem(4_200_000_000).is_none());
        assert!(asn_problem(0).is_some());
        assert!(asn_problem(AS_TRANS).is_some());
    }

    #[test]
    fn router_id_is_the_ipv4_address_or_the_host_id() {
        let v4 = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
        let v6 = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7));
        assert_eq!(router_id(v4, 3), Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(router_id(v6, 3), Ipv4Addr::new(0, 0, 0, 3));
    }
}
