//! One harness, five deployment forms (netlink `apply`, the shell script, systemd-networkd,
//! netplan, ifupdown2), each walked through the same sequence of inventory edits in a namespace lab:
//! add a host, remove one, flood → per-peer, isolation → ebtables, rename a bridge, remove
//! a network, per-peer → flood, another UDP port. Each step is deployed the way an operator deploys that form
//! (apply; render and `start`; render, replace the files and restart networkd, which runs
//! the sync unit; render, replace the files, `ifreload -a` and restart the sync unit), and
//! then:
//!
//! - every container of the step's fleet reaches every other of its network, and the
//!   underlay does not storm;
//! - no stale tunnel reaches a removed host: no device (`remote`) and no FDB entry towards
//!   its address on the remaining hosts, and no VXLAN packet reaches it while the others
//!   ping and broadcast (counted in its namespace, which keeps its old configuration
//!   running, as a decommissioned host that was never torn down). Entries the devices
//!   learned towards it count too: every form deletes them, so no unicast frame follows a
//!   learned MAC there either;
//! - the form's own status agrees with `vxlan-mesh status`: both say converged.
//!
//! Needs root, iproute2, iputils-ping, nftables, ebtables, systemd-networkd, netplan.io and
//! ifupdown2;
//! fails (does not skip) without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use common::{text as show, Fleet};
use vxlan_mesh_gen::{render, write_files, Format};
use vxlan_mesh_lab::systemd::{units_of, Order};
use vxlan_mesh_lab::{names, Lab, LabSpec};

const BIN: &str = env!("CARGO_BIN_EXE_vxlan-mesh");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Netlink,
    Shell,
    Networkd,
    Netplan,
    Ifupdown2,
}

/// An edit of the sequence: its name and what it changes.
type Edit<'a> = (&'a str, &'a dyn Fn(&mut Fleet));

/// The edit sequence, from its first inventory.
fn steps() -> Vec<(&'static str, Fleet)> {
    let lan = ("lan", 1000, "vxbr0");
    let dmz = ("dmz", 5000, "vxdmz");
    let mut f = Fleet::new("h", &[1, 2, 3], &[lan, dmz]);
    let mut steps = vec![("first deployment", f.clone())];
    let edits: [Edit<'_>; 8] = [
        ("add a host", &|f| f.hosts.push(4)),
        ("remove a host", &|f| f.hosts.retain(|h| *h != 2)),
        ("flood to per-peer", &|f| f.mode = "isolation"),
        ("isolation to ebtables", &|f| f.mode = "ebtables"),
        ("rename a bridge", &|f| f.networks[0].2 = "vxbr1"),
        ("remove a network", &|f| f.networks.retain(|n| n.0 != "dmz")),
        ("per-peer to flood", &|f| f.mode = "flood"),
        // Every device must be re-created (networkd never changes an existing one) and the
        // firewall reloaded (a restart does not re-run its unit).
        ("another port", &|f| f.port = 4790),
    ];
    for (name, edit) in edits {
        edit(&mut f);
        steps.push((name, f.clone()));
    }
    steps
}

/// A directory removed on drop.
struct Work(PathBuf);

impl Drop for Work {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// networkd daemons of the lab's hosts; killed on drop.
#[derive(Default)]
struct Daemons(HashMap<String, Child>);

impl Daemons {
    fn stop(&mut self, host: &str) {
        if let Some(mut c) = self.0.remove(host) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemons {
    fn drop(&mut self) {
        let hosts: Vec<String> = self.0.keys().cloned().collect();
        for h in hosts {
            self.stop(&h);
        }
    }
}

/// Deploys steps of the sequence with one form, remembering what a real host keeps between
/// deployments (its running networkd, the units systemd has started).
struct Deployer<'a> {
    form: Form,
    lab: &'a Lab,
    work: PathBuf,
    daemons: Daemons,
    started_units: HashMap<String, BTreeSet<String>>,
}

impl Deployer<'_> {
    fn root(&self, host: &str) -> PathBuf {
        self.work.join(host).join("root")
    }

    fn script(&self, host: &str) -> PathBuf {
        self.root(host).join("etc/vxlan-mesh/vxlan-mesh.sh")
    }

