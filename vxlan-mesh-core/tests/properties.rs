//! Property tests over random valid inventories.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use vxlan_mesh_core::names::check_ifname;
use vxlan_mesh_core::{diff, Change, Fleet, HostPlan, HostSpec, Inventory, LoopPrevention, Mode, NetworkSpec, State};

fn address(v6: bool, i: usize) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16 + 1))
    } else {
        IpAddr::V4(Ipv4Addr::new(198, 51, (i / 250) as u8, (i % 250) as u8 + 1))
    }
}

prop_compose! {
    fn inventory()(
        n in 2usize..10,
        v6 in any::<bool>(),
        per_peer in any::<bool>(),
        ebtables in any::<bool>(),
        explicit_ids in any::<bool>(),
        id_spread in 1u32..4,
        nets in 1usize..4,
        base in 1u32..1000,
        mtus in proptest::collection::vec(1400u32..9001, 10),
        port in 1u16..=u16::MAX,
    ) -> Inventory {
        let hosts = (0..n).map(|i| HostSpec {
            name: format!("host-{i}"),
            address: address(v6, i),
            device: (i % 2 == 0).then(|| "eth0".to_string()),
            underlay_mtu: Some(mtus[i % mtus.len()]),
            // Explicit ids with gaps, as after hosts were removed.
            id: explicit_ids.then_some(1 + i as u32 * id_spread),
            networks: None,
            public_key: None,
            endpoint: None,
            persistent_keepalive: None,
            route_reflector: None,
        }).collect();
        // Ranges far enough apart for any id up to 40 (780 links).
        let networks = (0..nets).map(|k| NetworkSpec {
            name: format!("net{k}"),
            vni: base + k as u32 * 1000,
            bridge: format!("br{k}"),
            mtu: None,
            container_ipv6: None,
        }).collect();
        Inventory {
            port: Some(port),
            mode: Some(if per_peer { Mode::PerPeer } else { Mode::Flood }),
            loop_prevention: per_peer.then_some(if ebtables { LoopPrevention::Ebtables } else { LoopPrevention::Isolation }),
            firewall: Some(true),
            encryption: None,
            wireguard: None,
            evpn: None,
            networks,
            hosts,
        }
    }
}

fn link_vnis(fleet: &Fleet) -> BTreeMap<(String, String, String), u32> {
    let mut out = BTreeMap::new();
    for plan in fleet.plans() {
        for net in &plan.networks {
            for vx in &net.vxlans {
                if let Some(peer) = &vx.peer {
                    out.insert((net.name.clone(), plan.host.clone(), peer.clone()), vx.vni);
                }
            }
        }
    }
    out
}

fn fleet_is_flood(inv: &Inventory) -> bool {
    inv.mode != Some(Mode::PerPeer)
}

