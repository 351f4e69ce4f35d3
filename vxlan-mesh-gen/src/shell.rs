//! The shell script: `templates/vxlan-mesh.sh`, rendered with the single-quoting escaper.
//!
//! The view below holds every value as a `String`, so that each reaches the escaper whole
//! and comes out as one quoted word. Every command that changes the system is the
//! [`argv::of`] of a typed [`Op`] (the one place each command's arguments are written, the
//! same that `apply --dry-run` prints), held here as a `Cmd` and written by the template
//! as one `run ...` line; the template only decides *whether* to run it, by comparing the
//! host's current state with the wanted values the view also provides. The host's current
//! state is read the same way: every read is a command of [`argv::reads`] (shell parameters
//! such as `$1` standing in for what only the running script knows), and where the script
//! reduces a listing (awk, sed) it runs core's program, compared with core's text of the
//! plan.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use askama::filters::Escaper;
use askama::Template;
use vxlan_mesh_core::key_file;
use vxlan_mesh_core::ns_lock;
use vxlan_mesh_core::ops::{LinkSettings, Master, Op};
use vxlan_mesh_core::wireguard::DEFAULT_KEY_FILE;
use vxlan_mesh_core::OWNER_MARK;
use vxlan_mesh_core::{argv, firewall};
use vxlan_mesh_core::{FdbEntry, HostPlan, Ipv6Conf, LoopRules, MacAddr, NetworkPlan, PublicKey, Vxlan, WireguardPlan};
use vxlan_mesh_core::{EBTABLES_CHAIN, NFT_TABLE};

use crate::escape::ShellQuote;
use crate::{fill, Header, RenderError, RenderedFile};

/// Where the script is installed, in every form. Under `/etc`, beside the firewall files:
/// `/usr` is read-only on Flatcar (and Fedora CoreOS), where the Ignition form's files are
/// written, and `/etc` is the one directory both keep writable, persistent and on the root
/// file system at first boot (Fedora CoreOS's `/opt` is a link into `/var`, a file system of
/// its own that may not be mounted before `network-pre.target`).
pub(crate) const PATH: &str = "etc/vxlan-mesh/vxlan-mesh.sh";

/// One word of a command the script runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    /// A value known when rendering: written by the escaper, as every value is.
    Value(String),
    /// A value the script finds on the host (a stale link or FDB entry), held in a shell
    /// variable of the template.
    Param(Param),
}

/// The shell variables of the template's own loops that a command may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    /// `prune_links`: the stale link.
    Name,
    /// `prune_fdb`: the VXLAN device.
    Dev,
    /// `prune_fdb`: the stale entry's MAC address.
    Mac,
    /// `prune_fdb`: the stale entry's destination.
    Dst,
    /// `prune_fdb`: the stale entry's UDP port (the device's when it has none of its own).
    Port,
    /// `prune_fdb`: the stale entry's VNI (the device's when it has none of its own).
    Vni,
    /// `prune_fdb`: the stale entry's underlay interface.
    Via,
    /// The private key file the WireGuard interface is given (`VXLAN_MESH_WIREGUARD_KEY`).
    KeyFile,
    /// `wireguard_step`: a stale address of the WireGuard interface (`ADDRESS/LENGTH`).
    Addr,
    /// `wireguard_step`: a stale peer's public key.
    Key,
    /// `frr_send`: the vtysh arguments it built, each command after its flag.
    Commands,
    /// A read's argument the script knows only when it runs: the shell parameter written
    /// as the stand-in (`$1`, `$WG_IF`), expanded as it is named.
    Var(&'static str),
}

/// The variable's expansion, double-quoted (one word whatever it holds).
impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Param::Name => "$name",
            Param::Dev => "$dev",
            Param::Mac => "$mac",
            Param::Dst => "$dst",
            Param::Port => "$port",
            Param::Vni => "$vni",
            Param::Via => "$via",
            Param::KeyFile => "$WG_KEY",
            Param::Addr => "$addr",
            Param::Key => "$key",
            Param::Commands => "$@",
            Param::Var(name) => name,
        };
        write!(f, "\"{name}\"")
    }
}

/// A command the script runs, as shell words: the program and arguments [`argv::of`] wrote
/// for one operation (its standard input, if any, is passed separately). The template
/// writes it through the `words` filter, which takes nothing but a `Cmd`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cmd(Vec<Word>);

impl Cmd {
    /// The command of `op`, every word known now.
    fn of(op: &Op) -> Cmd {
        Cmd::new(&argv::of(op), &[])
    }

