//! The argument vectors of the [`Op`]s: the `ip`, `bridge`, `ebtables` and `nft` command
//! that performs each operation. One function ([`of`]) writes them; `apply --dry-run` prints
//! them as shell text ([`Command::shell`], quoting through [`shell_word`]), the netlink
//! apply runs the `ebtables` and `nft` ones as they are, and the rendered shell script
//! (vxlan-mesh-gen) runs them all, its values quoted by [`single_quoted`]. The commands
//! that read the host, for the script and the Rust side alike, are [`reads`]'.

use std::fmt;

pub mod reads;

use crate::diff::Change;
use crate::firewall::{nft_remove_script, nft_script};
use crate::ipv6::Ipv6Conf;
use crate::ops::{self, LinkSettings, Master, Op, FORWARD};
use crate::plan::{FdbEntry, Vxlan, WireguardPeer};
use crate::port_flags::PortFlag;

/// The ebtables table vxlan-mesh's chain lives in.
const EBTABLES_TABLE: &str = "filter";

/// A program an [`Op`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Program {
    /// iproute2's `ip`.
    Ip,
    /// iproute2's `bridge`.
    Bridge,
    /// `ebtables`.
    Ebtables,
    /// nftables' `nft`.
    Nft,
    /// wireguard-tools' `wg`.
    Wg,
    /// `wireguard-go`, the userspace WireGuard started where the kernel has none.
    WireguardGo,
    /// procps' `sysctl`.
    Sysctl,
    /// FRR's `vtysh`, the one way into its daemons.
    Vtysh,
}

impl Program {
    /// The program's name, as found on `PATH`.
    ///
    /// ```
    /// assert_eq!(vxlan_mesh_core::argv::Program::Nft.name(), "nft");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Program::Ip => "ip",
            Program::Bridge => "bridge",
            Program::Ebtables => "ebtables",
            Program::Nft => "nft",
            Program::Wg => "wg",
            Program::WireguardGo => "wireguard-go",
            Program::Sysctl => "sysctl",
            Program::Vtysh => "vtysh",
        }
    }
}

/// One command: a program, its arguments, and what it reads on standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The program.
    pub program: Program,
    /// Its arguments.
    pub args: Vec<String>,
    /// Standard input (an nftables script), if any.
    pub stdin: Option<String>,
}

impl Command {
    fn new(program: Program, args: impl IntoIterator<Item = impl Into<String>>) -> Command {
        Command {
            program,
            args: args.into_iter().map(Into::into).collect(),
            stdin: None,
        }
    }

    /// The command as one line of shell (standard input as a quoted here-document).
    ///
    /// ```
    /// use vxlan_mesh_core::argv::{Command, Program};
    /// let c = Command { program: Program::Ip, args: vec!["link".into(), "del".into(), "dev".into(), "x;y".into()], stdin: None };
    /// assert_eq!(c.shell(), "ip link del dev 'x;y'");
    /// ```
    pub fn shell(&self) -> String {
        let mut s = self.program.name().to_string();
        for arg in &self.args {
            s.push(' ');
            s.push_str(&shell_word(arg));
        }
        if let Some(text) = &self.stdin {
            // A quoted delimiter: the shell expands nothing in the script.
            s.push_str(" <<'EOF'\n");
            s.push_str(text);
            s.push_str("EOF");
        }
        s
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shell())
    }
}

/// One shell word for a value: the one shell-quoting function of the workspace.
///
/// Plain words (names from a validated plan, numbers, addresses) stay as they are; anything
/// else is single-quoted (a `'` inside written `'\''`). Values read back from the host (any
/// byte but `/`, `:` and whitespace in an interface name, anything in an alias) may hold
/// control characters: those are shown escaped, so that a hostile name in `--dry-run`
/// output can neither run a command when pasted into a shell nor steer the terminal.
///
/// ```
/// use vxlan_mesh_core::argv::shell_word;
/// assert_eq!(shell_word("vxm100"), "vxm100");
/// assert_eq!(shell_word("it's $HOME"), r#"'it'\''s $HOME'"#);
/// ```
pub fn shell_word(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '@' | '+' | '=' | ',' | '/'));
    if plain {
        value.to_string()
    } else {
        single_quoted(&crate::names::shown_message(value))
    }
}

