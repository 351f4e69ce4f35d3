//! The diff's [`Change`]s lowered once into a typed, ordered list of kernel operations.
//!
//! Every form reads these: the netlink executor turns each [`Op`] into requests,
//! [`crate::argv`] turns each into the `ip`, `bridge`, `ebtables` and `nft` command that does
//! the same (what `apply --dry-run` prints and the rendered shell script runs). The ordering rules live here and nowhere else:
//!
//! - the firewall comes first and goes last (the diff orders changes so);
//! - a device is created down, then its alias (the ownership mark), MTU and bridge are set
//!   together, then bridge port isolation, and only then is it brought up: an isolated port
//!   never forwards before it is isolated;
//! - a device that moves to another bridge or goes down is taken down before it moves;
//! - the jump to the loop-prevention chain is inserted first in `FORWARD` before stale jumps
//!   are deleted (highest position first, so positions stay valid), and a chain loses its
//!   jumps before it is deleted.

use serde::{Deserialize, Serialize};

use crate::diff::Change;
use crate::plan::{Bridge, FdbEntry, Firewall, LoopRule, LoopRules, Vxlan};

/// The built-in ebtables chain vxlan-mesh's chain is jumped to from.
pub const FORWARD: &str = "FORWARD";

/// One kernel operation, in the order it must run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Op {
    /// Load (or atomically replace) the owned nftables table.
    LoadFirewall {
        /// The table.
        firewall: Firewall,
    },
    /// Delete the owned nftables table.
    RemoveFirewall {
        /// Table name (family `inet`).
        table: String,
    },
    /// Create a bridge, down.
    CreateBridge {
        /// Its name.
        name: String,
    },
    /// Create a VXLAN device, down, with its immutable attributes (VNI, addresses, port,
    /// underlay device, learning, UDP checksums).
    CreateVxlan {
        /// The device (its link settings are set by the [`Op::SetLink`] that follows).
        vxlan: Vxlan,
    },
    /// Change link settings of an interface; `None` leaves a setting as it is.
    SetLink {
        /// The interface.
        name: String,
        /// The settings.
        settings: LinkSettings,
    },
    /// Delete an interface.
    DeleteLink {
        /// The interface.
        name: String,
    },
    /// Set or clear the bridge port isolation flag.
    SetIsolated {
        /// The bridge port.
        name: String,
        /// Isolated or not.
        isolated: bool,
    },
    /// Add a permanent FDB entry on a VXLAN device.
    AddFdb {
        /// The entry.
        entry: FdbEntry,
    },
    /// Delete an FDB entry of a VXLAN device.
    DeleteFdb {
        /// The entry.
        entry: FdbEntry,
    },
    /// Create an (empty) ebtables chain in table `filter`.
    CreateChain {
        /// The chain.
        chain: String,
    },
    /// Delete every rule of an ebtables chain.
    FlushChain {
        /// The chain.
        chain: String,
    },
    /// Append a loop-prevention rule to an ebtables chain.
    AppendRule {
        /// The chain.
        chain: String,
        /// The rule.
        rule: LoopRule,
    },
    /// Insert `-j CHAIN` as the first rule of `FORWARD`.
    InsertJump {
        /// The chain jumped to.
        chain: String,
    },
    /// Delete the first `-j CHAIN` rule of `FORWARD`, wherever it is (the shell script
    /// removes the jumps it counted this way: it knows their number, not their positions).
    DeleteJump {
        /// The chain jumped to.
        chain: String,
    },
    /// Delete the rule at a position (1 = first) of an ebtables chain.
    DeleteRuleAt {
        /// The chain holding the rule.
        chain: String,
        /// Its position.
        position: usize,
    },
    /// Delete an empty, unreferenced ebtables chain.
    DeleteChain {
        /// The chain.
        chain: String,
    },
}

