//! Where rendered files may go and how they get there.
//!
//! An output directory may be one others can write (a shared build tree, `/srv/deploy`), and
//! it is often written as root: whatever already lies in it must not steer the writes.
//!
//! - Paths are relative and plain ([`check_relative`]).
//! - Every directory under the output directory is opened relative to its parent's file
//!   descriptor with `O_NOFOLLOW`: a symbolic link anywhere in the tree is refused, never
//!   followed, so no file lands outside it and no link's target is written or chmod-ed.
//! - Each file is written atomically: a new temporary file beside it (`O_EXCL`, with its
//!   final mode), then renamed over the old name. Concurrent renders and a full disk leave
//!   either the old file or the new one, never a spliced or truncated one; a symbolic link
//!   at the final name is replaced, its target untouched.
//! - One durable sync per host directory, not one per file: all of a host's temporary files
//!   are written, then one `syncfs` makes their contents durable, and only then are they
//!   renamed; so a crash never leaves an empty or partial file under a final name. The
//!   renames are made durable by the next host's sync, or by [`OutputDir::sync`] at the end
//!   (until then a crash leaves the old files, whole). An `fsync` per file made a 5,000-host
//!   render take 105 s.
//! - A manifest ([`MANIFEST`]) in the host's output directory lists what the last render
//!   wrote there, each file with the SHA-256 of what it wrote; the files it lists that this
//!   render no longer writes are removed (a removed peer's tunnel must not stay deployable)
//!   when they still hold exactly that, and nothing else is: not a file the manifest does
//!   not list, not one edited since, not one listed without a hash.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{openat, renameat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{syncfs, unlinkat, UnlinkatFlags};

use crate::{RenderError, RenderedFile};

/// The file in a host's output directory that lists the files the last render wrote there,
/// one a line as `sha256sum` prints them (the SHA-256 of the contents written, two spaces,
/// the relative path), so that the next render can remove those it no longer writes and
/// that nobody changed since.
pub const MANIFEST: &str = ".vxlan-mesh-manifest";

/// The largest manifest read back: far more than any plan's files need, and a bound on what
/// a file planted in the tree can make us read.
const MANIFEST_LIMIT: u64 = 4 << 20;

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

/// Why rendered files could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A path could leave the output directory.
    #[error(transparent)]
    UnsafePath(#[from] RenderError),
    /// A symbolic link lies where a directory or the manifest should be.
    #[error("`{}` is a symbolic link; refusing to write through it", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// Something other than a directory lies where a directory should be.
    #[error("`{}` is in the way: it is not a directory", path.display())]
    NotADirectory {
        /// The obstacle.
        path: PathBuf,
    },
    /// A system call on `path` failed.
    #[error("cannot write `{}`", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

/// What [`OutputDir::write`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Written {
    /// The files written, relative to the host's output directory.
    pub written: Vec<PathBuf>,
    /// The files a previous render had written there that this one no longer writes, now
    /// removed.
    pub removed: Vec<PathBuf>,
    /// Files a previous render had written there that this one no longer writes, kept
    /// because they no longer hold what it wrote (edited since, or listed without a hash).
    pub kept: Vec<PathBuf>,
}

/// An output directory (`render --out DIR`), opened once; hosts' files are written under it.
///
/// The directory itself is the operator's choice and may be a symbolic link; nothing under
/// it may.
///
/// ```
/// use std::path::Path;
/// use vxlan_mesh_gen::{render, Format, OutputDir};
/// let dir = std::env::temp_dir().join(format!("vxm-doc-outdir-{}", std::process::id()));
/// let fleet = vxlan_mesh_core::testing::two_hosts();
/// let out = OutputDir::open(&dir)?;
/// let written = out.write(Path::new("a"), &render(&fleet.plan("a")?, Format::Netplan)?)?;
/// assert!(written.removed.is_empty());
/// assert!(dir.join("a/etc/netplan/60-vxlan-mesh.yaml").exists());
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct OutputDir {
    path: PathBuf,
    fd: OwnedFd,
}