/// `value` as one single-quoted shell word that gives back exactly `value`, every byte of
/// it (newlines included): the quoting under [`shell_word`], and what a program that writes
/// shell text to be run (the rendered script, a lab's `sh -c`) quotes values with.
///
/// Inside single quotes the shell interprets nothing, so the only character that needs
/// care is `'` itself, written `'\''` (close, escaped quote, reopen).
///
/// ```
/// use vxlan_mesh_core::argv::single_quoted;
/// assert_eq!(single_quoted("vxm100"), "'vxm100'");
/// assert_eq!(single_quoted("it's\n$HOME"), "'it'\\''s\n$HOME'");
/// ```
pub fn single_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    out.push_str(&value.replace('\'', "'\\''"));
    out.push('\'');
    out
}

/// iproute2's word for a flag.
fn on_off(flag: bool) -> &'static str {
    if flag {
        "on"
    } else {
        "off"
    }
}

/// The command that performs `op`: the one place each command's arguments are written.
///
/// ```
/// use vxlan_mesh_core::{argv, ops::Op};
/// let c = argv::of(&Op::InsertJump { chain: "VXLAN-MESH".into() });
/// assert_eq!(c.shell(), "ebtables -t filter -I FORWARD 1 -j VXLAN-MESH");
/// ```
pub fn of(op: &Op) -> Command {
    match op {
        Op::LoadFirewall { firewall } => nft_stdin(nft_script(firewall)),
        Op::RemoveFirewall { table } => nft_stdin(nft_remove_script(table)),
        Op::CreateBridge { name } => Command::new(Program::Ip, ["link", "add", "name", name, "type", "bridge"]),
        Op::CreateVxlan { vxlan } => Command::new(Program::Ip, create_vxlan(vxlan)),
        Op::SetLink { name, settings } => Command::new(Program::Ip, set_link(name, settings)),
        Op::DeleteLink { name } => Command::new(Program::Ip, ["link", "del", "dev", name]),
        Op::SetPortFlags { name, flags } => Command::new(Program::Ip, set_port_flags(name, flags)),
        Op::SetArpAccept { bridge, accept } => Command::new(
            Program::Sysctl,
            ["-w", &format!("{}={}", arp_accept_key(bridge), u8::from(*accept))],
        ),
        Op::HardenIpv6 { name } => Command::new(
            Program::Sysctl,
            std::iter::once("-w".to_string()).chain(
                Ipv6Conf::sysctls(name)
                    .into_iter()
                    .map(|(key, value)| format!("{key}={value}")),
            ),
        ),
        Op::FlushIpv6 { name } => Command::new(Program::Ip, ["-6", "address", "flush", "dev", name]),
        Op::AddFdb { entry } => Command::new(Program::Bridge, fdb("append", entry, &["self", "permanent"])),
        Op::DeleteFdb { entry } => Command::new(Program::Bridge, fdb("del", entry, &["self"])),
        Op::CreateChain { chain } => ebtables(["-N", chain, "-P", "RETURN"]),
        Op::ReturnPolicy { chain } => ebtables(["-P", chain, "RETURN"]),
        Op::FlushChain { chain } => ebtables(["-F", chain]),
        Op::AppendRule { chain, rule } => {
            let mut args = vec!["-t".to_string(), EBTABLES_TABLE.into(), "-A".into(), chain.clone()];
            args.extend(rule.ebtables_args());
            Command::new(Program::Ebtables, args)
        }
        Op::InsertJump { chain } => ebtables(["-I", FORWARD, "1"].into_iter().chain(jump_args(chain))),
        Op::DeleteJump { chain } => ebtables(["-D", FORWARD].into_iter().chain(jump_args(chain))),
        Op::DeleteRuleAt { chain, position } => ebtables(["-D", chain, &position.to_string()]),
        Op::DeleteChain { chain } => ebtables(["-X", chain]),
        Op::CreateWireguard { name } => Command::new(Program::Ip, ["link", "add", "name", name, "type", "wireguard"]),
        Op::ConfigureWireguard {
            interface,
            private_key_file,
            listen_port,
            fwmark,
        } => {
            let mut args = vec!["set".to_string(), interface.clone()];
            if let Some(file) = private_key_file {
                // The file's path: `wg` reads the key from it.
                args.push("private-key".into());
                args.push(file.display().to_string());
            }
            args.push("listen-port".into());
            args.push(listen_port.to_string());
            args.push("fwmark".into());
            args.push(crate::wireguard::fwmark_text(*fwmark));
            Command::new(Program::Wg, args)
        }
        Op::SetPeer { interface, peer } => Command::new(Program::Wg, set_peer(interface, peer)),
        Op::RemovePeer { interface, public_key } => Command::new(
            Program::Wg,
            ["set", interface, "peer", &public_key.to_string(), "remove"],
        ),
        Op::AddAddress {
            interface,
            address,
            prefix_len,
        } => Command::new(
            Program::Ip,
            ["address", "add", &format!("{address}/{prefix_len}"), "dev", interface],
        ),
        Op::DeleteAddress {
            interface,
            address,
            prefix_len,
        } => Command::new(
            Program::Ip,
            ["address", "del", &format!("{address}/{prefix_len}"), "dev", interface],
        ),
    }
}