    /// The command of `op`, which holds stand-in values for what only the running script
    /// knows: each argument equal to a stand-in of `params` becomes that variable.
    fn at_run_time(op: &Op, params: &[(String, Param)]) -> Cmd {
        Cmd::new(&argv::of(op), params)
    }

    /// A read of [`argv::reads`]: each argument equal to one of `vars` (shell parameters
    /// the builder was given by name, such as `$1`) becomes that parameter's expansion.
    fn read(command: &argv::Command, vars: &[&'static str]) -> Cmd {
        let params: Vec<(String, Param)> = vars.iter().map(|v| (v.to_string(), Param::Var(v))).collect();
        Cmd::new(command, &params)
    }

    fn new(command: &argv::Command, params: &[(String, Param)]) -> Cmd {
        let word = |arg: &String| match params.iter().find(|(stand_in, _)| stand_in == arg) {
            Some((_, param)) => Word::Param(*param),
            None => Word::Value(arg.clone()),
        };
        let mut words = vec![Word::Value(command.program.name().to_string())];
        words.extend(command.args.iter().map(word));
        Cmd(words)
    }
}

/// Shell text: every value quoted by the shell template's escaper, words separated by one
/// space.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, w) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match w {
                Word::Value(v) => ShellQuote.write_escaped_str(&mut *f, v)?,
                Word::Param(p) => write!(f, "{p}")?,
            }
        }
        Ok(())
    }
}

/// The template's custom filter, found by askama as `filters::NAME`.
// askama's `filter_fn` makes each filter a `pub` item; the module keeps them in the crate.
#[allow(unreachable_pub)]
mod filters {
    use askama::filters::Safe;

    /// Writes a command: only a [`Cmd`](super::Cmd) is accepted, whose every value goes
    /// through the escaper, so this cannot pass a string through unquoted.
    #[askama::filter_fn]
    pub fn words(value: &super::Cmd, _: &dyn askama::Values) -> askama::Result<Safe<String>> {
        Ok(Safe(value.to_string()))
    }
}

/// A command that reads a script on standard input (`nft -f -`).
struct Piped {
    /// The command.
    cmd: Cmd,
    /// What it reads.
    text: String,
}

impl Piped {
    fn of(op: &Op) -> Piped {
        let command = argv::of(op);
        Piped {
            cmd: Cmd::new(&command, &[]),
            text: command.stdin.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "vxlan-mesh.sh")]
struct Script<'a> {
    h: &'a Header,
    lock: NsLock,
    host: &'a str,
    mode: &'static str,
    loop_prevention: &'static str,
    firewall_desc: String,
    owner: &'static str,
    nft_table: String,
    nft_remove: Piped,
    firewall: Option<Nft>,
    chain: &'static str,
    /// The loop-prevention chain as the plan wants it (ebtables mode).
    ebtables: Option<Ebtables>,
    /// Commands that remove the chain and its jump (run when present and not wanted).
    ebtables_remove: EbtablesRemove,
    /// Deletes the stale link `$name` (`prune_links`).
    link_delete: Cmd,
    /// Deletes the stale FDB entry `$mac` towards `$dst`, `$port`, `$vni` of `$dev`
    /// (`prune_fdb`).
    fdb_delete: Cmd,
    /// The same, for an entry through underlay interface `$via`.
    fdb_delete_via: Cmd,
    /// Every interface name the plan wants: owned links with other names are stale.
    wanted_links: Vec<String>,
    /// The WireGuard interface of an encrypted mesh.
    wireguard: Option<Wg>,
    networks: Vec<Net>,
    /// Whether a bridge's sysctl is set (`sysctl` is needed).
    sysctl: bool,
    /// evpn mode: the `router bgp` block FRR must run.
    frr: Option<Frr>,
    /// The reads of the template's helper functions.
    reads: Reads,
}

