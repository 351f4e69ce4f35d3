//! Names of the namespaces and interfaces a lab creates.
//!
//! Every namespace is called `vxm-<tag>-<what>`, so one lab's namespaces are found again by
//! the prefix `vxm-<tag>-` (after a crash too), and labs with different tags never collide.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::LabError;

/// Where `ip netns` keeps its named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// Prefix of every namespace any lab creates.
pub const PREFIX: &str = "vxm-";

/// Name of the bridge in the underlay switch namespace.
pub const SWITCH_BRIDGE: &str = "sw0";

/// Underlay device of a host whose inventory entry names no `device`.
pub const DEFAULT_UNDERLAY_DEVICE: &str = "ul0";

/// Interface name of a container's end of its veth.
pub const CONTAINER_IFNAME: &str = "eth0";

/// Checks a lab tag: 1..=24 characters of `[a-z0-9]`, so that `vxm-<tag>-` is a prefix of
/// this lab's namespaces only.
///
/// ```
/// use vxlan_mesh_lab::names::check_tag;
/// assert!(check_tag("lab").is_ok());
/// assert!(check_tag("a-b").is_err());
/// assert!(check_tag("").is_err());
/// ```
pub fn check_tag(tag: &str) -> Result<(), LabError> {
    if tag.is_empty() || tag.len() > 24 || !tag.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return Err(LabError::BadTag { tag: tag.to_string() });
    }
    Ok(())
}

/// The prefix of every namespace of the lab tagged `tag`.
///
/// ```
/// assert_eq!(vxlan_mesh_lab::names::tag_prefix("lab"), "vxm-lab-");
/// ```
pub fn tag_prefix(tag: &str) -> String {
    format!("{PREFIX}{tag}-")
}

/// A tag unique to this process and call: `<base><pid>x<counter>`, for tests that run in
/// parallel.
///
/// ```
/// let a = vxlan_mesh_lab::names::unique_tag("t");
/// let b = vxlan_mesh_lab::names::unique_tag("t");
/// assert_ne!(a, b);
/// assert!(vxlan_mesh_lab::names::check_tag(&a).is_ok());
/// ```
pub fn unique_tag(base: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{base}{}x{n}", std::process::id())
}

pub(crate) fn switch_netns(tag: &str) -> String {
    format!("{}sw", tag_prefix(tag))
}

pub(crate) fn host_netns(tag: &str, host: usize) -> String {
    format!("{}h{host}", tag_prefix(tag))
}

pub(crate) fn container_netns(tag: &str, host: usize, network: usize, index: usize) -> String {
    format!("{}h{host}n{network}c{index}", tag_prefix(tag))
}

/// Switch port of host `host` (in the switch namespace).
pub(crate) fn switch_port(host: usize) -> String {
    format!("p{host}")
}

/// Host end of a container's veth (in the host namespace): `lab<network>c<index>`.
pub(crate) fn container_host_ifname(network: usize, index: usize) -> String {
    format!("lab{network}c{index}")
}

/// Names of the entries of `dir` that start with `prefix`, sorted; none when `dir` is missing.
pub(crate) fn names_in(dir: &Path, prefix: &str) -> Result<Vec<String>, LabError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(LabError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    out.sort();
    Ok(out)
}