/// The sysctl key of a bridge's `arp_accept`. In a key `.` separates its parts, so a `.` in
/// the interface name is written `/` (procps' convention, as in `net.ipv4.conf.eth0/100.rp_filter`).
///
/// ```
/// use vxlan_mesh_core::argv::arp_accept_key;
/// assert_eq!(arp_accept_key("vxbr0"), "net.ipv4.conf.vxbr0.arp_accept");
/// assert_eq!(arp_accept_key("br.10"), "net.ipv4.conf.br/10.arp_accept");
/// ```
pub fn arp_accept_key(bridge: &str) -> String {
    format!("net.ipv4.conf.{}.arp_accept", bridge.replace('.', "/"))
}

/// The command that performs [`Op::CreateWireguard`] `{ name }` where the kernel refuses
/// [`of`]'s (no `wireguard` link kind): `wireguard-go NAME`, which creates the TUN device
/// `NAME` and serves it, as `wg-quick` falls back. `apply` runs it when the kernel has no
/// WireGuard, the rendered shell script when `ip link add` fails.
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::userspace_wireguard("vxmwg0").shell(), "wireguard-go vxmwg0");
/// ```
pub fn userspace_wireguard(name: &str) -> Command {
    Command::new(Program::WireguardGo, [name])
}

/// vtysh's flag before each command it runs, in order, in one session (so that
/// `configure terminal` and `router bgp ASN` stay in force for the commands after them).
pub const VTYSH_COMMAND: &str = "-c";

/// The vtysh command that runs `commands` in one session, in the FRR instance that
/// `instance` selects (`-N NAME --vty_socket DIR`, nothing for the system's): the one writer
/// of a vtysh command line, used by `apply` (and its `--dry-run`), the engine and the shell
/// script.
///
/// ```
/// let c = vxlan_mesh_core::argv::vtysh(&[], &["configure terminal".into(), "router bgp 65000".into()]);
/// assert_eq!(c.shell(), "vtysh -c 'configure terminal' -c 'router bgp 65000'");
/// ```
pub fn vtysh(instance: &[String], commands: &[String]) -> Command {
    let mut args = instance.to_vec();
    for c in commands {
        args.extend([VTYSH_COMMAND.to_string(), c.clone()]);
    }
    Command::new(Program::Vtysh, args)
}

/// The vtysh command that prints FRR's running configuration, which the `router bgp` block
/// is read from.
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::vtysh_running_config(&[]).shell(), "vtysh -c 'show running-config'");
/// ```
pub fn vtysh_running_config(instance: &[String]) -> Command {
    vtysh(instance, &[RUNNING_CONFIG.to_string()])
}

/// The vtysh command that prints the running configuration.
const RUNNING_CONFIG: &str = "show running-config";

/// The vtysh command that prints the VNIs zebra knows, each with its VXLAN device, as JSON
/// (`status` and the script check that each of the plan's is tied to vxlan-mesh's device).
///
/// ```
/// assert_eq!(vxlan_mesh_core::argv::vtysh_evpn_vnis(&[]).shell(), "vtysh -c 'show evpn vni json'");
/// ```
pub fn vtysh_evpn_vnis(instance: &[String]) -> Command {
    vtysh(instance, &[EVPN_VNIS.to_string()])
}

