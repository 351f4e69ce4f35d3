//! `vxlan-mesh probe`: from this host to every peer of its plan, over the underlay, is the
//! peer reachable and does the path carry the plan's MTU?
//!
//! The search and the verdicts are the core's ([`vxlan_mesh_core::probe`]); this module sends
//! the probes. They are iputils `ping` runs (`-M do`: don't fragment, `-s`: size) rather than a
//! socket of our own: an ICMP echo with DF set needs a raw socket (a ping socket is disabled by
//! `net.ipv4.ping_group_range` in a new network namespace), hand-built ICMP packets with their
//! checksums, replies told apart from other processes' and `IP_MTU_DISCOVER`, which `nix` 0.30
//! does not wrap (only a further dependency such as `rustix` would, without `unsafe`, which the
//! crate forbids). `ping` does all of it (Debian package iputils-ping) and reports the path MTU the
//! kernel learnt (a router's "fragmentation needed" or the route's cached value), which the
//! search uses to skip ahead.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use vxlan_mesh_core::probe::{self, MtuSearch, Outcome, PeerReport, ProbeReport, Probed, Target, Verdict};
use vxlan_mesh_core::Family;

use crate::cli::{Cli, OutputFormat};
use crate::{inventory_file, output};

/// Exit code when a peer is unreachable or its path does not carry the plan's MTU.
const PATH_FAILED: u8 = 3;

/// Peers probed at once. Probes are mostly waiting (for an answer, or for the timeout of a
/// peer that is down), so many run in parallel; the bound keeps process spawning from
/// swamping a small machine and the count of peers that are down from multiplying the wait
/// beyond `ceil(down / WORKERS)` timeouts.
const WORKERS: usize = 32;

/// Largest `--timeout`, in seconds.
const MAX_TIMEOUT_SECS: f64 = 60.0;

/// `--timeout`: seconds, fractions allowed, above 0 and at most [`MAX_TIMEOUT_SECS`].
fn timeout_from_secs(secs: f64) -> Result<Duration> {
    if secs > 0.0 && secs <= MAX_TIMEOUT_SECS {
        Ok(Duration::from_secs_f64(secs))
    } else {
        bail!("`--timeout` `{secs}`: give seconds above 0 and at most {MAX_TIMEOUT_SECS}, such as `1` or `0.5`")
    }
}

pub fn run(cli: &Cli, host: Option<&str>, format: OutputFormat, timeout_secs: f64) -> Result<ExitCode> {
    let timeout = timeout_from_secs(timeout_secs)?;
    let fleet = inventory_file::load(&cli.inventory)?;
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = fleet.plan(&host.name)?;
    source_is_here(&plan.host, plan.address)?;
    let targets = probe::targets(&fleet, &plan);
    let ping = Ping::find(plan.address, timeout)?;
    let peers = probe_all(&ping, &targets)?;
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let report = ProbeReport::new(&plan, timeout_ms, peers);
    match format {
        OutputFormat::Json => output::println(&serde_json::to_string_pretty(&report)?)?,
        OutputFormat::Text => output::print(&text(&report, timeout, cli.quiet))?,
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(PATH_FAILED)
    })
}

/// Probes leave from the host's underlay address, as its tunnels' packets do: from another
/// machine they would test another machine's paths (and `ping -I` with an address that is not
/// assigned here only times out), so that is an error. Binding a socket to the address is
/// the kernel's own answer to whether it is assigned here.
fn source_is_here(host: &str, address: IpAddr) -> Result<()> {
    std::net::UdpSocket::bind((address, 0)).map(drop).map_err(|e| {
        anyhow!(
            "host `{}`: its underlay address `{address}` is not assigned on this machine ({e}); run `probe` on that host, or name this one with --host",
            host.escape_debug()
        )
    })
}

