//! Prometheus metrics of one host: a pure function from what was observed (and the plan)
//! to metric families ([`families`]), and the one writer of the text exposition format
//! ([`render`]) that `status --format prometheus` and `--textfile` print.
//!
//! Label values come from the plan only (host, network, bridge, device and peer names of
//! the inventory), so their number is bounded by the fleet; nothing observed (interface
//! names of other tools, error text) becomes a label.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use vxlan_mesh_core::metrics::{self, Observation};
//! let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
//! let mut observed = Observation::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
//! observed.duration = Duration::from_millis(5);
//! let text = metrics::render(&metrics::families(&plan, &observed));
//! assert!(text.contains("vxlan_mesh_converged{host=\"a\"} 1\n"));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::diff::Change;
use crate::plan::{FdbEntry, HostPlan};
use crate::wireguard::PeerSession;

/// Packets and bytes a counter has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PacketCounter {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// A link's traffic counters, as the kernel keeps them (`IFLA_STATS64`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkStats {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets transmitted.
    pub tx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Packets dropped on transmit.
    pub tx_dropped: u64,
}

/// One owned link (bridge or VXLAN device) as observed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkObservation {
    /// Operationally up: administratively up and with carrier (`IFF_UP` and
    /// `IFF_LOWER_UP`); a bridge without a working port has no carrier.
    pub up: bool,
    /// Its counters, when the kernel reported them.
    pub stats: Option<LinkStats>,
}

/// What one collection observed on the host, the input of [`families`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Observation {
    /// The changes that would converge the host (empty when converged).
    pub changes: Vec<Change>,
    /// The configured FDB entries of the owned VXLAN devices.
    pub fdb: Vec<FdbEntry>,
    /// Owned links by interface name.
    pub links: BTreeMap<String, LinkObservation>,
    /// What the firewall's drop rule dropped, when the table is ours and present.
    pub firewall_drops: Option<PacketCounter>,
    /// What the firewall's output chain dropped (an encrypted mesh's VXLAN packets that were
    /// about to leave in clear, outside the WireGuard interface), when the table is ours and
    /// present.
    pub firewall_blocked: Option<PacketCounter>,
    /// The WireGuard sessions of the plan's peers, each with the peer's host name (empty
    /// without encryption; a peer the interface lacks is left out).
    pub wireguard: Vec<(String, PeerSession)>,
    /// FRR's BGP EVPN control plane, in mode `evpn` (or while a block of ours is left in
    /// FRR outside it).
    pub bgp: Option<BgpObservation>,
    /// How long the collection waited for an apply in progress (the namespace's lock).
    pub lock_wait: Duration,
    /// How long the whole collection took, lock wait included.
    pub duration: Duration,
    /// When the collection started.
    pub collected_at: SystemTime,
}

impl Observation {
    /// A collection started at `collected_at` that observed nothing yet (no change, link,
    /// entry, counter or session; no wait): set what was observed after (the struct is
    /// `#[non_exhaustive]`).
    pub fn new(collected_at: SystemTime) -> Observation {
        Observation {
            changes: Vec::new(),
            fdb: Vec::new(),
            links: BTreeMap::new(),
            firewall_drops: None,
            firewall_blocked: None,
            wireguard: Vec::new(),
            bgp: None,
            lock_wait: Duration::ZERO,
            duration: Duration::ZERO,
            collected_at,
        }
    }
}

/// FRR's BGP EVPN control plane as one collection saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BgpObservation {
    /// Changes `apply` would make to FRR's `router bgp` block (drift).
    pub pending_changes: usize,
    /// The `l2vpn evpn` BGP sessions: the neighbour's address as FRR prints it, and
    /// whether the session is established.
    pub sessions: Vec<(String, bool)>,
    /// The VNIs zebra knows, each with the number of remote VTEPs FRR learnt for it.
    pub vnis: Vec<(u32, usize)>,
    /// The health problems `status` reports (sessions down, VNIs unknown or without a
    /// remote VTEP).
    pub problems: usize,
}

/// A metric's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A monotonic count (its name ends in `_total`).
    Counter,
}

/// A sample's value: counts are written exactly, measurements as floats.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A count or a 0/1 state.
    Int(u64),
    /// A measurement (seconds).
    Float(f64),
}

/// One sample of a family: its labels (name, value) and its value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Sample {
    /// Labels in the order written.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: Value,
}

