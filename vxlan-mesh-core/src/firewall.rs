//! The peer-only firewall as an nftables script: the one text that `apply`, the shell
//! script, and the networkd and netplan outputs all load with `nft -f`.
//!
//! The table is vxlan-mesh's own (`inet vxlan_mesh`); loading the script replaces that table
//! atomically and touches no other table. Its input chain runs before the default filter
//! priority, accepts the VXLAN port from peers and drops it from everyone else; other
//! tables' verdicts on everything else are untouched. In an encrypted mesh the protected
//! port is WireGuard's, and the VXLAN port is accepted on the WireGuard interface only, so
//! no VXLAN packet is taken from the underlay in clear, whatever its source address. In
//! evpn mode the set holds the fleet's underlay prefix instead of the peers' addresses (a
//! host that joins is admitted without changing the others), and BGP (TCP 179) is accepted
//! from it and dropped from everyone else.

use std::fmt::Write as _;

use crate::fleet::Family;
use crate::plan::Firewall;

/// nftables script that creates or atomically replaces the owned table.
///
/// ```
/// use vxlan_mesh_core::{firewall, Firewall, Family};
/// let fw = Firewall {
///     table: "vxlan_mesh".into(),
///     family: Family::V4,
///     port: 4789,
///     peers: vec!["192.0.2.2".parse().unwrap()],
///     wireguard: None,
///     evpn: None,
/// };
/// let script = firewall::nft_script(&fw);
/// assert!(script.contains("ip saddr @peers udp dport 4789 accept"));
/// assert!(script.contains("delete table inet vxlan_mesh"));
/// ```
pub fn nft_script(fw: &Firewall) -> String {
    let (addr_type, match_kw) = match fw.family {
        Family::V4 => ("ipv4_addr", "ip"),
        Family::V6 => ("ipv6_addr", "ip6"),
    };
    let mut s = String::new();
    // Declaring the table first makes the delete valid when it does not exist yet, so the
    // whole file is one idempotent transaction.
    let _ = writeln!(s, "table inet {} {{}}", fw.table);
    let _ = writeln!(s, "delete table inet {}", fw.table);
    let _ = writeln!(s, "table inet {} {{", fw.table);
    let _ = writeln!(s, "\tset peers {{");
    let _ = writeln!(s, "\t\ttype {addr_type}");
    let mut elements: Vec<String> = fw.peers.iter().map(ToString::to_string).collect();
    if let Some(evpn) = &fw.evpn {
        let _ = writeln!(s, "\t\tflags interval");
        elements.push(evpn.prefix.to_string());
    }
    if !elements.is_empty() {
        let _ = writeln!(s, "\t\telements = {{ {} }}", elements.join(", "));
    }
    let _ = writeln!(s, "\t}}");
    let _ = writeln!(s, "\tchain input {{");
    let _ = writeln!(s, "\t\ttype filter hook input priority filter - 10; policy accept;");
    if let Some(wg) = &fw.wireguard {
        let _ = writeln!(s, "\t\tiifname \"{}\" udp dport {} accept", wg.interface, wg.vxlan_port);
        let _ = writeln!(s, "\t\tudp dport {} counter drop", wg.vxlan_port);
    }
    let _ = writeln!(s, "\t\t{match_kw} saddr @peers udp dport {} accept", fw.port);
    let _ = writeln!(s, "\t\tudp dport {} counter drop", fw.port);
    if let Some(evpn) = &fw.evpn {
        let _ = writeln!(s, "\t\t{match_kw} saddr @peers tcp dport {} accept", evpn.bgp_port);
        let _ = writeln!(s, "\t\ttcp dport {} counter drop", evpn.bgp_port);
    }
    let _ = writeln!(s, "\t}}");
    let _ = writeln!(s, "}}");
    s
}

/// nftables script that removes the owned table if it exists, and nothing else.
///
/// ```
/// let s = vxlan_mesh_core::firewall::nft_remove_script("vxlan_mesh");
/// assert!(s.ends_with("delete table inet vxlan_mesh\n"));
/// ```
pub fn nft_remove_script(table: &str) -> String {
    format!("table inet {table} {{}}\ndelete table inet {table}\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{EvpnFilter, WireguardFilter};

    #[test]
    fn an_evpn_mesh_admits_vxlan_and_bgp_from_the_underlay_prefix() {
        let fw = Firewall {
            table: "vxlan_mesh".into(),
            family: Family::V4,
            port: 4789,
            peers: Vec::new(),
            wireguard: None,
            evpn: Some(EvpnFilter {
                prefix: "198.51.100.0/24".parse().unwrap(),
                bgp_port: 179,
            }),
        };
        let script = nft_script(&fw);
        assert!(
            script.contains("\t\tflags interval\n\t\telements = { 198.51.100.0/24 }\n"),
            "{script}"
        );
        let rules: Vec<&str> = script.lines().map(str::trim).filter(|l| l.contains("dport")).collect();
        assert_eq!(
            rules,
            [
                "ip saddr @peers udp dport 4789 accept",
                "udp dport 4789 counter drop",
                "ip saddr @peers tcp dport 179 accept",
                "tcp dport 179 counter drop",
            ]
        );
    }

    #[test]
    fn an_encrypted_mesh_takes_vxlan_from_the_wireguard_interface_only() {
        let fw = Firewall {
            table: "vxlan_mesh".into(),
            family: Family::V4,
            port: 51820,
            peers: vec!["192.0.2.2".parse().unwrap()],
            wireguard: Some(WireguardFilter {
                interface: "vxmwg0".into(),
                vxlan_port: 4789,
            }),
            evpn: None,
        };
        let script = nft_script(&fw);
        let rules: Vec<&str> = script.lines().map(str::trim).filter(|l| l.contains("dport")).collect();
        assert_eq!(
            rules,
            [
                "iifname \"vxmwg0\" udp dport 4789 accept",
                "udp dport 4789 counter drop",
                "ip saddr @peers udp dport 51820 accept",
                "udp dport 51820 counter drop",
            ]
        );
    }
}