/// The vtysh command that prints the VNIs zebra knows.
pub(crate) const EVPN_VNIS: &str = "show evpn vni json";

/// The target of the rule of `FORWARD` that jumps to `chain` (the rule `ebtables -L` lists
/// as [`reads::ebtables_jump`]).
fn jump_args(chain: &str) -> [&str; 2] {
    ["-j", chain]
}

/// A peer's allowed IPs as `wg` takes and shows them: comma-separated.
fn allowed_ips(peer: &WireguardPeer) -> String {
    peer.allowed_ips
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A peer's persistent keepalive as `wg` takes and shows it (`off`: none).
fn keepalive(peer: &WireguardPeer) -> String {
    peer.persistent_keepalive
        .map_or_else(|| "off".to_string(), |k| k.to_string())
}

fn set_peer(interface: &str, peer: &WireguardPeer) -> Vec<String> {
    vec![
        "set".into(),
        interface.into(),
        "peer".into(),
        peer.public_key.to_string(),
        "endpoint".into(),
        peer.endpoint.to_string(),
        // `wg` replaces the peer's list with this one.
        "allowed-ips".into(),
        allowed_ips(peer),
        "persistent-keepalive".into(),
        keepalive(peer),
        // `wg` removes the peer's preshared key when given an empty file; a plan has none.
        "preshared-key".into(),
        "/dev/null".into(),
    ]
}

/// The shell lines that perform one change (what `apply --dry-run` prints under it).
///
/// ```
/// use vxlan_mesh_core::{argv, diff, Observed};
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// let changes = diff(&plan.state(), &Observed::default()).unwrap();
/// let all: Vec<String> = changes.iter().flat_map(argv::for_change).collect();
/// assert!(all.contains(&"ip link add name vxbr0 type bridge".to_string()));
/// assert!(all.contains(&"bridge fdb append 00:00:00:00:00:00 dev vxm100 dst 192.0.2.2 self permanent".to_string()));
/// ```
pub fn for_change(change: &Change) -> Vec<String> {
    ops::for_change(change).iter().map(|op| of(op).shell()).collect()
}

/// The shell lines that perform a list of changes, in order.
///
/// ```
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// let changes = vxlan_mesh_core::diff(&plan.state(), &Default::default()).unwrap();
/// let script = vxlan_mesh_core::argv::for_changes(&changes);
/// assert!(script.first().unwrap().starts_with("nft -f -"));
/// ```
pub fn for_changes(changes: &[Change]) -> Vec<String> {
    changes.iter().flat_map(for_change).collect()
}

fn nft_stdin(script: String) -> Command {
    Command {
        program: Program::Nft,
        args: vec!["-f".into(), "-".into()],
        stdin: Some(script),
    }
}

fn ebtables<'a>(args: impl IntoIterator<Item = &'a str>) -> Command {
    Command::new(Program::Ebtables, ["-t", EBTABLES_TABLE].into_iter().chain(args))
}

fn fdb(verb: &str, e: &FdbEntry, tail: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "fdb".into(),
        verb.into(),
        e.mac.to_string(),
        "dev".into(),
        e.device.clone(),
        "dst".into(),
        e.destination.to_string(),
    ];
    // The entry's own VNI, port and underlay interface: `del` finds the entry by them.
    v.extend(e.iproute2_extras());
    v.extend(tail.iter().map(|s| s.to_string()));
    v
}