/// The reads the template's helper functions run, with their shell parameters.
struct Reads {
    /// `details`: the details of link `$1`.
    details: Cmd,
    /// `marked`: the links of kind `$1`.
    links_of_kind: Cmd,
    /// `fdb_show`: the FDB entries of VXLAN device `$1`.
    fdb: Cmd,
    /// The table named like vxlan-mesh's.
    nft_table: Cmd,
    /// The same, stateless (what [`firewall::nft_outline`] is compared with).
    nft_outline: Cmd,
    /// Its set of peers.
    nft_peers: Cmd,
    /// `ebt_list`: ebtables chain `$1`.
    ebtables: Cmd,
    /// The loop-prevention chain as nf_tables holds it (its hidden policy).
    ebtables_nft: Cmd,
    /// `vxlan_sig`: [`argv::reads::VXLAN_SIGNATURE_AWK`].
    vxlan_signature: &'static str,
    /// `wg_peers`: [`argv::reads::WG_PEERS_AWK`].
    wg_peers: &'static str,
    /// `nft_outline`: [`argv::reads::NFT_OUTLINE_SED`].
    nft_outline_sed: &'static str,
    /// `firewall_ok`: [`argv::reads::NFT_ELEMENTS_SED`].
    nft_elements_sed: &'static str,
    /// `ebt_policy`: [`argv::reads::EBTABLES_POLICY_SED`].
    ebtables_policy_sed: &'static str,
    /// `ebt_rules`: [`argv::reads::EBTABLES_RULES_SED`].
    ebtables_rules: &'static str,
    /// The rule of `FORWARD` that jumps to the loop-prevention chain, as `ebtables -L`
    /// lists it.
    ebtables_jump: String,
}

impl Reads {
    fn new() -> Reads {
        use argv::reads::{self, NftListing};
        const TABLE: &str = "$NFT_TABLE";
        Reads {
            details: Cmd::read(&reads::link_details("$1"), &["$1"]),
            links_of_kind: Cmd::read(&reads::links_of_kind("$1"), &["$1"]),
            fdb: Cmd::read(&reads::fdb_of("$1"), &["$1"]),
            nft_table: Cmd::read(&reads::nft_table(TABLE, NftListing::Text), &[TABLE]),
            nft_outline: Cmd::read(&reads::nft_table(TABLE, NftListing::Stateless), &[TABLE]),
            nft_peers: Cmd::read(&reads::nft_peers(TABLE, NftListing::Text), &[TABLE]),
            ebtables: Cmd::read(&reads::ebtables_list(Some("$1")), &["$1"]),
            ebtables_nft: Cmd::read(
                &reads::ebtables_nft_chain("$EBT_CHAIN", NftListing::Text),
                &["$EBT_CHAIN"],
            ),
            vxlan_signature: reads::VXLAN_SIGNATURE_AWK,
            wg_peers: reads::WG_PEERS_AWK,
            nft_outline_sed: reads::NFT_OUTLINE_SED,
            nft_elements_sed: reads::NFT_ELEMENTS_SED,
            ebtables_rules: reads::EBTABLES_RULES_SED,
            ebtables_policy_sed: reads::EBTABLES_POLICY_SED,
            ebtables_jump: reads::ebtables_jump(EBTABLES_CHAIN),
        }
    }
}

struct Nft {
    load: Piped,
    /// The peers' addresses (evpn mode: the underlay prefix), one per line.
    peers: String,
    /// The table as `nft -s list table` prints it, on one line, without its elements.
    outline: String,
}

/// The WireGuard interface: what `wireguard_step` compares and the commands it runs.
struct Wg {
    interface: String,
    /// The plan's public key of this host, which the key file's private key must match.
    public_key: String,
    /// The key file used unless `VXLAN_MESH_WIREGUARD_KEY` names another.
    key_file: String,
    /// [`key_file::EXPOSED_BITS`], in decimal (the template's arithmetic reads it bare).
    exposed_bits: u32,
    /// [`key_file::exposed_message`] as a `printf` format of the file and its octal mode.
    exposed_message: String,
    /// [`key_file::owner_message`] as a `printf` format of the file and its owner's uid.
    owner_message: String,
    listen_port: String,
    /// The firewall mark as `wg show IFNAME fwmark` prints it (`off`: none).
    fwmark: String,
    /// `ADDRESS/LENGTH`, as `ip -o addr` lists it.
    address: String,
    mtu: String,
    alias: String,
    create: Cmd,
    /// `wireguard-go NAME`, where the kernel refuses `create`.
    userspace: Cmd,
    set_mtu: Cmd,
    set_alias: Cmd,
    /// The key (read by `wg` from `$WG_KEY`) and the listen port.
    configure: Cmd,
    add_address: Cmd,
    /// Deletes the stale address `$addr`.
    delete_address: Cmd,
    /// Deletes the planned address (given again next, to restore the route of its prefix).
    delete_own_address: Cmd,
    /// The peers' inner addresses, space-separated: each must be routed through the
    /// interface.
    peer_addresses: String,
    /// Removes the stale peer `$key`.
    remove_peer: Cmd,
    /// Reads the interface's public key, listen port, firewall mark and peers (`wg show`).
    show_public_key: Cmd,
    show_listen_port: Cmd,
    show_fwmark: Cmd,
    dump: Cmd,
    /// The public key of the private key on standard input.
    pubkey: Cmd,
    /// Reads the interface's addresses.
    addresses: Cmd,
    /// The route to the peer address `$inner`, and the entry it matches.
    route_get: Cmd,
    route_entry: Cmd,
    /// The routes of the interface's own prefixes.
    prefix_routes: Cmd,
    set_up: Cmd,
    /// The wanted peers' public keys, space-separated: other peers are stale.
    peer_keys: String,
    peers: Vec<WgPeer>,
}

