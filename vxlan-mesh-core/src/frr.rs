//! The FRR configuration of a host in evpn mode: one typed [`Config`] made from the plan,
//! and its one writer, [`Config::render`].
//!
//! The block is written exactly as FRR 8.4's `show running-config` prints it (checked
//! against a running bgpd by `tests/frr_config.rs`): a runtime that loads it with `vtysh`
//! can find the running `router bgp` block ([`running_block`]) and compare the two line by
//! line to know whether FRR has converged. vxlan-mesh owns one `router bgp` block, marked by
//! the peer-group [`PEER_GROUP`]:
//!
//! ```text
//! router bgp 65000
//!  bgp router-id 198.51.100.1
//!  no bgp default ipv4-unicast
//!  neighbor vxlan-mesh peer-group
//!  neighbor vxlan-mesh remote-as internal
//!  neighbor vxlan-mesh timers 3 9
//!  neighbor 198.51.100.2 peer-group vxlan-mesh
//!  bgp listen range 198.51.100.0/24 peer-group vxlan-mesh
//!  !
//!  address-family l2vpn evpn
//!   neighbor vxlan-mesh activate
//!   neighbor vxlan-mesh route-reflector-client
//!   advertise-all-vni
//!  exit-address-family
//! exit
//! ```
//!
//! FRR's own order is kept: neighbours by address (numerically), the listen range after
//! them, a ` !` before the address family. The timers line is there only when the
//! inventory sets timers; the listen range and `route-reflector-client` only on route
//! reflectors. `remote-as internal` makes every session internal BGP whatever the AS.

mod awk;
pub(crate) mod edit;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use crate::evpn::BgpTimers;
use crate::plan::HostPlan;
use crate::wireguard::Prefix;

pub use awk::edits_awk;
pub use edit::{change, BgpChange, ChangeError, Edit};

/// The peer-group that marks the `router bgp` block as vxlan-mesh's: every session of the
/// mesh is a member of it.
pub const PEER_GROUP: &str = "vxlan-mesh";

/// The line of the `router bgp` block that declares [`PEER_GROUP`], which marks the block
/// as vxlan-mesh's.
pub(crate) fn mark_line() -> String {
    format!(" neighbor {PEER_GROUP} peer-group")
}

/// The address family of the block that carries EVPN.
pub const EVPN_FAMILY: &str = "address-family l2vpn evpn";

/// The line that makes zebra announce (and read) every VXLAN device's VNI.
pub const ADVERTISE_ALL_VNI: &str = "advertise-all-vni";

/// The vtysh commands (one `-c` each) that give `advertise-all-vni` of the block `router bgp
/// ASN` again, which makes zebra read every VXLAN device again and learn a VNI it forgot.
///
/// ```
/// let c = vxlan_mesh_core::frr::relearn_commands(65000);
/// assert_eq!(c[1..4], ["router bgp 65000", "address-family l2vpn evpn", "no advertise-all-vni"]);
/// ```
pub fn relearn_commands(asn: u32) -> Vec<String> {
    vec![
        "configure terminal".into(),
        format!("router bgp {asn}"),
        EVPN_FAMILY.into(),
        format!("no {ADVERTISE_ALL_VNI}"),
        ADVERTISE_ALL_VNI.into(),
        "exit-address-family".into(),
    ]
}

/// The `router bgp` block of one host, as data.
///
/// ```
/// use vxlan_mesh_core::frr::Config;
/// let plan = vxlan_mesh_core::plan_host_from_toml(r#"
///     mode = "evpn"
///     [evpn]
///     underlay-prefix = "198.51.100.0/24"
///     [[networks]]
///     name = "lan"
///     vni = 100
///     bridge = "vxbr0"
///     [[hosts]]
///     name = "rr"
///     address = "198.51.100.1"
///     route-reflector = true
///     [[hosts]]
///     name = "b"
///     address = "198.51.100.2"
/// "#, "b")?;
/// let config = Config::from_plan(&plan).expect("evpn mode");
/// assert_eq!(config.asn(), 65000);
/// assert!(config.render().contains("\n neighbor 198.51.100.1 peer-group vxlan-mesh\n"));
/// # Ok::<(), vxlan_mesh_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    asn: u32,
    router_id: Ipv4Addr,
    timers: Option<BgpTimers>,
    /// Sorted as FRR lists them.
    neighbors: Vec<IpAddr>,
    /// On route reflectors: the prefix clients are accepted from.
    listen_range: Option<Prefix>,
    route_reflector: bool,
}

