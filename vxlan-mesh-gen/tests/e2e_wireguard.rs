//! End to end, encrypted: the rendered shell script deployed on 3 hosts × 2 containers of a
//! namespace lab (crate `vxlan-mesh-lab`), each host with its own key made by `wg genkey`.
//! This kernel has no WireGuard, so the script falls back to wireguard-go, whose UAPI socket
//! directory (/run/wireguard) belongs to the mount namespace: every host namespace gets a
//! private mount namespace of its own, kept in a file, and every command for a host runs in
//! it through `nsenter`.
//!
//! Needs root, iproute2, iputils-ping, nftables, wireguard-tools (`wg`) and wireguard-go;
//! fails (does not skip) without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use common::lab::{lab_of, lab_with};
use common::TempDir;
use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::{Fleet, Inventory};
use vxlan_mesh_gen::{render_with, write_files, Format, Options};
use vxlan_mesh_lab::Lab;

const INTERFACE: &str = "vxmwg0";
const SCRIPT: &str = "etc/vxlan-mesh/vxlan-mesh.sh";

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

/// Each host namespace's private mount namespace (with a tmpfs on /run/wireguard), bound to
/// a file. Dropped: each host's WireGuard interface is deleted (its wireguard-go daemon
/// exits with it) and the files unmounted, also when the test failed.
struct Mounts(Vec<(String, PathBuf)>);

impl Mounts {
    fn new(dir: &Path, lab: &Lab) -> Mounts {
        let mut mounts = Mounts(Vec::new());
        for h in &lab.spec().hosts {
            let file = dir.join(format!("mnt-{}", h.name));
            std::fs::write(&file, "").unwrap();
            let f = file.to_str().unwrap();
            let sh = format!(
                "mount --bind {f} {f} && mount --make-private {f} && unshare --mount={f} --propagation private \
                 sh -c 'mkdir -p /run/wireguard && mount -t tmpfs tmpfs /run/wireguard'"
            );
            let out = run("sh", &["-c", &sh]);
            assert!(out.status.success(), "{sh}: {}", text(&out));
            mounts.0.push((h.netns.clone(), file));
        }
        mounts
    }

    /// Runs `argv` in host namespace `netns` and its mount namespace.
    fn exec(&self, netns: &str, argv: &[&str]) -> Output {
        let (_, file) = self.0.iter().find(|(n, _)| n == netns).unwrap();
        let mount = format!("--mount={}", file.display());
        let net = format!("--net=/run/netns/{netns}");
        let mut args = vec![mount.as_str(), net.as_str()];
        args.extend_from_slice(argv);
        run("nsenter", &args)
    }

    /// Runs the host's rendered script with `verb`, given the private key file `key`.
    fn script(&self, netns: &str, script: &Path, key: &Path, verb: &str) -> Output {
        let env = format!("VXLAN_MESH_WIREGUARD_KEY={}", key.display());
        self.exec(netns, &["env", &env, "sh", script.to_str().unwrap(), verb])
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for (netns, file) in &self.0 {
            let _ = self.exec(netns, &["ip", "link", "del", "dev", INTERFACE]);
            let f = file.to_str().unwrap();
            let _ = run("umount", &["-l", f]);
            let _ = run("umount", &["-l", f]);
        }
    }
}

