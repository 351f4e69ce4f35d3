//! WireGuard private key files: the rules a key file must follow before anything reads the
//! key from it, stated once for every form that reads one (`vxlan-mesh apply`/`status`/`down`
//! and the rendered shell script, which embeds these very messages); making one (`keygen`);
//! and checking that the file `apply`, `status` and `down` are given holds the private half
//! of the host's `public-key` (feature `netlink`).
//!
//! A private key is read from or written to its file and turned into its public half here,
//! and nowhere else; no message, log line or command line ever holds it, and the copies
//! this module makes (the file's text, the decoded bytes) are overwritten before they are
//! freed. The plan carries only the file's path ([`crate::plan::WireguardPlan`]'s
//! `private_key_file`), which `wg set ... private-key FILE` reads.
//!
//! ```no_run
//! let plan = vxlan_mesh_core::testing::two_hosts().plan("a")?;
//! let plan = vxlan_mesh_core::key_file::with_host_key(plan, "/etc/vxlan-mesh/wireguard.key".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "netlink")]
use std::fs::{self, OpenOptions};
#[cfg(feature = "netlink")]
use std::io::{Read, Write};
#[cfg(feature = "netlink")]
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
#[cfg(feature = "netlink")]
use std::path::Path;

#[cfg(feature = "netlink")]
use x25519_dalek::{PublicKey as DalekPublic, StaticSecret};
#[cfg(feature = "netlink")]
use zeroize::Zeroize;

use crate::plan::HostPlan;
use crate::wireguard::KEY_LEN;
#[cfg(feature = "netlink")]
use crate::wireguard::{decode_key, encode_key, PublicKey};

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

/// The largest key file read: a key is 44 characters; anything much longer is not one.
#[cfg(feature = "netlink")]
const KEY_FILE_MAX: u64 = 1024;

