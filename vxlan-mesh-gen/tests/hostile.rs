//! A plan that slipped past validation (plans are plain data anyone can build) still cannot
//! make the generators write outside the output directory, take over the underlay device, or
//! break a file's structure: each case is refused with an error naming the problem.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vxlan_mesh_core::HostPlan;
use vxlan_mesh_gen::{render, Format, RenderError};

fn plan() -> HostPlan {
    vxlan_mesh_core::testing::two_hosts().plan("a").unwrap()
}

#[test]
fn a_bridge_name_with_a_path_cannot_leave_the_output_dir() {
    let mut p = plan();
    p.networks[0].bridge.name = "../../../etc/evil".into();
    let err = render(&p, Format::Networkd).unwrap_err();
    assert!(matches!(err, RenderError::UnsafePath { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "generated path `etc/systemd/network/50-vxlan-mesh-../../../etc/evil.netdev` could leave the output directory; refusing it"
    );
}

#[test]
fn a_newline_in_a_value_fails_unit_files_instead_of_adding_a_key() {
    let mut p = plan();
    p.networks[0].vxlans[0].alias = "vxlan-mesh:lan\nBridge=evil".into();
    let err = render(&p, Format::Networkd).unwrap_err();
    assert!(matches!(err, RenderError::Template { .. }), "{err}");
    assert!(
        err.to_string().starts_with(
            "cannot render `etc/systemd/network/50-vxlan-mesh-vxm100.netdev`: a value holds a character this format cannot carry"
        ),
        "{err}"
    );
}

#[test]
fn a_newline_in_a_value_stays_inside_its_quotes_in_shell_and_yaml() {
    let mut p = plan();
    p.networks[0].bridge.alias = "x'\nreboot\n".into();
    let script = &render(&p, Format::Shell).unwrap()[0].contents;
    assert!(script.contains("'x'\\''\nreboot\n'"), "{script}");
    let mut q = plan();
    q.networks[0].vxlans[0].name = "vxm100\": {}\nevil".into();
    // No drop-in (whose file name the device's name is part of): no flood entries, and
    // no bridge port whose flags would need one.
    q.networks[0].fdb.clear();
    q.networks[0].vxlans[0].bridge = None;
    let files = render(&q, Format::Netplan).unwrap();
    let yaml = &files[0].contents;
    assert!(yaml.contains(r#"    "vxm100\": {}\nevil":"#), "{yaml}");
    assert!(!yaml.contains("\nevil"), "{yaml}");
}

#[test]
fn a_generated_file_never_matches_the_underlay_device() {
    let mut p = plan();
    p.underlay_device = Some("vxbr0".into());
    for format in [Format::Networkd, Format::Netplan] {
        let err = render(&p, format).unwrap_err();
        assert!(matches!(err, RenderError::MatchesUnderlay { .. }), "{err}");
        assert!(
            err.to_string()
                .ends_with("would match the host's underlay device `vxbr0`; refusing to take it over"),
            "{err}"
        );
    }
}