/// `(private key file, public key)` per host, made with `wg genkey` and `wg pubkey`.
fn keys(dir: &Path, hosts: usize) -> Vec<(PathBuf, String)> {
    (1..=hosts)
        .map(|i| {
            let private = run("wg", &["genkey"]);
            assert!(private.status.success(), "wg genkey: {}", text(&private));
            let path = dir.join(format!("wg{i}.key"));
            std::fs::write(&path, &private.stdout).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let public = Command::new("sh")
                .args(["-c", "wg pubkey < \"$0\"", path.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(public.status.success(), "wg pubkey: {}", text(&public));
            (path, String::from_utf8(public.stdout).unwrap().trim().to_string())
        })
        .collect()
}

/// Hosts `wgN` at `192.0.2.N`, one network, in `mode`; inner addresses in 192.0.2.128/25,
/// apart from the containers (198.51.100.0/24), and from the underlay where the lab gives it
/// a /25 ([`Mesh::new`]).
fn inventory(keys: &[(PathBuf, String)], mode: &str) -> String {
    let public: Vec<&str> = keys.iter().map(|(_, public)| public.as_str()).collect();
    FleetBuilder::new()
        .layout(mode)
        .wireguard_prefix("192.0.2.128/25")
        .network("lan", 1000, "vxbr0")
        .names("wg")
        .hosts(keys.len())
        .public_keys(&public)
        .toml()
}

/// Counts UDP packets to the VXLAN port (4789) and to WireGuard's (51820) crossing the
/// underlay switch: rules of a table of ours in the switch namespace.
struct UnderlayCounter<'a>(&'a Lab);

impl UnderlayCounter<'_> {
    const TABLE: &'static str = "gwgcap";

    fn install(lab: &Lab) -> UnderlayCounter<'_> {
        let (switch, t) = (&lab.spec().switch, Self::TABLE);
        let hook = "{ type filter hook forward priority 0; policy accept; }";
        lab.exec_ok(switch, &["nft", "add", "table", "bridge", t]).unwrap();
        lab.exec_ok(switch, &["nft", "add", "chain", "bridge", t, "c", hook])
            .unwrap();
        for port in ["4789", "51820"] {
            let rule = [
                "nft", "add", "rule", "bridge", t, "c", "ether", "type", "ip", "udp", "dport", port, "counter",
            ];
            lab.exec_ok(switch, &rule).unwrap();
        }
        UnderlayCounter(lab)
    }

    /// `(VXLAN packets, WireGuard packets)`.
    fn read(&self) -> (u64, u64) {
        let listing = self
            .0
            .exec_ok(&self.0.spec().switch, &["nft", "list", "table", "bridge", Self::TABLE])
            .unwrap();
        let count = |port: &str| -> u64 {
            let line = listing
                .lines()
                .find(|l| l.contains(&format!("udp dport {port} counter packets")))
                .unwrap_or_else(|| panic!("no counter for {port}:\n{listing}"));
            let words: Vec<&str> = line.split_whitespace().collect();
            let i = words.iter().position(|w| *w == "packets").unwrap();
            words[i + 1].parse().unwrap()
        };
        (count("4789"), count("51820"))
    }
}

/// The host's links, one name per entry.
fn links(mounts: &Mounts, netns: &str) -> Vec<String> {
    let out = mounts.exec(netns, &["ip", "-o", "link", "show"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or_default().to_string())
        .collect()
}

/// `(peer public key, latest handshake)` of the host's WireGuard interface.
fn handshakes(mounts: &Mounts, netns: &str) -> Vec<(String, String)> {
    let out = mounts.exec(netns, &["wg", "show", INTERFACE, "latest-handshakes"]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, t)| (k.to_string(), t.to_string()))
        .collect()
}

fn assert_mesh_works(lab: &Lab) {
    let matrix = lab.ping_matrix().unwrap();
    assert!(matrix.is_full(), "{}", matrix.render_text());
    assert!(matrix.pairs() >= 6 * 5, "expected 3 hosts × 2 containers");
    let hosts = &lab.spec().hosts;
    for b in &hosts[1..] {
        let (ca, cb) = (&hosts[0].containers[0], &b.containers[0]);
        assert_eq!(ca.mtu, 1390, "1500 − 60 (WireGuard, IPv4) − 50 (VXLAN, IPv4)");
        let probe = lab.max_frame_probe(ca, cb, ca.mtu).unwrap();
        assert!(probe.ok(), "frames of MTU {} to {}: {probe:?}", ca.mtu, b.name);
    }
}

