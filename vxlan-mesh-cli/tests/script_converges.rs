//! The rendered shell script reaches the state `vxlan-mesh apply` reaches, from whatever an
//! earlier rendering left: one sequence of inventory edits (hosts added and removed, flood ↔
//! per-peer, isolation ↔ ebtables, a bridge renamed, a network removed, port, VNI, underlay
//! device and firewall changed) is applied through `apply` in one namespace and through the
//! script in another, both holding host `lxd1`'s underlay address. After every step each
//! form's status judges the other's namespace converged (`vxlan-mesh status` on the
//! script's, the script's `status` on apply's), and before each step both see the drift the
//! edit implies. Hand-made drift (a stray FDB entry, a foreign rule above our ebtables jump,
//! a duplicate jump, isolation changed, a stale marked link) is reported by the script's
//! `status` and corrected by `start`; `loop-start` (the ebtables unit's verb) puts the jump
//! first and alone; `stop` removes every marked link; `sync` waits for networkd, bounded.
//!
//! Needs root, iproute2, nftables and ebtables; fails (does not skip) without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{text as show, Fleet};
use vxlan_mesh_gen::{render, write_files, Format};
use vxlan_mesh_lab::names;

const BIN: &str = env!("CARGO_BIN_EXE_vxlan-mesh");

/// A network namespace holding lxd1's underlay address on `ul0`; deleted on drop.
struct Netns(String);

impl Netns {
    fn new(name: String) -> Netns {
        let ns = Netns(name);
        sh(&format!(
            "ip netns add {n} && ip -n {n} link set lo up && \
             ip -n {n} link add ul0 type veth peer name ul1 && \
             ip -n {n} addr add 192.0.2.1/24 dev ul0 && ip -n {n} link set ul0 up && ip -n {n} link set ul1 up",
            n = ns.0
        ));
        ns
    }

