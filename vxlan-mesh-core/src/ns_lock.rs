//! Where the lock of a network namespace lives, how long runs wait for it, and what a
//! refusal says: stated once for `vxlan-mesh apply`/`status`/`down` (which take it through
//! the `netlink` feature) and the rendered shell script (which takes it with `flock`).
//!
//! The directory is private to root: a lock file in a world-writable directory (/run/lock)
//! let any local user create, hold or redirect it, and so block every apply for good.

/// The directory of the lock files: made 0700, refused when it is anything else.
pub const DIR: &str = "/run/vxlan-mesh";

/// Seconds a reader (`status`, `--dry-run`) waits for an apply: an apply of hundreds of
/// devices takes seconds, not minutes.
pub const READ_WAIT_SECS: u64 = 60;

/// Seconds `apply` and `down` wait for another one: far longer than any apply takes, but
/// bounded, so that a hung holder is reported instead of waited for.
pub const WRITE_WAIT_SECS: u64 = 300;

/// The lock file's name in [`DIR`] for the namespace whose inode is `inode` (`%s` in the
/// shell script, which fills in its own).
///
/// ```
/// assert_eq!(vxlan_mesh_core::ns_lock::file_name("4026531840"), "net4026531840.lock");
/// ```
pub fn file_name(inode: &str) -> String {
    format!("net{inode}.lock")
}

/// Why the lock directory `path` is refused, `why` in words.
///
/// ```
/// let m = vxlan_mesh_core::ns_lock::refused_message("/run/vxlan-mesh", "it is a symbolic link");
/// assert!(m.starts_with("lock directory `/run/vxlan-mesh`: it is a symbolic link; refusing"));
/// ```
pub fn refused_message(path: &str, why: &str) -> String {
    format!("lock directory `{path}`: {why}; refusing to use it (remove it: vxlan-mesh makes it again, 0700)")
}

/// `why` for a directory owned by `owner` while `user` runs.
pub fn foreign_owner(owner: &str, user: &str) -> String {
    format!("it is owned by uid {owner}, not by uid {user} running vxlan-mesh")
}

/// `why` for a directory of (octal) `mode` that others may enter.
pub fn open_mode(mode: &str) -> String {
    format!("its mode is {mode}: others may enter it (it must be 0700)")
}

/// `why` for a symbolic link where the directory should be.
pub const SYMLINK: &str = "it is a symbolic link";

/// `why` for something else than a directory.
pub const NOT_A_DIRECTORY: &str = "it is not a directory";

/// Why the lock `path` was not taken within `seconds`, with ` (held by pid N)` in
/// `held_by` when the holder is known.
pub fn timeout_message(path: &str, seconds: &str, held_by: &str) -> String {
    format!("another vxlan-mesh apply or down in this network namespace still holds `{path}` after {seconds} s{held_by}; try again when it has finished")
}
