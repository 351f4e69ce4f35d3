//! The pure half of `vxlan-mesh probe`: does the real underlay path to each peer carry what the
//! plan sends over it?
//!
//! [`targets`] says which peers to probe and between which bounds (from the plan and the
//! inventory), [`MtuSearch`] decides which packet size to try next from the answers so far, and
//! [`PeerReport::new`] turns the outcome into a verdict. Sending the probes (don't-fragment
//! packets of a given size) is the caller's job; nothing here does I/O.
//!
//! ```
//! use vxlan_mesh_core::probe::{self, MtuSearch, Outcome, PathMtu, PeerReport, Probed, Verdict};
//!
//! let fleet = vxlan_mesh_core::testing::two_hosts();
//! let plan = fleet.plan("a")?;
//! let target = probe::targets(&fleet, &plan).remove(0);
//! // A router on the way has a 1400-byte link: everything above 1400 fails.
//! let (path, probes) = MtuSearch::new(target.floor, target.ceiling)
//!     .run(|size| Ok::<_, ()>(if size <= 1400 { Outcome::Passed } else { Outcome::Failed { hint: None } }))
//!     .unwrap();
//! assert_eq!(path, PathMtu::Measured(1400));
//! let report = PeerReport::new(&target, Probed::Reachable { path, probes });
//! assert_eq!(report.verdict, Verdict::TooSmall); // the plan's 1450 + 50 needs 1500
//! # Ok::<(), vxlan_mesh_core::PlanError>(())
//! ```

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::fleet::{Family, Fleet};
use crate::mtu;
use crate::plan::HostPlan;

/// Smallest path MTU the search tries: the protocol minimum every link of the family must
/// carry (IPv6: 1280; IPv4: 576, the datagram size every host must accept). These are the same
/// minimums the container MTU rule uses, so they are asked from [`mtu::min_container_mtu`].
pub fn floor(family: Family) -> u32 {
    mtu::min_container_mtu(family == Family::V6).0
}

/// One peer to probe, with everything the verdict needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Target {
    /// The peer's host name.
    pub peer: String,
    /// Where the probes go: where this host's tunnel packets to the peer go, its WireGuard
    /// `endpoint` in an encrypted mesh (behind NAT, not its `address`), else its underlay
    /// `address`.
    pub address: IpAddr,
    /// Underlay family.
    pub family: Family,
    /// Bytes the plan's encapsulation adds to a container's frame on the way to the
    /// underlay (VXLAN, and WireGuard when encrypted): the plan's `overhead`.
    pub overhead: u32,
    /// Smallest size searched ([`floor`]); a path that does not carry it is reported as
    /// below the floor.
    pub floor: u32,
    /// Largest size searched: the smaller `underlay-mtu` of the two ends. The search never
    /// goes above what the inventory promises.
    pub ceiling: u32,
    /// The network shared with the peer whose container MTU is largest (the one that needs
    /// the most of the path).
    pub network: String,
    /// That network's container MTU, from the plan.
    pub container_mtu: u32,
}

impl Target {
    /// Largest underlay packet the plan sends to this peer: the container MTU plus the
    /// encapsulation's overhead.
    pub fn needed(&self) -> u32 {
        self.container_mtu.saturating_add(self.overhead)
    }

    /// The largest container MTU a path of `path_mtu` bytes carries.
    pub fn overlay_mtu(&self, path_mtu: u32) -> u32 {
        path_mtu.saturating_sub(self.overhead)
    }

    /// Whether the plan's container MTU fits a path of `path_mtu` bytes.
    pub fn fits(&self, path_mtu: u32) -> bool {
        self.container_mtu <= self.overlay_mtu(path_mtu)
    }
}

