//! Small fleets for documentation examples and tests. Not part of the stable API.

use crate::{Fleet, Mode};

/// A two-host flood-mode fleet `a` (192.0.2.1) and `b` (192.0.2.2) on network `lan`
/// (VNI 100, bridge `vxbr0`).
pub fn two_hosts() -> Fleet {
    FleetBuilder::new()
        .host("a", "192.0.2.1")
        .host("b", "192.0.2.2")
        .fleet()
}

/// A one-network fleet of `hosts` hosts (`host0`, `host1`, …) in `mode`, every one bound to
/// `eth0`, for benchmarks of large fleets. Addresses from 198.51.100.1 onwards while they fit
/// that /24, else from 2001:db8::1 onwards (documentation ranges only).
pub fn large_fleet(hosts: u32, mode: Mode) -> Fleet {
    let mut fleet = FleetBuilder::new()
        .mode(mode)
        .underlay("198.51.100.0")
        .ipv6(hosts > 254);
    for i in 0..hosts {
        fleet = fleet.numbered_as(&format!("host{i}"), i + 1);
    }
    fleet.each_host(|h| h.device = Some("eth0".into())).fleet()
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

mod builder;

pub use builder::FleetBuilder;
