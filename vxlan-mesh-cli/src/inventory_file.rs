//! Reading the inventory file, with errors that point at file, line and column.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use vxlan_mesh_core::{FieldPath, Fleet, Inventory};

/// One problem of an inventory file, with its position when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column, in characters.
    pub column: Option<usize>,
    /// Stable code of the problem (`duplicate-address`, `wrong-type`, ...), as the core names it.
    pub code: &'static str,
    /// The field it is about (`hosts[1].address`), when it is about one.
    pub path: Option<FieldPath>,
    /// What is wrong: the field and the reason, as the core words it.
    pub message: String,
}

/// An inventory file that cannot be used: unreadable, not valid TOML, or breaking rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidInventory {
    /// The file.
    pub file: PathBuf,
    /// Every problem found, in file order where positions are known.
    pub errors: Vec<Diagnostic>,
    /// The file could not be read at all (then `errors` holds the one reason).
    #[serde(skip)]
    pub unreadable: bool,
}

impl fmt::Display for InvalidInventory {
    /// Compiler style: a summary line, then `file:line:column: message` per problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unreadable {
            let why = self.errors.first().map_or("", |d| d.message.as_str());
            return write!(f, "{}: {why}", self.file.display());
        }
        let n = self.errors.len();
        write!(
            f,
            "{}: invalid inventory ({n} problem{})",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.errors {
            match (d.line, d.column) {
                (Some(l), Some(c)) => write!(f, "\n{}:{l}:{c}: {}", self.file.display(), d.message)?,
                _ => write!(f, "\n{}: {}", self.file.display(), d.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for InvalidInventory {}

/// Reads, parses and validates the inventory at `path`; on failure, every problem with the
/// line and column of the value it is about.
pub fn check(path: &Path) -> Result<Fleet, InvalidInventory> {
    let invalid = |errors| InvalidInventory {
        file: path.to_path_buf(),
        errors,
        unreadable: false,
    };
    let text = read_limited(path).map_err(|why| InvalidInventory {
        file: path.to_path_buf(),
        errors: vec![Diagnostic {
            line: None,
            column: None,
            code: UNREADABLE,
            path: None,
            message: format!("cannot read inventory: {why}"),
        }],
        unreadable: true,
    })?;
    let (inventory, positions) = Inventory::from_toml_str_with_positions(&text).map_err(|e| {
        invalid(vec![Diagnostic {
            line: e.line,
            column: e.column,
            code: e.code(),
            path: e.path,
            message: e.message.clone(),
        }])
    })?;
    inventory.validate().map_err(|errors| {
        let mut out: Vec<Diagnostic> = errors
            .iter()
            .map(|e| {
                let path = e.path();
                let pos = positions.find(&path);
                Diagnostic {
                    line: pos.map(|p| p.line),
                    column: pos.map(|p| p.column),
                    code: e.code(),
                    path: Some(path),
                    message: e.to_string(),
                }
            })
            .collect();
        // File order reads best; problems without a position (whole-file rules) come first.
        out.sort_by_key(|d| (d.line, d.column));
        invalid(out)
    })
}

/// Code of the one problem of a file that cannot be read (missing, too large, not UTF-8).
const UNREADABLE: &str = "unreadable";

/// Largest inventory file read, in bytes (4 MiB: some 50,000 hosts). Reading stops there, so
/// an endless input (`/dev/zero`) is refused instead of filling memory.
const MAX_INVENTORY_BYTES: u64 = 4 << 20;

/// The text of the file at `path`, read up to [`MAX_INVENTORY_BYTES`]; why not, otherwise.
fn read_limited(path: &Path) -> Result<String, String> {
    use std::io::Read;

    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

    // O_NONBLOCK: opening a FIFO without a writer would wait forever; it is refused below.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|e| e.to_string())?;
    if file.metadata().map_err(|e| e.to_string())?.file_type().is_fifo() {
        return Err(
            "it is a FIFO (named pipe), which may never be written or never end; give a regular file".to_string(),
        );
    }
    // Back to blocking reads (a terminal or device would otherwise answer "try again").
    nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty())).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    // One byte more than the limit tells "exactly at the limit" from "beyond it".
    file.take(MAX_INVENTORY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_INVENTORY_BYTES {
        return Err(format!(
            "it is larger than {} MiB, the limit for an inventory file",
            MAX_INVENTORY_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "it is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Reads, parses and validates the inventory at `path`.
pub fn load(path: &Path) -> Result<Fleet> {
    Ok(check(path)?)
}

/// Picks the host: the one named, or the one whose underlay address is assigned locally.
pub fn select_host<'a>(fleet: &'a Fleet, name: Option<&str>) -> Result<&'a vxlan_mesh_core::Host> {
    if let Some(name) = name {
        return fleet.host(name).ok_or_else(|| {
            let known: Vec<&str> = fleet.hosts().iter().map(|h| h.name.as_str()).collect();
            anyhow!(
                "no host named `{}` in the inventory (hosts: {})",
                name.escape_debug(),
                known.join(", ")
            )
        });
    }
    let local = vxlan_mesh_core::netlink::Netns::current()
        .and_then(|here| vxlan_mesh_core::netlink::local_addresses(&here))
        .context("cannot list this machine's addresses to find which host it is; pass --host")?;
    match fleet.hosts_with_addresses(&local).as_slice() {
        [one] => Ok(one),
        [] => {
            let known: Vec<String> = fleet
                .hosts()
                .iter()
                .map(|h| format!("{} ({})", h.name.escape_debug(), h.address))
                .collect();
            Err(anyhow!(
                "no host of the inventory has an underlay address assigned on this machine (hosts: {}); pass --host NAME",
                known.join(", ")
            ))
        }
        many => {
            let names: Vec<&str> = many.iter().map(|h| h.name.as_str()).collect();
            Err(anyhow!(
                "several hosts of the inventory have addresses on this machine ({}); pass --host NAME",
                names.join(", ")
            ))
        }
    }
}