/// An encrypted flood mesh of 3 hosts × 2 containers with a key per host, its lab and the
/// hosts' mount namespaces, nothing deployed yet. Fields drop in the order cleanup needs:
/// the WireGuard interfaces and mount namespaces, the lab, the scratch directory last.
struct Mesh {
    mounts: Mounts,
    lab: Lab,
    _serial: MutexGuard<'static, ()>,
    fleet: Fleet,
    keys: Vec<(PathBuf, String)>,
    tmp: TempDir,
}

impl Mesh {
    /// `networkd`: the key files readable by systemd-networkd.
    fn new(base: &str, networkd: bool) -> Mesh {
        let tmp = TempDir::new(base);
        let keys = keys(&tmp.0, 3);
        if networkd {
            for (key, _) in &keys {
                readable_by_networkd(key);
            }
        }
        let fleet = Inventory::from_toml_str(&inventory(&keys, "flood"))
            .unwrap()
            .validate()
            .unwrap();
        // The underlay in 192.0.2.0/25, apart from the inner prefix, as a real deployment
        // keeps them (its default inner prefix is private). The firewall keeps VXLAN off the
        // underlay either way: `vxlan-mesh-cli/tests/e2e_wireguard.rs` shows it with the inner
        // prefix inside the underlay's /24, and this test passed that way too.
        let (serial, lab) = lab_with(&fleet, 2, base, |spec| {
            for host in &mut spec.hosts {
                host.prefix_len = 25;
            }
        });
        let mounts = Mounts::new(&tmp.0, &lab);
        Mesh {
            mounts,
            lab,
            _serial: serial,
            fleet,
            keys,
            tmp,
        }
    }

    /// Host `host`'s plan, its key file named in it, rendered in `format` into the scratch
    /// directory; returns the rendered tree's root. No rendered file holds the key.
    fn render(&self, host: usize, format: Format) -> PathBuf {
        let (name, (key, _)) = (&self.lab.spec().hosts[host].name, &self.keys[host]);
        let mut plan = self.fleet.plan(name).unwrap();
        plan.wireguard.as_mut().unwrap().private_key_file = Some(key.clone());
        assert_no_private_key(&plan, std::fs::read_to_string(key).unwrap().trim());
        let root = self.tmp.0.join(name);
        render_into(&plan, format, &root);
        root
    }
}

/// The underlay carried WireGuard, and not one VXLAN packet in clear.
fn assert_only_wireguard_crossed(counter: &UnderlayCounter<'_>) {
    let (vxlan, wireguard) = counter.read();
    assert_eq!(vxlan, 0, "VXLAN packets crossed the underlay in clear");
    assert!(wireguard > 0, "no WireGuard packets on the underlay");
}

