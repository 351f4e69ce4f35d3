//! The pure diff: from a desired [`State`] (made from a plan) and an [`Observed`] one (read
//! from the kernel, or built by hand in tests) to the ordered [`Change`]s that converge the
//! host.
//!
//! Only owned objects are ever modified or deleted. A foreign interface holding a name the
//! plan wants is an error, never a takeover.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

mod observed;

pub use observed::{InterfaceAddress, Observed, ObservedVxlan, ObservedWireguard};

use crate::names::shown;
use crate::plan::{Bridge, FdbEntry, Firewall, HostPlan, LoopRule, LoopRules, Vxlan, WireguardPeer, WireguardPlan};
use crate::wireguard::{ObservedWireguardPeer, PeerRoute, MAIN_TABLE};

/// The objects vxlan-mesh manages on a host as a plan wants them (see [`HostPlan::state`]);
/// what a host holds is an [`Observed`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct State {
    /// Owned bridges.
    pub bridges: Vec<Bridge>,
    /// Owned VXLAN devices.
    pub vxlans: Vec<Vxlan>,
    /// Configured FDB entries on owned VXLAN devices: all-zeros MAC (flood) entries, and
    /// static or permanent ones.
    pub fdb: Vec<FdbEntry>,
    /// The ebtables chain named [`crate::plan::EBTABLES_CHAIN`], when wanted: the plan's
    /// rules, jumped to by the first rule of `FORWARD`.
    pub loop_rules: Option<LoopChain>,
    /// The nftables table named [`crate::plan::NFT_TABLE`], when wanted.
    pub firewall: Option<Table>,
    /// The owned WireGuard interface, when wanted.
    #[serde(default)]
    pub wireguard: Option<WireguardPlan>,
    /// The owned VXLAN devices' FDB entries belong to an external control plane (evpn mode:
    /// FRR's zebra installs the flood list and remote MACs), so the diff neither adds nor
    /// removes any.
    #[serde(default)]
    pub external_fdb: bool,
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
            loop_rules: self.loop_rules.clone().map(LoopChain::wanted),
            firewall: self.firewall.clone().map(Table::Ours),
            wireguard: self.wireguard.clone(),
            external_fdb: self.evpn.is_some(),
        }
    }
}

/// An ebtables chain in table `filter` and the rules of `FORWARD` that jump to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LoopChain {
    /// Chain name.
    pub chain: String,
    /// Its rules, in order.
    pub rules: Vec<ChainRule>,
    /// Positions (1 = first) of the rules of `FORWARD` that are exactly `-j CHAIN`.
    pub jumps: Vec<usize>,
    /// What a frame that no rule of the chain decides meets at its end (wanted: `RETURN`,
    /// so that `FORWARD`'s rules below the jump still apply).
    #[serde(default)]
    pub policy: ChainPolicy,
}

/// The policy of a user-defined ebtables chain: the verdict at its end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum ChainPolicy {
    /// Back to the calling chain: the rules below the jump decide.
    #[default]
    Return,
    /// Accept the frame: every rule below the jump is skipped.
    Accept,
    /// Drop the frame.
    Drop,
}

impl fmt::Display for ChainPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChainPolicy::Return => "RETURN",
            ChainPolicy::Accept => "ACCEPT",
            ChainPolicy::Drop => "DROP",
        })
    }
}

impl LoopChain {
    /// Chain `chain` with `rules`, jumped to from the positions `jumps` of `FORWARD`, with
    /// policy `RETURN`; set `policy` after for another (the struct is `#[non_exhaustive]`).
    ///
    /// ```
    /// use vxlan_mesh_core::{ChainPolicy, ChainRule, LoopChain};
    /// let chain = LoopChain::new("VXLAN-MESH", vec![ChainRule::Foreign("-j ACCEPT".into())], vec![2]);
    /// assert_eq!(chain.policy, ChainPolicy::Return);
    /// ```
    pub fn new(chain: impl Into<String>, rules: Vec<ChainRule>, jumps: Vec<usize>) -> LoopChain {
        LoopChain {
            chain: chain.into(),
            rules,
            jumps,
            policy: ChainPolicy::Return,
        }
    }

