//! The shell form: every rendered script passes `shellcheck`, and no value of the plan ever
//! appears outside single quotes (checked for the inventories and for random valid fleets).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use proptest::prelude::*;
use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::{argv, HostPlan, Inventory, LoopPrevention, Mode};
use vxlan_mesh_gen::{render, render_with, Format, Options};

/// Runs shellcheck on `script`; fails the test if shellcheck is missing (CI installs it).
fn shellcheck(tag: &str, script: &str) {
    let dir = common::TempDir::new("sc");
    let path = dir.0.join("vxlan-mesh.sh");
    std::fs::write(&path, script).unwrap();
    let out = Command::new("shellcheck")
        .arg("--norc")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run shellcheck (apt-get install shellcheck): {e}"));
    assert!(
        out.status.success(),
        "{tag}: shellcheck found problems:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The text of `script` the shell reads unquoted: everything outside single quotes and
/// comments (double-quoted text counts as unquoted, since the shell expands it).
fn unquoted_text(script: &str) -> String {
    let mut out = String::new();
    let mut chars = script.chars().peekable();
    let mut in_single = false;
    let mut word_start = true;
    while let Some(c) = chars.next() {
        if in_single {
            if c == '\'' {
                in_single = false;
                out.push(' ');
            }
            continue;
        }
        match c {
            '\'' => in_single = true,
            '\\' => {
                // An escaped character is literal text of the script itself.
                chars.next();
                out.push(' ');
            }
            '#' if word_start => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
                word_start = true;
                continue;
            }
            c => out.push(c),
        }
        word_start = c.is_whitespace() || c == ';' || c == '(';
    }
    assert!(!in_single, "unterminated single quote");
    out
}

/// Values of the plan that reach the script.
fn plan_values(plan: &HostPlan) -> Vec<String> {
    let mut v = vec![plan.host.clone(), plan.address.to_string()];
    for net in &plan.networks {
        v.extend([net.bridge.name.clone(), net.bridge.alias.clone(), net.mtu.to_string()]);
        for x in &net.vxlans {
            v.extend([x.name.clone(), x.alias.clone(), x.vni.to_string(), x.port.to_string()]);
            v.extend(x.remote.map(|r| r.to_string()));
            v.extend(x.underlay_device.clone());
        }
        for e in &net.fdb {
            v.push(e.destination.to_string());
        }
    }
    v.extend(plan.peers.iter().map(|p| p.address.to_string()));
    v
}

/// Fails if a plan value occurs as a whole word in the unquoted text.
fn assert_all_values_quoted(tag: &str, plan: &HostPlan, script: &str) {
    let bare = unquoted_text(script);
    let is_word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    for value in plan_values(plan) {
        for (i, _) in bare.match_indices(value.as_str()) {
            let before = bare[..i].chars().next_back();
            let after = bare[i + value.len()..].chars().next();
            assert!(
                before.is_some_and(is_word) || after.is_some_and(is_word),
                "{tag}: `{value}` appears unquoted in the script:\n{}",
                bare.lines().find(|l| l.contains(value.as_str())).unwrap_or_default()
            );
        }
    }
}

#[test]
fn the_checker_finds_an_unquoted_value() {
    let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
    let bad = "#!/bin/sh\nip link add vxbr0 type bridge # 'ok'\n";
    let caught = std::panic::catch_unwind(|| assert_all_values_quoted("t", &plan, bad));
    assert!(caught.is_err(), "an unquoted bridge name must be reported");
    assert_all_values_quoted("t", &plan, "#!/bin/sh\nip link add 'vxbr0' type bridge # vxbr0\n");
}

#[test]
fn every_script_passes_shellcheck_and_quotes_every_value() {
    for (name, path) in common::inventories() {
        let fleet = common::fleet(&path);
        for plan in fleet.plans() {
            let tag = format!("{name}/{}", plan.host);
            let files = render(&plan, Format::Shell).unwrap();
            assert_eq!(files.len(), 1);
            shellcheck(&tag, &files[0].contents);
            assert_all_values_quoted(&tag, &plan, &files[0].contents);
        }
    }
}

#[test]
fn the_shell_template_never_bypasses_the_escaper() {
    let template = include_str!("../templates/vxlan-mesh.sh");
    assert!(
        !template.contains("|safe"),
        "the shell template must not mark values safe"
    );
    assert!(
        !template.contains("escape("),
        "the shell template must not pick another escaper"
    );
}

#[test]
fn a_hostile_inventory_label_cannot_leave_its_comment() {
    let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
    let opts = Options::new("x.toml\nrm -rf / #'$(id)");
    let script = &render_with(&plan, Format::Shell, &opts).unwrap()[0].contents;
    shellcheck("hostile label", script);
    assert!(!script.contains("\nrm -rf"), "{script}");
}

/// Host names as validation allows them (letters of both cases, digits first, `_ . -`
/// inside), long enough that a random one does not spell a word of the script itself.
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9_.-]{3,14}"
}

