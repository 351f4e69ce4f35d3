//! WireGuard private keys on this host: making one (`keygen`) and checking that the key file
//! `apply`, `status` and `down` are given belongs to the host's `public-key`.
//!
//! A private key is read from or written to its file and turned into its public half here,
//! and nowhere else; no message, log line or command line ever holds it.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use clap::Args;
use vxlan_mesh_core::key_file::{self, KeyFileProblem};
pub use vxlan_mesh_core::wireguard::DEFAULT_KEY_FILE;
use vxlan_mesh_core::wireguard::{decode_key, encode_key, KEY_LEN};
use vxlan_mesh_core::{HostPlan, PublicKey};
use x25519_dalek::{PublicKey as DalekPublic, StaticSecret};

/// The largest key file read: a key is 44 characters; anything much longer is not one.
const KEY_FILE_MAX: u64 = 1024;

/// The environment variable that gives the key file instead of `--wireguard-key`.
pub const KEY_ENV: &str = "VXLAN_MESH_WIREGUARD_KEY";

/// `--wireguard-key FILE` of the commands that act on this host.
#[derive(Debug, Args, Clone)]
pub struct KeyArg {
    /// This host's WireGuard private key (with `encryption = "wireguard"`; ignored
    /// otherwise). Its public half must be the host's `public-key` in the inventory.
    #[arg(long, value_name = "FILE", env = KEY_ENV, default_value = DEFAULT_KEY_FILE)]
    pub wireguard_key: PathBuf,
}

/// Why a key file is unusable, or a key does not belong to the host. None of the messages
/// holds the private key.
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
fn public_of(secret: &StaticSecret) -> PublicKey {
    PublicKey(DalekPublic::from(secret).to_bytes())
}

/// The private key in `path`, after [`key_file::check`] accepted the file.
fn private_key_of_file(path: &Path) -> Result<[u8; KEY_LEN], KeyError> {
    let shown = path.display().to_string();
    let read = |source| KeyError::Read {
        path: shown.clone(),
        source,
    };
    let file = fs::File::open(path).map_err(read)?;
    let meta = file.metadata().map_err(read)?;
    key_file::check(&shown, meta.mode(), meta.uid(), nix::unistd::geteuid().as_raw())?;
    let mut text = String::new();
    file.take(KEY_FILE_MAX).read_to_string(&mut text).map_err(read)?;
    decode_key(text.trim()).map_err(|why| KeyError::Malformed { path: shown, why })
}

/// `plan` with its WireGuard interface given the key in `path`, after checking that the key
/// is the private half of the host's `public-key`; unchanged (and no file read) when the
/// plan is not encrypted.
pub fn with_host_key(mut plan: HostPlan, path: &Path) -> Result<HostPlan, KeyError> {
    if plan.wireguard.is_none() {
        return Ok(plan);
    }
    let private = private_key_of_file(path)?;
    // Before any message that shows a `public-key`: this one would show the private key.
    if let Some(host) = key_file::published_as_public(&private, &plan) {
        return Err(KeyError::PublishedAsPublic {
            host: host.to_string(),
            path: path.display().to_string(),
        });
    }
    let found = public_of(&StaticSecret::from(private));
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
    text.replace_range(.., &"0".repeat(text.len()));
    if let Err(source) = result {
        let _ = fs::remove_file(&temp);
        if source.kind() == std::io::ErrorKind::AlreadyExists && !force {
            return Err(KeyError::Exists { path: shown });
        }
        return Err(write(source));
    }
    Ok(public_of(&secret))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_clear_plan_never_reads_the_key_file() {
        let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
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
            let got = private_key_of_file(&path).map(|k| public_of(&StaticSecret::from(k)));
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
