//! The one place that computes MTUs: VXLAN overhead per underlay family, the largest overlay
//! MTU a network can have, and the smallest it may have.

use crate::fleet::Family;

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