    /// The chain a plan wants: its rules, and one jump, evaluated before any other rule of
    /// `FORWARD` (an `ACCEPT` above it would bypass loop prevention).
    ///
    /// ```
    /// use vxlan_mesh_core::{LoopChain, LoopRule, LoopRules};
    /// let chain = LoopChain::wanted(LoopRules::new("VXLAN-MESH", vec![LoopRule::DropBetweenMeshPorts]));
    /// assert_eq!(chain.jumps, [1]);
    /// ```
    pub fn wanted(rules: LoopRules) -> LoopChain {
        LoopChain {
            chain: rules.chain,
            rules: rules.rules.into_iter().map(ChainRule::Ours).collect(),
            jumps: vec![1],
            policy: ChainPolicy::Return,
        }
    }

    /// The chain's rules when all of them are rules vxlan-mesh writes (then the chain is
    /// ours); otherwise the first rule that is not.
    ///
    /// ```
    /// use vxlan_mesh_core::{ChainRule, LoopChain};
    /// let foreign = LoopChain::new("VXLAN-MESH", vec![ChainRule::Foreign("-j ACCEPT".into())], vec![]);
    /// assert_eq!(foreign.owned().unwrap_err(), "-j ACCEPT");
    /// ```
    pub fn owned(&self) -> Result<LoopRules, &str> {
        let rules = self
            .rules
            .iter()
            .map(|r| match r {
                ChainRule::Ours(rule) => Ok(rule.clone()),
                ChainRule::Foreign(text) => Err(text.as_str()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LoopRules {
            chain: self.chain.clone(),
            rules,
        })
    }
}

/// One rule of an observed ebtables chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ChainRule {
    /// A rule vxlan-mesh writes.
    Ours(LoopRule),
    /// Any other rule, as `ebtables -L` lists it: the chain is then not ours.
    Foreign(String),
}

/// The nftables table (family `inet`) named like vxlan-mesh's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Table {
    /// In the shape [`crate::firewall::nft_script`] writes, with these parameters.
    Ours(Firewall),
    /// In the outline that script writes (its set and chain) but with other rules: ours,
    /// altered by hand, and replaced (an accept rule that lost its source match would open
    /// the port to everyone).
    Altered {
        /// Table name.
        table: String,
        /// What differs from the rules vxlan-mesh writes.
        reason: String,
    },
    /// In any other outline: someone else's, never replaced or deleted.
    Foreign {
        /// Table name.
        table: String,
        /// What differs from the shape vxlan-mesh writes.
        reason: String,
    },
}

/// One step towards the desired state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
#[non_exhaustive]
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
        vxlan: ObservedVxlan,
    },
    /// Delete an owned bridge that is no longer wanted.
    DeleteBridge {
        /// The bridge as observed.
        bridge: Bridge,
    },
    /// Delete the owned WireGuard interface (a wireguard-go daemon serving it exits with it).
    DeleteWireguard {
        /// The interface as observed.
        wireguard: ObservedWireguard,
    },
    /// Create the WireGuard interface with its key, port, address and peers.
    CreateWireguard {
        /// The interface.
        wireguard: WireguardPlan,
    },
    /// Change the WireGuard interface in place: only what differs, peer by peer, so that
    /// the sessions of unchanged peers go on.
    UpdateWireguard {
        /// As observed.
        from: ObservedWireguard,
        /// As wanted.
        to: WireguardPlan,
    },
    /// Give the WireGuard interface its address again, and with it the route of its
    /// prefix, which was deleted: a peer's inner address was routed another way.
    RestoreWireguardRoute {
        /// The interface, as wanted.
        wireguard: WireguardPlan,
        /// A peer's route as observed, leaving by another way.
        found: PeerRoute,
    },
    /// A route vxlan-mesh did not add takes a peer's inner address away from the
    /// WireGuard interface, and would still after every other change: reported, never
    /// removed (`apply` refuses, [`ForeignConflict::Route`]).
    ForeignRoute {
        /// The WireGuard interface.
        interface: String,
        /// The peer's route as observed.
        found: PeerRoute,
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
    /// Create the owned ebtables chain, or refill it, with the plan's rules (before
    /// per-peer ports join a bridge).
    InstallLoopRules {
        /// The rules.
        rules: LoopRules,
        /// The chain exists (with other rules): flush it instead of creating it.
        exists: bool,
    },
    /// Make the jump to the owned chain the first rule of `FORWARD`, and the only one.
    PlaceLoopJump {
        /// The owned chain.
        chain: String,
        /// Positions of the jumps as observed (empty: none yet).
        jumps: Vec<usize>,
    },
    /// Create a VXLAN device, attach it to its bridge and set its port flags.
    CreateVxlan {
        /// The device.
        vxlan: Vxlan,
    },
    /// Delete and create a VXLAN device whose immutable attributes differ.
    RecreateVxlan {
        /// As observed.
        from: ObservedVxlan,
        /// As wanted.
        to: Vxlan,
        /// The attributes that cannot change in place and differ, each named alone (`vni`),
        /// or followed by `unset` when the device has none.
        reason: Vec<String>,
    },
    /// Change a VXLAN device in place (MTU, bridge, bridge port flags, up, alias).
    UpdateVxlan {
        /// As observed.
        from: ObservedVxlan,
        /// As wanted.
        to: Vxlan,
    },
    /// Add an FDB entry.
    AddFdb {
        /// The entry.
        entry: FdbEntry,
    },
    /// Remove the jumps to the owned ebtables chain, then the chain.
    RemoveLoopRules {
        /// The chain.
        chain: String,
        /// Positions of the jumps in `FORWARD` as observed.
        jumps: Vec<usize>,
    },
    /// Delete the owned nftables table.
    RemoveFirewall {
        /// Table name (family `inet`).
        table: String,
    },
}