fn create_vxlan(vx: &Vxlan) -> Vec<String> {
    let mut v: Vec<String> = ["link", "add", "name", &vx.name, "type", "vxlan", "id"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.push(vx.vni.to_string());
    v.push("local".into());
    v.push(vx.local.to_string());
    if let Some(r) = vx.remote {
        v.push("remote".into());
        v.push(r.to_string());
    }
    v.push("dstport".into());
    v.push(vx.port.to_string());
    if let Some(d) = &vx.underlay_device {
        v.push("dev".into());
        v.push(d.clone());
    }
    v.push(if vx.learning { "learning" } else { "nolearning" }.into());
    v.extend(vx.udp_checksum_mode().iproute2_words().into_iter().map(str::to_string));
    v
}

/// `ip link set dev NAME type bridge_slave FLAG on|off ...`: iproute2's `bridge link set`
/// has no word for every flag (`proxy_arp`), `ip` has.
fn set_port_flags(name: &str, flags: &[(PortFlag, bool)]) -> Vec<String> {
    let mut v: Vec<String> = ["link", "set", "dev", name, "type", "bridge_slave"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for &(flag, on) in flags {
        v.push(flag.iproute2_word().into());
        v.push(on_off(on).into());
    }
    v
}

fn set_link(name: &str, s: &LinkSettings) -> Vec<String> {
    let mut v: Vec<String> = vec!["link".into(), "set".into(), "dev".into(), name.into()];
    if let Some(alias) = &s.alias {
        v.push("alias".into());
        v.push(alias.clone());
    }
    if s.up == Some(false) {
        v.push("down".into());
    }
    if let Some(mtu) = s.mtu {
        v.push("mtu".into());
        v.push(mtu.to_string());
    }
    match &s.master {
        Some(Master::Bridge(b)) => {
            v.push("master".into());
            v.push(b.clone());
        }
        Some(Master::None) => v.push("nomaster".into()),
        None => {}
    }
    if s.up == Some(true) {
        v.push("up".into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{diff, Observed};
    use crate::plan::Bridge;

    #[test]
    fn hostile_observed_names_stay_quoted() {
        assert_eq!(shell_word("vxm100"), "vxm100");
        assert_eq!(shell_word("vxlan-mesh:lan:b"), "vxlan-mesh:lan:b");
        assert_eq!(shell_word("x;reboot"), "'x;reboot'");
        assert_eq!(shell_word("a'b$(id)"), "'a'\\''b$(id)'");
        assert_eq!(shell_word("\u{1b}]0;x\u{7}"), "'\\u{1b}]0;x\\u{7}'");
        assert_eq!(shell_word(""), "''");
        let bridge = Bridge {
            name: "br`id`".into(),
            network: "lan".into(),
            mtu: 1450,
            up: true,
            alias: "vxlan-mesh:lan".into(),
            arp_accept: false,
            ipv6: crate::Ipv6Conf::HARDENED,
        };
        assert_eq!(
            for_change(&Change::DeleteBridge { bridge }),
            ["ip link del dev 'br`id`'"]
        );
    }

    #[test]
    fn single_quoted_survives_a_real_shell() -> Result<(), Box<dyn std::error::Error>> {
        let nasty = "a'b\"c $(touch /x) `id` \\ \n;|&*?~ ";
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' {}", single_quoted(nasty)))
            .output()?;
        assert_eq!(String::from_utf8(out.stdout)?, nasty);
        Ok(())
    }

    #[test]
    fn create_order_is_down_then_isolated_then_up() {
        let fleet = crate::Inventory::from_toml_str(
            "mode = \"per-peer\"\n[[networks]]\nname = \"lan\"\nvni = 10\nbridge = \"br0\"\n\
             [[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n",
        )
        .map_err(crate::Error::from)
        .and_then(|i| i.validate().map_err(crate::Error::from));
        let plan = fleet.ok().and_then(|f| f.plan("a").ok());
        let Some(plan) = plan else {
            unreachable!("valid example")
        };
        let changes = diff(&plan.state(), &Observed::default()).unwrap_or_default();
        let cmds = for_changes(&changes);
        let pos = |needle: &str| cmds.iter().position(|c| c.contains(needle));
        let add = pos("type vxlan id").unwrap_or(usize::MAX);
        let iso = pos("isolated on").unwrap_or(usize::MAX);
        let up = cmds
            .iter()
            .position(|c| c.starts_with("ip link set dev vxm") && c.ends_with(" up"))
            .unwrap_or(usize::MAX);
        assert!(add < iso && iso < up, "{cmds:#?}");
        assert!(cmds
            .iter()
            .any(|c| c.contains("remote 192.0.2.2 dstport 4789 nolearning udpcsum")));
    }
}
