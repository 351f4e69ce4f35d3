//! End to end, each rendered form consumed by its real program inside a namespace lab of
//! 4 hosts × 3 containers (crate `vxlan-mesh-lab`): then every container pings every other,
//! frames of exactly the overlay MTU cross with DF set (one byte more does not), and
//! per-peer fleets do not storm.
//!
//! - shell: the script run in each host namespace: `start`, `start` again, `status`, and
//!   after the probes `stop`, which must leave nothing behind;
//! - networkd: the real systemd-networkd (v252) inside each host namespace, in a private
//!   mount namespace with a read-only sysfs and the files in /run/systemd/network, with the
//!   shipped units run as systemd would around it (firewall and ebtables before, the sync
//!   after), and the shipped script's `status` converged afterwards;
//! - netplan: the real `netplan generate --root-dir` on the YAML, then networkd on its output
//!   plus our drop-ins.
//!
//! Needs root, iproute2, iputils-ping, nftables, ebtables, shellcheck, netplan.io and systemd;
//! fails (does not skip) without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use common::TempDir;
use vxlan_mesh_core::{Fleet, HostPlan};
use vxlan_mesh_gen::{render_with, write_files, Format, Options};
use vxlan_mesh_lab::systemd::Order;
use vxlan_mesh_lab::{names, Lab, LabSpec};

fn example(name: &str) -> (Fleet, PathBuf) {
    let (_, path) = common::inventories()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no inventory {name}"));
    (common::fleet(&path), path)
}

/// One lab at a time in this binary: two labs probing at once (hundreds of concurrent
/// pings with 1–2 s timeouts on a 2-core machine) lose pings that succeed when run alone.
static ONE_LAB_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    ONE_LAB_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

fn build_lab(fleet: &Fleet, base: &str) -> Lab {
    assert!(
        nix_is_root(),
        "end-to-end tests build network namespaces and must run as root"
    );
    Lab::build(LabSpec::from_fleet(fleet, 3, &names::unique_tag(base)).unwrap()).unwrap()
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn files_of(plan: &HostPlan, format: Format, dir: &Path) {
    let files = render_with(plan, format, &Options::default()).unwrap();
    write_files(dir, &files).unwrap();
}

/// Runs `argv` in `ns`; panics with its output unless it exits with `want`.
fn exec_expect(lab: &Lab, ns: &str, argv: &[&str], want: i32) -> String {
    let out = lab.exec(ns, argv).unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.status.code(),
        Some(want),
        "{ns}: {argv:?} exited {:?}:\n{text}",
        out.status
    );
    text
}