#[test]
fn shell_script_deploys_an_encrypted_mesh_through_wireguard_go() {
    let mesh = Mesh::new("gwg", false);
    let (lab, mounts, keys) = (&mesh.lab, &mesh.mounts, &mesh.keys);
    let counter = UnderlayCounter::install(lab);
    let hosts = &lab.spec().hosts;
    let scripts: Vec<PathBuf> = (0..hosts.len())
        .map(|i| mesh.render(i, Format::Shell).join(SCRIPT))
        .collect();

    // Another host's key: refused before anything changes, naming the host and both keys.
    let (first, script) = (&hosts[0], &scripts[0]);
    let out = mounts.script(&first.netns, script, &keys[1].0, "start");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!(
            "host `wg1`: the private key in `{}` has the public key `{}`, but the `public-key` of host `wg1` in the inventory is `{}`",
            keys[1].0.display(),
            keys[1].1,
            keys[0].1
        )),
        "{said}"
    );
    let untouched = links(mounts, &first.netns);
    assert!(
        !untouched.iter().any(|l| l == INTERFACE || l == "vxbr0"),
        "{untouched:?}"
    );

    // Every host with its own key; the userspace fallback said once.
    for ((h, script), (key, _)) in hosts.iter().zip(&scripts).zip(keys) {
        let out = mounts.script(&h.netns, script, key, "start");
        let said = text(&out);
        assert_eq!(out.status.code(), Some(0), "start on {}: {said}", h.name);
        assert_eq!(said.matches("is run by wireguard-go").count(), 1, "{said}");
    }
    lab.attach_containers().unwrap();
    assert_mesh_works(lab);
    assert_only_wireguard_crossed(&counter);

    // A second start changes nothing and says nothing; status agrees.
    for ((h, script), (key, _)) in hosts.iter().zip(&scripts).zip(keys) {
        let out = mounts.script(&h.netns, script, key, "start");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert_eq!(text(&out), "", "second start on {}", h.name);
        let out = mounts.script(&h.netns, script, key, "status");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }

    // Drift by hand on wg1: wg2's peer removed, a stray address, the firewall's output chain
    // (which keeps VXLAN off the underlay while WireGuard is down) deleted. status lists it;
    // start repairs it without touching wg3's peer (its session, and handshake, go on).
    let (wg2, wg3) = (&keys[1].1, &keys[2].1);
    for cmd in [
        vec!["wg", "set", INTERFACE, "peer", wg2, "remove"],
        vec!["ip", "addr", "add", "192.0.2.250/32", "dev", INTERFACE],
        vec!["nft", "delete", "chain", "inet", "vxlan_mesh", "output"],
    ] {
        let out = mounts.exec(&first.netns, &cmd);
        assert!(out.status.success(), "{cmd:?}: {}", text(&out));
    }
    let before = handshakes(mounts, &first.netns);
    let out = mounts.script(&first.netns, script, &keys[0].0, "status");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    for drift in [
        "address 192.0.2.250/32 is not in the plan",
        "nftables table inet vxlan_mesh is missing or differs from the plan",
    ] {
        assert!(text(&out).contains(drift), "{}", text(&out));
    }
    let out = mounts.script(&first.netns, script, &keys[0].0, "start");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let after = handshakes(mounts, &first.netns);
    let of = |list: &[(String, String)], key: &str| list.iter().find(|(k, _)| k == key).map(|(_, t)| t.clone());
    assert!(of(&before, wg3).is_some_and(|t| t != "0"), "{before:?}");
    assert_eq!(of(&after, wg3), of(&before, wg3), "wg3's session was reset");
    assert!(of(&after, wg2).is_some(), "wg2 not added back: {after:?}");
    let out = mounts.script(&first.netns, script, &keys[0].0, "status");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_mesh_works(lab);

    // stop removes everything, the daemon with its interface.
    for ((h, script), (key, _)) in hosts.iter().zip(&scripts).zip(keys) {
        let out = mounts.script(&h.netns, script, key, "stop");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let left = links(mounts, &h.netns);
        assert!(
            !left
                .iter()
                .any(|l| l == INTERFACE || l == "vxbr0" || l.starts_with("vxm")),
            "{}: {left:?}",
            h.name
        );
        let tables = mounts.exec(&h.netns, &["nft", "list", "tables"]);
        assert!(!text(&tables).contains("vxlan_mesh"), "{}", text(&tables));
        // wireguard-go exits once it sees its device gone, and removes its socket.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let sockets = mounts.exec(&h.netns, &["ls", "/run/wireguard"]);
            if sockets.stdout.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "wireguard-go left {}", text(&sockets));
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Makes the key file `key` readable by systemd-networkd, as the README says: group
/// systemd-network, mode 0640.
fn readable_by_networkd(key: &Path) {
    let out = run("chgrp", &["systemd-network", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o640)).unwrap();
}