impl OutputDir {
    /// Opens `path`, creating it (and its parents) when missing.
    pub fn open(path: &Path) -> Result<OutputDir, WriteError> {
        let io_err = |source| WriteError::Io {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(path).map_err(io_err)?;
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err(e.into()))?;
        Ok(OutputDir {
            path: path.to_path_buf(),
            fd,
        })
    }

    /// The directory's path, as given to [`OutputDir::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `files` into the subdirectory `sub` (empty: the directory itself), removes the
    /// files the previous render there wrote and this one does not, and records what it wrote
    /// in that subdirectory's [`MANIFEST`].
    pub fn write(&self, sub: &Path, files: &[RenderedFile]) -> Result<Written, WriteError> {
        let mut tree = Tree {
            path: self.path.join(sub),
            root: None,
            dirs: BTreeMap::new(),
            staged: Vec::new(),
        };
        let root = if sub.as_os_str().is_empty() {
            self.fd
                .try_clone()
                .map_err(|source| tree.io_err(Path::new(""), source))?
        } else {
            check_relative(sub)?;
            walk(&self.fd, &self.path, sub, true)?.ok_or_else(|| tree.io_err(sub, Errno::ENOENT.into()))?
        };
        tree.root = Some(root);

        let new: Manifest = files
            .iter()
            .map(|f| (f.path.clone(), Some(sha256(f.contents.as_bytes()))))
            .collect();
        for path in new.keys() {
            check_relative(path)?;
        }
        let old = tree.read_manifest()?;
        // Listed before they exist (renamed first), with what they will hold: a render
        // killed half-way still has them removed by the next one, whatever that one writes
        // (a file of that name that was there before and holds something else stays).
        let staged = (|| {
            let mut both = old.clone();
            both.extend(new.iter().map(|(p, h)| (p.clone(), *h)));
            tree.write_manifest(&both)?;
            for f in files {
                tree.write_file(&f.path, f.mode, f.contents.as_bytes())?;
            }
            tree.sync()
        })();
        if let Err(e) = staged {
            // All or nothing: no file of this host is renamed unless all were written.
            tree.unlink_staged();
            return Err(e);
        }
        tree.rename_staged()?;
        let (mut removed, mut kept) = (Vec::new(), Vec::new());
        for (stale, hash) in old.iter().filter(|(p, _)| !new.contains_key(*p)) {
            match hash {
                Some(hash) if tree.remove(stale, hash)? => removed.push(stale.clone()),
                Some(_) if !tree.exists(stale)? => {}
                _ => kept.push(stale.clone()),
            }
        }
        // Durable with the next sync; a crash before it leaves the union above, which names
        // more files than needed, never fewer.
        tree.write_manifest(&new)?;
        tree.rename_staged()?;
        Ok(Written {
            written: new.into_keys().collect(),
            removed,
            kept,
        })
    }

    /// Makes every write so far durable (one `syncfs` of the file system holding the
    /// directory): [`OutputDir::write`] leaves its last renames to this, or to the next
    /// write.
    pub fn sync(&self) -> Result<(), WriteError> {
        syncfs(&self.fd).map_err(|e| WriteError::Io {
            path: self.path.clone(),
            source: e.into(),
        })
    }
}

/// Writes `files` under `dir` as [`OutputDir::write`] does (creating `dir`), each with its
/// [`RenderedFile::mode`] from the start, so that a 0600 file is never readable by others,
/// even briefly.
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
pub fn write_files(dir: &Path, files: &[RenderedFile]) -> Result<Written, WriteError> {
    let out = OutputDir::open(dir)?;
    let written = out.write(Path::new(""), files)?;
    out.sync()?;
    Ok(written)
}

/// A manifest's entries: each path with the SHA-256 of what render wrote there (`None` for a
/// line without one, from an older vxlan-mesh or another hand: never removed).
type Manifest = BTreeMap<PathBuf, Option<[u8; 32]>>;

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of a `sha256sum` line's first field, when it is 64 hex digits.
fn parse_hex(text: &str) -> Option<[u8; 32]> {
    let mut hash = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(hash)
}