/// Stdout of `argv` in `ns`, which must succeed. Stderr is left out: iproute2 may print a
/// stray error about another test's namespace being deleted meanwhile.
fn stdout_ok(lab: &Lab, ns: &str, argv: &[&str]) -> String {
    let out = lab.exec(ns, argv).unwrap();
    assert!(
        out.status.success(),
        "{ns}: {argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Pings, full-size frames, and (per-peer) no storm.
fn assert_overlay_works(lab: &Lab, what: &str) {
    lab.attach_containers().unwrap();
    let fulls_before = neighbour_table_fulls();
    // The machine may be loaded by other tests (ping waits 1 s per probe): a failed matrix
    // is probed again, twice at most, and the last one must be full.
    let mut matrix = lab.ping_matrix().unwrap();
    for _ in 0..2 {
        if matrix.is_full() {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        matrix = lab.ping_matrix().unwrap();
    }
    if let Some(f) = matrix.failed.first() {
        // Diagnostics: one slow ping of a failed pair, outside the matrix's parallel burst.
        let t = Instant::now();
        let out = lab
            .exec(&f.from, &["ping", "-c", "3", "-W", "3", &f.addresses[0].to_string()])
            .unwrap();
        eprintln!(
            "{what}: after the matrix, {} -> {}: {:?} in {:?}\n{}",
            f.from,
            f.addresses[0],
            out.status,
            t.elapsed(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let fulls = neighbour_table_fulls().saturating_sub(fulls_before);
    if fulls > 0 {
        eprintln!(
            "{what}: the kernel's neighbour tables (shared by all namespaces, gc_thresh3 {}) \
             overflowed {fulls} times during the probes: ARP/ND failed for reasons outside \
             this lab (all namespaces of the machine hold {} IPv4 / {} IPv6 entries)",
            std::fs::read_to_string("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
                .unwrap_or_default()
                .trim(),
            neighbour_entries("arp_cache"),
            neighbour_entries("ndisc_cache"),
        );
    }
    assert!(
        matrix.is_full(),
        "{what}: not every container reaches every other:\n{}",
        matrix.render_text()
    );
    assert!(
        matrix.pairs() >= 12 * 11,
        "{what}: expected at least 4 hosts × 3 containers pinging each other"
    );
    let hosts = &lab.spec().hosts;
    for a in hosts {
        for b in hosts {
            if a.name == b.name {
                continue;
            }
            let (ca, cb) = (&a.containers[0], &b.containers[0]);
            let probe = lab.max_frame_probe(ca, cb, ca.mtu).unwrap();
            assert!(
                probe.ok(),
                "{what}: frames of MTU {} from {} to {}: {probe:?}",
                ca.mtu,
                a.name,
                b.name
            );
        }
    }
    let check = lab.loop_check(Duration::from_secs(1)).unwrap();
    assert!(!check.storm, "{what}: broadcast storm: {check:?}");
}

/// `table_fulls` of the IPv4 and IPv6 neighbour tables, summed over CPUs: how often a new
/// neighbour entry could not be allocated because the (machine-wide) table was full.
fn neighbour_table_fulls() -> u64 {
    ["arp_cache", "ndisc_cache"]
        .iter()
        .map(|t| stat_column(t, "table_fulls").iter().sum::<u64>())
        .sum()
}

fn neighbour_entries(table: &str) -> u64 {
    // `entries` is a table-wide count repeated on every CPU's line.
    stat_column(table, "entries").first().copied().unwrap_or(0)
}

/// One column of /proc/net/stat/<table> (hex numbers, one line per CPU).
fn stat_column(table: &str, column: &str) -> Vec<u64> {
    let text = std::fs::read_to_string(format!("/proc/net/stat/{table}")).unwrap_or_default();
    let mut lines = text.lines();
    let Some(i) = lines
        .next()
        .and_then(|h| h.split_whitespace().position(|c| c == column))
    else {
        return Vec::new();
    };
    lines
        .filter_map(|l| l.split_whitespace().nth(i))
        .filter_map(|v| u64::from_str_radix(v, 16).ok())
        .collect()
}

/// Links, nft tables and ebtables chains of a host namespace, to compare before and after.
fn footprint(lab: &Lab, ns: &str) -> String {
    let links = stdout_ok(lab, ns, &["ip", "-br", "link"]);
    let mut names: Vec<&str> = links
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|n| n.split('@').next().unwrap_or(n))
        .collect();
    names.sort_unstable();
    // Loading the firewall replaces its table, which moves it in the listing: sort.
    let tables = stdout_ok(lab, ns, &["nft", "list", "tables"]);
    // `table bridge filter` is ebtables' standard table (ebtables-nft creates it on first
    // use); it may be shared with other ebtables users, so `stop` removes only our chain and
    // jump from it. Its contents are compared through the ebtables listing below.
    let mut tables: Vec<&str> = tables.lines().filter(|t| *t != "table bridge filter").collect();
    tables.sort_unstable();
    let ebt = stdout_ok(lab, ns, &["ebtables", "-t", "filter", "-L"]);
    format!("links: {names:?}\nnft: {tables:?}\nebtables: {ebt}")
}

fn shell_form(inventory: &str, base: &str) {
    let _serial = serial();
    let (fleet, _) = example(inventory);
    let lab = build_lab(&fleet, base);
    let tmp = TempDir::new(base);
    let mut before = Vec::new();
    for host in &lab.spec().hosts {
        let plan = fleet.plan(&host.name).unwrap();
        let dir = tmp.0.join(&host.name);
        files_of(&plan, Format::Shell, &dir);
        let script = dir.join("usr/local/sbin/vxlan-mesh.sh");
        let script = script.to_str().unwrap();
        let ns = host.netns.as_str();
        before.push(footprint(&lab, ns));

        // A dry run prints and changes nothing.
        let dry = lab.exec(ns, &["env", "DRYRUN=1", "sh", script, "start"]).unwrap();
        assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
        assert!(String::from_utf8_lossy(&dry.stdout).contains("ip link add name vxbr0 type bridge"));
        assert_eq!(footprint(&lab, ns), before[before.len() - 1], "DRYRUN=1 changed {ns}");

        exec_expect(&lab, ns, &["sh", script, "status"], 3);
        exec_expect(&lab, ns, &["sh", script, "start"], 0);
        let once = footprint(&lab, ns);
        let indexes = stdout_ok(&lab, ns, &["ip", "-o", "link"]);
        // Once converged, a dry run plans no device to create or delete...
        let dry = exec_expect(&lab, ns, &["env", "DRYRUN=1", "sh", script, "start"], 0);
        assert!(
            !dry.contains("link add") && !dry.contains("link del"),
            "{ns}: not converged:\n{dry}"
        );
        // ... and a second start keeps every device (same ifindex) and adds nothing.
        exec_expect(&lab, ns, &["sh", script, "start"], 0);
        assert_eq!(footprint(&lab, ns), once, "{ns}: a second start changed something");
        let index_of = |text: &str| -> Vec<String> {
            // "7: vxm100: <...>" → "7: vxm100"
            // Only link lines: iproute2 may add a stray "Error: Peer netns reference is
            // invalid." while another test deletes its namespaces.
            let mut v: Vec<String> = text
                .lines()
                .filter(|l| l.split(':').next().is_some_and(|n| n.trim().parse::<u32>().is_ok()))
                .map(|l| l.split(':').take(2).collect::<Vec<_>>().join(":"))
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            index_of(&stdout_ok(&lab, ns, &["ip", "-o", "link"])),
            index_of(&indexes),
            "{ns}: a second start re-created a device"
        );
        let status = exec_expect(&lab, ns, &["sh", script, "status"], 0);
        assert!(!status.contains("missing"), "{status}");
    }
    assert_overlay_works(&lab, &format!("shell form of {inventory}"));

    for (host, before) in lab.spec().hosts.iter().zip(&before) {
        let script = tmp.0.join(&host.name).join("usr/local/sbin/vxlan-mesh.sh");
        let ns = host.netns.as_str();
        exec_expect(&lab, ns, &["sh", script.to_str().unwrap(), "stop"], 0);
        // The container veths' host ends stay (the lab made them); everything else is gone.
        assert_eq!(&footprint(&lab, ns), before, "{ns}: stop left something behind");
        exec_expect(&lab, ns, &["sh", script.to_str().unwrap(), "stop"], 0);
    }
}

/// systemd-networkd running in a host namespace; killed on drop.
struct Networkd(Child);

impl Drop for Networkd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until networkd has made the plan's links, up, with their flood entries and
/// isolation flags.
fn wait_configured(lab: &Lab, ns: &str, plan: &HostPlan, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match configured(lab, ns, plan) {
            Ok(()) => return,
            Err(why) if Instant::now() > deadline => panic!(
                "{ns}: networkd did not configure the plan: {why}\n--- networkd log ---\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

fn configured(lab: &Lab, ns: &str, plan: &HostPlan) -> Result<(), String> {
    let text = |argv: &[&str]| {
        let out = lab.exec(ns, argv).map_err(|e| e.to_string())?;
        Ok::<_, String>(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    for net in &plan.networks {
        let br = text(&["ip", "-d", "link", "show", "dev", &net.bridge.name])?;
        if !br.contains("state UP") && !br.contains(",UP") {
            return Err(format!("bridge {} not up: {br}", net.bridge.name));
        }
        if !br.contains(&format!("mtu {} ", net.mtu)) {
            return Err(format!("bridge {} MTU: {br}", net.bridge.name));
        }
        for v in &net.vxlans {
            let link = text(&["ip", "-d", "link", "show", "dev", &v.name])?;
            if !link.contains(&format!("master {}", net.bridge.name)) || !link.contains(",UP") {
                return Err(format!("{} not an up port of {}: {link}", v.name, net.bridge.name));
            }
            if v.isolated && !link.contains("isolated on") {
                return Err(format!("{} not isolated", v.name));
            }
            if !link.contains(&format!("vxlan id {} ", v.vni)) || !link.contains(&format!("mtu {} ", v.mtu)) {
                return Err(format!("{} parameters: {link}", v.name));
            }
        }
        for e in &net.fdb {
            let fdb = text(&["bridge", "fdb", "show", "dev", &e.device])?;
            if !fdb.contains(&format!("{} dst {} ", e.mac, e.destination)) {
                return Err(format!("no flood entry to {} on {}: {fdb}", e.destination, e.device));
            }
        }
    }
    Ok(())
}

/// The underlay address is still on the underlay device (networkd did not take it over).
fn assert_underlay_untouched(lab: &Lab, ns: &str, plan: &HostPlan) {
    let dev = &lab.spec().hosts.iter().find(|h| h.netns == ns).unwrap().device;
    let addrs = exec_expect(lab, ns, &["ip", "addr", "show", "dev", dev], 0);
    assert!(
        addrs.contains(&plan.address.to_string()),
        "{ns}: underlay {dev} lost its address:\n{addrs}"
    );
}

fn networkd_form(inventory: &str, base: &str, netplan: bool) {
    let _serial = serial();
    let (fleet, _) = example(inventory);
    let lab = build_lab(&fleet, base);
    let tmp = TempDir::new(base);
    let mut daemons = Vec::new();
    for host in &lab.spec().hosts {
        let plan = fleet.plan(&host.name).unwrap();
        let root = tmp.0.join(&host.name);
        let ns = host.netns.as_str();
        let mut dirs = Vec::new();
        if netplan {
            files_of(&plan, Format::Netplan, &root);
            let out = Command::new("netplan")
                .args(["generate", "--root-dir"])
                .arg(&root)
                .output()
                .unwrap_or_else(|e| panic!("cannot run netplan (apt-get install netplan.io): {e}"));
            assert!(
                out.status.success(),
                "netplan generate failed for {}: {}",
                host.name,
                String::from_utf8_lossy(&out.stderr)
            );
            dirs.push(root.join("run/systemd/network"));
            let ours = root.join("etc/systemd/network");
            if ours.exists() {
                dirs.push(ours);
            }
        } else {
            files_of(&plan, Format::Networkd, &root);
            dirs.push(root.join("etc/systemd/network"));
        }
        // The units the form installs, the way systemd runs them around networkd.
        lab.run_units(ns, &root, Order::BeforeNetworkd).unwrap();
        let log = tmp.0.join(format!("{}.networkd.log", host.name));
        daemons.push(Networkd(lab.start_networkd(ns, &dirs, &log).unwrap()));
        lab.run_units(ns, &root, Order::AfterNetworkd).unwrap_or_else(|e| {
            panic!(
                "{e}\n--- networkd log ---\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        wait_configured(&lab, ns, &plan, &log);
        // The shipped script judges what networkd and the sync made converged.
        let script = root.join("usr/local/sbin/vxlan-mesh.sh");
        exec_expect(&lab, ns, &["sh", script.to_str().unwrap(), "status"], 0);
        assert_underlay_untouched(&lab, ns, &plan);
        if plan.firewall.is_some() {
            exec_expect(&lab, ns, &["nft", "list", "table", "inet", "vxlan_mesh"], 0);
        }
    }
    let form = if netplan { "netplan" } else { "networkd" };
    assert_overlay_works(&lab, &format!("{form} form of {inventory}"));
    drop(daemons);
}

#[test]
fn shell_flood() {
    shell_form("classic-geo", "gsf");
}

#[test]
fn shell_per_peer_isolation() {
    shell_form("hetzner", "gsp");
}

#[test]
fn shell_per_peer_ebtables() {
    shell_form("per-peer-ebtables", "gse");
}

/// IPv6 underlay, custom port, and a second network only two of the hosts join.
#[test]
fn shell_ipv6_flood() {
    shell_form("ipv6-flood", "gs6");
}

#[test]
fn networkd_flood() {
    networkd_form("classic-geo", "gnf", false);
}

#[test]
fn networkd_per_peer_isolation() {
    networkd_form("hetzner", "gnp", false);
}

/// ebtables loop prevention through the shipped unit's commands, then networkd.
#[test]
fn networkd_per_peer_ebtables() {
    networkd_form("per-peer-ebtables", "gne", false);
}

/// IPv6 underlay (UDP6 checksum keys), custom port, two networks.
#[test]
fn networkd_ipv6_flood() {
    networkd_form("ipv6-flood", "gn6", false);
}

#[test]
fn netplan_flood() {
    networkd_form("classic-geo", "gpf", true);
}

#[test]
fn netplan_per_peer_isolation() {
    networkd_form("hetzner", "gpp", true);
}
