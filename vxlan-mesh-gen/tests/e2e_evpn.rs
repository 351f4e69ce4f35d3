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
