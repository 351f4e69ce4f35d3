//! The commands that *read* the host: the one description of each listing the rendered
//! shell script parses and, where the Rust side reads the same object through a program
//! (`nft`, `ebtables`, `wg`), the command it spawns. Writes are [`super::of`]'s.
//!
//! Each builder names the equivalent command line in its rustdoc. Arguments are taken as
//! text so that the script can pass a shell variable where only the running script knows
//! the value (the generator turns a stand-in such as `$1` into that variable's expansion).

use super::{Command, Program, EBTABLES_TABLE};
use crate::firewall::PEERS_SET;
use crate::plan::{Firewall, LoopRule, Vxlan, WireguardPeer};

/// The line-oriented details of one link: `ip -d -o link show dev DEV` (one line, nothing
/// and a failure when the link does not exist).
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::reads::link_details("vxm100").shell(), "ip -d -o link show dev vxm100");
/// ```
pub fn link_details(dev: &str) -> Command {
    Command::new(Program::Ip, ["-d", "-o", "link", "show", "dev", dev])
}

/// Every link of one kind, a line each (with its alias): `ip -o link show type KIND`.
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::reads::links_of_kind("vxlan").shell(), "ip -o link show type vxlan");
/// ```
pub fn links_of_kind(kind: &str) -> Command {
    Command::new(Program::Ip, ["-o", "link", "show", "type", kind])
}

/// The addresses of one link, IPv4 and IPv6, a line each: `ip -o address show dev DEV`.
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::reads::addresses("vxmwg0").shell(), "ip -o address show dev vxmwg0");
/// ```
pub fn addresses(dev: &str) -> Command {
    Command::new(Program::Ip, ["-o", "address", "show", "dev", dev])
}

/// The IPv6 addresses of one link, a line each: `ip -6 -o address show dev DEV`.
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::reads::ipv6_addresses("vxbr0").shell(), "ip -6 -o address show dev vxbr0");
/// ```
pub fn ipv6_addresses(dev: &str) -> Command {
    Command::new(Program::Ip, ["-6", "-o", "address", "show", "dev", dev])
}

/// The route the kernel picks for an address: `ip route get ADDRESS`.
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::reads::route_get("192.0.2.2").shell(), "ip route get 192.0.2.2");
/// ```
pub fn route_get(address: &str) -> Command {
    Command::new(Program::Ip, ["route", "get", address])
}

/// The route entry that matches an address, as `ip route` lists it (what a user deletes):
/// `ip route get fibmatch ADDRESS`.
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::reads::route_entry("192.0.2.2").shell(), "ip route get fibmatch 192.0.2.2");
/// ```
pub fn route_entry(address: &str) -> Command {
    Command::new(Program::Ip, ["route", "get", "fibmatch", address])
}

/// The routes the kernel made for a link's own prefixes in table main: `ip route show
/// table main dev DEV proto kernel`.
///
/// ```
/// assert_eq!(
///     vxlan_mesh_core::argv::reads::prefix_routes("vxmwg0").shell(),
///     "ip route show table main dev vxmwg0 proto kernel"
/// );
/// ```
pub fn prefix_routes(dev: &str) -> Command {
    Command::new(
        Program::Ip,
        ["route", "show", "table", "main", "dev", dev, "proto", "kernel"],
    )
}

/// The forwarding database entries of a VXLAN device: `bridge fdb show dev DEV`.
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::reads::fdb_of("vxm100").shell(), "bridge fdb show dev vxm100");
/// ```
pub fn fdb_of(dev: &str) -> Command {
    Command::new(Program::Bridge, ["fdb", "show", "dev", dev])
}

/// A sysctl's value alone: `sysctl -n KEY` (keys as [`super::arp_accept_key`] and
/// [`crate::ipv6::Ipv6Conf::sysctls`] write them).
///
/// ```
/// assert_eq!(
///     vxlan_mesh_core::argv::reads::sysctl_get("net.ipv4.conf.vxbr0.arp_accept").shell(),
///     "sysctl -n net.ipv4.conf.vxbr0.arp_accept"
/// );
/// ```
pub fn sysctl_get(key: &str) -> Command {
    Command::new(Program::Sysctl, ["-n", key])
}