    fn exec(&self, argv: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(argv)
            .output()
            .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn sh(script: &str) {
    let out = Command::new("sh").args(["-c", script]).output().unwrap();
    assert!(out.status.success(), "{script}: {}", show(&out));
}

/// Where one step's inventory and rendered script live; removed on drop.
struct Work(PathBuf);

impl Work {
    fn new(tag: &str) -> Work {
        let dir = std::env::temp_dir().join(format!("vxm-script-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Work(dir)
    }

    /// Writes `fleet`'s inventory and lxd1's script; returns their paths.
    fn step(&self, fleet: &Fleet) -> (PathBuf, PathBuf) {
        let inventory = self.0.join("fleet.toml");
        std::fs::write(&inventory, fleet.toml()).unwrap();
        let plan = fleet.validate().plan("lxd1").unwrap();
        let root = self.0.join("root");
        let _ = std::fs::remove_dir_all(&root);
        write_files(&root, &render(&plan, Format::Shell).unwrap()).unwrap();
        (inventory, root.join("etc/vxlan-mesh/vxlan-mesh.sh"))
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `vxlan-mesh status --host lxd1` in `ns`: its exit code and output.
fn core_status(ns: &Netns, inventory: &Path) -> (Option<i32>, String) {
    let out = ns.exec(&[BIN, "-i", path(inventory), "status", "--host", "lxd1"]);
    (out.status.code(), show(&out))
}

fn script(ns: &Netns, script: &Path, verb: &str) -> (Option<i32>, String) {
    let out = ns.exec(&["sh", path(script), verb]);
    (out.status.code(), show(&out))
}

fn apply(ns: &Netns, inventory: &Path) {
    let out = ns.exec(&[BIN, "-i", path(inventory), "apply", "--host", "lxd1"]);
    assert_eq!(out.status.code(), Some(0), "apply: {}", show(&out));
}

/// Both namespaces are converged in the eyes of both forms.
fn assert_agree(step: &str, by_apply: &Netns, by_script: &Netns, inventory: &Path, sh: &Path) {
    for (who, ns) in [("apply's", by_apply), ("the script's", by_script)] {
        let (code, out) = core_status(ns, inventory);
        assert_eq!(code, Some(0), "{step}: `vxlan-mesh status` on {who} namespace: {out}");
        let (code, out) = script(ns, sh, "status");
        assert_eq!(code, Some(0), "{step}: the script's status on {who} namespace: {out}");
    }
}

/// The links, static FDB entries and loop rules of a namespace, without indexes and MACs
/// of its own, to compare the two forms' results directly.
fn kernel_state(ns: &Netns) -> String {
    let text = |argv: &[&str]| String::from_utf8_lossy(&ns.exec(argv).stdout).into_owned();
    let mut lines = Vec::new();
    for l in text(&["ip", "-d", "-o", "link", "show"]).lines() {
        let words: Vec<&str> = l.split_whitespace().collect();
        let Some(name) = words.get(1) else { continue };
        let name = name.trim_end_matches(':').split('@').next().unwrap_or_default();
        if !l.contains("alias vxlan-mesh:") {
            continue;
        }
        let keep = |k: &str| {
            words
                .iter()
                .position(|w| *w == k)
                .map(|i| format!("{k} {}", words[i + 1]))
        };
        let mut fields: Vec<String> = [
            "mtu", "master", "alias", "isolated", "id", "remote", "local", "dev", "dstport",
        ]
        .iter()
        .filter_map(|k| keep(k))
        .collect();
        fields.push(format!("up {}", words[2].contains(",UP") || words[2].contains("<UP")));
        fields.push(format!("learning {}", !l.contains("nolearning")));
        lines.push(format!("link {name}: {}", fields.join(" ")));
        for f in text(&["bridge", "fdb", "show", "dev", name]).lines() {
            if f.contains(" dst ") && (f.contains("permanent") || f.contains("static")) {
                lines.push(format!("fdb {name}: {f}"));
            }
        }
    }
    lines.sort();
    let ebt = text(&["ebtables", "-t", "filter", "-L"]);
    let nft = text(&["nft", "list", "ruleset"]);
    let nft: Vec<&str> = nft
        .lines()
        .filter(|l| !l.contains("table bridge filter"))
        .map(|l| if l.contains("counter") { "counter rule" } else { l })
        .collect();
    format!("{}\nebtables:\n{ebt}\nnft:\n{}", lines.join("\n"), nft.join("\n"))
}

#[test]
fn the_script_reaches_what_apply_reaches_through_every_edit() {
    let tag = names::unique_tag("sc");
    let by_apply = Netns::new(format!("{}a", names::tag_prefix(&tag)));
    let by_script = Netns::new(format!("{}s", names::tag_prefix(&tag)));
    let work = Work::new(&tag);

    let lan = ("lan", 1000, "vxbr0");
    let dmz = ("dmz", 5000, "vxdmz");
    let start = Fleet::new("lxd", &[1, 2, 3], &[lan, dmz]);
    let mut steps: Vec<(&str, Fleet)> = vec![("first deployment", start.clone())];
    let mut f = start;
    let mut push = |name, change: &dyn Fn(&mut Fleet)| {
        change(&mut f);
        steps.push((name, f.clone()));
    };
    push("add a host", &|f| f.hosts.push(4));
    push("remove a host", &|f| f.hosts.retain(|h| *h != 2));
    push("flood to per-peer", &|f| f.mode = "isolation");
    push("isolation to ebtables", &|f| f.mode = "ebtables");
    push("add a host (per-peer)", &|f| f.hosts.push(5));
    push("rename a bridge", &|f| f.networks[0].2 = "vxbr1");
    push("remove a network", &|f| f.networks.retain(|n| n.0 != "dmz"));
    push("ebtables to isolation", &|f| f.mode = "isolation");
    push("per-peer to flood", &|f| f.mode = "flood");
    push("remove a host (flood)", &|f| f.hosts.retain(|h| *h != 3));
    push("bind to the underlay device", &|f| f.device = true);
    push("another port", &|f| f.port = 4790);
    push("another VNI, a network back", &|f| {
        f.networks = vec![("lan", 1200, "vxbr1"), dmz]
    });
    push("firewall off", &|f| f.firewall = false);
    push("flood to per-peer ebtables", &|f| f.mode = "ebtables");
    push("firewall on", &|f| f.firewall = true);

    for (i, (step, fleet)) in steps.iter().enumerate() {
        let (inventory, sh) = work.step(fleet);
        if i > 0 {
            // Each edit changes this host: both forms' status must see it in both
            // namespaces (never a false "converged").
            for ns in [&by_apply, &by_script] {
                let (code, out) = core_status(ns, &inventory);
                assert_eq!(code, Some(2), "{step}: `vxlan-mesh status` before: {out}");
                let (code, out) = script(ns, &sh, "status");
                assert_eq!(code, Some(3), "{step}: the script's status before: {out}");
            }
        }
        apply(&by_apply, &inventory);
        let (code, out) = script(&by_script, &sh, "start");
        assert_eq!(code, Some(0), "{step}: start: {out}");
        assert_agree(step, &by_apply, &by_script, &inventory, &sh);
        assert_eq!(
            kernel_state(&by_apply),
            kernel_state(&by_script),
            "{step}: apply (left) and the script (right) differ"
        );
        // A second start changes nothing and says nothing.
        let (code, out) = script(&by_script, &sh, "start");
        assert_eq!(code, Some(0), "{step}: {out}");
        assert!(
            !out.contains("vxlan-mesh:") && !out.contains("lxd1:"),
            "{step}: second start: {out}"
        );
    }

    // The last step is per-peer with ebtables: hand-made drift, each reported by the
    // script's status and corrected by start.
    let (inventory, sh) = work.step(&steps[steps.len() - 1].1);
    // The first VXLAN device of lxd1's plan, and the peer it tunnels to.
    let first = steps[steps.len() - 1]
        .1
        .validate()
        .plan("lxd1")
        .unwrap()
        .vxlans()
        .next()
        .unwrap()
        .clone();
    let dev = first.name.clone();
    let stray_fdb = format!("bridge fdb append 00:00:00:00:00:00 dev {dev} dst 192.0.2.99");
    let isolate = format!("bridge link set dev {dev} isolated on");
    let remote = first.remote.unwrap();
    let other_vni = format!("bridge fdb append 00:00:00:00:00:00 dev {dev} dst {remote} vni 999 self permanent");
    let other_port = format!("bridge fdb append 00:00:00:00:00:00 dev {dev} dst {remote} port 4999 self permanent");
    let extern_learn = format!("bridge fdb add 02:00:00:00:00:99 dev {dev} dst 192.0.2.99 self extern_learn");
    let accept_ra = format!("sysctl -qw net.ipv6.conf.{dev}.accept_ra=1");
    let link_local = format!("ip -6 address add fe80::99/64 dev {dev}");
    let drifts: [(&str, &str); 11] = [
        (
            "a foreign rule above our jump",
            "ebtables -t filter -I FORWARD 1 -j ACCEPT",
        ),
        ("a duplicate jump", "ebtables -t filter -A FORWARD -j VXLAN-MESH"),
        (
            "an extra rule in our chain",
            "ebtables -t filter -A VXLAN-MESH -j ACCEPT",
        ),
        ("a static FDB entry the plan does not have", &stray_fdb),
        ("a flood entry towards the remote with another VNI", &other_vni),
        ("a flood entry towards the remote with another port", &other_port),
        ("an extern_learn entry towards a stranger", &extern_learn),
        ("accept_ra turned back on", &accept_ra),
        ("a link-local address on a VXLAN port", &link_local),
        ("a port isolated by hand", &isolate),
        (
            "a stale marked link",
            "ip link add vxm77 type vxlan id 77 local 192.0.2.1 dstport 4789 && ip link set vxm77 alias vxlan-mesh:old",
        ),
    ];
    for (what, change) in drifts {
        let out = by_script.exec(&["sh", "-c", change]);
        assert!(out.status.success(), "{what}: {}", show(&out));
        let (code, out) = script(&by_script, &sh, "status");
        assert_eq!(code, Some(3), "{what}: status must report drift: {out}");
        let (code, out) = script(&by_script, &sh, "start");
        assert_eq!(code, Some(0), "{what}: {out}");
        let (code, out) = script(&by_script, &sh, "status");
        assert_eq!(code, Some(0), "{what}: not corrected: {out}");
        let first = String::from_utf8_lossy(&by_script.exec(&["ebtables", "-t", "filter", "-L", "FORWARD"]).stdout)
            .lines()
            .find(|l| l.starts_with('-'))
            .map(str::to_string);
        assert_eq!(first.as_deref(), Some("-j VXLAN-MESH"), "{what}: our jump is first");
    }
    // Every forwarding flag of the port, changed by hand: status names it, start sets it
    // back.
    for (flag, change) in [
        ("hairpin", "hairpin on"),
        ("flood", "flood off"),
        ("mcast_flood", "mcast_flood off"),
        ("bcast_flood", "bcast_flood off"),
        ("proxy_arp", "proxy_arp on"),
        ("learning", "learning off"),
    ] {
        let out = by_script.exec(&["sh", "-c", &format!("ip link set dev {dev} type bridge_slave {change}")]);
        assert!(out.status.success(), "{flag}: {}", show(&out));
        let (code, out) = script(&by_script, &sh, "status");
        assert_eq!(code, Some(3), "{flag}: status must report drift: {out}");
        assert!(out.contains(&format!("flag(s) '{flag}' differ")), "{flag}: {out}");
        let (code, out) = core_status(&by_script, &inventory);
        assert_eq!(code, Some(2), "{flag}: {out}");
        let (code, out) = script(&by_script, &sh, "start");
        assert_eq!(code, Some(0), "{flag}: {out}");
        let (code, out) = script(&by_script, &sh, "status");
        assert_eq!(code, Some(0), "{flag}: not corrected: {out}");
    }
    let (code, out) = core_status(&by_script, &inventory);
    assert_eq!(code, Some(0), "{out}");

    // `loop-start`, which vxlan-mesh-ebtables.service runs, puts the jump first and alone.
    let out = by_script.exec(&[
        "sh",
        "-c",
        "ebtables -t filter -I FORWARD 1 -j ACCEPT && ebtables -t filter -A FORWARD -j VXLAN-MESH",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let (code, out) = script(&by_script, &sh, "loop-start");
    assert_eq!(code, Some(0), "{out}");
    let forward =
        String::from_utf8_lossy(&by_script.exec(&["ebtables", "-t", "filter", "-L", "FORWARD"]).stdout).into_owned();
    let rules: Vec<&str> = forward.lines().filter(|l| l.starts_with('-')).collect();
    assert_eq!(rules.first(), Some(&"-j VXLAN-MESH"), "{forward}");
    assert_eq!(rules.iter().filter(|r| **r == "-j VXLAN-MESH").count(), 1, "{forward}");

    // `stop` removes every marked link, also those of networks an older rendering had.
    by_script
        .exec(&[
            "sh",
            "-c",
            "ip link add vxold type bridge && ip link set vxold alias vxlan-mesh:gone",
        ])
        .status
        .success()
        .then_some(())
        .unwrap();
    let (code, out) = script(&by_script, &sh, "stop");
    assert_eq!(code, Some(0), "{out}");
    let links = String::from_utf8_lossy(&by_script.exec(&["ip", "-o", "link", "show"]).stdout).into_owned();
    assert!(!links.contains("vxlan-mesh:"), "stop left marked links:\n{links}");
    let ebt = String::from_utf8_lossy(&by_script.exec(&["ebtables", "-t", "filter", "-L"]).stdout).into_owned();
    assert!(!ebt.contains("VXLAN-MESH"), "{ebt}");

    // `sync` leaves creating the links to systemd-networkd and waits for it, bounded: here
    // no networkd runs, and it gives up naming the link.
    let out = by_script.exec(&["env", "VXLAN_MESH_WAIT=1", "sh", path(&sh), "sync"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("systemd-networkd did not create vxbr1 within 1s"),
        "{}",
        show(&out)
    );
}
