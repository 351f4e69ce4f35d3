//! Inventory text → parse → validate → plan → diff (against nothing and against itself) →
//! nft script → render (shell, networkd, netplan), checking on the way the promises the rest
//! of the tool relies on:
//!
//! - nothing panics, whatever the bytes;
//! - no error message carries a control character (a hostile inventory cannot forge
//!   output lines or terminal escapes in what `check` prints);
//! - a parsed inventory survives a TOML round trip unchanged;
//! - every name a valid plan holds is a valid interface or inventory name made of
//!   shell-safe characters only, VNIs are unique on a host, both ends of a per-peer link
//!   agree on its VNI;
//! - a plan's state diffed against itself is empty, against nothing is non-empty, and a
//!   plan survives a JSON round trip;
//! - the nft script names no table but the owned one;
//! - every format renders every valid plan (the FRR form those of evpn mode), into relative paths that stay inside the output
//!   directory, with no control character but newline and tab in any file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vxlan_mesh_core::{check_ifname, check_name};
use vxlan_mesh_core::{diff, firewall, HostPlan, Inventory, Mode, Observed, Section, State};
use vxlan_mesh_gen::{check_relative, render, Format};

/// Plans of at most this many hosts are made per input, to keep executions fast; the
/// per-peer cross-check still covers every pair among them.
const MAX_PLANNED_HOSTS: usize = 12;

fn no_control(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        panic!("{what} carries control character {c:?}: {text:?}");
    }
}

/// Characters that need no quoting in a POSIX shell word, plus `:` (aliases, IPv6).
fn shell_safe(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'))
}

fn check_plan(plan: &HostPlan) {
    let mut names = vec![plan.host.as_str()];
    let mut ifnames = Vec::new();
    let mut vnis = std::collections::BTreeSet::new();
    if let Some(dev) = &plan.underlay_device {
        ifnames.push(dev.as_str());
    }
    for n in &plan.networks {
        names.push(&n.name);
        ifnames.push(&n.bridge.name);
        assert!(shell_safe(&n.bridge.alias), "alias {:?}", n.bridge.alias);
        for v in &n.vxlans {
            ifnames.push(&v.name);
            assert!(shell_safe(&v.alias), "alias {:?}", v.alias);
            assert!(v.alias.len() < 256, "alias longer than IFALIASZ: {}", v.alias.len());
            assert!(vnis.insert(v.vni), "VNI {} twice on host {}", v.vni, plan.host);
            assert!((1..=16_777_215).contains(&v.vni), "VNI {} out of range", v.vni);
            assert_eq!(v.mtu, n.mtu);
        }
        for e in &n.fdb {
            assert!(
                n.vxlans.iter().any(|v| v.name == e.device),
                "FDB entry on unknown device {}",
                e.device
            );
        }
    }
    for p in &plan.peers {
        names.push(&p.name);
    }
    for n in names {
        assert!(check_name(n).is_ok() && shell_safe(n), "name {n:?}");
    }
    for n in ifnames {
        assert!(check_ifname(n).is_ok() && shell_safe(n), "interface name {n:?}");
    }

    let json = serde_json::to_string(plan).unwrap_or_default();
    let back: HostPlan = serde_json::from_str(&json).unwrap_or_else(|e| panic!("plan JSON does not parse back: {e}"));
    assert_eq!(&back, plan, "plan JSON round trip");

    let desired = plan.state();
    let applied = Observed::from(&desired);
    let up = diff(&desired, &Observed::default()).unwrap_or_else(|e| panic!("diff against nothing: {e}"));
    assert!(!up.is_empty(), "a plan with networks needs changes on an empty host");
    let same = diff(&desired, &applied).unwrap_or_else(|e| panic!("diff against itself: {e}"));
    assert!(same.is_empty(), "diff against itself: {same:?}");
    let down = diff(&State::default(), &applied).unwrap_or_else(|e| panic!("teardown diff: {e}"));
    for c in up.iter().chain(&down) {
        no_control("change", &c.to_string());
    }

    if let Some(fw) = &plan.firewall {
        let script = firewall::nft_script(fw);
        let tables = script.lines().filter(|l| l.contains("table ")).count();
        let ours = script.lines().filter(|l| l.contains("table inet vxlan_mesh")).count();
        assert_eq!(tables, 3, "{script}");
        assert_eq!(ours, 3, "{script}");
        match &fw.evpn {
            // evpn mode admits the underlay prefix, which holds every peer.
            Some(e) => assert!(fw.peers.is_empty() && plan.peers.iter().all(|p| e.prefix.contains(&p.address))),
            None => assert_eq!(fw.peers.len(), plan.peers.len()),
        }
    }

    for format in Format::of_plan(plan) {
        let files = render(plan, format).unwrap_or_else(|e| panic!("{format} of host {}: {e}", plan.host));
        assert!(!files.is_empty(), "{format}: no file");
        for f in &files {
            assert!(
                f.path.is_relative() && check_relative(&f.path).is_ok(),
                "{format}: path {:?}",
                f.path
            );
            if let Some(c) = f.contents.chars().find(|c| c.is_control() && !matches!(c, '\n' | '\t')) {
                panic!("{format}: {:?} holds control character {c:?}", f.path);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (inv, positions) = match Inventory::from_toml_str_with_positions(text) {
        Ok(read) => read,
        Err(e) => {
            no_control("parse error", &e.to_string());
            return;
        }
    };
    let again = inv
        .to_toml_string()
        .and_then(|t| Inventory::from_toml_str(&t))
        .unwrap_or_else(|e| panic!("inventory TOML round trip: {e}"));
    assert_eq!(again, inv, "inventory TOML round trip");

    let fleet = match inv.validate() {
        Ok(fleet) => fleet,
        Err(errors) => {
            for e in errors.iter() {
                no_control("validation error", &e.to_string());
                // Every error about a host or network points into the text.
                if e.path().section() != Section::Root {
                    assert!(positions.find(&e.path()).is_some(), "no position for {}", e.path());
                }
            }
            return;
        }
    };
    let plans: Vec<HostPlan> = fleet
        .hosts()
        .iter()
        .take(MAX_PLANNED_HOSTS)
        .map(|h| {
            fleet
                .plan(&h.name)
                .unwrap_or_else(|e| panic!("plan of a valid fleet's host: {e}"))
        })
        .collect();
    for plan in &plans {
        check_plan(plan);
    }
    if fleet.mode() == Mode::PerPeer {
        // Both ends of every link agree on its VNI and port.
        for a in &plans {
            for v in a.vxlans() {
                let Some(peer) = v.peer.as_deref() else { continue };
                let Some(b) = plans.iter().find(|p| p.host == peer) else {
                    continue;
                };
                let back = b
                    .vxlans()
                    .find(|w| w.network == v.network && w.peer.as_deref() == Some(a.host.as_str()));
                let back = back.unwrap_or_else(|| panic!("{} has a link to {peer} but not back", a.host));
                assert_eq!((back.vni, back.port), (v.vni, v.port));
            }
        }
    }
});