struct WgPeer {
    name: String,
    /// The peer as `wg_peers` (in the template) prints it ([`argv::reads::wg_peer_line`]).
    line: String,
    set: Cmd,
}

/// The namespace's lock, shared with `vxlan-mesh apply` ([`ns_lock`]): where it is, how long
/// to wait, and the messages, as `printf` formats the script fills in.
struct NsLock {
    dir: &'static str,
    read_wait: u64,
    write_wait: u64,
    /// `%s`: the namespace's inode.
    file: String,
    /// `%s` the directory, `%s` why.
    refused: String,
    symlink: &'static str,
    not_a_directory: &'static str,
    /// `%s` the owner, `%s` the user.
    foreign_owner: String,
    /// `%s` the mode.
    open_mode: String,
    /// `%s` the file, `%s` the seconds.
    timeout: String,
}

impl NsLock {
    fn new() -> NsLock {
        NsLock {
            dir: ns_lock::DIR,
            read_wait: ns_lock::READ_WAIT_SECS,
            write_wait: ns_lock::WRITE_WAIT_SECS,
            file: ns_lock::file_name("%s"),
            refused: ns_lock::refused_message("%s", "%s"),
            symlink: ns_lock::SYMLINK,
            not_a_directory: ns_lock::NOT_A_DIRECTORY,
            foreign_owner: ns_lock::foreign_owner("%s", "%s"),
            open_mode: ns_lock::open_mode("%s"),
            timeout: ns_lock::timeout_message("%s", "%s", ""),
        }
    }
}

/// FRR's configuration in evpn mode.
struct Frr {
    /// The core's `router bgp` block, as FRR's `show running-config` prints it.
    conf: String,
    /// The core's awk program that computes the line edits from the running block
    /// ([`vxlan_mesh_core::frr::edits_awk`]).
    edits: String,
    /// Prints the running configuration.
    read: Cmd,
    /// Cuts the `router bgp` block out of it ([`argv::reads::FRR_BLOCK_AWK`]).
    block_awk: &'static str,
    /// The block's line that marks it as vxlan-mesh's ([`argv::reads::frr_mark`]).
    mark: String,
    /// vtysh's flag before each command.
    flag: String,
    /// Runs the commands `frr_send` put after their flags in `"$@"`, in one session.
    send: Cmd,
    /// `VNI:DEVICE` of each VXLAN device, space-separated.
    vnis: String,
    /// Prints the VNIs zebra knows, with their devices.
    vnis_read: Cmd,
    /// Finds the device of VNI `vni` in that listing ([`argv::reads::ZEBRA_VNI_DEVICE_AWK`]).
    vni_device_awk: &'static str,
    /// Makes zebra learn forgotten VNIs again.
    relearn: Cmd,
}

impl Frr {
    fn of(config: &vxlan_mesh_core::frr::Config, plan: &HostPlan) -> Frr {
        let mut send = Cmd::new(&argv::vtysh(&[], &[]), &[]);
        send.0.push(Word::Param(Param::Commands));
        Frr {
            conf: config.render(),
            edits: vxlan_mesh_core::frr::edits_awk(),
            read: Cmd::new(&argv::vtysh_running_config(&[]), &[]),
            block_awk: argv::reads::FRR_BLOCK_AWK,
            mark: argv::reads::frr_mark(),
            flag: argv::VTYSH_COMMAND.to_string(),
            send,
            vnis: plan
                .vxlans()
                .map(|v| format!("{}:{}", v.vni, v.name))
                .collect::<Vec<_>>()
                .join(" "),
            vnis_read: Cmd::new(&argv::vtysh_evpn_vnis(&[]), &[]),
            vni_device_awk: argv::reads::ZEBRA_VNI_DEVICE_AWK,
            relearn: Cmd::new(
                &argv::vtysh(&[], &vxlan_mesh_core::frr::relearn_commands(config.asn())),
                &[],
            ),
        }
    }
}

struct Ebtables {
    /// The chain's rules as `ebtables -L` lists them, one per line.
    listing: String,
    create: Cmd,
    /// Sets the chain's policy back to `RETURN`.
    policy: Cmd,
    flush: Cmd,
    rules: Vec<Cmd>,
    jump_delete: Cmd,
    jump_insert: Cmd,
}