/// One host's output directory while it is written: directories opened so far, by their
/// path relative to it.
struct Tree {
    path: PathBuf,
    root: Option<OwnedFd>,
    dirs: BTreeMap<PathBuf, OwnedFd>,
    /// Temporary files written and not yet renamed, in order: (file, temporary name).
    staged: Vec<(PathBuf, String)>,
}

impl Tree {
    fn io_err(&self, rel: &Path, source: io::Error) -> WriteError {
        WriteError::Io {
            path: self.path.join(rel),
            source,
        }
    }

    /// The directory `rel` (relative to the host's directory), created when missing and
    /// `create`; `None` when missing and not `create`.
    fn dir(&mut self, rel: &Path, create: bool) -> Result<Option<&OwnedFd>, WriteError> {
        let root = self.root.as_ref().ok_or_else(|| WriteError::Io {
            path: self.path.clone(),
            source: Errno::EBADF.into(),
        })?;
        if rel.as_os_str().is_empty() {
            return Ok(Some(root));
        }
        if !self.dirs.contains_key(rel) {
            match walk(root, &self.path, rel, create)? {
                Some(fd) => {
                    self.dirs.insert(rel.to_path_buf(), fd);
                }
                None => return Ok(None),
            }
        }
        Ok(self.dirs.get(rel))
    }