    /// Writes `host`'s files of this form for `fleet`, replacing the earlier ones (what
    /// `rsync --delete` does on the real host).
    fn render(&self, fleet: &vxlan_mesh_core::Fleet, host: &str, format: Format) -> PathBuf {
        let root = self.root(host);
        let _ = std::fs::remove_dir_all(&root);
        write_files(&root, &render(&fleet.plan(host).unwrap(), format).unwrap()).unwrap();
        root
    }

    fn deploy(&mut self, fleet: &vxlan_mesh_core::Fleet, inventory: &Path, host: &str) {
        let ns = self.lab.host_netns(host).unwrap().to_string();
        match self.form {
            Form::Netlink => {
                let out = self
                    .lab
                    .exec(
                        &ns,
                        &[BIN, "-q", "-i", inventory.to_str().unwrap(), "apply", "--host", host],
                    )
                    .unwrap();
                assert!(out.status.success(), "apply on {host}: {}", show(&out));
            }
            Form::Shell => {
                self.render(fleet, host, Format::Shell);
                let out = self
                    .lab
                    .exec(&ns, &["sh", self.script(host).to_str().unwrap(), "start"])
                    .unwrap();
                assert!(out.status.success(), "start on {host}: {}", show(&out));
            }
            Form::Networkd | Form::Netplan => self.networkd(fleet, host, &ns),
            Form::Ifupdown2 => self.ifupdown2(fleet, host, &ns),
        }
    }

    /// The files replaced (the host's own `/etc/network/interfaces` sources ours), units not
    /// started yet that run before networking.service start, `ifup -a` the first time and
    /// `ifreload -a` after, then the sync unit runs again (`systemctl restart
    /// vxlan-mesh-sync`, as the README says). ifupdown2 runs in a mount namespace where
    /// `/etc/network/interfaces{,.d}` and its state in `/run` are the host's of this test.
    fn ifupdown2(&mut self, fleet: &vxlan_mesh_core::Fleet, host: &str, ns: &str) {
        let root = self.render(fleet, host, Format::Ifupdown2);
        let interfaces = "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n";
        std::fs::write(root.join("etc/network/interfaces"), interfaces).unwrap();
        let run = self.work.join(host).join("run");
        std::fs::create_dir_all(run.join("network")).unwrap();
        let started = self.started_units.entry(host.to_string()).or_default();
        let command = if started.insert("networking.service".into()) {
            "ifup -a"
        } else {
            "ifreload -a"
        };
        for unit in units_of(&root).unwrap() {
            if unit.order == Order::BeforeNetworkd && started.insert(unit.name.clone()) {
                self.lab.run_unit(ns, &root, &unit).unwrap();
            }
        }
        let (r, run) = (root.display(), run.display());
        let script = format!(
            "mount --bind {run} /run && mount --bind {r}/etc/network/interfaces /etc/network/interfaces && \
             mount --bind {r}/etc/network/interfaces.d /etc/network/interfaces.d && {command}"
        );
        let mut out = self.lab.exec(ns, &["unshare", "-m", "sh", "-c", &script]).unwrap();
        // ifupdown2 3.0's `ifreload -a` fails this way when a port moves from a removed
        // bridge to a new one (a renamed bridge), having applied only part of the new file;
        // run again, it completes (the README says so). The sync then deletes the old bridge.
        if !out.status.success() && show(&out).contains("error: 'NoneType' object is not subscriptable") {
            out = self.lab.exec(ns, &["unshare", "-m", "sh", "-c", &script]).unwrap();
        }
        assert!(
            out.status.success(),
            "{host}: {command}: {}\n--- interfaces.d/vxlan-mesh ---\n{}",
            show(&out),
            std::fs::read_to_string(root.join("etc/network/interfaces.d/vxlan-mesh")).unwrap_or_default()
        );
        self.lab.run_units(ns, &root, Order::AfterNetworkd).unwrap();
    }

