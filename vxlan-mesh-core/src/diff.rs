//! The pure diff: from a desired [`State`] (made from a plan) and an observed one (read from
//! the kernel, or built by hand in tests) to the ordered [`Change`]s that converge the host.
//!
//! Only owned objects are ever modified or deleted. A foreign interface holding a name the
//! plan wants is an error, never a takeover.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::shown;
use crate::plan::{Bridge, FdbEntry, Firewall, HostPlan, LoopRules, Vxlan};

/// The objects vxlan-mesh manages on a host: desired (see [`HostPlan::state`]) or observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Owned bridges.
    pub bridges: Vec<Bridge>,
    /// Owned VXLAN devices.
    pub vxlans: Vec<Vxlan>,
    /// FDB entries on owned VXLAN devices (all-zeros MAC entries only).
    pub fdb: Vec<FdbEntry>,
    /// The owned ebtables chain, when present.
    pub loop_rules: Option<LoopRules>,
    /// The owned nftables table, when present.
    pub firewall: Option<Firewall>,
    /// Names of interfaces present on the host that vxlan-mesh does not own (observed only).
    pub foreign: Vec<String>,
}

impl HostPlan {
    /// The state this plan wants.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// let state = fleet.plan("a").unwrap().state();
    /// assert_eq!(state.bridges.len(), 1);
    /// assert_eq!(state.fdb.len(), 1);
    /// ```
    pub fn state(&self) -> State {
        State {
            bridges: self.networks.iter().map(|n| n.bridge.clone()).collect(),
            vxlans: self.vxlans().cloned().collect(),
            fdb: self.fdb().cloned().collect(),
            loop_rules: self.loop_rules.clone(),
            firewall: self.firewall.clone(),
            foreign: Vec::new(),
        }
    }
}

/// One step towards the desired state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Change {
    /// Load (or atomically replace) the owned nftables table.
    InstallFirewall {
        /// The table.
        firewall: Firewall,
    },
    /// Delete an FDB entry that is no longer wanted.
    DeleteFdb {
        /// The entry.
        entry: FdbEntry,
    },
    /// Delete an owned VXLAN device that is no longer wanted.
    DeleteVxlan {
        /// The device as observed.
        vxlan: Vxlan,
    },
    /// Delete an owned bridge that is no longer wanted.
    DeleteBridge {
        /// The bridge as observed.
        bridge: Bridge,
    },
    /// Create a bridge.
    CreateBridge {
        /// The bridge.
        bridge: Bridge,
    },
    /// Change a bridge in place (MTU, up, alias).
    UpdateBridge {
        /// As observed.
        from: Bridge,
        /// As wanted.
        to: Bridge,
    },
    /// Install the owned ebtables chain (before per-peer ports join a bridge).
    InstallLoopRules {
        /// The rules.
        rules: LoopRules,
    },
    /// Create a VXLAN device, attach it to its bridge and set its port flags.
    CreateVxlan {
        /// The device.
        vxlan: Vxlan,
    },
    /// Delete and create a VXLAN device whose immutable attributes differ.
    RecreateVxlan {
        /// As observed.
        from: Vxlan,
        /// As wanted.
        to: Vxlan,
        /// The attributes that cannot change in place.
        reason: Vec<String>,
    },
    /// Change a VXLAN device in place (MTU, bridge, port isolation, up, alias).
    UpdateVxlan {
        /// As observed.
        from: Vxlan,
        /// As wanted.
        to: Vxlan,
    },
    /// Add an FDB entry.
    AddFdb {
        /// The entry.
        entry: FdbEntry,
    },
    /// Remove the owned ebtables chain and the jump to it.
    RemoveLoopRules {
        /// The rules as observed.
        rules: LoopRules,
    },
    /// Delete the owned nftables table.
    RemoveFirewall {
        /// The table as observed.
        firewall: Firewall,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::InstallFirewall { firewall } => write!(
                f,
                "install nftables table inet {} (UDP {} from {} peer(s) only)",
                shown(&firewall.table),
                firewall.port,
                firewall.peers.len()
            ),
            Change::DeleteFdb { entry } => write!(
                f,
                "delete fdb {} dst {} on {}",
                entry.mac,
                entry.destination,
                shown(&entry.device)
            ),
            Change::DeleteVxlan { vxlan } => write!(f, "delete vxlan {} (vni {})", shown(&vxlan.name), vxlan.vni),
            Change::DeleteBridge { bridge } => write!(f, "delete bridge {}", shown(&bridge.name)),
            Change::CreateBridge { bridge } => write!(f, "create bridge {} mtu {}", shown(&bridge.name), bridge.mtu),
            Change::UpdateBridge { from, to } => {
                write!(
                    f,
                    "update bridge {}: {}",
                    shown(&to.name),
                    bridge_delta(from, to).join(", ")
                )
            }
            Change::InstallLoopRules { rules } => write!(
                f,
                "install ebtables chain {} ({} rule(s))",
                shown(&rules.chain),
                rules.rules.len()
            ),
            Change::CreateVxlan { vxlan } => write!(
                f,
                "create vxlan {} vni {}{} mtu {}{}",
                shown(&vxlan.name),
                vxlan.vni,
                vxlan.remote.map(|r| format!(" remote {r}")).unwrap_or_default(),
                vxlan.mtu,
                vxlan
                    .bridge
                    .as_ref()
                    .map(|b| format!(" on bridge {}", shown(b)))
                    .unwrap_or_default()
            ),
            Change::RecreateVxlan { to, reason, .. } => {
                write!(
                    f,
                    "recreate vxlan {} ({} cannot change in place)",
                    shown(&to.name),
                    reason.join(", ")
                )
            }
            Change::UpdateVxlan { from, to } => {
                write!(
                    f,
                    "update vxlan {}: {}",
                    shown(&to.name),
                    vxlan_delta(from, to).join(", ")
                )
            }
            Change::AddFdb { entry } => {
                write!(
                    f,
                    "add fdb {} dst {} on {}",
                    entry.mac,
                    entry.destination,
                    shown(&entry.device)
                )
            }
            Change::RemoveLoopRules { rules } => write!(f, "remove ebtables chain {}", shown(&rules.chain)),
            Change::RemoveFirewall { firewall } => write!(f, "remove nftables table inet {}", shown(&firewall.table)),
        }
    }
}

