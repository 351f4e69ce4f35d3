//! What `lab up` leaves for `check`, `cut`, `heal` and `down`: a small JSON file per lab.
//! Namespaces carry the lab's prefix too, so `down` works without it after a crash.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use vxlan_mesh_lab::LabSpec;

/// Where lab state lives (tmpfs: a reboot removes the namespaces and the state alike).
pub const STATE_DIR: &str = "/run/vxlan-mesh-lab";

/// A lab that is up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    /// Inventory it was built from (absolute).
    pub inventory: PathBuf,
    /// How it was deployed.
    pub via: String,
    /// Containers per host and network.
    pub containers: usize,
    /// The lab.
    pub spec: LabSpec,
}

fn file(tag: &str) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{tag}.json"))
}

/// Folder for a lab's generated files (rendered configurations, daemon runtime dirs).
pub fn workdir(tag: &str) -> PathBuf {
    Path::new(STATE_DIR).join(tag)
}

/// Where a lab's FRR instances live (mode `evpn`): one directory per host namespace.
pub fn frr_root(tag: &str) -> PathBuf {
    workdir(tag).join("frr")
}

pub fn save(st: &LabState) -> Result<()> {
    vxlan_mesh_lab::create_traversable(Path::new(STATE_DIR)).with_context(|| format!("cannot create `{STATE_DIR}`"))?;
    let path = file(&st.spec.tag);
    let text = serde_json::to_string_pretty(st)?;
    std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))
}

pub fn load(tag: &str) -> Result<LabState> {
    let path = file(tag);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow!(
                "no lab `{tag}` is up (no `{}`); run `vxlan-mesh lab up` first",
                path.display()
            )
        } else {
            anyhow!("cannot read `{}`: {e}", path.display())
        }
    })?;
    serde_json::from_str(&text).with_context(|| format!("`{}` is not a lab state file", path.display()))
}

pub fn remove(tag: &str) -> Result<()> {
    for result in [std::fs::remove_file(file(tag)), std::fs::remove_dir_all(workdir(tag))] {
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(anyhow!("cannot remove lab `{tag}` state: {e}")),
        }
    }
    Ok(())
}
