//! Persistent mount namespaces for the host namespaces of encrypted labs.
//!
//! wireguard-go (the userspace WireGuard used where the kernel has none) keeps its control
//! socket at `/var/run/wireguard/IFNAME.sock`: a path of the mount namespace, not of the
//! network namespace, so two lab hosts running `vxmwg0` on one machine would share (and
//! break) one socket. Each such host gets a mount namespace of its own, kept alive by a bind
//! mount on a file named after the host's network namespace in [`MOUNT_NS_DIR`], with a
//! tmpfs on `/run/wireguard` and the host's own sysfs on `/sys` (as `ip netns exec` gives
//! it). Every command the lab runs for the host enters both namespaces with `nsenter`.

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::names::{names_in, NETNS_DIR};
use crate::{cmd, LabError};

/// Where the mount namespace files live, one per host namespace, named like it (so that a
/// lab's files are found by its tag prefix, as its network namespaces are). Not a valid lab
/// tag, so no lab's state folder of the `vxlan-mesh lab` command can be called like it.
pub const MOUNT_NS_DIR: &str = "/run/vxlan-mesh-lab/mount-ns";

/// Runs in the new mount namespace, inside the host's network namespace: sysfs of that
/// network namespace, and a private wireguard-go socket directory.
const SETUP: &str =
    "mount -t sysfs sysfs /sys && mkdir -p /run/wireguard && mount -t tmpfs -o mode=0700 tmpfs /run/wireguard";

/// The file that holds the mount namespace of host namespace `netns`.
pub(crate) fn file_for(netns: &str) -> PathBuf {
    Path::new(MOUNT_NS_DIR).join(netns)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LabError + '_ {
    move |source| LabError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn mount_err(path: &Path) -> impl FnOnce(nix::Error) -> LabError + '_ {
    move |e| LabError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::from(e),
    }
}

/// Makes the mount namespace of host namespace `netns` and keeps it in `file`.
pub(crate) fn create(netns: &str, file: &Path) -> Result<(), LabError> {
    if let Some(dir) = file.parent() {
        crate::dirs::create_traversable(dir).map_err(io(dir))?;
    }
    fs::write(file, "").map_err(io(file))?;
    // `unshare --mount=FILE` needs FILE on a private mount: a bind mount of itself, made
    // private, so that the namespace reference neither propagates nor is propagated.
    mount(Some(file), file, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(mount_err(file))?;
    mount(None::<&str>, file, None::<&str>, MsFlags::MS_PRIVATE, None::<&str>).map_err(mount_err(file))?;
    let net = format!("--net={}", Path::new(NETNS_DIR).join(netns).display());
    let keep = format!("--mount={}", file.display());
    // `slave`: unmounts in the machine's namespace (other labs' `/run/netns` entries) reach
    // this copy, so it never keeps another lab's network namespace alive; mounts made here
    // stay here.
    cmd::run(
        "nsenter",
        &[&net, "unshare", &keep, "--propagation", "slave", "sh", "-c", SETUP],
        None,
    )
    .map(|_| ())
}

/// Releases the mount namespace kept in `file` (its processes must be gone or going) and
/// removes the file; a missing file is fine.
pub(crate) fn release(file: &Path) -> Result<(), LabError> {
    if !file.exists() {
        return Ok(());
    }
    // Two mounts sit on the file: the namespace reference on top of the bind mount (only the
    // latter when `unshare` failed). Unmount until it is a plain file again.
    while umount2(file, MntFlags::MNT_DETACH).is_ok() {}
    fs::remove_file(file).map_err(io(file))
}

/// Names of the host namespaces with a mount namespace file that starts with `prefix`.
pub(crate) fn list(prefix: &str) -> Result<Vec<String>, LabError> {
    names_in(Path::new(MOUNT_NS_DIR), prefix)
}

/// The program and arguments that run `argv` in host namespace `netns` and the mount
/// namespace kept in `file`.
pub(crate) fn nsenter_args(netns: &str, file: &Path, argv: &[&str]) -> Vec<String> {
    let mut args = vec![
        format!("--mount={}", file.display()),
        format!("--net={}", Path::new(NETNS_DIR).join(netns).display()),
    ];
    args.extend(argv.iter().map(|a| (*a).to_string()));
    args
}
