//! Reading the inventory file, with errors that point at file, line and column.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use vxlan_mesh_core::{Fleet, Inventory};

/// Reads and parses the inventory at `path`.
pub fn read(path: &Path) -> Result<Inventory> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read inventory `{}`", path.display()))?;
    Inventory::from_toml_str(&text).map_err(|e| match (e.line, e.column) {
        (Some(line), Some(col)) => anyhow!("{}:{line}:{col}: {}", path.display(), e.message),
        _ => anyhow!("{}: {}", path.display(), e.message),
    })
}

/// Reads, parses and validates the inventory at `path`.
pub fn load(path: &Path) -> Result<Fleet> {
    let inv = read(path)?;
    inv.validate().map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Picks the host: the one named, or the one whose underlay address is assigned locally.
pub fn select_host<'a>(fleet: &'a Fleet, name: Option<&str>) -> Result<&'a vxlan_mesh_core::Host> {
    if let Some(name) = name {
        return fleet.host(name).ok_or_else(|| {
            let known: Vec<&str> = fleet.hosts.iter().map(|h| h.name.as_str()).collect();
            anyhow!("no host named `{name}` in the inventory (hosts: {})", known.join(", "))
        });
    }
    let local =
        local_addresses().context("cannot list this machine's addresses to find which host it is; pass --host")?;
    match fleet.hosts_with_addresses(&local).as_slice() {
        [one] => Ok(one),
        [] => Err(anyhow!(
            "no host of the inventory has an underlay address assigned on this machine; pass --host NAME"
        )),
        many => {
            let names: Vec<&str> = many.iter().map(|h| h.name.as_str()).collect();
            Err(anyhow!(
                "several hosts of the inventory have addresses on this machine ({}); pass --host NAME",
                names.join(", ")
            ))
        }
    }
}

/// Addresses assigned in this network namespace, read from procfs (no netlink needed).
fn local_addresses() -> Result<Vec<std::net::IpAddr>> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/proc/net/if_inet6") {
        for line in text.lines() {
            if let Some(hex) = line.split_whitespace().next() {
                if let Ok(v) = u128::from_str_radix(hex, 16) {
                    out.push(std::net::IpAddr::V6(std::net::Ipv6Addr::from(v)));
                }
            }
        }
    }
    out.extend(ipv4_addresses()?);
    Ok(out)
}

/// IPv4 addresses from /proc/net/fib_trie's local-route entries.
fn ipv4_addresses() -> Result<Vec<std::net::IpAddr>> {
    let text = std::fs::read_to_string("/proc/net/fib_trie").context("cannot read /proc/net/fib_trie")?;
    let mut out = Vec::new();
    let mut last: Option<std::net::Ipv4Addr> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("|-- ") {
            last = rest.trim().parse().ok();
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(a) = last {
                let a = std::net::IpAddr::V4(a);
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
    }
    Ok(out)
}
