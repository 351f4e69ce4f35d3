//! Directories the lab makes for itself and for FRR's daemons.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Creates `path` and any missing parent, each new directory with mode 0755 whatever the
/// umask: FRR's daemons drop root for the `frr` user, which must traverse every directory
/// on the way to its instance's pid and vty files. Under a umask of 077 (a root shell made
/// cautious, some service managers) `create_dir_all` alone would leave `/run/vxlan-mesh-lab`
/// closed to it, and zebra would fail to start on every later lab of the machine. Existing
/// directories are left as they are.
pub fn create_traversable(path: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(path);
    while let Some(dir) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(dir);
        at = dir.parent();
    }
    for dir in missing.into_iter().rev() {
        match fs::create_dir(dir) {
            Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?,
            // Another lab made it at the same moment: theirs is made the same way.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn new_directories_are_traversable_whatever_the_umask_and_old_ones_are_kept() {
        let base = std::env::temp_dir().join(format!("vxm-dirs-{}", std::process::id()));
        fs::create_dir_all(&base).unwrap();
        fs::set_permissions(&base, fs::Permissions::from_mode(0o700)).unwrap();
        let deep = base.join("a/b/c");
        create_traversable(&deep).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&base), 0o700, "an existing directory was changed");
        for dir in [base.join("a"), base.join("a/b"), deep.clone()] {
            assert_eq!(mode(&dir), 0o755, "{}", dir.display());
        }
        create_traversable(&deep).unwrap();
        fs::remove_dir_all(&base).unwrap();
    }
}
