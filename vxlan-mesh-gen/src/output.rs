//! Where rendered files may go: relative paths that stay inside an output directory.

use std::io;
use std::path::Path;

use crate::{RenderError, RenderedFile};

/// Checks that `path` is relative and made only of plain components of
/// `[A-Za-z0-9_.@-]` (no `..`, no root, no empty or dot-only component), so that joining
/// it to an output directory can never leave that directory.
///
/// Names are validated by the core already; this guards the generators' own path building.
///
/// ```
/// use std::path::Path;
/// use vxlan_mesh_gen::check_relative;
/// assert!(check_relative(Path::new("etc/systemd/network/50-vxlan-mesh-vxbr0.netdev")).is_ok());
/// assert!(check_relative(Path::new("etc/../../x")).is_err());
/// assert!(check_relative(Path::new("/etc/passwd")).is_err());
/// ```
pub fn check_relative(path: &Path) -> Result<(), RenderError> {
    let bad = || RenderError::UnsafePath {
        path: path.display().to_string().escape_debug().to_string(),
    };
    // Split the text itself: `Path::components` would quietly drop `.` and empty parts.
    let text = path.to_str().ok_or_else(bad)?;
    for part in text.split('/') {
        let ok_chars = !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@'));
        if !ok_chars || part.chars().all(|c| c == '.') {
            return Err(bad());
        }
    }
    Ok(())
}

/// Writes `files` under `dir` (creating directories), each with its [`RenderedFile::mode`].
///
/// A file is created with its final permissions from the start, so that a 0600 file is never
/// readable by others, even briefly.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("vxm-doc-{}", std::process::id()));
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a")?;
/// let files = vxlan_mesh_gen::render(&plan, vxlan_mesh_gen::Format::Netplan)?;
/// vxlan_mesh_gen::write_files(&dir, &files)?;
/// assert!(dir.join("etc/netplan/60-vxlan-mesh.yaml").exists());
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_files(dir: &Path, files: &[RenderedFile]) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};

    for f in files {
        check_relative(&f.path).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let target = dir.join(&f.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(f.mode)
            .open(&target)?;
        // An existing file keeps its old mode through open(); set it explicitly.
        file.set_permissions(std::fs::Permissions::from_mode(f.mode))?;
        file.write_all(f.contents.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_every_way_out() {
        for bad in [
            "", ".", "..", "a/../b", "/a", "a/./b", "a b", "a\nb", "a/...", "a//b", "a/",
        ] {
            assert!(check_relative(Path::new(bad)).is_err(), "{bad:?}");
        }
        assert!(check_relative(Path::new("etc/netplan/60-vxlan-mesh.yaml")).is_ok());
    }
}
