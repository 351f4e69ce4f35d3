//! The two objects that live outside rtnetlink: the owned ebtables chain and the owned
//! nftables table, read and written through the `ebtables` and `nft` commands.
//!
//! Only the chain [`crate::plan::EBTABLES_CHAIN`] (plus the one jump to it from `FORWARD`)
//! and the table `inet` [`crate::plan::NFT_TABLE`] are ever read or changed.

use std::io::Write as _;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::ApplyError;
use crate::firewall::{nft_remove_script, nft_script};
use crate::fleet::Family;
use crate::plan::{Firewall, LoopRules, EBTABLES_CHAIN, NFT_TABLE};

/// Marker rule in an observed chain whose jump from `FORWARD` is missing, so that the
/// observed rules differ from the plan's and the chain is reinstalled.
pub const MISSING_JUMP: &str = "# missing: -A FORWARD -j VXLAN-MESH";

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs a command; `Ok(None)` when the program is not installed.
fn run(program: &'static str, args: &[&str], stdin: Option<&str>) -> Result<Option<Output>, ApplyError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ApplyError::Spawn { program, source }),
    };
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|source| ApplyError::Spawn { program, source })?;
    }
    let out = child
        .wait_with_output()
        .map_err(|source| ApplyError::Spawn { program, source })?;
    Ok(Some(Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }))
}

/// Runs a command that must succeed.
fn must(program: &'static str, args: &[&str], stdin: Option<&str>) -> Result<String, ApplyError> {
    let shown = format!("{program} {}", args.join(" "));
    match run(program, args, stdin)? {
        None => Err(ApplyError::Spawn {
            program,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, format!("`{program}` is not installed")),
        }),
        Some(out) if out.ok => Ok(out.stdout),
        Some(out) => Err(ApplyError::Command {
            command: shown,
            stderr: out.stderr,
        }),
    }
}

/// Chains of the ebtables `filter` table, with their rules as printed by `ebtables -L`.
fn ebtables_chains() -> Result<Vec<(String, Vec<String>)>, ApplyError> {
    let Some(out) = run("ebtables", &["-t", "filter", "-L"], None)? else {
        return Ok(Vec::new());
    };
    if !out.ok {
        return Err(ApplyError::Command {
            command: "ebtables -t filter -L".into(),
            stderr: out.stderr,
        });
    }
    let mut chains: Vec<(String, Vec<String>)> = Vec::new();
    for line in out.stdout.lines() {
        if let Some(rest) = line.strip_prefix("Bridge chain: ") {
            let name = rest.split(',').next().unwrap_or_default().to_string();
            chains.push((name, Vec::new()));
        } else if !line.trim().is_empty() && !line.starts_with("Bridge table:") {
            if let Some((_, rules)) = chains.last_mut() {
                rules.push(line.trim().to_string());
            }
        }
    }
    Ok(chains)
}

fn jump_rule() -> String {
    format!("-j {EBTABLES_CHAIN}")
}

/// The owned chain as it is, or `None` when it does not exist (or ebtables is missing).
pub(crate) fn observe_loop_rules() -> Result<Option<LoopRules>, ApplyError> {
    let chains = ebtables_chains()?;
    let Some((_, rules)) = chains.iter().find(|(name, _)| name == EBTABLES_CHAIN) else {
        return Ok(None);
    };
    let mut rules = rules.clone();
    let jumped = chains
        .iter()
        .any(|(name, r)| name == "FORWARD" && r.iter().any(|r| *r == jump_rule()));
    if !jumped {
        rules.push(MISSING_JUMP.to_string());
    }
    Ok(Some(LoopRules {
        chain: EBTABLES_CHAIN.to_string(),
        rules,
    }))
}

/// Creates or refills the owned chain and makes sure `FORWARD` jumps to it exactly once.
pub(crate) fn install_loop_rules(rules: &LoopRules) -> Result<(), ApplyError> {
    let chains = ebtables_chains()?;
    let chain = rules.chain.as_str();
    if chains.iter().any(|(name, _)| name == chain) {
        must("ebtables", &["-t", "filter", "-F", chain], None)?;
    } else {
        must("ebtables", &["-t", "filter", "-N", chain], None)?;
    }
    for rule in &rules.rules {
        let mut args = vec!["-t", "filter", "-A", chain];
        args.extend(rule.split_whitespace());
        must("ebtables", &args, None)?;
    }
    let jumps = chains
        .iter()
        .filter(|(name, _)| name == "FORWARD")
        .flat_map(|(_, r)| r.iter())
        .filter(|r| **r == format!("-j {chain}"))
        .count();
    if jumps == 0 {
        must("ebtables", &["-t", "filter", "-A", "FORWARD", "-j", chain], None)?;
    }
    Ok(())
}