/// A desired interface name is held by an interface vxlan-mesh does not own.
///
/// ```
/// use vxlan_mesh_core::{diff, State};
/// # let fleet = vxlan_mesh_core::testing::two_hosts();
/// let desired = fleet.plan("a").unwrap().state();
/// let observed = State { foreign: vec!["vxbr0".into()], ..State::default() };
/// let err = diff(&desired, &observed).unwrap_err();
/// assert!(err.to_string().contains("`vxbr0`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("interface `{name}` exists but was not created by vxlan-mesh (no `vxlan-mesh:` alias); refusing to take it over: rename or remove it, or change the inventory")]
pub struct ForeignConflict {
    /// The interface name.
    pub name: String,
}

fn bridge_delta(from: &Bridge, to: &Bridge) -> Vec<String> {
    let mut d = Vec::new();
    if from.mtu != to.mtu {
        d.push(format!("mtu {} -> {}", from.mtu, to.mtu));
    }
    if from.up != to.up {
        d.push(if to.up { "up" } else { "down" }.to_string());
    }
    if from.alias != to.alias {
        d.push(format!("alias {} -> {}", shown(&from.alias), shown(&to.alias)));
    }
    d
}

/// Attributes that the kernel cannot change on an existing VXLAN device.
fn immutable_delta(from: &Vxlan, to: &Vxlan) -> Vec<&'static str> {
    let mut d = Vec::new();
    if from.vni != to.vni {
        d.push("vni");
    }
    if from.local != to.local {
        d.push("local");
    }
    if from.remote != to.remote {
        d.push("remote");
    }
    if from.port != to.port {
        d.push("port");
    }
    if from.underlay_device != to.underlay_device {
        d.push("underlay device");
    }
    if from.learning != to.learning {
        d.push("learning");
    }
    if from.udp_checksum != to.udp_checksum {
        d.push("udp checksum");
    }
    d
}

fn vxlan_delta(from: &Vxlan, to: &Vxlan) -> Vec<String> {
    let mut d = Vec::new();
    if from.mtu != to.mtu {
        d.push(format!("mtu {} -> {}", from.mtu, to.mtu));
    }
    if from.bridge != to.bridge {
        d.push(format!(
            "bridge {} -> {}",
            shown(from.bridge.as_deref().unwrap_or("none")),
            shown(to.bridge.as_deref().unwrap_or("none"))
        ));
    }
    if from.isolated != to.isolated {
        d.push(format!("isolated {}", if to.isolated { "on" } else { "off" }));
    }
    if from.up != to.up {
        d.push(if to.up { "up" } else { "down" }.to_string());
    }
    if from.alias != to.alias {
        d.push(format!("alias {} -> {}", shown(&from.alias), shown(&to.alias)));
    }
    d
}

fn fdb_key(e: &FdbEntry) -> (&str, crate::MacAddr, std::net::IpAddr) {
    (&e.device, e.mac, e.destination)
}

