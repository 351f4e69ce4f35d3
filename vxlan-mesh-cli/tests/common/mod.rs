//! The harness every test file of the CLI shares: the binary, the workspace root, scratch
//! directories and network namespaces that clean up after themselves (also when a test
//! fails), and inventories generated for a number of hosts.
//!
//! Each test file compiles its own copy (`mod common;`) and uses a part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use vxlan_mesh_core::testing::FleetBuilder;

#[cfg(feature = "lab")]
pub mod lab;

/// The `vxlan-mesh` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_vxlan-mesh");

/// The workspace root: examples are run from there so that `examples/...` paths show as
/// written.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// The binary, run from the workspace root with no inventory from the environment.
pub fn vxm() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(root())
        .env_remove("VXLAN_MESH_INVENTORY")
        .env_remove("VXLAN_MESH_WIREGUARD_KEY");
    cmd
}

/// A name unique to this test process and call: `{prefix}-{pid}-{n}`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// `vxlan-mesh -i INVENTORY ARGS…` in the network namespace `ns` (`ip netns exec`).
pub fn cli_in(ns: &str, inventory: &Path, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns, BIN, "-i"])
        .arg(inventory)
        .args(args)
        .output()
        .unwrap()
}

/// A scratch directory, removed when dropped (also when the test fails).
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new empty directory under the system's temporary directory.
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(unique(&format!("vxm-cli-{tag}")));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Writes `text` into the file `name` of the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `sh -c cmd`; panics with its stderr when it fails.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit status, stdout and stderr of a finished command, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Standard output of a finished command, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error of a finished command, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A network namespace of this test with `lo` up, deleted on drop (also when the test
/// fails). Root is needed; creating one fails loudly without.
pub struct Netns(pub String);

impl Netns {
    /// A new namespace named `vxmt-{tag}-{pid}-{n}`.
    pub fn new(tag: &str) -> Netns {
        Netns::named(&unique(&format!("vxmt-{tag}")))
    }

    /// A new namespace named `name` (e.g. under a lab's prefix, which the lab's cleanup
    /// also finds).
    pub fn named(name: &str) -> Netns {
        sh(&format!("ip netns add {name}"));
        let ns = Netns(name.to_string());
        ns.sh("ip link set lo up");
        ns
    }

    /// Runs a shell command inside the namespace; panics on failure.
    pub fn sh(&self, cmd: &str) -> String {
        let out = self.try_sh(cmd);
        assert!(out.status.success(), "`{cmd}` failed: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a shell command inside the namespace.
    pub fn try_sh(&self, cmd: &str) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0, "sh", "-c", cmd])
            .output()
            .unwrap()
    }

    /// A UDP socket bound to `port` on every address of the namespace, held by the test
    /// until dropped (made by a thread that entered the namespace).
    pub fn hold_udp_port(&self, port: u16) -> std::net::UdpSocket {
        let path = format!("/run/netns/{}", self.0);
        std::thread::spawn(move || {
            let ns = std::fs::File::open(path).unwrap();
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            std::net::UdpSocket::bind(("0.0.0.0", port)).unwrap()
        })
        .join()
        .unwrap()
    }

    /// The CLI inside the namespace, from the workspace root.
    pub fn vxm(&self) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0, BIN])
            .current_dir(root())
            .env_remove("VXLAN_MESH_INVENTORY");
        cmd
    }

    /// Runs the CLI inside the namespace with `-i inventory`.
    pub fn cli(&self, inventory: &Path, args: &[&str]) -> Output {
        self.cli_via(&[], inventory, args)
    }

    /// Runs the CLI inside the namespace with `-i inventory`, behind `wrapper` (a command
    /// that ends by running its arguments, e.g. `env PATH=...`).
    pub fn cli_via(&self, wrapper: &[&str], inventory: &Path, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(wrapper)
            .arg(BIN)
            .current_dir(root())
            .env_remove("VXLAN_MESH_INVENTORY")
            .arg("-i")
            .arg(inventory)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// An inventory of `hosts` hosts `h1`, `h2`, … with ids 1, 2, … on one network `lan` (VNI
/// 1000, bridge `vxbr0`). `mode` is `flood`, or a per-peer loop prevention (`isolation`,
/// `ebtables`). Addresses: `198.51.100.N`, or `2001:db8::N` (hexadecimal N) with `v6` or
/// beyond 250 hosts.
pub fn inventory_text(mode: &str, v6: bool, hosts: usize, mtu: Option<u32>) -> String {
    inventory_named("h", "198.51.100", mode, v6, hosts, mtu)
}

/// [`inventory_text`] with hosts named `{prefix}N` and IPv4 addresses `{net24}.N`.
pub fn inventory_named(prefix: &str, net24: &str, mode: &str, v6: bool, hosts: usize, mtu: Option<u32>) -> String {
    let mut fleet = FleetBuilder::new()
        .layout(mode)
        .network("lan", 1000, "vxbr0")
        .names(prefix)
        .underlay(&format!("{net24}.0"))
        .ipv6(v6 || hosts > 250)
        .hosts(hosts);
    if let Some(m) = mtu {
        fleet = fleet.mtu(m);
    }
    fleet.toml()
}

/// `.assert()` on a command: runs it and returns what it printed, for chained checks
/// (`vxm().args(["check"]).assert().success().stderr_eq("")`). Snapshots of the output are
/// insta's (`insta::assert_snapshot!(ran.stdout(), @"...")`).
pub trait Assert {
    /// Runs the command to completion.
    fn assert(&mut self) -> Ran;
}

impl Assert for Command {
    fn assert(&mut self) -> Ran {
        Ran(self.output().unwrap_or_else(|e| panic!("{self:?}: {e}")))
    }
}

/// A finished command.
pub struct Ran(pub Output);

impl Ran {
    /// Checks that it exited 0.
    pub fn success(self) -> Ran {
        assert!(self.0.status.success(), "{}", text(&self.0));
        self
    }

    /// Checks its exit code.
    pub fn code(self, code: i32) -> Ran {
        assert_eq!(self.0.status.code(), Some(code), "{}", text(&self.0));
        self
    }

    /// Its stdout (UTF-8).
    pub fn stdout(&self) -> String {
        String::from_utf8(self.0.stdout.clone()).unwrap()
    }

    /// Its stderr (UTF-8).
    pub fn stderr(&self) -> String {
        String::from_utf8(self.0.stderr.clone()).unwrap()
    }

    /// Checks that stdout is exactly `expected`.
    pub fn stdout_eq(self, expected: impl AsRef<str>) -> Ran {
        assert_eq!(self.stdout(), expected.as_ref(), "{}", text(&self.0));
        self
    }

    /// Checks that stderr is exactly `expected`.
    pub fn stderr_eq(self, expected: impl AsRef<str>) -> Ran {
        assert_eq!(self.stderr(), expected.as_ref(), "{}", text(&self.0));
        self
    }
}

/// The inner (WireGuard) prefix of the encrypted test meshes: a documentation range, apart
/// from the underlay addresses `192.0.2.1`–`.4` and the containers (198.51.100.0/24).
pub const WIREGUARD_INNER: &str = "192.0.2.128/25";

/// An encrypted inventory (`encryption = "wireguard"`, inner prefix [`WIREGUARD_INNER`]) of
/// one host per public key: `wgN` with id N at `192.0.2.N` (`2001:db8::N` when `v6`), one
/// network `lan` (VNI 1000, bridge `vxbr0`), in `mode` (`flood` or `per-peer`).
pub fn encrypted_inventory<S: AsRef<str>>(public_keys: &[S], mode: &str, v6: bool) -> String {
    FleetBuilder::new()
        .layout(mode)
        .wireguard_prefix(WIREGUARD_INNER)
        .network("lan", 1000, "vxbr0")
        .names("wg")
        .ipv6(v6)
        .hosts(public_keys.len())
        .public_keys(public_keys)
        .toml()
}

/// One inventory of an edit sequence: hosts `h<N>` (or `lxd<N>`) with id N and address
/// `192.0.2.N`.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// Host name prefix (`lxd`, `h`).
    pub prefix: &'static str,
    /// `flood`, `isolation` or `ebtables`.
    pub mode: &'static str,
    /// Host numbers.
    pub hosts: Vec<u8>,
    /// (name, vni, bridge).
    pub networks: Vec<(&'static str, u32, &'static str)>,
    pub port: u16,
    pub firewall: bool,
    /// Host 1 binds its tunnels to `ul0`.
    pub device: bool,
}