/// A metric family: name, type, help text and samples.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricFamily {
    /// Metric name (prefix `vxlan_mesh_`, unit suffix, `_total` for counters).
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// One-line description.
    pub help: &'static str,
    /// Samples.
    pub samples: Vec<Sample>,
}

/// Which device counter a family shows.
type StatField = fn(&LinkStats) -> u64;

/// The per-device traffic counters: name, help, field.
const DEVICE_COUNTERS: [(&str, &str, StatField); 8] = [
    (
        "vxlan_mesh_device_receive_bytes_total",
        "Bytes received by the VXLAN device.",
        |s| s.rx_bytes,
    ),
    (
        "vxlan_mesh_device_transmit_bytes_total",
        "Bytes transmitted by the VXLAN device.",
        |s| s.tx_bytes,
    ),
    (
        "vxlan_mesh_device_receive_packets_total",
        "Packets received by the VXLAN device.",
        |s| s.rx_packets,
    ),
    (
        "vxlan_mesh_device_transmit_packets_total",
        "Packets transmitted by the VXLAN device.",
        |s| s.tx_packets,
    ),
    (
        "vxlan_mesh_device_receive_errors_total",
        "Receive errors of the VXLAN device.",
        |s| s.rx_errors,
    ),
    (
        "vxlan_mesh_device_transmit_errors_total",
        "Transmit errors of the VXLAN device.",
        |s| s.tx_errors,
    ),
    (
        "vxlan_mesh_device_receive_drop_total",
        "Received packets the VXLAN device dropped.",
        |s| s.rx_dropped,
    ),
    (
        "vxlan_mesh_device_transmit_drop_total",
        "Packets the VXLAN device dropped on transmit.",
        |s| s.tx_dropped,
    ),
];