impl Change {
    /// Where the change falls in [`diff`]'s order: 0 firewall, 1 removals of entries, devices
    /// and bridges, 2 bridges and the WireGuard interface (whose address the VXLAN devices
    /// start from), 3 loop rules, 4 devices, 5 FDB entries, 6 removals of the chain
    /// and the table. Changes of one phase do not depend on each other's completion.
    ///
    /// ```
    /// use vxlan_mesh_core::{diff, Observed};
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// let changes = diff(&fleet.plan("a").unwrap().state(), &Observed::default()).unwrap();
    /// assert!(changes.windows(2).all(|w| w[0].phase() <= w[1].phase()));
    /// ```
    pub fn phase(&self) -> u8 {
        match self {
            Change::InstallFirewall { .. } => 0,
            Change::DeleteFdb { .. }
            | Change::DeleteVxlan { .. }
            | Change::DeleteBridge { .. }
            | Change::DeleteWireguard { .. } => 1,
            Change::CreateBridge { .. }
            | Change::UpdateBridge { .. }
            | Change::CreateWireguard { .. }
            | Change::UpdateWireguard { .. }
            | Change::RestoreWireguardRoute { .. }
            | Change::ForeignRoute { .. } => 2,
            Change::InstallLoopRules { .. } | Change::PlaceLoopJump { .. } => 3,
            Change::CreateVxlan { .. } | Change::RecreateVxlan { .. } | Change::UpdateVxlan { .. } => 4,
            Change::AddFdb { .. } => 5,
            Change::RemoveLoopRules { .. } | Change::RemoveFirewall { .. } => 6,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::InstallFirewall { firewall } => match &firewall.evpn {
                Some(evpn) => write!(
                    f,
                    "install nftables table inet {} (UDP {} and TCP {} from {} only)",
                    shown(&firewall.table),
                    firewall.port,
                    evpn.bgp_port,
                    evpn.prefix
                ),
                None => write!(
                    f,
                    "install nftables table inet {} (UDP {} from {} peer(s) only)",
                    shown(&firewall.table),
                    firewall.port,
                    firewall.peers.len()
                ),
            },
            Change::DeleteFdb { entry } => write!(
                f,
                "delete fdb {} dst {}{} on {}",
                entry.mac,
                entry.destination,
                entry
                    .iproute2_extras()
                    .iter()
                    .map(|w| format!(" {}", shown(w)))
                    .collect::<String>(),
                shown(&entry.device)
            ),
            Change::DeleteVxlan { vxlan } => write!(
                f,
                "delete vxlan {} (vni {})",
                shown(&vxlan.name),
                vxlan.vni.map_or_else(|| UNSET.to_string(), |v| v.to_string())
            ),
            Change::DeleteBridge { bridge } => write!(f, "delete bridge {}", shown(&bridge.name)),
            Change::DeleteWireguard { wireguard } => write!(f, "delete wireguard {}", shown(&wireguard.interface)),
            Change::CreateWireguard { wireguard } => write!(
                f,
                "create wireguard {} {}/{} port {} mtu {} with {} peer(s)",
                shown(&wireguard.interface),
                wireguard.address,
                wireguard.prefix_len,
                wireguard.listen_port,
                wireguard.mtu,
                wireguard.peers.len()
            ),
            Change::UpdateWireguard { from, to } => write!(
                f,
                "update wireguard {}: {}",
                shown(&to.interface),
                wireguard_delta(from, to).join(", ")
            ),
            Change::RestoreWireguardRoute { wireguard, found } => write!(
                f,
                "restore the route of {}/{} through wireguard {} ({})",
                wireguard.address,
                wireguard.prefix_len,
                shown(&wireguard.interface),
                route_words(found)
            ),
            Change::ForeignRoute { interface, found } => write!(
                f,
                "route not added by vxlan-mesh takes peer {} out of wireguard {}: {}",
                shown(&found.peer),
                shown(interface),
                route_words(found)
            ),
            Change::CreateBridge { bridge } => write!(f, "create bridge {} mtu {}", shown(&bridge.name), bridge.mtu),
            Change::UpdateBridge { from, to } => {
                write!(
                    f,
                    "update bridge {}: {}",
                    shown(&to.name),
                    bridge_delta(from, to).join(", ")
                )
            }
            Change::InstallLoopRules { rules, exists } => write!(
                f,
                "{} ebtables chain {} ({} rule(s))",
                if *exists { "refill" } else { "install" },
                shown(&rules.chain),
                rules.rules.len()
            ),
            Change::PlaceLoopJump { chain, jumps } => match jumps.as_slice() {
                [] => write!(f, "jump to ebtables chain {} first in FORWARD", shown(chain)),
                _ => write!(
                    f,
                    "jump to ebtables chain {} first in FORWARD, once (found at {})",
                    shown(chain),
                    jumps.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                ),
            },
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
                    "recreate vxlan {} ({}: cannot change in place)",
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
            Change::RemoveLoopRules { chain, .. } => write!(f, "remove ebtables chain {}", shown(chain)),
            Change::RemoveFirewall { table } => write!(f, "remove nftables table inet {}", shown(table)),
        }
    }
}