prop_compose! {
    fn inventory()(
        per_peer in any::<bool>(),
        ebtables in any::<bool>(),
        firewall in any::<bool>(),
        v6 in any::<bool>(),
        port in prop_oneof![Just(4789u16), 1024u16..65535],
        names in proptest::collection::btree_set(name(), 2..5),
        device in proptest::option::of("[a-z][a-z0-9]{3,6}"),
        // Up to the 15 bytes of IFNAMSIZ; never the reserved `vxm` prefix, never the device.
        bridges in proptest::collection::btree_set("[a-uw-zA-Z0-9][A-Za-z0-9_.-]{3,14}", 2),
        two_networks in any::<bool>(),
        // At least 4 digits, so that a VNI cannot be mistaken for a digit of the script itself.
        vni in 1000u32..100_000,
        explicit_ids in any::<bool>(),
        // In clear, over WireGuard, or evpn (IPv4 VTEPs: FRR 8.4 has no IPv6 ones).
        kind in prop::sample::select(vec!["clear", "wireguard", "evpn"]),
    ) -> Inventory {
        let mut fleet = FleetBuilder::new().port(port).firewall(firewall).ipv6(v6 && kind != "evpn");
        // Only per-peer mode takes the key: in flood mode validation refuses it.
        fleet = match (kind, per_peer, ebtables) {
            ("evpn", _, _) => fleet.evpn("192.0.2.0/24"),
            (_, true, true) => fleet.loop_prevention(LoopPrevention::Ebtables),
            (_, true, false) => fleet.loop_prevention(LoopPrevention::Isolation),
            (_, false, _) => fleet.mode(Mode::Flood),
        };
        if kind == "wireguard" {
            fleet = fleet.wireguard();
        }
        let device = device.filter(|d| !bridges.contains(d));
        let mut bridges = bridges.into_iter();
        fleet = fleet.network("net-1", vni, &bridges.next().unwrap());
        if two_networks {
            fleet = fleet.network("Net_2.b", vni + 200_000, &bridges.next().unwrap()).edit_network("Net_2.b", |n| {
                n.mtu = Some(1300);
                n.container_ipv6 = Some(false);
            });
        }
        for (i, name) in names.into_iter().enumerate() {
            fleet = fleet.numbered_as(&name, u32::try_from(i + 1).unwrap()).edit_host(&name, |h| {
                h.device.clone_from(&device);
                h.id = explicit_ids.then(|| u32::try_from(10 * i + 3).unwrap());
            });
        }
        fleet.inventory()
    }
}

proptest! {
    // shellcheck takes a fraction of a second per script: a few dozen fleets suffice.
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_valid_fleets_render_clean_scripts(inv in inventory()) {
        // Every generated fleet is valid: a refused one would silently test nothing.
        let fleet = inv.validate().map_err(|e| TestCaseError::fail(format!("{e}\n{inv:#?}")))?;
        for host in [&fleet.hosts()[0], &fleet.hosts()[fleet.hosts().len() - 1]] {
            let plan = fleet.plan(&host.name).unwrap();
            let script = &render(&plan, Format::Shell).unwrap()[0].contents;
            shellcheck("random fleet", script);
            assert_all_values_quoted("random fleet", &plan, script);
        }
    }
}

