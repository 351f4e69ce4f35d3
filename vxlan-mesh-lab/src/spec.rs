//! What a lab consists of: computed from a validated fleet, serializable so that a lab built
//! by one process can be probed and removed by another.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use vxlan_mesh_core::Fleet;

use crate::{mountns, names, LabError};

/// Candidate IPv4 /24s for containers (documentation ranges), in order of preference; a lab
/// takes the first that holds no underlay address of the fleet. 203.0.113.0/24 comes last:
/// the project's tests keep their traffic to 198.51.100.0/24 and 192.0.2.0/24 where they can. An overlap would make a
/// host answer ARP for its own underlay address on its bridge (Linux answers ARP for any
/// local address on any interface), stealing that container address: seen with the Hetzner
/// example, whose underlay is 198.51.100.0/24.
pub const CONTAINER_V4_NETS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(198, 51, 100, 0),
    Ipv4Addr::new(192, 0, 2, 0),
    Ipv4Addr::new(203, 0, 113, 0),
];

/// Candidate third groups of the containers' IPv6 /64s `2001:db8:<base+network>::/64`.
pub const CONTAINER_V6_BASES: [u16; 3] = [0x100, 0x200, 0xa00];

/// Most containers one network can hold (addresses `.1` to `.253`).
pub const MAX_CONTAINERS_PER_NETWORK: usize = 253;

/// The whole lab: an underlay switch namespace, a namespace per host, containers per host.
///
/// ```
/// use vxlan_mesh_lab::LabSpec;
/// let fleet = vxlan_mesh_core::testing::two_hosts();
/// let spec = LabSpec::from_fleet(&fleet, 3, "doc")?;
/// assert_eq!(spec.switch, "vxm-doc-sw");
/// assert_eq!(spec.hosts[0].netns, "vxm-doc-h0");
/// assert_eq!(spec.hosts[0].device, "ul0");
/// assert_eq!(spec.containers().count(), 6);
/// let c = &spec.hosts[1].containers[0];
/// assert_eq!(c.netns, "vxm-doc-h1n0c0");
/// assert_eq!(c.mtu, 1450); // from the plan
/// assert_eq!(c.ipv4.map(|a| a.to_string()), Some("198.51.100.4".into()));
/// assert_eq!(c.ipv6.map(|a| a.to_string()), Some("2001:db8:100::2:1".into()));
/// # Ok::<(), vxlan_mesh_lab::LabError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabSpec {
    /// The lab's tag; every namespace starts with `vxm-<tag>-`.
    pub tag: String,
    /// The underlay switch namespace (a bridge joining every host's underlay).
    pub switch: String,
    /// The hosts, in inventory order.
    pub hosts: Vec<LabHost>,
    /// `tc tbf` rate of every switch port (e.g. `1gbit`), or unshaped.
    pub underlay_rate: Option<String>,
    /// The containers' IPv4 /24 (one of [`CONTAINER_V4_NETS`]; every network uses it, each
    /// being its own L2 segment).
    pub container_v4_net: Ipv4Addr,
}

/// One host of the lab: a namespace holding the host's underlay address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabHost {
    /// Host name from the inventory.
    pub name: String,
    /// Its namespace.
    pub netns: String,
    /// Underlay address from the inventory.
    pub address: IpAddr,
    /// Prefix length the address gets (24 or 64); peers outside it get a device route.
    pub prefix_len: u8,
    /// Underlay device name (the inventory's `device`, else `ul0`).
    pub device: String,
    /// Underlay MTU from the inventory.
    pub mtu: u32,
    /// The host's port in the switch namespace.
    pub switch_port: String,
    /// Container namespaces on this host.
    pub containers: Vec<Container>,
    /// The host's WireGuard (inner) address, when the fleet is encrypted: VXLAN runs
    /// between these, and host→host traffic over the WireGuard link alone uses them.
    #[serde(default)]
    pub inner_address: Option<IpAddr>,
    /// File keeping the host's own mount namespace (see [`MOUNT_NS_DIR`](crate::MOUNT_NS_DIR)),
    /// when the fleet is encrypted: [`Lab::exec`](crate::Lab::exec) runs the host's commands in
    /// it, so that each host's wireguard-go has its own `/run/wireguard`.
    #[serde(default)]
    pub mount_ns: Option<PathBuf>,
}

/// One container: a namespace with one veth whose other end sits in its host's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// Its namespace.
    pub netns: String,
    /// Host it runs on.
    pub host: String,
    /// Overlay network it is on.
    pub network: String,
    /// The network's bridge on the host, which [`Lab::attach_containers`](crate::Lab::attach_containers)
    /// enslaves the host end to.
    pub bridge: String,
    /// Index on its host and network.
    pub index: usize,
    /// Name of the host end of the veth, in the host namespace.
    pub host_ifname: String,
    /// Name of the container end, in the container namespace.
    pub ifname: String,
    /// MTU of both ends: the plan's MTU of the network.
    pub mtu: u32,
    /// IPv4 address (/24).
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address (/64), when the network's containers use IPv6.
    pub ipv6: Option<Ipv6Addr>,
}

