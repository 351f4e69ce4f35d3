//! The diff converges: for two inventories A and B (one input, split at a `%%` line), a
//! host's state as B plans it is "observed", as A plans it is "desired"; executing the
//! changes `diff(desired, observed)` returns, one by one, on a model of the host must give
//! exactly the desired state, after which the diff is empty. This is what `apply` relies
//! on to converge a host from whatever an older inventory left behind.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use vxlan_mesh_core::{
    diff, Change, FdbEntry, Fleet, Inventory, LoopChain, MacAddr, Observed, ObservedVxlan, ObservedWireguard, Table,
};

const MAX_HOSTS: usize = 6;

fn fleet(text: &str) -> Option<Fleet> {
    Inventory::from_toml_str(text).ok()?.validate().ok()
}

/// What the kernel would hold after each change, as the netlink executor performs it.
fn execute(state: &mut Observed, change: &Change) {
    let drop_fdb_of = |state: &mut Observed, dev: &str| state.fdb.retain(|e| e.device != dev);
    match change {
        Change::InstallFirewall { firewall } => state.firewall = Some(Table::Ours(firewall.clone())),
        Change::RemoveFirewall { .. } => state.firewall = None,
        Change::InstallLoopRules { rules, .. } => {
            let jumps = state.loop_rules.take().map(|c| c.jumps).unwrap_or_default();
            let mut chain = LoopChain::wanted(rules.clone());
            chain.jumps = jumps;
            state.loop_rules = Some(chain);
        }
        Change::PlaceLoopJump { .. } => {
            if let Some(chain) = &mut state.loop_rules {
                chain.jumps = vec![1];
            }
        }
        Change::RemoveLoopRules { .. } => state.loop_rules = None,
        Change::DeleteFdb { entry } => state.fdb.retain(|e| e != entry),
        Change::AddFdb { entry } => state.fdb.push(entry.clone()),
        Change::DeleteVxlan { vxlan } => {
            state.vxlans.retain(|v| v.name != vxlan.name);
            drop_fdb_of(state, &vxlan.name);
        }
        Change::CreateVxlan { vxlan } => {
            assert!(
                !state.vxlans.iter().any(|v| v.name == vxlan.name),
                "create of existing {}",
                vxlan.name
            );
            state.vxlans.push(ObservedVxlan::from(vxlan));
        }
        Change::RecreateVxlan { from, to, .. } => {
            state.vxlans.retain(|v| v.name != from.name);
            drop_fdb_of(state, &from.name);
            state.vxlans.push(ObservedVxlan::from(to));
        }
        Change::UpdateVxlan { from, to } => {
            let v = state.vxlans.iter_mut().find(|v| v.name == from.name);
            *v.unwrap_or_else(|| panic!("update of missing vxlan {}", from.name)) = ObservedVxlan::from(to);
        }
        Change::DeleteBridge { bridge } => {
            state.bridges.retain(|b| b.name != bridge.name);
            // The kernel detaches the ports of a deleted bridge.
            for v in &mut state.vxlans {
                if v.bridge.as_deref() == Some(bridge.name.as_str()) {
                    v.bridge = None;
                }
            }
        }
        Change::CreateBridge { bridge } => {
            assert!(
                !state.bridges.iter().any(|b| b.name == bridge.name),
                "create of existing bridge {}",
                bridge.name
            );
            state.bridges.push(bridge.clone());
        }
        Change::UpdateBridge { from, to } => {
            let b = state.bridges.iter_mut().find(|b| b.name == from.name);
            *b.unwrap_or_else(|| panic!("update of missing bridge {}", from.name)) = to.clone();
        }
        Change::CreateWireguard { wireguard } => {
            assert!(state.wireguard.is_none(), "create of a second WireGuard interface");
            state.wireguard = Some(ObservedWireguard::from(wireguard));
        }
        Change::UpdateWireguard { from, to } => {
            assert_eq!(state.wireguard.as_ref(), Some(from), "update of another interface");
            state.wireguard = Some(ObservedWireguard::from(to));
        }
        Change::DeleteWireguard { .. } => state.wireguard = None,
        // A planned state holds no observed routes, so the diff of two has no route change.
        Change::RestoreWireguardRoute { .. } | Change::ForeignRoute { .. } => {
            panic!("a route change between two planned states: {change}")
        }
        // `Change` is `#[non_exhaustive]`: a kind this simulation does not know fails here.
        _ => panic!("a change the simulation does not model: {change}"),
    }
}

/// A state as the kernel shows it: order-free, without the flood entries a device's
/// `remote` implies.
fn normal(state: &Observed) -> Observed {
    let devices: BTreeMap<&str, &ObservedVxlan> = state.vxlans.iter().map(|v| (v.name.as_str(), v)).collect();
    let implied = |e: &FdbEntry| {
        e.mac == MacAddr::ZERO
            && devices
                .get(e.device.as_str())
                .is_some_and(|v| v.remote == Some(e.destination))
    };
    let mut s = state.clone();
    s.bridges.sort();
    s.vxlans.sort();
    s.fdb.retain(|e| !implied(e));
    for e in &mut s.fdb {
        e.peer = None; // not observable in the kernel
    }
    s.fdb.sort();
    s.fdb.dedup();
    s
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text.split_once("\n%%\n").unwrap_or((text, ""));
    let Some(want) = fleet(a) else {
        return;
    };
    let had = fleet(b);
    for host in want.hosts().iter().take(MAX_HOSTS) {
        let desired = want.plan(&host.name).map(|p| p.state()).unwrap_or_default();
        let observed = match &had {
            Some(f) => f
                .plan(&host.name)
                .or_else(|_| f.plan(&f.hosts()[0].name))
                .map(|p| Observed::from(&p.state()))
                .unwrap_or_default(),
            None => Observed::default(),
        };
        let changes = diff(&desired, &observed).unwrap_or_else(|e| panic!("no foreign objects, yet: {e}"));
        let mut host_state = observed.clone();
        for c in &changes {
            execute(&mut host_state, c);
        }
        let mut got = normal(&host_state);
        // `arp_accept` is only ever turned on: a plan without it (flood mode after evpn)
        // leaves the bridge's setting as it is.
        for b in &mut got.bridges {
            if desired.bridges.iter().any(|d| d.name == b.name && !d.arp_accept) {
                b.arp_accept = false;
            }
        }
        assert_eq!(
            got,
            normal(&Observed::from(&desired)),
            "host {} does not converge; changes: {changes:#?}",
            host.name
        );
        let again = diff(&desired, &host_state).unwrap_or_else(|e| panic!("{e}"));
        assert!(again.is_empty(), "second diff of host {}: {again:#?}", host.name);
    }
});