/// Probes every target with a pool of [`WORKERS`] threads; reports in the targets' order.
fn probe_all(ping: &Ping, targets: &[Target]) -> Result<Vec<PeerReport>> {
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Result<PeerReport>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..WORKERS.min(targets.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(t) = targets.get(i) else { break done };
                        done.push((i, probe_peer(ping, t)));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            match worker.join() {
                Ok(done) => all.extend(done),
                Err(_) => all.push((usize::MAX, Err(anyhow!("a probe worker thread panicked")))),
            }
        }
        all
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Reachability first (a small packet), then the path MTU search.
fn probe_peer(ping: &Ping, target: &Target) -> Result<PeerReport> {
    let probed = match ping.send(target.address, None)? {
        Answer::Failed { detail, .. } => Probed::Unreachable { detail },
        Answer::Passed => {
            let family = target.family;
            let (path, probes) = MtuSearch::new(target.floor, target.ceiling).run(|size| {
                Ok::<_, anyhow::Error>(match ping.send(target.address, Some((size, family)))? {
                    Answer::Passed => Outcome::Passed,
                    Answer::Failed { hint, .. } => Outcome::Failed { hint },
                })
            })?;
            Probed::Reachable { path, probes }
        }
    };
    Ok(PeerReport::new(target, probed))
}

/// What one `ping` said.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Passed,
    Failed {
        /// The path MTU `ping` reported with the failure.
        hint: Option<u32>,
        /// Why, in `ping`'s words, or "no reply within …".
        detail: String,
    },
}

/// iputils `ping`, found once.
struct Ping {
    program: PathBuf,
    /// This host's underlay address: the source of the probes, as of the tunnels' packets
    /// (a policy route by source would otherwise be missed).
    source: IpAddr,
    timeout: Duration,
}

/// The program's name and package, for errors.
const PING: &str = "`ping` (Debian package iputils-ping)";

impl Ping {
    /// Finds `ping` in `$PATH`, else in /usr/bin or /bin (where Debian puts it; a root shell's
    /// or a unit's `PATH` may lack them).
    fn find(source: IpAddr, timeout: Duration) -> Result<Ping> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
            .map(|dir| dir.join("ping"))
            .find(|p| p.is_file())
            .map(|program| Ping {
                program,
                source,
                timeout,
            })
            .ok_or_else(|| anyhow!("cannot find {PING} in PATH, /usr/bin or /bin; install it to use `probe`"))
    }

    /// One echo request to `to` within the timeout: a default-sized one, or one of exactly
    /// `size` bytes (IP header included) with fragmentation prohibited.
    fn send(&self, to: IpAddr, size: Option<(u32, Family)>) -> Result<Answer> {
        let args = self.args(to, size);
        let spawn_error = || format!("cannot run {PING} at `{}`", self.program.display());
        let mut child = Command::new(&self.program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its messages are parsed (`mtu=`, `From …`): no translation.
            .env("LC_ALL", "C")
            .spawn()
            .with_context(spawn_error)?;
        // A size above the path MTU the kernel has cached is refused at once (`local error:
        // message too long, mtu=1400`), but `ping` still waits out its timeout: the answer is
        // known, so stop it (it writes little to stdout, which cannot fill its pipe meanwhile).
        let mut stderr = String::new();
        let mut refused = false;
        if let Some(pipe) = child.stderr.take() {
            for line in BufReader::new(pipe).lines() {
                let line = line.with_context(spawn_error)?;
                stderr.push_str(&line);
                stderr.push('\n');
                if line.contains("local error") && mtu_hint(&line).is_some() {
                    refused = true;
                    // Only this child, by its handle; it may have exited already.
                    let _ = child.kill();
                    break;
                }
            }
        }
        let out = child.wait_with_output().with_context(spawn_error)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if refused {
            return Ok(Answer::Failed {
                hint: mtu_hint(&stderr),
                detail: failure_detail(&stdout, &stderr, self.timeout),
            });
        }
        match out.status.code() {
            Some(0) => Ok(Answer::Passed),
            // 1: no reply. 2: another error (no route, ...): for the reachability probe
            // that is an unreachable peer; for a sized one, after the peer answered, it is
            // `ping` failing (an unknown option, say), which must not pass for a small path.
            Some(1) => Ok(Answer::Failed {
                hint: mtu_hint(&stdout).or_else(|| mtu_hint(&stderr)),
                detail: failure_detail(&stdout, &stderr, self.timeout),
            }),
            Some(2) if size.is_none() => Ok(Answer::Failed {
                hint: None,
                detail: failure_detail(&stdout, &stderr, self.timeout),
            }),
            _ => bail!(
                "{PING} failed ({}): `{} {}`: {}",
                out.status,
                self.program.display(),
                args.join(" "),
                stderr.trim()
            ),
        }
    }

    /// `ping`'s arguments: numeric output, one request, the timeout, the source address, and
    /// for a sized probe DF and the ICMP payload that makes a packet of `size` bytes.
    fn args(&self, to: IpAddr, size: Option<(u32, Family)>) -> Vec<String> {
        let mut args: Vec<String> = ["-n", "-c", "1", "-W"].map(String::from).to_vec();
        args.push(self.timeout.as_secs_f64().to_string());
        args.extend(["-I".to_string(), self.source.to_string()]);
        if let Some((size, family)) = size {
            args.extend(["-M", "do", "-s"].map(String::from));
            args.push(size.saturating_sub(echo_headers(family)).to_string());
        }
        args.push(to.to_string());
        args
    }
}