impl Container {
    /// The container's addresses, IPv4 first.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// # let spec = vxlan_mesh_lab::LabSpec::from_fleet(&fleet, 1, "doc").unwrap();
    /// assert_eq!(spec.hosts[0].containers[0].addresses().len(), 2);
    /// ```
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut v = Vec::new();
        if let Some(a) = self.ipv4 {
            v.push(IpAddr::V4(a));
        }
        if let Some(a) = self.ipv6 {
            v.push(IpAddr::V6(a));
        }
        v
    }
}

impl LabSpec {
    /// The lab for `fleet`: `containers_per_host` containers per host and network, namespaces
    /// tagged `tag` (see [`names::check_tag`]).
    ///
    /// Container MTUs come from each host's plan. Container addresses: `<net>.<n>/24`
    /// (numbered across the hosts of a network; `<net>` the first of [`CONTAINER_V4_NETS`]
    /// without underlay addresses) and, when the network's containers use IPv6,
    /// `2001:db8:<base+network>::<host+1>:<index+1>/64` (likewise from [`CONTAINER_V6_BASES`]).
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// assert!(vxlan_mesh_lab::LabSpec::from_fleet(&fleet, 200, "doc").is_err()); // 400 > 253
    /// ```
    pub fn from_fleet(fleet: &Fleet, containers_per_host: usize, tag: &str) -> Result<LabSpec, LabError> {
        names::check_tag(tag)?;
        if fleet.hosts().len().saturating_mul(containers_per_host) > MAX_CONTAINERS_PER_NETWORK {
            return Err(LabError::Spec(format!(
                "{} hosts × {containers_per_host} containers exceed {MAX_CONTAINERS_PER_NETWORK} containers per network",
                fleet.hosts().len()
            )));
        }
        let addrs: Vec<IpAddr> = fleet.hosts().iter().map(|h| h.address).collect();
        let v4_net = CONTAINER_V4_NETS
            .into_iter()
            .find(|net| {
                !addrs
                    .iter()
                    .any(|a| matches!(a, IpAddr::V4(a) if a.octets()[..3] == net.octets()[..3]))
            })
            .ok_or_else(|| LabError::Spec("underlay addresses occupy every candidate container subnet".into()))?;
        let n_nets = u16::try_from(fleet.networks().len()).unwrap_or(u16::MAX);
        let v6_base = CONTAINER_V6_BASES
            .into_iter()
            .find(|base| {
                !addrs.iter().any(|a| match a {
                    IpAddr::V6(a) => {
                        let s = a.segments();
                        s[0] == 0x2001 && s[1] == 0xdb8 && s[2] >= *base && s[2] < base.saturating_add(n_nets)
                    }
                    IpAddr::V4(_) => false,
                })
            })
            .ok_or_else(|| LabError::Spec("underlay addresses occupy every candidate container IPv6 prefix".into()))?;
        let [a, b, c, _] = v4_net.octets();
        let mut hosts = Vec::with_capacity(fleet.hosts().len());
        for (hi, host) in fleet.hosts().iter().enumerate() {
            let plan = fleet.plan(&host.name)?;
            let netns = names::host_netns(tag, hi);
            let mut containers = Vec::new();
            for np in &plan.networks {
                let ni = fleet
                    .networks()
                    .iter()
                    .position(|n| n.name == np.name)
                    .ok_or_else(|| LabError::Spec(format!("plan names unknown network `{}`", np.name)))?;
                let ipv6_on = fleet.networks()[ni].container_ipv6;
                for k in 0..containers_per_host {
                    let n = hi * containers_per_host + k + 1;
                    let ipv4 = u8::try_from(n).ok().map(|last| Ipv4Addr::new(a, b, c, last));
                    let ipv6 = ipv6_on.then(|| {
                        Ipv6Addr::new(
                            0x2001,
                            0xdb8,
                            v6_base.saturating_add(u16::try_from(ni).unwrap_or(u16::MAX)),
                            0,
                            0,
                            0,
                            u16::try_from(hi + 1).unwrap_or(u16::MAX),
                            u16::try_from(k + 1).unwrap_or(u16::MAX),
                        )
                    });
                    containers.push(Container {
                        netns: names::container_netns(tag, hi, ni, k),
                        host: host.name.clone(),
                        network: np.name.clone(),
                        bridge: np.bridge.name.clone(),
                        index: k,
                        host_ifname: names::container_host_ifname(ni, k),
                        ifname: names::CONTAINER_IFNAME.to_string(),
                        mtu: np.mtu,
                        ipv4,
                        ipv6,
                    });
                }
            }
            hosts.push(LabHost {
                name: host.name.clone(),
                address: host.address,
                prefix_len: if host.address.is_ipv4() { 24 } else { 64 },
                device: host
                    .device
                    .clone()
                    .unwrap_or_else(|| names::DEFAULT_UNDERLAY_DEVICE.to_string()),
                mtu: host.underlay_mtu,
                switch_port: names::switch_port(hi),
                containers,
                inner_address: host.wireguard.as_ref().map(|w| w.address),
                mount_ns: host.wireguard.is_some().then(|| mountns::file_for(&netns)),
                netns,
            });
        }
        Ok(LabSpec {
            tag: tag.to_string(),
            switch: names::switch_netns(tag),
            hosts,
            underlay_rate: None,
            container_v4_net: v4_net,
        })
    }

