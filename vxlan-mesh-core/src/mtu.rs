//! The one place that computes and checks MTUs: VXLAN overhead per underlay family, the
//! largest overlay MTU a network can have, the smallest it may have, and the validation rules
//! that follow from them.

use crate::address::Family;
use crate::error::ValidationError;
use crate::names::shown;

/// Bytes VXLAN adds to an inner Ethernet frame: outer IP header (20 or 40), UDP (8),
/// VXLAN (8) and the inner Ethernet header (14).
///
/// ```
/// use vxlan_mesh_core::{mtu, Family};
/// assert_eq!(mtu::overhead(Family::V4), 50);
/// assert_eq!(mtu::overhead(Family::V6), 70);
/// ```
pub const fn overhead(family: Family) -> u32 {
    match family {
        Family::V4 => 50,
        Family::V6 => 70,
    }
}

/// Overlay MTU a host's underlay allows: its underlay MTU minus the overhead (0 if none).
///
/// ```
/// use vxlan_mesh_core::{mtu, Family};
/// assert_eq!(mtu::overlay_mtu(1500, Family::V4), 1450);
/// assert_eq!(mtu::overlay_mtu(1500, Family::V6), 1430);
/// ```
pub const fn overlay_mtu(underlay_mtu: u32, family: Family) -> u32 {
    underlay_mtu.saturating_sub(overhead(family))
}

/// Smallest MTU containers may use, and why.
///
/// ```
/// assert_eq!(vxlan_mesh_core::mtu::min_container_mtu(true).0, 1280);
/// assert_eq!(vxlan_mesh_core::mtu::min_container_mtu(false).0, 576);
/// ```
pub const fn min_container_mtu(container_ipv6: bool) -> (u32, &'static str) {
    if container_ipv6 {
        (
            1280,
            "IPv6 requires 1280; set `container-ipv6 = false` on the network if its containers do not use IPv6",
        )
    } else {
        (576, "the IPv4 minimum datagram size every host must accept")
    }
}

/// Largest underlay MTU Linux accepts.
pub const MAX_UNDERLAY_MTU: u32 = 65535;

/// A host of a network, as the MTU rules see it.
pub(crate) struct Member<'a> {
    /// Index in the inventory's `hosts`.
    pub index: usize,
    /// Name, as written.
    pub name: &'a str,
    /// Its underlay MTU (default applied).
    pub underlay_mtu: u32,
}

/// A network as the MTU rules see it.
pub(crate) struct NetworkMtuSpec<'a> {
    /// Index in the inventory's `networks`.
    pub index: usize,
    /// Name, as written.
    pub name: &'a str,
    /// The `mtu` written in the inventory, if any.
    pub requested: Option<u32>,
    /// Whether its containers use IPv6.
    pub container_ipv6: bool,
}

/// The MTUs of a network: the one its containers and devices use, and the largest its hosts'
/// underlays allow.
pub(crate) struct NetworkMtu {
    /// MTU of the bridge, the VXLAN devices and the containers.
    pub mtu: u32,
    /// Largest overlay MTU every member's underlay allows (0 without members).
    pub max: u32,
}

/// Checks a host's `underlay-mtu` against the Linux maximum.
pub(crate) fn check_underlay(host: &Member<'_>, errors: &mut Vec<ValidationError>) {
    if host.underlay_mtu > MAX_UNDERLAY_MTU {
        errors.push(ValidationError::UnderlayMtuTooLarge {
            host: shown(host.name),
            index: host.index,
            underlay_mtu: host.underlay_mtu,
        });
    }
}

/// The MTUs of `network` joined by `members` over a `family` underlay, checking that every
/// member's underlay leaves room for the minimum container MTU and that a requested `mtu`
/// lies between that minimum and what the smallest underlay allows.
pub(crate) fn check_network(
    network: &NetworkMtuSpec<'_>,
    members: &[Member<'_>],
    family: Family,
    errors: &mut Vec<ValidationError>,
) -> NetworkMtu {
    let (min, why) = min_container_mtu(network.container_ipv6);
    let limiting = members.iter().min_by_key(|h| overlay_mtu(h.underlay_mtu, family));
    let max = limiting.map_or(0, |h| overlay_mtu(h.underlay_mtu, family));
    for h in members {
        let overlay = overlay_mtu(h.underlay_mtu, family);
        if overlay < min {
            errors.push(ValidationError::UnderlayMtuTooSmall {
                host: shown(h.name),
                index: h.index,
                underlay_mtu: h.underlay_mtu,
                network: shown(network.name),
                overlay,
                min,
                why,
            });
        }
    }
    let mtu = match network.requested {
        Some(m) => {
            if m < min {
                errors.push(ValidationError::MtuTooSmall {
                    network: shown(network.name),
                    index: network.index,
                    mtu: m,
                    min,
                    why,
                });
            } else if let Some(h) = limiting.filter(|_| m > max) {
                errors.push(ValidationError::MtuTooLarge {
                    network: shown(network.name),
                    index: network.index,
                    mtu: m,
                    max,
                    host: shown(h.name),
                    underlay_mtu: h.underlay_mtu,
                    family: family.name(),
                    overhead: overhead(family),
                });
            }
            m
        }
        None => max,
    };
    NetworkMtu { mtu, max }
}