/// The peers of `plan` (the plan of a host of `fleet`), in the plan's order, each with the
/// bounds of its search and the container MTU it must carry.
///
/// ```
/// let fleet = vxlan_mesh_core::testing::two_hosts();
/// let t = vxlan_mesh_core::probe::targets(&fleet, &fleet.plan("a")?);
/// assert_eq!((t[0].peer.as_str(), t[0].floor, t[0].ceiling, t[0].needed()), ("b", 576, 1500, 1500));
/// # Ok::<(), vxlan_mesh_core::PlanError>(())
/// ```
pub fn targets(fleet: &Fleet, plan: &HostPlan) -> Vec<Target> {
    let me = fleet.host(&plan.host);
    plan.peers
        .iter()
        .filter_map(|peer| {
            let other = fleet.host(&peer.name)?;
            // Networks both ends join; the plan's networks are this host's.
            let shared = plan.networks.iter().filter(|net| {
                other
                    .networks
                    .iter()
                    .any(|&i| fleet.networks.get(i).is_some_and(|n| n.name == net.name))
            });
            let widest = shared.max_by_key(|net| net.mtu)?;
            let ceiling = me.map_or(plan.underlay_mtu, |m| m.underlay_mtu).min(other.underlay_mtu);
            // WireGuard's packets go to the endpoint (the address itself unless one is given).
            let address = other.wireguard.as_ref().map_or(peer.address, |w| w.endpoint.ip());
            Some(Target {
                peer: peer.name.clone(),
                address,
                family: plan.family,
                overhead: plan.overhead,
                floor: floor(plan.family).min(ceiling),
                ceiling,
                network: widest.name.clone(),
                container_mtu: widest.mtu,
            })
        })
        .collect()
}

/// What one don't-fragment probe of a given size did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The echo came back.
    Passed,
    /// No echo.
    Failed {
        /// The path MTU the kernel reported with the failure (a router's "fragmentation
        /// needed" / "packet too big", or the route's cached path MTU), if any.
        hint: Option<u32>,
    },
}

/// The measured path MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "mtu")]
#[non_exhaustive]
pub enum PathMtu {
    /// The largest size that passed (the ceiling when the ceiling itself passed: the path may
    /// carry more, the search does not look above what the inventory promises).
    Measured(u32),
    /// Even the floor did not pass, while a small packet did.
    BelowFloor,
}

/// Binary search for the path MTU between a floor and a ceiling; [`run`](Self::run) asks the
/// caller to send each probe.
///
/// It tries the ceiling first (a healthy path answers in one probe), then the floor, then
/// halves the interval. A failure that comes with the kernel's path MTU (`hint`) is used:
/// sizes above it are known to fail (the kernel refuses them from now on), and the hint is the
/// next size tried, so a path whose routers report their MTU is measured in two probes. A path
/// that drops big packets silently (an MTU black hole) costs about 2 + log2(ceiling − floor).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MtuSearch {
    floor: u32,
    ceiling: u32,
    /// Largest size that passed.
    passed: Option<u32>,
    /// Smallest size known to fail.
    failed: Option<u32>,
    /// Next size to try, from the kernel's report.
    hint: Option<u32>,
    probes: u32,
}

impl MtuSearch {
    /// A search between `floor` and `ceiling` (a floor above the ceiling is lowered to it).
    ///
    /// ```
    /// use vxlan_mesh_core::probe::{MtuSearch, Outcome, PathMtu};
    /// let mut sent = Vec::new();
    /// let found = MtuSearch::new(1280, 1500).run(|size| {
    ///     sent.push(size);
    ///     Ok::<_, ()>(Outcome::Passed)
    /// });
    /// assert_eq!((found, sent), (Ok((PathMtu::Measured(1500), 1)), vec![1500]));
    /// ```
    pub fn new(floor: u32, ceiling: u32) -> Self {
        MtuSearch {
            floor: floor.min(ceiling),
            ceiling,
            passed: None,
            failed: None,
            hint: None,
            probes: 0,
        }
    }

    /// The next size to probe, or `None` when the search is over.
    fn next_size(&self) -> Option<u32> {
        let Some(failed) = self.failed else {
            // Nothing failed yet: the ceiling is the first probe, and its passing ends it.
            return self.passed.is_none().then_some(self.ceiling);
        };
        // Sizes strictly between `low` and `failed` are unknown.
        let low = match self.passed {
            Some(p) => p,
            None if failed <= self.floor => return None,
            None => self.floor.saturating_sub(1),
        };
        if low.saturating_add(1) >= failed {
            return None;
        }
        if let Some(h) = self.hint.filter(|&h| low < h && h < failed) {
            return Some(h);
        }
        Some(match self.passed {
            None => self.floor,
            Some(p) => p + (failed - p) / 2,
        })
    }

