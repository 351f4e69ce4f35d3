//! Verifying a deployed lab: reachability matrix, largest frame, loop check.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::spec::{Container, UNKNOWN_V4};
use crate::{cmd, Lab, LabError};

/// How many source containers ping at once in [`Lab::ping_matrix`]; each pings all its
/// targets in parallel.
pub const PING_SOURCES_AT_ONCE: usize = 8;

/// Underlay packets per second above which [`Lab::loop_check`] reports a storm. A loop
/// shows hundreds of thousands; a quiet lab shows a handful.
pub const STORM_PPS: f64 = 1000.0;

/// Reachability between every pair of containers on the same network, counted per host pair.
///
/// A pair (ordered: from → to) is reachable when every address family both containers have
/// answers a ping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reachability {
    /// Host names, in inventory order.
    pub hosts: Vec<String>,
    /// One cell per ordered host pair (including a host with itself).
    pub cells: Vec<Cell>,
    /// Number of reachable pairs.
    pub ok: usize,
    /// The unreachable pairs.
    pub failed: Vec<FailedPair>,
}

/// Pairs from containers on host `from` to containers on host `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Source host.
    pub from: String,
    /// Destination host.
    pub to: String,
    /// Reachable pairs.
    pub ok: usize,
    /// Unreachable pairs.
    pub failed: usize,
}

/// An unreachable container pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FailedPair {
    /// Source container namespace.
    pub from: String,
    /// Destination container namespace.
    pub to: String,
    /// Source host.
    pub from_host: String,
    /// Destination host.
    pub to_host: String,
    /// Network.
    pub network: String,
    /// Destination addresses that did not answer.
    pub addresses: Vec<IpAddr>,
}

impl Reachability {
    /// Whether every pair is reachable (and there was at least one pair).
    ///
    /// ```
    /// let r = vxlan_mesh_lab::Reachability { hosts: vec![], cells: vec![], ok: 0, failed: vec![] };
    /// assert!(!r.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.failed.is_empty() && self.ok > 0
    }

    /// The cell from host `from` to host `to`.
    pub fn cell(&self, from: &str, to: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.from == from && c.to == to)
    }

    /// Number of pairs probed.
    pub fn pairs(&self) -> usize {
        self.ok + self.failed.len()
    }

    /// A host × host table of `ok/pairs`, then the failing pairs.
    ///
    /// ```
    /// use vxlan_mesh_lab::{Cell, Reachability};
    /// let r = Reachability {
    ///     hosts: vec!["a".into()],
    ///     cells: vec![Cell { from: "a".into(), to: "a".into(), ok: 2, failed: 0 }],
    ///     ok: 2,
    ///     failed: vec![],
    /// };
    /// assert!(r.render_text().contains("2/2"));
    /// ```
    pub fn render_text(&self) -> String {
        let width = self.hosts.iter().map(String::len).max().unwrap_or(4).max(7);
        let mut s = format!("{:width$}", "from\\to");
        for h in &self.hosts {
            s.push_str(&format!(" {h:>width$}"));
        }
        s.push('\n');
        for from in &self.hosts {
            s.push_str(&format!("{from:width$}"));
            for to in &self.hosts {
                let text = match self.cell(from, to) {
                    Some(c) if c.ok + c.failed > 0 => format!("{}/{}", c.ok, c.ok + c.failed),
                    _ => "-".to_string(),
                };
                s.push_str(&format!(" {text:>width$}"));
            }
            s.push('\n');
        }
        s.push_str(&format!("{} of {} pairs reachable\n", self.ok, self.pairs()));
        for f in &self.failed {
            let addrs: Vec<String> = f.addresses.iter().map(ToString::to_string).collect();
            s.push_str(&format!(
                "  FAIL {} ({}) -> {} ({}) on {}: {}\n",
                f.from,
                f.from_host,
                f.to,
                f.to_host,
                f.network,
                addrs.join(", ")
            ));
        }
        s
    }
}

/// Result of [`Lab::max_frame_probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameProbe {
    /// The MTU probed.
    pub mtu: u32,
    /// A packet of exactly `mtu` bytes with DF set crossed.
    pub fits: bool,
    /// A packet one byte larger did not.
    pub larger_fails: bool,
}

impl FrameProbe {
    /// `mtu` is exactly the largest packet that crosses.
    pub fn ok(&self) -> bool {
        self.fits && self.larger_fails
    }
}

/// Packet counters of one switch port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortCounters {
    /// Host behind the port.
    pub host: String,
    /// Port name in the switch namespace.
    pub port: String,
    /// Packets the switch received from the host.
    pub rx_packets: u64,
    /// Packets the switch sent to the host.
    pub tx_packets: u64,
}

/// Result of [`Lab::loop_check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopCheck {
    /// Broadcasts sent (from one container per host and network).
    pub broadcasts: usize,
    /// Underlay packets counted over the window (all switch ports, received).
    pub packets: u64,
    /// Length of the window in milliseconds.
    pub window_ms: u64,
    /// Packets per second over the window.
    pub packets_per_second: f64,
    /// Whether the rate shows a storm (above [`STORM_PPS`]).
    pub storm: bool,
}

