//! The forms of an evpn plan (examples/evpn.toml): every VXLAN device without learning, its
//! bridge port with neighbour suppression on and learning off, no flood entry written by
//! vxlan-mesh, and the host's FRR configuration, the core's `router bgp` block verbatim,
//! shipped and loaded. netplan's real `generate` turns the YAML and drop-ins into the same
//! networkd settings.
//!
//! The netplan test needs netplan.io; it fails (does not skip) without it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use vxlan_mesh_core::frr::Config;
use vxlan_mesh_core::HostPlan;
use vxlan_mesh_gen::{render, write_files, Format, RenderError, RenderedFile};

fn plans() -> Vec<HostPlan> {
    common::example("evpn").0.plans()
}

fn file<'a>(files: &'a [RenderedFile], path: &str) -> &'a str {
    &files
        .iter()
        .find(|f| f.path.to_str() == Some(path))
        .unwrap_or_else(|| {
            panic!(
                "no {path} among {:?}",
                files.iter().map(|f| &f.path).collect::<Vec<_>>()
            )
        })
        .contents
}

#[test]
fn the_frr_form_is_the_cores_block_with_a_header() {
    for plan in plans() {
        let block = Config::from_plan(&plan).unwrap().render();
        let files = render(&plan, Format::Frr).unwrap();
        let [conf] = files.as_slice() else {
            panic!("one file: {files:?}")
        };
        assert_eq!(conf.path.to_str(), Some("etc/vxlan-mesh/frr.conf"));
        assert_eq!(conf.mode, 0o644);
        // Comment lines (FRR's `!`), then the block exactly as the core writes it.
        let (header, body) = conf.contents.split_at(conf.contents.find("\nrouter bgp ").unwrap() + 1);
        assert!(header.lines().all(|l| l.starts_with('!')), "{header}");
        assert!(header.contains("vtysh -f /etc/vxlan-mesh/frr.conf"), "{header}");
        assert_eq!(body, block);
        // The networkd and netplan forms ship the same file (the one the script's block
        // equals), and their sync runs after FRR.
        for format in [Format::Networkd, Format::Netplan] {
            let files = render(&plan, format).unwrap();
            let shipped = file(&files, "etc/vxlan-mesh/frr.conf");
            // The same file, but for the header line naming the command that rendered it.
            let without_command = |text: &str| {
                text.lines()
                    .filter(|l| !l.starts_with("! Rendered by:"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(without_command(shipped), without_command(&conf.contents), "{format}");
            let sync = file(&files, "etc/systemd/system/vxlan-mesh-sync.service");
            assert!(sync.contains("\nAfter=frr.service\nPartOf=frr.service\n"), "{sync}");
        }
    }
}

#[test]
fn the_frr_form_refuses_a_plan_outside_evpn_mode() {
    let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
    let err = render(&plan, Format::Frr).unwrap_err();
    assert!(
        matches!(&err, RenderError::NotEvpn { host, mode: "flood" } if host == "a"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "host `a`: the `frr` form is the BGP configuration of mode = \"evpn\"; this inventory's mode is `flood`"
    );
    assert!(!Format::of_plan(&plan).any(|f| f == Format::Frr));
}

#[test]
fn networkd_ports_suppress_neighbour_discovery_and_do_not_learn() {
    for plan in plans() {
        let files = render(&plan, Format::Networkd).unwrap();
        for v in plan.vxlans() {
            let netdev = file(&files, &format!("etc/systemd/network/50-vxlan-mesh-{}.netdev", v.name));
            assert!(netdev.contains("\nMacLearning=no\n"), "{netdev}");
            let network = file(&files, &format!("etc/systemd/network/50-vxlan-mesh-{}.network", v.name));
            assert!(
                network.contains("\n[Bridge]\n")
                    && network.contains("\nNeighborSuppression=yes\n")
                    && network.contains("\nLearning=no"),
                "{network}"
            );
            assert!(!network.contains("[BridgeFDB]"), "{network}");
        }
    }
}

#[test]
fn the_shell_form_sets_the_port_flags_leaves_the_fdb_to_frr_and_loads_the_block() {
    for plan in plans() {
        let script = &render(&plan, Format::Shell).unwrap()[0].contents;
        for v in plan.vxlans() {
            let flags = format!(
                "run 'ip' 'link' 'set' 'dev' '{}' 'type' 'bridge_slave' 'isolated' 'off' 'neigh_suppress' 'on' 'learning' 'off'",
                v.name
            );
            assert!(script.contains(&flags), "{flags}");
            assert!(
                !script.contains(&format!("prune_fdb '{}'", v.name)),
                "{}: FRR's entries would be pruned",
                v.name
            );
        }
        assert!(!script.contains("'fdb' 'append'"));
        let block = Config::from_plan(&plan).unwrap().render();
        assert!(
            script.contains(&format!("FRR_CONF='{block}'")),
            "the core's block, quoted whole"
        );
        assert!(
            script.contains("\tfrr_preflight\n") && script.contains("\tfrr_step\n") && script.contains("\tfrr_down\n")
        );
    }
    // Other modes neither carry FRR's parts nor suppress neighbour discovery.
    let flood = &render(&vxlan_mesh_core::testing::two_hosts().plan("a").unwrap(), Format::Shell).unwrap()[0].contents;
    assert!(!flood.contains("vtysh") && !flood.contains("'neigh_suppress' 'on'"));
}

#[test]
fn netplan_generate_gives_networkd_the_same_port_flags() {
    let tmp = common::TempDir::new("evpn-netplan");
    for plan in plans() {
        let root = tmp.0.join(&plan.host);
        let files = render(&plan, Format::Netplan).unwrap();
        let yaml = file(&files, "etc/netplan/60-vxlan-mesh.yaml");
        assert!(
            yaml.contains("      mac-learning: false\n      neigh-suppress: true\n"),
            "{yaml}"
        );
        write_files(&root, &files).unwrap();
        common::netplan_generate(&root, &plan.host);
        for v in plan.vxlans() {
            let generated = root.join("run/systemd/network");
            let netdev = std::fs::read_to_string(generated.join(format!("10-netplan-{}.netdev", v.name))).unwrap();
            assert!(netdev.contains("MacLearning=false"), "{netdev}");
            let network = std::fs::read_to_string(generated.join(format!("10-netplan-{}.network", v.name))).unwrap();
            assert!(network.contains("[Bridge]\nNeighborSuppression=true"), "{network}");
            // What netplan has no key for: our drop-in for that very file.
            let dropin = file(
                &files,
                &format!("etc/systemd/network/10-netplan-{}.network.d/50-vxlan-mesh.conf", v.name),
            );
            assert!(
                dropin.contains("\n[Bridge]\n") && dropin.contains("\nLearning=no"),
                "{dropin}"
            );
            assert!(!dropin.contains("[BridgeFDB]"), "{dropin}");
        }
    }
}
