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