    /// The manifest's entries; empty when there is none.
    fn read_manifest(&mut self) -> Result<Manifest, WriteError> {
        let Some(text) = self.read(Path::new(MANIFEST), MANIFEST_LIMIT)? else {
            return Ok(Manifest::new());
        };
        let text = String::from_utf8_lossy(&text);
        Ok(text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| match l.split_once("  ") {
                Some((hash, rel)) if parse_hex(hash).is_some() => (PathBuf::from(rel), parse_hex(hash)),
                _ => (PathBuf::from(l), None),
            })
            // A line that is not a plain relative path names nothing we could have written.
            .filter(|(p, _)| check_relative(p).is_ok() && p.as_path() != Path::new(MANIFEST))
            .collect())
    }

    /// The contents of the regular file `rel` (at most `limit` bytes), `None` when it is
    /// missing; a symbolic link there is refused.
    fn read(&mut self, rel: &Path, limit: u64) -> Result<Option<Vec<u8>>, WriteError> {
        let (parent, name) = split(rel);
        let path = self.path.join(rel);
        let Some(dir) = self.dir(parent, false)? else {
            return Ok(None);
        };
        let fd = match openat(
            dir,
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ELOOP) => return Err(WriteError::Symlink { path }),
            Err(e) => return Err(WriteError::Io { path, source: e.into() }),
        };
        // Opened without blocking, a FIFO would read as empty: refused instead.
        regular_file(&fd).map_err(|source| WriteError::Io {
            path: path.clone(),
            source,
        })?;
        let mut bytes = Vec::new();
        File::from(fd)
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|source| WriteError::Io { path, source })?;
        Ok(Some(bytes))
    }

    fn write_manifest(&mut self, entries: &Manifest) -> Result<(), WriteError> {
        let mut text = String::from(
            "# Written by vxlan-mesh render: the files it wrote into this directory, with the SHA-256\n\
             # of what it wrote (`sha256sum -c` checks them). The next render removes those it no\n\
             # longer writes that still hold exactly that, and nothing else.\n",
        );
        for (p, hash) in entries {
            if let Some(hash) = hash {
                text.push_str(&hex(hash));
                text.push_str("  ");
            }
            text.push_str(&p.display().to_string());
            text.push('\n');
        }
        self.write_file(Path::new(MANIFEST), 0o644, text.as_bytes())
    }

    /// Writes one file's temporary beside it; [`Tree::rename_staged`] puts it in place.
    fn write_file(&mut self, rel: &Path, mode: u32, contents: &[u8]) -> Result<(), WriteError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let (parent, name) = split(rel);
        let err_path = self.path.join(rel);
        let io_err = |source: io::Error| WriteError::Io {
            path: err_path.clone(),
            source,
        };
        let dir = self.dir(parent, true)?.ok_or_else(|| io_err(Errno::ENOENT.into()))?;
        // Unique among concurrent renders (pid) and among the files of this one (sequence).
        let tmp = format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mode = Mode::from_bits_truncate(mode);
        let fd = openat(
            dir,
            tmp.as_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            mode,
        )
        .map_err(|e| io_err(e.into()))?;
        let result = (|| -> io::Result<()> {
            // The umask may have taken bits the file needs (a script's x).
            fchmod(&fd, mode)?;
            File::from(fd).write_all(contents)
        })();
        if let Err(source) = result {
            let _ = unlinkat(dir, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
            return Err(io_err(source));
        }
        self.staged.push((rel.to_path_buf(), tmp));
        Ok(())
    }

    /// Renames the staged temporary files over their names, in the order written.
    fn rename_staged(&mut self) -> Result<(), WriteError> {
        for (rel, tmp) in std::mem::take(&mut self.staged) {
            let (parent, name) = split(&rel);
            let err_path = self.path.join(&rel);
            let dir = self.dir(parent, false)?.ok_or_else(|| WriteError::Io {
                path: err_path.clone(),
                source: Errno::ENOENT.into(),
            })?;
            if let Err(e) = renameat(dir, tmp.as_str(), dir, name) {
                let _ = unlinkat(dir, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
                self.unlink_staged();
                return Err(WriteError::Io {
                    path: err_path,
                    source: e.into(),
                });
            }
        }
        Ok(())
    }

    /// Removes the temporary files not renamed yet (a write failed: none of them goes in).
    fn unlink_staged(&mut self) {
        for (rel, tmp) in std::mem::take(&mut self.staged) {
            let (parent, _) = split(&rel);
            if let Ok(Some(dir)) = self.dir(parent, false) {
                let _ = unlinkat(dir, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
            }
        }
    }

    /// Whether anything lies at `rel`.
    fn exists(&mut self, rel: &Path) -> Result<bool, WriteError> {
        let (parent, name) = split(rel);
        let Some(dir) = self.dir(parent, false)? else {
            return Ok(false);
        };
        match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(true),
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(self.io_err(rel, e.into())),
        }
    }

    /// Removes `rel` when it is a regular file holding exactly what hashes to `hash` (what
    /// render wrote there); whether it did.
    fn remove(&mut self, rel: &Path, hash: &[u8; 32]) -> Result<bool, WriteError> {
        let (parent, name) = split(rel);
        let err_path = self.path.join(rel);
        let Some(dir) = self.dir(parent, false)? else {
            return Ok(false);
        };
        let regular = match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFREG.bits(),
            Err(Errno::ENOENT) => false,
            Err(e) => {
                return Err(WriteError::Io {
                    path: err_path,
                    source: e.into(),
                })
            }
        };
        // Whatever replaced our file since (a directory, a link) is someone else's.
        if !regular {
            return Ok(false);
        }
        // One byte beyond the limit tells a larger file, which no render wrote.
        let holds = self.read(rel, MANIFEST_LIMIT + 1)?;
        if holds.is_none_or(|bytes| sha256(&bytes) != *hash) {
            return Ok(false);
        }
        let Some(dir) = self.dir(parent, false)? else {
            return Ok(false);
        };
        match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) => Ok(true),
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(WriteError::Io {
                path: err_path,
                source: e.into(),
            }),
        }
    }

    /// The one durable sync of a host's write: the staged files' contents (and the renames
    /// of earlier writes) reach the disk before any staged file is renamed.
    fn sync(&mut self) -> Result<(), WriteError> {
        let root = self.root.as_ref().ok_or_else(|| WriteError::Io {
            path: self.path.clone(),
            source: Errno::EBADF.into(),
        })?;
        syncfs(root).map_err(|e| WriteError::Io {
            path: self.path.clone(),
            source: e.into(),
        })
    }
}

/// The parent (possibly empty) and file name of a checked relative path.
fn split(rel: &Path) -> (&Path, &str) {
    let parent = rel.parent().unwrap_or(Path::new(""));
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    (parent, name)
}

