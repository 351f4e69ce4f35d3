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

/// nftables tables an operator or another tool could have beside ours, in `nft -f` syntax:
/// one also accepts the VXLAN port 4789 (our chain runs first and its drop is final), one
/// shares our table name's prefix. Tests load them and check that ours leaves them alone.
pub const FOREIGN_NFT_TABLES: &str = "\
table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tudp dport 4789 counter accept
\t\ttcp dport 22 accept
\t}
}
table ip nat {
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 203.0.113.0/24 masquerade
\t}
}
table inet vxlan_mesh_other {
\tset peers {
\t\ttype ipv4_addr
\t\telements = { 203.0.113.9 }
\t}
}
";

/// `(family, name)` of each table of [`FOREIGN_NFT_TABLES`].
pub const FOREIGN_NFT_TABLE_NAMES: [(&str, &str); 3] =
    [("inet", "filter"), ("ip", "nat"), ("inet", "vxlan_mesh_other")];

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
        route_reflector: None,
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
        evpn: None,
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