    /// The files replaced, `systemctl restart systemd-networkd`: units not started yet that
    /// run before networkd start (a running oneshot is not started again), networkd restarts,
    /// then the sync unit (`PartOf=` networkd) runs again.
    fn networkd(&mut self, fleet: &vxlan_mesh_core::Fleet, host: &str, ns: &str) {
        let netplan = self.form == Form::Netplan;
        let root = self.render(fleet, host, if netplan { Format::Netplan } else { Format::Networkd });
        let started = self.started_units.entry(host.to_string()).or_default();
        for unit in units_of(&root).unwrap() {
            if unit.order == Order::BeforeNetworkd && started.insert(unit.name.clone()) {
                self.lab.run_unit(ns, &root, &unit).unwrap();
            }
        }
        let mut dirs = vec![root.join("etc/systemd/network")];
        if netplan {
            let out = Command::new("netplan")
                .args(["generate", "--root-dir"])
                .arg(&root)
                .output()
                .unwrap();
            assert!(out.status.success(), "netplan generate: {}", show(&out));
            dirs.insert(0, root.join("run/systemd/network"));
        }
        self.daemons.stop(host);
        let log = self.work.join(host).join("networkd.log");
        let child = self.lab.start_networkd(ns, &dirs, &log).unwrap();
        self.daemons.0.insert(host.to_string(), child);
        self.lab
            .run_units(ns, &root, Order::AfterNetworkd)
            .unwrap_or_else(|e| panic!("{host}: {e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()));
    }

    /// The form's own status for `host`: exit code and output.
    fn status(&self, inventory: &Path, host: &str) -> (Option<i32>, String) {
        let ns = self.lab.host_netns(host).unwrap();
        let out = match self.form {
            Form::Netlink => self
                .lab
                .exec(ns, &[BIN, "-i", inventory.to_str().unwrap(), "status", "--host", host])
                .unwrap(),
            _ => self
                .lab
                .exec(ns, &["sh", self.script(host).to_str().unwrap(), "status"])
                .unwrap(),
        };
        (out.status.code(), show(&out))
    }
}

/// The lab's spec restricted to `fleet`: its hosts, their containers on its networks,
/// attached to its bridges.
fn step_spec(all: &LabSpec, fleet: &vxlan_mesh_core::Fleet) -> LabSpec {
    let mut spec = all.clone();
    spec.hosts.retain(|h| fleet.hosts().iter().any(|f| f.name == h.name));
    for h in &mut spec.hosts {
        let plan = fleet.plan(&h.name).unwrap();
        h.containers
            .retain_mut(|c| match plan.networks.iter().find(|n| n.name == c.network) {
                Some(n) => {
                    c.bridge = n.bridge.name.clone();
                    true
                }
                None => false,
            });
    }
    spec
}

/// Counts VXLAN packets (UDP to `port`) arriving in `ns`, before any other filter; with
/// `flooded_only`, only those carrying a broadcast or multicast frame (the group bit of the
/// inner destination MAC, 16 bytes into the UDP header: UDP and VXLAN headers before it).
fn count_vxlan(lab: &Lab, ns: &str, port: u16, flooded_only: bool) {
    let inner = if flooded_only { " @th,135,1 1" } else { "" };
    let rules = format!(
        "table inet vxmprobe {{}}\ndelete table inet vxmprobe\ntable inet vxmprobe {{\n chain pre {{\n  type filter hook prerouting priority -300; policy accept;\n  udp dport {port}{inner} counter\n }}\n}}\n"
    );
    let out = lab
        .exec(ns, &["sh", "-c", &format!("printf '%s' '{rules}' | nft -f -")])
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
}

fn counted_vxlan(lab: &Lab, ns: &str) -> u64 {
    let out = lab
        .exec(ns, &["nft", "list", "chain", "inet", "vxmprobe", "pre"])
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .iter()
        .position(|w| *w == "packets")
        .and_then(|i| words.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {ns}: {text}"))
}

fn walk(form: Form, base: &str) {
    let steps = steps();
    // The lab holds every host and network the sequence ever has: one container per host
    // and network.
    let all = Fleet::new("h", &[1, 2, 3, 4], &[("lan", 1000, "vxbr0"), ("dmz", 5000, "vxdmz")]).validate();
    let lab = Lab::build(LabSpec::from_fleet(&all, 1, &names::unique_tag(base)).unwrap()).unwrap();
    let work = Work(std::env::temp_dir().join(format!("vxm-forms-{}", lab.spec().tag)));
    std::fs::create_dir_all(&work.0).unwrap();
    let inventory = work.0.join("fleet.toml");
    let mut deployer = Deployer {
        form,
        lab: &lab,
        work: work.0.clone(),
        daemons: Daemons::default(),
        started_units: HashMap::new(),
    };
    let mut removed: BTreeSet<String> = BTreeSet::new();
    let mut deployed: BTreeSet<String> = BTreeSet::new();
    for (step, spec_fleet) in &steps {
        let what = format!("{form:?}, {step}");
        std::fs::write(&inventory, spec_fleet.toml()).unwrap();
        let fleet = spec_fleet.validate();
        let hosts: Vec<String> = fleet.hosts().iter().map(|h| h.name.clone()).collect();
        // Deployed once and gone from the inventory: its namespace keeps its old state.
        removed.extend(deployed.iter().filter(|h| !hosts.contains(h)).cloned());
        deployed.extend(hosts.iter().cloned());
        for h in &hosts {
            deployer.deploy(&fleet, &inventory, h);
        }
        let spec = step_spec(lab.spec(), &fleet);
        let step_lab = Lab::open(spec.clone());
        // networkd configures asynchronously; the sync waited for the devices, the ports
        // may still be joining.
        let mut ready = false;
        for _ in 0..50 {
            if step_lab.attach_containers().is_ok() {
                ready = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(ready, "{what}: bridges missing: {:?}", step_lab.attach_containers());

        // The form's own status and `vxlan-mesh status` agree: converged.
        for h in &hosts {
            let ns = lab.host_netns(h).unwrap();
            let core = lab
                .exec(ns, &[BIN, "-i", inventory.to_str().unwrap(), "status", "--host", h])
                .unwrap();
            assert_eq!(
                core.status.code(),
                Some(0),
                "{what}: `vxlan-mesh status` on {h}: {}",
                show(&core)
            );
            let (code, out) = deployer.status(&inventory, h);
            assert_eq!(code, Some(0), "{what}: the form's status on {h}: {out}");
        }

        // No stale tunnel towards a removed host.
        for gone in &removed {
            let addr = lab.spec().host(gone).unwrap().address.to_string();
            for h in &hosts {
                let ns = lab.host_netns(h).unwrap();
                let links = String::from_utf8_lossy(&lab.exec(ns, &["ip", "-d", "-o", "link", "show"]).unwrap().stdout)
                    .into_owned();
                assert!(
                    !links.contains(&format!("remote {addr} ")),
                    "{what}: {h} keeps a device towards removed {gone}:\n{links}"
                );
                let fdb =
                    String::from_utf8_lossy(&lab.exec(ns, &["bridge", "fdb", "show"]).unwrap().stdout).into_owned();
                let stale: Vec<&str> = fdb.lines().filter(|l| l.contains(&format!("dst {addr} "))).collect();
                assert!(
                    stale.is_empty(),
                    "{what}: {h} keeps FDB entries towards removed {gone}: {stale:?}"
                );
            }
            count_vxlan(&lab, lab.host_netns(gone).unwrap(), spec_fleet.port, false);
        }

        // A control: the flooded frames reaching a host of the fleet are counted (the
        // probe's filter matches what it must).
        let control = lab.host_netns(&hosts[0]).unwrap();
        count_vxlan(&lab, control, spec_fleet.port, true);
        let matrix = step_lab.ping_matrix().unwrap();
        assert!(matrix.is_full(), "{what}:\n{}", matrix.render_text());
        let check = step_lab.loop_check(Duration::from_secs(1)).unwrap();
        assert!(!check.storm, "{what}: {check:?}");
        assert!(
            counted_vxlan(&lab, control) > 0,
            "{what}: the probe counted no flooded frame on {}",
            hosts[0]
        );
        for gone in &removed {
            let n = counted_vxlan(&lab, lab.host_netns(gone).unwrap());
            assert_eq!(n, 0, "{what}: {n} VXLAN packets reached removed host {gone}");
        }
    }
}

#[test]
fn netlink_form_through_the_edit_sequence() {
    walk(Form::Netlink, "fen");
}

#[test]
fn shell_form_through_the_edit_sequence() {
    walk(Form::Shell, "fes");
}

#[test]
fn networkd_form_through_the_edit_sequence() {
    walk(Form::Networkd, "fed");
}

#[test]
fn netplan_form_through_the_edit_sequence() {
    walk(Form::Netplan, "fep");
}

#[test]
fn ifupdown2_form_through_the_edit_sequence() {
    walk(Form::Ifupdown2, "fei");
}
