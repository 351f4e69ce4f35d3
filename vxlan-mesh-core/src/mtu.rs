//! The one place that computes and checks MTUs: VXLAN overhead per underlay family,
//! WireGuard's overhead when the tunnels run inside it, the largest overlay MTU a network can
//! have, the smallest it may have, and the validation rules that follow from them.

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

/// Bytes WireGuard adds to an inner packet: outer IP header (20 or 40), UDP (8), WireGuard's
/// data header (16) and authentication tag (16).
///
/// ```
/// use vxlan_mesh_core::{mtu, Family};
/// assert_eq!(mtu::wireguard_overhead(Family::V4), 60);
/// assert_eq!(mtu::wireguard_overhead(Family::V6), 80);
/// ```
pub const fn wireguard_overhead(underlay: Family) -> u32 {
    match underlay {
        Family::V4 => 60,
        Family::V6 => 80,
    }
}

/// How VXLAN packets reach the underlay: in clear, or inside WireGuard (whose inner
/// addresses have their own family, which decides the VXLAN header's size).
///
/// ```
/// use vxlan_mesh_core::{mtu::Encapsulation, Family};
/// let wg = Encapsulation { underlay: Family::V4, wireguard_inner: Some(Family::V4) };
/// assert_eq!(wg.overhead(), 110);
/// assert_eq!(wg.overlay_mtu(1500), 1390);
/// assert_eq!(wg.wireguard_mtu(1500), Some(1440));
/// assert_eq!(Encapsulation::clear(Family::V6).overlay_mtu(1500), 1430);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Encapsulation {
    /// Family of the underlay addresses.
    pub underlay: Family,
    /// Family of the WireGuard (inner) addresses VXLAN runs between, when encrypted.
    pub wireguard_inner: Option<Family>,
}

impl Encapsulation {
    /// VXLAN straight over the underlay.
    pub const fn clear(underlay: Family) -> Encapsulation {
        Encapsulation {
            underlay,
            wireguard_inner: None,
        }
    }

    /// Bytes added to a container's frame on its way to the underlay.
    pub const fn overhead(self) -> u32 {
        match self.wireguard_inner {
            None => overhead(self.underlay),
            Some(inner) => wireguard_overhead(self.underlay) + overhead(inner),
        }
    }

    /// Overlay (container) MTU an underlay MTU allows (0 if none).
    pub const fn overlay_mtu(self, underlay_mtu: u32) -> u32 {
        underlay_mtu.saturating_sub(self.overhead())
    }

    /// MTU of the WireGuard interface over an underlay MTU, when encrypted.
    pub const fn wireguard_mtu(self, underlay_mtu: u32) -> Option<u32> {
        match self.wireguard_inner {
            None => None,
            Some(_) => Some(underlay_mtu.saturating_sub(wireguard_overhead(self.underlay))),
        }
    }

    /// The path in words, for messages: `IPv4`, `WireGuard over IPv4 (inner IPv6)`.
    pub const fn describe(self) -> &'static str {
        match (self.underlay, self.wireguard_inner) {
            (Family::V4, None) => "IPv4",
            (Family::V6, None) => "IPv6",
            (Family::V4, Some(Family::V4)) => "WireGuard over IPv4 (inner IPv4)",
            (Family::V4, Some(Family::V6)) => "WireGuard over IPv4 (inner IPv6)",
            (Family::V6, Some(Family::V4)) => "WireGuard over IPv6 (inner IPv4)",
            (Family::V6, Some(Family::V6)) => "WireGuard over IPv6 (inner IPv6)",
        }
    }
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

/// The MTUs of `network` joined by `members` over the `encapsulation`, checking that every
/// member's underlay leaves room for the minimum container MTU and that a requested `mtu`
/// lies between that minimum and what the smallest underlay allows.
pub(crate) fn check_network(
    network: &NetworkMtuSpec<'_>,
    members: &[Member<'_>],
    encapsulation: Encapsulation,
    errors: &mut Vec<ValidationError>,
) -> NetworkMtu {
    let (min, why) = min_container_mtu(network.container_ipv6);
    let limiting = members.iter().min_by_key(|h| encapsulation.overlay_mtu(h.underlay_mtu));
    let max = limiting.map_or(0, |h| encapsulation.overlay_mtu(h.underlay_mtu));
    for h in members {
        let overlay = encapsulation.overlay_mtu(h.underlay_mtu);
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
                    family: encapsulation.describe(),
                    overhead: encapsulation.overhead(),
                });
            }
            m
        }
        None => max,
    };
    NetworkMtu { mtu, max }
}
