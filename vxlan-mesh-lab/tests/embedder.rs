//! What a Rust program embedding vxlan-mesh gets from one library call per host:
//! `vxlan_mesh_core::host::{apply, status, down}` converge, check and tear down a whole
//! host (devices, firewall, loop prevention, WireGuard with its key checked by path, FRR's
//! BGP EVPN block), proven with packets between containers on different hosts (root,
//! iproute2, iputils-ping, nftables, ebtables, FRR 8.4, wireguard-go, wireguard-tools).
//!
//! No CLI is involved: the evpn test calls the library in this process, once per host
//! namespace. WireGuard's userspace daemon keeps its socket under `/run/wireguard`, which
//! each host of an encrypted lab has privately in a mount namespace of its own; a process
//! of several threads cannot enter a mount namespace, so the WireGuard test runs this same
//! test binary once per host inside the host's namespaces (`embedded_call_in_a_host`),
//! where it makes the one library call a program embedding the library would make.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use vxlan_mesh_core::host::{self, Options};
use vxlan_mesh_core::netlink::Netns;
use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::{Fleet, Inventory};
use vxlan_mesh_lab::frr::FrrLab;
use vxlan_mesh_lab::{names, Lab, LabSpec};

/// Names the child process's step; unset in a normal test run.
const STEP: &str = "VXM_EMBED_STEP";
const INVENTORY: &str = "VXM_EMBED_INVENTORY";
const HOST: &str = "VXM_EMBED_HOST";
const KEY: &str = "VXM_EMBED_KEY";
/// The child prints its result on a line starting with this.
const RESULT: &str = "embedded-result:";