/// How `nft` prints a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NftListing {
    /// nft's own syntax.
    Text,
    /// nft's own syntax without counters' and quotas' values (`-s`): what
    /// [`crate::firewall::nft_outline`] is compared with.
    Stateless,
    /// libnftables' JSON (`-j`): what the Rust side parses.
    Json,
}

impl NftListing {
    fn flag(self) -> Option<&'static str> {
        match self {
            NftListing::Text => None,
            NftListing::Stateless => Some("-s"),
            NftListing::Json => Some("-j"),
        }
    }
}

fn nft_list(listing: NftListing, object: &[&str]) -> Command {
    Command::new(
        Program::Nft,
        listing.flag().into_iter().chain(["list"]).chain(object.iter().copied()),
    )
}

/// An `inet` table: `nft [-s|-j] list table inet TABLE`.
///
/// ```
/// use vxlan_mesh_core::argv::reads::{nft_table, NftListing};
/// assert_eq!(nft_table("vxlan_mesh", NftListing::Json).shell(), "nft -j list table inet vxlan_mesh");
/// assert_eq!(nft_table("vxlan_mesh", NftListing::Text).shell(), "nft list table inet vxlan_mesh");
/// ```
pub fn nft_table(table: &str, listing: NftListing) -> Command {
    nft_list(listing, &["table", "inet", table])
}

/// The set of peer addresses of an `inet` table [`crate::firewall::nft_script`] writes: `nft
/// [-s|-j] list set inet TABLE peers`.
///
/// ```
/// use vxlan_mesh_core::argv::reads::{nft_peers, NftListing};
/// assert_eq!(nft_peers("vxlan_mesh", NftListing::Text).shell(), "nft list set inet vxlan_mesh peers");
/// ```
pub fn nft_peers(table: &str, listing: NftListing) -> Command {
    nft_list(listing, &["set", "inet", table, PEERS_SET])
}

/// A chain of the ebtables table as nf_tables holds it (ebtables-nft keeps its tables in
/// nftables' `bridge` family): `nft [-s|-j] list chain bridge filter CHAIN`.
///
/// ```
/// use vxlan_mesh_core::argv::reads::{ebtables_nft_chain, NftListing};
/// assert_eq!(
///     ebtables_nft_chain("VXLAN-MESH", NftListing::Json).shell(),
///     "nft -j list chain bridge filter VXLAN-MESH"
/// );
/// ```
pub fn ebtables_nft_chain(chain: &str, listing: NftListing) -> Command {
    nft_list(listing, &["chain", "bridge", EBTABLES_TABLE, chain])
}

/// The chains of the ebtables table with their rules, or one chain's: `ebtables -t filter
/// -L [CHAIN]`.
///
/// ```
/// use vxlan_mesh_core::argv::reads::ebtables_list;
/// assert_eq!(ebtables_list(None).shell(), "ebtables -t filter -L");
/// assert_eq!(ebtables_list(Some("FORWARD")).shell(), "ebtables -t filter -L FORWARD");
/// ```
pub fn ebtables_list(chain: Option<&str>) -> Command {
    super::ebtables(std::iter::once("-L").chain(chain))
}

/// What `wg show INTERFACE` is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WgShow {
    /// The public key (`(none)` without a private key).
    PublicKey,
    /// The listen port.
    ListenPort,
    /// The firewall mark (`off` for none).
    Fwmark,
    /// Everything, tab-separated: the interface's line (with its private key), then a line
    /// a peer.
    Dump,
}

/// One question to a WireGuard interface: `wg show INTERFACE public-key|listen-port|fwmark|dump`.
///
/// ```
/// use vxlan_mesh_core::argv::reads::{wg_show, WgShow};
/// assert_eq!(wg_show("vxmwg0", WgShow::Dump).shell(), "wg show vxmwg0 dump");
/// ```
pub fn wg_show(interface: &str, what: WgShow) -> Command {
    let word = match what {
        WgShow::PublicKey => "public-key",
        WgShow::ListenPort => "listen-port",
        WgShow::Fwmark => "fwmark",
        WgShow::Dump => "dump",
    };
    Command::new(Program::Wg, ["show", interface, word])
}

