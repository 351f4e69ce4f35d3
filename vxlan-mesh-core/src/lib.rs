//! # vxlan-mesh-core
//!
//! The pure core of vxlan-mesh: one inventory for a whole fleet of Linux servers in, one plan
//! per host out. A plan lists every object the host needs for a unicast VXLAN mesh — bridges,
//! VXLAN devices with their VNIs, FDB flood entries, loop prevention, MTUs and the peer-only
//! firewall — as plain serde data that the `netlink` feature applies and `vxlan-mesh-gen`
//! renders.
//!
//! ## Overview
//!
//! Data flows one way, and everything but the `netlink` feature is deterministic and does
//! no I/O:
//!
//! 1. TOML text → [`Inventory::from_toml_str`] → [`Inventory`], the file as written (or
//!    build an [`Inventory`] in code);
//! 2. [`Inventory::validate`] → [`Fleet`]: every rule checked, defaults filled in, host ids,
//!    VNI ranges and MTUs derived. A `Fleet` exists only this way, so the planner can trust it;
//! 3. [`Fleet::plan`] → [`HostPlan`] for one host (serde data: devices, VNIs, flood entries,
//!    loop prevention, firewall);
//! 4. [`HostPlan::state`] → the [`State`] the host must reach, and [`diff()`] against an
//!    observed one → ordered [`Change`]s;
//! 5. [`ops::lower`] → the ordered [`ops::Op`]s, the one description of every step: the
//!    `netlink` feature executes them, [`argv`] writes them as `ip`/`bridge`/`ebtables`/`nft`
//!    commands (`apply --dry-run`, the rendered shell script).
//!
//! ## Errors are data
//!
//! [`ParseError`] and every [`ValidationError`] carry a stable, kebab-case code
//! ([`ValidationError::code`], [`ParseError::code`]; all of them in
//! [`ValidationError::CODES`] and [`ParseProblem::ALL`]) and a typed [`FieldPath`] to the field
//! they are about. [`Inventory::from_toml_str_with_positions`] also returns the [`Positions`]
//! of every value, which turn a path into a line and column. Messages name the field and
//! quote values in backticks; [`Error`] wraps the three stages and prints each cause once.
//!
//! ## Example
//!
//! ```
//! use vxlan_mesh_core::{FieldPath, Inventory, Key, Mode, Position, Section};
//!
//! let text = r#"
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
//! "#;
//! let fleet = Inventory::from_toml_str(text)?.validate()?;
//! let plan = fleet.plan("lxd1")?;
//!
//! assert_eq!(fleet.mode(), Mode::PerPeer);
//! assert_eq!(plan.networks[0].mtu, 1450); // 1500 − 50 bytes of VXLAN over IPv4
//! assert_eq!(plan.networks[0].vxlans.len(), 2); // one device per peer
//! // Both ends of a link agree on its VNI.
//! let to_lxd2 = &plan.networks[0].vxlans[0];
//! let back = fleet.plan("lxd2")?.networks[0].vxlans.iter().find(|v| v.peer.as_deref() == Some("lxd1")).cloned();
//! assert_eq!(back.map(|v| v.vni), Some(to_lxd2.vni));
//!
//! // A broken rule is data: a code, the field, and where it stands in the text.
//! let broken = text.replace("192.0.2.3", "192.0.2.1");
//! let (inventory, positions) = Inventory::from_toml_str_with_positions(&broken)?;
//! let errors = inventory.validate().unwrap_err();
//! let e = errors.iter().next().unwrap();
//! assert_eq!(e.code(), "duplicate-address");
//! assert_eq!(e.path(), FieldPath::of(Section::Host(2), Key::Address));
//! assert_eq!(positions.find(&e.path()), Some(Position { line: 17, column: 15 }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! - `netlink` (Linux): observe a host's devices, apply a plan's changes and tear them down
//!   through rtnetlink, in the module `netlink`; converge, check and tear down a whole host
//!   (devices, firewall, WireGuard, FRR) in one call each, in the module `host`; check a
//!   WireGuard key file against the host's `public-key`, in the module `key_file`.
//!
//! ## Public API
//!
//! The model, the plan, the diff and their errors are items of the crate root, each under
//! one name (the modules that define them are private). The modules that stay public are
//! namespaces an embedder calls by path, where the module's name says what the item is
//! about:
//!
//! - [`argv`] and [`ops`]: the steps of a plan as data and as commands;
//! - [`firewall`], [`frr`], [`wireguard`], [`mtu`]: the nft text, the FRR configuration and
//!   its edits, WireGuard's facts (keys, defaults, routes) and the MTU arithmetic;
//! - [`metrics`], [`probe`], [`schema`], [`ns_lock`], [`key_file`]: Prometheus metrics, the
//!   path MTU probe, the inventory's documented keys, the namespace lock shared with the
//!   rendered script, WireGuard key files;
//! - `host` and `netlink` (feature `netlink`): the host engine and the device layer under it.
//!
//! Public enums and error types are `#[non_exhaustive]`, as are the structs that will gain
//! fields (build those with their constructors): new modes, rules and error kinds arrive in
//! minor versions, so match them with a wildcard arm.
#![forbid(unsafe_code)]
// A `pub` item that no path outside the crate reaches is a mistake: either re-export it
// below or make it `pub(crate)`; a type reachable through a public signature must be
// nameable.
#![warn(unreachable_pub, unnameable_types)]

