//! Small fleets for documentation examples and tests. Not part of the stable API.

use crate::{Fleet, Inventory};

/// A two-host flood-mode fleet `a` (192.0.2.1) and `b` (192.0.2.2) on network `lan`
/// (VNI 100, bridge `vxbr0`).
pub fn two_hosts() -> Fleet {
    let inv = Inventory {
        port: None,
        mode: None,
        loop_prevention: None,
        firewall: None,
        networks: vec![crate::NetworkSpec {
            name: "lan".into(),
            vni: 100,
            bridge: "vxbr0".into(),
            mtu: None,
            container_ipv6: None,
        }],
        hosts: ["a", "b"]
            .iter()
            .zip([1u8, 2])
            .map(|(name, last)| crate::HostSpec {
                name: (*name).into(),
                address: std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, last)),
                device: None,
                underlay_mtu: None,
                id: None,
                networks: None,
            })
            .collect(),
    };
    match inv.validate() {
        Ok(fleet) => fleet,
        Err(e) => unreachable!("the built-in example fleet is valid: {e}"),
    }
}

/// A one-network fleet of `hosts` hosts (`host0`, `host1`, …) in `mode`, with addresses from
/// 198.51.100.1 onwards (wrapping into the next /24s), for benchmarks of large fleets.
pub fn large_fleet(hosts: u32, mode: crate::Mode) -> Fleet {
    let inv = Inventory {
        port: None,
        mode: Some(mode),
        loop_prevention: None,
        firewall: None,
        networks: vec![crate::NetworkSpec {
            name: "lan".into(),
            vni: 100,
            bridge: "vxbr0".into(),
            mtu: None,
            container_ipv6: None,
        }],
        hosts: (0..hosts)
            .map(|i| crate::HostSpec {
                name: format!("host{i}"),
                address: std::net::IpAddr::V4(std::net::Ipv4Addr::from(0xc633_6400u32.wrapping_add(i + 1))),
                device: Some("eth0".into()),
                underlay_mtu: None,
                id: None,
                networks: None,
            })
            .collect(),
    };
    match inv.validate() {
        Ok(fleet) => fleet,
        Err(e) => unreachable!("a generated benchmark fleet is valid: {e}"),
    }
}