/// Where a peer's inner address goes, in words.
fn route_words(found: &PeerRoute) -> String {
    match &found.route {
        Some(route) => format!("{} goes by `{route}`", found.address),
        None => format!("{} has no route", found.address),
    }
}

/// An object the plan wants is held by one vxlan-mesh does not own: never taken over.
///
/// ```
/// use vxlan_mesh_core::{diff, Observed};
/// # let fleet = vxlan_mesh_core::testing::two_hosts();
/// let desired = fleet.plan("a").unwrap().state();
/// let mut observed = Observed::default();
/// observed.foreign = vec!["vxbr0".into()];
/// let err = diff(&desired, &observed).unwrap_err();
/// assert!(err.to_string().contains("`vxbr0`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForeignConflict {
    /// A wanted interface name.
    #[error("interface `{name}` exists but was not created by vxlan-mesh (no `vxlan-mesh:` alias); refusing to take it over: rename or remove it, or change the inventory")]
    Interface {
        /// The interface name.
        name: String,
    },
    /// The ebtables chain holds a rule vxlan-mesh does not write.
    #[error("ebtables chain `{chain}` exists but was not created by vxlan-mesh (it holds the rule `{rule}`); refusing to take it over: rename or remove it")]
    Chain {
        /// The chain.
        chain: String,
        /// The first rule that is not ours, as `ebtables -L` lists it.
        rule: String,
    },
    /// The nftables table is not in the shape vxlan-mesh writes.
    #[error("nftables table `inet {table}` exists but was not created by vxlan-mesh ({reason}); refusing to replace it: rename or remove it")]
    Table {
        /// The table (family `inet`).
        table: String,
        /// What differs from the shape vxlan-mesh writes.
        reason: String,
    },
    /// A route vxlan-mesh did not add takes a peer's inner address away from the WireGuard
    /// interface.
    #[error("route `{route}` takes the inner address `{address}` of peer `{peer}` away from the WireGuard interface `{interface}`, so the overlay to it is cut (the firewall drops its VXLAN packets rather than send them in clear); vxlan-mesh did not add that route and does not remove it; nothing was changed: delete it (`ip route del {route}`) or narrow it so that it no longer covers `{address}`")]
    Route {
        /// The peer's host name.
        peer: String,
        /// Its inner address.
        address: std::net::IpAddr,
        /// The route, in `ip route` words.
        route: String,
        /// The WireGuard interface.
        interface: String,
    },
}

