//! The BGP EVPN control plane of `mode = "evpn"`: FRR's `router bgp` block, loaded into a
//! running FRR through `vtysh`, and FRR's view of the sessions and VNIs.
//!
//! vxlan-mesh owns one block, the default VRF's `router bgp ASN` holding the peer-group
//! [`PEER_GROUP`] ([`crate::frr::Config::render`] writes it), and nothing else of FRR's configuration. [`Frr::load`] converges that
//! block to the desired text line by line (only the lines that differ are sent, so sessions
//! that stay are never reset); a `router bgp` without the peer-group, or of another AS, is
//! refused, never changed. [`Frr::remove`] deletes the block only when it is ours.
//!
//! vtysh runs in the network namespace the caller hands in (its daemons' sockets are files,
//! found whatever the namespace; the namespace matters for the lock that serializes it with
//! `apply`). By default it talks to the system's FRR; [`Frr::pathspace`] and
//! [`Frr::vty_dir`] select another instance (`vtysh -N NAME --vty_socket DIR`: vtysh looks
//! for the daemons' sockets in `DIR/NAME/`), as the lab runs one per host namespace.
//!
//! ```no_run
//! use vxlan_mesh_core::netlink::{frr::Frr, Netns};
//! let desired = "router bgp 65000\n bgp router-id 192.0.2.2\n neighbor vxlan-mesh peer-group\n \
//!     neighbor vxlan-mesh remote-as internal\n neighbor 192.0.2.1 peer-group vxlan-mesh\n !\n \
//!     address-family l2vpn evpn\n  neighbor vxlan-mesh activate\n  advertise-all-vni\n \
//!     exit-address-family\nexit\n";
//! let frr = Frr::system();
//! let here = Netns::current()?;
//! if let Some(change) = frr.load(&here, desired, 65000)? {
//!     println!("{change}");
//! }
//! for problem in frr.health(&here)?.problems(&[100]) {
//!     println!("{problem}");
//! }
//! # Ok::<(), vxlan_mesh_core::netlink::frr::FrrError>(())
//! ```

mod health;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::frr::edit::{change_from, desired_block, Block, Malformed};
pub use crate::frr::{BgpChange, ChangeError, Edit};
pub use health::{Health, HealthProblem, Session, Vni};

use super::lock::{self, Lock};
use super::{external, ApplyError, Netns};
use crate::frr::PEER_GROUP;

/// FRR's integrated shell, the one way into the daemons.
pub const VTYSH: &str = crate::argv::Program::Vtysh.name();

/// FRR's BGP daemon, which holds the `router bgp` block.
const BGPD: &str = "bgpd";

