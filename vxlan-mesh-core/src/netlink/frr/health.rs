//! FRR's view of the EVPN control plane, read from its JSON: the BGP sessions of the
//! `l2vpn evpn` address family (`show bgp l2vpn evpn summary json`) and the VNIs zebra knows
//! (`show evpn vni json`), and what is wrong with them. Pure: the texts come from vtysh.
//!
//! The shapes are FRR 8.4's. The summary is `{"peers": {"ADDRESS": {"state": "Established",
//! "dynamicPeer": true, ...}, ...}, ...}`, or `{}` without a `router bgp`; the VNI list is
//! `{"100": {"vni": 100, "vxlanIf": "vxm100", "numRemoteVteps": 2, "remoteVteps":
//! ["192.0.2.3", ...]}, ...}` (no `remoteVteps` when there are none), or nothing at all when
//! zebra has no EVPN VNI (no `advertise-all-vni`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The state FRR's BGP reports for a session that works.
const ESTABLISHED: &str = "Established";

/// One BGP session of the `l2vpn evpn` address family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Session {
    /// The neighbour's address, as FRR prints it.
    pub peer: String,
    /// FRR's state name: `Established`, `Active`, `Connect`, `Idle`, ...
    pub state: String,
    /// Whether the neighbour was accepted through `bgp listen range` (a route reflector's
    /// client) rather than configured.
    pub dynamic: bool,
}

impl Session {
    /// Whether the session is up (exchanging routes).
    pub fn established(&self) -> bool {
        self.state == ESTABLISHED
    }
}

/// One VNI zebra knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vni {
    /// The VNI.
    pub vni: u32,
    /// Its VXLAN device.
    pub device: String,
    /// The remote VTEPs FRR learned for it (type-3 routes), from which the flood list is
    /// built.
    pub remote_vteps: Vec<String>,
}

/// The EVPN control plane as FRR reports it.
///
/// ```
/// use vxlan_mesh_core::netlink::frr::Health;
/// let health = Health::from_json(
///     r#"{"peers":{"192.0.2.1":{"state":"Established"},"192.0.2.9":{"state":"Active"}}}"#,
///     r#"{"100":{"vni":100,"vxlanIf":"vxm100","numRemoteVteps":1,"remoteVteps":["192.0.2.1"]}}"#,
/// )?;
/// let problems = health.problems(&[100, 200]);
/// assert_eq!(problems.len(), 2);
/// assert_eq!(problems[0].to_string(), "BGP session to `192.0.2.9` is `Active`, not established");
/// assert_eq!(problems[1].to_string(), "VNI 200 is not known to FRR's zebra (no EVPN for its VXLAN device)");
/// # Ok::<(), vxlan_mesh_core::netlink::frr::FrrError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Health {
    /// The sessions, by peer address.
    pub sessions: Vec<Session>,
    /// The VNIs zebra knows, by VNI.
    pub vnis: Vec<Vni>,
}

/// Something the EVPN control plane lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HealthProblem {
    /// A configured (or accepted) BGP session is not established.
    SessionDown {
        /// The neighbour's address.
        peer: String,
        /// FRR's state name.
        state: String,
    },
    /// No BGP session exists at all: the host learns nothing.
    NoSession,
    /// A VNI of the plan that zebra does not know: its MACs and VTEP are not announced.
    VniUnknown {
        /// The VNI.
        vni: u32,
    },
    /// A VNI of the plan that zebra ties to another VXLAN device than ours (one vxlan-mesh
    /// did not make, with the VNI on another UDP port): FRR announces and installs that
    /// device's MACs and flood list, not ours. Not ours to remove: the operator must.
    VniOnForeignDevice {
        /// The VNI.
        vni: u32,
        /// The device zebra ties it to.
        device: String,
        /// Ours.
        ours: String,
    },
    /// A VNI of the plan for which FRR learnt no remote VTEP: every network has at least two
    /// hosts, so this host's containers reach nobody on it (the others are down or
    /// unreachable, or announce nothing FRR can use).
    NoRemoteVtep {
        /// The VNI.
        vni: u32,
    },
}