/// The link settings of an interface that a change sets in place: MTU, up, alias.
type LinkSettings<'a> = (u32, bool, &'a str);

/// What differs between two interfaces' [`LinkSettings`], in words.
fn link_delta((mtu, up, alias): LinkSettings<'_>, (to_mtu, to_up, to_alias): LinkSettings<'_>) -> Vec<String> {
    let mut d = Vec::new();
    if mtu != to_mtu {
        d.push(format!("mtu {mtu} -> {to_mtu}"));
    }
    if up != to_up {
        d.push(if to_up { "up" } else { "down" }.to_string());
    }
    if alias != to_alias {
        d.push(format!("alias {} -> {}", shown(alias), shown(to_alias)));
    }
    d
}

fn bridge_delta(from: &Bridge, to: &Bridge) -> Vec<String> {
    let mut d = link_delta((from.mtu, from.up, &from.alias), (to.mtu, to.up, &to.alias));
    // Only ever turned on: a plan without it leaves the host's setting alone.
    if to.arp_accept && !from.arp_accept {
        d.push("arp_accept on".to_string());
    }
    d.extend(from.ipv6.delta(&to.ipv6));
    d
}

/// How an observed value shows where one is wanted and the host has none.
const UNSET: &str = "unset";

/// The attribute `name` when the observed value differs from the wanted one: its name, or
/// its name and [`UNSET`] when the host reported none (drift, never read as a value).
fn differs<T: PartialEq>(name: &str, have: Option<T>, want: T) -> Option<String> {
    match have {
        None => Some(format!("{name} {UNSET}")),
        Some(have) if have != want => Some(name.to_string()),
        Some(_) => None,
    }
}

/// Attributes that the kernel cannot change on an existing VXLAN device.
fn immutable_delta(from: &ObservedVxlan, to: &Vxlan) -> Vec<String> {
    [
        differs("vni", from.vni, to.vni),
        differs("local", from.local, to.local),
        (from.remote != to.remote).then(|| "remote".to_string()),
        differs("port", from.port, to.port),
        (from.underlay_device != to.underlay_device).then(|| "underlay device".to_string()),
        differs("learning", from.learning, to.learning),
        differs("udp checksum", from.udp_checksum, to.udp_checksum),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn vxlan_delta(from: &ObservedVxlan, to: &Vxlan) -> Vec<String> {
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
    d.extend(
        from.port_flags
            .changes_to(&to.port_flags)
            .into_iter()
            .map(|(flag, on)| format!("{} {}", flag.describe(), if on { "on" } else { "off" })),
    );
    d.extend(from.ipv6.delta(&to.ipv6));
    if from.up != to.up {
        d.push(if to.up { "up" } else { "down" }.to_string());
    }
    if from.alias != to.alias {
        d.push(format!("alias {} -> {}", shown(&from.alias), shown(&to.alias)));
    }
    d
}

/// The peers of `from` and `to` by public key: removed (in `from` only), added or changed
/// (in `to`, with what `from` has for that key, if anything).
pub(crate) struct PeerDelta<'a> {
    /// Peers to remove, as observed.
    pub(crate) removed: Vec<&'a ObservedWireguardPeer>,
    /// Peers to add or set, as wanted, with the observed one when it exists.
    pub(crate) set: Vec<(&'a WireguardPeer, Option<&'a ObservedWireguardPeer>)>,
}

/// What differs between two peers' settings (the observed side names a peer by its key), in
/// words: empty when they agree. Every attribute `wg` reports of a peer is compared.
fn peer_attribute_delta(have: &ObservedWireguardPeer, want: &WireguardPeer) -> Vec<&'static str> {
    let sorted = |ips: &[crate::Prefix]| {
        let mut v = ips.to_vec();
        v.sort_unstable();
        v
    };
    let mut d = Vec::new();
    if have.public_key != want.public_key {
        d.push("public key");
    }
    match have.endpoint {
        None => d.push("endpoint unset"),
        Some(e) if e != want.endpoint => d.push("endpoint"),
        Some(_) => {}
    }
    if sorted(&have.allowed_ips) != sorted(&want.allowed_ips) {
        d.push("allowed ips");
    }
    if have.persistent_keepalive != want.persistent_keepalive {
        d.push("persistent keepalive");
    }
    if have.preshared_key != want.preshared_key {
        d.push("preshared key");
    }
    d
}