struct EbtablesRemove {
    jump_delete: Cmd,
    flush: Cmd,
    delete: Cmd,
}

struct Net {
    name: String,
    bridge: String,
    mtu: String,
    alias: String,
    create: Cmd,
    set_mtu: Cmd,
    set_alias: Cmd,
    set_up: Cmd,
    /// evpn mode: the bridge's `arp_accept` sysctl, read back and set.
    arp_accept: Option<ArpAccept>,
    /// The bridge's IPv6 hardening, read back and set.
    ipv6: Ipv6,
    vxlans: Vec<Vx>,
}

/// An interface's IPv6 hardening (`Ipv6Conf::HARDENED`): its sysctls (key, the read of
/// its value, the wanted value), the read of its IPv6 addresses, and the commands that set
/// them and flush its addresses.
struct Ipv6 {
    /// The interface.
    name: String,
    sysctls: Vec<(String, Cmd, &'static str)>,
    addresses: Cmd,
    harden: Cmd,
    flush: Cmd,
}

fn ipv6(name: &str) -> Ipv6 {
    Ipv6 {
        sysctls: Ipv6Conf::sysctls(name)
            .into_iter()
            .map(|(key, value)| {
                let get = Cmd::read(&argv::reads::sysctl_get(&key), &[]);
                (key, get, value)
            })
            .collect(),
        addresses: Cmd::read(&argv::reads::ipv6_addresses(name), &[]),
        harden: Cmd::of(&Op::HardenIpv6 { name: name.to_string() }),
        flush: Cmd::of(&Op::FlushIpv6 { name: name.to_string() }),
        name: name.to_string(),
    }
}

/// `net.ipv4.conf.<bridge>.arp_accept = 1` (see `Bridge::arp_accept`).
struct ArpAccept {
    /// Reads the sysctl.
    get: Cmd,
    set: Cmd,
}

struct Vx {
    description: String,
    name: String,
    /// The attributes that cannot change in place, as `vxlan_sig` prints them
    /// ([`argv::reads::vxlan_signature`]).
    signature: String,
    /// The `remote` whose flood entry the kernel implies ('' in flood mode).
    remote: String,
    /// The UDP port and VNI the device's FDB entries use when they name none.
    port: String,
    vni: String,
    /// The device's IPv6 hardening, read back and set.
    ipv6: Ipv6,
    mtu: String,
    alias: String,
    bridge: String,
    delete: Cmd,
    create: Cmd,
    set_mtu: Cmd,
    set_alias: Cmd,
    set_down: Cmd,
    set_master: Cmd,
    /// Every forwarding flag of the bridge port (word and value, as `ip -d link` lists
    /// them; none when the device is no port), and the command that sets them all.
    port_flags: Vec<(&'static str, &'static str)>,
    set_port_flags: Cmd,
    /// evpn mode: FRR owns the FDB entries, which the script neither adds nor prunes.
    external_fdb: bool,
    set_up: Cmd,
    fdb: Vec<Fdb>,
}

struct Fdb {
    /// `MAC@DESTINATION`, as `prune_fdb` compares entries.
    key: String,
    mac: String,
    destination: String,
    add: Cmd,
}

/// `ip link set dev NAME` with the settings `set` chooses (the others left as they are).
fn set_link(name: &str, set: impl FnOnce(&mut LinkSettings)) -> Cmd {
    let mut settings = LinkSettings::default();
    set(&mut settings);
    Cmd::of(&Op::SetLink {
        name: name.to_string(),
        settings,
    })
}

fn delete_link(name: &str) -> Cmd {
    Cmd::of(&Op::DeleteLink { name: name.to_string() })
}

/// iproute2's word for a flag.
fn on_off(flag: bool) -> &'static str {
    if flag {
        "on"
    } else {
        "off"
    }
}

