//! `lab check`: reachability matrix, largest frame, loop check and (optionally) throughput,
//! as one report printed as text or JSON.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use vxlan_mesh_core::Encryption;
use vxlan_mesh_lab::{Container, Lab, LoopCheck, Reachability};

use super::state::LabState;
use crate::progress::Progress;

/// How long the loop check counts underlay packets.
const LOOP_WINDOW: Duration = Duration::from_millis(1500);

/// Everything `lab check` found.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Lab tag.
    pub lab: String,
    /// Inventory the lab was built from.
    pub inventory: String,
    /// How it was deployed.
    pub via: String,
    /// Whether the mesh runs inside WireGuard (`wireguard`) or not (`none`).
    pub encryption: Encryption,
    /// Every container pinged every other container of its network (`None`: not probed,
    /// the underlay storms).
    pub reachability: Option<Reachability>,
    /// Full-size frames from the first host's container to every other host's.
    pub frames: Vec<Frame>,
    /// Underlay packet rate after broadcasts.
    pub loop_check: LoopCheck,
    /// Goodput over the overlay and the underlay.
    pub throughput: Option<Throughput>,
    /// Whether every check passed.
    pub ok: bool,
}

/// One `ping -M do` probe at the plan MTU.
#[derive(Debug, Serialize)]
pub struct Frame {
    pub network: String,
    pub from_host: String,
    pub to_host: String,
    pub mtu: u32,
    pub fits: bool,
    pub larger_fails: bool,
}

/// iperf3 TCP goodput, overlay (container→container) against underlay (host→host): over
/// the underlay itself in a clear mesh, over the WireGuard link alone (between the hosts'
/// inner addresses, through the same wireguard-go) in an encrypted one.
#[derive(Debug, Serialize)]
pub struct Throughput {
    pub from_host: String,
    pub to_host: String,
    pub seconds: u32,
    /// What the host→host run crossed: `underlay` or `wireguard`.
    pub underlay_path: &'static str,
    /// The address the host→host run connected to.
    pub underlay_address: IpAddr,
    pub overlay_bits_per_second: f64,
    pub underlay_bits_per_second: f64,
    pub ratio: f64,
}

pub fn run(lab: &Lab, st: &LabState, throughput_seconds: Option<u32>, quiet: bool) -> Result<Report> {
    let mut progress = Progress::phases(quiet);
    // The loop check comes first: during a storm every other probe drowns (pings are lost,
    // `ip` commands time out), and a storm is what there is to report.
    progress.show("checking: loop");
    let loop_check = lab.loop_check(LOOP_WINDOW)?;
    let mut report = Report {
        lab: lab.spec().tag.clone(),
        inventory: st.inventory.display().to_string(),
        via: st.via.clone(),
        encryption: if lab.spec().hosts.iter().any(|h| h.inner_address.is_some()) {
            Encryption::Wireguard
        } else {
            Encryption::None
        },
        reachability: None,
        frames: Vec::new(),
        loop_check,
        throughput: None,
        ok: false,
    };
    if report.loop_check.storm {
        progress.clear();
        return Ok(report);
    }
    progress.show("checking: ping matrix");
    let reachability = lab.ping_matrix()?;
    progress.show("checking: largest frame");
    report.frames = frames(lab)?;
    if let Some(seconds) = throughput_seconds {
        progress.show("checking: throughput");
        report.throughput = Some(measure(lab, seconds)?);
    }
    progress.clear();
    report.ok = reachability.is_full() && report.frames.iter().all(|f| f.fits && f.larger_fails);
    report.reachability = Some(reachability);
    Ok(report)
}

/// First container of each network on the first host that has it, and the first container
/// of the same network on every other host.
fn probe_pairs(lab: &Lab) -> Vec<(&Container, &Container)> {
    let mut pairs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for c in lab.containers() {
        if c.index != 0 || !seen.insert(c.network.clone()) {
            continue;
        }
        for d in lab.containers() {
            if d.index == 0 && d.network == c.network && d.host != c.host {
                pairs.push((c, d));
            }
        }
    }
    pairs
}