impl Config {
    /// The configuration `plan` needs: `None` unless the plan is in evpn mode.
    pub fn from_plan(plan: &HostPlan) -> Option<Config> {
        let evpn = plan.evpn.as_ref()?;
        let mut neighbors: Vec<IpAddr> = evpn.sessions.iter().map(|s| s.address).collect();
        neighbors.sort_unstable();
        neighbors.dedup();
        Some(Config {
            asn: evpn.asn,
            router_id: evpn.router_id,
            timers: evpn.timers,
            neighbors,
            listen_range: evpn.listen_range,
            route_reflector: evpn.route_reflector,
        })
    }

    /// The AS number of the `router bgp` block (what `no router bgp ASN` removes).
    pub fn asn(&self) -> u32 {
        self.asn
    }

    /// The `router bgp` block, one line per `\n`-terminated line, as FRR 8.4's `show
    /// running-config` prints it (see the [module](self) documentation).
    pub fn render(&self) -> String {
        let g = PEER_GROUP;
        let mut s = String::new();
        let _ = writeln!(s, "router bgp {}", self.asn);
        let _ = writeln!(s, " bgp router-id {}", self.router_id);
        let _ = writeln!(s, " no bgp default ipv4-unicast");
        let _ = writeln!(s, "{}", mark_line());
        let _ = writeln!(s, " neighbor {g} remote-as internal");
        if let Some(t) = self.timers {
            let _ = writeln!(s, " neighbor {g} timers {} {}", t.keepalive, t.hold_time);
        }
        for n in &self.neighbors {
            let _ = writeln!(s, " neighbor {n} peer-group {g}");
        }
        if let Some(range) = &self.listen_range {
            let _ = writeln!(s, " bgp listen range {range} peer-group {g}");
        }
        let _ = writeln!(s, " !");
        let _ = writeln!(s, " {EVPN_FAMILY}");
        let _ = writeln!(s, "  neighbor {g} activate");
        if self.route_reflector {
            let _ = writeln!(s, "  neighbor {g} route-reflector-client");
        }
        let _ = writeln!(s, "  {ADVERTISE_ALL_VNI}");
        let _ = writeln!(s, " exit-address-family");
        let _ = writeln!(s, "exit");
        s
    }
}

/// The default VRF's `router bgp` block of a `show running-config` text, from its `router
/// bgp ASN` line to its `exit` line, both included, each line ending in `\n`; `None` when
/// there is none. Comparable with [`Config::render`].
///
/// ```
/// let running = "frr version 8.4.4\n!\nrouter bgp 65000\n bgp router-id 192.0.2.1\nexit\n!\nend\n";
/// let block = vxlan_mesh_core::frr::running_block(running);
/// assert_eq!(block.as_deref(), Some("router bgp 65000\n bgp router-id 192.0.2.1\nexit\n"));
/// ```
pub fn running_block(running_config: &str) -> Option<String> {
    let mut lines = running_config.lines().skip_while(|l| !is_default_router_bgp(l));
    let first = lines.next()?;
    let mut block = format!("{first}\n");
    for line in lines {
        block.push_str(line);
        block.push('\n');
        if line == "exit" {
            return Some(block);
        }
    }
    // A listing cut short: no complete block.
    None
}

/// Whether `line` opens the default VRF's BGP instance (`router bgp ASN`, no `vrf`, no
/// `view`).
fn is_default_router_bgp(line: &str) -> bool {
    line.strip_prefix("router bgp ")
        .is_some_and(|asn| !asn.is_empty() && asn.bytes().all(|b| b.is_ascii_digit()))
}
