//! No form renders an evpn plan yet: each refuses it with one typed error rather than
//! writing devices without their bridge port flags and a host without its FRR
//! configuration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vxlan_mesh_gen::{render, Format, RenderError};

#[test]
fn every_form_refuses_an_evpn_plan() {
    let text = "mode = \"evpn\"\n[evpn]\nunderlay-prefix = \"192.0.2.0/24\"\n\
                [[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n\
                [[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\nroute-reflector = true\n\
                [[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n";
    let plan = vxlan_mesh_core::plan_host_from_toml(text, "a").unwrap();
    for format in Format::ALL {
        let err = render(&plan, format).unwrap_err();
        assert!(
            matches!(&err, RenderError::Evpn { host, format: f } if host == "a" && *f == format),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!("host `a`: mode = \"evpn\" is not rendered by the `{format}` form yet; use `vxlan-mesh apply` on the host")
        );
    }
}