impl Fleet {
    /// Flood mode, firewall on, port 4789.
    pub fn new(prefix: &'static str, hosts: &[u8], networks: &[(&'static str, u32, &'static str)]) -> Fleet {
        Fleet {
            prefix,
            mode: "flood",
            hosts: hosts.to_vec(),
            networks: networks.to_vec(),
            port: 4789,
            firewall: true,
            device: false,
        }
    }

    /// The inventory's TOML text.
    pub fn toml(&self) -> String {
        let numbers: Vec<u32> = self.hosts.iter().map(|h| u32::from(*h)).collect();
        let mut fleet = FleetBuilder::new()
            .port(self.port)
            .firewall(self.firewall)
            .layout(self.mode);
        for (name, vni, bridge) in &self.networks {
            fleet = fleet.network(name, *vni, bridge);
        }
        fleet = fleet.names(self.prefix).numbered(&numbers);
        if self.device && self.hosts.contains(&1) {
            fleet = fleet.edit_host(&self.host(1), |h| h.device = Some("ul0".into()));
        }
        fleet.toml()
    }

    /// The validated fleet.
    pub fn validate(&self) -> vxlan_mesh_core::Fleet {
        let text = self.toml();
        vxlan_mesh_core::Inventory::from_toml_str(&text)
            .unwrap()
            .validate()
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// The name of host number `n`.
    pub fn host(&self, n: u8) -> String {
        format!("{}{n}", self.prefix)
    }
}

/// `promtool check metrics` on `metrics`; panics with promtool's complaints.
pub fn promtool_check_metrics(metrics: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package `prometheus`) must be installed");
    child.stdin.take().unwrap().write_all(metrics.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}\non:\n{metrics}",
        text(&out)
    );
}

/// The value of the sample of `name` whose labels contain `labels` (e.g. `host="a"`).
pub fn value<T: std::str::FromStr>(metrics: &str, name: &str, labels: &str) -> T {
    metrics
        .lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample `{name}` with {labels} in:\n{metrics}"))
}