fn vx(plan: &HostPlan, net: &NetworkPlan, v: &Vxlan) -> Vx {
    let master = v.bridge.clone().map_or(Master::None, Master::Bridge);
    Vx {
        description: match &v.peer {
            Some(peer) => format!("VXLAN device towards {peer}, VNI {}", v.vni),
            None if plan.evpn.is_some() => format!("VXLAN device, VNI {}, its FDB entries by FRR (EVPN)", v.vni),
            None => format!("VXLAN device, VNI {}, flooding to {} peer(s)", v.vni, net.fdb.len()),
        },
        name: v.name.clone(),
        signature: argv::reads::vxlan_signature(v),
        remote: v.remote.map(|r| r.to_string()).unwrap_or_default(),
        port: v.port.to_string(),
        vni: v.vni.to_string(),
        ipv6: ipv6(&v.name),
        delete: delete_link(&v.name),
        create: Cmd::of(&Op::CreateVxlan { vxlan: v.clone() }),
        set_mtu: set_link(&v.name, |s| s.mtu = Some(v.mtu)),
        set_alias: set_link(&v.name, |s| s.alias = Some(v.alias.clone())),
        set_down: set_link(&v.name, |s| s.up = Some(false)),
        set_master: set_link(&v.name, |s| s.master = Some(master)),
        port_flags: match v.bridge {
            Some(_) => v
                .port_flags
                .settings()
                .into_iter()
                .map(|(flag, on)| (flag.iproute2_word(), on_off(on)))
                .collect(),
            None => Vec::new(),
        },
        set_port_flags: Cmd::of(&Op::SetPortFlags {
            name: v.name.clone(),
            flags: v.port_flags.settings(),
        }),
        external_fdb: plan.evpn.is_some(),
        set_up: set_link(&v.name, |s| s.up = Some(true)),
        mtu: v.mtu.to_string(),
        alias: v.alias.clone(),
        bridge: v.bridge.clone().unwrap_or_default(),
        fdb: net
            .fdb
            .iter()
            .filter(|e| e.device == v.name)
            .map(|e| {
                let (mac, destination) = (e.mac.to_string(), e.destination.to_string());
                Fdb {
                    key: format!("{mac}@{destination}"),
                    add: Cmd::of(&Op::AddFdb { entry: e.clone() }),
                    mac,
                    destination,
                }
            })
            .collect(),
    }
}

fn net(plan: &HostPlan, n: &NetworkPlan) -> Net {
    let br = &n.bridge;
    Net {
        name: n.name.clone(),
        bridge: br.name.clone(),
        create: Cmd::of(&Op::CreateBridge { name: br.name.clone() }),
        set_mtu: set_link(&br.name, |s| s.mtu = Some(br.mtu)),
        set_alias: set_link(&br.name, |s| s.alias = Some(br.alias.clone())),
        set_up: set_link(&br.name, |s| s.up = Some(true)),
        ipv6: ipv6(&br.name),
        arp_accept: br.arp_accept.then(|| ArpAccept {
            get: Cmd::read(&argv::reads::sysctl_get(&argv::arp_accept_key(&br.name)), &[]),
            set: Cmd::of(&Op::SetArpAccept {
                bridge: br.name.clone(),
                accept: true,
            }),
        }),
        mtu: br.mtu.to_string(),
        alias: br.alias.clone(),
        vxlans: n.vxlans.iter().map(|v| vx(plan, n, v)).collect(),
    }
}

fn ebtables(rules: &LoopRules) -> Ebtables {
    let chain = || rules.chain.clone();
    Ebtables {
        listing: argv::reads::ebtables_rules(&rules.rules),
        create: Cmd::of(&Op::CreateChain { chain: chain() }),
        policy: Cmd::of(&Op::ReturnPolicy { chain: chain() }),
        flush: Cmd::of(&Op::FlushChain { chain: chain() }),
        rules: rules
            .rules
            .iter()
            .map(|rule| {
                Cmd::of(&Op::AppendRule {
                    chain: chain(),
                    rule: rule.clone(),
                })
            })
            .collect(),
        jump_delete: Cmd::of(&Op::DeleteJump { chain: chain() }),
        // Position 1: evaluated before any rule of other tools that could accept the frame.
        jump_insert: Cmd::of(&Op::InsertJump { chain: chain() }),
    }
}

fn ebtables_remove() -> EbtablesRemove {
    let chain = || EBTABLES_CHAIN.to_string();
    EbtablesRemove {
        jump_delete: Cmd::of(&Op::DeleteJump { chain: chain() }),
        flush: Cmd::of(&Op::FlushChain { chain: chain() }),
        delete: Cmd::of(&Op::DeleteChain { chain: chain() }),
    }
}

/// `ip link del` of the link in `$name`.
fn link_delete() -> Cmd {
    let stand_in = "$name".to_string();
    Cmd::at_run_time(&Op::DeleteLink { name: stand_in.clone() }, &[(stand_in, Param::Name)])
}

