//! The addresses assigned in a namespace, from an `RTM_GETADDR` dump.

use std::net::IpAddr;

use netlink_packet_route::address::{AddressAttribute, AddressMessage};

/// Every local address of the dump, once each, in dump order. IPv4 puts the local address
/// in `IFA_LOCAL` (`IFA_ADDRESS` is the peer's on point-to-point links); IPv6 only has
/// `IFA_ADDRESS`.
pub(crate) fn local(dump: &[AddressMessage]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for message in dump {
        let find = |want_local: bool| {
            message.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(ip) if want_local => Some(*ip),
                AddressAttribute::Address(ip) if !want_local => Some(*ip),
                _ => None,
            })
        };
        if let Some(ip) = find(true).or_else(|| find(false))
            && !out.contains(&ip)
        {
            out.push(ip);
        }
    }
    out
}
