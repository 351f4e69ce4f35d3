//! Verifying a deployed lab: reachability matrix, largest frame, loop check.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::spec::Container;
use crate::{cmd, Lab, LabError};

/// How many pings [`Lab::ping_matrix`] has in flight at once.
///
/// Every first ping to a container costs an ARP (or neighbour solicitation) broadcast that
/// each host replicates to every peer and every container, each copy a trip through a veth
/// into the per-CPU backlog (`net.core.netdev_max_backlog`, 1000). With all 63 targets of
/// 4 to 16 sources pinged at once, a 16-host lab overflowed that backlog (tens of
/// thousands of drops in `/proc/net/softnet_stat`) and lost most pairs.
pub const PINGS_IN_FLIGHT: usize = 12;

/// Underlay packets per second above which [`Lab::loop_check`] reports a storm. A loop
/// shows hundreds of thousands; a quiet 4-host lab shows tens, and a 16-host lab right
/// after its 4,032-pair ping matrix about 900 (neighbour-cache refresh probes).
pub const STORM_PPS: f64 = 20_000.0;

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
    /// How often the kernel's neighbour tables (ARP and ND, shared by every namespace of the
    /// machine, `gc_thresh3` entries) were full during the probes: lost pairs are then the
    /// machine's limit, not the overlay's (see [`neighbour_table_limit`]).
    #[serde(default)]
    pub neighbour_table_overflows: u64,
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
    /// let r = vxlan_mesh_lab::Reachability {
    ///     hosts: vec![],
    ///     cells: vec![],
    ///     ok: 0,
    ///     failed: vec![],
    ///     neighbour_table_overflows: 0,
    /// };
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
    ///     neighbour_table_overflows: 0,
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
        if self.neighbour_table_overflows > 0 {
            s.push_str(&format!(
                "  warning: the kernel's neighbour tables overflowed {} times during the probes \
                 (gc_thresh3 {}, shared by all namespaces): raise net.ipv4.neigh.default.gc_thresh3 \
                 and net.ipv6.neigh.default.gc_thresh3 for labs this large\n",
                self.neighbour_table_overflows,
                neighbour_table_limit()
            ));
        }
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
    /// one `ping` per probe, [`PINGS_IN_FLIGHT`] at a time; a probe unanswered within 1 s is
    /// asked once more (2 s) before the pair counts as failed.
    pub fn ping_matrix(&self) -> Result<Reachability, LabError> {
        let containers: Vec<&Container> = self.containers().collect();
        // The kernel's neighbour tables are shared by every namespace of the machine and
        // refuse new entries past `gc_thresh3`: a full matrix of C containers would need
        // C·(C−1) entries per family at once (4,032 for 16 hosts × 4 containers). So the
        // targets are probed a few at a time, and the containers' neighbour entries are
        // flushed between rounds; a round needs about 2·C entries per target.
        let per_round = targets_per_round(neighbour_table_limit(), containers.len());
        let fulls_before = neighbour_table_fulls();
        let mut results = Vec::new();
        let rounds: Vec<&[&Container]> = containers.chunks(per_round).collect();
        for (i, targets) in rounds.iter().enumerate() {
            // Every (source, target address) probe, interleaved by target so that
            // consecutive probes come from different sources and hosts.
            // Targets are kept with their probes: container addresses repeat across networks.
            let mut probes: Vec<(&Container, IpAddr)> = Vec::new();
            let mut probed: Vec<&Container> = Vec::new();
            for dst in *targets {
                for addr in dst.addresses() {
                    for src in &containers {
                        let same_family =
                            (addr.is_ipv4() && src.ipv4.is_some()) || (addr.is_ipv6() && src.ipv6.is_some());
                        if src.network == dst.network && src.netns != dst.netns && same_family {
                            probes.push((src, addr));
                            probed.push(dst);
                        }
                    }
                }
            }
            let first = run_probes(&probes, 1)?;
            let retry: Vec<(&Container, IpAddr)> = probes
                .iter()
                .zip(&first)
                .filter(|(_, ok)| !**ok)
                .map(|(p, _)| *p)
                .collect();
            let second = run_probes(&retry, 2)?;
            // A last chance for what still fails, for as long as a WireGuard handshake may
            // take: sessions start on the first packet, and a handshake that crossed the
            // peer's is retried only after 5 s (REKEY_TIMEOUT), longer than the containers'
            // ARP resolution waits.
            let late: Vec<usize> = second
                .iter()
                .enumerate()
                .filter(|(_, ok)| !**ok)
                .map(|(i, _)| i)
                .collect();
            let late_probes: Vec<(&Container, IpAddr)> = late.iter().map(|&i| retry[i]).collect();
            let third = run_probes_until(&late_probes, LAST_CHANCE_S)?;
            let mut second = second;
            for (i, ok) in late.into_iter().zip(third) {
                second[i] = ok;
            }
            let mut retried = retry.iter().zip(second);
            for (((src, addr), dst), ok) in probes.iter().zip(&probed).zip(first) {
                // `retry` holds the failed probes in order, so it advances on failures only.
                let ok = ok || retried.next().is_some_and(|(_, ok)| ok);
                results.push((src.netns.clone(), dst.netns.clone(), *addr, ok));
            }
            if i + 1 < rounds.len() {
                flush_neighbours(&containers)?;
            }
        }
        let mut r = self.tabulate(&results);
        r.neighbour_table_overflows = neighbour_table_fulls().saturating_sub(fulls_before);
        Ok(r)
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
            neighbour_table_overflows: 0,
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
        let probe = |payload: String, tries: usize| -> Result<bool, LabError> {
            for _ in 0..tries {
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
            // A lost packet must not fail the probe: one retry.
            fits: probe(size(0), 2)?,
            larger_fails: !probe(size(1), 1)?,
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
        let broadcast = self.spec().container_broadcast().to_string();
        let unknown = self.spec().unknown_v4().to_string();
        let results: Vec<Result<(), LabError>> = std::thread::scope(|s| {
            let handles: Vec<_> = senders
                .iter()
                .map(|c| {
                    let (b, u) = (&broadcast, &unknown);
                    s.spawn(move || -> Result<(), LabError> {
                        // Exit status is irrelevant: nobody answers, we only want the frames sent.
                        let script = if c.ipv4.is_some() {
                            format!("ping -n -q -b -c 2 -i 0.2 -w 1 {b} & ping -n -q -c 1 -w 1 {u} & wait")
                        } else {
                            format!("ping -n -q -c 2 -i 0.2 -w 1 ff02::1%{}", c.ifname)
                        };
                        cmd::netns_exec(&c.netns, &["sh", "-c", &script])?;
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

/// Result of [`Lab::iperf3`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Goodput {
    /// TCP goodput received, bits per second.
    pub bits_per_second: f64,
    /// Seconds measured.
    pub seconds: u32,
}

/// TCP port the lab's iperf3 servers listen on.
pub const IPERF3_PORT: u16 = 5201;

impl Lab {
    /// TCP goodput from namespace `client_ns` to `server_addr`, served by an iperf3 server
    /// started in `server_ns` for this one run (and killed afterwards whatever happens).
    pub fn iperf3(
        &self,
        client_ns: &str,
        server_ns: &str,
        server_addr: IpAddr,
        seconds: u32,
    ) -> Result<Goodput, LabError> {
        self.check_netns(client_ns)?;
        self.check_netns(server_ns)?;
        let port = IPERF3_PORT.to_string();
        let spawn_err = |source| LabError::Spawn {
            program: "iperf3".into(),
            source,
        };
        let server = std::process::Command::new("ip")
            .args(["netns", "exec", server_ns, "iperf3", "-s", "-1", "-p", &port])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(spawn_err)?;
        // Killed on every return path, also when the client fails.
        struct Reap(std::process::Child);
        impl Drop for Reap {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let _server = Reap(server);
        let addr = server_addr.to_string();
        let secs = seconds.max(1).to_string();
        let mut last = None;
        // The server needs a moment to listen: retry a refused connection.
        for _ in 0..50 {
            let out = cmd::netns_exec(client_ns, &["iperf3", "-c", &addr, "-p", &port, "-t", &secs, "-J"])?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            // iperf3 -J reports a refused connection in the JSON, with exit status 0 at times.
            let v: Option<serde_json::Value> = serde_json::from_str(&text).ok();
            let error = v
                .as_ref()
                .and_then(|v| v.get("error"))
                .and_then(serde_json::Value::as_str);
            if out.status.success() && error.is_none() {
                let bps = v
                    .as_ref()
                    .and_then(|v| v.pointer("/end/sum_received/bits_per_second"))
                    .and_then(serde_json::Value::as_f64)
                    .ok_or_else(|| LabError::Parse {
                        command: "iperf3 -J".into(),
                        message: "no end.sum_received.bits_per_second".into(),
                    })?;
                return Ok(Goodput {
                    bits_per_second: bps,
                    seconds: seconds.max(1),
                });
            }
            last = Some(error.map_or(text.clone(), str::to_string));
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = last.unwrap_or_default();
        Err(LabError::Command {
            command: format!("ip netns exec {client_ns} iperf3 -c {addr} -p {port} -t {secs} -J"),
            status: "failed 50 times".into(),
            stderr: out.chars().take(400).collect(),
        })
    }
}

/// Runs one `ping` per probe, [`PINGS_IN_FLIGHT`] at a time, each started from a thread
/// that joined the source's namespace (the child inherits it: no `ip netns exec` per probe).
/// Returns whether each probe was answered within `wait_s` seconds.
fn run_probes(probes: &[(&Container, IpAddr)], wait_s: u32) -> Result<Vec<bool>, LabError> {
    ping_each(probes, &["-c", "1", "-W", &wait_s.to_string()])
}

/// Seconds the last round of [`Lab::ping_matrix`] gives each probe that still fails.
const LAST_CHANCE_S: u32 = 9;

/// Pings each probe again and again (each ping waiting 2 s, an ARP resolution failing
/// after 3) until a reply or `deadline_s`: whether each got one.
fn run_probes_until(probes: &[(&Container, IpAddr)], deadline_s: u32) -> Result<Vec<bool>, LabError> {
    let start = std::time::Instant::now();
    let mut ok = vec![false; probes.len()];
    while start.elapsed().as_secs() < u64::from(deadline_s) {
        let left: Vec<usize> = (0..probes.len()).filter(|&i| !ok[i]).collect();
        if left.is_empty() {
            break;
        }
        let again: Vec<(&Container, IpAddr)> = left.iter().map(|&i| probes[i]).collect();
        for (i, got) in left.into_iter().zip(run_probes(&again, 2)?) {
            ok[i] = got;
        }
    }
    Ok(ok)
}

/// `ping -n -q ARGS ADDRESS` from each probe's container; whether it got a reply.
fn ping_each(probes: &[(&Container, IpAddr)], args: &[&str]) -> Result<Vec<bool>, LabError> {
    parallel_map(probes, |(src, addr)| {
        let addr = addr.to_string();
        let status = crate::run_in_netns(&src.netns, || {
            std::process::Command::new("ping")
                .args(["-n", "-q"])
                .args(args)
                .arg(&addr)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
        })?
        .map_err(|source| LabError::Spawn {
            program: "ping".into(),
            source,
        })?;
        Ok(status.success())
    })
}

/// Runs `f` on every item, [`PINGS_IN_FLIGHT`] items at a time, and returns the results in
/// item order; after the first error no new item is started and that error is returned.
fn parallel_map<T, R, F>(items: &[T], f: F) -> Result<Vec<R>, LabError>
where
    T: Sync,
    R: Send + Default + Clone,
    F: Fn(&T) -> Result<R, LabError> + Sync,
{
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<R>> = Mutex::new(vec![R::default(); items.len()]);
    let first_error: Mutex<Option<LabError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..PINGS_IN_FLIGHT.min(items.len()) {
            s.spawn(|| loop {
                let i = match next.lock() {
                    Ok(mut n) => {
                        *n += 1;
                        *n - 1
                    }
                    Err(_) => return,
                };
                let Some(item) = items.get(i) else { return };
                match f(item) {
                    Ok(r) => {
                        if let Ok(mut all) = results.lock() {
                            all[i] = r;
                        }
                    }
                    Err(e) => {
                        if let Ok(mut fe) = first_error.lock() {
                            fe.get_or_insert(e);
                        }
                        // Stop the other workers too: no new item after an error.
                        if let Ok(mut n) = next.lock() {
                            *n = items.len();
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
    Ok(results.into_inner().unwrap_or_default())
}

/// The kernel's neighbour table limit (`net.ipv4.neigh.default.gc_thresh3`): entries of all
/// namespaces together. Entries younger than 5 s are not garbage-collected, so a ping matrix
/// needing more entries than this loses pairs.
///
/// ```
/// assert!(vxlan_mesh_lab::neighbour_table_limit() > 0);
/// ```
pub fn neighbour_table_limit() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1024)
}

/// How many target containers one round of the ping matrix may probe: a quarter of the
/// machine-wide neighbour limit (other labs and tests share it), at about 2·C entries per
/// target (the sources' entries for it and its entries for the sources).
fn targets_per_round(limit: u64, containers: usize) -> usize {
    let per_target = 2 * containers.max(1) as u64;
    usize::try_from((limit / 4) / per_target).unwrap_or(usize::MAX).max(1)
}

/// Empties the neighbour tables of the containers' namespaces, in parallel.
fn flush_neighbours(containers: &[&Container]) -> Result<(), LabError> {
    parallel_map(containers, |c| {
        cmd::run("ip", &["-n", &c.netns, "neigh", "flush", "all"], None).map(|_| ())
    })
    .map(|_| ())
}

/// `table_fulls` of the ARP and ND tables, summed over CPUs.
fn neighbour_table_fulls() -> u64 {
    ["arp_cache", "ndisc_cache"]
        .iter()
        .map(|t| {
            let text = std::fs::read_to_string(format!("/proc/net/stat/{t}")).unwrap_or_default();
            let mut lines = text.lines();
            let Some(col) = lines
                .next()
                .and_then(|h| h.split_whitespace().position(|c| c == "table_fulls"))
            else {
                return 0;
            };
            lines
                .filter_map(|l| l.split_whitespace().nth(col))
                .filter_map(|v| u64::from_str_radix(v, 16).ok())
                .sum::<u64>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::targets_per_round;

    #[test]
    fn rounds_keep_a_large_lab_within_the_neighbour_limit() {
        // 16 hosts × 4 containers with the default limit of 1024: 2 targets per round,
        // about 256 entries per family at a time instead of 4,032.
        assert_eq!(targets_per_round(1024, 64), 2);
        assert_eq!(targets_per_round(1024, 12), 10);
        assert_eq!(targets_per_round(16, 64), 1);
        assert_eq!(targets_per_round(1 << 20, 64), 2048);
    }
}