/// Why reading or configuring FRR failed.
///
/// ```
/// use vxlan_mesh_core::netlink::frr::FrrError;
/// let e = FrrError::Foreign { asn: 65000 };
/// assert!(e.to_string().contains("`router bgp 65000`"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrrError {
    /// vtysh is not installed.
    #[error(
        "cannot run `{VTYSH}`: not found in PATH nor in {dirs}; mode `evpn` needs FRR (Debian package `frr`) with zebra and bgpd running",
        dirs = external::SBIN_DIRS.join(", ")
    )]
    VtyshMissing,
    /// vtysh could not be started.
    #[error("cannot run `{VTYSH}`")]
    Spawn {
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A daemon the command needs does not run.
    #[error("FRR's `{daemon}` is not running ({instance}); mode `evpn` needs zebra and bgpd (`bgpd=yes` in /etc/frr/daemons, then `systemctl restart frr`)")]
    NotRunning {
        /// `bgpd` or `zebra`.
        daemon: String,
        /// Which FRR.
        instance: String,
    },
    /// vtysh reached no daemon at all.
    #[error("no FRR daemon answers ({instance}); mode `evpn` needs zebra and bgpd running (`systemctl start frr`)")]
    NoDaemons {
        /// Which FRR.
        instance: String,
    },
    /// vtysh ran and failed.
    #[error("`{command}` failed: {output}")]
    Vtysh {
        /// The command line.
        command: String,
        /// What it printed (standard error, then standard output).
        output: String,
    },
    /// The default VRF's `router bgp` is someone else's: it does not declare vxlan-mesh's
    /// peer-group.
    #[error(
        "FRR already runs `router bgp {asn}`, which vxlan-mesh did not write (it has no `neighbor {PEER_GROUP} peer-group`); nothing was changed: FRR has one default BGP instance, so remove that block (or configure EVPN in it yourself) before applying"
    )]
    Foreign {
        /// Its AS number.
        asn: u32,
    },
    /// The default VRF's `router bgp` has another AS number than the inventory's.
    #[error(
        "FRR runs vxlan-mesh's `router bgp {running}`, but the inventory's `evpn.asn` is {wanted}; nothing was changed: FRR has one default BGP instance, so run `vxlan-mesh down` first (it removes the old block and the devices), then apply"
    )]
    OtherAsn {
        /// The running block's AS number.
        running: u32,
        /// The desired one.
        wanted: u32,
    },
    /// The desired block is not one `router bgp ASN` block in FRR's format.
    #[error("the desired FRR configuration {0}")]
    Desired(String),
    /// FRR printed what this version cannot read.
    #[error("cannot read {what}: {message}")]
    Decode {
        /// Which output.
        what: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The namespace could not be entered, or the lock taken.
    #[error(transparent)]
    Namespace(#[from] ApplyError),
}

/// One FRR instance: the system's (`vtysh` alone), or one selected by pathspace and vty socket
/// directory.
///
/// ```
/// use vxlan_mesh_core::netlink::frr::Frr;
/// let lab = Frr::system().pathspace("vxm-lab-h0").vty_dir("/run/vxlan-mesh-lab/lab/frr");
/// assert_eq!(lab.vtysh_args(), ["-N", "vxm-lab-h0", "--vty_socket", "/run/vxlan-mesh-lab/lab/frr"]);
/// assert_eq!(lab.command_line(&["show version".into()]),
///     "vtysh -N vxm-lab-h0 --vty_socket /run/vxlan-mesh-lab/lab/frr -c 'show version'");
/// assert!(Frr::system().vtysh_args().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frr {
    pathspace: Option<String>,
    vty_dir: Option<PathBuf>,
}

impl fmt::Display for Frr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.pathspace, &self.vty_dir) {
            (None, None) => f.write_str("the system's FRR"),
            (name, dir) => {
                f.write_str("FRR instance")?;
                if let Some(name) = name {
                    write!(f, " `-N {}`", name.escape_debug())?;
                }
                if let Some(dir) = dir {
                    write!(f, " with vty sockets under `{}`", dir.display())?;
                }
                Ok(())
            }
        }
    }
}