// The model, the planner and their helpers are private, their public items re-exported once
// below; the public modules are the namespaces listed under "Public API" above.
mod address;
pub mod argv;
mod diff;
mod error;
mod evpn;
pub mod firewall;
mod fleet;
pub mod frr;
#[cfg(all(feature = "netlink", target_os = "linux"))]
pub mod host;
mod inventory;
mod ipv6;
pub mod key_file;
pub mod metrics;
pub mod mtu;
mod names;
#[cfg(all(feature = "netlink", target_os = "linux"))]
pub mod netlink;
pub mod ns_lock;
pub mod ops;
mod path;
mod plan;
mod port_flags;
pub mod probe;
pub mod schema;
mod settings;
#[doc(hidden)]
pub mod testing;
mod vni;
pub mod wireguard;

pub use address::Family;
pub use diff::{diff, ChainPolicy, ChainRule, Change, ForeignConflict, LoopChain, State, Table};
pub use diff::{InterfaceAddress, Observed, ObservedVxlan, ObservedWireguard};
pub use error::{Error, NameProblem, ParseError, ParseProblem, PlanError, ValidationError, ValidationErrors};
pub use evpn::{BgpTimers, DEFAULT_ASN};
pub use fleet::{EvpnSettings, Fleet, Host, HostWireguard, Network, WireguardSettings};
pub use inventory::{EvpnSpec, HostSpec, Inventory, NetworkSpec, WireguardSpec};
pub use ipv6::Ipv6Conf;
pub use names::{check_ifname, check_name, OWNER_MARK};
pub use path::{FieldPath, Key, Position, Positions, Section};
pub use plan::{
    BgpSession, Bridge, EvpnFilter, EvpnPlan, FdbEntry, Firewall, HostPlan, LoopPreventionPlan, LoopRule, LoopRules,
    MacAddr, NetworkPlan, Peer, UdpChecksum, Vxlan, WireguardFilter, WireguardPlan, EBTABLES_CHAIN, NFT_TABLE,
    PLAN_SCHEMA,
};
pub use port_flags::{PortFlag, PortFlags};
pub use settings::{LoopPrevention, Mode, DEFAULT_UNDERLAY_MTU, DEFAULT_VXLAN_PORT};
pub use wireguard::{Encryption, ObservedWireguardPeer, Prefix, PublicKey, WireguardPeer};

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