    /// Records the outcome of the probe of `size` bytes.
    fn record(&mut self, size: u32, outcome: Outcome) {
        self.probes = self.probes.saturating_add(1);
        match outcome {
            Outcome::Passed => self.passed = Some(self.passed.map_or(size, |p| p.max(size))),
            Outcome::Failed { hint } => {
                let mut failed = self.failed.map_or(size, |f| f.min(size));
                // A kernel report below the size tried bounds the path; one at or above it
                // says nothing new (and a nonsensical one is ignored).
                if let Some(h) = hint.filter(|&h| h < size) {
                    failed = failed.min(h.saturating_add(1).max(self.floor));
                    self.hint = Some(h);
                }
                self.failed = Some(failed);
            }
        }
    }

    /// Runs the search to its end: `probe(size)` sends one don't-fragment probe of `size`
    /// bytes (IP header included) and says what happened; its first error ends the search.
    /// Returns the path MTU and the number of probes sent.
    pub fn run<E>(mut self, mut probe: impl FnMut(u32) -> Result<Outcome, E>) -> Result<(PathMtu, u32), E> {
        while let Some(size) = self.next_size() {
            let outcome = probe(size)?;
            self.record(size, outcome);
        }
        let path = match self.passed {
            Some(p) => PathMtu::Measured(p),
            None => PathMtu::BelowFloor,
        };
        Ok((path, self.probes))
    }
}

/// What probing one peer found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Probed {
    /// No answer to a small packet within the timeout.
    Unreachable {
        /// Why, as the probing tool said it (e.g. "no reply within 1s").
        detail: String,
    },
    /// The peer answered; the path MTU search ended with `path`.
    Reachable {
        /// The search's result.
        path: PathMtu,
        /// Sized probes sent.
        probes: u32,
    },
}

/// A peer's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Verdict {
    /// Reachable, and the path carries the plan's largest packet.
    Fits,
    /// Reachable, but the path MTU is smaller than the plan's largest packet.
    TooSmall,
    /// Reachable, but not even the floor passed.
    BelowFloor,
    /// No answer within the timeout.
    Unreachable,
}

impl Verdict {
    /// Whether this verdict is a success.
    pub fn ok(self) -> bool {
        self == Verdict::Fits
    }

    /// Lower-case words for text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Fits => "fits",
            Verdict::TooSmall => "too small",
            Verdict::BelowFloor => "below floor",
            Verdict::Unreachable => "unreachable",
        }
    }
}

/// One peer's line of the report (`probe --format json`: an element of `peers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PeerReport {
    /// The peer's host name.
    pub peer: String,
    /// Where the probes went ([`Target::address`]).
    pub address: IpAddr,
    /// The verdict.
    pub verdict: Verdict,
    /// Whether it answered a small packet.
    pub reachable: bool,
    /// The measured path MTU; `None` when unreachable or below the floor.
    pub path_mtu: Option<u32>,
    /// Largest size searched: the smaller `underlay-mtu` of the two ends.
    pub ceiling: u32,
    /// Smallest size searched.
    pub floor: u32,
    /// The shared network with the largest container MTU.
    pub network: String,
    /// Its container MTU.
    pub container_mtu: u32,
    /// The underlay packet size that container MTU needs (container MTU + VXLAN overhead).
    pub needed: u32,
    /// The largest container MTU the measured path allows (`None` when unreachable or below
    /// the floor).
    pub max_container_mtu: Option<u32>,
    /// Sized probes sent.
    pub probes: u32,
    /// Why the peer is unreachable.
    pub detail: Option<String>,
}

