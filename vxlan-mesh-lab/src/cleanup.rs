//! Finding and removing namespaces by prefix: `Lab`'s `Drop`, and the cleanup after a crashed
//! run (a SIGKILLed process runs no destructor).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::names::{names_in, NETNS_DIR};
use crate::{cmd, mountns, LabError};

/// Names of the named network namespaces that start with `prefix`, sorted.
///
/// ```no_run
/// let leftovers = vxlan_mesh_lab::list_namespaces("vxm-")?;
/// # Ok::<(), vxlan_mesh_lab::LabError>(())
/// ```
pub fn list_namespaces(prefix: &str) -> Result<Vec<String>, LabError> {
    names_in(Path::new(NETNS_DIR), prefix)
}

/// Removes every named network namespace whose name starts with `prefix`, after killing the
/// processes still running in them (left by a crashed lab: daemons such as wireguard-go,
/// iperf3 servers), releases the hosts' mount namespaces
/// ([`MOUNT_NS_DIR`](crate::MOUNT_NS_DIR)), and returns the names removed.
///
/// Pass a whole tag prefix such as `"vxm-lab-"` ([`tag_prefix`](crate::names::tag_prefix)) to
/// remove one lab; `"vxm-"` removes every lab on the machine, including other tests' labs.
///
/// ```no_run
/// let removed = vxlan_mesh_lab::cleanup_prefix(&vxlan_mesh_lab::names::tag_prefix("lab"))?;
/// println!("removed {} namespaces", removed.len());
/// # Ok::<(), vxlan_mesh_lab::LabError>(())
/// ```
pub fn cleanup_prefix(prefix: &str) -> Result<Vec<String>, LabError> {
    if prefix.is_empty() {
        return Err(LabError::Spec(
            "refusing to remove every namespace: empty prefix".into(),
        ));
    }
    let mut names = list_namespaces(prefix)?;
    // A mount namespace file whose network namespace is gone (a `down` interrupted
    // half-way) is released all the same.
    names.extend(mountns::list(prefix)?);
    names.sort();
    names.dedup();
    remove_namespaces(&names)?;
    Ok(names)
}

/// Kills the processes in `names`, deletes the namespaces and releases their mount
/// namespaces; missing ones are skipped.
pub(crate) fn remove_namespaces(names: &[String]) -> Result<(), LabError> {
    if names.is_empty() {
        return Ok(());
    }
    kill_processes_in(names);
    forget_frr_records(names);
    let lines: Vec<String> = names.iter().map(|n| format!("netns del {n}")).collect();
    cmd::ip_batch_force(None, &lines)?;
    for name in names {
        mountns::release(&mountns::file_for(name))?;
    }
    let left: Vec<&String> = names.iter().filter(|n| Path::new(NETNS_DIR).join(n).exists()).collect();
    if let Some(first) = left.first() {
        return Err(LabError::Spec(format!(
            "{} namespaces could not be removed, e.g. `{first}`",
            left.len()
        )));
    }
    Ok(())
}

/// Deletes vxlan-mesh's record of an FRR block loaded in each of `names`: the block lived in
/// the host's FRR, which dies with the namespace, and a later namespace given the same inode
/// number would otherwise inherit the record (and run vtysh where it needs none).
fn forget_frr_records(names: &[String]) {
    for name in names {
        let record =
            vxlan_mesh_core::netlink::Netns::named(name).and_then(|ns| vxlan_mesh_core::host::frr_record_path(&ns));
        if let Ok(path) = record {
            // Best effort: a record that cannot be deleted costs one vtysh run later, which
            // then deletes it.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// SIGKILLs every process whose network namespace is one of `names`: one pass over /proc
/// comparing namespace inode numbers, instead of one `ip netns pids` per namespace.
fn kill_processes_in(names: &[String]) {
    let inodes: Vec<u64> = names
        .iter()
        .filter_map(|n| std::fs::metadata(Path::new(NETNS_DIR).join(n)).ok())
        .map(|m| m.ino())
        .collect();
    if inodes.is_empty() {
        return;
    }
    let me = std::process::id();
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in proc_dir.filter_map(Result::ok) {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if u32::try_from(pid).ok() == Some(me) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(entry.path().join("ns/net")) else {
            continue;
        };
        if inodes.contains(&meta.ino()) {
            // Best effort: the process may have exited meanwhile.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}