/// A real private key (`wg genkey`) at a path systemd-networkd may read (group
/// systemd-network, mode 0640, as the README says), and a plan of host `host` of the
/// encrypted test inventory that names it. The inventory's public keys are not this key's:
/// networkd reads the file but cannot create the device here anyway.
fn encrypted_plan_with_key(dir: &Path, host: &str) -> (vxlan_mesh_core::HostPlan, String) {
    let (fleet, _) = common::example("encrypted-per-peer");
    let mut plan = fleet.plan(host).unwrap();
    let key = dir.join("wireguard.key");
    let private = run("wg", &["genkey"]);
    assert!(private.status.success(), "wg genkey: {}", text(&private));
    std::fs::write(&key, &private.stdout).unwrap();
    readable_by_networkd(&key);
    plan.wireguard.as_mut().unwrap().private_key_file = Some(key);
    let private = String::from_utf8(private.stdout).unwrap().trim().to_string();
    (plan, private)
}

/// Every rendered form of `plan`: none holds the private key `private`.
fn assert_no_private_key(plan: &vxlan_mesh_core::HostPlan, private: &str) {
    for format in Format::of_plan(plan) {
        for f in render_with(plan, format, &Options::default()).unwrap() {
            assert!(
                !f.contents.contains(private),
                "{format}: {} holds the private key",
                f.path.display()
            );
        }
    }
}

/// Runs systemd-networkd on `dirs` in the lab's first host namespace until it has made the
/// plan's bridge and VXLAN devices, then checks its log: no line about a file of ours
/// (`ours`: parts of their names) but the ones saying a link is configured with it (a
/// warning on parsing a file names it, `FILE:LINE: ...`, and so does a failure to load
/// one), and the WireGuard netdev loaded (on this kernel, without WireGuard, networkd then
/// fails to create the device: it says so about the device, not a file).
fn assert_networkd_parses(lab: &Lab, plan: &vxlan_mesh_core::HostPlan, dirs: &[PathBuf], ours: &[&str], log: &Path) {
    let ns = &lab.spec().hosts[0].netns;
    let daemon = common::lab::Networkd(lab.start_networkd(ns, dirs, log).unwrap());
    common::lab::wait_configured(lab, ns, plan, log);
    drop(daemon);
    let log = std::fs::read_to_string(log).unwrap();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| ours.iter().any(|o| l.contains(o)) && !l.contains(": Configuring with "))
        .collect();
    assert!(
        warnings.is_empty(),
        "networkd on our files:\n{}\n--- log ---\n{log}",
        warnings.join("\n")
    );
    assert!(
        log.contains(&format!("{INTERFACE}: netdev")),
        "networkd never made {INTERFACE}:\n{log}"
    );
}

/// Renders `plan` in `format` into the directory `root`.
fn render_into(plan: &vxlan_mesh_core::HostPlan, format: Format, root: &Path) {
    write_files(root, &render_with(plan, format, &Options::default()).unwrap()).unwrap();
}

#[test]
fn networkd_parses_the_encrypted_files_without_a_warning() {
    let tmp = TempDir::new("gwn");
    let (plan, private) = encrypted_plan_with_key(&tmp.0, "lxd1");
    assert_no_private_key(&plan, &private);
    let (fleet, _) = common::example("encrypted-per-peer");
    let (_serial, lab) = lab_of(&fleet, 1, "gwn");
    let root = tmp.0.join("root");
    render_into(&plan, Format::Networkd, &root);
    let netdev = std::fs::read_to_string(root.join("etc/systemd/network/50-vxlan-mesh-vxmwg0.netdev")).unwrap();
    assert!(netdev.contains("Kind=wireguard"), "{netdev}");

    assert_networkd_parses(
        &lab,
        &plan,
        &[root.join("etc/systemd/network")],
        &["50-vxlan-mesh-"],
        &tmp.0.join("networkd.log"),
    );
}

