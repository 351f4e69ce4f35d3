//! The two objects that live outside rtnetlink: the owned ebtables chain and the owned
//! nftables table, read and written through the `ebtables` and `nft` commands.
//!
//! Only the chain [`crate::plan::EBTABLES_CHAIN`] (plus the one jump to it from `FORWARD`)
//! and the table `inet` [`crate::plan::NFT_TABLE`] are ever read or changed.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::ApplyError;
use crate::firewall::{nft_remove_script, nft_script};
use crate::fleet::Family;
use crate::plan::{Firewall, LoopRules, EBTABLES_CHAIN, NFT_TABLE};

/// Marker rule in an observed chain whose jump from `FORWARD` is missing, so that the
/// observed rules differ from the plan's and the chain is reinstalled.
///
/// ```
/// assert!(vxlan_mesh_core::netlink::MISSING_JUMP.starts_with('#'));
/// ```
pub const MISSING_JUMP: &str = "# missing: -A FORWARD -j VXLAN-MESH";

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

/// Chains of the ebtables `filter` table, with their rules as printed by `ebtables -L`.
fn ebtables_chains() -> Result<Vec<(String, Vec<String>)>, ApplyError> {
    let out = run("ebtables", &["-t", "filter", "-L"], None)?;
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

/// Whether the `ebtables` found (see [`find_program`]) is the legacy one, which keeps its
/// rules where nfnetlink cannot see them: then the chain must always be read with the
/// program. The nf_tables variant's chains nfnetlink lists; without any `ebtables`
/// program nobody here can have made a legacy chain.
pub(crate) fn ebtables_is_legacy() -> bool {
    find_program("ebtables")
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.file_name().map(|n| !n.to_string_lossy().contains("nft")))
        .unwrap_or(false)
}

/// The owned chain as it is, or `None` when it does not exist.
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
    if forward_jumps(&chains, chain) == 0 {
        must("ebtables", &["-t", "filter", "-A", "FORWARD", "-j", chain], None)?;
    }
    Ok(())
}

/// How many rules of `FORWARD` jump to `chain`.
fn forward_jumps(chains: &[(String, Vec<String>)], chain: &str) -> usize {
    let jump = format!("-j {chain}");
    chains
        .iter()
        .filter(|(name, _)| name == "FORWARD")
        .flat_map(|(_, r)| r.iter())
        .filter(|r| **r == jump)
        .count()
}

/// Removes every jump to the owned chain, then the chain.
pub(crate) fn remove_loop_rules(rules: &LoopRules) -> Result<(), ApplyError> {
    let chain = rules.chain.as_str();
    let chains = ebtables_chains()?;
    for _ in 0..forward_jumps(&chains, chain) {
        must("ebtables", &["-t", "filter", "-D", "FORWARD", "-j", chain], None)?;
    }
    if chains.iter().any(|(name, _)| name == chain) {
        must("ebtables", &["-t", "filter", "-F", chain], None)?;
        must("ebtables", &["-t", "filter", "-X", chain], None)?;
    }
    Ok(())
}

/// The owned nftables table as it is, or `None` when it does not exist. A table whose shape is not the one [`nft_script`] writes is reported with
/// port 0, which no plan has, so that it is replaced.
pub(crate) fn observe_firewall() -> Result<Option<Firewall>, ApplyError> {
    let out = run("nft", &["-j", "list", "table", "inet", NFT_TABLE], None)?;
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

pub(crate) fn parse_firewall(json: &Value) -> Firewall {
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
                && chain.get("type").and_then(Value::as_str) == Some("filter")
                && chain.get("hook").and_then(Value::as_str) == Some("input")
                && chain.get("prio").and_then(Value::as_i64) == Some(-10)
                && chain.get("policy").and_then(Value::as_str) == Some("accept");
        } else if let Some(rule) = item.get("rule") {
            rules.push(rule.clone());
        }
    }
    fw.peers.sort_unstable();
    // Both rules must be exactly what `nft_script` writes: a chain with the right outline
    // but an accept rule that no longer matches `saddr @peers` (say `udp dport 4789 accept`)
    // would otherwise pass for converged while the port is open to everyone.
    let saddr_protocol = match fw.family {
        Family::V4 => "ip",
        Family::V6 => "ip6",
    };
    let accept = rules.first().and_then(|r| accept_rule_port(r, saddr_protocol));
    let drop = rules.get(1).and_then(drop_rule_port);
    well_formed &= sets == 1 && chains == 1 && rules.len() == 2 && accept.is_some() && accept == drop;
    if well_formed {
        fw.port = accept.and_then(|p| u16::try_from(p).ok()).unwrap_or(0);
    }
    fw
}

/// The right-hand side of a `match` expression `PROTOCOL FIELD == RIGHT`, the only form
/// our rules use (no `!=`, no prefixes or ranges on the left).
fn payload_match<'a>(expr: &'a Value, protocol: &str, field: &str) -> Option<&'a Value> {
    let m = expr.get("match")?;
    let payload = m.pointer("/left/payload")?;
    let exact = m.get("op").and_then(Value::as_str) == Some("==")
        && payload.get("protocol").and_then(Value::as_str) == Some(protocol)
        && payload.get("field").and_then(Value::as_str) == Some(field);
    if exact {
        m.get("right")
    } else {
        None
    }
}

/// The port of an accept rule that is exactly `ip|ip6 saddr @peers udp dport PORT accept`.
fn accept_rule_port(rule: &Value, saddr_protocol: &str) -> Option<u64> {
    match rule.get("expr")?.as_array()?.as_slice() {
        [saddr, dport, verdict]
            if payload_match(saddr, saddr_protocol, "saddr").and_then(Value::as_str) == Some("@peers")
                && verdict.get("accept").is_some() =>
        {
            payload_match(dport, "udp", "dport")?.as_u64()
        }
        _ => None,
    }
}

/// The port of a drop rule that is exactly `udp dport PORT counter drop`.
fn drop_rule_port(rule: &Value) -> Option<u64> {
    match rule.get("expr")?.as_array()?.as_slice() {
        [dport, counter, verdict] if counter.get("counter").is_some() && verdict.get("drop").is_some() => {
            payload_match(dport, "udp", "dport")?.as_u64()
        }
        _ => None,
    }
}

/// Loads (atomically replaces) the owned table.
pub(crate) fn install_firewall(fw: &Firewall) -> Result<(), ApplyError> {
    must("nft", &["-f", "-"], Some(&nft_script(fw))).map(drop)
}

/// Deletes the owned table.
pub(crate) fn remove_firewall(fw: &Firewall) -> Result<(), ApplyError> {
    must("nft", &["-f", "-"], Some(&nft_remove_script(&fw.table))).map(drop)
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
  {{"rule": {{"family": "inet", "table": "vxlan_mesh", "chain": "input", "handle": 4, "expr": [{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "udp", "field": "dport"}}}}, "right": 4789}}}}, {{"counter": {{"packets": 0, "bytes": 0}}}}, {{"drop": null}}]}}}}
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
        let fw = parse_firewall(&listing(&accept));
        assert_eq!(fw.port, 4789);
        assert_eq!(fw.family, Family::V4);
        assert_eq!(fw.peers.len(), 2);
    }

    #[test]
    fn an_accept_rule_open_to_everyone_is_not_ours() {
        // Each keeps the outline (a set, a chain, accept then drop on 4789) but accepts
        // strangers; each must read as a table to replace (port 0), never as converged.
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
            assert_eq!(parse_firewall(&listing(&accept)).port, 0, "{accept}");
        }
    }
}
