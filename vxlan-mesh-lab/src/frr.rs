//! FRR in a lab, for `mode = "evpn"`: zebra and bgpd in every host namespace, one FRR
//! instance per host, as each real host runs its own.
//!
//! Each instance is started with the host's namespace name as its pathspace (`-N NS`) and
//! keeps its configuration, pid files, zserv socket, vty sockets and logs in
//! `ROOT/NS/` (owned by user `frr`, which the daemons run as); vtysh reaches it with
//! `vtysh -N NS --vty_socket ROOT` ([`FrrLab::frr`]) and wants `/etc/frr/NS/vtysh.conf` to
//! exist, which is created with the instance and removed with it. No configuration is
//! loaded: the deployment (`vxlan-mesh apply`) loads the BGP block through vtysh.
//!
//! Daemons started with `-d` leave their parent, so they are stopped by their pid files
//! ([`FrrLab::stop`], and dropping an owned [`FrrLab`]); after an interrupted run,
//! [`cleanup_frr_prefix`] finds them by the pathspace on their command line instead.
//!
//! ```no_run
//! use vxlan_mesh_lab::{frr::FrrLab, names, Lab, LabSpec};
//! let fleet = vxlan_mesh_core::testing::two_hosts();
//! let lab = Lab::build(LabSpec::from_fleet(&fleet, 1, &names::unique_tag("doc"))?)?;
//! let frr = FrrLab::start(&lab, "/run/doc-frr")?;
//! let vtysh = frr.frr(lab.host_netns("a")?);
//! // ... vtysh.load(...), vtysh.health(...) through vxlan_mesh_core::netlink::frr ...
//! frr.kill_bgpd(lab.host_netns("a")?)?; // a route reflector fails
//! # Ok::<(), vxlan_mesh_lab::LabError>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use vxlan_mesh_core::netlink::frr::Frr;

use crate::{cmd, Lab, LabError};

/// Debian's zebra.
pub const ZEBRA: &str = "/usr/lib/frr/zebra";

/// Debian's bgpd.
pub const BGPD: &str = "/usr/lib/frr/bgpd";

/// The user FRR's daemons run as: it must own each instance's directory.
pub const FRR_USER: &str = "frr";

/// Where vtysh looks for `NS/vtysh.conf` of pathspace `NS`.
pub const ETC_FRR: &str = "/etc/frr";

/// How long a daemon may take to open its vty socket, or to exit when told to.
const DAEMON_WAIT: Duration = Duration::from_secs(10);

/// The FRR instances of a lab, one per host namespace started, under one root directory.
/// Dropping an owned value stops them and removes their files; [`FrrLab::persist`] keeps them
/// running for another process, which stops them with [`FrrLab::adopt`] and
/// [`FrrLab::stop`].
#[derive(Debug)]
pub struct FrrLab {
    root: PathBuf,
    owned: bool,
}

/// The daemons of one instance, in the order they start (bgpd connects to zebra).
const DAEMONS: [(&str, &str); 2] = [("zebra", ZEBRA), ("bgpd", BGPD)];

impl FrrLab {
    /// Starts zebra and bgpd in every host namespace of `lab`, under `root` (created; it must
    /// not hold instances already).
    pub fn start(lab: &Lab, root: impl Into<PathBuf>) -> Result<FrrLab, LabError> {
        let frr = FrrLab::empty(root)?;
        for host in &lab.spec().hosts {
            frr.start_host(lab, &host.netns)?;
        }
        Ok(frr)
    }

    /// No instance yet: [`FrrLab::start_host`] starts them one by one.
    pub fn empty(root: impl Into<PathBuf>) -> Result<FrrLab, LabError> {
        let root = root.into();
        crate::dirs::create_traversable(&root).map_err(|source| LabError::Io {
            path: root.clone(),
            source,
        })?;
        Ok(FrrLab { root, owned: true })
    }

    /// Takes over the instances under `root` started by another process (dropping the value
    /// stops them).
    pub fn adopt(root: impl Into<PathBuf>) -> FrrLab {
        FrrLab {
            root: root.into(),
            owned: true,
        }
    }