/// Why a key file is unusable, or a key does not belong to the host. None of the messages
/// holds the private key.
#[cfg(feature = "netlink")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file cannot be read.
    #[error("cannot read the WireGuard private key `{path}` (make one with `vxlan-mesh keygen`, or give --wireguard-key FILE)")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file does not hold one base64 key.
    #[error("`{path}` does not hold a WireGuard private key: {why}")]
    Malformed {
        /// The file.
        path: String,
        /// Why (never quoting the file).
        why: String,
    },
    /// The key file may be read by others, written by its group, or is owned by another user.
    #[error(transparent)]
    Unsafe(#[from] KeyFileProblem),
    /// The inventory's `public-key` of a host is the private key in the file.
    #[error("host `{host}`: its `public-key` in the inventory is the private key in `{path}` (not printed here): that key is no longer secret; make a new one with `vxlan-mesh keygen --force` and put the public key it prints in the inventory")]
    PublishedAsPublic {
        /// The host.
        host: String,
        /// The key file.
        path: String,
    },
    /// The private key is not the host's.
    #[error("host `{host}`: the private key in `{path}` has the public key `{found}`, but the inventory's `public-key` of host `{host}` is `{expected}`; give this host's key with --wireguard-key, or put `{found}` in the inventory")]
    Mismatch {
        /// The host.
        host: String,
        /// The key file.
        path: String,
        /// The public half of the key in the file.
        found: PublicKey,
        /// The host's `public-key`.
        expected: PublicKey,
    },
    /// The key file exists and `--force` was not given.
    #[error("`{path}` exists; refusing to overwrite a private key (pass --force to replace it, which changes this host's public key)")]
    Exists {
        /// The file.
        path: String,
    },
    /// The key file cannot be written.
    #[error("cannot write `{path}`")]
    Write {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The public half of a private key.
#[cfg(feature = "netlink")]
fn public_of(secret: &StaticSecret) -> PublicKey {
    PublicKey(DalekPublic::from(secret).to_bytes())
}

/// The private key in `path`, after [`check`] accepted the file (its bits and owner, for
/// the effective user). The caller zeroes the returned bytes.
#[cfg(feature = "netlink")]
fn private_key_of_file(path: &Path) -> Result<[u8; KEY_LEN], KeyError> {
    let shown = path.display().to_string();
    let read = |source| KeyError::Read {
        path: shown.clone(),
        source,
    };
    let file = fs::File::open(path).map_err(read)?;
    let meta = file.metadata().map_err(read)?;
    check(&shown, meta.mode(), meta.uid(), nix::unistd::geteuid().as_raw())?;
    let mut text = String::new();
    let result = file.take(KEY_FILE_MAX).read_to_string(&mut text);
    let decoded = result.map_err(read).and_then(|_| {
        decode_key(text.trim()).map_err(|why| KeyError::Malformed {
            path: shown.clone(),
            why,
        })
    });
    // The text held the private key: overwritten before it is freed, whatever happened.
    text.zeroize();
    decoded
}

/// The public half of the private key in `path`. Refuses a file others may read, its group
/// may write, or another user owns.
#[cfg(feature = "netlink")]
pub fn public_key_of_file(path: &Path) -> Result<PublicKey, KeyError> {
    let mut bytes = private_key_of_file(path)?;
    // `StaticSecret` zeroes its own copy when dropped; the array is one more copy.
    let secret = StaticSecret::from(bytes);
    bytes.zeroize();
    Ok(public_of(&secret))
}

/// `plan` with its WireGuard interface given the key in `path`, after checking that the key
/// is the private half of the host's `public-key` (and that no host's `public-key` is the
/// private key itself); unchanged (and no file read) when the plan is not encrypted.
#[cfg(feature = "netlink")]
pub fn with_host_key(mut plan: HostPlan, path: &Path) -> Result<HostPlan, KeyError> {
    if plan.wireguard.is_none() {
        return Ok(plan);
    }
    let mut private = private_key_of_file(path)?;
    // Before any message that shows a `public-key`: this one would show the private key.
    let published = published_as_public(&private, &plan).map(str::to_string);
    let secret = StaticSecret::from(private);
    private.zeroize();
    if let Some(host) = published {
        return Err(KeyError::PublishedAsPublic {
            host,
            path: path.display().to_string(),
        });
    }
    let found = public_of(&secret);
    let Some(wg) = &mut plan.wireguard else {
        return Ok(plan);
    };
    if found != wg.public_key {
        return Err(KeyError::Mismatch {
            host: plan.host.clone(),
            path: path.display().to_string(),
            found,
            expected: wg.public_key,
        });
    }
    wg.private_key_file = Some(path.to_path_buf());
    Ok(plan)
}

/// Writes a new private key to `path` (mode 0600, its directory made if missing) and returns
/// its public half. An existing file is replaced only with `force`, and then atomically: the
/// key is written to a new private file beside it that is renamed over it.
#[cfg(feature = "netlink")]
pub fn generate(path: &Path, force: bool) -> Result<PublicKey, KeyError> {
    let shown = path.display().to_string();
    let write = |source| KeyError::Write {
        path: shown.clone(),
        source,
    };
    if !force && fs::symlink_metadata(path).is_ok() {
        return Err(KeyError::Exists { path: shown });
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Missing directories are made private: they hold nothing but keys.
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(write)?;
    }
    let secret = StaticSecret::random();
    let mut text = encode_key(secret.as_bytes());
    text.push('\n');
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.new", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if force {
            fs::rename(&temp, path)
        } else {
            // A link fails if `path` appeared meanwhile: never overwrite without --force.
            fs::hard_link(&temp, path).and_then(|()| fs::remove_file(&temp))
        }
    })();
    // The text held the private key: overwrite it before the memory is freed.
    text.zeroize();
    if let Err(source) = result {
        let _ = fs::remove_file(&temp);
        if source.kind() == std::io::ErrorKind::AlreadyExists && !force {
            return Err(KeyError::Exists { path: shown });
        }
        return Err(write(source));
    }
    Ok(public_of(&secret))
}

#[cfg(all(test, feature = "netlink"))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_clear_plan_never_reads_the_key_file() {
        let plan = crate::testing::two_hosts().plan("a").unwrap();
        assert_eq!(
            with_host_key(plan.clone(), Path::new("/nonexistent/wireguard.key")).unwrap(),
            plan
        );
    }

    #[test]
    fn a_key_file_may_be_group_readable_for_networkd_but_no_more() {
        let dir = std::env::temp_dir().join(format!("vxm-keys-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wireguard.key");
        let public = generate(&path, true).unwrap();
        for (mode, ok) in [
            (0o600, true),
            (0o640, true),
            (0o660, false),
            (0o604, false),
            (0o644, false),
        ] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let got = public_key_of_file(&path);
            assert_eq!(got.is_ok(), ok, "mode {mode:o}: {got:?}");
            if ok {
                assert_eq!(got.unwrap(), public);
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_public_half_is_what_wg_pubkey_derives() {
        // RFC 7748 section 6.1: Alice's private key and public key.
        let private = [
            0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2, 0x66, 0x45, 0xdf, 0x4c,
            0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a,
        ];
        let public = public_of(&StaticSecret::from(private));
        assert_eq!(
            public.0[..4],
            [0x85, 0x20, 0xf0, 0x09],
            "RFC 7748's public key starts 8520f009"
        );
    }
}