/// Bytes of an ICMP echo packet around its payload: the IP header (20 for IPv4, 40 for IPv6)
/// and the ICMP header (8). `ping -s` takes the payload.
fn echo_headers(family: Family) -> u32 {
    match family {
        Family::V4 => 20 + 8,
        Family::V6 => 40 + 8,
    }
}

/// The path MTU in a `ping` failure: `Frag needed and DF set (mtu = 1400)` (IPv4, from a
/// router), `Packet too big: mtu=1400` (IPv6), `local error: message too long, mtu=1400` or
/// `mtu: 1400` (IPv4 or IPv6: the kernel's cached value).
fn mtu_hint(text: &str) -> Option<u32> {
    let at = text.find("mtu")? + "mtu".len();
    let rest = text.get(at..)?.trim_start_matches([' ', '=', ':']);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `ping`'s error line, or the ICMP error it received, or that no reply came in time.
fn failure_detail(stdout: &str, stderr: &str, timeout: Duration) -> String {
    if let Some(line) = stderr.lines().map(str::trim).find(|l| !l.is_empty()) {
        return line.trim_start_matches("ping: ").to_string();
    }
    // `From 192.0.2.18 icmp_seq=1 Destination Net Unreachable`
    let icmp_error = stdout.lines().find_map(|l| {
        let mut words = l.trim().strip_prefix("From ")?.splitn(3, ' ');
        let from = words.next()?;
        let _seq = words.next()?;
        Some(format!("{} (from {from})", words.next()?.trim()))
    });
    icmp_error.unwrap_or_else(|| format!("no reply within {}", seconds(timeout)))
}

/// `1s`, `0.5s`.
fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// The report as a table, one line per peer, then a summary.
fn text(report: &ProbeReport, timeout: Duration, quiet: bool) -> String {
    let mut s = String::new();
    let family = match report.family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    };
    if !quiet {
        let _ = writeln!(
            s,
            "probe from {} ({}) to {} peer(s) over {family} · timeout {} per probe",
            report.host,
            report.address,
            report.peers.len(),
            seconds(timeout)
        );
    }
    let _ = writeln!(
        s,
        "  {:<16} {:<24} {:>8} {:>6}  RESULT",
        "PEER", "ADDRESS", "PATH MTU", "NEEDS"
    );
    for p in &report.peers {
        let path = match (p.verdict, p.path_mtu) {
            (Verdict::BelowFloor, _) => format!("<{}", p.floor),
            (_, Some(m)) => m.to_string(),
            (_, None) => "-".to_string(),
        };
        let _ = writeln!(
            s,
            "  {:<16} {:<24} {:>8} {:>6}  {}",
            p.peer,
            p.address.to_string(),
            path,
            p.needed,
            result(p)
        );
    }
    if !quiet {
        let fit = report.peers.iter().filter(|p| p.verdict.ok()).count();
        let _ = writeln!(s, "{fit} of {} peer(s) fit", report.peers.len());
    }
    s
}

