//! Deploying a rendered systemd-networkd (or netplan) tree into a lab host the way systemd
//! would on the real host: the oneshot units the tree installs, run in their order around
//! systemd-networkd (their `ExecStartPre=`, `ExecStart=` and `ExecStartPost=` lines in
//! order, a leading `-` meaning that failure is fine), and systemd-networkd itself on the
//! tree's network files.
//!
//! The rendered tree stays where it was written: absolute paths in unit lines that exist in
//! the tree (`/etc/vxlan-mesh/vxlan-mesh.sh`) are read from it; the others (`/usr/sbin/nft`)
//! are the machine's programs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::{Lab, LabError};

/// The systemd-networkd binary of Debian and Ubuntu.
pub const NETWORKD: &str = "/lib/systemd/systemd-networkd";

/// Where a rendered tree keeps its units.
const UNIT_DIR: &str = "etc/systemd/system";

/// When a unit runs relative to systemd-networkd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// `Before=systemd-networkd.service` (firewall, loop prevention), or ifupdown2's
    /// `networking.service`.
    BeforeNetworkd,
    /// `After=systemd-networkd.service` (the sync that converges what networkd does not).
    AfterNetworkd,
}

/// One command line of a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitCommand {
    /// The line had a `-` prefix: a failure does not fail the unit.
    pub may_fail: bool,
    /// The words, unquoted.
    pub argv: Vec<String>,
}

/// A oneshot unit of a rendered tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// File name, e.g. `vxlan-mesh-firewall.service`.
    pub name: String,
    /// When it runs.
    pub order: Order,
    /// What starting it runs, in order.
    pub start: Vec<UnitCommand>,
}

/// Splits a unit command line into words as systemd does for the quoting our units use:
/// whitespace separates words, `'…'` and `"…"` group them.
///
/// ```
/// use vxlan_mesh_lab::systemd::split_words;
/// assert_eq!(split_words("/bin/sh -c 'a b'"), ["/bin/sh", "-c", "a b"]);
/// ```
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// Parses a unit file's text.
///
/// ```
/// use vxlan_mesh_lab::systemd::{parse_unit, Order};
/// let u = parse_unit("x.service", "[Unit]\nBefore=network-pre.target systemd-networkd.service\n\
///     [Service]\nExecStart=-/usr/sbin/ebtables -N X\nExecStartPost=/bin/true\nExecStop=/bin/false\n")?;
/// assert_eq!(u.order, Order::BeforeNetworkd);
/// assert_eq!(u.start.len(), 2);
/// assert!(u.start[0].may_fail);
/// # Ok::<(), vxlan_mesh_lab::LabError>(())
/// ```
pub fn parse_unit(name: &str, text: &str) -> Result<Unit, LabError> {
    let mut order = None;
    let mut pre = Vec::new();
    let mut main = Vec::new();
    let mut post = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        // ifupdown2's networking.service takes networkd's place in the ifupdown2 form.
        let networkd = value
            .split_whitespace()
            .any(|u| u == "systemd-networkd.service" || u == "networking.service");
        match key.trim() {
            "Before" if networkd => order = Some(Order::BeforeNetworkd),
            "After" if networkd => order = Some(Order::AfterNetworkd),
            key @ ("ExecStartPre" | "ExecStart" | "ExecStartPost") => {
                let (may_fail, rest) = match value.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, value),
                };
                let cmd = UnitCommand {
                    may_fail,
                    argv: split_words(rest),
                };
                match key {
                    "ExecStartPre" => pre.push(cmd),
                    "ExecStart" => main.push(cmd),
                    _ => post.push(cmd),
                }
            }
            _ => {}
        }
    }
    let order = order.ok_or_else(|| {
        LabError::Spec(format!(
            "unit `{name}` is ordered neither before nor after systemd-networkd.service: the lab cannot tell when systemd would run it"
        ))
    })?;
    pre.extend(main);
    pre.extend(post);
    Ok(Unit {
        name: name.to_string(),
        order,
        start: pre,
    })
}

