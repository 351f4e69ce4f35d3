//! The commands that *read* the host: the one description of each listing the rendered
//! shell script parses and, where the Rust side reads the same object through a program
//! (`nft`, `ebtables`, `wg`), the command it spawns. Writes are [`super::of`]'s.
//!
//! Each builder names the equivalent command line in its rustdoc. Arguments are taken as
//! text so that the script can pass a shell variable where only the running script knows
//! the value (the generator turns a stand-in such as `$1` into that variable's expansion).

use super::{Command, Program, EBTABLES_TABLE};
use crate::firewall::PEERS_SET;

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
