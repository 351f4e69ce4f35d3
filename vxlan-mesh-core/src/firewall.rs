//! The peer-only firewall as an nftables script: the one text that `apply`, the shell
//! script, and the networkd and netplan outputs all load with `nft -f`.
//!
//! The table is vxlan-mesh's own (`inet vxlan_mesh`); loading the script replaces that table
//! atomically and touches no other table. Its input chain runs before the default filter
//! priority, accepts the VXLAN port from peers and drops it from everyone else; other
//! tables' verdicts on everything else are untouched. In an encrypted mesh the protected
//! port is WireGuard's, and the VXLAN port is accepted on the WireGuard interface only, so
//! no VXLAN packet is taken from the underlay in clear, whatever its source address; and an
//! output chain drops VXLAN leaving by any other interface, so none is sent in clear either
//! when the WireGuard interface is missing or down (the VXLAN devices then start from an
//! inner address that the kernel would route by whatever else matches, e.g. the default
//! route). The kernel's vxlan driver sends through the output hook (`ip_local_out`), and
//! the table is loaded before any VXLAN device exists in every form. In
//! evpn mode the set holds the fleet's underlay prefix instead of the peers' addresses (a
//! host that joins is admitted without changing the others), and BGP (TCP 179) is accepted
//! from it and dropped from everyone else.

use std::fmt::Write as _;

use crate::fleet::Family;
use crate::plan::Firewall;

/// The set of peer addresses in vxlan-mesh's table (its `saddr` matches name it too).
pub(crate) const PEERS_SET: &str = "peers";

/// The elements of the set [`PEERS_SET`]: the peers' addresses, and in evpn mode the
/// underlay prefix (then the set has intervals).
pub(crate) fn elements(fw: &Firewall) -> Vec<String> {
    fw.peers
        .iter()
        .map(ToString::to_string)
        .chain(fw.evpn.iter().map(|e| e.prefix.to_string()))
        .collect()
}

/// nftables script that creates or atomically replaces the owned table.
///
/// ```
/// use vxlan_mesh_core::{firewall, Firewall, Family};
/// let fw = Firewall::new("vxlan_mesh", Family::V4, 4789, vec!["192.0.2.2".parse().unwrap()]);
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
    let _ = writeln!(s, "\tset {PEERS_SET} {{");
    let _ = writeln!(s, "\t\ttype {addr_type}");
    let elements = elements(fw);
    if fw.evpn.is_some() {
        let _ = writeln!(s, "\t\tflags interval");
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
    if let Some(wg) = &fw.wireguard {
        let _ = writeln!(s, "\tchain output {{");
        let _ = writeln!(s, "\t\ttype filter hook output priority filter - 10; policy accept;");
        let _ = writeln!(
            s,
            "\t\toifname != \"{}\" udp dport {} counter drop",
            wg.interface, wg.vxlan_port
        );
        let _ = writeln!(s, "\t}}");
    }
    let _ = writeln!(s, "}}");
    s
}

/// The owned table as `nft -s list table inet TABLE` prints it when it is exactly what
/// [`nft_script`] loads (no flags, no other chain, rule or object), on one line: each run of
/// blanks and newlines made one space, and without the set's `elements = { … }` clause
/// (nft wraps and orders elements its own way; they are compared apart). The shell script
/// compares `nft -s list table` made the same way with this text.
///
/// ```
/// use vxlan_mesh_core::{firewall, Firewall, Family};
/// let fw = Firewall::new("vxlan_mesh", Family::V4, 4789, vec!["192.0.2.2".parse().unwrap()]);
/// assert_eq!(
///     firewall::nft_outline(&fw),
///     "table inet vxlan_mesh { set peers { type ipv4_addr } chain input { type filter hook input \
///      priority filter - 10; policy accept; ip saddr @peers udp dport 4789 accept udp dport \
///      4789 counter drop } }"
/// );
/// ```
pub fn nft_outline(fw: &Firewall) -> String {
    let script = nft_script(fw);
    // The first two lines make the load idempotent; the table itself follows.
    let words: Vec<&str> = script
        .lines()
        .skip(2)
        .filter(|l| !l.trim_start().starts_with("elements = "))
        .flat_map(str::split_whitespace)
        .collect();
    words.join(" ")
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

/// The firewall of an encrypted mesh's host with one peer (`192.0.2.2`), for tests.
#[cfg(test)]
pub(crate) fn encrypted_example() -> Firewall {
    Firewall {
        table: "vxlan_mesh".into(),
        family: Family::V4,
        port: 51820,
        peers: vec![std::net::Ipv4Addr::new(192, 0, 2, 2).into()],
        wireguard: Some(crate::WireguardFilter {
            interface: "vxmwg0".into(),
            vxlan_port: 4789,
        }),
        evpn: None,
    }
}

/// The firewall of an evpn mesh's host admitting `198.51.100.0/24`, for tests.
#[cfg(test)]
#[allow(clippy::expect_used)] // a literal prefix, in tests only
pub(crate) fn evpn_example() -> Firewall {
    Firewall {
        table: "vxlan_mesh".into(),
        family: Family::V4,
        port: 4789,
        peers: Vec::new(),
        wireguard: None,
        evpn: Some(crate::EvpnFilter {
            prefix: "198.51.100.0/24".parse().expect("a valid prefix"),
            bgp_port: 179,
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_evpn_mesh_admits_vxlan_and_bgp_from_the_underlay_prefix() {
        let script = nft_script(&evpn_example());
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
        let script = nft_script(&encrypted_example());
        let rules: Vec<&str> = script.lines().map(str::trim).filter(|l| l.contains("dport")).collect();
        assert_eq!(
            rules,
            [
                "iifname \"vxmwg0\" udp dport 4789 accept",
                "udp dport 4789 counter drop",
                "ip saddr @peers udp dport 51820 accept",
                "udp dport 51820 counter drop",
                "oifname != \"vxmwg0\" udp dport 4789 counter drop",
            ]
        );
        assert!(
            script.contains("\tchain output {\n\t\ttype filter hook output priority filter - 10; policy accept;\n"),
            "{script}"
        );
    }

    #[test]
    fn only_an_encrypted_mesh_has_an_output_chain() {
        let fw = Firewall {
            port: 4789,
            wireguard: None,
            ..encrypted_example()
        };
        assert!(!nft_script(&fw).contains("output"), "{}", nft_script(&fw));
    }
}