/// Probes run in parallel: a failing probe waits for its timeout.
fn frames(lab: &Lab) -> Result<Vec<Frame>> {
    let pairs = probe_pairs(lab);
    let results: Vec<Result<Frame>> = std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .iter()
            .map(|(a, b)| {
                s.spawn(move || -> Result<Frame> {
                    let p = lab.max_frame_probe(a, b, a.mtu)?;
                    Ok(Frame {
                        network: a.network.clone(),
                        from_host: a.host.clone(),
                        to_host: b.host.clone(),
                        mtu: p.mtu,
                        fits: p.fits,
                        larger_fails: p.larger_fails,
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("frame probe thread panicked")))
            })
            .collect()
    });
    results.into_iter().collect()
}

fn measure(lab: &Lab, seconds: u32) -> Result<Throughput> {
    let Some((a, b)) = probe_pairs(lab).into_iter().next() else {
        anyhow::bail!("throughput needs two hosts with containers on one network");
    };
    let ha = lab.host(&a.host)?;
    let hb = lab.host(&b.host)?;
    let Some(b_addr) = b.ipv4 else {
        anyhow::bail!("container `{}` has no IPv4 address", b.netns);
    };
    // Encrypted: the baseline is WireGuard alone, so the ratio is what VXLAN costs on top.
    let (underlay_path, underlay_address) = match hb.inner_address {
        Some(inner) => ("wireguard", inner),
        None => ("underlay", hb.address),
    };
    let underlay = lab.iperf3(&ha.netns, &hb.netns, underlay_address, seconds)?;
    let overlay = lab.iperf3(&a.netns, &b.netns, b_addr.into(), seconds)?;
    Ok(Throughput {
        from_host: a.host.clone(),
        to_host: b.host.clone(),
        seconds,
        underlay_path,
        underlay_address,
        overlay_bits_per_second: overlay.bits_per_second,
        underlay_bits_per_second: underlay.bits_per_second,
        ratio: if underlay.bits_per_second > 0.0 {
            overlay.bits_per_second / underlay.bits_per_second
        } else {
            0.0
        },
    })
}

impl Report {
    pub fn render_text(&self) -> String {
        let encrypted = match self.encryption {
            Encryption::None => String::new(),
            other => format!(", encrypted: {}", other.as_str()),
        };
        let mut s = format!(
            "lab `{}` ({}, deployed via {}{encrypted})\n\n",
            self.lab, self.inventory, self.via
        );
        match &self.reachability {
            Some(r) => {
                s.push_str("reachability (reachable container pairs / pairs, per host pair):\n");
                s.push_str(&r.render_text());
            }
            None => s.push_str("reachability: not probed, the underlay storms (see the loop check)\n"),
        }
        s.push_str("\nlargest frame (ping -M do at the plan MTU, and one byte more):\n");
        for f in &self.frames {
            let verdict = match (f.fits, f.larger_fails) {
                (true, true) => "ok".to_string(),
                (false, _) => format!("FAIL: {} bytes do not cross", f.mtu),
                (true, false) => format!("FAIL: {} bytes cross, above the MTU", f.mtu + 1),
            };
            s.push_str(&format!(
                "  {} {} -> {}: mtu {} {verdict}\n",
                f.network, f.from_host, f.to_host, f.mtu
            ));
        }
        let l = &self.loop_check;
        s.push_str(&format!(
            "\nloop check: {} underlay packets in {:.1}s after {} broadcasts ({:.0}/s): {}\n",
            l.packets,
            l.window_ms as f64 / 1000.0,
            l.broadcasts,
            l.packets_per_second,
            if l.storm { "STORM" } else { "no storm" }
        ));
        if let Some(t) = &self.throughput {
            let baseline = match t.underlay_path {
                "wireguard" => "WireGuard link alone",
                _ => "underlay",
            };
            s.push_str(&format!(
                "\nthroughput {} -> {} (iperf3 TCP, {}s): overlay {:.2} Gbit/s, {baseline} {:.2} Gbit/s (host -> {}), ratio {:.3}\n",
                t.from_host,
                t.to_host,
                t.seconds,
                t.overlay_bits_per_second / 1e9,
                t.underlay_bits_per_second / 1e9,
                t.underlay_address,
                t.ratio
            ));
        }
        s.push_str(&format!("\nresult: {}\n", if self.ok { "OK" } else { "FAILED" }));
        s
    }
}
