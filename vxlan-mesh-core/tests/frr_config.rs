//! The `router bgp` block `frr::Config::render` writes, loaded into a real FRR 8.4 (zebra
//! and bgpd in a network namespace of the test's own) with `vtysh -f`, comes back from
//! `show running-config` identical, line for line: the comparison the runtime relies on.
//!
//! Needs root and FRR (Debian package `frr`); without them this test fails (CI is root
//! and installs frr).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use vxlan_mesh_core::frr::{running_block, Config};
use vxlan_mesh_core::{plan_host_from_toml, HostPlan};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// zebra and bgpd in a network namespace of their own, with their files in a directory
/// under /tmp; both daemons (killed by their pid files), the namespace and the directory
/// go on drop, also when the test fails.
struct Frr {
    netns: String,
    dir: PathBuf,
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("`{program}` must be installed: {e}"))
}

fn must(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Frr {
    fn start() -> Frr {
        let name = format!(
            "vxm-frrcfg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let dir = std::env::temp_dir().join(&name);
        must("ip", &["netns", "add", &name]);
        let frr = Frr { netns: name, dir };
        std::fs::create_dir_all(&frr.dir).unwrap();
        for conf in ["zebra.conf", "bgpd.conf"] {
            std::fs::write(frr.dir.join(conf), "").unwrap();
        }
        // The daemons drop to user frr: their directory must be theirs.
        must("chown", &["-R", "frr:frr", &frr.path(".")]);
        must("ip", &["netns", "exec", &frr.netns, "ip", "link", "set", "lo", "up"]);
        for daemon in ["zebra", "bgpd"] {
            let (conf, pid, api) = (
                frr.path(&format!("{daemon}.conf")),
                frr.pid_file(daemon),
                frr.path("zserv.api"),
            );
            let binary = format!("/usr/lib/frr/{daemon}");
            let dir = frr.path("");
            let mut args = vec!["netns", "exec", &frr.netns, &binary, "-d", "-f", &conf, "-i", &pid];
            args.extend(["-z", &api, "--vty_socket", &dir]);
            must("ip", &args);
            // `-d` returns once the daemon is set up; its vty socket says it listens.
            let socket = frr.dir.join(format!("{daemon}.vty"));
            for _ in 0..100 {
                if socket.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        frr
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    fn pid_file(&self, daemon: &str) -> String {
        self.path(&format!("{daemon}.pid"))
    }

    /// `vtysh` for this instance (its sockets are in `dir`; `-N` would look in a
    /// subdirectory named after the pathspace).
    fn vtysh(&self, args: &[&str]) -> String {
        let dir = self.path("");
        let mut all = vec!["netns", "exec", &self.netns, "vtysh", "--vty_socket", &dir];
        all.extend(args);
        must("ip", &all)
    }

    fn load(&self, block: &str) {
        let file = self.dir.join("vxlan-mesh-frr.conf");
        std::fs::write(&file, block).unwrap();
        self.vtysh(&["-f", &file.display().to_string()]);
    }

    fn running_config(&self) -> String {
        self.vtysh(&["-c", "show running-config"])
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        for daemon in ["bgpd", "zebra"] {
            let pid = std::fs::read_to_string(self.pid_file(daemon)).ok();
            if let Some(pid) = pid.and_then(|p| p.trim().parse::<i32>().ok()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                // Gone once its pid file is removed (or after a short while).
                for _ in 0..50 {
                    if kill(Pid::from_raw(pid), None).is_err() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.netns]).status();
        let _ = std::fs::remove_dir_all(Path::new(&self.dir));
    }
}

fn plan(inventory: &str, host: &str) -> HostPlan {
    plan_host_from_toml(inventory, host).unwrap()
}

const V4: &str = r#"
    mode = "evpn"
    [evpn]
    asn = 65010
    underlay-prefix = "198.51.100.0/24"
    keepalive = 3
    hold-time = 9
    [[networks]]
    name = "lan"
    vni = 100
    bridge = "vxbr0"
    [[hosts]]
    name = "rr1"
    address = "198.51.100.10"
    route-reflector = true
    [[hosts]]
    name = "rr2"
    address = "198.51.100.9"
    route-reflector = true
    [[hosts]]
    name = "c"
    address = "198.51.100.3"
    [[hosts]]
    name = "rr3"
    address = "198.51.100.100"
    route-reflector = true
"#;

const V6: &str = r#"
    mode = "evpn"
    [evpn]
    asn = 4200000000
    underlay-prefix = "2001:db8:100::/48"
    [[networks]]
    name = "lan"
    vni = 100
    bridge = "vxbr0"
    [[hosts]]
    name = "rr1"
    address = "2001:db8:100::10"
    route-reflector = true
    [[hosts]]
    name = "rr2"
    address = "2001:db8:100::9"
    route-reflector = true
    [[hosts]]
    name = "c"
    address = "2001:db8:100::3"
"#;

#[test]
fn the_rendered_block_is_what_frr_prints_back() {
    let frr = Frr::start();
    // A reflector with timers and unordered neighbours, a client, an IPv6 client and
    // reflector with a 4-byte AS and a router id from the host id.
    let cases = [(V4, "rr1"), (V4, "c"), (V6, "c"), (V6, "rr2")];
    for (inventory, host) in cases {
        let config = Config::from_plan(&plan(inventory, host)).unwrap();
        let block = config.render();
        frr.load(&block);
        let running = frr.running_config();
        assert_eq!(
            running_block(&running).as_deref(),
            Some(block.as_str()),
            "host {host}: FRR printed\n{running}"
        );
        frr.vtysh(&[
            "-c",
            "configure terminal",
            "-c",
            &format!("no router bgp {}", config.asn()),
        ]);
        assert_eq!(running_block(&frr.running_config()), None, "host {host}: not removed");
    }
}
