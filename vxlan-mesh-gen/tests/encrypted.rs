//! No form renders an encrypted plan yet: each refuses it with one typed error rather than
//! writing a clear-text mesh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vxlan_mesh_gen::{render, Format, RenderError};

#[test]
fn every_form_refuses_an_encrypted_plan() {
    let text = "encryption = \"wireguard\"\n[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n\
                [[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\npublic-key = \"yqLoGkczmD/xXZPf6IcZm07lVt+bJFwpIj62fkJt23o=\"\n\
                [[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\npublic-key = \"1VY4lZYnYrHKR8drJcLOjvYyqts+9ocnTXoTmNI+MjU=\"\n";
    let plan = vxlan_mesh_core::plan_host_from_toml(text, "a").unwrap();
    for format in Format::ALL {
        let err = render(&plan, format).unwrap_err();
        assert!(
            matches!(&err, RenderError::Encrypted { host, format: f } if host == "a" && *f == format),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!("host `a`: encryption = \"wireguard\" is not rendered by the `{format}` form yet; use `vxlan-mesh apply` on the host")
        );
    }
}