#[test]
fn netplan_generates_a_wireguard_netdev_that_networkd_parses_without_a_warning() {
    let tmp = TempDir::new("gwp");
    let (plan, _) = encrypted_plan_with_key(&tmp.0, "lxd1");
    let root = tmp.0.join("root");
    render_into(&plan, Format::Netplan, &root);
    let out = Command::new("netplan")
        .args(["generate", "--root-dir"])
        .arg(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run netplan (apt-get install netplan.io): {e}"));
    assert!(out.status.success(), "netplan generate: {}", text(&out));
    let generated = root.join("run/systemd/network");
    let netdev = std::fs::read_to_string(generated.join("10-netplan-vxmwg0.netdev")).unwrap();
    let w = plan.wireguard.as_ref().unwrap();
    for line in [
        "Kind=wireguard".to_string(),
        format!("PrivateKeyFile={}", w.private_key_file.as_ref().unwrap().display()),
        format!("ListenPort={}", w.listen_port),
        format!("MTUBytes={}", w.mtu),
    ] {
        assert!(netdev.lines().any(|l| l == line), "no `{line}` in:\n{netdev}");
    }
    assert_eq!(netdev.matches("[WireGuardPeer]").count(), w.peers.len(), "{netdev}");
    for p in &w.peers {
        for line in [
            format!("PublicKey={}", p.public_key),
            format!("Endpoint={}", p.endpoint),
            format!("AllowedIPs={}", p.allowed_ips[0]),
        ] {
            assert!(netdev.lines().any(|l| l == line), "no `{line}` in:\n{netdev}");
        }
    }
    assert!(netdev.contains("PersistentKeepalive=25"), "{netdev}");
    let network = std::fs::read_to_string(generated.join("10-netplan-vxmwg0.network")).unwrap();
    assert!(
        network.contains(&format!("Address={}/{}", w.address, w.prefix_len)),
        "{network}"
    );

    let (fleet, _) = common::example("encrypted-per-peer");
    let (_serial, lab) = lab_of(&fleet, 1, "gwp");
    assert_networkd_parses(
        &lab,
        &plan,
        &[generated, root.join("etc/systemd/network")],
        &["10-netplan-", "50-vxlan-mesh"],
        &tmp.0.join("networkd.log"),
    );
}

/// The networkd form on this kernel: networkd makes the bridges and VXLAN devices but cannot
/// make the WireGuard device, and the shipped sync starts it with wireguard-go and
/// configures it, as the shell form does. The mesh then works as the shell form's does.
#[test]
fn networkd_form_with_its_sync_runs_an_encrypted_mesh_through_wireguard_go() {
    let mesh = Mesh::new("gwd", true);
    let (lab, mounts) = (&mesh.lab, &mesh.mounts);
    let counter = UnderlayCounter::install(lab);
    let mut daemons = Vec::new();
    for (i, h) in lab.spec().hosts.iter().enumerate() {
        let root = mesh.render(i, Format::Networkd);
        lab.run_units(&h.netns, &root, vxlan_mesh_lab::systemd::Order::BeforeNetworkd)
            .unwrap();
        let log = mesh.tmp.0.join(format!("{}.networkd.log", h.name));
        daemons.push(common::lab::Networkd(
            lab.start_networkd(&h.netns, &[root.join("etc/systemd/network")], &log)
                .unwrap(),
        ));
        // vxlan-mesh-sync.service's command, in the host's mount namespace (wireguard-go's
        // socket); the key file is the one the files name.
        let script = root.join(SCRIPT);
        let out = mounts.exec(&h.netns, &["sh", script.to_str().unwrap(), "sync"]);
        let said = text(&out);
        assert_eq!(
            out.status.code(),
            Some(0),
            "sync on {}: {said}\n--- networkd ---\n{}",
            h.name,
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert_eq!(said.matches("is run by wireguard-go").count(), 1, "{said}");
    }
    lab.attach_containers().unwrap();
    assert_mesh_works(lab);
    assert_only_wireguard_crossed(&counter);
    for h in &lab.spec().hosts {
        let script = mesh.tmp.0.join(&h.name).join(SCRIPT);
        let out = mounts.exec(&h.netns, &["sh", script.to_str().unwrap(), "status"]);
        assert_eq!(out.status.code(), Some(0), "status on {}: {}", h.name, text(&out));
    }
    drop(daemons);
}