/// Opens the directory `rel` under `base` one component at a time, each relative to its
/// parent and without following a symbolic link, creating missing ones when `create`.
/// `None` when one is missing and not `create`. `base_path` names `base` in errors.
fn walk(base: &OwnedFd, base_path: &Path, rel: &Path, create: bool) -> Result<Option<OwnedFd>, WriteError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut current: Option<OwnedFd> = None;
    let mut so_far = base_path.to_path_buf();
    for part in rel.iter() {
        so_far.push(part);
        let parent = current.as_ref().unwrap_or(base);
        let opened = match openat(parent, part, flags, Mode::empty()) {
            Err(Errno::ENOENT) if create => {
                match mkdirat(parent, part, Mode::from_bits_truncate(0o755)) {
                    // A concurrent render made it first.
                    Ok(()) | Err(Errno::EEXIST) => openat(parent, part, flags, Mode::empty()),
                    Err(e) => Err(e),
                }
            }
            other => other,
        };
        current = Some(match opened {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                let link = fstatat(parent, part, AtFlags::AT_SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFLNK.bits());
                return Err(if link {
                    WriteError::Symlink { path: so_far }
                } else {
                    WriteError::NotADirectory { path: so_far }
                });
            }
            Err(e) => {
                return Err(WriteError::Io {
                    path: so_far,
                    source: e.into(),
                })
            }
        });
    }
    Ok(current)
}