    /// The same spec with every switch port shaped to `rate` (`tc tbf`, e.g. `"1gbit"`).
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// let spec = vxlan_mesh_lab::LabSpec::from_fleet(&fleet, 1, "doc")?.with_underlay_rate("1gbit");
    /// assert_eq!(spec.underlay_rate.as_deref(), Some("1gbit"));
    /// # Ok::<(), vxlan_mesh_lab::LabError>(())
    /// ```
    pub fn with_underlay_rate(mut self, rate: &str) -> LabSpec {
        self.underlay_rate = Some(rate.to_string());
        self
    }

    /// The containers' IPv4 broadcast address.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// # let spec = vxlan_mesh_lab::LabSpec::from_fleet(&fleet, 1, "doc").unwrap();
    /// assert_eq!(spec.container_broadcast().to_string(), "198.51.100.255");
    /// ```
    pub fn container_broadcast(&self) -> Ipv4Addr {
        let [a, b, c, _] = self.container_v4_net.octets();
        Ipv4Addr::new(a, b, c, 255)
    }

    /// An address in the containers' subnet that no container has (`.254`, as at most
    /// [`MAX_CONTAINERS_PER_NETWORK`] containers take `.1`–`.253`): the loop check ARPs for it.
    ///
    /// ```
    /// // The Hetzner example's underlay is 198.51.100.0/24: containers move to 192.0.2.0/24.
    /// let fleet = vxlan_mesh_core::Inventory::from_toml_str(
    ///     "[[networks]]\nname = \"lan\"\nvni = 1\nbridge = \"br0\"\n\
    ///      [[hosts]]\nname = \"a\"\naddress = \"198.51.100.1\"\n\
    ///      [[hosts]]\nname = \"b\"\naddress = \"198.51.100.2\"\n",
    /// )?.validate()?;
    /// let spec = vxlan_mesh_lab::LabSpec::from_fleet(&fleet, 1, "doc")?;
    /// assert_eq!(spec.unknown_v4().to_string(), "192.0.2.254");
    /// assert_eq!(spec.hosts[0].containers[0].ipv4.map(|a| a.to_string()), Some("192.0.2.1".into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unknown_v4(&self) -> Ipv4Addr {
        let [a, b, c, _] = self.container_v4_net.octets();
        Ipv4Addr::new(a, b, c, 254)
    }

    /// Neighbour (ARP/ND) entries a full ping matrix creates at its peak: every container
    /// caches every other container of its network, per address family. Compare with
    /// [`neighbour_table_limit`](crate::neighbour_table_limit).
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// let spec = vxlan_mesh_lab::LabSpec::from_fleet(&fleet, 3, "doc")?;
    /// assert_eq!(spec.neighbour_entries_needed(), 6 * 5 * 2); // IPv4 and IPv6
    /// # Ok::<(), vxlan_mesh_lab::LabError>(())
    /// ```
    pub fn neighbour_entries_needed(&self) -> u64 {
        let mut per_net: std::collections::BTreeMap<&str, (u64, u64)> = std::collections::BTreeMap::new();
        for c in self.containers() {
            let e = per_net.entry(c.network.as_str()).or_default();
            e.0 += u64::from(c.ipv4.is_some());
            e.1 += u64::from(c.ipv6.is_some());
        }
        per_net
            .values()
            .map(|(v4, v6)| v4 * v4.saturating_sub(1) + v6 * v6.saturating_sub(1))
            .sum()
    }

    /// Every container of every host.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// # let spec = vxlan_mesh_lab::LabSpec::from_fleet(&fleet, 2, "doc").unwrap();
    /// assert_eq!(spec.containers().count(), 4);
    /// ```
    pub fn containers(&self) -> impl Iterator<Item = &Container> {
        self.hosts.iter().flat_map(|h| h.containers.iter())
    }

    /// Every namespace of the lab: switch first, then hosts, then containers.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// # let spec = vxlan_mesh_lab::LabSpec::from_fleet(&fleet, 1, "doc").unwrap();
    /// assert_eq!(spec.namespaces().len(), 1 + 2 + 2);
    /// ```
    pub fn namespaces(&self) -> Vec<String> {
        let mut v = vec![self.switch.clone()];
        v.extend(self.hosts.iter().map(|h| h.netns.clone()));
        v.extend(self.containers().map(|c| c.netns.clone()));
        v
    }

    /// The host called `name`.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// # let spec = vxlan_mesh_lab::LabSpec::from_fleet(&fleet, 1, "doc").unwrap();
    /// assert_eq!(spec.host("b").map(|h| h.netns.as_str()), Some("vxm-doc-h1"));
    /// assert!(spec.host("zz").is_none());
    /// ```
    pub fn host(&self, name: &str) -> Option<&LabHost> {
        self.hosts.iter().find(|h| h.name == name)
    }
}