pub(crate) fn peer_delta<'a>(from: &'a ObservedWireguard, to: &'a WireguardPlan) -> PeerDelta<'a> {
    let have: BTreeMap<_, &ObservedWireguardPeer> = from.peers.iter().map(|p| (p.public_key, p)).collect();
    let want: BTreeMap<_, &WireguardPeer> = to.peers.iter().map(|p| (p.public_key, p)).collect();
    PeerDelta {
        removed: have
            .iter()
            .filter(|(k, _)| !want.contains_key(*k))
            .map(|(_, p)| *p)
            .collect(),
        set: to
            .peers
            .iter()
            .map(|p| (p, have.get(&p.public_key).copied()))
            .filter(|(p, had)| had.is_none_or(|h| !peer_attribute_delta(h, p).is_empty()))
            .collect(),
    }
}

/// What differs between an observed and a wanted WireGuard interface, in words.
fn wireguard_delta(from: &ObservedWireguard, to: &WireguardPlan) -> Vec<String> {
    let mut d = link_delta((from.mtu, from.up, &from.alias), (to.mtu, to.up, &to.alias));
    let wanted = InterfaceAddress::new(to.address, to.prefix_len);
    if from.address != Some(wanted) {
        d.push(format!(
            "address {} -> {wanted}",
            from.address.map_or_else(|| UNSET.to_string(), |a| a.to_string())
        ));
    }
    if from.listen_port != to.listen_port {
        d.push(format!("listen port {} -> {}", from.listen_port, to.listen_port));
    }
    if from.fwmark != to.fwmark {
        d.push(format!(
            "fwmark {} -> {}",
            crate::wireguard::fwmark_text(from.fwmark),
            crate::wireguard::fwmark_text(to.fwmark)
        ));
    }
    if from.public_key != Some(to.public_key) {
        d.push(format!(
            "key {} -> {}",
            from.public_key.map_or_else(|| UNSET.to_string(), |k| k.to_string()),
            to.public_key
        ));
    }
    let peers = peer_delta(from, to);
    for p in peers.removed {
        d.push(format!("remove peer {}", p.public_key));
    }
    for (p, had) in peers.set {
        d.push(match had {
            None => format!("add peer {}", shown(&p.name)),
            Some(h) => format!(
                "update peer {} ({})",
                shown(&p.name),
                peer_attribute_delta(h, p).join(", ")
            ),
        });
    }
    d
}

/// The changes the routes towards the peers' inner addresses call for. A route that leaves
/// by another way either wins over the interface's own (in a table looked up before main,
/// or at least as specific as its prefix: a tie goes to the route that was there first) and
/// is someone else's to remove, or wins only because the interface's route is missing:
/// then apply restores it, unless other changes (the interface brought up, its address
/// set) bring it back anyway.
fn wireguard_routes(want: &WireguardPlan, observed: &Observed) -> Vec<Change> {
    let addressed = observed.wireguard.as_ref().is_some_and(|h| {
        h.interface == want.interface && h.up && h.address == Some(InterfaceAddress::new(want.address, want.prefix_len))
    });
    let mut changes = Vec::new();
    let mut missing = None;
    for found in &observed.wireguard_routes {
        match &found.route {
            Some(r) if r.device.as_deref() == Some(want.interface.as_str()) => {}
            Some(r) if r.table != MAIN_TABLE || r.prefix_len >= want.prefix_len => changes.push(Change::ForeignRoute {
                interface: want.interface.clone(),
                found: found.clone(),
            }),
            _ => {
                missing.get_or_insert(found);
            }
        }
    }
    if let Some(found) = missing.filter(|_| addressed && changes.is_empty()) {
        changes.push(Change::RestoreWireguardRoute {
            wireguard: want.clone(),
            found: found.clone(),
        });
    }
    changes
}

