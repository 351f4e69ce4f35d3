//! The two objects that live outside rtnetlink: the owned ebtables chain and the owned
//! nftables table, read and written through the `ebtables` and `nft` commands.
//!
//! Only the chain [`crate::plan::EBTABLES_CHAIN`] (plus the jumps to it from `FORWARD`) and
//! the table `inet` [`crate::plan::NFT_TABLE`] are ever read or changed, and only when they
//! are ours: a chain all of whose rules are rules vxlan-mesh writes, a table in exactly the
//! shape its script writes. What is observed is reported as it is (rules ours or not, jump
//! positions, table ours or foreign); the diff decides. Changes run the commands
//! [`crate::argv::of`] writes, the ones `--dry-run` prints.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nftables::expr::{Expression, MetaKey, NamedExpression, Payload};
use nftables::schema::{NfListObject, Rule, SetFlag, SetType, SetTypeValue};
use nftables::stmt::{Counter, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfHook};
use serde::Deserialize as _;
use serde_json::Value;

use super::ApplyError;
use crate::argv::reads::{self, NftListing};
use crate::argv::{self, Program};
use crate::diff::{ChainPolicy, ChainRule, LoopChain, Table};
use crate::fleet::Family;
use crate::metrics::PacketCounter;
use crate::ops::FORWARD;
use crate::plan::{EvpnFilter, Firewall, LoopRule, WireguardFilter, EBTABLES_CHAIN, NFT_TABLE};
use crate::wireguard::Prefix;

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Where `ebtables` and `nft` are looked for after `PATH`: Debian installs both in
/// /usr/sbin, which the `PATH` of cron and of many service managers lacks.
pub(crate) const SBIN_DIRS: [&str; 3] = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

/// The first executable file named `program` in `PATH`, then in [`SBIN_DIRS`].
pub(crate) fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Runs a command. A program that cannot be found is an error naming it, never taken for
/// an object that does not exist.
fn run(program: &'static str, args: &[&str], stdin: Option<&str>) -> Result<Output, ApplyError> {
    let path = find_program(program).ok_or(ApplyError::ToolMissing { program })?;
    let mut command = Command::new(path);
    command
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|source| ApplyError::Spawn { program, source })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|source| ApplyError::Spawn { program, source })?;
    }
    let out = child
        .wait_with_output()
        .map_err(|source| ApplyError::Spawn { program, source })?;
    Ok(Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// Runs a command that must succeed.
fn must(program: &'static str, args: &[&str], stdin: Option<&str>) -> Result<String, ApplyError> {
    let out = run(program, args, stdin)?;
    if out.ok {
        Ok(out.stdout)
    } else {
        Err(ApplyError::Command {
            command: format!("{program} {}", args.join(" ")),
            stderr: out.stderr,
        })
    }
}

/// A chain of the ebtables `filter` table as `ebtables -L` prints it.
struct Listed {
    name: String,
    /// The word after `policy: ` in its header.
    policy: String,
    rules: Vec<String>,
}

/// Chains of the ebtables `filter` table, with their rules as printed by `ebtables -L`.
fn ebtables_chains() -> Result<Vec<Listed>, ApplyError> {
    Ok(parse_ebtables(&read(&reads::ebtables_list(None))?))
}

fn parse_ebtables(listing: &str) -> Vec<Listed> {
    let mut chains: Vec<Listed> = Vec::new();
    for line in listing.lines() {
        if let Some(rest) = line.strip_prefix("Bridge chain: ") {
            let name = rest.split(',').next().unwrap_or_default().to_string();
            let policy = rest.rsplit("policy: ").next().unwrap_or_default().trim().to_string();
            chains.push(Listed {
                name,
                policy,
                rules: Vec::new(),
            });
        } else if !line.trim().is_empty()
            && !line.starts_with("Bridge table:")
            && let Some(chain) = chains.last_mut()
        {
            chain.rules.push(line.trim().to_string());
        }
    }
    chains
}

/// Whether the `ebtables` found (see [`find_program`]) is the legacy one, which keeps its
/// rules where nfnetlink cannot see them: then the chain must always be read with the
/// program. The nf_tables variant's chains nfnetlink lists; without any `ebtables`
/// program nobody here can have made a legacy chain.
pub(crate) fn ebtables_is_legacy() -> bool {
    find_program(Program::Ebtables.name())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.file_name().map(|n| !n.to_string_lossy().contains("nft")))
        .unwrap_or(false)
}

/// The chain named [`EBTABLES_CHAIN`] as it is (its rules, ours or not, its policy and the
/// positions of the jumps to it in `FORWARD`), or `None` when it does not exist (or
/// ebtables is missing).
pub(crate) fn observe_loop_rules() -> Result<Option<LoopChain>, ApplyError> {
    let Some(mut chain) = loop_chain(&ebtables_chains()?) else {
        return Ok(None);
    };
    if !ebtables_is_legacy()
        && let Some(policy) = nft_hidden_policy(chain.rules.len())?
    {
        chain.policy = policy;
    }
    Ok(Some(chain))
}

/// The policy of the chain as nf_tables holds it, when `ebtables -L` hides it: ebtables-nft
/// (1.8.9) keeps a user chain's policy other than `RETURN` as one more rule at the end of
/// the nft chain (`counter accept`, `counter drop`), which `ebtables -L` neither counts
/// nor shows, and it prints `policy: RETURN` whatever the policy is. `listed` is the number
/// of rules `ebtables -L` showed; an nft rule beyond them is the policy. `None` without
/// `nft` (then `ebtables -L` is all there is to read).
fn nft_hidden_policy(listed: usize) -> Result<Option<ChainPolicy>, ApplyError> {
    if find_program(Program::Nft.name()).is_none() {
        return Ok(None);
    }
    let listing = read(&reads::ebtables_nft_chain(EBTABLES_CHAIN, NftListing::Json))?;
    let json: Value = serde_json::from_str(&listing).map_err(|e| ApplyError::Decode {
        what: "nft JSON",
        message: e.to_string(),
    })?;
    Ok(hidden_policy(&json, listed))
}

