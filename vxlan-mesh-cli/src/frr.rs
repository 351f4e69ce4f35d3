//! Which FRR instance `apply`, `status` and `down` talk to in mode `evpn`
//! (`--frr-pathspace`, `--frr-vty-dir`); what they do with it is
//! [`vxlan_mesh_core::host`]'s.

use std::path::PathBuf;

use clap::Args;
use vxlan_mesh_core::netlink::frr::Frr;

/// `--frr-pathspace NAME` and `--frr-vty-dir DIR` of the commands that act on this host.
#[derive(Debug, Args, Clone)]
pub struct FrrArg {
    /// The FRR instance holding the BGP EVPN configuration (mode `evpn`): the pathspace its
    /// daemons were started with (`-N NAME`). Default: the system's FRR.
    #[arg(long, value_name = "NAME", env = "VXLAN_MESH_FRR_PATHSPACE")]
    pub frr_pathspace: Option<String>,
    /// Where vtysh finds the FRR daemons' vty sockets (its `--vty_socket`; with
    /// `--frr-pathspace NAME`, in DIR/NAME). Default: FRR's own (/var/run/frr).
    #[arg(long, value_name = "DIR", env = "VXLAN_MESH_FRR_VTY_DIR")]
    pub frr_vty_dir: Option<PathBuf>,
}

impl FrrArg {
    /// The instance the arguments select.
    pub fn instance(&self) -> Frr {
        let mut frr = Frr::system();
        if let Some(name) = &self.frr_pathspace {
            frr = frr.pathspace(name.clone());
        }
        if let Some(dir) = &self.frr_vty_dir {
            frr = frr.vty_dir(dir.clone());
        }
        frr
    }
}