fn fleet(text: &str) -> Fleet {
    Inventory::from_toml_str(text).unwrap().validate().unwrap()
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(tag: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("vxm-embed-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// Calls `f` until it returns `Some`, for at most `limit`.
fn poll<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every container reaches every other over the overlay, allowing `limit` for the control
/// plane (BGP routes, WireGuard handshakes) to settle.
fn full_matrix(lab: &Lab, limit: Duration) {
    let mut last = None;
    let ok = poll(limit, || {
        let matrix = lab.ping_matrix().unwrap();
        let ok = matrix.is_full();
        last = Some(matrix.render_text());
        ok.then_some(())
    });
    assert!(
        ok.is_some(),
        "containers do not all reach each other:\n{}",
        last.unwrap_or_default()
    );
}

#[test]
fn an_evpn_fleet_is_converged_checked_and_torn_down_by_one_library_call_per_host() {
    let text = FleetBuilder::new()
        .evpn_settings(|e| {
            e.keepalive = Some(1);
            e.hold_time = Some(3);
        })
        .evpn("192.0.2.0/24")
        .hosts(3)
        .toml();
    let fleet = fleet(&text);
    let tag = names::unique_tag("emb");
    let dir = scratch(&tag);
    let lab = Lab::build(LabSpec::from_fleet(&fleet, 2, &tag).unwrap()).unwrap();
    let frr = FrrLab::start(&lab, dir.0.join("frr")).unwrap();
    let hosts: Vec<(String, String)> = lab
        .spec()
        .hosts
        .iter()
        .map(|h| (h.name.clone(), h.netns.clone()))
        .collect();

    for (name, netns) in &hosts {
        let plan = fleet.plan(name).unwrap();
        let opts = Options::default().frr(frr.frr(netns));
        let report = host::apply(&Netns::named(netns).unwrap(), &plan, &opts).unwrap();
        assert!(
            report.devices.changes.iter().any(|c| c.to_string().contains("vxbr0")),
            "{name}: {:?}",
            report.devices.changes
        );
        assert!(report.frr.is_some(), "{name}: no BGP block loaded");
    }
    lab.attach_containers().unwrap();
    // No flood entry was planned: every remote VTEP a frame reaches came from FRR.
    full_matrix(&lab, Duration::from_secs(30));

    for (name, netns) in &hosts {
        let plan = fleet.plan(name).unwrap();
        let opts = Options::default().frr(frr.frr(netns));
        let ns = Netns::named(netns).unwrap();
        let status = poll(Duration::from_secs(15), || {
            let s = host::status(&ns, &plan, &opts).unwrap();
            (s.converged() && s.healthy()).then_some(s)
        });
        assert!(status.is_some(), "{name}: not converged and healthy");
        let again = host::apply(&ns, &plan, &opts).unwrap();
        assert!(again.is_empty(), "{name}: a second apply changed {again:?}");
    }

    for (name, netns) in &hosts {
        let opts = Options::default().frr(frr.frr(netns));
        host::down(&Netns::named(netns).unwrap(), &opts).unwrap();
        let links = lab.exec_ok(netns, &["ip", "-o", "link", "show"]).unwrap();
        assert!(!links.contains("vxbr0"), "{name}: {links}");
        let config = frr.frr(netns).running_config(&Netns::named(netns).unwrap()).unwrap();
        assert!(!config.contains("router bgp"), "{name}: {config}");
    }
}

/// A private key file made by the library's own generator (mode 0600 from its creation, as
/// `vxlan-mesh keygen` makes it), and its public key.
fn keypair(dir: &Path, i: usize) -> (PathBuf, String) {
    let path = dir.join(format!("wg{i}.key"));
    let public = vxlan_mesh_core::key_file::generate(&path, false).unwrap();
    (path, public.to_string())
}

/// Runs this test binary's `embedded_call_in_a_host` inside host `name`'s network and mount
/// namespaces for `step`; returns what it printed after [`RESULT`].
fn embedded(lab: &Lab, name: &str, step: &str, inventory: &Path, key: &Path) -> String {
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_str().unwrap();
    let argv = [exe, "--exact", "embedded_call_in_a_host", "--ignored", "--nocapture"];
    let line = lab.command_line(lab.host_netns(name).unwrap(), &argv).unwrap();
    let out = Command::new(&line[0])
        .args(&line[1..])
        .env(STEP, step)
        .env(INVENTORY, inventory)
        .env(HOST, name)
        .env(KEY, key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result = stdout.lines().find_map(|l| l.strip_prefix(RESULT));
    match result {
        Some(r) if out.status.success() => r.trim().to_string(),
        _ => panic!(
            "{step} on {name} failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The embedding program of the WireGuard test, run by it inside a host's namespaces: one
/// library call for the step it is given. Does nothing in a normal test run.
#[test]
#[ignore = "run by an_encrypted_fleet_… inside each host's namespaces"]
fn embedded_call_in_a_host() {
    let Ok(step) = std::env::var(STEP) else {
        return;
    };
    let text = std::fs::read_to_string(std::env::var(INVENTORY).unwrap()).unwrap();
    let plan = fleet(&text).plan(&std::env::var(HOST).unwrap()).unwrap();
    let opts = Options::default().wireguard_key(std::env::var(KEY).unwrap());
    let ns = Netns::current().unwrap();
    let result = match step.as_str() {
        "apply" => {
            let report = host::apply(&ns, &plan, &opts).unwrap();
            let changes: Vec<String> = report.devices.changes.iter().map(ToString::to_string).collect();
            changes.join(" | ")
        }
        "status" => {
            let status = host::status(&ns, &plan, &opts).unwrap();
            format!("converged={} healthy={}", status.converged(), status.healthy())
        }
        "down" => format!("{}", host::down(&ns, &opts).unwrap().devices.changes.len()),
        other => panic!("unknown step `{other}`"),
    };
    println!("{RESULT} {result}");
}

#[test]
fn an_encrypted_fleet_is_converged_checked_and_torn_down_by_one_library_call_per_host() {
    let tag = names::unique_tag("embwg");
    let dir = scratch(&tag);
    let keys: Vec<(PathBuf, String)> = (1..=3).map(|i| keypair(&dir.0, i)).collect();
    let public: Vec<&str> = keys.iter().map(|(_, public)| public.as_str()).collect();
    let text = FleetBuilder::new().hosts(keys.len()).public_keys(&public).toml();
    let inventory = dir.0.join("fleet.toml");
    std::fs::write(&inventory, &text).unwrap();
    let lab = Lab::build(LabSpec::from_fleet(&fleet(&text), 2, &tag).unwrap()).unwrap();
    let names: Vec<String> = lab.spec().hosts.iter().map(|h| h.name.clone()).collect();

    for (name, (key, _)) in names.iter().zip(&keys) {
        let changes = embedded(&lab, name, "apply", &inventory, key);
        assert!(changes.contains("vxbr0"), "{name}: {changes}");
    }
    lab.attach_containers().unwrap();
    full_matrix(&lab, Duration::from_secs(20));
    for (name, (key, _)) in names.iter().zip(&keys) {
        let status = embedded(&lab, name, "status", &inventory, key);
        assert_eq!(status, "converged=true healthy=true", "{name}");
        let again = embedded(&lab, name, "apply", &inventory, key);
        assert_eq!(again, "", "{name}: a second apply changed something");
    }
    // Both peers of the first host were reached through WireGuard sessions.
    let wg = lab
        .exec_ok(lab.host_netns(&names[0]).unwrap(), &["wg", "show"])
        .unwrap();
    assert_eq!(wg.matches("latest handshake").count(), 2, "{wg}");
    let interface = fleet(&text)
        .plan(&names[0])
        .unwrap()
        .wireguard
        .map(|w| w.interface)
        .unwrap();

    for (name, (key, _)) in names.iter().zip(&keys) {
        embedded(&lab, name, "down", &inventory, key);
        let links = lab
            .exec_ok(lab.host_netns(name).unwrap(), &["ip", "-o", "link", "show"])
            .unwrap();
        assert!(
            !links.contains("vxbr0") && !links.contains(&format!(" {interface}:")),
            "{name}: {links}"
        );
    }
}