/// Removes every jump to the owned chain, then the chain.
pub(crate) fn remove_loop_rules(rules: &LoopRules) -> Result<(), ApplyError> {
    let chain = rules.chain.as_str();
    let chains = ebtables_chains()?;
    let jumps = chains
        .iter()
        .filter(|(name, _)| name == "FORWARD")
        .flat_map(|(_, r)| r.iter())
        .filter(|r| **r == format!("-j {chain}"))
        .count();
    for _ in 0..jumps {
        must("ebtables", &["-t", "filter", "-D", "FORWARD", "-j", chain], None)?;
    }
    if chains.iter().any(|(name, _)| name == chain) {
        must("ebtables", &["-t", "filter", "-F", chain], None)?;
        must("ebtables", &["-t", "filter", "-X", chain], None)?;
    }
    Ok(())
}

/// The owned nftables table as it is, or `None` when it does not exist (or nft is
/// missing). A table whose shape is not the one [`nft_script`] writes is reported with
/// port 0, which no plan has, so that it is replaced.
pub(crate) fn observe_firewall() -> Result<Option<Firewall>, ApplyError> {
    let Some(out) = run("nft", &["-j", "list", "table", "inet", NFT_TABLE], None)? else {
        return Ok(None);
    };
    if !out.ok {
        if out.stderr.contains("No such file or directory") {
            return Ok(None);
        }
        return Err(ApplyError::Command {
            command: format!("nft -j list table inet {NFT_TABLE}"),
            stderr: out.stderr,
        });
    }
    let json: Value = serde_json::from_str(&out.stdout).map_err(|e| ApplyError::Decode {
        what: "nft JSON",
        message: e.to_string(),
    })?;
    Ok(Some(parse_firewall(&json)))
}

fn parse_firewall(json: &Value) -> Firewall {
    let mut fw = Firewall {
        table: NFT_TABLE.to_string(),
        family: Family::V4,
        port: 0,
        peers: Vec::new(),
    };
    let items = json
        .get("nftables")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut sets = 0;
    let mut chains = 0;
    let mut rules = Vec::new();
    let mut well_formed = true;
    for item in &items {
        if let Some(set) = item.get("set") {
            sets += 1;
            well_formed &= set.get("name").and_then(Value::as_str) == Some("peers");
            match set.get("type").and_then(Value::as_str) {
                Some("ipv4_addr") => fw.family = Family::V4,
                Some("ipv6_addr") => fw.family = Family::V6,
                _ => well_formed = false,
            }
            for elem in set.get("elem").and_then(Value::as_array).into_iter().flatten() {
                match elem.as_str().and_then(|s| s.parse::<IpAddr>().ok()) {
                    Some(a) => fw.peers.push(a),
                    None => well_formed = false,
                }
            }
        } else if let Some(chain) = item.get("chain") {
            chains += 1;
            well_formed &= chain.get("name").and_then(Value::as_str) == Some("input")
                && chain.get("hook").and_then(Value::as_str) == Some("input")
                && chain.get("prio").and_then(Value::as_i64) == Some(-10)
                && chain.get("policy").and_then(Value::as_str) == Some("accept");
        } else if let Some(rule) = item.get("rule") {
            rules.push(rule.clone());
        }
    }
    fw.peers.sort_unstable();
    let dport = |rule: &Value| {
        rule.get("expr")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("match"))
            .find(|m| m.pointer("/left/payload/field").and_then(Value::as_str) == Some("dport"))
            .and_then(|m| m.get("right").and_then(Value::as_u64))
    };
    let verdict = |rule: &Value, v: &str| {
        rule.get("expr")
            .and_then(Value::as_array)
            .is_some_and(|e| e.iter().any(|x| x.get(v).is_some()))
    };
    let ports: Vec<Option<u64>> = rules.iter().map(dport).collect();
    well_formed &= sets == 1
        && chains == 1
        && rules.len() == 2
        && rules.first().is_some_and(|r| verdict(r, "accept"))
        && rules.get(1).is_some_and(|r| verdict(r, "drop"))
        && ports.first() == ports.get(1);
    if well_formed {
        fw.port = ports
            .first()
            .copied()
            .flatten()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0);
    }
    fw
}

/// Loads (atomically replaces) the owned table.
pub(crate) fn install_firewall(fw: &Firewall) -> Result<(), ApplyError> {
    must("nft", &["-f", "-"], Some(&nft_script(fw))).map(drop)
}

/// Deletes the owned table.
pub(crate) fn remove_firewall(fw: &Firewall) -> Result<(), ApplyError> {
    must("nft", &["-f", "-"], Some(&nft_remove_script(&fw.table))).map(drop)
}