/// The RESULT column: the verdict and what it means for the plan.
fn result(p: &PeerReport) -> String {
    let verdict = p.verdict.as_str();
    match p.verdict {
        Verdict::TooSmall => format!(
            "{verdict}: network {} needs {} bytes (container MTU {}); this path allows container MTU {}",
            p.network,
            p.needed,
            p.container_mtu,
            p.max_container_mtu.map_or_else(|| "-".to_string(), |m| m.to_string())
        ),
        Verdict::BelowFloor => format!("{verdict}: not even {} bytes pass", p.floor),
        Verdict::Unreachable => format!("{verdict}: {}", p.detail.as_deref().unwrap_or("no reply")),
        _ => verdict.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn ping_reports_of_the_path_mtu_are_read() {
        assert_eq!(
            mtu_hint("From 192.0.2.18 icmp_seq=1 Frag needed and DF set (mtu = 1400)"),
            Some(1400)
        );
        assert_eq!(mtu_hint("ping: local error: message too long, mtu=1400"), Some(1400));
        assert_eq!(mtu_hint("ping: local error: message too long, mtu: 1400"), Some(1400));
        assert_eq!(
            mtu_hint("From 2001:db8:1::2 icmp_seq=1 Packet too big: mtu=1400"),
            Some(1400)
        );
        assert_eq!(mtu_hint("1 packets transmitted, 0 received"), None);
    }

    #[test]
    fn a_sized_probe_sends_exactly_that_many_bytes() {
        let ping = |source: &str, ms| Ping {
            program: PathBuf::from("ping"),
            source: source.parse().unwrap(),
            timeout: Duration::from_millis(ms),
        };
        let (v4, v6) = (ping("192.0.2.2", 500), ping("2001:db8::2", 1000));
        assert_eq!(
            v4.args("192.0.2.1".parse().unwrap(), Some((1400, Family::V4)))
                .join(" "),
            "-n -c 1 -W 0.5 -I 192.0.2.2 -M do -s 1372 192.0.2.1"
        );
        assert_eq!(
            v6.args("2001:db8::1".parse().unwrap(), Some((1400, Family::V6)))
                .join(" "),
            "-n -c 1 -W 1 -I 2001:db8::2 -M do -s 1352 2001:db8::1"
        );
        assert_eq!(
            v4.args("192.0.2.1".parse().unwrap(), None).join(" "),
            "-n -c 1 -W 0.5 -I 192.0.2.2 192.0.2.1"
        );
    }

    #[test]
    fn failures_are_told_in_pings_words() {
        let t = Duration::from_secs(1);
        assert_eq!(
            failure_detail(
                "PING x\nFrom 192.0.2.18 icmp_seq=1 Destination Net Unreachable\n",
                "",
                t
            ),
            "Destination Net Unreachable (from 192.0.2.18)"
        );
        assert_eq!(
            failure_detail("", "ping: connect: Network is unreachable\n", t),
            "connect: Network is unreachable"
        );
        assert_eq!(failure_detail("PING x\n\n--- stats ---\n", "", t), "no reply within 1s");
    }

    #[test]
    fn timeout_must_be_positive_and_bounded() {
        assert_eq!(timeout_from_secs(0.25).unwrap(), Duration::from_millis(250));
        for bad in [0.0, -1.0, 60.5, f64::NAN, f64::INFINITY] {
            let err = timeout_from_secs(bad).unwrap_err().to_string();
            assert!(err.starts_with("`--timeout`"), "{bad}: {err}");
        }
    }
}
