//! The FRR form: in evpn mode, the host's `router bgp` block as the core writes it
//! ([`vxlan_mesh_core::frr::Config::render`]), with a header saying where it goes. The
//! shell, networkd and netplan forms ship the same file.

use askama::Template;
use vxlan_mesh_core::frr::Config;
use vxlan_mesh_core::HostPlan;

use crate::{fill, Header, RenderError, RenderedFile};

/// Where the file is installed (beside the firewall's `.nft` files).
pub(crate) const PATH: &str = "etc/vxlan-mesh/frr.conf";

#[derive(Template)]
#[template(path = "frr.conf")]
struct FrrConf<'a> {
    h: &'a Header,
    asn: u32,
    path: String,
    /// The core's text, never re-derived here.
    block: String,
}

/// The FRR configuration file of `plan`; `None` outside evpn mode.
pub(crate) fn render(plan: &HostPlan, h: &Header) -> Result<Option<RenderedFile>, RenderError> {
    let Some(config) = Config::from_plan(plan) else {
        return Ok(None);
    };
    let conf = FrrConf {
        h,
        asn: config.asn(),
        path: format!("/{PATH}"),
        block: config.render(),
    };
    Ok(Some(RenderedFile {
        contents: fill(PATH, &conf)?,
        path: PATH.into(),
        mode: 0o644,
    }))
}
