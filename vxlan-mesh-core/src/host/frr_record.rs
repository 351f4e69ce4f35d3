//! The record of a `router bgp` block vxlan-mesh may have loaded into FRR, so that `apply`
//! and `status` outside mode `evpn` know without asking FRR (no `vtysh` spawned, none
//! needed) whether there is a block of theirs to remove.
//!
//! One file per network namespace, `/run/vxlan-mesh/frr/net<INODE>` (the namespace's
//! inode, as the lock file is named), in a directory only root may enter. An evpn `apply`
//! writes it before it sends anything to FRR; `apply` outside evpn mode and `down` delete it
//! once FRR holds no block of ours. It lives on /run (a tmpfs) because the block does too:
//! vxlan-mesh changes FRR's running configuration only, never its files, so a reboot
//! forgets both. A record without a block (FRR restarted, or a namespace deleted without
//! `down` whose inode number a new namespace was given) costs one `vtysh` run, after which
//! `apply` deletes it; a block without a record is one loaded by hand or by a vxlan-mesh
//! older than the record, which `down` still removes (it always asks FRR).

use std::fs::DirBuilder;
use std::io::{self, Write as _};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use crate::netlink::frr::Frr;
use crate::netlink::{ApplyError, Netns};

use super::HostError;

/// Where the records are: one file per network namespace.
pub(crate) const DIR: &str = "/run/vxlan-mesh/frr";

/// The record of the namespace `ns`.
pub(crate) fn path(ns: &Netns) -> Result<PathBuf, ApplyError> {
    Ok(Path::new(DIR).join(format!("net{}", ns.inode()?)))
}

/// Whether a block of ours may be loaded: the record exists, or cannot be told not to
/// (an error other than "not found" errs on the side of asking FRR).
pub(crate) fn exists(path: &Path) -> bool {
    !matches!(path.symlink_metadata(), Err(e) if e.kind() == io::ErrorKind::NotFound)
}

/// Records that a block of ours (AS `asn`) is about to be loaded into `frr`. The text is
/// for people; only the file's existence is read.
pub(crate) fn write(path: &Path, frr: &Frr, asn: u32) -> Result<(), HostError> {
    let err = |source| HostError::Record {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(err)?;
    }
    let mut file = std::fs::File::create(path).map_err(err)?;
    writeln!(
        file,
        "vxlan-mesh loaded `router bgp {asn}` into {frr}; `vxlan-mesh down` or an apply outside mode evpn removes it"
    )
    .map_err(err)
}

/// Deletes the record: FRR holds no block of ours.
pub(crate) fn remove(path: &Path) -> Result<(), HostError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(HostError::Record {
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}