/// The ordered changes that turn `observed` into `desired`.
///
/// Order: firewall first (so no tunnel is ever open to the world), then removals of stale
/// entries, devices and bridges, then bridges, loop rules (before any per-peer port joins a
/// bridge), devices and FDB entries; removing loop rules and the firewall comes last.
/// FDB entries the kernel implies from a device's `remote` are not reported.
///
/// ```
/// use vxlan_mesh_core::{diff, State};
/// # let fleet = vxlan_mesh_core::testing::two_hosts();
/// let desired = fleet.plan("a").unwrap().state();
/// let changes = diff(&desired, &State::default()).unwrap();
/// assert!(!changes.is_empty());
/// assert!(diff(&desired, &desired).unwrap().is_empty());
/// // Teardown is the diff towards nothing.
/// // FDB entries vanish with their device, so teardown is one step shorter.
/// assert_eq!(diff(&State::default(), &desired).unwrap().len(), changes.len() - 1);
/// ```
pub fn diff(desired: &State, observed: &State) -> Result<Vec<Change>, ForeignConflict> {
    for name in desired
        .bridges
        .iter()
        .map(|b| &b.name)
        .chain(desired.vxlans.iter().map(|v| &v.name))
    {
        if observed.foreign.iter().any(|f| f == name) {
            return Err(ForeignConflict { name: name.clone() });
        }
    }

    let mut changes = Vec::new();

    match (&desired.firewall, &observed.firewall) {
        (Some(want), Some(have)) if want == have => {}
        (Some(want), _) => changes.push(Change::InstallFirewall { firewall: want.clone() }),
        _ => {}
    }

    let want_vx: BTreeMap<&str, &Vxlan> = desired.vxlans.iter().map(|v| (v.name.as_str(), v)).collect();
    let have_vx: BTreeMap<&str, &Vxlan> = observed.vxlans.iter().map(|v| (v.name.as_str(), v)).collect();
    let want_br: BTreeMap<&str, &Bridge> = desired.bridges.iter().map(|b| (b.name.as_str(), b)).collect();
    let have_br: BTreeMap<&str, &Bridge> = observed.bridges.iter().map(|b| (b.name.as_str(), b)).collect();

    // Entries the kernel adds by itself for a device's `remote`.
    let implied = |e: &FdbEntry, devices: &BTreeMap<&str, &Vxlan>| {
        e.mac == crate::MacAddr::ZERO
            && devices
                .get(e.device.as_str())
                .is_some_and(|v| v.remote == Some(e.destination))
    };
    let recreated: Vec<&str> = want_vx
        .iter()
        .filter(|(name, want)| {
            have_vx
                .get(*name)
                .is_some_and(|have| !immutable_delta(have, want).is_empty())
        })
        .map(|(name, _)| *name)
        .collect();
    let want_fdb: BTreeMap<_, &FdbEntry> = desired
        .fdb
        .iter()
        .filter(|e| !implied(e, &want_vx))
        .map(|e| (fdb_key(e), e))
        .collect();
    let have_fdb: BTreeMap<_, &FdbEntry> = observed
        .fdb
        .iter()
        .filter(|e| !implied(e, &have_vx))
        // Entries of devices that go away or are recreated vanish with the device.
        .filter(|e| want_vx.contains_key(e.device.as_str()) && !recreated.contains(&e.device.as_str()))
        .map(|e| (fdb_key(e), e))
        .collect();

    for (key, entry) in &have_fdb {
        if !want_fdb.contains_key(key) {
            changes.push(Change::DeleteFdb {
                entry: (*entry).clone(),
            });
        }
    }
    for (name, have) in &have_vx {
        if !want_vx.contains_key(name) {
            changes.push(Change::DeleteVxlan { vxlan: (*have).clone() });
        }
    }
    for (name, have) in &have_br {
        if !want_br.contains_key(name) {
            changes.push(Change::DeleteBridge {
                bridge: (*have).clone(),
            });
        }
    }
    for want in &desired.bridges {
        match have_br.get(want.name.as_str()) {
            None => changes.push(Change::CreateBridge { bridge: want.clone() }),
            Some(have) if !bridge_delta(have, want).is_empty() => changes.push(Change::UpdateBridge {
                from: (*have).clone(),
                to: want.clone(),
            }),
            Some(_) => {}
        }
    }
    match (&desired.loop_rules, &observed.loop_rules) {
        (Some(want), Some(have)) if want == have => {}
        (Some(want), _) => changes.push(Change::InstallLoopRules { rules: want.clone() }),
        _ => {}
    }
    for want in &desired.vxlans {
        match have_vx.get(want.name.as_str()) {
            None => changes.push(Change::CreateVxlan { vxlan: want.clone() }),
            Some(have) => {
                let reason = immutable_delta(have, want);
                if !reason.is_empty() {
                    changes.push(Change::RecreateVxlan {
                        from: (*have).clone(),
                        to: want.clone(),
                        reason: reason.into_iter().map(str::to_string).collect(),
                    });
                } else if !vxlan_delta(have, want).is_empty() {
                    changes.push(Change::UpdateVxlan {
                        from: (*have).clone(),
                        to: want.clone(),
                    });
                }
            }
        }
    }
    for (key, entry) in &want_fdb {
        if !have_fdb.contains_key(key) {
            changes.push(Change::AddFdb {
                entry: (*entry).clone(),
            });
        }
    }
    if let (None, Some(have)) = (&desired.loop_rules, &observed.loop_rules) {
        changes.push(Change::RemoveLoopRules { rules: have.clone() });
    }
    if let (None, Some(have)) = (&desired.firewall, &observed.firewall) {
        changes.push(Change::RemoveFirewall { firewall: have.clone() });
    }
    Ok(changes)
}