/// The public key of the private key read on standard input: `wg pubkey` (the key is
/// redirected from its file, never written on a command line).
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::reads::wg_pubkey().shell(), "wg pubkey");
/// ```
pub fn wg_pubkey() -> Command {
    Command::new(Program::Wg, ["pubkey"])
}

// What the script makes of the listings above: for each fact it checks, the program that
// reduces the listing to one line of words and, beside it, the same line written from the
// plan, so that the two cannot drift apart.

/// The awk program that prints the fixed attributes (those that cannot change in place) of
/// a VXLAN device from its [`link_details`] line, in the words of [`vxlan_signature`].
/// Older iproute2 lists only the checksum flags that are set: an absent one is off.
pub const VXLAN_SIGNATURE_AWK: &str = r#"{
	for (i = 1; i <= NF; i++) if ($i == "vxlan" && $(i + 1) == "id") break
	vni = $(i + 2); lo = "none"; re = "none"; dev = "none"; port = "none"; learn = "on"
	c4 = "noudpcsum"; tx = "noudp6zerocsumtx"; rx = "noudp6zerocsumrx"
	for (j = i + 3; j <= NF && $j != "\\"; j++) {
		if ($j == "local") lo = $(j + 1)
		else if ($j == "remote") re = $(j + 1)
		else if ($j == "dev") dev = $(j + 1)
		else if ($j == "dstport") port = $(j + 1)
		else if ($j == "nolearning") learn = "off"
		else if ($j == "udpcsum") c4 = $j
		else if ($j == "udp6zerocsumtx") tx = $j
		else if ($j == "udp6zerocsumrx") rx = $j
	}
	printf "vni %s local %s remote %s dev %s port %s learning %s checksum %s\n", vni, lo, re, dev, port, learn, (index(lo, ":") ? tx " " rx : c4)
}"#;

/// The fixed attributes of `v` as [`VXLAN_SIGNATURE_AWK`] prints them for a device that
/// has them (the checksum words iproute2's, as [`super::of`] writes them).
///
/// ```
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// let v = &plan.networks[0].vxlans[0];
/// assert_eq!(
///     vxlan_mesh_core::argv::reads::vxlan_signature(v),
///     "vni 100 local 192.0.2.1 remote none dev none port 4789 learning on checksum udpcsum"
/// );
/// ```
pub fn vxlan_signature(v: &Vxlan) -> String {
    format!(
        "vni {} local {} remote {} dev {} port {} learning {} checksum {}",
        v.vni,
        v.local,
        v.remote.map_or_else(|| "none".to_string(), |r| r.to_string()),
        v.underlay_device.as_deref().unwrap_or("none"),
        v.port,
        if v.learning { "on" } else { "off" },
        v.udp_checksum_mode().iproute2_words().join(" "),
    )
}

/// The awk program (run with `-F '\t'`) that prints each peer of a [`WgShow::Dump`] listing
/// as [`wg_peer_line`] writes it, without the interface's first line (which holds the
/// private key, and is never printed); a preshared key is shown as `set`, never itself.
pub const WG_PEERS_AWK: &str = r#"NR > 1 { print $1 " " ($2 == "(none)" ? $2 : "set") " " $3 " " $4 " " $8 }"#;

