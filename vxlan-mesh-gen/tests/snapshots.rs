//! Every format × every inventory (flood, per-peer isolation, per-peer ebtables, IPv6,
//! underlay device without firewall): the full rendered output of host `lxd1` (or the first
//! host), with each file's path and mode, as an insta snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fmt::Write as _;

use vxlan_mesh_gen::{render_with, Format, Options};

#[test]
fn every_format_of_every_inventory() {
    for (name, path) in common::inventories() {
        let fleet = common::fleet(&path);
        let host = &fleet.hosts()[0].name;
        let plan = fleet.plan(host).unwrap();
        let opts = Options::new(common::label(&name, &path));
        for format in Format::of_plan(&plan) {
            let files = render_with(&plan, format, &opts).unwrap();
            let mut all = String::new();
            for f in &files {
                let _ = writeln!(all, "==> {} (mode {:o}) <==", f.path.display(), f.mode);
                all.push_str(&f.contents);
                all.push('\n');
            }
            insta::assert_snapshot!(format!("{name}-{format}-{host}"), all);
        }
    }
}

#[test]
fn file_modes_follow_what_consumers_require() {
    for (_, path) in common::inventories() {
        let fleet = common::fleet(&path);
        for plan in fleet.plans() {
            for format in Format::of_plan(&plan) {
                for f in render_with(&plan, format, &Options::default()).unwrap() {
                    let want = match f.path.extension().and_then(|e| e.to_str()) {
                        Some("sh") => 0o755,
                        Some("yaml") => 0o600,
                        _ => 0o644,
                    };
                    assert_eq!(f.mode, want, "{}", f.path.display());
                    assert!(f.contents.ends_with('\n'), "{} lacks a final newline", f.path.display());
                }
            }
        }
    }
}

/// The firewall is in every form (issue 7): the core's nft text, verbatim.
#[test]
fn every_form_carries_the_cores_firewall_text() {
    for (name, path) in common::inventories() {
        let fleet = common::fleet(&path);
        for plan in fleet.plans() {
            for format in Format::of_plan(&plan) {
                let files = render_with(&plan, format, &Options::default()).unwrap();
                match &plan.firewall {
                    Some(fw) => {
                        let nft = vxlan_mesh_core::firewall::nft_script(fw);
                        let found = match format {
                            // The networkd form's files, byte for byte once real Ignition wrote
                            // them: tests/ignition.rs.
                            Format::Ignition => continue,
                            // The BGP configuration alone; the firewall is in the other forms.
                            Format::Frr => continue,
                            // Every other form ships the script, whose `firewall-start` the
                            // firewall unit runs.
                            _ => files.iter().any(|f| {
                                f.path.ends_with("vxlan-mesh.sh")
                                    && f.contents.contains(&vxlan_mesh_core::argv::single_quoted(&nft))
                            }),
                        };
                        assert!(found, "{name}/{}: {format} lacks the firewall", plan.host);
                    }
                    None => assert!(
                        !files.iter().any(|f| f.path.ends_with("vxlan-mesh-firewall.service")),
                        "{name}: firewall off but shipped"
                    ),
                }
            }
        }
    }
}