/// How long [`Frr::relearn`] gives zebra to learn the VNI of a device apply just made.
pub const RELEARN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Frr {
    /// The system's FRR: vtysh with its default paths.
    pub fn system() -> Frr {
        Frr::default()
    }

    /// Selects the instance started with `-N name` (FRR's pathspace).
    pub fn pathspace(mut self, name: impl Into<String>) -> Frr {
        self.pathspace = Some(name.into());
        self
    }

    /// Where vtysh looks for the daemons' vty sockets (`--vty_socket`; with a pathspace, in
    /// its subdirectory `NAME`).
    pub fn vty_dir(mut self, dir: impl Into<PathBuf>) -> Frr {
        self.vty_dir = Some(dir.into());
        self
    }

    /// The arguments that select this instance, before any `-c`.
    pub fn vtysh_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(name) = &self.pathspace {
            args.extend(["-N".to_string(), name.clone()]);
        }
        if let Some(dir) = &self.vty_dir {
            args.extend(["--vty_socket".to_string(), dir.display().to_string()]);
        }
        args
    }

    /// The shell command line that runs `commands` in this instance (what `--dry-run`
    /// prints), each word quoted by [`crate::argv::shell_word`] (lines read back from FRR
    /// may hold anything).
    pub fn command_line(&self, commands: &[String]) -> String {
        crate::argv::vtysh(&self.vtysh_args(), commands).shell()
    }

    /// FRR's `show running-config`.
    pub fn running_config(&self, ns: &Netns) -> Result<String, FrrError> {
        self.in_namespace(ns, Lock::Shared, || {
            self.run(&crate::argv::vtysh_running_config(&self.vtysh_args()))
        })
    }

    /// What [`Frr::load`] would change, changing nothing: `None` when the running block is
    /// the desired one. Fails as `load` would (a foreign block, another AS).
    pub fn preview(&self, ns: &Netns, desired: &str, asn: u32) -> Result<Option<BgpChange>, FrrError> {
        let desired = desired_block(desired, asn).map_err(FrrError::from)?;
        self.in_namespace(ns, Lock::Shared, || self.change_to(&desired))
    }

    /// Converges the default VRF's `router bgp ASN` to `desired` (one block as FRR's `show
    /// running-config` prints it): sends only the lines that differ, so sessions that stay
    /// are not reset. Returns what it changed (`None`: nothing to do). Refuses, changing
    /// nothing, a running `router bgp` that is not ours ([`FrrError::Foreign`]) or has
    /// another AS number ([`FrrError::OtherAsn`]). Serialized with `apply` in the namespace.
    pub fn load(&self, ns: &Netns, desired: &str, asn: u32) -> Result<Option<BgpChange>, FrrError> {
        let desired = desired_block(desired, asn).map_err(FrrError::from)?;
        self.in_namespace(ns, Lock::Exclusive, || {
            let change = self.change_to(&desired)?;
            if let Some(change) = &change {
                self.vtysh(&change.vtysh_commands())?;
            }
            Ok(change)
        })
    }

    /// What [`Frr::remove`] would remove: our block, if FRR runs one.
    pub fn preview_remove(&self, ns: &Netns) -> Result<Option<BgpChange>, FrrError> {
        self.in_namespace(ns, Lock::Shared, || self.removal())
    }

    /// Removes the default VRF's `router bgp` when it is ours (declares [`PEER_GROUP`]),
    /// whatever its AS number; leaves any other configuration alone. Returns what it
    /// removed. Without vtysh, or without a running bgpd, there is nothing to remove:
    /// [`Frr::load`] changes the running configuration only (it never writes FRR's files),
    /// which goes with the daemon.
    pub fn remove(&self, ns: &Netns) -> Result<Option<BgpChange>, FrrError> {
        self.in_namespace(ns, Lock::Exclusive, || {
            let change = self.removal()?;
            if let Some(change) = &change {
                self.vtysh(&change.vtysh_commands())?;
            }
            Ok(change)
        })
    }

    /// Makes zebra learn again the VNIs of `vnis` (the plan's, whose devices apply made)
    /// that it forgot: a VNI zebra does not know within [`RELEARN_WAIT`] (it learns a new
    /// device's in milliseconds) was forgotten, which no event on our device repairs, so
    /// `advertise-all-vni` of our block `router bgp ASN` is given again ([`BgpChange::Relearn`]).
    /// Returns that change, or `None` when zebra knows every VNI. A VNI zebra ties to
    /// another device is known: [`Health::problems_of_devices`] reports it.
    pub fn relearn(&self, ns: &Netns, asn: u32, vnis: &[u32]) -> Result<Option<BgpChange>, FrrError> {
        self.in_namespace(ns, Lock::Exclusive, || self.relearn_unlocked(asn, vnis))
    }

    /// [`Frr::relearn`] under a lock the caller holds ([`crate::host`]).
    pub(crate) fn relearn_unlocked(&self, asn: u32, vnis: &[u32]) -> Result<Option<BgpChange>, FrrError> {
        let deadline = std::time::Instant::now() + RELEARN_WAIT;
        let forgotten = loop {
            let known = Health::from_json("", &self.vtysh(&[crate::argv::EVPN_VNIS.to_string()])?)?.vnis;
            let forgotten: Vec<u32> = vnis
                .iter()
                .filter(|vni| !known.iter().any(|k| k.vni == **vni))
                .copied()
                .collect();
            if forgotten.is_empty() {
                return Ok(None);
            }
            if std::time::Instant::now() >= deadline {
                break forgotten;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        let change = BgpChange::Relearn { asn, vnis: forgotten };
        self.vtysh(&change.vtysh_commands())?;
        Ok(Some(change))
    }

    /// The BGP sessions of the `l2vpn evpn` address family and the VNIs zebra knows.
    pub fn health(&self, ns: &Netns) -> Result<Health, FrrError> {
        self.in_namespace(ns, Lock::Shared, || self.health_unlocked())
    }

    /// [`Frr::health`] under a lock the caller holds ([`crate::host`]).
    pub(crate) fn health_unlocked(&self) -> Result<Health, FrrError> {
        let summary = self.vtysh(&["show bgp l2vpn evpn summary json".to_string()])?;
        let vnis = self.vtysh(&[crate::argv::EVPN_VNIS.to_string()])?;
        Health::from_json(&summary, &vnis)
    }

    /// [`Frr::preview`] under a lock the caller holds ([`crate::host`]).
    pub(crate) fn change_to_unlocked(&self, desired: &str, asn: u32) -> Result<Option<BgpChange>, FrrError> {
        self.change_to(&desired_block(desired, asn).map_err(FrrError::from)?)
    }

    /// [`Frr::preview_remove`] under a lock the caller holds ([`crate::host`]).
    pub(crate) fn removal_unlocked(&self) -> Result<Option<BgpChange>, FrrError> {
        self.removal()
    }

    /// Sends a change read under the same hold of the lock ([`crate::host`]).
    pub(crate) fn send_unlocked(&self, change: &BgpChange) -> Result<(), FrrError> {
        self.vtysh(&change.vtysh_commands()).map(drop)
    }

    fn running_block(&self) -> Result<Option<Block>, FrrError> {
        let text = self.run(&crate::argv::vtysh_running_config(&self.vtysh_args()))?;
        Block::find(&text).map_err(|Malformed(message)| FrrError::Decode {
            what: "FRR's running `router bgp` block",
            message,
        })
    }

    fn change_to(&self, desired: &Block) -> Result<Option<BgpChange>, FrrError> {
        let running = self.running_block()?;
        Ok(change_from(running.as_ref(), desired)?)
    }

    fn removal(&self) -> Result<Option<BgpChange>, FrrError> {
        match self.running_block() {
            Ok(block) => Ok(block.filter(Block::is_ours).map(|b| BgpChange::Remove { asn: b.asn })),
            Err(FrrError::VtyshMissing | FrrError::NoDaemons { .. }) => Ok(None),
            Err(FrrError::NotRunning { daemon, .. }) if daemon == BGPD => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Runs `work` in the namespace `ns` under its lock.
    fn in_namespace<T: Send>(
        &self,
        ns: &Netns,
        kind: Lock,
        work: impl FnOnce() -> Result<T, FrrError> + Send,
    ) -> Result<T, FrrError> {
        ns.run(|| {
            let _lock = lock::take(ns, kind)?;
            Ok(work())
        })?
    }

    /// Runs vtysh with `commands` (one `-c` each); its standard output.
    fn vtysh(&self, commands: &[String]) -> Result<String, FrrError> {
        self.run(&crate::argv::vtysh(&self.vtysh_args(), commands))
    }

    /// Runs `command`, a vtysh command of [`crate::argv::vtysh`]; its standard output.
    fn run(&self, command: &crate::argv::Command) -> Result<String, FrrError> {
        let program = external::find_program(VTYSH).ok_or(FrrError::VtyshMissing)?;
        let out = Command::new(program)
            .args(&command.args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| FrrError::Spawn { source })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return Ok(stdout);
        }
        let instance = self.to_string();
        if stderr.contains("failed to connect to any daemons") {
            return Err(FrrError::NoDaemons { instance });
        }
        if let Some(daemon) = stderr.lines().find_map(|l| l.trim().strip_suffix(" is not running")) {
            return Err(FrrError::NotRunning {
                daemon: daemon.to_string(),
                instance,
            });
        }
        Err(FrrError::Vtysh {
            command: command.shell(),
            output: format!("{}\n{}", stderr.trim(), stdout.trim()).trim().to_string(),
        })
    }
}

impl From<ChangeError> for FrrError {
    fn from(e: ChangeError) -> FrrError {
        match e {
            ChangeError::Foreign { asn } => FrrError::Foreign { asn },
            ChangeError::OtherAsn { running, wanted } => FrrError::OtherAsn { running, wanted },
            ChangeError::Running { what, message } => FrrError::Decode { what, message },
            ChangeError::Desired(message) => FrrError::Desired(message),
        }
    }
}

/// Where an instance started with pathspace `name` and vty directory `dir` keeps its vty
/// sockets: `dir/name`, the directory its daemons are given as `--vty_socket`.
///
/// ```
/// use std::path::Path;
/// let dir = vxlan_mesh_core::netlink::frr::instance_dir(Path::new("/run/x/frr"), "vxm-lab-h0");
/// assert_eq!(dir, Path::new("/run/x/frr/vxm-lab-h0"));
/// ```
pub fn instance_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
