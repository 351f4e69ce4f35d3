//! The peer-only firewall script loaded by the real `nft` in fresh network namespaces: it
//! parses, loading it twice changes nothing, its remove script deletes our table and
//! nothing else, and foreign tables and rules survive both.
//!
//! Needs root and nftables; without them these tests fail (CI is root and installs nft).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use vxlan_mesh_core::firewall::{nft_outline, nft_remove_script, nft_script};
use vxlan_mesh_core::testing::{FOREIGN_NFT_TABLES, FOREIGN_NFT_TABLE_NAMES};
use vxlan_mesh_core::{EvpnFilter, Family, Firewall};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace of its own, deleted on drop (also when the test fails).
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("vxmfw{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let out = Command::new("ip").args(["netns", "add", &name]).output();
        let out = out.expect("`ip` must be installed (iproute2)");
        assert!(
            out.status.success(),
            "`ip netns add {name}` failed (these tests need root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Netns(name)
    }

    /// Runs `nft ARGS` in the namespace with `stdin`; returns stdout or the error text.
    fn nft(&self, args: &[&str], stdin: &str) -> Result<String, String> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.0, "nft"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`ip netns exec` must start");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "nft {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            ))
        }
    }

    fn load(&self, script: &str) {
        self.nft(&["-f", "-"], script)
            .unwrap_or_else(|e| panic!("{e}\nscript:\n{script}"));
    }

    fn ruleset(&self) -> String {
        self.nft(&["list", "ruleset"], "").unwrap()
    }

    fn table(&self, family: &str, name: &str) -> Result<String, String> {
        self.nft(&["list", "table", family, name], "")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn v4(peers: &[&str]) -> Firewall {
    Firewall::new(
        "vxlan_mesh",
        Family::V4,
        4789,
        peers.iter().map(|p| p.parse().unwrap()).collect(),
    )
}

fn v6(peers: &[&str]) -> Firewall {
    Firewall::new(
        "vxlan_mesh",
        Family::V6,
        4789,
        peers.iter().map(|p| p.parse().unwrap()).collect(),
    )
}

#[test]
fn the_script_is_what_nft_lists_back() {
    let ns = Netns::new();
    let fw = v4(&["192.0.2.2", "192.0.2.3"]);
    ns.load(&nft_script(&fw));
    let table = ns.table("inet", "vxlan_mesh").unwrap();
    assert!(table.contains("elements = { 192.0.2.2, 192.0.2.3 }"), "{table}");
    assert!(
        table.contains("type filter hook input priority filter - 10; policy accept;"),
        "{table}"
    );
    assert!(table.contains("ip saddr @peers udp dport 4789 accept"), "{table}");
    assert!(
        table.contains("udp dport 4789 counter packets 0 bytes 0 drop"),
        "{table}"
    );
}

#[test]
fn the_evpn_script_admits_the_underlay_prefix_to_vxlan_and_bgp() {
    let ns = Netns::new();
    for (family, prefix, saddr) in [
        (Family::V4, "198.51.100.0/24", "ip saddr"),
        (Family::V6, "2001:db8:100::/48", "ip6 saddr"),
    ] {
        let mut fw = Firewall::new("vxlan_mesh", family, 4789, Vec::new());
        fw.evpn = Some(EvpnFilter::new(prefix.parse().unwrap(), 179));
        // Loaded twice: the second load replaces the first.
        ns.load(&nft_script(&fw));
        ns.load(&nft_script(&fw));
        let table = ns.table("inet", "vxlan_mesh").unwrap();
        for line in [
            "flags interval".to_string(),
            format!("elements = {{ {prefix} }}"),
            format!("{saddr} @peers udp dport 4789 accept"),
            "udp dport 4789 counter packets 0 bytes 0 drop".to_string(),
            format!("{saddr} @peers tcp dport 179 accept"),
            "tcp dport 179 counter packets 0 bytes 0 drop".to_string(),
        ] {
            assert!(table.contains(&line), "`{line}` not in {table}");
        }
    }
}

#[test]
fn ipv6_and_peerless_scripts_load_too() {
    let ns = Netns::new();
    ns.load(&nft_script(&v6(&["2001:db8::2", "2001:db8::3"])));
    let table = ns.table("inet", "vxlan_mesh").unwrap();
    assert!(table.contains("type ipv6_addr"), "{table}");
    assert!(table.contains("ip6 saddr @peers udp dport 4789 accept"), "{table}");
    // A host whose networks have no other member yet: an empty set, everyone dropped.
    ns.load(&nft_script(&v4(&[])));
    let table = ns.table("inet", "vxlan_mesh").unwrap();
    assert!(!table.contains("elements"), "{table}");
    assert!(
        table.contains("udp dport 4789 counter packets 0 bytes 0 drop"),
        "{table}"
    );
}

#[test]
fn loading_twice_changes_nothing_and_a_new_peer_list_replaces_the_old() {
    let ns = Netns::new();
    let fw = v4(&["192.0.2.2"]);
    ns.load(&nft_script(&fw));
    let once = ns.ruleset();
    ns.load(&nft_script(&fw));
    assert_eq!(ns.ruleset(), once, "second load");
    assert_eq!(
        once.matches("dport 4789").count(),
        2,
        "one accept and one drop rule:\n{once}"
    );

    // Replacing is atomic and complete: the old peer is gone, not appended to.
    ns.load(&nft_script(&v4(&["192.0.2.7"])));
    let table = ns.table("inet", "vxlan_mesh").unwrap();
    assert!(table.contains("elements = { 192.0.2.7 }"), "{table}");
    assert!(!table.contains("192.0.2.2"), "{table}");
    assert_eq!(table.matches("dport 4789").count(), 2, "{table}");
}

#[test]
fn foreign_tables_survive_load_replace_and_remove() {
    let ns = Netns::new();
    ns.load(FOREIGN_NFT_TABLES);
    let before = ns.ruleset();

    ns.load(&nft_script(&v4(&["192.0.2.2"])));
    ns.load(&nft_script(&v4(&["192.0.2.2", "192.0.2.3"])));
    for (family, name) in FOREIGN_NFT_TABLE_NAMES {
        let table = ns.table(family, name).unwrap();
        assert!(
            before.contains(&table),
            "{family} {name} changed while ours is loaded:\n{table}"
        );
    }

    ns.load(&nft_remove_script("vxlan_mesh"));
    assert_eq!(ns.ruleset(), before, "the ruleset after removing ours");
    assert!(ns.table("inet", "vxlan_mesh").is_err());
}

#[test]
fn the_remove_script_succeeds_when_there_is_nothing_to_remove() {
    let ns = Netns::new();
    ns.load(FOREIGN_NFT_TABLES);
    let before = ns.ruleset();
    ns.load(&nft_remove_script("vxlan_mesh"));
    ns.load(&nft_remove_script("vxlan_mesh"));
    assert_eq!(ns.ruleset(), before);
}

#[test]
fn a_script_that_fails_changes_nothing() {
    // nft applies a file as one transaction: a broken line after our table leaves the
    // previous table in place, so a host is never left without its firewall.
    let ns = Netns::new();
    ns.load(&nft_script(&v4(&["192.0.2.2"])));
    let before = ns.ruleset();
    let broken = format!("{}this is not nft\n", nft_script(&v4(&["192.0.2.9"])));
    assert!(ns.nft(&["-f", "-"], &broken).is_err());
    assert_eq!(ns.ruleset(), before);
}

#[test]
fn an_encrypted_table_loads_and_is_read_back_as_ours_with_its_wireguard_rules() {
    use vxlan_mesh_core::netlink::fuzzing::firewall_from_nft_json;
    use vxlan_mesh_core::{Table, WireguardFilter};
    let ns = Netns::new();
    let mut fw = v4(&["192.0.2.2", "198.51.100.9"]);
    fw.port = 51820;
    fw.wireguard = Some(WireguardFilter::new("vxmwg0", 4789));
    ns.load(&nft_script(&fw));
    let json: serde_json::Value =
        serde_json::from_str(&ns.nft(&["-j", "list", "table", "inet", "vxlan_mesh"], "").unwrap()).unwrap();
    assert_eq!(firewall_from_nft_json(&json), Table::Ours(fw.clone()));
    // Without the WireGuard rules it is another table of ours: replaced by apply.
    let mut clear = fw;
    clear.wireguard = None;
    ns.load(&nft_script(&clear));
    let json: serde_json::Value =
        serde_json::from_str(&ns.nft(&["-j", "list", "table", "inet", "vxlan_mesh"], "").unwrap()).unwrap();
    assert_eq!(firewall_from_nft_json(&json), Table::Ours(clear));
}

/// `nft -s list table inet vxlan_mesh` in namespace `ns`, made one line without the set's
/// elements by the very commands the shell script's `nft_outline` runs.
fn listed_outline(ns: &Netns) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0, "sh", "-c"])
        .arg("nft -s list table inet vxlan_mesh | tr -s ' \\t\\n' '   ' | sed 's/elements = {[^}]*} //; s/ $//'")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The outline the core renders is what real nft lists for every shape of table (so the
/// script's `firewall_ok` can be converged), and any change behind the tool's back (a
/// flag, a rule, a chain, a policy) makes the listing differ from it.
#[test]
fn the_outline_is_what_nft_lists_and_every_change_differs() {
    let ns = Netns::new();
    let many: Vec<String> = (2..=20).map(|i| format!("192.0.2.{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let mut evpn = v4(&[]);
    evpn.evpn = Some(EvpnFilter::new("198.51.100.0/24".parse().unwrap(), 179));
    let mut encrypted = v4(&["192.0.2.2"]);
    encrypted.port = 51820;
    encrypted.wireguard = Some(vxlan_mesh_core::WireguardFilter::new("vxmwg0", 4789));
    for fw in [v4(&many), v6(&["2001:db8::2", "2001:db8::3"]), v4(&[]), evpn, encrypted] {
        ns.load(&nft_script(&fw));
        assert_eq!(listed_outline(&ns), nft_outline(&fw), "{fw:?}");
    }
    let fw = v4(&["192.0.2.2"]);
    for change in [
        "add table inet vxlan_mesh { flags dormant; }",
        "insert rule inet vxlan_mesh input udp dport 4789 accept",
        "add chain inet vxlan_mesh extra",
        "add chain inet vxlan_mesh input { type filter hook input priority filter - 10; policy drop; }",
        "add counter inet vxlan_mesh c",
    ] {
        ns.load(&nft_script(&fw));
        assert_eq!(listed_outline(&ns), nft_outline(&fw));
        ns.nft(&[change], "").unwrap();
        assert_ne!(listed_outline(&ns), nft_outline(&fw), "after `{change}`");
    }
}
