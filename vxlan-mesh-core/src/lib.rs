//! # vxlan-mesh-core
//!
//! The pure core of vxlan-mesh: one inventory for a whole fleet of Linux servers in, one plan
//! per host out. A plan lists every object the host needs for a unicast VXLAN mesh — bridges,
//! VXLAN devices with their VNIs, FDB flood entries, loop prevention, MTUs and the peer-only
//! firewall — as plain serde data that the `netlink` feature applies and `vxlan-mesh-gen`
//! renders.
//!
//! Data flows one way: TOML text → [`Inventory`] → [`Inventory::validate`] → [`Fleet`] →
//! [`Fleet::plan`] → [`HostPlan`] → [`HostPlan::state`] → [`diff()`] against an observed
//! [`State`] → ordered [`Change`]s → lowered once into [`ops::Op`]s, which the netlink apply
//! executes and [`argv`] writes as commands. Everything here is deterministic and does no I/O.
//!
//! ```
//! use vxlan_mesh_core::{Inventory, Mode};
//!
//! let inventory = Inventory::from_toml_str(r#"
//!     mode = "per-peer"
//!
//!     [[networks]]
//!     name = "lan"
//!     vni = 100
//!     bridge = "vxbr0"
//!
//!     [[hosts]]
//!     name = "lxd1"
//!     address = "192.0.2.1"
//!     [[hosts]]
//!     name = "lxd2"
//!     address = "192.0.2.2"
//!     [[hosts]]
//!     name = "lxd3"
//!     address = "192.0.2.3"
//! "#)?;
//! let fleet = inventory.validate()?;
//! let plan = fleet.plan("lxd1")?;
//!
//! assert_eq!(plan.mode, Mode::PerPeer);
//! assert_eq!(plan.networks[0].mtu, 1450); // 1500 − 50 bytes of VXLAN over IPv4
//! assert_eq!(plan.networks[0].vxlans.len(), 2); // one device per peer
//! // Both ends of a link agree on its VNI.
//! let to_lxd2 = &plan.networks[0].vxlans[0];
//! let back = fleet.plan("lxd2")?.networks[0].vxlans.iter().find(|v| v.peer.as_deref() == Some("lxd1")).cloned();
//! assert_eq!(back.map(|v| v.vni), Some(to_lxd2.vni));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod argv;
pub mod diff;
pub mod error;
pub mod firewall;
pub mod fleet;
pub mod inventory;
pub mod mtu;
pub mod names;
#[cfg(all(feature = "netlink", target_os = "linux"))]
pub mod netlink;
pub mod ops;
pub mod plan;
pub mod probe;
#[doc(hidden)]
pub mod testing;
pub mod vni;

pub use diff::{diff, ChainRule, Change, ForeignConflict, LoopChain, State, Table};
pub use error::{Error, NameProblem, ParseError, PlanError, ValidationError, ValidationErrors};
pub use fleet::{Family, Fleet, Host, Network};
pub use inventory::{HostSpec, Inventory, LoopPrevention, Mode, NetworkSpec};
pub use plan::{
    Bridge, FdbEntry, Firewall, HostPlan, LoopPreventionPlan, LoopRule, LoopRules, MacAddr, NetworkPlan, Peer,
    UdpChecksum, Vxlan,
};

/// Parses, validates and plans in one call.
///
/// ```
/// let plan = vxlan_mesh_core::plan_host_from_toml(r#"
///     [[networks]]
///     name = "lan"
///     vni = 42
///     bridge = "br-lan"
///     [[hosts]]
///     name = "a"
///     address = "2001:db8::1"
///     [[hosts]]
///     name = "b"
///     address = "2001:db8::2"
/// "#, "a").unwrap();
/// assert_eq!(plan.networks[0].mtu, 1430); // 1500 − 70 bytes of VXLAN over IPv6
/// ```
pub fn plan_host_from_toml(text: &str, host: &str) -> Result<HostPlan, Error> {
    Ok(Inventory::from_toml_str(text)?.validate()?.plan(host)?)
}