/// See [`nft_hidden_policy`]: the verdict of the last rule of an `nft -j list chain`
/// listing that holds more than `listed` rules (a verdict other than accept or drop
/// counts as `ACCEPT`: not `RETURN`, so it is drift).
fn hidden_policy(json: &Value, listed: usize) -> Option<ChainPolicy> {
    let items = Listing::deserialize(json).map(|l| l.nftables).unwrap_or_default();
    let rules: Vec<&Value> = items.iter().filter(|i| i.get("rule").is_some()).collect();
    if rules.len() <= listed {
        return None;
    }
    let last = rules.last().and_then(|r| Rule::deserialize(r.get("rule")?).ok());
    Some(match last.as_ref().and_then(|r| r.expr.last()) {
        Some(Statement::Drop(_)) => ChainPolicy::Drop,
        _ => ChainPolicy::Accept,
    })
}

fn loop_chain(chains: &[Listed]) -> Option<LoopChain> {
    let ours = chains.iter().find(|c| c.name == EBTABLES_CHAIN)?;
    let jump = reads::ebtables_jump(EBTABLES_CHAIN);
    let jumps = chains
        .iter()
        .filter(|c| c.name == FORWARD)
        .flat_map(|c| c.rules.iter().enumerate())
        .filter(|(_, r)| **r == jump)
        .map(|(i, _)| i + 1)
        .collect();
    Some(LoopChain {
        chain: EBTABLES_CHAIN.to_string(),
        rules: ours
            .rules
            .iter()
            .map(|r| LoopRule::from_listing(r).map_or_else(|| ChainRule::Foreign(r.clone()), ChainRule::Ours))
            .collect(),
        jumps,
        policy: match ours.policy.as_str() {
            "RETURN" => ChainPolicy::Return,
            "DROP" => ChainPolicy::Drop,
            _ => ChainPolicy::Accept,
        },
    })
}

/// Runs an `ebtables` or `nft` command as [`crate::argv::of`] wrote it.
pub(crate) fn run_command(command: &argv::Command) -> Result<(), ApplyError> {
    read(command).map(drop)
}

/// Runs a command of [`crate::argv`] (a read of [`reads`], or a write) that must succeed,
/// and gives back what it printed.
pub(crate) fn read(command: &argv::Command) -> Result<String, ApplyError> {
    let args: Vec<&str> = command.args.iter().map(String::as_str).collect();
    must(command.program.name(), &args, command.stdin.as_deref())
}

/// The table `inet` [`NFT_TABLE`] as it is (with the drop rule's counter when it is ours),
/// or `None` when it does not exist (or nft is missing).
pub(crate) fn observe_firewall() -> Result<Option<ObservedTable>, ApplyError> {
    let list = reads::nft_table(NFT_TABLE, NftListing::Json);
    let args: Vec<&str> = list.args.iter().map(String::as_str).collect();
    let out = run(list.program.name(), &args, None)?;
    if !out.ok {
        if out.stderr.contains("No such file or directory") {
            return Ok(None);
        }
        return Err(ApplyError::Command {
            command: list.shell(),
            stderr: out.stderr,
        });
    }
    let json: Value = serde_json::from_str(&out.stdout).map_err(|e| ApplyError::Decode {
        what: "nft JSON",
        message: e.to_string(),
    })?;
    Ok(Some(parse_firewall(&json)))
}

/// The owned table as read, and the counter of its drop rule (only when the table is
/// [`Table::Ours`]: only then is the rule the one our script writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObservedTable {
    /// The table, classified.
    pub(crate) table: Table,
    /// Packets and bytes its drop rule dropped (from non-peers, to the VXLAN port), when the
    /// table is ours.
    pub(crate) drops: Option<PacketCounter>,
    /// Packets and bytes its output chain dropped (VXLAN this host was about to send in
    /// clear, outside the WireGuard interface), when the table is ours and encrypted.
    pub(crate) blocked: Option<PacketCounter>,
}

/// The table an `nft -j list table` listing shows. Ours is recognised by the names
/// [`crate::firewall::nft_script`] gives its objects: a set `peers` and a chain `input`
/// (a table without both is someone else's, [`Table::Foreign`], never replaced or
/// deleted). Ours is [`Table::Ours`] with its parameters only when everything in it is
/// what that script writes: no table flags (a `dormant` table filters nothing), one set
/// `peers` of addresses, one chain `input` hooked at input and (encrypted) one chain
/// `output` hooked at output, each priority filter - 10, policy accept, and exactly our
/// rules; any other difference makes it ours altered ([`Table::Altered`], replaced by
/// apply: an accept rule that lost its `saddr @peers` would open the port to everyone).
///
/// Each object of the listing is read into the typed structures of the `nftables` crate
/// (libnftables-json's schema); an object those types cannot describe is not one our
/// script writes.
pub(crate) fn parse_firewall(json: &Value) -> ObservedTable {
    let table = NFT_TABLE.to_string();
    let classified = if let Err(reason) = our_names(json) {
        Table::Foreign {
            table,
            reason: reason.to_string(),
        }
    } else {
        match outline(json).and_then(with_rules) {
            Ok((fw, drops, blocked)) => {
                return ObservedTable {
                    table: Table::Ours(fw),
                    drops,
                    blocked,
                }
            }
            Err(reason) => Table::Altered {
                table,
                reason: reason.to_string(),
            },
        }
    };
    ObservedTable {
        table: classified,
        drops: None,
        blocked: None,
    }
}