/// The metric families of a host: its plan says which objects there should be (and names
/// them), the observation what they are doing. Planned devices that are missing are shown
/// down, without counters.
pub fn families(plan: &HostPlan, observed: &Observation) -> Vec<MetricFamily> {
    let host = || vec![("host", plan.host.clone())];
    let one = |value: Value| vec![Sample { labels: host(), value }];
    let flag = |b: bool| Value::Int(u64::from(b));
    let count = |n: usize| Value::Int(u64::try_from(n).unwrap_or(u64::MAX));
    // FRR's drift is drift: `status` counts it among the differences.
    let pending = observed.changes.len() + observed.bgp.as_ref().map_or(0, |b| b.pending_changes);
    let mut out = vec![
        MetricFamily {
            name: "vxlan_mesh_pending_changes",
            kind: Kind::Gauge,
            help: "Changes apply would make to converge this host on its plan (0 when converged).",
            samples: one(count(pending)),
        },
        MetricFamily {
            name: "vxlan_mesh_converged",
            kind: Kind::Gauge,
            help: "1 when the host matches its plan, 0 when changes are pending.",
            samples: one(flag(pending == 0)),
        },
    ];

    let link = |name: &str| observed.links.get(name).copied().unwrap_or_default();
    out.push(MetricFamily {
        name: "vxlan_mesh_network_up",
        kind: Kind::Gauge,
        help: "1 when the network's bridge is up with carrier, else 0.",
        samples: plan
            .networks
            .iter()
            .map(|n| Sample {
                labels: vec![
                    ("host", plan.host.clone()),
                    ("network", n.name.clone()),
                    ("bridge", n.bridge.name.clone()),
                ],
                value: flag(link(&n.bridge.name).up),
            })
            .collect(),
    });

    // Devices with their labels (host, network, device[, peer]).
    let devices: Vec<(Vec<(&'static str, String)>, &str)> = plan
        .vxlans()
        .map(|v| {
            let mut labels = vec![
                ("host", plan.host.clone()),
                ("network", v.network.clone()),
                ("device", v.name.clone()),
            ];
            if let Some(peer) = &v.peer {
                labels.push(("peer", peer.clone()));
            }
            (labels, v.name.as_str())
        })
        .collect();
    let per_device = |value: &dyn Fn(&str) -> Option<Value>| -> Vec<Sample> {
        devices
            .iter()
            .filter_map(|(labels, name)| {
                value(name).map(|value| Sample {
                    labels: labels.clone(),
                    value,
                })
            })
            .collect()
    };
    out.push(MetricFamily {
        name: "vxlan_mesh_device_up",
        kind: Kind::Gauge,
        help: "1 when the VXLAN device is up with carrier, 0 when it is down or missing.",
        samples: per_device(&|name| Some(flag(link(name).up))),
    });
    for (name, help, field) in DEVICE_COUNTERS {
        out.push(MetricFamily {
            name,
            kind: Kind::Counter,
            help,
            samples: per_device(&|device| link(device).stats.map(|s| Value::Int(field(&s)))),
        });
    }
    out.push(MetricFamily {
        name: "vxlan_mesh_device_fdb_entries",
        kind: Kind::Gauge,
        help: "Configured FDB entries (flood and static) of the VXLAN device.",
        samples: per_device(&|device| Some(count(observed.fdb.iter().filter(|e| e.device == device).count()))),
    });

    // The output chain's drops apart from the input chain's: they are this host's own
    // packets, a sign that its WireGuard interface is missing or down, not that someone
    // else sends.
    let firewall = [
        (
            observed.firewall_drops,
            ["vxlan_mesh_firewall_dropped_packets_total", "vxlan_mesh_firewall_dropped_bytes_total"],
            [
                "Packets to the VXLAN port from non-peers dropped by the peer-only firewall.",
                "Bytes to the VXLAN port from non-peers dropped by the peer-only firewall.",
            ],
        ),
        (
            observed.firewall_blocked,
            [
                "vxlan_mesh_firewall_blocked_clear_packets_total",
                "vxlan_mesh_firewall_blocked_clear_bytes_total",
            ],
            [
                "VXLAN packets this host was about to send outside the WireGuard interface, dropped by the firewall.",
                "Bytes of VXLAN packets this host was about to send outside the WireGuard interface, dropped by the firewall.",
            ],
        ),
    ];
    for (counter, names, helps) in firewall {
        let Some(counter) = counter else { continue };
        for ((name, help), value) in names.into_iter().zip(helps).zip([counter.packets, counter.bytes]) {
            out.push(MetricFamily {
                name,
                kind: Kind::Counter,
                help,
                samples: one(Value::Int(value)),
            });
        }
    }

    out.extend(wireguard_families(plan, &observed.wireguard));
    if let Some(bgp) = &observed.bgp {
        out.extend(bgp_families(plan, bgp));
    }

    let seconds = |d: Duration| Value::Float(d.as_secs_f64());
    let since_epoch = observed
        .collected_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    out.extend([
        MetricFamily {
            name: "vxlan_mesh_lock_wait_seconds",
            kind: Kind::Gauge,
            help: "Time the collection waited for an apply in progress to release the namespace's lock.",
            samples: one(seconds(observed.lock_wait)),
        },
        MetricFamily {
            name: "vxlan_mesh_collection_duration_seconds",
            kind: Kind::Gauge,
            help: "Time the collection of these metrics took, lock wait included.",
            samples: one(seconds(observed.duration)),
        },
        MetricFamily {
            name: "vxlan_mesh_collection_timestamp_seconds",
            kind: Kind::Gauge,
            help: "When these metrics were collected, in seconds since the Unix epoch.",
            samples: one(seconds(since_epoch)),
        },
    ]);
    out
}

/// The per-peer WireGuard families. The handshake is a timestamp (the Prometheus
/// convention: the age is `time() - ...` in a query, and stays right between scrapes of a
/// textfile); a peer that never completed one shows 0, as `wg` does, so an alert on the age
/// covers it without a second expression. Peers the interface lacks have no samples (that
/// is drift, in `vxlan_mesh_pending_changes`).
fn wireguard_families(plan: &HostPlan, sessions: &[(String, PeerSession)]) -> Vec<MetricFamily> {
    let per_peer = |value: &dyn Fn(&PeerSession) -> u64| -> Vec<Sample> {
        sessions
            .iter()
            .map(|(peer, session)| Sample {
                labels: vec![("host", plan.host.clone()), ("peer", peer.clone())],
                value: Value::Int(value(session)),
            })
            .collect()
    };
    vec![
        MetricFamily {
            name: "vxlan_mesh_wireguard_peer_latest_handshake_timestamp_seconds",
            kind: Kind::Gauge,
            help: "When the latest WireGuard handshake with the peer completed, in seconds since the Unix epoch (0: never).",
            samples: per_peer(&|s| {
                s.latest_handshake
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs())
            }),
        },
        MetricFamily {
            name: "vxlan_mesh_wireguard_peer_receive_bytes_total",
            kind: Kind::Counter,
            help: "Bytes received from the WireGuard peer.",
            samples: per_peer(&|s| s.rx_bytes),
        },
        MetricFamily {
            name: "vxlan_mesh_wireguard_peer_transmit_bytes_total",
            kind: Kind::Counter,
            help: "Bytes sent to the WireGuard peer.",
            samples: per_peer(&|s| s.tx_bytes),
        },
    ]
}

/// The BGP EVPN families (mode `evpn`). A session is labelled with the peer's host name
/// when its address is a peer of the plan, else with its address (a route reflector's
/// clients are the fleet's hosts, so the set stays bounded by the fleet). VNIs are the
/// plan's: one it announces that zebra does not know shows as not known, with no VTEP.
fn bgp_families(plan: &HostPlan, bgp: &BgpObservation) -> Vec<MetricFamily> {
    let host = || vec![("host", plan.host.clone())];
    let one = |value: u64| {
        vec![Sample {
            labels: host(),
            value: Value::Int(value),
        }]
    };
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let peer_name = |address: &str| {
        plan.peers
            .iter()
            .find(|p| p.address.to_string() == address)
            .map_or_else(|| address.to_string(), |p| p.name.clone())
    };
    let vnis: &[u32] = plan.evpn.as_ref().map_or(&[], |e| e.vnis.as_slice());
    let per_vni = |value: &dyn Fn(Option<usize>) -> u64| -> Vec<Sample> {
        vnis.iter()
            .map(|vni| Sample {
                labels: vec![("host", plan.host.clone()), ("vni", vni.to_string())],
                value: Value::Int(value(bgp.vnis.iter().find(|(v, _)| v == vni).map(|(_, n)| *n))),
            })
            .collect()
    };
    vec![
        MetricFamily {
            name: "vxlan_mesh_bgp_session_up",
            kind: Kind::Gauge,
            help: "1 when the l2vpn evpn BGP session with the peer is established, else 0.",
            samples: bgp
                .sessions
                .iter()
                .map(|(address, up)| Sample {
                    labels: vec![("host", plan.host.clone()), ("peer", peer_name(address))],
                    value: Value::Int(u64::from(*up)),
                })
                .collect(),
        },
        MetricFamily {
            name: "vxlan_mesh_bgp_sessions",
            kind: Kind::Gauge,
            help: "l2vpn evpn BGP sessions FRR has (configured or accepted).",
            samples: one(count(bgp.sessions.len())),
        },
        MetricFamily {
            name: "vxlan_mesh_bgp_sessions_established",
            kind: Kind::Gauge,
            help: "l2vpn evpn BGP sessions that are established.",
            samples: one(count(bgp.sessions.iter().filter(|(_, up)| *up).count())),
        },
        MetricFamily {
            name: "vxlan_mesh_evpn_vni_known",
            kind: Kind::Gauge,
            help: "1 when FRR's zebra knows the VNI the plan announces, else 0.",
            samples: per_vni(&|n| u64::from(n.is_some())),
        },
        MetricFamily {
            name: "vxlan_mesh_evpn_vnis_known",
            kind: Kind::Gauge,
            help: "VNIs of the plan that FRR's zebra knows.",
            samples: one(count(vnis.iter().filter(|v| bgp.vnis.iter().any(|(k, _)| k == *v)).count())),
        },
        MetricFamily {
            name: "vxlan_mesh_evpn_remote_vteps",
            kind: Kind::Gauge,
            help: "Remote VTEPs FRR learnt for the VNI (type-3 routes; 0 when zebra does not know it).",
            samples: per_vni(&|n| count(n.unwrap_or(0))),
        },
        MetricFamily {
            name: "vxlan_mesh_bgp_health_problems",
            kind: Kind::Gauge,
            help: "BGP EVPN health problems status reports (sessions down, VNIs unknown or without a remote VTEP); 0 when healthy.",
            samples: one(count(bgp.problems)),
        },
    ]
}

/// The Prometheus text exposition format (version 0.0.4) of `families`: `# HELP`, `# TYPE`
/// and the samples of each, label values escaped. Families without samples are left out.
pub fn render(families: &[MetricFamily]) -> String {
    let mut s = String::new();
    for family in families.iter().filter(|f| !f.samples.is_empty()) {
        let kind = match family.kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(s, "# HELP {} {}", family.name, escape(family.help, false));
        let _ = writeln!(s, "# TYPE {} {kind}", family.name);
        for sample in &family.samples {
            s.push_str(family.name);
            if !sample.labels.is_empty() {
                let labels: Vec<String> = sample
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape(v, true)))
                    .collect();
                let _ = write!(s, "{{{}}}", labels.join(","));
            }
            let _ = match sample.value {
                Value::Int(v) => writeln!(s, " {v}"),
                Value::Float(v) => writeln!(s, " {v}"),
            };
        }
    }
    s
}

