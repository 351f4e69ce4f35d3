//! The lab side of the generator's end-to-end tests (`e2e.rs`, `ignition.rs`): one lab at a
//! time, networkd run on a rendered tree with its units around it as systemd would, and the
//! overlay checks every form must pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use vxlan_mesh_core::{Fleet, HostPlan};
use vxlan_mesh_lab::systemd::Order;
use vxlan_mesh_lab::{names, Lab, LabSpec};

use super::{example, TempDir};

/// One lab at a time in this binary: two labs probing at once (hundreds of concurrent
/// pings with 1–2 s timeouts on a 2-core machine) lose pings that succeed when run alone.
static ONE_LAB_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What an end-to-end test of a form starts from: the lock (hold it until the end), the
/// fleet of inventory `inventory`, its lab of 3 containers per host under a tag made from
/// `base`, and a scratch directory named after `base`.
pub fn form_lab(inventory: &str, base: &str) -> (MutexGuard<'static, ()>, Fleet, Lab, TempDir) {
    let (fleet, _) = example(inventory);
    let (serial, lab) = lab_of(&fleet, 3, base);
    (serial, fleet, lab, TempDir::new(base))
}

/// The lock (hold it until the end) and a lab of `fleet` with `containers` containers per
/// host, under a tag made from `base`.
pub fn lab_of(fleet: &Fleet, containers: usize, base: &str) -> (MutexGuard<'static, ()>, Lab) {
    lab_with(fleet, containers, base, |_| {})
}

/// [`lab_of`], with the lab's spec changed by `edit` before the lab is built.
pub fn lab_with(
    fleet: &Fleet,
    containers: usize,
    base: &str,
    edit: impl FnOnce(&mut LabSpec),
) -> (MutexGuard<'static, ()>, Lab) {
    let serial = ONE_LAB_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    assert!(
        nix_is_root(),
        "end-to-end tests build network namespaces and must run as root"
    );
    let mut spec = LabSpec::from_fleet(fleet, containers, &names::unique_tag(base)).unwrap();
    edit(&mut spec);
    let lab = Lab::build(spec).unwrap();
    (serial, lab)
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs `argv` in `ns`; panics with its output unless it exits with `want`.
pub fn exec_expect(lab: &Lab, ns: &str, argv: &[&str], want: i32) -> String {
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

/// Pings, full-size frames, and (per-peer) no storm.
pub fn assert_overlay_works(lab: &Lab, what: &str) {
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

/// systemd-networkd running in a host namespace; killed on drop.
pub struct Networkd(pub Child);

impl Drop for Networkd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until networkd has made the plan's links, up, with their flood entries and
/// isolation flags.
pub fn wait_configured(lab: &Lab, ns: &str, plan: &HostPlan, log: &Path) {
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
            if v.port_flags.isolated && !link.contains("isolated on") {
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

/// Deploys the rendered tree `root` in `ns` as systemd would boot it: the units ordered
/// before systemd-networkd, networkd itself on the network files of `dirs` (logging to
/// `log`), the units ordered after it; then waits until networkd has configured `plan`.
pub fn deploy_networkd(lab: &Lab, ns: &str, root: &Path, dirs: &[PathBuf], plan: &HostPlan, log: &Path) -> Networkd {
    lab.run_units(ns, root, Order::BeforeNetworkd).unwrap();
    let daemon = Networkd(lab.start_networkd(ns, dirs, log).unwrap());
    lab.run_units(ns, root, Order::AfterNetworkd).unwrap_or_else(|e| {
        panic!(
            "{e}\n--- networkd log ---\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        )
    });
    wait_configured(lab, ns, plan, log);
    daemon
}