fn check_plan_invariants(fleet: &Fleet, plan: &HostPlan) {
    // No VNI and no device name twice on a host; every name fits IFNAMSIZ.
    let mut vnis = BTreeSet::new();
    let mut names = BTreeSet::new();
    for net in &plan.networks {
        assert!(check_ifname(&net.bridge.name).is_ok());
        assert!(names.insert(net.bridge.name.clone()));
        assert_eq!(net.bridge.mtu, net.mtu);
        for vx in &net.vxlans {
            assert!(vnis.insert(vx.vni), "VNI {} twice on {}", vx.vni, plan.host);
            assert!(names.insert(vx.name.clone()), "name {} twice on {}", vx.name, plan.host);
            assert!(check_ifname(&vx.name).is_ok(), "{}", vx.name);
            assert!(vx.vni >= 1 && vx.vni <= 16_777_215);
            assert_eq!(vx.mtu, net.mtu);
            assert_eq!(vx.port, fleet.port());
            assert_eq!(vx.local, plan.address);
        }
        // The container MTU fits every member's underlay.
        let network = fleet.networks().iter().find(|n| n.name == net.name).unwrap();
        for &hi in &network.members {
            let h = &fleet.hosts()[hi];
            assert!(net.mtu + plan.overhead <= h.underlay_mtu);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn both_ends_of_every_link_agree(inv in inventory()) {
        let fleet = inv.validate().unwrap();
        let plans: BTreeMap<String, HostPlan> = fleet.plans().into_iter().map(|p| (p.host.clone(), p)).collect();
        for plan in plans.values() {
            check_plan_invariants(&fleet, plan);
            for net in &plan.networks {
                match fleet.mode() {
                    Mode::PerPeer => {
                        prop_assert_eq!(net.vxlans.len(), plan.peers.len());
                        for vx in &net.vxlans {
                            let peer = vx.peer.as_ref().unwrap();
                            let other = &plans[peer];
                            let back = other.networks.iter().find(|n| n.name == net.name).unwrap()
                                .vxlans.iter().find(|v| v.peer.as_deref() == Some(plan.host.as_str())).unwrap();
                            prop_assert_eq!(back.vni, vx.vni);
                            prop_assert_eq!(back.port, vx.port);
                            prop_assert_eq!(back.remote, Some(plan.address));
                            prop_assert_eq!(vx.remote, Some(other.address));
                        }
                    }
                    Mode::Flood => {
                        prop_assert_eq!(net.vxlans.len(), 1);
                        prop_assert_eq!(net.vxlans[0].vni, net.vni);
                        let dsts: BTreeSet<IpAddr> = net.fdb.iter().map(|e| e.destination).collect();
                        let peers: BTreeSet<IpAddr> = plan.peers.iter().map(|p| p.address).collect();
                        prop_assert_eq!(dsts, peers);
                    }
                    other => prop_assert!(false, "mode {:?} has no invariants in this test yet", other),
                }
            }
        }
    }

    #[test]
    fn planning_is_deterministic(inv in inventory()) {
        let fleet = inv.validate().unwrap();
        prop_assert_eq!(fleet.plans(), fleet.plans());
        // Through the text form and back, too.
        let again = Inventory::from_toml_str(&inv.to_toml_string().unwrap()).unwrap().validate().unwrap();
        prop_assert_eq!(fleet.plans(), again.plans());
        // And the JSON contract round-trips.
        for plan in fleet.plans() {
            let json = serde_json::to_string(&plan).unwrap();
            let back: HostPlan = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, plan);
        }
    }

    #[test]
    fn adding_a_host_keeps_existing_link_vnis(inv in inventory()) {
        let before = link_vnis(&inv.validate().unwrap());
        let mut grown = inv.clone();
        let n = grown.hosts.len();
        let explicit = grown.hosts[0].id.is_some();
        grown.hosts.push(HostSpec {
            name: "newcomer".into(),
            address: address(grown.hosts[0].address.is_ipv6(), 400),
            device: None,
            underlay_mtu: None,
            id: explicit.then(|| grown.hosts.iter().filter_map(|h| h.id).max().unwrap_or(0) + 1 + n as u32 % 3),
            networks: None,
            public_key: None,
            endpoint: None,
            persistent_keepalive: None,
            route_reflector: None,
        });
        let after = link_vnis(&grown.validate().unwrap());
        prop_assert!(after.len() > before.len() || fleet_is_flood(&inv));
        for (link, vni) in &before {
            prop_assert_eq!(after.get(link), Some(vni), "link {:?} changed", link.clone());
        }
    }

    #[test]
    fn removing_a_host_keeps_other_link_vnis_with_explicit_ids(inv in inventory(), victim in 0usize..10) {
        prop_assume!(inv.hosts[0].id.is_some() && inv.hosts.len() > 2);
        let before = link_vnis(&inv.validate().unwrap());
        let mut shrunk = inv.clone();
        let gone = shrunk.hosts.remove(victim % shrunk.hosts.len()).name;
        let after = link_vnis(&shrunk.validate().unwrap());
        for (link, vni) in &after {
            prop_assert_eq!(before.get(link), Some(vni));
        }
        prop_assert!(after.keys().all(|(_, a, b)| *a != gone && *b != gone));
    }

    #[test]
    fn diff_converges_and_teardown_leaves_nothing(inv in inventory()) {
        let fleet = inv.validate().unwrap();
        for plan in fleet.plans() {
            let desired = plan.state();
            prop_assert!(diff(&desired, &desired).unwrap().is_empty());
            let setup = diff(&desired, &State::default()).unwrap();
            let creates = setup.iter().filter(|c| matches!(c, Change::CreateVxlan { .. })).count();
            prop_assert_eq!(creates, desired.vxlans.len());
            let teardown = diff(&State::default(), &desired).unwrap();
            let only_removals = teardown.iter().all(|c| matches!(c,
                Change::DeleteVxlan { .. } | Change::DeleteBridge { .. } | Change::RemoveLoopRules { .. } | Change::RemoveFirewall { .. }));
            prop_assert!(only_removals, "{:?}", teardown);
        }
    }
}
