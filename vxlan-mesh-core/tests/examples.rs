//! The bundled example inventories (the two fleets of the classic HOWTO) are valid and plan
//! as documented.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;

use vxlan_mesh_core::{Inventory, LoopPreventionPlan, Mode};

fn load(name: &str) -> vxlan_mesh_core::Fleet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    Inventory::from_toml_str(&text).unwrap().validate().unwrap()
}

#[test]
fn every_example_inventory_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let fleet = Inventory::from_toml_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(fleet.plans().len(), fleet.hosts().len());
            n += 1;
        }
    }
    assert!(n >= 2, "expected the two classic fleets, found {n} inventories");
}

#[test]
fn classic_geo_is_a_four_host_flood_mesh() {
    let fleet = load("classic-geo.toml");
    assert_eq!(fleet.hosts().len(), 4);
    assert_eq!(fleet.mode(), Mode::Flood);
    let plan = fleet.plan("lxd1").unwrap();
    assert_eq!(plan.networks[0].fdb.len(), 3);
    assert_eq!(plan.networks[0].mtu, 1450);
}

#[test]
fn hetzner_is_a_four_host_per_peer_mesh_with_isolation() {
    let fleet = load("hetzner.toml");
    assert_eq!(fleet.mode(), Mode::PerPeer);
    let plan = fleet.plan("lxd4").unwrap();
    assert_eq!(plan.loop_prevention, LoopPreventionPlan::Isolation);
    let vnis: Vec<u32> = plan.networks[0].vxlans.iter().map(|v| v.vni).collect();
    assert_eq!(vnis, vec![1003, 1004, 1005]);
}
