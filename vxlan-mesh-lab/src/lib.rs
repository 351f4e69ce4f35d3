//! # vxlan-mesh-lab
//!
//! A vxlan-mesh fleet simulated in network namespaces on one Linux machine: the one fixture
//! behind the `vxlan-mesh lab` command and every end-to-end test.
//!
//! A lab has an underlay switch namespace (bridge `sw0`, one veth port per host), one
//! namespace per host holding the host's underlay address from the inventory (on `ul0`, or
//! the inventory's `device`, with the host's underlay MTU), and per host and network N
//! container namespaces whose veth has the plan's MTU; the host end of each container veth
//! waits in the host namespace until the deployment has created the bridges and
//! [`Lab::attach_containers`] enslaves it. Nothing is routed out of the lab.
//!
//! Namespaces are called `vxm-<tag>-…`: [`Lab`]'s `Drop` removes them, and
//! [`cleanup_prefix`] removes those of a crashed run. Building uses `ip -batch`, one process
//! per namespace, so 16 hosts × 4 containers build in about a second.
//!
//! For an encrypted fleet (`encryption = "wireguard"`), each host namespace also gets a
//! persistent mount namespace of its own ([`LabHost::mount_ns`], under [`MOUNT_NS_DIR`]) with
//! a private `/run/wireguard`, so that every host's wireguard-go has its own control socket;
//! [`Lab::exec`] runs the host's commands in it, and removing the lab releases it.
//!
//! [`frr`] runs zebra and bgpd in each host namespace for `mode = "evpn"` fleets.
//!
//! [`systemd`] deploys a rendered systemd-networkd or netplan tree into a host the way
//! systemd would: its units around systemd-networkd, and networkd itself.
//!
//! Needs root, iproute2 and iputils-ping (and systemd-networkd for [`systemd`], FRR for [`frr`]).
//!
//! ```no_run
//! use vxlan_mesh_lab::{names, Lab, LabSpec};
//!
//! let fleet = vxlan_mesh_core::Inventory::from_toml_str(
//!     "[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n\
//!      [[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n\
//!      [[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n",
//! )?
//! .validate()?;
//! let lab = Lab::build(LabSpec::from_fleet(&fleet, 3, &names::unique_tag("e2e"))?)?;
//! for host in &lab.spec().hosts {
//!     // Deploy the host's plan inside its namespace, e.g.
//!     // lab.exec(&host.netns, &["vxlan-mesh", "-i", "fleet.toml", "apply", "--host", &host.name])?;
//! }
//! lab.attach_containers()?;
//! let matrix = lab.ping_matrix()?;
//! assert!(matrix.is_full(), "{}", matrix.render_text());
//! let (a, b) = (&lab.spec().hosts[0].containers[0], &lab.spec().hosts[1].containers[0]);
//! assert!(lab.max_frame_probe(a, b, a.mtu)?.ok());
//! assert!(!lab.loop_check(std::time::Duration::from_secs(1))?.storm);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod cleanup;
mod cmd;
mod dirs;
mod error;
pub mod frr;
mod lab;
mod mountns;
pub mod names;
mod netns;
mod probe;
mod spec;
pub mod systemd;

pub use cleanup::{cleanup_prefix, list_namespaces};
pub use dirs::create_traversable;
pub use error::LabError;
pub use lab::{Lab, Progress};
pub use mountns::MOUNT_NS_DIR;
pub use names::NETNS_DIR;
pub use netns::run_in_netns;
pub use probe::{
    neighbour_table_limit, Cell, FailedPair, FrameProbe, Goodput, LoopCheck, PortCounters, Reachability, IPERF3_PORT,
    PINGS_IN_FLIGHT, STORM_PPS,
};
pub use spec::{Container, LabHost, LabSpec, CONTAINER_V4_NETS, CONTAINER_V6_BASES, MAX_CONTAINERS_PER_NETWORK};