impl PeerReport {
    /// The report for `target` given what probing it found.
    ///
    /// ```
    /// use vxlan_mesh_core::probe::{self, PeerReport, Probed, Verdict};
    /// let fleet = vxlan_mesh_core::testing::two_hosts();
    /// let target = probe::targets(&fleet, &fleet.plan("a")?).remove(0);
    /// let r = PeerReport::new(&target, Probed::Unreachable { detail: "no reply within 1s".into() });
    /// assert_eq!((r.verdict, r.path_mtu), (Verdict::Unreachable, None));
    /// # Ok::<(), vxlan_mesh_core::PlanError>(())
    /// ```
    pub fn new(target: &Target, probed: Probed) -> Self {
        let (verdict, path_mtu, probes, detail) = match probed {
            Probed::Unreachable { detail } => (Verdict::Unreachable, None, 0, Some(detail)),
            Probed::Reachable {
                path: PathMtu::BelowFloor,
                probes,
            } => (Verdict::BelowFloor, None, probes, None),
            Probed::Reachable {
                path: PathMtu::Measured(m),
                probes,
            } => {
                let verdict = if target.fits(m) {
                    Verdict::Fits
                } else {
                    Verdict::TooSmall
                };
                (verdict, Some(m), probes, None)
            }
        };
        PeerReport {
            peer: target.peer.clone(),
            address: target.address,
            verdict,
            reachable: verdict != Verdict::Unreachable,
            path_mtu,
            ceiling: target.ceiling,
            floor: target.floor,
            network: target.network.clone(),
            container_mtu: target.container_mtu,
            needed: target.needed(),
            max_container_mtu: path_mtu.map(|m| target.overlay_mtu(m)),
            probes,
            detail,
        }
    }
}

/// The whole report of `probe` (`--format json` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProbeReport {
    /// Version of this JSON layout.
    pub schema: u32,
    /// The host probed from.
    pub host: String,
    /// Its underlay address.
    pub address: IpAddr,
    /// Underlay family.
    pub family: Family,
    /// Per-probe timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Whether every peer fits.
    pub ok: bool,
    /// One entry per peer of the plan, in the plan's order.
    pub peers: Vec<PeerReport>,
}

/// The current [`ProbeReport::schema`].
pub const REPORT_SCHEMA: u32 = 1;