impl fmt::Display for HealthProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HealthProblem::SessionDown { peer, state } => write!(
                f,
                "BGP session to `{}` is `{}`, not established",
                peer.escape_debug(),
                state.escape_debug()
            ),
            HealthProblem::NoSession => f.write_str("no BGP session in the `l2vpn evpn` address family"),
            HealthProblem::VniUnknown { vni } => {
                write!(f, "VNI {vni} is not known to FRR's zebra (no EVPN for its VXLAN device)")
            }
            HealthProblem::VniOnForeignDevice { vni, device, ours } => write!(
                f,
                "VNI {vni} is tied by FRR's zebra to interface `{}`, not to `{}`: that device (not vxlan-mesh's) took the VNI over, and FRR serves it instead; remove it (or change its VNI), then run apply",
                device.escape_debug(),
                ours.escape_debug()
            ),
            HealthProblem::NoRemoteVtep { vni } => write!(
                f,
                "VNI {vni}: FRR learnt no remote VTEP, so no other host is reachable on it (FRR 8.4 announces IPv4 VTEPs only)"
            ),
        }
    }
}

#[derive(Deserialize)]
struct Summary {
    #[serde(default)]
    peers: BTreeMap<String, SummaryPeer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SummaryPeer {
    state: String,
    #[serde(default)]
    dynamic_peer: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VniEntry {
    vni: u32,
    vxlan_if: String,
    #[serde(default)]
    remote_vteps: Vec<String>,
}

impl Health {
    /// Reads the outputs of `show bgp l2vpn evpn summary json` and `show evpn vni json`.
    pub fn from_json(summary: &str, vnis: &str) -> Result<Health, super::FrrError> {
        let decode = |what: &'static str| {
            move |e: serde_json::Error| super::FrrError::Decode {
                what,
                message: e.to_string(),
            }
        };
        let summary: Summary = if summary.trim().is_empty() {
            Summary { peers: BTreeMap::new() }
        } else {
            serde_json::from_str(summary).map_err(decode("`show bgp l2vpn evpn summary json`"))?
        };
        let vnis: BTreeMap<String, VniEntry> = if vnis.trim().is_empty() {
            BTreeMap::new()
        } else {
            serde_json::from_str(vnis).map_err(decode("`show evpn vni json`"))?
        };
        let mut vnis: Vec<Vni> = vnis
            .into_values()
            .map(|v| Vni {
                vni: v.vni,
                device: v.vxlan_if,
                remote_vteps: v.remote_vteps,
            })
            .collect();
        vnis.sort_by_key(|v| v.vni);
        Ok(Health {
            sessions: summary
                .peers
                .into_iter()
                .map(|(peer, p)| Session {
                    peer,
                    state: p.state,
                    dynamic: p.dynamic_peer,
                })
                .collect(),
            vnis,
        })
    }

    /// What is wrong, for a host whose plan announces `expected_vnis`: sessions not
    /// established (or none at all), VNIs zebra does not know, and VNIs without any remote
    /// VTEP.
    pub fn problems(&self, expected_vnis: &[u32]) -> Vec<HealthProblem> {
        let mut problems: Vec<HealthProblem> = self
            .sessions
            .iter()
            .filter(|s| !s.established())
            .map(|s| HealthProblem::SessionDown {
                peer: s.peer.clone(),
                state: s.state.clone(),
            })
            .collect();
        if self.sessions.is_empty() {
            problems.push(HealthProblem::NoSession);
        }
        problems.extend(
            expected_vnis
                .iter()
                .filter_map(|vni| match self.vnis.iter().find(|v| v.vni == *vni) {
                    None => Some(HealthProblem::VniUnknown { vni: *vni }),
                    Some(v) if v.remote_vteps.is_empty() => Some(HealthProblem::NoRemoteVtep { vni: *vni }),
                    Some(_) => None,
                }),
        );
        problems
    }

    /// [`Health::problems`] for a host whose plan has the VXLAN devices `devices` (VNI and
    /// name each), and for each VNI zebra ties to another device than ours, that device.
    ///
    /// ```
    /// use vxlan_mesh_core::netlink::frr::Health;
    /// let health = Health::from_json(
    ///     r#"{"peers":{"192.0.2.1":{"state":"Established"}}}"#,
    ///     r#"{"100":{"vni":100,"vxlanIf":"other0","remoteVteps":["192.0.2.1"]}}"#,
    /// )?;
    /// let problems = health.problems_of_devices(&[(100, "vxm100")]);
    /// assert!(problems[0].to_string().starts_with("VNI 100 is tied by FRR's zebra to interface `other0`, not to `vxm100`"));
    /// # Ok::<(), vxlan_mesh_core::netlink::frr::FrrError>(())
    /// ```
    pub fn problems_of_devices(&self, devices: &[(u32, &str)]) -> Vec<HealthProblem> {
        let vnis: Vec<u32> = devices.iter().map(|(vni, _)| *vni).collect();
        let mut problems = self.problems(&vnis);
        problems.extend(devices.iter().filter_map(|(vni, ours)| {
            let known = self.vnis.iter().find(|v| v.vni == *vni)?;
            (known.device != *ours).then(|| HealthProblem::VniOnForeignDevice {
                vni: *vni,
                device: known.device.clone(),
                ours: (*ours).to_string(),
            })
        }));
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `show bgp l2vpn evpn summary json` of a route reflector with one client, FRR 8.4.4.
    const SUMMARY: &str = r#"{
  "routerId":"192.0.2.1", "as":65000, "vrfId":0, "vrfName":"default", "tableVersion":0,
  "peerCount":2, "peerGroupCount":1,
  "peers":{
    "192.0.2.2":{"dynamicPeer":true, "hostname":"vm", "remoteAs":65000, "localAs":65000, "version":4,
      "msgRcvd":4, "msgSent":6, "peerUptime":"00:00:04", "peerUptimeMsec":4000, "pfxRcd":1, "pfxSnt":3,
      "state":"Established", "peerState":"OK", "connectionsEstablished":1, "connectionsDropped":0, "idType":"ipv4"},
    "192.0.2.99":{"hostname":"vm", "remoteAs":65000, "localAs":65000, "version":4, "peerUptime":"never",
      "state":"Connect", "peerState":"OK", "connectionsEstablished":0, "connectionsDropped":0, "idType":"ipv4"}
  },
  "failedPeers":1, "displayedPeers":2, "totalPeers":2, "dynamicPeers":1, "bestPath":{"multiPathRelax":"false"}
}"#;

    /// `show evpn vni json`, FRR 8.4.4.
    const VNIS: &str = r#"{
  "100":{"vni":100, "type":"L2", "vxlanIf":"vxm100", "numMacs":0, "numArpNd":0, "numRemoteVteps":2,
    "tenantVrf":"default", "remoteVteps":["192.0.2.3", "192.0.2.1"]},
  "200":{"vni":200, "type":"L2", "vxlanIf":"vxm200", "numMacs":0, "numArpNd":0, "numRemoteVteps":0,
    "tenantVrf":"default"}
}"#;

