//! How much `plan --all` and `render --all` would write, decided before anything is planned,
//! and the limit above which they refuse.
//!
//! Each host's plan lists every peer of each of its networks (an FDB entry in flood mode, a
//! device in per-peer mode; a peer, and in most modes a firewall element, in every mode), so
//! the output of all hosts together grows with the square of the fleet: 1,066 MB of JSON for
//! a flood fleet of 2,000 hosts, about 27 GB for 10,000 (BENCHMARKS.md). Its size is counted
//! in peer entries from the networks' membership lists, in O(networks), with no planning.

use anyhow::{bail, Result};
use vxlan_mesh_core::Fleet;

use crate::limits::MAX_PEER_ENTRIES;

/// The peer entries of every host's plan together: each member of a network lists the
/// network's other members, m × (m − 1) for a network of m members.
///
/// A host on several networks with the same peers lists such a peer once in `peers` but
/// once per network in its devices and FDB entries: counting per network is what the
/// largest part of the output holds.
pub fn peer_entries(fleet: &Fleet) -> u64 {
    fleet
        .networks()
        .iter()
        .map(|n| {
            let m = n.members.len() as u64;
            m * m.saturating_sub(1)
        })
        .sum()
}

/// Refuses `command` (`plan --all`, `render --all`) on a fleet of more than
/// [`MAX_PEER_ENTRIES`] peer entries, unless `allow` (`--allow-large-output`).
pub fn refuse_large(fleet: &Fleet, command: &str, allow: bool) -> Result<()> {
    let entries = peer_entries(fleet);
    if entries > MAX_PEER_ENTRIES && !allow {
        bail!(
            "`{command}` would write {entries} peer entries (each of the {} hosts lists every peer of each of its networks, so the output grows with the square of the fleet), more than the limit of {MAX_PEER_ENTRIES} (a flood fleet of 2,000 hosts on one network): pass `--host NAME` for one host's part, or `--allow-large-output` to write it all anyway",
            fleet.hosts().len()
        );
    }
    Ok(())
}

/// `--allow-large-output` means something with `--all` only: without it, a usage error
/// rather than a flag silently ignored (clap's `requires = "all"` would be met by the
/// flag's default, `false`).
pub fn override_needs_all(all: bool, allow: bool) -> Result<()> {
    if allow && !all {
        bail!("--allow-large-output applies to --all only (one host's output is never refused)");
    }
    Ok(())
}
