//! The lab side of the CLI's end-to-end tests: the fleet and lab of an inventory's text, and
//! the binary run by the lab in one of its namespaces.

use std::path::Path;
use std::process::Output;

use vxlan_mesh_core::{Fleet, Inventory};
use vxlan_mesh_lab::{names, Lab, LabSpec};

use super::BIN;

/// The validated fleet of inventory `text`; panics with the broken rules and the text.
pub fn fleet_of(text: &str) -> Fleet {
    Inventory::from_toml_str(text)
        .unwrap()
        .validate()
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The lab of `fleet` with `containers` containers per host, under `tag` as given (unique:
/// from [`names::unique_tag`]).
pub fn lab_tagged(fleet: &Fleet, containers: usize, tag: &str) -> Lab {
    Lab::build(LabSpec::from_fleet(fleet, containers, tag).unwrap()).unwrap()
}

/// The lab of inventory `text` with `containers` containers per host, under a tag made
/// unique from `base`.
pub fn lab_for(text: &str, containers: usize, base: &str) -> Lab {
    lab_tagged(&fleet_of(text), containers, &names::unique_tag(base))
}

/// `vxlan-mesh -i INVENTORY ARGS…`, run by the lab in its namespace `netns`.
pub fn lab_cli(lab: &Lab, netns: &str, inventory: &Path, args: &[&str]) -> Output {
    let inv = inventory.to_str().unwrap();
    let mut argv = vec![BIN, "-i", inv];
    argv.extend_from_slice(args);
    lab.exec(netns, &argv).unwrap()
}

/// Checks that every container of `lab` reaches every other; panics with the matrix.
pub fn assert_full(lab: &Lab) {
    let matrix = lab.ping_matrix().unwrap();
    assert!(matrix.is_full(), "{}", matrix.render_text());
}