/// A planned peer as [`WG_PEERS_AWK`] prints it when the interface has it exactly:
/// `KEY PRESHARED-KEY ENDPOINT ALLOWED-IPS KEEPALIVE`.
///
/// ```
/// let fleet = vxlan_mesh_core::testing::FleetBuilder::new().hosts(2).wireguard().fleet();
/// let plan = fleet.plan("h1")?;
/// let peer = &plan.wireguard.as_ref().map(|w| w.peers.clone()).unwrap_or_default()[0];
/// let line = vxlan_mesh_core::argv::reads::wg_peer_line(peer);
/// // No preshared key: `(none)`, as `wg show dump` prints it.
/// assert!(line.starts_with(&format!("{} (none) 192.0.2.2:51820 ", peer.public_key)), "{line}");
/// # Ok::<(), vxlan_mesh_core::PlanError>(())
/// ```
pub fn wg_peer_line(peer: &WireguardPeer) -> String {
    format!(
        "{} {} {} {} {}",
        peer.public_key,
        if peer.preshared_key { "set" } else { "(none)" },
        peer.endpoint,
        super::allowed_ips(peer),
        super::keepalive(peer),
    )
}

/// The sed program that prints the rules of an [`ebtables_list`] listing of one chain, one
/// per line, as [`ebtables_rules`] writes them.
pub const EBTABLES_RULES_SED: &str = "1,/^Bridge chain:/d;/^$/d";

/// The sed program (run with `-n`) that prints the policy of the chain of an
/// [`ebtables_list`] listing of one chain, as `ebtables -L` names it (`RETURN`, `ACCEPT`,
/// `DROP`; ebtables-nft lists a user chain's as `RETURN` whatever it is).
pub const EBTABLES_POLICY_SED: &str = "s/^Bridge chain: .*policy: //p";