    /// The script reads the VNIs' devices with core's awk program as `from_json` does.
    #[test]
    fn the_script_s_awk_finds_the_devices_from_json_finds() {
        let h = Health::from_json(SUMMARY, VNIS).unwrap_or_default();
        let device = |vni: u32| {
            let awk = crate::argv::reads::ZEBRA_VNI_DEVICE_AWK;
            crate::argv::reads::pipe("awk", &["-v", &format!("vni={vni}"), awk], VNIS).unwrap_or_default()
        };
        assert_eq!(h.vnis.len(), 2);
        for v in &h.vnis {
            assert_eq!(device(v.vni), format!("{}\n", v.device));
        }
        // A VNI zebra does not know, and one that only begins like a known one.
        assert_eq!(device(300), "");
        assert_eq!(device(10), "");
    }

    #[test]
    fn reads_frr_8_4_json() {
        let h = Health::from_json(SUMMARY, VNIS).unwrap_or_default();
        assert_eq!(h.sessions.len(), 2);
        assert!(h.sessions[0].established() && h.sessions[0].dynamic);
        assert_eq!(h.sessions[1].state, "Connect");
        assert_eq!(h.vnis.len(), 2);
        assert_eq!(h.vnis[0].remote_vteps, ["192.0.2.3", "192.0.2.1"]);
        assert!(h.vnis[1].remote_vteps.is_empty());
        assert_eq!(
            h.problems(&[100, 200, 300]),
            [
                HealthProblem::SessionDown {
                    peer: "192.0.2.99".into(),
                    state: "Connect".into()
                },
                HealthProblem::NoRemoteVtep { vni: 200 },
                HealthProblem::VniUnknown { vni: 300 }
            ]
        );
    }

    #[test]
    fn no_router_bgp_and_no_evpn_read_as_nothing() {
        let h = Health::from_json("{}\n", "").unwrap_or_default();
        assert_eq!(h, Health::default());
        assert_eq!(
            h.problems(&[100]),
            [HealthProblem::NoSession, HealthProblem::VniUnknown { vni: 100 }]
        );
        assert!(Health::from_json("{", "").is_err());
        assert!(Health::from_json("{}", "[1]").is_err());
    }
}