/// Link settings changed together (`ip link set dev NAME ...`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSettings {
    /// Interface alias (the ownership mark).
    pub alias: Option<String>,
    /// MTU.
    pub mtu: Option<u32>,
    /// Bridge membership.
    pub master: Option<Master>,
    /// Administratively up or down. Taking a device down is done before the other
    /// settings, bringing it up after them.
    pub up: Option<bool>,
}

/// The bridge an interface is a port of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Master {
    /// A port of this bridge.
    Bridge(String),
    /// Not a port of any bridge.
    None,
}

impl Master {
    fn of(bridge: Option<&String>) -> Master {
        bridge.map_or(Master::None, |b| Master::Bridge(b.clone()))
    }
}

fn set(name: &str, settings: LinkSettings) -> Op {
    Op::SetLink {
        name: name.to_string(),
        settings,
    }
}

fn up(name: &str) -> Op {
    set(
        name,
        LinkSettings {
            up: Some(true),
            ..LinkSettings::default()
        },
    )
}

/// The operations of one change, in order.
///
/// ```
/// use vxlan_mesh_core::{diff, ops, State};
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// let changes = diff(&plan.state(), &State::default()).unwrap();
/// let all: Vec<ops::Op> = changes.iter().flat_map(ops::for_change).collect();
/// assert!(all.contains(&ops::Op::CreateBridge { name: "vxbr0".into() }));
/// ```
pub fn for_change(change: &Change) -> Vec<Op> {
    match change {
        Change::InstallFirewall { firewall } => vec![Op::LoadFirewall {
            firewall: firewall.clone(),
        }],
        Change::RemoveFirewall { table } => vec![Op::RemoveFirewall { table: table.clone() }],
        Change::DeleteFdb { entry } => vec![Op::DeleteFdb { entry: entry.clone() }],
        Change::AddFdb { entry } => vec![Op::AddFdb { entry: entry.clone() }],
        Change::DeleteVxlan { vxlan } => vec![Op::DeleteLink {
            name: vxlan.name.clone(),
        }],
        Change::DeleteBridge { bridge } => vec![Op::DeleteLink {
            name: bridge.name.clone(),
        }],
        Change::CreateBridge { bridge } => create_bridge(bridge),
        Change::UpdateBridge { from, to } => update_bridge(from, to),
        Change::InstallLoopRules { rules, exists } => install_loop_rules(rules, *exists),
        Change::PlaceLoopJump { chain, jumps } => place_jump(chain, jumps),
        Change::RemoveLoopRules { chain, jumps } => {
            let mut v = delete_jumps(jumps, 0);
            v.push(Op::FlushChain { chain: chain.clone() });
            v.push(Op::DeleteChain { chain: chain.clone() });
            v
        }
        Change::CreateVxlan { vxlan } => create_vxlan(vxlan),
        Change::RecreateVxlan { from, to, .. } => {
            let mut v = vec![Op::DeleteLink {
                name: from.name.clone(),
            }];
            v.extend(create_vxlan(to));
            v
        }
        Change::UpdateVxlan { from, to } => update_vxlan(from, to),
    }
}

/// The operations of a list of changes, in order.
///
/// ```
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// let changes = vxlan_mesh_core::diff(&plan.state(), &Default::default()).unwrap();
/// let ops = vxlan_mesh_core::ops::lower(&changes);
/// assert!(matches!(ops[0], vxlan_mesh_core::ops::Op::LoadFirewall { .. }));
/// ```
pub fn lower(changes: &[Change]) -> Vec<Op> {
    changes.iter().flat_map(for_change).collect()
}

fn create_bridge(b: &Bridge) -> Vec<Op> {
    // An explicit MTU after creation pins it: the bridge no longer follows its smallest port.
    let mut v = vec![
        Op::CreateBridge { name: b.name.clone() },
        set(
            &b.name,
            LinkSettings {
                alias: Some(b.alias.clone()),
                mtu: Some(b.mtu),
                ..LinkSettings::default()
            },
        ),
    ];
    if b.up {
        v.push(up(&b.name));
    }
    v
}