const NAMES: &str = "it has no set `peers` and chain `input`, the objects vxlan-mesh's table has";

/// Whether the listing holds a set named `peers` and a chain named `input`: what makes the
/// table vxlan-mesh's (the shell script's `firewall_ours` asks the same of `nft list`).
fn our_names(json: &Value) -> Result<(), &'static str> {
    let items = Listing::deserialize(json).map(|l| l.nftables).unwrap_or_default();
    let named = |kind: &str, name: &str| {
        items
            .iter()
            .any(|i| i.get(kind).and_then(|o| o.get("name")).and_then(Value::as_str) == Some(name))
    };
    if named("set", "peers") && named("chain", "input") {
        Ok(())
    } else {
        Err(NAMES)
    }
}

/// The envelope of an `nft -j` listing; its objects are read one by one (see
/// [`parse_firewall`]).
#[derive(serde::Deserialize)]
struct Listing {
    nftables: Vec<Value>,
}

const SET: &str = "its set is not one set `peers` of addresses";
const CHAIN: &str = "its chains are not one chain `input` hooked at input and at most one chain `output` hooked at output, priority -10, policy accept";
const OTHER: &str = "it holds objects other than a set, a chain and rules";
const FLAGS: &str = "the table has flags (such as `dormant`, which turns it off); ours has none";

/// The table's set and chains, when they are the ones our script writes (and the table
/// has no flags), and its rules (`None` for a rule the schema types cannot read).
fn outline(json: &Value) -> Result<Outline, &'static str> {
    let mut fw = Firewall {
        table: NFT_TABLE.to_string(),
        family: Family::V4,
        port: 0,
        peers: Vec::new(),
        wireguard: None,
        evpn: None,
    };
    let mut prefixes = None;
    // A listing without the `nftables` array lists nothing: no set, so not ours.
    let items = Listing::deserialize(json).map(|l| l.nftables).unwrap_or_default();
    let mut sets = 0;
    let mut inputs = 0;
    let mut output = None;
    let mut rules = Vec::new();
    let mut output_rules = Vec::new();
    for item in &items {
        let object = match NfListObject::deserialize(item) {
            Ok(object) => object,
            // Which kind of object the schema could not read decides what it means.
            Err(_) if item.get("rule").is_some() => {
                match item.pointer("/rule/chain").and_then(Value::as_str) {
                    Some("output") => output_rules.push(None),
                    _ => rules.push(None),
                }
                continue;
            }
            Err(_) if item.get("set").is_some() => return Err(SET),
            Err(_) if item.get("chain").is_some() => return Err(CHAIN),
            Err(_) => return Err(OTHER),
        };
        match object {
            NfListObject::Set(set) => {
                sets += 1;
                if set.name != "peers" {
                    return Err(SET);
                }
                fw.family = match set.set_type {
                    SetTypeValue::Single(SetType::Ipv4Addr) => Family::V4,
                    SetTypeValue::Single(SetType::Ipv6Addr) => Family::V6,
                    _ => return Err(SET),
                };
                let interval = set.flags.as_ref().is_some_and(|f| f.contains(&SetFlag::Interval));
                if set.flags.as_ref().is_some_and(|f| f.len() != usize::from(interval)) {
                    return Err(SET);
                }
                let elems = set.elem.as_deref().unwrap_or_default();
                if interval {
                    // evpn mode: the underlay prefix (nft lists a full-length one as an address).
                    let list = elems.iter().map(set_prefix).collect::<Option<Vec<Prefix>>>();
                    prefixes = Some(list.ok_or(SET)?);
                    continue;
                }
                for elem in elems {
                    match elem {
                        Expression::String(s) => fw.peers.push(s.parse::<IpAddr>().map_err(|_| SET)?),
                        _ => return Err(SET),
                    }
                }
            }
            NfListObject::Chain(chain) => {
                let hook = match &*chain.name {
                    "input" => {
                        inputs += 1;
                        NfHook::Input
                    }
                    "output" if output.is_none() => {
                        output = Some(());
                        NfHook::Output
                    }
                    _ => return Err(CHAIN),
                };
                let shaped = chain._type == Some(NfChainType::Filter)
                    && chain.hook == Some(hook)
                    && chain.prio == Some(-10)
                    && chain.policy == Some(NfChainPolicy::Accept);
                if !shaped {
                    return Err(CHAIN);
                }
            }
            NfListObject::Rule(rule) if rule.chain == "output" => output_rules.push(Some(rule)),
            NfListObject::Rule(rule) => rules.push(Some(rule)),
            // nft 1.0.6 prints a table's flags as garbage, but only when there are some:
            // ours has none (a `dormant` table filters nothing), so the key is enough.
            NfListObject::Table(_) if item.pointer("/table/flags").is_some() => return Err(FLAGS),
            NfListObject::Table(_) | NfListObject::MetainfoObject(_) => {}
            _ => return Err(OTHER),
        }
    }
    if sets != 1 {
        return Err(SET);
    }
    if inputs != 1 {
        return Err(CHAIN);
    }
    fw.peers.sort_unstable();
    Ok(Outline {
        fw,
        rules,
        output: output.map(|()| output_rules),
        prefixes,
    })
}

/// The set and chain of the table, when they are the ones our script writes.
struct Outline {
    /// The firewall as far as the set tells (no port yet).
    fw: Firewall,
    /// The input chain's rules (`None` for a rule the schema types cannot read).
    rules: Vec<Option<Rule<'static>>>,
    /// The output chain's rules, when there is an output chain.
    output: Option<Vec<Option<Rule<'static>>>>,
    /// The elements of an interval set (evpn mode), instead of peer addresses.
    prefixes: Option<Vec<Prefix>>,
}

