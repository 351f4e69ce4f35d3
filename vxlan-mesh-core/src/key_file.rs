//! The rules a WireGuard private key file must follow before anything reads the key from it,
//! stated once for every form that reads one: `vxlan-mesh apply`/`status`/`down` and the
//! rendered shell script (which embeds these very messages).

use crate::plan::HostPlan;
use crate::wireguard::KEY_LEN;

/// Permission bits a key file must not have: read or write for others, write for the group.
/// Group read is allowed: systemd-networkd reads `PrivateKeyFile=` as the user
/// systemd-network, so the networkd and netplan forms need the key `root:systemd-network`
/// 0640, and `status` runs on those hosts too.
pub const EXPOSED_BITS: u32 = 0o027;

/// Why a key file may not be used. The messages name the file, never its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileProblem {
    /// Others may read the file, or its group may write it.
    #[error("{}", exposed_message(path, &format!("{mode:o}")))]
    Exposed {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// Someone other than root or the user running vxlan-mesh owns the file.
    #[error("{}", owner_message(path, &owner.to_string()))]
    ForeignOwner {
        /// The file.
        path: String,
        /// Its owner's uid.
        owner: u32,
    },
}

/// The message of [`KeyFileProblem::Exposed`] for the file `path` with the (octal) `mode`:
/// the shell script fills in its own variables.
///
/// ```
/// let m = vxlan_mesh_core::key_file::exposed_message("/k", "644");
/// assert!(m.starts_with("`/k` is readable by others or writable by its group (mode 644)"));
/// ```
pub fn exposed_message(path: &str, mode: &str) -> String {
    format!("`{path}` is readable by others or writable by its group (mode {mode}); a private key must be private: chmod 600 it (or 640, group systemd-network, for systemd-networkd)")
}

/// The message of [`KeyFileProblem::ForeignOwner`] for the file `path` owned by uid `owner`.
///
/// ```
/// let m = vxlan_mesh_core::key_file::owner_message("/k", "65534");
/// assert!(m.starts_with("`/k` is owned by uid 65534"));
/// ```
pub fn owner_message(path: &str, owner: &str) -> String {
    format!("`{path}` is owned by uid {owner}, neither root nor the user running vxlan-mesh; whoever owns a private key can replace it: chown root it")
}

/// Checks a key file's permission bits `mode` and its `owner`, for the user `user` (an
/// effective uid) about to read it; `path` is only named in the problem.
///
/// ```
/// use vxlan_mesh_core::key_file::{check, KeyFileProblem};
/// assert_eq!(check("/k", 0o100640, 0, 0), Ok(()));
/// assert!(matches!(check("/k", 0o100644, 0, 0), Err(KeyFileProblem::Exposed { mode: 0o644, .. })));
/// assert!(matches!(check("/k", 0o100600, 65534, 0), Err(KeyFileProblem::ForeignOwner { .. })));
/// assert_eq!(check("/k", 0o100600, 1000, 1000), Ok(()));
/// ```
pub fn check(path: &str, mode: u32, owner: u32, user: u32) -> Result<(), KeyFileProblem> {
    if mode & EXPOSED_BITS != 0 {
        return Err(KeyFileProblem::Exposed {
            path: path.to_string(),
            mode: mode & 0o7777,
        });
    }
    if owner != 0 && owner != user {
        return Err(KeyFileProblem::ForeignOwner {
            path: path.to_string(),
            owner,
        });
    }
    Ok(())
}

/// The host of `plan` (itself or a WireGuard peer) whose `public-key` in the inventory is the
/// `private` key: pasted in the wrong place, it is now in every copy of the inventory.
///
/// ```
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// assert_eq!(vxlan_mesh_core::key_file::published_as_public(&[7; 32], &plan), None);
/// ```
pub fn published_as_public<'a>(private: &[u8; KEY_LEN], plan: &'a HostPlan) -> Option<&'a str> {
    let wg = plan.wireguard.as_ref()?;
    if wg.public_key.0 == *private {
        return Some(&plan.host);
    }
    wg.peers
        .iter()
        .find(|p| p.public_key.0 == *private)
        .map(|p| p.name.as_str())
}
