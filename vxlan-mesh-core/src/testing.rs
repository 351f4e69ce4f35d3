//! Small fleets for documentation examples and tests. Not part of the stable API.

use std::net::{IpAddr, Ipv4Addr};

use crate::{Fleet, HostSpec, Inventory, Mode, NetworkSpec};

/// A two-host flood-mode fleet `a` (192.0.2.1) and `b` (192.0.2.2) on network `lan`
/// (VNI 100, bridge `vxbr0`).
pub fn two_hosts() -> Fleet {
    let hosts = [("a", 1u8), ("b", 2)]
        .iter()
        .map(|(name, last)| host(name, IpAddr::V4(Ipv4Addr::new(192, 0, 2, *last)), None))
        .collect();
    one_network(None, hosts)
}

/// A one-network fleet of `hosts` hosts (`host0`, `host1`, …) in `mode`, with addresses from
/// 198.51.100.1 onwards (wrapping into the next /24s), for benchmarks of large fleets.
pub fn large_fleet(hosts: u32, mode: Mode) -> Fleet {
    let hosts = (0..hosts)
        .map(|i| {
            let address = IpAddr::V4(Ipv4Addr::from(0xc633_6400u32.wrapping_add(i + 1)));
            host(&format!("host{i}"), address, Some("eth0"))
        })
        .collect();
    one_network(Some(mode), hosts)
}

fn host(name: &str, address: IpAddr, device: Option<&str>) -> HostSpec {
    HostSpec {
        name: name.into(),
        address,
        device: device.map(str::to_string),
        underlay_mtu: None,
        id: None,
        networks: None,
        public_key: None,
        endpoint: None,
        persistent_keepalive: None,
    }
}

/// The fleet of `hosts` on network `lan` (VNI 100, bridge `vxbr0`), all else default.
fn one_network(mode: Option<Mode>, hosts: Vec<HostSpec>) -> Fleet {
    let inv = Inventory {
        port: None,
        mode,
        loop_prevention: None,
        firewall: None,
        encryption: None,
        wireguard: None,
        networks: vec![NetworkSpec {
            name: "lan".into(),
            vni: 100,
            bridge: "vxbr0".into(),
            mtu: None,
            container_ipv6: None,
        }],
        hosts,
    };
    match inv.validate() {
        Ok(fleet) => fleet,
        Err(e) => unreachable!("a built-in example fleet is valid: {e}"),
    }
}
