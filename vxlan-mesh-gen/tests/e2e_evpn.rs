//! The shell form of an evpn fleet, end to end with real FRR: a lab of 4 hosts × 3
//! containers (two route reflectors), zebra and bgpd in every host namespace, the rendered
//! script's `start` on each host (reflectors first). FRR, not vxlan-mesh, installs the flood
//! entries and remote MACs; every container then reaches every other, full-size frames
//! cross; the bridges accept gratuitous ARP (`arp_accept`, drift when off); `status` stays
//! converged with FRR's entries there; `stop` removes vxlan-mesh's
//! `router bgp` block and devices and nothing else.
//!
//! Needs root, iproute2, iputils-ping, nftables and frr; fails (does not skip) without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::lab::{assert_overlay_works, exec_expect, form_lab};
use vxlan_mesh_gen::{render, write_files, Format};
use vxlan_mesh_lab::Lab;

/// zebra and bgpd of one host namespace, their files in `dir`; killed (by their pid files)
/// on drop.
struct Frr {
    dir: PathBuf,
}

impl Frr {
    fn start(lab: &Lab, ns: &str, dir: &Path) -> Frr {
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let frr = Frr { dir: dir.to_path_buf() };
        for daemon in ["zebra", "bgpd"] {
            std::fs::write(dir.join(format!("{daemon}.conf")), "").unwrap();
        }
        // The daemons drop to user frr.
        let chown = Command::new("chown").args(["-R", "frr:frr"]).arg(dir).status().unwrap();
        assert!(chown.success());
        let path = |f: &str| dir.join(f).display().to_string();
        for daemon in ["zebra", "bgpd"] {
            let (binary, conf, pid) = (
                format!("/usr/lib/frr/{daemon}"),
                path(&format!("{daemon}.conf")),
                path(&format!("{daemon}.pid")),
            );
            let (api, sockets) = (path("zserv.api"), path(""));
            exec_expect(
                lab,
                ns,
                &[
                    &binary,
                    "-d",
                    "-f",
                    &conf,
                    "-i",
                    &pid,
                    "-z",
                    &api,
                    "--vty_socket",
                    &sockets,
                ],
                0,
            );
        }
        // The script calls `vtysh`: this one talks to this namespace's daemons.
        let wrapper = dir.join("bin/vtysh");
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nexec /usr/bin/vtysh --vty_socket {} \"$@\"\n", path("")),
        )
        .unwrap();
        let chmod = Command::new("chmod").arg("755").arg(&wrapper).status().unwrap();
        assert!(chmod.success());
        frr
    }

    /// `PATH=...` for `env`, with the vtysh wrapper first.
    fn path_env(&self) -> String {
        format!("PATH={}:/usr/sbin:/usr/bin:/sbin:/bin", self.dir.join("bin").display())
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        for daemon in ["bgpd", "zebra"] {
            let pid = std::fs::read_to_string(self.dir.join(format!("{daemon}.pid"))).unwrap_or_default();
            if let Ok(pid) = pid.trim().parse::<i32>() {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
    }
}

fn run_script(lab: &Lab, ns: &str, frr: &Frr, script: &Path, verb: &str, want: i32) -> String {
    exec_expect(
        lab,
        ns,
        &["env", &frr.path_env(), "sh", script.to_str().unwrap(), verb],
        want,
    )
}

#[test]
fn shell_evpn_with_frr() {
    let (_serial, fleet, lab, tmp) = form_lab("evpn-four", "gsv");
    let hosts = lab.spec().hosts.clone();
    let frrs: Vec<Frr> = hosts
        .iter()
        .map(|h| Frr::start(&lab, &h.netns, &tmp.0.join(format!("frr-{}", h.name))))
        .collect();
    let mut scripts = Vec::new();
    for h in &hosts {
        let plan = fleet.plan(&h.name).unwrap();
        let dir = tmp.0.join(&h.name);
        write_files(&dir, &render(&plan, Format::Shell).unwrap()).unwrap();
        scripts.push(dir.join("etc/vxlan-mesh/vxlan-mesh.sh"));
    }
    // Reflectors first: they accept the clients' sessions from the start.
    let mut order: Vec<usize> = (0..hosts.len()).collect();
    order.sort_by_key(|&i| !fleet.hosts()[i].route_reflector);
    for &i in &order {
        run_script(&lab, &hosts[i].netns, &frrs[i], &scripts[i], "start", 0);
    }
    // The script writes no FDB entry (tests/evpn.rs): the ones below are all FRR's.
    for (i, h) in hosts.iter().enumerate() {
        run_script(&lab, &h.netns, &frrs[i], &scripts[i], "status", 0);
    }

    // FRR builds every host's flood list from the others' type-3 routes.
    let deadline = Instant::now() + Duration::from_secs(90);
    for (i, h) in hosts.iter().enumerate() {
        loop {
            let fdb = exec_expect(&lab, &h.netns, &["bridge", "fdb", "show", "dev", "vxm100"], 0);
            let missing: Vec<String> = hosts
                .iter()
                .filter(|o| o.name != h.name)
                .map(|o| format!("00:00:00:00:00:00 dst {} self permanent", o.address))
                .filter(|entry| !fdb.contains(entry.as_str()))
                .collect();
            if missing.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                let summary = run_script_vtysh(&lab, &h.netns, &frrs[i], "show bgp l2vpn evpn summary");
                panic!("{}: FRR did not install {missing:?}:\n{fdb}\n{summary}", h.name);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    assert_overlay_works(&lab, "shell form of evpn-four with FRR");
    for (i, h) in hosts.iter().enumerate() {
        // Remote containers' MACs came from type-2 routes: entries vxlan-mesh never wrote,
        // and no drift for it.
        let fdb = exec_expect(&lab, &h.netns, &["bridge", "fdb", "show", "dev", "vxm100"], 0);
        assert!(
            fdb.contains("extern_learn"),
            "{}: no remote MAC from FRR:\n{fdb}",
            h.name
        );
        run_script(&lab, &h.netns, &frrs[i], &scripts[i], "status", 0);
        let port = exec_expect(&lab, &h.netns, &["bridge", "-d", "link", "show", "dev", "vxm100"], 0);
        assert!(
            port.contains("neigh_suppress on") && port.contains("learning off"),
            "{port}"
        );
        let accept = exec_expect(&lab, &h.netns, &["sysctl", "-n", "net.ipv4.conf.vxbr0.arp_accept"], 0);
        assert_eq!(accept.trim(), "1", "{}: arp_accept of vxbr0", h.name);
    }
    // arp_accept turned off is drift, and start sets it again.
    let off = ["sysctl", "-qw", "net.ipv4.conf.vxbr0.arp_accept=0"];
    exec_expect(&lab, &hosts[0].netns, &off, 0);
    let drift = run_script(&lab, &hosts[0].netns, &frrs[0], &scripts[0], "status", 3);
    assert!(
        drift.contains("would run: sysctl -w net.ipv4.conf.vxbr0.arp_accept=1"),
        "{drift}"
    );
    run_script(&lab, &hosts[0].netns, &frrs[0], &scripts[0], "start", 0);
    run_script(&lab, &hosts[0].netns, &frrs[0], &scripts[0], "status", 0);

    // A foreign device with our VNI on another port: zebra ties the VNI to it, which status
    // reports (start leaves it). When it goes, zebra forgets the VNI: status reports that,
    // and start makes zebra learn it again.
    let ns = &hosts[0].netns;
    let foreign = "ip link add fbr type bridge && ip link add fvx type vxlan id 100 dstport 4790 \
        local 192.0.2.1 nolearning && ip link set fvx master fbr && ip link set fbr up && ip link set fvx up";
    exec_expect(&lab, ns, &["sh", "-c", foreign], 0);
    let drift = run_script(&lab, ns, &frrs[0], &scripts[0], "status", 3);
    assert!(
        drift.contains("VNI 100 is tied by FRR's zebra to interface fvx, not to vxm100"),
        "{drift}"
    );
    exec_expect(&lab, ns, &["sh", "-c", "ip link del fvx && ip link del fbr"], 0);
    let drift = run_script(&lab, ns, &frrs[0], &scripts[0], "status", 3);
    assert!(
        drift.contains("FRR's zebra does not know VNI(s) 100: giving advertise-all-vni again"),
        "{drift}"
    );
    run_script(&lab, ns, &frrs[0], &scripts[0], "start", 0);
    run_script(&lab, ns, &frrs[0], &scripts[0], "status", 0);
    assert_overlay_works(&lab, "shell form of evpn-four after zebra learnt its VNI again");

    for (i, h) in hosts.iter().enumerate() {
        run_script(&lab, &h.netns, &frrs[i], &scripts[i], "stop", 0);
        let running = run_script_vtysh(&lab, &h.netns, &frrs[i], "show running-config");
        assert!(
            !running.contains("router bgp"),
            "{}: stop left the block:\n{running}",
            h.name
        );
        let links = exec_expect(&lab, &h.netns, &["ip", "-br", "link"], 0);
        assert!(!links.contains("vxm100") && !links.contains("vxbr0"), "{links}");
    }
}

fn run_script_vtysh(lab: &Lab, ns: &str, frr: &Frr, command: &str) -> String {
    exec_expect(lab, ns, &["env", &frr.path_env(), "vtysh", "-c", command], 0)
}

/// The session from `ns`'s FRR to `peer`: its state, how long it has been up (ms, FRR's
/// `show bgp neighbor json`; 0 while it is not established), and when that was read. The neighbour's counters would not
/// do: a session reset by deleting the neighbour comes back as a new neighbour, counting
/// from 0; nor would the epoch FRR derives from the uptime, which jitters by a second.
fn session(lab: &Lab, ns: &str, frr: &Frr, peer: &str) -> (String, u64, Instant) {
    let json = run_script_vtysh(lab, ns, frr, &format!("show bgp neighbor {peer} json"));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let n = &value[peer];
    let state = n["bgpState"].as_str().unwrap_or_default().to_string();
    let up = n["bgpTimerUpMsec"].as_u64();
    assert!(up.is_some() || state != "Established", "no bgpTimerUpMsec: {json}");
    (state, up.unwrap_or_default(), Instant::now())
}

/// Re-running the script after a timer change in the inventory changes the one line of the
/// `router bgp` block that differs: the established session to the route reflector is never
/// dropped, FRR runs the new timers, and `status` is converged after.
#[test]
fn shell_evpn_timer_change_keeps_the_session() {
    let (_serial, fleet, lab, tmp) = form_lab("evpn-four", "gst");
    let hosts = lab.spec().hosts.clone();
    // A route reflector and a client of it.
    let (rr, client) = (0, 2);
    assert!(fleet.hosts()[rr].route_reflector && !fleet.hosts()[client].route_reflector);
    let frrs: Vec<Frr> = [rr, client]
        .iter()
        .map(|&i| Frr::start(&lab, &hosts[i].netns, &tmp.0.join(format!("frr-{}", hosts[i].name))))
        .collect();
    let script_of = |fleet: &vxlan_mesh_core::Fleet, i: usize, dir: &str| {
        let plan = fleet.plan(&hosts[i].name).unwrap();
        let dir = tmp.0.join(dir);
        write_files(&dir, &render(&plan, Format::Shell).unwrap()).unwrap();
        dir.join("etc/vxlan-mesh/vxlan-mesh.sh")
    };
    let (rr_script, client_script) = (script_of(&fleet, rr, "rr"), script_of(&fleet, client, "client"));
    run_script(&lab, &hosts[rr].netns, &frrs[0], &rr_script, "start", 0);
    run_script(&lab, &hosts[client].netns, &frrs[1], &client_script, "start", 0);

    let (ns, reflector) = (&hosts[client].netns, hosts[rr].address.to_string());
    let deadline = Instant::now() + Duration::from_secs(60);
    let before = loop {
        let s = session(&lab, ns, &frrs[1], &reflector);
        if s.0 == "Established" {
            break s;
        }
        assert!(Instant::now() < deadline, "the session never came up: {s:?}");
        std::thread::sleep(Duration::from_millis(500));
    };

    // A session re-established after this would be up for less time than has passed.
    std::thread::sleep(Duration::from_secs(2));

    // New timers in the inventory, the client's script rendered again and run again.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inventories/evpn-four.toml");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains("keepalive = 3\nhold-time = 9\n"));
    let text = text.replace("keepalive = 3\nhold-time = 9\n", "keepalive = 5\nhold-time = 15\n");
    let changed = vxlan_mesh_core::Inventory::from_toml_str(&text)
        .unwrap()
        .validate()
        .unwrap();
    let client_script = script_of(&changed, client, "client-new");
    let drift = run_script(&lab, ns, &frrs[1], &client_script, "status", 3);
    assert!(
        drift.contains("would run: vtysh -c configure terminal -c router bgp 64512 -c no neighbor vxlan-mesh timers 3 9 -c neighbor vxlan-mesh timers 5 15\n"),
        "{drift}"
    );
    run_script(&lab, ns, &frrs[1], &client_script, "start", 0);
    // Long enough for a dropped session to show (FRR reconnects after a second or more).
    std::thread::sleep(Duration::from_secs(3));
    let after = session(&lab, ns, &frrs[1], &reflector);
    let elapsed = u64::try_from(after.2.duration_since(before.2).as_millis()).unwrap();
    // FRR counts whole seconds; half a second more for the reads' own delays. A reset
    // session would be up for less than the 3 s slept since the re-run.
    assert!(
        after.0 == "Established" && after.1 + 1500 >= before.1 + elapsed,
        "the session was reset by the timer change: up {} ms, then {} ms after {elapsed} ms ({})",
        before.1,
        after.1,
        after.0
    );
    let running = run_script_vtysh(&lab, ns, &frrs[1], "show running-config");
    assert!(running.contains("\n neighbor vxlan-mesh timers 5 15\n"), "{running}");
    assert!(!running.contains("timers 3 9"), "{running}");
    assert_eq!(
        run_script(&lab, ns, &frrs[1], &client_script, "status", 0).trim(),
        "converged"
    );

    for (i, &h) in [rr, client].iter().enumerate() {
        let script = if h == rr { &rr_script } else { &client_script };
        run_script(&lab, &hosts[h].netns, &frrs[i], script, "stop", 0);
    }
}