    /// Keeps the instances running after this value is dropped; returns their root.
    pub fn persist(mut self) -> PathBuf {
        self.owned = false;
        self.root.clone()
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The instance of host namespace `netns`, as vtysh reaches it.
    pub fn frr(&self, netns: &str) -> Frr {
        Frr::system().pathspace(netns).vty_dir(&self.root)
    }

    /// Starts zebra, then bgpd, in host namespace `netns`, and waits until both answer on
    /// their vty sockets.
    pub fn start_host(&self, lab: &Lab, netns: &str) -> Result<(), LabError> {
        lab.check_netns(netns)?;
        let dir = self.dir(netns);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LabError::Io { path, source }
        };
        crate::dirs::create_traversable(&dir).map_err(io(&dir))?;
        let etc = Path::new(ETC_FRR).join(netns);
        std::fs::create_dir_all(&etc).map_err(io(&etc))?;
        let vtysh_conf = etc.join("vtysh.conf");
        std::fs::write(&vtysh_conf, "").map_err(io(&vtysh_conf))?;
        for (name, _) in DAEMONS {
            let conf = dir.join(format!("{name}.conf"));
            std::fs::write(&conf, "").map_err(io(&conf))?;
        }
        cmd::run(
            "chown",
            &["-R", &format!("{FRR_USER}:{FRR_USER}"), &dir.to_string_lossy()],
            None,
        )?;
        for (name, program) in DAEMONS {
            let file = |suffix: &str| dir.join(format!("{name}{suffix}")).to_string_lossy().into_owned();
            let (conf, pid, log) = (file(".conf"), file(".pid"), format!("file:{}", file(".log")));
            let zserv = dir.join("zserv.api").to_string_lossy().into_owned();
            let vty = dir.to_string_lossy().into_owned();
            let out = lab.exec(
                netns,
                &[
                    program,
                    "-d",
                    "-N",
                    netns,
                    "-f",
                    &conf,
                    "-i",
                    &pid,
                    "-z",
                    &zserv,
                    "--vty_socket",
                    &vty,
                    "-P",
                    "0",
                    "--log",
                    &log,
                ],
            )?;
            if !out.status.success() {
                return Err(LabError::Command {
                    command: format!("{program} -d -N {netns} ..."),
                    status: out.status.to_string(),
                    stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                });
            }
            wait_for(&dir.join(format!("{name}.vty")), true)?;
        }
        Ok(())
    }

    /// SIGKILLs the bgpd of host namespace `netns` (a crashed route reflector); zebra stays.
    pub fn kill_bgpd(&self, netns: &str) -> Result<(), LabError> {
        let pid = self
            .pid_of(netns, "bgpd")
            .ok_or_else(|| LabError::Spec(format!("no bgpd runs in `{netns}`")))?;
        signal(pid, Signal::SIGKILL);
        wait_for(&Path::new("/proc").join(pid.to_string()), false)
    }

    /// Stops every instance under the root (by pid file) and removes their files and the
    /// root.
    pub fn stop(mut self) -> Result<(), LabError> {
        self.owned = false;
        self.stop_all()
    }

    fn stop_all(&self) -> Result<(), LabError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(LabError::Io {
                    path: self.root.clone(),
                    source,
                })
            }
        };
        let names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        for name in &names {
            let pids: Vec<i32> = DAEMONS.iter().rev().filter_map(|(d, _)| self.pid_of(name, d)).collect();
            terminate(&pids)?;
            remove_etc(name)?;
        }
        std::fs::remove_dir_all(&self.root).or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(LabError::Io {
                path: self.root.clone(),
                source: e,
            }),
        })
    }

    fn dir(&self, netns: &str) -> PathBuf {
        vxlan_mesh_core::netlink::frr::instance_dir(&self.root, netns)
    }

    /// The pid in `daemon`'s pid file of instance `netns`, if that process is still that
    /// daemon of that instance (a pid file can outlive its process, and the pid be reused).
    fn pid_of(&self, netns: &str, daemon: &str) -> Option<i32> {
        let text = std::fs::read_to_string(self.dir(netns).join(format!("{daemon}.pid"))).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        let argv = cmdline(pid)?;
        (argv.first().is_some_and(|p| p.ends_with(&format!("/{daemon}"))) && pathspace(&argv) == Some(netns))
            .then_some(pid)
    }
}