impl Lab {
    /// Every container pings every other container of its network (each family both have),
    /// [`PING_SOURCES_AT_ONCE`] sources at a time, each pinging all its targets in parallel;
    /// a probe that fails is retried once before the pair counts as failed.
    pub fn ping_matrix(&self) -> Result<Reachability, LabError> {
        let containers: Vec<&Container> = self.containers().collect();
        let by_addr: HashMap<IpAddr, &Container> = containers
            .iter()
            .flat_map(|c| c.addresses().into_iter().map(move |a| (a, *c)))
            .collect();
        let next = Mutex::new(0usize);
        let results: Mutex<Vec<(String, String, IpAddr, bool)>> = Mutex::new(Vec::new());
        let first_error: Mutex<Option<LabError>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..PING_SOURCES_AT_ONCE.min(containers.len()) {
                s.spawn(|| loop {
                    let i = {
                        let Ok(mut n) = next.lock() else { return };
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(src) = containers.get(i) else { return };
                    let targets: Vec<IpAddr> = containers
                        .iter()
                        .filter(|t| t.network == src.network && t.netns != src.netns)
                        .flat_map(|t| {
                            t.addresses()
                                .into_iter()
                                .filter(|a| (a.is_ipv4() && src.ipv4.is_some()) || (a.is_ipv6() && src.ipv6.is_some()))
                        })
                        .collect();
                    match ping_all(&src.netns, &targets) {
                        Ok(res) => {
                            if let Ok(mut r) = results.lock() {
                                for (addr, ok) in res {
                                    if let Some(dst) = by_addr.get(&addr) {
                                        r.push((src.netns.clone(), dst.netns.clone(), addr, ok));
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            if let Ok(mut fe) = first_error.lock() {
                                fe.get_or_insert(e);
                            }
                            return;
                        }
                    }
                });
            }
        });
        if let Some(e) = first_error.into_inner().ok().flatten() {
            return Err(e);
        }
        let results = results.into_inner().unwrap_or_default();
        Ok(self.tabulate(&results))
    }

    fn tabulate(&self, results: &[(String, String, IpAddr, bool)]) -> Reachability {
        let by_ns: HashMap<&str, &Container> = self.containers().map(|c| (c.netns.as_str(), c)).collect();
        // (from, to) → failed addresses (empty: reachable).
        let mut pairs: BTreeMap<(&str, &str), Vec<IpAddr>> = BTreeMap::new();
        for (from, to, addr, ok) in results {
            let e = pairs.entry((from.as_str(), to.as_str())).or_default();
            if !ok {
                e.push(*addr);
            }
        }
        let hosts: Vec<String> = self.spec().hosts.iter().map(|h| h.name.clone()).collect();
        let mut cells: Vec<Cell> = hosts
            .iter()
            .flat_map(|f| {
                hosts.iter().map(move |t| Cell {
                    from: f.clone(),
                    to: t.clone(),
                    ok: 0,
                    failed: 0,
                })
            })
            .collect();
        let mut ok = 0;
        let mut failed = Vec::new();
        for ((from, to), bad) in pairs {
            let (Some(src), Some(dst)) = (by_ns.get(from), by_ns.get(to)) else {
                continue;
            };
            let cell = cells.iter_mut().find(|c| c.from == src.host && c.to == dst.host);
            if bad.is_empty() {
                ok += 1;
                if let Some(c) = cell {
                    c.ok += 1;
                }
            } else {
                if let Some(c) = cell {
                    c.failed += 1;
                }
                failed.push(FailedPair {
                    from: from.to_string(),
                    to: to.to_string(),
                    from_host: src.host.clone(),
                    to_host: dst.host.clone(),
                    network: src.network.clone(),
                    addresses: bad,
                });
            }
        }
        Reachability {
            hosts,
            cells,
            ok,
            failed,
        }
    }

    /// Pings from container `a` to container `b` with DF set: a packet of exactly `mtu`
    /// bytes (IPv4 payload `mtu − 28`) must cross, one of `mtu + 1` must not.
    pub fn max_frame_probe(&self, a: &Container, b: &Container, mtu: u32) -> Result<FrameProbe, LabError> {
        let Some(dst) = b.ipv4 else {
            return Err(LabError::Spec(format!(
                "container `{}` has no IPv4 address to probe",
                b.netns
            )));
        };
        let dst = dst.to_string();
        let size = |extra: u32| mtu.saturating_sub(28).saturating_add(extra).to_string();
        let probe = |payload: String| -> Result<bool, LabError> {
            for _ in 0..2 {
                let out = self.exec(
                    &a.netns,
                    &[
                        "ping", "-n", "-q", "-M", "do", "-c", "1", "-W", "1", "-s", &payload, &dst,
                    ],
                )?;
                if out.status.success() {
                    return Ok(true);
                }
            }
            Ok(false)
        };
        Ok(FrameProbe {
            mtu,
            fits: probe(size(0))?,
            larger_fails: !probe(size(1))?,
        })
    }

    /// Packet counters of every switch port.
    pub fn underlay_counters(&self) -> Result<Vec<PortCounters>, LabError> {
        let command = format!("ip -n {} -s -j link show", self.spec().switch);
        let text = cmd::run("ip", &["-n", &self.spec().switch, "-s", "-j", "link", "show"], None)?;
        let links: serde_json::Value = serde_json::from_str(&text).map_err(|e| LabError::Parse {
            command: command.clone(),
            message: e.to_string(),
        })?;
        let links = links.as_array().cloned().unwrap_or_default();
        let mut out = Vec::new();
        for h in &self.spec().hosts {
            let link = links
                .iter()
                .find(|l| l.get("ifname").and_then(|n| n.as_str()) == Some(h.switch_port.as_str()))
                .ok_or_else(|| LabError::Parse {
                    command: command.clone(),
                    message: format!("no switch port `{}`", h.switch_port),
                })?;
            let get = |dir: &str| {
                link.pointer(&format!("/stats64/{dir}/packets"))
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0)
            };
            out.push(PortCounters {
                host: h.name.clone(),
                port: h.switch_port.clone(),
                rx_packets: get("rx"),
                tx_packets: get("tx"),
            });
        }
        Ok(out)
    }

    fn underlay_rx_total(&self) -> Result<u64, LabError> {
        Ok(self.underlay_counters()?.iter().map(|p| p.rx_packets).sum())
    }

    /// Sends broadcasts from one container per host and network (a broadcast ping, and an
    /// ARP request for an address nobody has), waits for them to finish, then counts
    /// underlay packets over `window`. Without a loop the count stays near zero; a loop
    /// keeps the broadcasts circulating at thousands of packets per second.
    pub fn loop_check(&self, window: Duration) -> Result<LoopCheck, LabError> {
        let mut seen = std::collections::HashSet::new();
        let senders: Vec<&Container> = self
            .containers()
            .filter(|c| seen.insert((c.host.clone(), c.network.clone())))
            .collect();
        let broadcast = "198.51.100.255".to_string();
        let unknown = UNKNOWN_V4.to_string();
        let results: Vec<Result<(), LabError>> = std::thread::scope(|s| {
            let handles: Vec<_> = senders
                .iter()
                .map(|c| {
                    let (b, u) = (&broadcast, &unknown);
                    s.spawn(move || -> Result<(), LabError> {
                        if c.ipv4.is_some() {
                            // Exit status is irrelevant: nobody answers, we only want the frames sent.
                            cmd::netns_exec(
                                &c.netns,
                                &["ping", "-n", "-q", "-b", "-c", "2", "-i", "0.2", "-w", "1", b],
                            )?;
                            cmd::netns_exec(&c.netns, &["ping", "-n", "-q", "-c", "1", "-w", "1", u])?;
                        } else {
                            let all = format!("ff02::1%{}", c.ifname);
                            cmd::netns_exec(&c.netns, &["ping", "-n", "-q", "-c", "2", "-i", "0.2", "-w", "1", &all])?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(LabError::ThreadPanicked {
                            name: "loop check".into(),
                        })
                    })
                })
                .collect()
        });
        for r in results {
            r?;
        }
        let start = Instant::now();
        let before = self.underlay_rx_total()?;
        std::thread::sleep(window);
        let after = self.underlay_rx_total()?;
        let elapsed = start.elapsed();
        let packets = after.saturating_sub(before);
        let pps = packets as f64 / elapsed.as_secs_f64().max(0.001);
        Ok(LoopCheck {
            broadcasts: senders.len(),
            packets,
            window_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            packets_per_second: pps,
            storm: pps > STORM_PPS,
        })
    }
}

/// Pings every target from `netns` at once (one shell, one `ping` per target), retrying a
/// failed target once; returns (target, answered).
fn ping_all(netns: &str, targets: &[IpAddr]) -> Result<Vec<(IpAddr, bool)>, LabError> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = targets.iter().map(ToString::to_string).collect();
    // Addresses are formatted by Rust (digits, dots, colons): nothing to quote.
    let script = format!(
        "for t in {}; do ( if ping -n -q -c 1 -W 1 \"$t\" >/dev/null 2>&1 || ping -n -q -c 1 -W 2 \"$t\" >/dev/null 2>&1; \
         then echo \"ok $t\"; else echo \"fail $t\"; fi ) & done; wait",
        list.join(" ")
    );
    let out = cmd::netns_exec(netns, &["sh", "-c", &script])?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: format!("ip netns exec {netns} sh -c <ping loop>"),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut res = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(word), Some(addr)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Ok(addr) = addr.parse::<IpAddr>() {
            res.push((addr, word == "ok"));
        }
    }
    // A target the shell never reported (killed ping) counts as failed.
    for t in targets {
        if !res.iter().any(|(a, _)| a == t) {
            res.push((*t, false));
        }
    }
    Ok(res)
}