/// Refuses anything but a regular file (a FIFO, a device) where a file is read back.
fn regular_file(fd: &std::os::fd::OwnedFd) -> io::Result<()> {
    let stat = nix::sys::stat::fstat(fd)?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file (a FIFO or a device?); remove it",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::os::unix::fs::{symlink, PermissionsExt as _};

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

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            static N: AtomicU64 = AtomicU64::new(0);
            let p = std::env::temp_dir().join(format!(
                "vxm-gen-output-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Scratch(p)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn file(path: &str, mode: u32, contents: &str) -> RenderedFile {
        RenderedFile {
            path: path.into(),
            mode,
            contents: contents.into(),
        }
    }

    fn mode_of(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn writes_with_the_mode_given_and_nothing_but_the_files_and_the_manifest() {
        let s = Scratch::new("mode");
        let out = s.0.join("out");
        let w = write_files(
            &out,
            &[file("etc/a.sh", 0o755, "#!/bin/sh\n"), file("etc/b", 0o600, "b\n")],
        )
        .unwrap();
        assert_eq!(w.written, [PathBuf::from("etc/a.sh"), PathBuf::from("etc/b")]);
        assert_eq!(mode_of(&out.join("etc/a.sh")), 0o755);
        assert_eq!(mode_of(&out.join("etc/b")), 0o600);
        let mut names: Vec<String> = std::fs::read_dir(out.join("etc"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.sh", "b"], "no temporary file left behind");
        let manifest = std::fs::read_to_string(out.join(MANIFEST)).unwrap();
        let hash = |text: &str| hex(&sha256(text.as_bytes()));
        assert!(
            manifest.ends_with(&format!(
                "\n{}  etc/a.sh\n{}  etc/b\n",
                hash("#!/bin/sh\n"),
                hash("b\n")
            )),
            "{manifest}"
        );
    }

    #[test]
    fn a_write_that_fails_half_way_renames_none_of_its_files() {
        let s = Scratch::new("halfway");
        let out = OutputDir::open(&s.0).unwrap();
        let host = Path::new("h1");
        out.write(host, &[file("a", 0o644, "old a\n"), file("etc/b", 0o644, "old b\n")])
            .unwrap();
        let manifest = std::fs::read_to_string(s.0.join("h1").join(MANIFEST)).unwrap();
        // `c/d` cannot be written: a file is where its directory should be.
        std::fs::write(s.0.join("h1/c"), "in the way\n").unwrap();
        let err = out
            .write(
                host,
                &[
                    file("a", 0o644, "new a\n"),
                    file("etc/b", 0o644, "new b\n"),
                    file("c/d", 0o644, "d\n"),
                ],
            )
            .unwrap_err();
        assert!(matches!(err, WriteError::NotADirectory { .. }), "{err}");
        // Staged files are renamed only after all are written: the host keeps its old set.
        assert_eq!(std::fs::read_to_string(s.0.join("h1/a")).unwrap(), "old a\n");
        assert_eq!(std::fs::read_to_string(s.0.join("h1/etc/b")).unwrap(), "old b\n");
        assert_eq!(
            std::fs::read_to_string(s.0.join("h1").join(MANIFEST)).unwrap(),
            manifest
        );
        let mut left: Vec<String> = ["h1", "h1/etc"]
            .iter()
            .flat_map(|d| std::fs::read_dir(s.0.join(d)).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [MANIFEST, "a", "b", "c", "etc"], "no temporary file left behind");
    }

    #[test]
    fn a_symlinked_directory_in_the_tree_is_refused_and_its_target_untouched() {
        let s = Scratch::new("symdir");
        let outside = s.0.join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("b"), "precious\n").unwrap();
        std::fs::set_permissions(outside.join("b"), std::fs::Permissions::from_mode(0o640)).unwrap();
        let out = s.0.join("out");
        std::fs::create_dir_all(&out).unwrap();
        symlink(&outside, out.join("etc")).unwrap();
        let err = write_files(&out, &[file("etc/b", 0o600, "ours\n")]).unwrap_err();
        assert!(matches!(err, WriteError::Symlink { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "`{}` is a symbolic link; refusing to write through it",
                out.join("etc").display()
            )
        );
        assert_eq!(std::fs::read_to_string(outside.join("b")).unwrap(), "precious\n");
        assert_eq!(mode_of(&outside.join("b")), 0o640);
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    }

    #[test]
    fn a_symlink_at_a_file_name_is_replaced_and_its_target_untouched() {
        let s = Scratch::new("symfile");
        let outside = s.0.join("precious");
        std::fs::write(&outside, "precious\n").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o640)).unwrap();
        let out = s.0.join("out");
        std::fs::create_dir_all(out.join("etc")).unwrap();
        symlink(&outside, out.join("etc/b")).unwrap();
        write_files(&out, &[file("etc/b", 0o600, "ours\n")]).unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious\n");
        assert_eq!(mode_of(&outside), 0o640);
        assert!(std::fs::symlink_metadata(out.join("etc/b")).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(out.join("etc/b")).unwrap(), "ours\n");
    }

    #[test]
    fn a_symlinked_manifest_is_refused() {
        let s = Scratch::new("symmanifest");
        let outside = s.0.join("precious");
        std::fs::write(&outside, "etc/x\n").unwrap();
        let out = s.0.join("out");
        std::fs::create_dir_all(&out).unwrap();
        symlink(&outside, out.join(MANIFEST)).unwrap();
        let err = write_files(&out, &[file("a", 0o644, "a\n")]).unwrap_err();
        assert!(matches!(err, WriteError::Symlink { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "etc/x\n");
    }

    #[test]
    fn a_fifo_manifest_is_refused_without_waiting_for_a_writer() {
        let s = Scratch::new("fifomanifest");
        let out = s.0.join("out");
        std::fs::create_dir_all(&out).unwrap();
        nix::unistd::mkfifo(&out.join(MANIFEST), Mode::from_bits_truncate(0o644)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = out.clone();
        std::thread::spawn(move || tx.send(write_files(&writer, &[file("a", 0o644, "a\n")]).map(drop)));
        let result = rx.recv_timeout(std::time::Duration::from_secs(10));
        // Unblock a thread still waiting in open(2) (the bug), so that the test ends.
        if result.is_err() {
            let _ = std::fs::OpenOptions::new().write(true).open(out.join(MANIFEST));
        }
        let err = result.expect("render hung on a FIFO manifest").unwrap_err();
        assert!(err.to_string().contains(MANIFEST), "{err}");
        let source = std::error::Error::source(&err)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(source.contains("not a regular file"), "{source}");
    }

    #[test]
    fn stale_files_of_the_last_render_go_and_foreign_ones_stay() {
        let s = Scratch::new("stale");
        let out = OutputDir::open(&s.0).unwrap();
        let host = Path::new("h1");
        out.write(host, &[file("etc/a", 0o644, "a\n"), file("etc/b", 0o644, "b\n")])
            .unwrap();
        std::fs::write(s.0.join("h1/etc/foreign"), "theirs\n").unwrap();
        let w = out.write(host, &[file("etc/a", 0o644, "a2\n")]).unwrap();
        assert_eq!(w.removed, [PathBuf::from("etc/b")]);
        assert!(!s.0.join("h1/etc/b").exists());
        assert_eq!(std::fs::read_to_string(s.0.join("h1/etc/a")).unwrap(), "a2\n");
        assert_eq!(std::fs::read_to_string(s.0.join("h1/etc/foreign")).unwrap(), "theirs\n");
        // A manifest line leading out of the tree removes nothing.
        std::fs::write(s.0.join("victim"), "v\n").unwrap();
        let a2 = hex(&sha256(b"a2\n"));
        let manifest = format!("{a2}  ../victim\n{a2}  /etc/passwd\n{a2}  etc/a\n");
        std::fs::write(s.0.join("h1").join(MANIFEST), manifest).unwrap();
        let w = out.write(host, &[]).unwrap();
        assert_eq!(w.removed, [PathBuf::from("etc/a")]);
        assert!(s.0.join("victim").exists());
    }

    #[test]
    fn a_file_edited_since_render_or_listed_without_a_hash_is_kept() {
        let s = Scratch::new("edited");
        let out = OutputDir::open(&s.0).unwrap();
        let host = Path::new("h1");
        out.write(host, &[file("etc/a", 0o644, "a\n"), file("etc/b", 0o644, "b\n")])
            .unwrap();
        std::fs::write(s.0.join("h1/etc/a"), "a, edited by hand\n").unwrap();
        // The operator's own file, added to the manifest by hand (or by an older vxlan-mesh)
        // without a hash.
        std::fs::write(s.0.join("h1/etc/mine"), "mine\n").unwrap();
        let manifest = std::fs::read_to_string(s.0.join("h1").join(MANIFEST)).unwrap();
        std::fs::write(s.0.join("h1").join(MANIFEST), manifest + "etc/mine\n").unwrap();
        let w = out.write(host, &[]).unwrap();
        assert_eq!(w.removed, [PathBuf::from("etc/b")]);
        assert_eq!(w.kept, [PathBuf::from("etc/a"), PathBuf::from("etc/mine")]);
        assert_eq!(
            std::fs::read_to_string(s.0.join("h1/etc/a")).unwrap(),
            "a, edited by hand\n"
        );
        assert_eq!(std::fs::read_to_string(s.0.join("h1/etc/mine")).unwrap(), "mine\n");
        // Kept files are not ours any more: the next render does not list them.
        let manifest = std::fs::read_to_string(s.0.join("h1").join(MANIFEST)).unwrap();
        assert!(!manifest.contains("etc/"), "{manifest}");
    }

    #[test]
    fn a_file_that_was_there_before_render_wrote_its_name_is_kept_after_a_killed_render() {
        // A render killed after listing its files but before writing them: the next render
        // finds `etc/x` listed with the hash of what the killed one would have written, and
        // the operator's own `etc/x` there.
        let s = Scratch::new("killed");
        let out = OutputDir::open(&s.0).unwrap();
        std::fs::create_dir_all(s.0.join("h1/etc")).unwrap();
        std::fs::write(s.0.join("h1/etc/x"), "theirs\n").unwrap();
        let planned = format!("{}  etc/x\n", hex(&sha256(b"ours\n")));
        std::fs::write(s.0.join("h1").join(MANIFEST), planned).unwrap();
        let w = out.write(Path::new("h1"), &[]).unwrap();
        assert!(w.removed.is_empty(), "{w:?}");
        assert_eq!(std::fs::read_to_string(s.0.join("h1/etc/x")).unwrap(), "theirs\n");
    }

    #[test]
    fn a_symlinked_host_directory_is_refused() {
        let s = Scratch::new("symhost");
        let outside = s.0.join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::create_dir_all(s.0.join("out")).unwrap();
        symlink(&outside, s.0.join("out/h1")).unwrap();
        let out = OutputDir::open(&s.0.join("out")).unwrap();
        let err = out.write(Path::new("h1"), &[file("a", 0o644, "a\n")]).unwrap_err();
        assert!(matches!(err, WriteError::Symlink { .. }), "{err}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }
}