impl Drop for FrrLab {
    fn drop(&mut self) {
        if self.owned {
            // Nothing to report to in Drop; `stop` reports.
            let _ = self.stop_all();
        }
    }
}

/// Stops every zebra and bgpd whose pathspace (`-N`) starts with `prefix` (after an
/// interrupted `lab up`, whose pid files may be gone) and removes `/etc/frr/PREFIX*`;
/// returns the pathspaces found.
///
/// ```no_run
/// let stopped = vxlan_mesh_lab::frr::cleanup_frr_prefix(&vxlan_mesh_lab::names::tag_prefix("lab"))?;
/// # Ok::<(), vxlan_mesh_lab::LabError>(())
/// ```
pub fn cleanup_frr_prefix(prefix: &str) -> Result<Vec<String>, LabError> {
    if prefix.is_empty() {
        return Err(LabError::Spec(
            "refusing to stop every FRR instance: empty prefix".into(),
        ));
    }
    let (pids, mut names): (Vec<i32>, Vec<String>) = daemons(prefix).into_iter().unzip();
    terminate(&pids)?;
    if let Ok(etc) = std::fs::read_dir(ETC_FRR) {
        for name in etc
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
        {
            if name.starts_with(prefix) {
                remove_etc(&name)?;
                names.push(name);
            }
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// The zebra and bgpd processes of the machine whose pathspace (`-N`) starts with `prefix`:
/// their pids and pathspaces.
///
/// ```no_run
/// let running = vxlan_mesh_lab::frr::daemons("vxm-lab-");
/// println!("{} FRR daemons in lab `lab`", running.len());
/// ```
pub fn daemons(prefix: &str) -> Vec<(i32, String)> {
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc_dir
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let argv = cmdline(pid)?;
            let daemon = argv.first().is_some_and(|p| DAEMONS.iter().any(|(_, path)| p == path));
            let name = pathspace(&argv).filter(|n| daemon && n.starts_with(prefix))?;
            Some((pid, name.to_string()))
        })
        .collect()
}

/// A process's command line, split at its NULs.
fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect(),
    )
}

/// The value of `-N` in a daemon's command line.
fn pathspace(argv: &[String]) -> Option<&str> {
    argv.iter()
        .position(|a| a == "-N")
        .and_then(|i| argv.get(i + 1))
        .map(String::as_str)
}

fn signal(pid: i32, sig: Signal) {
    // Best effort: the process may have exited meanwhile.
    let _ = kill(Pid::from_raw(pid), sig);
}

/// SIGTERMs `pids` (FRR's daemons then exit cleanly, zebra withdrawing what it installed),
/// SIGKILLs those still there after [`DAEMON_WAIT`], and waits until all are gone.
fn terminate(pids: &[i32]) -> Result<(), LabError> {
    for pid in pids {
        signal(*pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + DAEMON_WAIT;
    while pids.iter().any(|p| alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in pids.iter().filter(|p| alive(**p)) {
        signal(*pid, Signal::SIGKILL);
    }
    for pid in pids {
        wait_for(&Path::new("/proc").join(pid.to_string()), false)?;
    }
    Ok(())
}

/// Whether process `pid` exists and is not a zombie (daemons are reparented to init, which
/// reaps them).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        // The state follows the parenthesized command name.
        s.rsplit_once(") ").is_none_or(|(_, rest)| !rest.starts_with('Z'))
    })
}

fn remove_etc(name: &str) -> Result<(), LabError> {
    let dir = Path::new(ETC_FRR).join(name);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LabError::Io { path: dir, source }),
    }
}

/// Waits until `path` exists (`present`) or is gone (a process's /proc entry: gone or a
/// zombie).
fn wait_for(path: &Path, present: bool) -> Result<(), LabError> {
    let deadline = Instant::now() + DAEMON_WAIT;
    let done = |p: &Path| {
        if present {
            p.exists()
        } else {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<i32>().ok())
                .is_none_or(|pid| !alive(pid))
        }
    };
    while !done(path) {
        if Instant::now() > deadline {
            return Err(LabError::Spec(format!(
                "`{}` still {} after {} s",
                path.display(),
                if present { "missing" } else { "running" },
                DAEMON_WAIT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
