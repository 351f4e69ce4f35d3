//! The fleet a lab deploys. A clear inventory is deployed as it is; an encrypted one is
//! deployed as a copy whose hosts carry key pairs the lab made for itself, so that the lab
//! never reads or writes the operator's private keys (`/etc/vxlan-mesh/...`).

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use vxlan_mesh_core::{Encryption, Fleet, Inventory};

use crate::{inventory_file, keys};

/// The inventory a lab deploys, and where each host's private key is.
pub struct LabFleet {
    /// The inventory file the hosts' commands read: the operator's, or the lab's copy.
    pub inventory: PathBuf,
    /// Its validated fleet.
    pub fleet: Fleet,
    /// Folder of the lab's private keys (`<host>.key`), when the fleet is encrypted.
    keys: Option<PathBuf>,
}

impl LabFleet {
    /// The lab's private key of `host`, when the fleet is encrypted.
    pub fn key_of(&self, host: &str) -> Option<PathBuf> {
        self.keys.as_ref().map(|dir| dir.join(format!("{host}.key")))
    }

    /// Whether the fleet runs inside WireGuard.
    pub fn encrypted(&self) -> bool {
        self.keys.is_some()
    }
}

/// The fleet to deploy for `inventory` (already validated as `fleet`). For an encrypted
/// fleet: a new key pair per host in `<workdir>/keys/` (files 0600 in a 0700 folder, made
/// as `vxlan-mesh keygen` makes them) and `<workdir>/inventory.toml`, the inventory with
/// each host's `public-key` replaced by the lab's.
pub fn prepare(inventory: &Path, fleet: Fleet, workdir: &Path) -> Result<LabFleet> {
    if fleet.encryption() != Encryption::Wireguard {
        return Ok(LabFleet {
            inventory: inventory.to_path_buf(),
            fleet,
            keys: None,
        });
    }
    let dir = workdir.join("keys");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create `{}`", dir.display()))?;
    let text = fs::read_to_string(inventory).with_context(|| format!("cannot read `{}`", inventory.display()))?;
    let mut copy = Inventory::from_toml_str(&text).with_context(|| format!("`{}`", inventory.display()))?;
    for host in &mut copy.hosts {
        // The lab owns this folder: a key left by an earlier lab of the same tag is replaced.
        let public = keys::generate(&dir.join(format!("{}.key", host.name)), true)?;
        host.public_key = Some(public.to_string());
    }
    let path = workdir.join("inventory.toml");
    fs::write(&path, copy.to_toml_string()?).with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(LabFleet {
        fleet: inventory_file::load(&path)?,
        inventory: path,
        keys: Some(dir),
    })
}