/// The units of the rendered tree under `root` (`etc/systemd/system/*.service`), by name.
pub fn units_of(root: &Path) -> Result<Vec<Unit>, LabError> {
    let dir = root.join(UNIT_DIR);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LabError::Io { path, source }
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&dir)(e)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(io(&dir))?.path();
        if path.extension().is_some_and(|e| e == "service") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(io(p))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            parse_unit(&name, &text)
        })
        .collect()
}

impl Lab {
    /// Starts `unit` in host namespace `netns` as systemd would: its commands in order,
    /// stopping at the first failing one without a `-` prefix. Paths that exist in the
    /// rendered tree `root` are taken from it.
    pub fn run_unit(&self, netns: &str, root: &Path, unit: &Unit) -> Result<(), LabError> {
        for cmd in &unit.start {
            let argv: Vec<String> = cmd
                .argv
                .iter()
                .map(|a| match a.strip_prefix('/') {
                    Some(rel) if root.join(rel).exists() => root.join(rel).display().to_string(),
                    _ => a.clone(),
                })
                .collect();
            let words: Vec<&str> = argv.iter().map(String::as_str).collect();
            let out = self.exec(netns, &words)?;
            if !out.status.success() && !cmd.may_fail {
                return Err(LabError::Command {
                    command: format!("{}: {}", unit.name, argv.join(" ")),
                    status: out.status.to_string(),
                    stderr: format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stderr).trim(),
                        String::from_utf8_lossy(&out.stdout).trim()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Runs every unit of `root` ordered on the `order` side of systemd-networkd.
    pub fn run_units(&self, netns: &str, root: &Path, order: Order) -> Result<(), LabError> {
        for unit in units_of(root)?.iter().filter(|u| u.order == order) {
            self.run_unit(netns, root, unit)?;
        }
        Ok(())
    }

    /// Starts systemd-networkd in host namespace `netns` on the network files of `dirs`
    /// (copied, with their drop-in folders, into `/run/systemd/network` of a private mount
    /// namespace with a read-only sysfs, so that networkd does not wait for udev), logging to
    /// `log`. The daemon runs until the returned child is killed or the lab is removed.
    pub fn start_networkd(&self, netns: &str, dirs: &[PathBuf], log: &Path) -> Result<Child, LabError> {
        self.check_netns(netns)?;
        let mut copy = String::new();
        for d in dirs.iter().filter(|d| d.is_dir()) {
            let quoted = vxlan_mesh_core::argv::single_quoted(&d.display().to_string());
            copy.push_str(&format!("cp -r {quoted}/. /run/systemd/network/; "));
        }
        let script = format!(
            "set -e; umount /sys; mount -t sysfs -o ro sysfs /sys; mount -t tmpfs tmpfs /run/systemd; \
             mkdir -p /run/systemd/network /run/systemd/netif; {copy}\
             chown -R systemd-network:systemd-network /run/systemd/netif; exec {NETWORKD}"
        );
        let io = |source| LabError::Io {
            path: log.to_path_buf(),
            source,
        };
        let out = std::fs::File::create(log).map_err(io)?;
        let err = out.try_clone().map_err(io)?;
        Command::new("ip")
            .args(["netns", "exec", netns, "unshare", "-m", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| LabError::Spawn {
                program: NETWORKD.into(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_quotes() {
        assert_eq!(split_words("a  b\t'c d' \"e'f\" ''"), ["a", "b", "c d", "e'f", ""]);
    }

    #[test]
    fn a_unit_without_order_is_refused() {
        assert!(parse_unit("x.service", "[Service]\nExecStart=/bin/true\n").is_err());
        let after = parse_unit(
            "s.service",
            "[Unit]\nAfter=systemd-networkd.service\n[Service]\nExecStart=/x sync\n",
        );
        assert!(matches!(
            after,
            Ok(Unit {
                order: Order::AfterNetworkd,
                ..
            })
        ));
    }
}
