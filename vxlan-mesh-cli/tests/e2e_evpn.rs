//! End to end, mode `evpn` with real FRR: zebra and bgpd in every lab host namespace (the
//! lab's `FrrLab`), `vxlan-mesh apply` in each host loading its BGP block through vtysh.
//! Proven with packets and with the kernel's FDB: what FRR installed, a host joining on its
//! own, ARP answered locally, a route reflector failing (root, iproute2, iputils-ping,
//! iputils-arping, nftables, FRR 8.4).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::Inventory;
use vxlan_mesh_lab::frr::{daemons, FrrLab};
use vxlan_mesh_lab::{names, Lab, LabSpec};

const BIN: &str = env!("CARGO_BIN_EXE_vxlan-mesh");

mod common;

/// The first `hosts` hosts of an evpn fleet on 192.0.2.0/24: h1 and h2 reflect. `timers`:
/// keepalive 1 s and hold time 3 s, so that a dead reflector is noticed at once (else
/// FRR's, a keepalive a minute: a quiet underlay to count packets on).
fn evpn_inventory(hosts: usize, timers: bool) -> String {
    let mut fleet = FleetBuilder::new().evpn("192.0.2.0/24");
    if timers {
        fleet = fleet.evpn_settings(|e| {
            e.keepalive = Some(1);
            e.hold_time = Some(3);
        });
    }
    fleet.hosts(hosts).route_reflectors(&["h1", "h2"]).toml()
}

/// The same hosts in flood mode.
fn flood_inventory(hosts: usize) -> String {
    FleetBuilder::new().hosts(hosts).toml()
}

/// A lab with FRR in every host. Fields drop in order: FRR's daemons stop before the
/// namespaces go, then the scratch directory.
struct EvpnLab {
    frr: Option<FrrLab>,
    lab: Lab,
    dir: PathBuf,
}