/// The programs of core's `argv` (every command the script runs is one of them).
const PROGRAMS: [argv::Program; 8] = [
    argv::Program::Ip,
    argv::Program::Bridge,
    argv::Program::Ebtables,
    argv::Program::Nft,
    argv::Program::Wg,
    argv::Program::WireguardGo,
    argv::Program::Sysctl,
    argv::Program::Vtysh,
];

/// The commands of `script` written by hand: a program of core's `argv` named bare (not as
/// the single-quoted word the `words` filter writes) where the shell runs a command, with
/// the rest of its line as the shell reads it unquoted.
fn hand_written_commands(script: &str) -> Vec<String> {
    let bare = unquoted_text(script)
        .replace("$(", " ; ")
        .replace(['|', ';', '(', ')'], " ; ");
    let mut found = Vec::new();
    for line in bare.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut at_command = true;
        for (i, w) in words.iter().enumerate() {
            if at_command && PROGRAMS.iter().any(|p| p.name() == *w) {
                found.push(words[i..].join(" "));
            }
            at_command = matches!(
                *w,
                ";" | "&&" | "||" | "!" | "then" | "do" | "else" | "if" | "elif" | "while" | "until" | "run"
            );
        }
    }
    found
}

#[test]
fn the_command_checker_finds_a_hand_written_command() {
    let script = "#!/bin/sh\nhave=$(vtysh -c 'show running-config')\nrun 'vtysh' \"$@\"\nneed vtysh ip\n\
        x | ip link show dev 'a'\nif ! wg show; then :; fi\n";
    assert_eq!(
        hand_written_commands(script),
        ["vtysh -c ;", "ip link show dev", "wg show ; then : ; fi"]
    );
}

/// Every command the script runs comes from core's `argv`: the FRR part reads and writes
/// only through `argv::vtysh` (the words the `words` filter quotes), and no program of
/// core's is named bare: every read is one of `argv::reads`, every write `argv::of`'s.
#[test]
fn every_command_the_script_runs_comes_from_core() {
    let quoted = |c: &argv::Command| {
        std::iter::once(c.program.name().to_string())
            .chain(c.args.iter().cloned())
            .map(|w| argv::single_quoted(&w))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut evpn_scripts = 0;
    for (name, path) in common::inventories() {
        let fleet = common::fleet(&path);
        for plan in fleet.plans() {
            let tag = format!("{name}/{}", plan.host);
            let script = &render(&plan, Format::Shell).unwrap()[0].contents;
            // Reads included: each is one of `argv::reads`, written by the `words` filter.
            let hand_written = hand_written_commands(script);
            assert!(
                hand_written.is_empty(),
                "{tag}: commands not from core's argv: {hand_written:#?}"
            );
            if plan.evpn.is_some() {
                evpn_scripts += 1;
                let read = quoted(&argv::vtysh_running_config(&[]));
                let send = format!("run {} \"$@\"", quoted(&argv::vtysh(&[], &[])));
                assert!(script.contains(&read) && script.contains(&send), "{tag}:\n{script}");
                let asn = plan.evpn.as_ref().map(|e| e.asn).unwrap_or_default();
                let vnis = quoted(&argv::vtysh_evpn_vnis(&[]));
                let relearn = format!(
                    "run {}",
                    quoted(&argv::vtysh(&[], &vxlan_mesh_core::frr::relearn_commands(asn)))
                );
                assert!(script.contains(&vnis) && script.contains(&relearn), "{tag}:\n{script}");
                assert_eq!(
                    script.matches("'vtysh'").count(),
                    4,
                    "{tag}: a vtysh command besides core's four (read, send, VNIs, relearn)"
                );
                assert!(
                    script.contains(&format!(
                        "set -- \"$@\" {} \"$c\"",
                        argv::single_quoted(argv::VTYSH_COMMAND)
                    )),
                    "{tag}"
                );
            }
        }
    }
    assert!(evpn_scripts > 0, "no evpn inventory: the FRR part went unchecked");
}