fn update_bridge(from: &Bridge, to: &Bridge) -> Vec<Op> {
    vec![set(
        &to.name,
        LinkSettings {
            alias: (from.alias != to.alias).then(|| to.alias.clone()),
            mtu: (from.mtu != to.mtu).then_some(to.mtu),
            master: None,
            up: (from.up != to.up).then_some(to.up),
        },
    )]
}

fn install_loop_rules(rules: &LoopRules, exists: bool) -> Vec<Op> {
    let chain = rules.chain.clone();
    let mut v = vec![if exists {
        Op::FlushChain { chain: chain.clone() }
    } else {
        Op::CreateChain { chain: chain.clone() }
    }];
    v.extend(rules.rules.iter().map(|rule| Op::AppendRule {
        chain: chain.clone(),
        rule: rule.clone(),
    }));
    v
}

/// Jumps observed at `jumps`, deleted highest first after `shift` rules were inserted above.
fn delete_jumps(jumps: &[usize], shift: usize) -> Vec<Op> {
    let mut stale: Vec<usize> = jumps.to_vec();
    stale.sort_unstable();
    stale.dedup();
    stale
        .into_iter()
        .rev()
        .map(|p| Op::DeleteRuleAt {
            chain: FORWARD.to_string(),
            position: p + shift,
        })
        .collect()
}

/// The jump goes in first, so that loop prevention never lapses; then the stale ones go.
fn place_jump(chain: &str, jumps: &[usize]) -> Vec<Op> {
    if jumps.first() == Some(&1) {
        return delete_jumps(&jumps[1..], 0);
    }
    let mut v = vec![Op::InsertJump {
        chain: chain.to_string(),
    }];
    v.extend(delete_jumps(jumps, 1));
    v
}

fn create_vxlan(vx: &Vxlan) -> Vec<Op> {
    let mut v = vec![
        Op::CreateVxlan { vxlan: vx.clone() },
        set(
            &vx.name,
            LinkSettings {
                alias: Some(vx.alias.clone()),
                mtu: Some(vx.mtu),
                master: vx.bridge.as_ref().map(|b| Master::Bridge(b.clone())),
                up: None,
            },
        ),
    ];
    if vx.isolated && vx.bridge.is_some() {
        v.push(Op::SetIsolated {
            name: vx.name.clone(),
            isolated: true,
        });
    }
    if vx.up {
        v.push(up(&vx.name));
    }
    v
}

fn update_vxlan(from: &Vxlan, to: &Vxlan) -> Vec<Op> {
    let moved = from.bridge != to.bridge;
    let settings = LinkSettings {
        alias: (from.alias != to.alias).then(|| to.alias.clone()),
        mtu: (from.mtu != to.mtu).then_some(to.mtu),
        master: moved.then(|| Master::of(to.bridge.as_ref())),
        up: (moved || (from.up && !to.up)).then_some(false),
    };
    let mut v = Vec::new();
    if settings != LinkSettings::default() {
        v.push(set(&to.name, settings));
    }
    // A port that joins a bridge starts not isolated.
    if to.bridge.is_some() && (from.isolated != to.isolated || (moved && to.isolated)) {
        v.push(Op::SetIsolated {
            name: to.name.clone(),
            isolated: to.isolated,
        });
    }
    if to.up && (!from.up || moved) {
        v.push(up(&to.name));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misplaced_jump_is_inserted_first_then_the_old_ones_go_highest_first() {
        let ops = place_jump("C", &[2, 5]);
        let del = |position| Op::DeleteRuleAt {
            chain: FORWARD.into(),
            position,
        };
        assert_eq!(ops, [Op::InsertJump { chain: "C".into() }, del(6), del(3)]);
        assert_eq!(place_jump("C", &[1, 3, 4]), [del(4), del(3)]);
        assert_eq!(place_jump("C", &[]), [Op::InsertJump { chain: "C".into() }]);
    }
}