impl Drop for EvpnLab {
    fn drop(&mut self) {
        drop(self.frr.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl EvpnLab {
    /// The lab of inventory `toml` with `containers` per host; FRR started when `frr`.
    fn build(toml: &str, containers: usize, base: &str, frr: bool) -> EvpnLab {
        let fleet = Inventory::from_toml_str(toml).unwrap().validate().unwrap();
        let tag = names::unique_tag(base);
        let lab = Lab::build(LabSpec::from_fleet(&fleet, containers, &tag).unwrap()).unwrap();
        let dir = std::env::temp_dir().join(format!("vxm-e2e-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        let frr = frr.then(|| FrrLab::start(&lab, dir.join("frr")).unwrap());
        EvpnLab { frr, lab, dir }
    }

    fn inventory(&self, name: &str, toml: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, toml).unwrap();
        path
    }

    /// `vxlan-mesh ARGS --host H` in host `h`'s namespace, with its FRR instance.
    fn cli(&self, h: usize, inventory: &Path, args: &[&str]) -> Output {
        self.cli_env(h, &[], inventory, args)
    }

    /// [`EvpnLab::cli`] with environment variables (`NAME=VALUE`) set.
    fn cli_env(&self, h: usize, env: &[&str], inventory: &Path, args: &[&str]) -> Output {
        let host = &self.lab.spec().hosts[h - 1];
        let root = self.dir.join("frr");
        let root = root.to_str().unwrap();
        let inventory = inventory.to_str().unwrap();
        let mut argv = vec!["env"];
        argv.extend_from_slice(env);
        argv.extend([BIN, "-i", inventory]);
        argv.extend_from_slice(args);
        argv.extend([
            "--host",
            &host.name,
            "--frr-pathspace",
            &host.netns,
            "--frr-vty-dir",
            root,
        ]);
        self.lab.exec(&host.netns, &argv).unwrap()
    }

    fn apply(&self, h: usize, inventory: &Path) -> String {
        let out = self.cli(h, inventory, &["apply"]);
        assert!(out.status.success(), "apply on h{h}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// vtysh of host `h`'s FRR instance with `commands`; its output.
    fn vtysh(&self, h: usize, commands: &[&str]) -> String {
        let mut argv = vec!["vtysh".to_string()];
        argv.extend(self.frr.as_ref().unwrap().frr(self.netns(h)).vtysh_args());
        for c in commands {
            argv.extend(["-c".to_string(), (*c).to_string()]);
        }
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.lab.exec_ok(self.netns(h), &argv).unwrap()
    }

    /// The lab restricted to `hosts` (1-based): their containers only.
    fn only(&self, hosts: &[usize]) -> Lab {
        let mut spec = self.lab.spec().clone();
        spec.hosts = hosts.iter().map(|h| spec.hosts[h - 1].clone()).collect();
        Lab::open(spec)
    }

    fn netns(&self, h: usize) -> &str {
        &self.lab.spec().hosts[h - 1].netns
    }

    fn fdb(&self, h: usize) -> String {
        self.lab
            .exec_ok(self.netns(h), &["bridge", "fdb", "show", "dev", "vxm100"])
            .unwrap()
    }

    /// Underlay packets host `h` received so far (sent to it by the switch).
    fn received(&self, h: usize) -> u64 {
        let name = &self.lab.spec().hosts[h - 1].name;
        self.lab
            .underlay_counters()
            .unwrap()
            .into_iter()
            .find(|p| &p.host == name)
            .map(|p| p.tx_packets)
            .unwrap()
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Polls `f` every 200 ms until it returns `Some`, for at most `limit`; panics naming `what`
/// after that. FRR converges in seconds; the limit only bounds a broken run.
fn poll<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn full_matrix(lab: &Lab, limit: Duration, what: &str) {
    let mut last = String::new();
    poll(limit, what, || {
        let m = lab.ping_matrix().unwrap();
        last = m.render_text();
        m.is_full().then_some(())
    });
    assert!(!last.is_empty());
}

fn mac_of(lab: &Lab, netns: &str, ifname: &str) -> String {
    let json = lab.exec_ok(netns, &["ip", "-j", "link", "show", ifname]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v[0]["address"].as_str().unwrap().to_string()
}

#[test]
fn six_hosts_get_their_fdb_from_frr_a_seventh_joins_alone_and_a_reflector_may_die() {
    let e = EvpnLab::build(&evpn_inventory(7, true), 2, "evpn", true);
    let six = e.inventory("six.toml", &evpn_inventory(6, true));
    let seven = e.inventory("seven.toml", &evpn_inventory(7, true));
    for h in 1..=6 {
        let out = e.apply(h, &six);
        assert!(out.contains("create FRR `router bgp 65000`"), "h{h}: {out}");
    }
    let first_six = e.only(&[1, 2, 3, 4, 5, 6]);
    first_six.attach_containers().unwrap();
    full_matrix(
        &first_six,
        Duration::from_secs(30),
        "6 hosts × 2 containers all reachable",
    );

    // Every host converged and healthy: FRR's entries are not drift.
    for h in 1..=6 {
        poll(Duration::from_secs(30), &format!("status of h{h} exits 0"), || {
            e.cli(h, &six, &["status"]).status.success().then_some(())
        });
    }

    // The FDB: one flood entry per other VTEP and one entry per remote container MAC, none
    // of which vxlan-mesh writes in evpn mode (its plan has no FDB entry; apply's changes
    // name none): FRR installed them.
    let plan_text = {
        let argv = [
            BIN,
            "-i",
            six.to_str().unwrap(),
            "plan",
            "--host",
            "h3",
            "--format",
            "json",
        ];
        e.lab.exec_ok(e.netns(3), &argv).unwrap()
    };
    let plan: serde_json::Value = serde_json::from_str(&plan_text).unwrap();
    assert_eq!(plan["networks"][0]["fdb"], serde_json::json!([]), "{plan_text}");
    for h in 1..=6 {
        let fdb = e.fdb(h);
        for other in (1..=6).filter(|o| *o != h) {
            let flood = format!("00:00:00:00:00:00 dst 192.0.2.{other} self permanent");
            assert!(fdb.contains(&flood), "h{h} lacks `{flood}`:\n{fdb}");
            let host = &e.lab.spec().hosts[other - 1];
            for c in &host.containers {
                let mac = mac_of(&e.lab, &c.netns, &c.ifname);
                let remote = format!("{mac} dst 192.0.2.{other} self extern_learn");
                assert!(fdb.contains(&remote), "h{h} lacks `{remote}`:\n{fdb}");
            }
        }
        assert!(
            !fdb.contains(&format!("dst 192.0.2.{h} ")),
            "h{h} floods to itself:\n{fdb}"
        );
    }

    // The dry run names the change and prints the vtysh command of h7's instance.
    let out = e.cli(7, &seven, &["apply", "--dry-run"]);
    let dry = String::from_utf8_lossy(&out.stdout);
    let vtysh = format!(
        "vtysh -N {} --vty_socket {} -c 'configure terminal' -c 'router bgp 65000' -c 'bgp router-id 192.0.2.7'",
        e.netns(7),
        e.dir.join("frr").display()
    );
    assert!(
        dry.contains("# create FRR `router bgp 65000`") && dry.contains(&vtysh),
        "{}",
        text(&out)
    );

    // A 7th host: the new inventory applied on it only. The others' plans do not change
    // (status with the new inventory: converged), and every container reaches its
    // containers within the 10 s.
    let applied = Instant::now();
    e.apply(7, &seven);
    e.lab.attach_containers().unwrap();
    let all = e.only(&[1, 2, 3, 4, 5, 6, 7]);
    let limit = Duration::from_secs(10).saturating_sub(applied.elapsed());
    full_matrix(
        &all,
        limit,
        "every container reaching h7's containers after apply on h7 only",
    );
    for h in 1..=6 {
        let out = e.cli(h, &seven, &["status"]);
        assert!(out.status.success(), "h{h} with the 7-host inventory: {}", text(&out));
    }

    // Reflector h1's bgpd dies: its clients' sessions to it go down (a health problem,
    // exit 3), the second reflector keeps the overlay of the other hosts working.
    e.frr.as_ref().unwrap().kill_bgpd(e.netns(1)).unwrap();
    let out = poll(Duration::from_secs(10), "h3's session to h1 down", || {
        let out = e.cli(3, &seven, &["status"]);
        (out.status.code() == Some(3)).then_some(out)
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("BGP session to `192.0.2.1`"), "{}", text(&out));
    let json = e.cli(3, &seven, &["status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["converged"], true, "{}", text(&json));
    let sessions = v["frr"]["health"]["sessions"].as_array().unwrap();
    assert!(
        sessions
            .iter()
            .any(|s| s["peer"] == "192.0.2.2" && s["state"] == "Established"),
        "{}",
        text(&json)
    );
    let survivors = e.only(&[2, 3, 4, 5, 6, 7]);
    full_matrix(&survivors, Duration::from_secs(10), "the overlay through reflector h2");

    // down removes what apply added: our block, and nothing else of FRR's.
    let out = e.cli(4, &seven, &["down"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("remove FRR `router bgp 65000`"),
        "{}",
        text(&out)
    );
    let again = e.cli(4, &seven, &["down"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing owned by vxlan-mesh here"),
        "{}",
        text(&again)
    );
}

/// Sends `count` ARP requests from the first container of h1 for the first container of
/// h2, each after flushing its neighbour cache; returns the underlay packets the bystander
/// hosts (all but h1 and h2) received meanwhile, per request.
fn arp_broadcasts_per_request(e: &EvpnLab, hosts: usize, count: u32) -> f64 {
    let a = e.lab.spec().hosts[0].containers[0].clone();
    let b = e.lab.spec().hosts[1].containers[0].clone();
    let target = b.ipv4.unwrap().to_string();
    let bystanders: Vec<usize> = (3..=hosts).collect();
    let total = |e: &EvpnLab| bystanders.iter().map(|h| e.received(*h)).sum::<u64>();
    let before = total(e);
    for _ in 0..count {
        e.lab.exec_ok(&a.netns, &["ip", "neigh", "flush", "all"]).unwrap();
        let out = e
            .lab
            .exec(&a.netns, &["ping", "-n", "-q", "-c", "1", "-W", "1", &target])
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    (total(e) - before) as f64 / count as f64
}

/// Waits until the underlay is quiet (interfaces that just came up send DAD, MLD and IGMP
/// for a second or two).
fn settle(e: &EvpnLab, hosts: usize) {
    let total = || (1..=hosts).map(|h| e.received(h)).sum::<u64>();
    poll(Duration::from_secs(10), "a quiet underlay", || {
        let start = total();
        std::thread::sleep(Duration::from_millis(500));
        (total() - start <= 2).then_some(())
    });
}

#[test]
fn arp_requests_are_answered_locally_in_evpn_mode_and_flooded_in_flood_mode() {
    const HOSTS: usize = 4;
    const REQUESTS: u32 = 10;
    let evpn = EvpnLab::build(&evpn_inventory(HOSTS, false), 1, "arpe", true);
    let flood = EvpnLab::build(&flood_inventory(HOSTS), 1, "arpf", false);
    let (ie, iflood) = (
        evpn.inventory("evpn.toml", &evpn_inventory(HOSTS, false)),
        flood.inventory("flood.toml", &flood_inventory(HOSTS)),
    );
    for h in 1..=HOSTS {
        evpn.apply(h, &ie);
        flood.apply(h, &iflood);
    }
    evpn.lab.attach_containers().unwrap();
    flood.lab.attach_containers().unwrap();
    full_matrix(&evpn.lab, Duration::from_secs(30), "evpn lab reachable");
    full_matrix(&flood.lab, Duration::from_secs(30), "flood lab reachable");

    // Warm-up: each bridge learns its containers' addresses from their gratuitous ARP
    // (`arp_accept`, which `apply` set on the evpn bridges: nothing is set by hand here),
    // zebra announces them (type-2 MAC+IP), and every other bridge gets them as neighbours
    // to answer from.
    for c in evpn.lab.containers() {
        let addr = c.ipv4.unwrap().to_string();
        evpn.lab
            .exec_ok(&c.netns, &["arping", "-q", "-U", "-c", "1", "-I", &c.ifname, &addr])
            .unwrap();
    }
    let target = evpn.lab.spec().hosts[1].containers[0].ipv4.unwrap().to_string();
    poll(Duration::from_secs(10), "h1's bridge knowing h2's container", || {
        let n = evpn
            .lab
            .exec_ok(evpn.netns(1), &["ip", "neigh", "show", "dev", "vxbr0", &target])
            .unwrap();
        n.contains("extern_learn").then_some(())
    });

    settle(&evpn, HOSTS);
    settle(&flood, HOSTS);
    let evpn_rate = arp_broadcasts_per_request(&evpn, HOSTS, REQUESTS);
    let flood_rate = arp_broadcasts_per_request(&flood, HOSTS, REQUESTS);
    eprintln!(
        "ARP request h1→h2: underlay packets to the {} bystander hosts per request: evpn {evpn_rate:.1}, flood {flood_rate:.1}",
        HOSTS - 2
    );
    // Flood mode replicates each request to every peer: one per bystander. In evpn mode the
    // local bridge answers; what bystanders see is background (measured 0 to 0.1 per request).
    assert!(flood_rate >= (HOSTS - 2) as f64 * 0.9, "flood {flood_rate}");
    assert!(evpn_rate < 0.5, "evpn {evpn_rate} (flood {flood_rate})");
}

#[test]
fn apply_refuses_someone_elses_router_bgp_before_changing_anything() {
    let e = EvpnLab::build(&evpn_inventory(2, false), 1, "evpnown", true);
    let inventory = e.inventory("fleet.toml", &evpn_inventory(2, false));
    e.vtysh(2, &["configure terminal", "router bgp 65000", "bgp router-id 10.0.0.2"]);

    let out = e.cli(2, &inventory, &["apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FRR already runs `router bgp 65000`, which vxlan-mesh did not write"),
        "{}",
        text(&out)
    );
    // Nothing half-applied: no device was made.
    let link = e.lab.exec(e.netns(2), &["ip", "link", "show", "vxbr0"]).unwrap();
    assert!(!link.status.success(), "vxbr0 exists after a refused apply");
    // down leaves someone else's block alone.
    let out = e.cli(2, &inventory, &["down"]);
    assert!(out.status.success(), "{}", text(&out));
    let running = e.vtysh(2, &["show running-config"]);
    assert!(
        running.contains("router bgp 65000\n bgp router-id 10.0.0.2"),
        "{running}"
    );
}

/// FRR 8.4 has no IPv6 VTEPs: over an IPv6 underlay the sessions come up but no VTEP is
/// announced, so no flood entry or remote MAC is installed. `status` must not call that
/// healthy: it reports the VNI without remote VTEP (exit 3).
#[test]
fn an_ipv6_underlay_is_reported_unhealthy_not_converged() {
    let toml = &FleetBuilder::new().evpn("2001:db8::/64").ipv6(true).hosts(2).toml();
    let e = EvpnLab::build(toml, 1, "evpn6", true);
    let inventory = e.inventory("fleet.toml", toml);
    for h in 1..=2 {
        e.apply(h, &inventory);
    }
    e.lab.attach_containers().unwrap();
    // Once the session is up and zebra knows the VNI, what is left is the missing VTEP.
    let out = poll(Duration::from_secs(30), "h2's session established", || {
        let out = e.cli(2, &inventory, &["status", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let up = v["frr"]["health"]["sessions"]
            .as_array()?
            .iter()
            .any(|s| s["state"] == "Established");
        let known = v["frr"]["health"]["vnis"].as_array()?.iter().any(|n| n["vni"] == 100);
        (up && known).then_some((out, v))
    });
    let (out, v) = out;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(v["converged"], true, "{}", text(&out));
    assert_eq!(
        v["frr"]["problems"],
        serde_json::json!([{"problem": "no-remote-vtep", "vni": 100}]),
        "{}",
        text(&out)
    );
    let out = e.cli(2, &inventory, &["status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("VNI 100: FRR learnt no remote VTEP"),
        "{}",
        text(&out)
    );
    assert!(!e.fdb(2).contains("00:00:00:00:00:00"), "{}", e.fdb(2));
}

#[test]
fn lab_up_runs_frr_in_every_host_and_lab_down_stops_it_even_without_state() {
    let tag = names::unique_tag("evlab");
    let prefix = names::tag_prefix(&tag);
    let dir = std::env::temp_dir().join(format!("vxm-e2e-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let inventory = dir.join("fleet.toml");
    std::fs::write(&inventory, evpn_inventory(3, false)).unwrap();
    let lab = |args: &[&str]| {
        let mut argv = vec!["-i", inventory.to_str().unwrap(), "lab", "--tag", &tag];
        argv.extend_from_slice(args);
        std::process::Command::new(BIN).args(&argv).output().unwrap()
    };
    struct Down<'a>(&'a dyn Fn(&[&str]) -> Output, PathBuf);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["down"]);
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }
    let _down = Down(&lab, dir.clone());

    // The rendered forms cannot load BGP into FRR: refused before anything is built.
    let out = lab(&["up", "--via", "shell"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("use `--via netlink`"),
        "{}",
        text(&out)
    );

    let out = lab(&["up", "--containers", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(daemons(&prefix).len(), 6);
    // `up` returned once BGP converged: the first check passes.
    let out = lab(&["check", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(v["reachability"]["ok"], 6, "{}", text(&out));
    let out = lab(&["down"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(daemons(&prefix).len(), 0);
    let etc: Vec<String> = std::fs::read_dir("/etc/frr")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(etc.is_empty(), "{etc:?}");

    // An `up` whose state and pid files are gone (interrupted): down finds the daemons by
    // their pathspace.
    let out = lab(&["up", "--containers", "1", "--via", "none"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(daemons(&prefix).len(), 6);
    let state = Path::new("/run/vxlan-mesh-lab");
    std::fs::remove_file(state.join(format!("{tag}.json"))).unwrap();
    std::fs::remove_dir_all(state.join(&tag)).unwrap();
    let out = lab(&["down"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(daemons(&prefix).len(), 0);
    assert!(!Path::new("/etc/frr").join(format!("{prefix}h0")).exists());
}

/// A `vtysh` that fails, first in `PATH`, and leaves a trace each time it is started: the
/// `PATH=...` to hand [`EvpnLab::cli_env`], and the trace file.
fn broken_vtysh(e: &EvpnLab) -> (String, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = e.dir.join("broken-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let trace = e.dir.join("vtysh-started");
    let script = bin.join("vtysh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >>'{}'\necho 'vtysh: broken on purpose' >&2\nexit 1\n",
            trace.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("PATH={}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    (path, trace)
}

/// A flood host needs no FRR: `apply` and `status` outside evpn mode start no `vtysh` (a
/// broken one first in `PATH` is never run) unless vxlan-mesh's record says a block of its
/// may be loaded; a host switched from evpn to flood still has its block removed, and then
/// needs no vtysh again.
#[test]
fn a_flood_host_starts_no_vtysh_and_an_evpn_to_flood_switch_still_removes_our_block() {
    let e = EvpnLab::build(&evpn_inventory(2, false), 1, "evflood", true);
    let evpn = e.inventory("evpn.toml", &evpn_inventory(2, false));
    let flood = e.inventory("flood.toml", &flood_inventory(2));
    let (broken, trace) = broken_vtysh(&e);

    let out = e.cli_env(1, &[&broken], &flood, &["apply"]);
    assert!(out.status.success(), "flood apply with a broken vtysh: {}", text(&out));
    let out = e.cli_env(1, &[&broken], &flood, &["status"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "flood status with a broken vtysh: {}",
        text(&out)
    );
    assert!(
        !trace.exists(),
        "vtysh was started: {:?}",
        std::fs::read_to_string(&trace)
    );

    e.apply(1, &evpn);
    assert!(e.vtysh(1, &["show running-config"]).contains("router bgp 65000"));
    // Now a block of ours is loaded: outside evpn mode, FRR must be asked.
    let out = e.cli_env(1, &[&broken], &flood, &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(trace.exists(), "the record of our block did not make status ask FRR");
    std::fs::remove_file(&trace).unwrap();

    let out = e.cli(1, &flood, &["status"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("remove FRR `router bgp 65000`"),
        "{}",
        text(&out)
    );
    let applied = e.apply(1, &flood);
    assert!(applied.contains("remove FRR `router bgp 65000`"), "{applied}");
    assert!(!e.vtysh(1, &["show running-config"]).contains("router bgp"));
    let out = e.cli(1, &flood, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The block is gone, and the record with it: no vtysh again.
    let out = e.cli_env(1, &[&broken], &flood, &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = e.cli_env(1, &[&broken], &flood, &["status", "--format", "prometheus"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !trace.exists(),
        "vtysh was started: {:?}",
        std::fs::read_to_string(&trace)
    );
}

/// The metric `name{labels}`'s value in `metrics`, if it has that sample.
fn sample(metrics: &str, series: &str) -> Option<String> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ').map(str::to_string))
}

/// FRR's health and drift are in the metrics (`status --format prometheus` and
/// `--textfile`), which promtool accepts, and `--format prometheus` exits like `status`: 3
/// while a BGP session is down, 2 when FRR's block changed behind vxlan-mesh's back, 0 once
/// apply repaired it and the control plane is up.
#[test]
fn frr_health_and_drift_are_in_the_metrics_and_prometheus_status_exits_like_status() {
    let toml = evpn_inventory(2, true);
    let e = EvpnLab::build(&toml, 1, "evprom", true);
    let inventory = e.inventory("fleet.toml", &toml);
    let prometheus = |h: usize| e.cli(h, &inventory, &["status", "--format", "prometheus"]);
    e.apply(2, &inventory);

    // h2 alone: its session to h1 cannot come up.
    let out = prometheus(2);
    let metrics = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    common::promtool_check_metrics(&metrics);
    assert_eq!(
        sample(&metrics, "vxlan_mesh_converged{host=\"h2\"}").as_deref(),
        Some("1"),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "vxlan_mesh_bgp_session_up{host=\"h2\",peer=\"h1\"}").as_deref(),
        Some("0"),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "vxlan_mesh_bgp_sessions_established{host=\"h2\"}").as_deref(),
        Some("0")
    );
    assert_ne!(
        sample(&metrics, "vxlan_mesh_bgp_health_problems{host=\"h2\"}").as_deref(),
        Some("0")
    );

    e.apply(1, &inventory);
    e.lab.attach_containers().unwrap();
    let metrics = poll(Duration::from_secs(60), "h2 healthy in the metrics", || {
        let out = prometheus(2);
        (out.status.code() == Some(0)).then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    common::promtool_check_metrics(&metrics);
    for (series, value) in [
        ("vxlan_mesh_bgp_session_up{host=\"h2\",peer=\"h1\"}", "1"),
        ("vxlan_mesh_bgp_sessions_established{host=\"h2\"}", "1"),
        ("vxlan_mesh_evpn_vni_known{host=\"h2\",vni=\"100\"}", "1"),
        ("vxlan_mesh_evpn_vnis_known{host=\"h2\"}", "1"),
        ("vxlan_mesh_evpn_remote_vteps{host=\"h2\",vni=\"100\"}", "1"),
        ("vxlan_mesh_bgp_health_problems{host=\"h2\"}", "0"),
        ("vxlan_mesh_pending_changes{host=\"h2\"}", "0"),
    ] {
        assert_eq!(
            sample(&metrics, series).as_deref(),
            Some(value),
            "{series} in:\n{metrics}"
        );
    }

    // Behind vxlan-mesh's back: a neighbour added to its block is drift (exit 2), in the
    // metrics and the textfile (which exits 0: a collector's timer must not fail).
    e.vtysh(
        2,
        &[
            "configure terminal",
            "router bgp 65000",
            "neighbor 192.0.2.99 peer-group vxlan-mesh",
        ],
    );
    let out = prometheus(2);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let metrics = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        sample(&metrics, "vxlan_mesh_pending_changes{host=\"h2\"}").as_deref(),
        Some("1"),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "vxlan_mesh_converged{host=\"h2\"}").as_deref(),
        Some("0"),
        "{metrics}"
    );
    let textfile = e.dir.join("vxlan-mesh.prom");
    let out = e.cli(2, &inventory, &["status", "--textfile", textfile.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = std::fs::read_to_string(&textfile).unwrap();
    common::promtool_check_metrics(&written);
    assert_eq!(
        sample(&written, "vxlan_mesh_pending_changes{host=\"h2\"}").as_deref(),
        Some("1"),
        "{written}"
    );
    assert!(
        written.contains("vxlan_mesh_bgp_session_up{host=\"h2\",peer=\"h1\"}"),
        "{written}"
    );

    let applied = e.apply(2, &inventory);
    assert!(applied.contains("192.0.2.99"), "{applied}");
    poll(Duration::from_secs(30), "h2 converged and healthy again", || {
        (prometheus(2).status.code() == Some(0)).then_some(())
    });
}

/// zebra keeps one VXLAN device per VNI. A foreign device given our VNI (on another UDP
/// port, which the kernel allows) takes it over: FRR then serves that device, and `status`
/// says so, naming it (exit 3; not ours, so `apply` leaves it). When it goes, zebra forgets
/// the VNI for good although our device still has it: the overlay to the other hosts is
/// cut, `status` says the VNI is unknown, and `apply` makes zebra learn it again.
#[test]
fn a_vni_taken_over_by_a_foreign_device_or_forgotten_by_zebra_is_reported_and_apply_recovers_ours() {
    let toml = evpn_inventory(2, false);
    let e = EvpnLab::build(&toml, 1, "evz", true);
    let inventory = e.inventory("fleet.toml", &toml);
    for h in 1..=2 {
        e.apply(h, &inventory);
    }
    e.lab.attach_containers().unwrap();
    full_matrix(&e.lab, Duration::from_secs(30), "the mesh");
    let status = |want: i32, needle: &str| {
        poll(Duration::from_secs(20), needle, || {
            let out = e.cli(1, &inventory, &["status"]);
            (out.status.code() == Some(want) && text(&out).contains(needle)).then_some(out)
        })
    };
    status(0, "host h1: converged");
    let sh = |cmd: &str| e.lab.exec_ok(e.netns(1), &["sh", "-c", cmd]).unwrap();

    sh(
        "ip link add fbr type bridge && ip link add fvx type vxlan id 100 dstport 4790 local 192.0.2.1 nolearning \
        && ip link set fvx master fbr && ip link set fbr up && ip link set fvx up",
    );
    status(3, "VNI 100 is tied by FRR's zebra to interface `fvx`, not to `vxm100`");
    let out = e.cli(1, &inventory, &["status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["frr"]["problems"],
        serde_json::json!([{"problem": "vni-on-foreign-device", "vni": 100, "device": "fvx", "ours": "vxm100"}]),
        "{}",
        text(&out)
    );
    // Not ours: apply leaves it, and the problem stays.
    e.apply(1, &inventory);
    assert!(sh("ip -o link show fvx").contains("fvx"));
    status(3, "not to `vxm100`");

    sh("ip link del fvx && ip link del fbr");
    status(3, "VNI 100 is not known to FRR's zebra");
    assert!(
        !e.lab.ping_matrix().unwrap().is_full(),
        "the overlay worked without zebra's VNI"
    );
    let out = e.apply(1, &inventory);
    assert!(
        out.contains("FRR's zebra had forgotten VNI(s) 100: `advertise-all-vni` given again in `router bgp 65000`"),
        "{out}"
    );
    status(0, "host h1: converged");
    full_matrix(&e.lab, Duration::from_secs(30), "the mesh after apply");
    // Known again: the next apply changes nothing.
    assert!(e.apply(1, &inventory).contains("no changes"));
}