/// What identifies an FDB entry in the kernel: device, MAC, and the remote's destination,
/// VNI, port and underlay interface (a flood entry with another VNI or port is another
/// remote, and drift).
type FdbKey<'a> = (
    &'a str,
    crate::MacAddr,
    std::net::IpAddr,
    Option<u32>,
    Option<u16>,
    Option<&'a str>,
);

fn fdb_key(e: &FdbEntry) -> FdbKey<'_> {
    (&e.device, e.mac, e.destination, e.vni, e.port, e.via.as_deref())
}

/// The ordered changes that turn `observed` into `desired`.
///
/// Order: firewall first (so no tunnel is ever open to the world), then removals of stale
/// entries, devices and bridges, then bridges, loop rules and the jump to them as the first
/// rule of `FORWARD` (before any per-peer port joins a bridge), devices and FDB entries;
/// removing loop rules and the firewall comes last. A chain or table named like ours but
/// not ours ([`LoopChain::owned`], [`Table::Foreign`]) is an error when the plan wants it and
/// left alone otherwise; ours altered ([`Table::Altered`]) is replaced or removed.
/// FDB entries the kernel implies from a device's `remote` are not reported, nor, when
/// `desired.external_fdb` (evpn mode), any FDB entry: FRR installs and removes those.
///
/// ```
/// use vxlan_mesh_core::{diff, Observed, State};
/// # let fleet = vxlan_mesh_core::testing::two_hosts();
/// let desired = fleet.plan("a").unwrap().state();
/// let changes = diff(&desired, &Observed::default()).unwrap();
/// assert!(!changes.is_empty());
/// let applied = Observed::from(&desired);
/// assert!(diff(&desired, &applied).unwrap().is_empty());
/// // Teardown is the diff towards nothing.
/// // FDB entries vanish with their device, so teardown is one step shorter.
/// assert_eq!(diff(&State::default(), &applied).unwrap().len(), changes.len() - 1);
/// ```
pub fn diff(desired: &State, observed: &Observed) -> Result<Vec<Change>, ForeignConflict> {
    for name in desired
        .bridges
        .iter()
        .map(|b| &b.name)
        .chain(desired.vxlans.iter().map(|v| &v.name))
        .chain(desired.wireguard.iter().map(|w| &w.interface))
    {
        if observed.foreign.iter().any(|f| f == name) {
            return Err(ForeignConflict::Interface { name: name.clone() });
        }
    }
    // Objects named like ours that are not ours: refused when wanted, else left alone.
    // `have_table`: `Ok` ours as observed, `Err` ours altered by hand (its name).
    let have_table = match &observed.firewall {
        Some(Table::Foreign { table, reason }) if desired.firewall.is_some() => {
            return Err(ForeignConflict::Table {
                table: table.clone(),
                reason: reason.clone(),
            })
        }
        Some(Table::Ours(have)) => Some(Ok(have)),
        Some(Table::Altered { table, .. }) => Some(Err(table)),
        _ => None,
    };
    let have_chain = match observed.loop_rules.as_ref().map(|c| (c, c.owned())) {
        Some((c, Err(rule))) if desired.loop_rules.is_some() => {
            return Err(ForeignConflict::Chain {
                chain: c.chain.clone(),
                rule: rule.to_string(),
            })
        }
        Some((c, Ok(rules))) => Some((c, rules)),
        _ => None,
    };

    let mut changes = Vec::new();

    if let Some(Table::Ours(want)) = &desired.firewall
        && have_table != Some(Ok(want))
    {
        changes.push(Change::InstallFirewall { firewall: want.clone() });
    }

    let want_vx: BTreeMap<&str, &Vxlan> = desired.vxlans.iter().map(|v| (v.name.as_str(), v)).collect();
    let have_vx: BTreeMap<&str, &ObservedVxlan> = observed.vxlans.iter().map(|v| (v.name.as_str(), v)).collect();
    let want_br: BTreeMap<&str, &Bridge> = desired.bridges.iter().map(|b| (b.name.as_str(), b)).collect();
    let have_br: BTreeMap<&str, &Bridge> = observed.bridges.iter().map(|b| (b.name.as_str(), b)).collect();

    // Entries the kernel adds by itself for a device's `remote` (through its underlay
    // device, which it names as the entry's `via`).
    // `remote`: that of the entry's device, if it has one.
    let implied = |e: &FdbEntry, remote: Option<std::net::IpAddr>| {
        e.mac == crate::MacAddr::ZERO && e.device_defaults() && remote == Some(e.destination)
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
        .filter(|e| !implied(e, want_vx.get(e.device.as_str()).and_then(|v| v.remote)))
        .map(|e| (fdb_key(e), e))
        .collect();
    // Entries an external control plane installed are its own, whatever they are.
    let external = |_: &&FdbEntry| !desired.external_fdb;
    let have_fdb: BTreeMap<_, &FdbEntry> = observed
        .fdb
        .iter()
        .filter(external)
        .filter(|e| !implied(e, have_vx.get(e.device.as_str()).and_then(|v| v.remote)))
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
    // A learned entry (or one another tool installed as `extern_learn`) is the device's own
    // business while it points at one of the device's destinations (a flood entry's, or its
    // `remote`) with the device's VNI and port; towards any other address (a host that left
    // the inventory, a stranger) it is a stale or hijacked tunnel.
    let destination_of = |e: &FdbEntry| {
        let towards_peer = desired
            .fdb
            .iter()
            .any(|w| w.device == e.device && w.destination == e.destination)
            || want_vx
                .get(e.device.as_str())
                .is_some_and(|v| v.remote == Some(e.destination));
        e.device_defaults() && towards_peer
    };
    for entry in observed.learned.iter().filter(external) {
        let kept = want_vx.contains_key(entry.device.as_str()) && !recreated.contains(&entry.device.as_str());
        if kept && !destination_of(entry) {
            changes.push(Change::DeleteFdb { entry: entry.clone() });
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
    // Another name is another interface: the old one goes first.
    match (&desired.wireguard, &observed.wireguard) {
        (want, Some(have)) if want.as_ref().is_none_or(|w| w.interface != have.interface) => {
            changes.push(Change::DeleteWireguard {
                wireguard: have.clone(),
            });
        }
        _ => {}
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
    if let Some(want) = &desired.wireguard {
        match observed.wireguard.as_ref().filter(|h| h.interface == want.interface) {
            None => changes.push(Change::CreateWireguard {
                wireguard: want.clone(),
            }),
            Some(have) if !wireguard_delta(have, want).is_empty() => changes.push(Change::UpdateWireguard {
                from: have.clone(),
                to: want.clone(),
            }),
            Some(_) => {}
        }
    }
    if let Some(want) = &desired.wireguard {
        changes.extend(wireguard_routes(want, observed));
    }
    if let Some(want) = &desired.loop_rules {
        let want_rules = want.owned().map_err(|rule| ForeignConflict::Chain {
            chain: want.chain.clone(),
            rule: rule.to_string(),
        })?;
        // A policy other than RETURN decides every frame our rules let through, before
        // `FORWARD`'s own rules below the jump see it.
        if have_chain
            .as_ref()
            .is_none_or(|(c, have)| *have != want_rules || c.policy != want.policy)
        {
            changes.push(Change::InstallLoopRules {
                rules: want_rules,
                exists: have_chain.is_some(),
            });
        }
        let jumps = have_chain.as_ref().map(|(c, _)| c.jumps.clone()).unwrap_or_default();
        if jumps != want.jumps {
            changes.push(Change::PlaceLoopJump {
                chain: want.chain.clone(),
                jumps,
            });
        }
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
                        reason,
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
    if let (None, Some((have, _))) = (&desired.loop_rules, &have_chain) {
        changes.push(Change::RemoveLoopRules {
            chain: have.chain.clone(),
            jumps: have.jumps.clone(),
        });
    }
    if let (None, Some(have)) = (&desired.firewall, have_table) {
        changes.push(Change::RemoveFirewall {
            table: have.map_or_else(Clone::clone, |fw| fw.table.clone()),
        });
    }
    Ok(changes)
}