/// `bridge fdb del` of the entry `$mac` towards `$dst` with `$port` and `$vni` (and
/// through `$via`) of VXLAN device `$dev`: the kernel finds the entry by all of them, and
/// the script passes the device's own port and VNI for an entry that has none.
fn fdb_delete(through: bool) -> Cmd {
    // Stand-ins of the right types; only the words they become matter.
    let device = "$dev".to_string();
    let via = "$via".to_string();
    let mac = MacAddr([0x02, 0, 0x5e, 0, 0x53, 0x01]);
    let destination = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 255));
    let (port, vni) = (65_001_u16, 16_777_001_u32);
    Cmd::at_run_time(
        &Op::DeleteFdb {
            entry: {
                let mut entry = FdbEntry::new(device.clone(), mac, destination);
                (entry.vni, entry.port, entry.via) = (Some(vni), Some(port), through.then(|| via.clone()));
                entry
            },
        },
        &[
            (device, Param::Dev),
            (mac.to_string(), Param::Mac),
            (destination.to_string(), Param::Dst),
            (port.to_string(), Param::Port),
            (vni.to_string(), Param::Vni),
            (via, Param::Via),
        ],
    )
}

/// The WireGuard interface's view. The key file is the shell variable `$WG_KEY` in every
/// command: its default is the plan's file, and the environment may name another.
/// The private key file the interface reads (by path; the key is never in a rendered file):
/// the script's `wg set`, and the networkd and netplan forms that ship the script, name it.
pub(crate) fn key_file(w: &WireguardPlan) -> String {
    w.private_key_file
        .as_ref()
        .map_or_else(|| DEFAULT_KEY_FILE.to_string(), |f| f.display().to_string())
}

fn wg(w: &WireguardPlan) -> Wg {
    use argv::reads::{self, WgShow};
    // The template's variables of the interface and of the peer address `wg_routes` checks.
    const WG_IF: &str = "$WG_IF";
    const INNER: &str = "$inner";
    let wg_show = |what| Cmd::read(&reads::wg_show(WG_IF, what), &[WG_IF]);
    let interface = w.interface.clone();
    let key_file = "$WG_KEY".to_string();
    let configure = Cmd::at_run_time(
        &Op::ConfigureWireguard {
            interface: interface.clone(),
            private_key_file: Some(PathBuf::from(&key_file)),
            listen_port: w.listen_port,
            fwmark: w.fwmark,
        },
        &[(key_file, Param::KeyFile)],
    );
    // Stand-ins of the right types; only the words they become matter.
    let stale_address = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 255));
    let delete_address = Cmd::at_run_time(
        &Op::DeleteAddress {
            interface: interface.clone(),
            address: stale_address,
            prefix_len: 32,
        },
        &[(format!("{stale_address}/32"), Param::Addr)],
    );
    let stale_key = PublicKey([0; 32]);
    let remove_peer = Cmd::at_run_time(
        &Op::RemovePeer {
            interface: interface.clone(),
            public_key: stale_key,
        },
        &[(stale_key.to_string(), Param::Key)],
    );
    let peers = w
        .peers
        .iter()
        .map(|p| WgPeer {
            name: p.name.clone(),
            line: reads::wg_peer_line(p),
            set: Cmd::of(&Op::SetPeer {
                interface: interface.clone(),
                peer: p.clone(),
            }),
        })
        .collect();
    Wg {
        public_key: w.public_key.to_string(),
        key_file: self::key_file(w),
        exposed_bits: key_file::EXPOSED_BITS,
        exposed_message: key_file::exposed_message("%s", "%s"),
        owner_message: key_file::owner_message("%s", "%s"),
        listen_port: w.listen_port.to_string(),
        fwmark: vxlan_mesh_core::wireguard::fwmark_text(w.fwmark),
        address: format!("{}/{}", w.address, w.prefix_len),
        mtu: w.mtu.to_string(),
        alias: w.alias.clone(),
        create: Cmd::of(&Op::CreateWireguard {
            name: interface.clone(),
        }),
        userspace: Cmd::new(&argv::userspace_wireguard(&interface), &[]),
        set_mtu: set_link(&interface, |s| s.mtu = Some(w.mtu)),
        set_alias: set_link(&interface, |s| s.alias = Some(w.alias.clone())),
        configure,
        add_address: Cmd::of(&Op::AddAddress {
            interface: interface.clone(),
            address: w.address,
            prefix_len: w.prefix_len,
        }),
        delete_address,
        delete_own_address: Cmd::of(&Op::DeleteAddress {
            interface: interface.clone(),
            address: w.address,
            prefix_len: w.prefix_len,
        }),
        peer_addresses: w
            .peers
            .iter()
            .flat_map(|p| p.allowed_ips.iter().map(|a| a.network().to_string()))
            .collect::<Vec<_>>()
            .join(" "),
        remove_peer,
        show_public_key: wg_show(WgShow::PublicKey),
        show_listen_port: wg_show(WgShow::ListenPort),
        show_fwmark: wg_show(WgShow::Fwmark),
        dump: wg_show(WgShow::Dump),
        pubkey: Cmd::read(&reads::wg_pubkey(), &[]),
        addresses: Cmd::read(&reads::addresses(WG_IF), &[WG_IF]),
        route_get: Cmd::read(&reads::route_get(INNER), &[INNER]),
        route_entry: Cmd::read(&reads::route_entry(INNER), &[INNER]),
        prefix_routes: Cmd::read(&reads::prefix_routes(WG_IF), &[WG_IF]),
        set_up: set_link(&interface, |s| s.up = Some(true)),
        peer_keys: w
            .peers
            .iter()
            .map(|p| p.public_key.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        peers,
        interface,
    }
}