/// Escapes `\` and newlines (HELP text), and `"` too in label values.
fn escape(text: &str, quote: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::UNIX_EPOCH;

    fn observation() -> Observation {
        let mut seen = Observation::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        seen.lock_wait = Duration::from_millis(250);
        seen.duration = Duration::from_millis(300);
        seen
    }

    #[test]
    fn samples_follow_the_plan_and_the_observation() {
        let plan = crate::testing::two_hosts().plan("a").unwrap();
        let device = plan.vxlans().next().unwrap().clone();
        let mut seen = observation();
        seen.changes = vec![Change::DeleteVxlan {
            vxlan: (&device).into(),
        }];
        seen.fdb = plan.fdb().cloned().collect();
        seen.links.insert(
            device.name.clone(),
            LinkObservation {
                up: true,
                stats: Some(LinkStats {
                    tx_bytes: 1234,
                    ..LinkStats::default()
                }),
            },
        );
        seen.firewall_drops = Some(PacketCounter { packets: 7, bytes: 700 });
        seen.firewall_blocked = Some(PacketCounter { packets: 3, bytes: 450 });
        let text = render(&families(&plan, &seen));
        let labels = format!("host=\"a\",network=\"{}\",device=\"{}\"", device.network, device.name);
        for line in [
            "vxlan_mesh_pending_changes{host=\"a\"} 1".to_string(),
            "vxlan_mesh_converged{host=\"a\"} 0".to_string(),
            format!("vxlan_mesh_device_up{{{labels}}} 1"),
            format!("vxlan_mesh_device_transmit_bytes_total{{{labels}}} 1234"),
            format!("vxlan_mesh_device_fdb_entries{{{labels}}} {}", plan.fdb().count()),
            format!(
                "vxlan_mesh_network_up{{host=\"a\",network=\"{}\",bridge=\"{}\"}} 0",
                plan.networks[0].name, plan.networks[0].bridge.name
            ),
            "vxlan_mesh_firewall_dropped_packets_total{host=\"a\"} 7".to_string(),
            "vxlan_mesh_firewall_dropped_bytes_total{host=\"a\"} 700".to_string(),
            "vxlan_mesh_firewall_blocked_clear_packets_total{host=\"a\"} 3".to_string(),
            "vxlan_mesh_firewall_blocked_clear_bytes_total{host=\"a\"} 450".to_string(),
            "vxlan_mesh_lock_wait_seconds{host=\"a\"} 0.25".to_string(),
            "vxlan_mesh_collection_timestamp_seconds{host=\"a\"} 1700000000".to_string(),
            "# TYPE vxlan_mesh_device_receive_bytes_total counter".to_string(),
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
        }
    }

    #[test]
    fn bgp_sessions_and_vnis_follow_frr_and_its_drift_is_pending() {
        let fleet = crate::Inventory::from_toml_str(include_str!("../../examples/evpn.toml"))
            .unwrap()
            .validate()
            .unwrap();
        let plan = fleet.plan("lxd1").unwrap();
        let mut seen = observation();
        let no_bgp = render(&families(&plan, &seen));
        assert!(!no_bgp.contains("vxlan_mesh_bgp"), "{no_bgp}");
        seen.bgp = Some(BgpObservation {
            pending_changes: 1,
            sessions: vec![("198.51.100.1".into(), true), ("198.51.100.2".into(), false)],
            vnis: vec![(100, 3)],
            problems: 2,
        });
        let text = render(&families(&plan, &seen));
        for line in [
            "vxlan_mesh_pending_changes{host=\"lxd1\"} 1",
            "vxlan_mesh_converged{host=\"lxd1\"} 0",
            "vxlan_mesh_bgp_session_up{host=\"lxd1\",peer=\"rr-fra\"} 1",
            "vxlan_mesh_bgp_session_up{host=\"lxd1\",peer=\"rr-ams\"} 0",
            "vxlan_mesh_bgp_sessions{host=\"lxd1\"} 2",
            "vxlan_mesh_bgp_sessions_established{host=\"lxd1\"} 1",
            "vxlan_mesh_evpn_vni_known{host=\"lxd1\",vni=\"100\"} 1",
            "vxlan_mesh_evpn_vni_known{host=\"lxd1\",vni=\"200\"} 0",
            "vxlan_mesh_evpn_vnis_known{host=\"lxd1\"} 1",
            "vxlan_mesh_evpn_remote_vteps{host=\"lxd1\",vni=\"100\"} 3",
            "vxlan_mesh_evpn_remote_vteps{host=\"lxd1\",vni=\"200\"} 0",
            "vxlan_mesh_bgp_health_problems{host=\"lxd1\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
        }
    }

    #[test]
    fn a_missing_device_is_down_without_counters() {
        let plan = crate::testing::two_hosts().plan("a").unwrap();
        let text = render(&families(&plan, &observation()));
        assert!(text.contains("vxlan_mesh_device_up{"), "{text}");
        assert!(text
            .lines()
            .any(|l| l.starts_with("vxlan_mesh_device_up{") && l.ends_with(" 0")));
        assert!(!text.contains("receive_bytes_total"), "{text}");
        assert!(!text.contains("firewall_dropped"), "{text}");
        assert!(!text.contains("firewall_blocked"), "{text}");
    }

    /// Host `a` of an encrypted three-host fleet (two WireGuard peers).
    fn encrypted_plan() -> HostPlan {
        let mut text =
            String::from("encryption = \"wireguard\"\n[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n");
        for (name, last, key) in [
            ("a", 1, "yqLoGkczmD/xXZPf6IcZm07lVt+bJFwpIj62fkJt23o="),
            ("b", 2, "1VY4lZYnYrHKR8drJcLOjvYyqts+9ocnTXoTmNI+MjU="),
            ("c", 3, "Rv4Otndn0+l632AjSfd4VOyAzxLAVrJVMro4o9sRtC0="),
        ] {
            text.push_str(&format!(
                "[[hosts]]\nname = \"{name}\"\naddress = \"192.0.2.{last}\"\npublic-key = \"{key}\"\n"
            ));
        }
        let fleet = crate::Inventory::from_toml_str(&text).unwrap().validate().unwrap();
        fleet.plan("a").unwrap()
    }

    fn session(plan: &HostPlan, i: usize, handshake: Option<u64>, rx: u64, tx: u64) -> (String, PeerSession) {
        let peer = plan.wireguard.as_ref().unwrap().peers[i].clone();
        let name = peer.name.clone();
        (
            name,
            PeerSession {
                peer: (&peer).into(),
                latest_handshake: handshake.map(|s| UNIX_EPOCH + Duration::from_secs(s)),
                rx_bytes: rx,
                tx_bytes: tx,
            },
        )
    }

    #[test]
    fn wireguard_peers_show_their_handshake_and_bytes_and_never_is_zero() {
        let plan = encrypted_plan();
        let mut seen = observation();
        seen.wireguard = vec![
            session(&plan, 0, Some(1_699_999_950), 300, 400),
            session(&plan, 1, None, 0, 148),
        ];
        let (seen_peer, never_peer) = (seen.wireguard[0].0.clone(), seen.wireguard[1].0.clone());
        let text = render(&families(&plan, &seen));
        for line in [
            "# TYPE vxlan_mesh_wireguard_peer_latest_handshake_timestamp_seconds gauge".to_string(),
            "# TYPE vxlan_mesh_wireguard_peer_receive_bytes_total counter".to_string(),
            format!("vxlan_mesh_wireguard_peer_latest_handshake_timestamp_seconds{{host=\"a\",peer=\"{seen_peer}\"}} 1699999950"),
            format!("vxlan_mesh_wireguard_peer_latest_handshake_timestamp_seconds{{host=\"a\",peer=\"{never_peer}\"}} 0"),
            format!("vxlan_mesh_wireguard_peer_receive_bytes_total{{host=\"a\",peer=\"{seen_peer}\"}} 300"),
            format!("vxlan_mesh_wireguard_peer_transmit_bytes_total{{host=\"a\",peer=\"{never_peer}\"}} 148"),
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
        }
    }

    #[test]
    fn without_sessions_there_are_no_wireguard_metrics() {
        let plan = crate::testing::two_hosts().plan("a").unwrap();
        let text = render(&families(&plan, &observation()));
        assert!(!text.contains("wireguard"), "{text}");
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let family = MetricFamily {
            name: "vxlan_mesh_x",
            kind: Kind::Gauge,
            help: "a \\ b\nc",
            samples: vec![Sample {
                labels: vec![("host", "q\"\\\n".into())],
                value: Value::Int(1),
            }],
        };
        assert_eq!(
            render(&[family]),
            "# HELP vxlan_mesh_x a \\\\ b\\nc\n# TYPE vxlan_mesh_x gauge\nvxlan_mesh_x{host=\"q\\\"\\\\\\n\"} 1\n"
        );
    }
}