impl ProbeReport {
    /// The report of `plan`'s host from its peers' reports.
    pub fn new(plan: &HostPlan, timeout_ms: u64, peers: Vec<PeerReport>) -> Self {
        ProbeReport {
            schema: REPORT_SCHEMA,
            host: plan.host.clone(),
            address: plan.address,
            family: plan.family,
            timeout_ms,
            ok: peers.iter().all(|p| p.verdict.ok()),
            peers,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::Inventory;
    use proptest::prelude::*;

    #[test]
    fn an_encrypted_peer_is_probed_at_its_endpoint() {
        let text = "encryption = \"wireguard\"\n[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n\
                    [[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\npublic-key = \"yqLoGkczmD/xXZPf6IcZm07lVt+bJFwpIj62fkJt23o=\"\n\
                    [[hosts]]\nname = \"b\"\naddress = \"10.0.0.2\"\nendpoint = \"198.51.100.7:40000\"\n\
                    public-key = \"1VY4lZYnYrHKR8drJcLOjvYyqts+9ocnTXoTmNI+MjU=\"\n\
                    [[hosts]]\nname = \"c\"\naddress = \"192.0.2.3\"\npublic-key = \"Rv4Otndn0+l632AjSfd4VOyAzxLAVrJVMro4o9sRtC0=\"\n";
        let fleet = Inventory::from_toml_str(text).unwrap().validate().unwrap();
        let to: Vec<String> = targets(&fleet, &fleet.plan("a").unwrap())
            .iter()
            .map(|t| format!("{} {}", t.peer, t.address))
            .collect();
        // Behind NAT, b's packets go to its endpoint; c has none: its address.
        assert_eq!(to, ["b 198.51.100.7", "c 192.0.2.3"]);
    }

    /// Runs a search against a path of MTU `path` (sizes above fail), with or without the
    /// kernel reporting the MTU on failures.
    fn run(floor: u32, ceiling: u32, path: u32, hints: bool) -> (Option<PathMtu>, u32) {
        let mut sent = 0;
        let found = MtuSearch::new(floor, ceiling).run(|size| {
            assert!((floor.min(ceiling)..=ceiling).contains(&size), "probed {size}");
            sent += 1;
            if sent > 64 {
                return Err(());
            }
            Ok(if size <= path {
                Outcome::Passed
            } else {
                Outcome::Failed {
                    hint: hints.then_some(path),
                }
            })
        });
        let (path, probes) = found.expect("the search ends");
        assert_eq!(probes, sent);
        (Some(path), probes)
    }

    #[test]
    fn a_black_hole_is_measured_exactly() {
        assert_eq!(run(576, 1500, 1400, false).0, Some(PathMtu::Measured(1400)));
        assert_eq!(run(1280, 1500, 1281, false).0, Some(PathMtu::Measured(1281)));
        assert_eq!(run(1280, 1500, 1280, false).0, Some(PathMtu::Measured(1280)));
        assert_eq!(run(1280, 1500, 1499, false).0, Some(PathMtu::Measured(1499)));
    }

    #[test]
    fn a_reported_mtu_is_tried_next() {
        assert_eq!(run(576, 1500, 1400, true), (Some(PathMtu::Measured(1400)), 2));
    }

    #[test]
    fn a_path_below_the_floor_is_reported_as_such() {
        assert_eq!(run(1280, 1500, 1200, false), (Some(PathMtu::BelowFloor), 2));
        assert_eq!(run(1280, 1500, 1200, true).0, Some(PathMtu::BelowFloor));
    }

    #[test]
    fn a_hint_at_or_above_the_size_tried_is_ignored() {
        let mut s = MtuSearch::new(576, 1500);
        s.record(1500, Outcome::Failed { hint: Some(9000) });
        assert_eq!(s.next_size(), Some(576));
    }

    fn fleet(extra_c: &str) -> Fleet {
        Inventory::from_toml_str(&format!(
            r#"
            [[networks]]
            name = "lan"
            vni = 100
            bridge = "vxbr0"
            [[networks]]
            name = "small"
            vni = 200
            bridge = "vxbr1"
            mtu = 1300
            [[hosts]]
            name = "a"
            address = "192.0.2.1"
            [[hosts]]
            name = "b"
            address = "192.0.2.2"
            networks = ["small"]
            [[hosts]]
            name = "c"
            address = "192.0.2.3"
            {extra_c}
            "#
        ))
        .unwrap()
        .validate()
        .unwrap()
    }

    #[test]
    fn targets_take_the_shared_networks_and_the_smaller_underlay_mtu() {
        let fleet = fleet("underlay-mtu = 1400");
        let t = targets(&fleet, &fleet.plan("a").unwrap());
        let got: Vec<_> = t
            .iter()
            .map(|t| {
                (
                    t.peer.as_str(),
                    t.network.as_str(),
                    t.container_mtu,
                    t.ceiling,
                    t.needed(),
                )
            })
            .collect();
        // b joins only `small`; c is reached over `lan`, whose MTU c's 1400 bytes lowered.
        assert_eq!(got, [("b", "small", 1300, 1500, 1350), ("c", "lan", 1350, 1400, 1400)]);
    }

    #[test]
    fn verdict_follows_the_mtu_rule() {
        let fleet = fleet("");
        let t = targets(&fleet, &fleet.plan("a").unwrap()).remove(1);
        let at = |m| {
            PeerReport::new(
                &t,
                Probed::Reachable {
                    path: PathMtu::Measured(m),
                    probes: 1,
                },
            )
        };
        assert_eq!(at(1500).verdict, Verdict::Fits);
        assert_eq!(at(1499).verdict, Verdict::TooSmall);
        assert_eq!(at(1400).max_container_mtu, Some(1350));
        let below = PeerReport::new(
            &t,
            Probed::Reachable {
                path: PathMtu::BelowFloor,
                probes: 2,
            },
        );
        assert_eq!(
            (below.verdict, below.path_mtu, below.reachable),
            (Verdict::BelowFloor, None, true)
        );
    }

    proptest! {
        #[test]
        fn the_search_finds_every_path_mtu(floor in 500u32..1400, span in 0u32..9000, below in 0u32..9000, hints: bool) {
            let ceiling = floor + span;
            let path = ceiling.saturating_sub(below);
            let (result, probes) = run(floor, ceiling, path, hints);
            let want = if path >= floor { PathMtu::Measured(path) } else { PathMtu::BelowFloor };
            prop_assert_eq!(result, Some(want));
            // Ceiling, floor, then halving.
            prop_assert!(probes <= 2 + 32 - span.leading_zeros().min(32) + 1, "{} probes", probes);
        }
    }
}