/// A prefix element of an interval set: `{"prefix": {"addr", "len"}}`, or a bare address
/// for a full-length prefix.
fn set_prefix(elem: &Expression<'_>) -> Option<Prefix> {
    match elem {
        Expression::String(s) => s.parse::<IpAddr>().ok().map(Prefix::single),
        Expression::Named(NamedExpression::Prefix(p)) => match &*p.addr {
            Expression::String(a) => format!("{a}/{}", p.len).parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// What the table dropped on input (from non-peers; encrypted, VXLAN from outside
/// WireGuard), and on output (encrypted: VXLAN this host was about to send in clear).
type Drops = (Option<PacketCounter>, Option<PacketCounter>);

/// The firewall with its port, and what its drop rules dropped, when the rules are exactly
/// the two our script writes, after the two of an encrypted mesh (VXLAN from the WireGuard
/// interface only), whose output chain holds exactly its one rule (VXLAN out of the
/// WireGuard interface only); any other mesh has no output chain.
fn with_rules(outline: Outline) -> Result<(Firewall, Option<PacketCounter>, Option<PacketCounter>), &'static str> {
    let Outline {
        mut fw,
        rules,
        output,
        prefixes,
    } = outline;
    let statements = |i: usize| rules.get(i).and_then(Option::as_ref).map(|r| &*r.expr);
    let saddr_protocol = match fw.family {
        Family::V4 => "ip",
        Family::V6 => "ip6",
    };
    if let Some(prefixes) = prefixes {
        if output.is_some() {
            return Err(OUTPUT_RULE);
        }
        return evpn_rules(fw, &prefixes, &rules, saddr_protocol).map(|(fw, drops)| (fw, drops, None));
    }
    let mut clear_drops: Drops = (None, None);
    let first = if rules.len() == 4 {
        let (interface, port) = statements(0).and_then(iifname_accept).ok_or(WIREGUARD_RULES)?;
        let (dropped_port, counter) = statements(1).and_then(drop_rule).ok_or(WIREGUARD_RULES)?;
        if dropped_port != port {
            return Err(WIREGUARD_RULES);
        }
        let output = output.as_deref().ok_or(OUTPUT_RULE)?;
        let blocked = match output {
            [Some(rule)] => oifname_drop(&rule.expr).filter(|(i, p, _)| *i == interface && *p == port),
            _ => None,
        };
        let (_, _, blocked) = blocked.ok_or(OUTPUT_RULE)?;
        fw.wireguard = Some(WireguardFilter {
            interface,
            vxlan_port: u16::try_from(port).map_err(|_| "its rules name a port beyond 65535")?,
        });
        clear_drops = (counter, blocked);
        2
    } else if output.is_some() {
        return Err(OUTPUT_RULE);
    } else {
        0
    };
    let accept = statements(first).and_then(|r| accept_rule_port(r, saddr_protocol));
    let drop = statements(first + 1).and_then(drop_rule);
    match (rules.len() - first, accept, drop) {
        (2, Some(a), Some((d, counter))) if a == d => {
            fw.port = u16::try_from(a).map_err(|_| "its rules name a port beyond 65535")?;
            // Everything the table dropped: frames from non-peers, and (encrypted) VXLAN
            // that did not come through the WireGuard interface.
            let drops = match (counter, clear_drops.0) {
                (Some(c), Some(d)) => Some(PacketCounter {
                    packets: c.packets.saturating_add(d.packets),
                    bytes: c.bytes.saturating_add(d.bytes),
                }),
                (c, d) => c.or(d),
            };
            Ok((fw, drops, clear_drops.1))
        }
        _ => Err("its rules are not `saddr @peers udp dport PORT accept` then `udp dport PORT counter drop`"),
    }
}

const EVPN_RULES: &str = "its rules are not `saddr @peers udp dport PORT accept`, `udp dport PORT counter drop`, `saddr @peers tcp dport 179 accept`, `tcp dport 179 counter drop` for one prefix";

/// The evpn mode's table: one prefix in the set, VXLAN then BGP accepted from it and
/// dropped from everyone else; the drops are both rules' counters.
fn evpn_rules(
    mut fw: Firewall,
    prefixes: &[Prefix],
    rules: &[Option<Rule<'_>>],
    saddr_protocol: &str,
) -> Result<(Firewall, Option<PacketCounter>), &'static str> {
    let [prefix] = prefixes else {
        return Err(EVPN_RULES);
    };
    let statements: Vec<&[Statement<'_>]> = rules
        .iter()
        .map(|r| r.as_ref().map(|r| &*r.expr))
        .collect::<Option<_>>()
        .ok_or(EVPN_RULES)?;
    let [vxlan_accept, vxlan_drop, bgp_accept, bgp_drop] = statements.as_slice() else {
        return Err(EVPN_RULES);
    };
    let port = accept_rule_port(vxlan_accept, saddr_protocol).ok_or(EVPN_RULES)?;
    let (dropped, vxlan_counter) = drop_rule(vxlan_drop).ok_or(EVPN_RULES)?;
    let bgp_port = tcp_accept_rule_port(bgp_accept, saddr_protocol).ok_or(EVPN_RULES)?;
    let (bgp_dropped, bgp_counter) = tcp_drop_rule(bgp_drop).ok_or(EVPN_RULES)?;
    if port != dropped || bgp_port != bgp_dropped {
        return Err(EVPN_RULES);
    }
    let port16 = |p: u32| u16::try_from(p).map_err(|_| "its rules name a port beyond 65535");
    fw.port = port16(port)?;
    fw.evpn = Some(EvpnFilter {
        prefix: *prefix,
        bgp_port: port16(bgp_port)?,
    });
    let drops = match (vxlan_counter, bgp_counter) {
        (Some(c), Some(d)) => Some(PacketCounter {
            packets: c.packets.saturating_add(d.packets),
            bytes: c.bytes.saturating_add(d.bytes),
        }),
        (c, d) => c.or(d),
    };
    Ok((fw, drops))
}

/// The right-hand side of a `match` statement `PROTOCOL FIELD == RIGHT`, the only form
/// our rules use (no `!=`, no prefixes or ranges on the left).
fn payload_match<'a>(statement: &'a Statement<'_>, protocol: &str, field: &str) -> Option<&'a Expression<'a>> {
    let Statement::Match(m) = statement else {
        return None;
    };
    let Expression::Named(NamedExpression::Payload(Payload::PayloadField(payload))) = &m.left else {
        return None;
    };
    (m.op == Operator::EQ && payload.protocol == protocol && payload.field == field).then_some(&m.right)
}

/// The UDP destination port a `udp dport == PORT` match names.
fn dport(statement: &Statement<'_>) -> Option<u32> {
    protocol_dport(statement, "udp")
}

/// The destination port a `PROTOCOL dport == PORT` match names.
fn protocol_dport(statement: &Statement<'_>, protocol: &str) -> Option<u32> {
    match payload_match(statement, protocol, "dport")? {
        Expression::Number(port) => Some(*port),
        _ => None,
    }
}

/// The port of an accept rule that is exactly `ip|ip6 saddr @peers udp dport PORT accept`.
fn accept_rule_port(rule: &[Statement<'_>], saddr_protocol: &str) -> Option<u32> {
    protocol_accept_rule_port(rule, saddr_protocol, "udp")
}

/// The port of an accept rule that is exactly `ip|ip6 saddr @peers tcp dport PORT accept`.
fn tcp_accept_rule_port(rule: &[Statement<'_>], saddr_protocol: &str) -> Option<u32> {
    protocol_accept_rule_port(rule, saddr_protocol, "tcp")
}

fn protocol_accept_rule_port(rule: &[Statement<'_>], saddr_protocol: &str, protocol: &str) -> Option<u32> {
    match rule {
        [saddr, port, Statement::Accept(_)] if matches!(payload_match(saddr, saddr_protocol, "saddr"), Some(Expression::String(s)) if s == "@peers") => {
            protocol_dport(port, protocol)
        }
        _ => None,
    }
}

const WIREGUARD_RULES: &str =
    "its first rules are not `iifname IFNAME udp dport PORT accept` then `udp dport PORT counter drop`";

/// The interface and port of an accept rule that is exactly `iifname IFNAME udp dport PORT
/// accept`.
fn iifname_accept(rule: &[Statement<'_>]) -> Option<(String, u32)> {
    match rule {
        [Statement::Match(iif), port, Statement::Accept(_)] => {
            let meta = matches!(&iif.left, Expression::Named(NamedExpression::Meta(m)) if m.key == MetaKey::Iifname);
            match &iif.right {
                Expression::String(name) if meta && iif.op == Operator::EQ => Some((name.to_string(), dport(port)?)),
                _ => None,
            }
        }
        _ => None,
    }
}

const OUTPUT_RULE: &str = "its output chain is not one rule `oifname != IFNAME udp dport PORT counter drop` for the WireGuard interface and VXLAN port it accepts (only an encrypted mesh has one)";

/// The interface, port and counter of a drop rule that is exactly `oifname != IFNAME udp
/// dport PORT counter drop`.
fn oifname_drop(rule: &[Statement<'_>]) -> Option<(String, u32, Option<PacketCounter>)> {
    match rule {
        [Statement::Match(oif), rest @ ..] => {
            let meta = matches!(&oif.left, Expression::Named(NamedExpression::Meta(m)) if m.key == MetaKey::Oifname);
            match &oif.right {
                Expression::String(name) if meta && oif.op == Operator::NEQ => {
                    let (port, counter) = drop_rule(rest)?;
                    Some((name.to_string(), port, counter))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The port of a drop rule that is exactly `udp dport PORT counter drop`, and what its
/// counter shows (`None` for a reference to a named counter, whose values are elsewhere).
fn drop_rule(rule: &[Statement<'_>]) -> Option<(u32, Option<PacketCounter>)> {
    protocol_drop_rule(rule, "udp")
}

/// As [`drop_rule`], for `tcp dport PORT counter drop`.
fn tcp_drop_rule(rule: &[Statement<'_>]) -> Option<(u32, Option<PacketCounter>)> {
    protocol_drop_rule(rule, "tcp")
}

fn protocol_drop_rule(rule: &[Statement<'_>], protocol: &str) -> Option<(u32, Option<PacketCounter>)> {
    let count = |n: Option<usize>| n.map_or(0, |n| u64::try_from(n).unwrap_or(u64::MAX));
    match rule {
        [port, Statement::Counter(counter), Statement::Drop(_)] => {
            let seen = match counter {
                Counter::Anonymous(Some(c)) => Some(PacketCounter {
                    packets: count(c.packets),
                    bytes: count(c.bytes),
                }),
                _ => None,
            };
            Some((protocol_dport(port, protocol)?, seen))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// `nft -j list table inet vxlan_mesh` of the table `nft_script` writes (nft 1.0.6), with
    /// the accept rule's expressions given.
    fn listing(accept: &str) -> Value {
        let text = format!(
            r#"{{"nftables": [
  {{"metainfo": {{"version": "1.0.6", "json_schema_version": 1}}}},
  {{"table": {{"family": "inet", "name": "vxlan_mesh", "handle": 1}}}},
  {{"set": {{"family": "inet", "name": "peers", "table": "vxlan_mesh", "type": "ipv4_addr", "handle": 2, "elem": ["192.0.2.2", "192.0.2.3"]}}}},
  {{"chain": {{"family": "inet", "table": "vxlan_mesh", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}}}},
  {{"rule": {{"family": "inet", "table": "vxlan_mesh", "chain": "input", "handle": 3, "expr": {accept}}}}},
  {{"rule": {{"family": "inet", "table": "vxlan_mesh", "chain": "input", "handle": 4, "expr": [{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "udp", "field": "dport"}}}}, "right": 4789}}}}, {{"counter": {{"packets": 5000000000, "bytes": 7000000000}}}}, {{"drop": null}}]}}}}
]}}"#
        );
        serde_json::from_str(&text).unwrap()
    }

    const DPORT: &str =
        r#"{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 4789}}"#;

    #[test]
    fn the_table_nft_script_writes_is_read_back_as_the_plan_s() {
        let accept = format!(
            r#"[{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "ip", "field": "saddr"}}}}, "right": "@peers"}}}}, {DPORT}, {{"accept": null}}]"#
        );
        let table = parse_firewall(&listing(&accept)).table;
        let expected = Firewall {
            table: NFT_TABLE.into(),
            family: Family::V4,
            port: 4789,
            peers: vec!["192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap()],
            wireguard: None,
            evpn: None,
        };
        assert_eq!(table, Table::Ours(expected));
    }

    /// `nft -j list table inet vxlan_mesh` of the evpn-mode table `nft_script` writes (nft
    /// 1.0.6), with the set's elements and the BGP accept rule's source match given.
    fn evpn_listing(elem: &str, bgp_saddr: &str) -> Value {
        let rule = |handle: u32, expr: String| {
            format!(
                r#"{{"rule": {{"family": "inet", "table": "vxlan_mesh", "chain": "input", "handle": {handle}, "expr": {expr}}}}}"#
            )
        };
        let saddr =
            r#"{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@peers"}}"#;
        let tcp =
            r#"{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 179}}"#;
        let counter = r#"{"counter": {"packets": 2, "bytes": 100}}"#;
        let text = format!(
            r#"{{"nftables": [
  {{"table": {{"family": "inet", "name": "vxlan_mesh", "handle": 2}}}},
  {{"set": {{"family": "inet", "name": "peers", "table": "vxlan_mesh", "type": "ipv4_addr", "handle": 2, "flags": ["interval"], "elem": {elem}}}}},
  {{"chain": {{"family": "inet", "table": "vxlan_mesh", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}}}},
  {}, {}, {}, {}
]}}"#,
            rule(3, format!(r#"[{saddr}, {DPORT}, {{"accept": null}}]"#)),
            rule(4, format!(r#"[{DPORT}, {counter}, {{"drop": null}}]"#)),
            rule(5, format!(r#"[{bgp_saddr}{tcp}, {{"accept": null}}]"#)),
            rule(6, format!(r#"[{tcp}, {counter}, {{"drop": null}}]"#)),
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_evpn_table_is_read_back_with_its_prefix_and_both_drop_counters() {
        let saddr = r#"{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@peers"}}, "#;
        let observed = parse_firewall(&evpn_listing(
            r#"[{"prefix": {"addr": "198.51.100.0", "len": 24}}]"#,
            saddr,
        ));
        assert_eq!(observed.table, Table::Ours(crate::firewall::evpn_example()));
        assert_eq!(observed.drops, Some(PacketCounter { packets: 4, bytes: 200 }));
        // BGP accepted from everyone: ours altered, replaced by apply.
        let open = parse_firewall(&evpn_listing(
            r#"[{"prefix": {"addr": "198.51.100.0", "len": 24}}]"#,
            "",
        ));
        assert!(matches!(open.table, Table::Altered { .. }), "{open:?}");
        // Two prefixes: not the one the plan writes.
        let two = parse_firewall(&evpn_listing(
            r#"[{"prefix": {"addr": "198.51.100.0", "len": 24}}, "192.0.2.9"]"#,
            saddr,
        ));
        assert!(matches!(two.table, Table::Altered { .. }), "{two:?}");
    }

    /// `nft -j list table inet vxlan_mesh` of the encrypted table `nft_script` writes (nft
    /// 1.0.6), with the output chain's listing (chain and rules) given.
    fn encrypted_listing(output: &str) -> Value {
        let rule = |chain: &str, handle: u32, expr: &str| {
            format!(
                r#"{{"rule": {{"family": "inet", "table": "vxlan_mesh", "chain": "{chain}", "handle": {handle}, "expr": {expr}}}}}"#
            )
        };
        let wg =
            r#"{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 51820}}"#;
        let saddr =
            r#"{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@peers"}}"#;
        let iif = r#"{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "vxmwg0"}}"#;
        let counter = r#"{"counter": {"packets": 2, "bytes": 100}}"#;
        let text = format!(
            r#"{{"nftables": [
  {{"table": {{"family": "inet", "name": "vxlan_mesh", "handle": 2}}}},
  {{"set": {{"family": "inet", "name": "peers", "table": "vxlan_mesh", "type": "ipv4_addr", "handle": 3, "elem": ["192.0.2.2"]}}}},
  {{"chain": {{"family": "inet", "table": "vxlan_mesh", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}}}},
  {}, {}, {}, {}{output}
]}}"#,
            rule("input", 4, &format!(r#"[{iif}, {DPORT}, {{"accept": null}}]"#)),
            rule("input", 5, &format!(r#"[{DPORT}, {counter}, {{"drop": null}}]"#)),
            rule("input", 6, &format!(r#"[{saddr}, {wg}, {{"accept": null}}]"#)),
            rule("input", 7, &format!(r#"[{wg}, {counter}, {{"drop": null}}]"#)),
        );
        serde_json::from_str(&text).unwrap()
    }

    /// The output chain of the encrypted table, with its rule's interface match given.
    fn output_chain(oif: &str) -> String {
        format!(
            r#", {{"chain": {{"family": "inet", "table": "vxlan_mesh", "name": "output", "handle": 8, "type": "filter", "hook": "output", "prio": -10, "policy": "accept"}}}},
  {{"rule": {{"family": "inet", "table": "vxlan_mesh", "chain": "output", "handle": 9, "expr": [{oif}, {DPORT}, {{"counter": {{"packets": 5, "bytes": 700}}}}, {{"drop": null}}]}}}}"#
        )
    }

    #[test]
    fn the_encrypted_table_is_ours_only_with_its_output_chain() {
        let oif = r#"{"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "vxmwg0"}}"#;
        let observed = parse_firewall(&encrypted_listing(&output_chain(oif)));
        assert_eq!(observed.table, Table::Ours(crate::firewall::encrypted_example()));
        // Input drops (both ports) apart from the output chain's.
        assert_eq!(observed.drops, Some(PacketCounter { packets: 4, bytes: 200 }));
        assert_eq!(observed.blocked, Some(PacketCounter { packets: 5, bytes: 700 }));

        // A table of an older vxlan-mesh, without the output chain: VXLAN may leave in clear
        // when WireGuard is down, so apply must replace it.
        let without = parse_firewall(&encrypted_listing(""));
        assert!(matches!(without.table, Table::Altered { .. }), "{without:?}");
        // The rule inverted, for another interface, or without its interface match.
        for oif in [
            r#"{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "vxmwg0"}}"#,
            r#"{"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "eth0"}}"#,
            r#"{"match": {"op": "!=", "left": {"meta": {"key": "iifname"}}, "right": "vxmwg0"}}"#,
        ] {
            let tampered = parse_firewall(&encrypted_listing(&output_chain(oif)));
            assert!(matches!(tampered.table, Table::Altered { .. }), "{oif}: {tampered:?}");
        }
    }

    #[test]
    fn an_output_chain_in_an_unencrypted_table_is_not_ours() {
        let accept = format!(
            r#"[{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "ip", "field": "saddr"}}}}, "right": "@peers"}}}}, {DPORT}, {{"accept": null}}]"#
        );
        let mut json = listing(&accept);
        let oif = r#"{"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "vxmwg0"}}"#;
        let extra: Value = serde_json::from_str(&format!("[{}]", &output_chain(oif)[1..])).unwrap();
        json["nftables"]
            .as_array_mut()
            .unwrap()
            .extend(extra.as_array().unwrap().iter().cloned());
        let observed = parse_firewall(&json);
        assert!(matches!(observed.table, Table::Altered { .. }), "{observed:?}");
    }

    #[test]
    fn the_drop_rule_s_counter_is_read_from_our_table_only() {
        let ours = format!(
            r#"[{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "ip", "field": "saddr"}}}}, "right": "@peers"}}}}, {DPORT}, {{"accept": null}}]"#
        );
        // Beyond 32 bits: a busy host's byte counter.
        let expected = PacketCounter {
            packets: 5_000_000_000,
            bytes: 7_000_000_000,
        };
        assert_eq!(parse_firewall(&listing(&ours)).drops, Some(expected));
        let altered = format!(r#"[{DPORT}, {{"accept": null}}]"#);
        assert_eq!(parse_firewall(&listing(&altered)).drops, None);
    }

    #[test]
    fn a_rule_or_object_the_schema_cannot_read_makes_the_table_altered() {
        let unknown = r#"[{"no-such-statement": {}}, {"accept": null}]"#;
        assert!(matches!(parse_firewall(&listing(unknown)).table, Table::Altered { .. }));
        let mut with_map = listing(unknown);
        with_map["nftables"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"map": {"family": "inet", "name": "m", "table": "vxlan_mesh", "type": "ipv4_addr", "map": "verdict"}}));
        assert!(matches!(parse_firewall(&with_map).table, Table::Altered { .. }));
    }

    #[test]
    fn an_accept_rule_open_to_everyone_is_not_ours() {
        // Each keeps the outline (a set, a chain, accept then drop on 4789) but accepts
        // strangers; each must read as ours altered (to replace), never as converged.
        let tampered = [
            format!(r#"[{DPORT}, {{"accept": null}}]"#),
            format!(
                r#"[{{"match": {{"op": "!=", "left": {{"payload": {{"protocol": "ip", "field": "saddr"}}}}, "right": "@peers"}}}}, {DPORT}, {{"accept": null}}]"#
            ),
            format!(
                r#"[{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "ip", "field": "saddr"}}}}, "right": {{"prefix": {{"addr": "0.0.0.0", "len": 0}}}}}}}}, {DPORT}, {{"accept": null}}]"#
            ),
            format!(
                r#"[{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "ip6", "field": "saddr"}}}}, "right": "@peers"}}}}, {DPORT}, {{"accept": null}}]"#
            ),
        ];
        for accept in tampered {
            assert!(
                matches!(parse_firewall(&listing(&accept)).table, Table::Altered { .. }),
                "{accept}"
            );
        }
    }

    /// Each change keeps the names that make the table ours, so each is drift that apply
    /// repairs, never converged and never someone else's table.
    #[test]
    fn flags_chain_changes_and_extra_objects_make_our_table_altered() {
        let accept = format!(
            r#"[{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "ip", "field": "saddr"}}}}, "right": "@peers"}}}}, {DPORT}, {{"accept": null}}]"#
        );
        type Tamper = fn(&mut Value);
        let tamper: [(&str, Tamper); 5] = [
            // nft 1.0.6 prints the `dormant` flag as garbage: the key's presence decides.
            ("dormant", |j| j["nftables"][1]["table"]["flags"] = "inet".into()),
            ("policy drop", |j| j["nftables"][3]["chain"]["policy"] = "drop".into()),
            ("priority", |j| j["nftables"][3]["chain"]["prio"] = 10.into()),
            ("extra chain", |j| {
                j["nftables"].as_array_mut().unwrap().push(serde_json::json!({"chain": {"family": "inet", "table": "vxlan_mesh", "name": "fwd", "handle": 9, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}}));
            }),
            ("counter", |j| {
                j["nftables"].as_array_mut().unwrap().push(serde_json::json!({"counter": {"family": "inet", "name": "c", "table": "vxlan_mesh", "handle": 9, "packets": 0, "bytes": 0}}));
            }),
        ];
        assert!(matches!(parse_firewall(&listing(&accept)).table, Table::Ours(_)));
        for (what, change) in tamper {
            let mut json = listing(&accept);
            change(&mut json);
            let observed = parse_firewall(&json);
            assert!(matches!(observed.table, Table::Altered { .. }), "{what}: {observed:?}");
            assert_eq!(observed.drops, None, "{what}");
        }
    }

    #[test]
    fn a_table_without_our_set_and_chain_is_foreign() {
        let accept = format!(r#"[{DPORT}, {{"accept": null}}]"#);
        for (index, key) in [(2, "set"), (3, "chain")] {
            let mut json = listing(&accept);
            json["nftables"][index][key]["name"] = "other".into();
            assert!(
                matches!(parse_firewall(&json).table, Table::Foreign { .. }),
                "{key} renamed"
            );
        }
    }

    /// `ebtables -L` of ebtables-nft 1.8.9 after `ebtables -N VXLAN-MESH` (policy ACCEPT,
    /// listed as RETURN) with our rule and the jump to it.
    const EBTABLES_LISTING: &str = "Bridge table: filter\n\nBridge chain: INPUT, entries: 0, policy: ACCEPT\n\nBridge chain: FORWARD, entries: 2, policy: ACCEPT\n-j VXLAN-MESH\n-d 02:00:00:00:00:01 -j DROP\n\nBridge chain: VXLAN-MESH, entries: 1, policy: RETURN\n-i vxm+ -o vxm+ -j DROP\n";

    /// `nft -j list chain bridge filter VXLAN-MESH` of that chain: our rule, then the
    /// policy's rule that `ebtables -L` hides, with the verdict given.
    fn nft_chain(verdicts: &[&str]) -> Value {
        let rules: Vec<Value> = verdicts
            .iter()
            .map(|v| serde_json::json!({"rule": {"family": "bridge", "table": "filter", "chain": "VXLAN-MESH", "handle": 4, "expr": [{"counter": {"packets": 0, "bytes": 0}}, {*v: null}]}}))
            .collect();
        let mut items = vec![
            serde_json::json!({"chain": {"family": "bridge", "table": "filter", "name": "VXLAN-MESH", "handle": 1}}),
        ];
        items.extend(rules);
        serde_json::json!({ "nftables": items })
    }

    #[test]
    fn the_chain_s_policy_is_read_also_where_ebtables_hides_it() {
        let chains = parse_ebtables(EBTABLES_LISTING);
        let chain = loop_chain(&chains).unwrap();
        assert_eq!(chain.policy, ChainPolicy::Return);
        assert_eq!(chain.jumps, [1]);
        assert!(matches!(chain.rules[..], [ChainRule::Ours(_)]), "{chain:?}");
        // As many nft rules as listed ones: no hidden policy rule.
        assert_eq!(hidden_policy(&nft_chain(&["drop"]), 1), None);
        // One more: that rule is the policy.
        assert_eq!(
            hidden_policy(&nft_chain(&["drop", "accept"]), 1),
            Some(ChainPolicy::Accept)
        );
        assert_eq!(hidden_policy(&nft_chain(&["drop", "drop"]), 1), Some(ChainPolicy::Drop));
        // Legacy ebtables lists the policy itself.
        let legacy = EBTABLES_LISTING.replace(
            "VXLAN-MESH, entries: 1, policy: RETURN",
            "VXLAN-MESH, entries: 1, policy: ACCEPT",
        );
        assert_eq!(
            loop_chain(&parse_ebtables(&legacy)).unwrap().policy,
            ChainPolicy::Accept
        );
    }

    /// The script reads `ebtables -L CHAIN` with core's sed programs as this module reads it.
    #[test]
    fn the_script_s_seds_read_a_chain_as_parse_ebtables_does() {
        let sed = |args: &[&str], input: &str| reads::pipe("sed", args, input).unwrap();
        for policy in ["RETURN", "ACCEPT", "DROP"] {
            let listing = format!(
                "Bridge table: filter\n\nBridge chain: VXLAN-MESH, entries: 2, policy: {policy}\n\
                 -i vxm+ -o vxm+ -j DROP\n-j ACCEPT\n"
            );
            let chains = parse_ebtables(&listing);
            assert_eq!(
                sed(&["-n", reads::EBTABLES_POLICY_SED], &listing).trim_end(),
                chains[0].policy
            );
            assert_eq!(
                sed(&[reads::EBTABLES_RULES_SED], &listing).trim_end(),
                chains[0].rules.join("\n")
            );
        }
    }
}