/// The rules of a chain as [`EBTABLES_RULES_SED`] prints them when the chain holds exactly
/// these.
///
/// ```
/// use vxlan_mesh_core::LoopRule;
/// assert_eq!(
///     vxlan_mesh_core::argv::reads::ebtables_rules(&[LoopRule::DropBetweenMeshPorts]),
///     "-i vxm+ -o vxm+ -j DROP"
/// );
/// ```
pub fn ebtables_rules(rules: &[LoopRule]) -> String {
    rules
        .iter()
        .map(|r| r.ebtables_args().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The rule of `FORWARD` that jumps to `chain`, as `ebtables -L` lists it.
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::reads::ebtables_jump("VXLAN-MESH"), "-j VXLAN-MESH");
/// ```
pub fn ebtables_jump(chain: &str) -> String {
    // The rule `Op::InsertJump` writes, without its position.
    super::jump_args(chain).join(" ")
}

/// The sed program that reduces a [`NftListing::Stateless`] listing of the table, its
/// blanks and newlines first squeezed to single spaces, to [`crate::firewall::nft_outline`]'s
/// form: without the set's elements (compared apart, with [`NFT_ELEMENTS_SED`]).
pub const NFT_OUTLINE_SED: &str = "s/elements = {[^}]*} //; s/ $//";

/// The sed program (run with `-n`) that prints the elements of a [`nft_peers`] listing, its
/// newlines and tabs first removed, as nft separates them (by `, `); split at the commas,
/// blanks removed, they are [`nft_peer_elements`].
pub const NFT_ELEMENTS_SED: &str = r"s/.*elements = {\([^}]*\)}.*/\1/p";

/// The elements of the set of peers in the plan's table, one per line, as the script reads
/// them from [`nft_peers`] (compared sorted: nft orders them its own way).
///
/// ```
/// use vxlan_mesh_core::{Firewall, Family};
/// let peers = vec!["192.0.2.3".parse().unwrap(), "192.0.2.2".parse().unwrap()];
/// let fw = Firewall::new("vxlan_mesh", Family::V4, 4789, peers);
/// assert_eq!(vxlan_mesh_core::argv::reads::nft_peer_elements(&fw), "192.0.2.2\n192.0.2.3");
/// ```
pub fn nft_peer_elements(fw: &Firewall) -> String {
    crate::firewall::elements(fw).join("\n")
}

/// The awk program that prints the default VRF's `router bgp` block of a
/// [`super::vtysh_running_config`] listing, from its `router bgp ASN` line to its `exit`
/// line: the script's [`crate::frr::running_block`].
pub const FRR_BLOCK_AWK: &str = r#"/^router bgp [0-9]+$/ { on = 1 } on { print } on && $0 == "exit" { exit }"#;

/// The awk program (run with `-v vni=VNI`) that prints the VXLAN device zebra ties `VNI`
/// to in a [`super::vtysh_evpn_vnis`] listing (`{"100": {"vni": 100, "vxlanIf": "vxm100",
/// ...}, ...}`), nothing when zebra does not know the VNI: the script's reading of what
/// `status` reads as JSON.
pub const ZEBRA_VNI_DEVICE_AWK: &str = r#"{ s = s $0 }
END {
	gsub(/[ \t\r\n]/, "", s)
	n = split(s, part, "\"vni\":")
	for (i = 2; i <= n; i++) {
		v = part[i]; sub(/[^0-9].*/, "", v)
		if (v != vni) continue
		if (match(part[i], /"vxlanIf":"[^"]*"/)) print substr(part[i], RSTART + 11, RLENGTH - 12)
		exit
	}
}"#;

/// The line of a running `router bgp` block that marks it as vxlan-mesh's (the declaration
/// of [`crate::frr::PEER_GROUP`]), as [`FRR_BLOCK_AWK`] prints it.
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::reads::frr_mark(), " neighbor vxlan-mesh peer-group");
/// ```
pub fn frr_mark() -> String {
    crate::frr::mark_line()
}

/// Runs `program` with `args` on `input`, as the script pipes a listing through it (for the
/// tests that hold a program of this module against the Rust reading of the same listing).
#[cfg(test)]
pub(crate) fn pipe(program: &str, args: &[&str], input: &str) -> Result<String, Box<dyn std::error::Error>> {
    use std::io::Write as _;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    child.stdin.take().ok_or("no stdin")?.write_all(input.as_bytes())?;
    Ok(String::from_utf8(child.wait_with_output()?.stdout)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_awk_reads_iproute2_s_line_as_the_plan_writes_it() -> Result<(), Box<dyn std::error::Error>> {
        let plan = crate::testing::two_hosts().plan("a")?;
        let v = &plan.networks[0].vxlans[0];
        // As iproute2 6.1 prints the device `argv::of` creates (its values the plan's).
        let line = format!(
            "2: {}: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\\    \
             link/ether ce:60:39:ae:e9:5d brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 \\    \
             vxlan id {} local {} srcport 0 0 dstport {} {}ttl auto ageing 300 udpcsum noudp6zerocsumtx \
             noudp6zerocsumrx addrgenmode eui64 numtxqueues 1\n",
            v.name,
            v.vni,
            v.local,
            v.port,
            if v.learning { "" } else { "nolearning " }
        );
        assert_eq!(
            pipe("awk", &[VXLAN_SIGNATURE_AWK], &line)?.trim_end(),
            vxlan_signature(v)
        );
        // Another port is another signature.
        let moved = line.replace(&format!("dstport {}", v.port), "dstport 4790");
        assert_ne!(
            pipe("awk", &[VXLAN_SIGNATURE_AWK], &moved)?.trim_end(),
            vxlan_signature(v)
        );
        Ok(())
    }

    #[test]
    fn the_block_awk_finds_the_block_running_block_finds() -> Result<(), Box<dyn std::error::Error>> {
        let running = "frr version 8.4.4\n!\nrouter bgp 65001 vrf red\n bgp router-id 192.0.2.9\nexit\n!\n\
            router bgp 65000\n bgp router-id 192.0.2.1\n neighbor vxlan-mesh peer-group\n !\n \
            address-family l2vpn evpn\n  advertise-all-vni\n exit-address-family\nexit\n!\nend\n";
        let block = crate::frr::running_block(running).ok_or("no block")?;
        assert_eq!(pipe("awk", &[FRR_BLOCK_AWK], running)?, block);
        assert!(block.lines().any(|l| l == frr_mark()));
        Ok(())
    }

    #[test]
    fn the_nft_seds_read_nft_s_listing_as_the_plan_writes_it() -> Result<(), Box<dyn std::error::Error>> {
        let fw = Firewall {
            table: "vxlan_mesh".into(),
            family: crate::fleet::Family::V4,
            port: 4789,
            peers: ["192.0.2.2", "192.0.2.3", "192.0.2.4"]
                .iter()
                .map(|a| a.parse())
                .collect::<Result<_, _>>()?,
            wireguard: None,
            evpn: None,
        };
        // As nft 1.0.6 lists the table its script loads (`-s`, and the set alone).
        let table = "table inet vxlan_mesh {\n\tset peers {\n\t\ttype ipv4_addr\n\t\telements = { 192.0.2.2, 192.0.2.3,\n\
            \t\t\t     192.0.2.4 }\n\t}\n\n\tchain input {\n\t\ttype filter hook input priority filter - 10; policy accept;\n\
            \t\tip saddr @peers udp dport 4789 accept\n\t\tudp dport 4789 counter drop\n\t}\n}\n";
        let set =
            "table inet vxlan_mesh {\n\tset peers {\n\t\ttype ipv4_addr\n\t\telements = { 192.0.2.2, 192.0.2.3,\n\
            \t\t\t     192.0.2.4 }\n\t}\n}\n";
        // The script's pipelines around the programs (nft_outline, firewall_ok).
        let outline = pipe(
            "sh",
            &["-c", r#"tr -s ' \t\n' '   ' | sed "$1""#, "sh", NFT_OUTLINE_SED],
            table,
        )?;
        assert_eq!(outline, crate::firewall::nft_outline(&fw));
        let elements = pipe(
            "sh",
            &[
                "-c",
                r#"tr -d '\n\t' | sed -n "$1" | tr -d ' ' | tr ',' '\n' | LC_ALL=C sort"#,
                "sh",
                NFT_ELEMENTS_SED,
            ],
            set,
        )?;
        assert_eq!(elements.trim_end(), nft_peer_elements(&fw));
        Ok(())
    }

    #[test]
    fn the_ebtables_sed_reads_the_chains_as_the_plan_writes_them() -> Result<(), Box<dyn std::error::Error>> {
        let rules = [LoopRule::DropBetweenMeshPorts];
        // As ebtables-nft 1.8.9 lists the chain and the jump `argv::of` writes.
        let chain =
            "Bridge table: filter\n\nBridge chain: VXLAN-MESH, entries: 1, policy: RETURN\n-i vxm+ -o vxm+ -j DROP\n";
        let forward = "Bridge table: filter\n\nBridge chain: FORWARD, entries: 1, policy: ACCEPT\n-j VXLAN-MESH\n";
        assert_eq!(
            pipe("sed", &[EBTABLES_RULES_SED], chain)?.trim_end(),
            ebtables_rules(&rules)
        );
        assert_eq!(
            pipe("sed", &[EBTABLES_RULES_SED], forward)?.trim_end(),
            ebtables_jump("VXLAN-MESH")
        );
        Ok(())
    }

    #[test]
    fn the_peers_awk_reads_a_dump_as_the_plan_writes_its_peers() -> Result<(), Box<dyn std::error::Error>> {
        let peer = WireguardPeer {
            name: "b".into(),
            public_key: crate::wireguard::PublicKey([7; 32]),
            endpoint: "192.0.2.2:51820".parse()?,
            allowed_ips: vec!["198.51.100.2/32".parse()?, "198.51.100.3/32".parse()?],
            persistent_keepalive: Some(25),
            preshared_key: false,
        };
        let dump = format!(
            "PRIVATE\tPUBLIC\t51820\toff\n{}\t(none)\t192.0.2.2:51820\t198.51.100.2/32,198.51.100.3/32\t0\t0\t0\t25\n",
            peer.public_key
        );
        assert_eq!(
            pipe("awk", &["-F", "\t", WG_PEERS_AWK], &dump)?,
            format!("{}\n", wg_peer_line(&peer))
        );
        let with_psk = dump.replace("(none)", "SECRET");
        assert!(!pipe("awk", &["-F", "\t", WG_PEERS_AWK], &with_psk)?.contains("SECRET"));
        Ok(())
    }
}