pub(crate) fn render(plan: &HostPlan, h: &Header) -> Result<Vec<RenderedFile>, RenderError> {
    let table = plan.firewall.as_ref().map_or(NFT_TABLE, |fw| fw.table.as_str());
    let mut wanted_links: Vec<String> = plan.wireguard.iter().map(|w| w.interface.clone()).collect();
    for n in &plan.networks {
        wanted_links.push(n.bridge.name.clone());
        wanted_links.extend(n.vxlans.iter().map(|v| v.name.clone()));
    }
    let script = Script {
        h,
        lock: NsLock::new(),
        host: &plan.host,
        mode: plan.mode.as_str(),
        loop_prevention: plan.loop_prevention.describe(),
        firewall_desc: firewall_desc(plan),
        owner: OWNER_MARK,
        nft_table: table.to_string(),
        nft_remove: Piped::of(&Op::RemoveFirewall {
            table: table.to_string(),
        }),
        firewall: plan.firewall.as_ref().map(|fw| Nft {
            load: Piped::of(&Op::LoadFirewall { firewall: fw.clone() }),
            peers: argv::reads::nft_peer_elements(fw),
            outline: firewall::nft_outline(fw),
        }),
        chain: EBTABLES_CHAIN,
        ebtables: plan.loop_rules.as_ref().map(ebtables),
        ebtables_remove: ebtables_remove(),
        link_delete: link_delete(),
        fdb_delete: fdb_delete(false),
        fdb_delete_via: fdb_delete(true),
        wanted_links,
        wireguard: plan.wireguard.as_ref().map(wg),
        networks: plan.networks.iter().map(|n| net(plan, n)).collect(),
        // The overlay's interfaces' IPv6 hardening, and evpn's arp_accept.
        sysctl: !plan.networks.is_empty(),
        frr: vxlan_mesh_core::frr::Config::from_plan(plan)
            .as_ref()
            .map(|c| Frr::of(c, plan)),
        reads: Reads::new(),
    };
    Ok(vec![RenderedFile {
        path: PATH.into(),
        mode: 0o755,
        contents: fill(PATH, &script)?,
    }])
}

/// One line on the firewall for headers of every format.
pub(crate) fn firewall_desc(plan: &HostPlan) -> String {
    match &plan.firewall {
        Some(fw @ vxlan_mesh_core::Firewall { wireguard: Some(w), .. }) => format!(
            "nftables table inet {} accepts WireGuard (UDP {}) from the {} peer address(es) only, VXLAN (UDP {}) in and out by {} only",
            fw.table,
            fw.port,
            fw.peers.len(),
            w.vxlan_port,
            w.interface
        ),
        Some(fw @ vxlan_mesh_core::Firewall { evpn: Some(e), .. }) => format!(
            "nftables table inet {} accepts UDP {} and TCP {} from {} only",
            fw.table, fw.port, e.bgp_port, e.prefix
        ),
        Some(fw) => format!(
            "nftables table inet {} accepts UDP {} from the {} peer(s) only",
            fw.table,
            fw.port,
            fw.peers.len()
        ),
        None => format!("off in the inventory; UDP {} is open to anyone", plan.port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_time_commands_take_every_value_from_the_shell() {
        assert_eq!(link_delete().to_string(), r#"'ip' 'link' 'del' 'dev' "$name""#);
        assert_eq!(
            fdb_delete(false).to_string(),
            r#"'bridge' 'fdb' 'del' "$mac" 'dev' "$dev" 'dst' "$dst" 'port' "$port" 'vni' "$vni" 'self'"#
        );
        assert_eq!(
            fdb_delete(true).to_string(),
            r#"'bridge' 'fdb' 'del' "$mac" 'dev' "$dev" 'dst' "$dst" 'port' "$port" 'vni' "$vni" 'via' "$via" 'self'"#
        );
    }
}
