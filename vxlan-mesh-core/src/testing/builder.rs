//! [`FleetBuilder`]: the one place tests, benchmarks and examples build inventories from.

// A test helper: a mistake in a test's own values is best reported by a panic naming it, as
// the type's documentation says. Nothing a library user reads in reaches these panics.
#![allow(clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{
    Encryption, EvpnSpec, Fleet, HostSpec, Inventory, LoopPrevention, Mode, NetworkSpec, Prefix, PublicKey,
    ValidationErrors, WireguardSpec,
};

/// The IPv6 documentation prefix hosts are numbered in with [`FleetBuilder::ipv6`].
const V6_BASE: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0);

/// Builds test inventories: networks, numbered or named hosts in documentation address ranges
/// only (192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32), mode, WireGuard, EVPN; as an
/// [`Inventory`], its TOML text, or the validated [`Fleet`].
///
/// Test-only: its methods panic with a message on what a test got wrong (an address outside
/// the documentation ranges, a host number that leaves the /24, an invalid fleet asked for by
/// [`fleet`](FleetBuilder::fleet)). Not part of the stable API.
///
/// Numbered hosts ([`hosts`](FleetBuilder::hosts), [`numbered`](FleetBuilder::numbered)) are
/// named `h1`, `h2`, … (see [`names`](FleetBuilder::names)) and have `id = N`; lettered ones
/// ([`lettered`](FleetBuilder::lettered)) are `a`, `b`, … with no id. Both get the address
/// `N` past the underlay base (192.0.2.0 unless [`underlay`](FleetBuilder::underlay) or
/// [`ipv6`](FleetBuilder::ipv6) say otherwise; the base is applied when the inventory is
/// built, so the order of those calls does not matter). Without a
/// [`network`](FleetBuilder::network) the fleet has one: `lan`, VNI 100, bridge `vxbr0`.
///
/// ```
/// use vxlan_mesh_core::testing::FleetBuilder;
/// use vxlan_mesh_core::LoopPrevention;
///
/// let text = FleetBuilder::new()
///     .loop_prevention(LoopPrevention::Ebtables)
///     .network("lan", 1000, "vxbr0")
///     .hosts(3)
///     .toml();
/// assert!(text.contains("loop-prevention = \"ebtables\""));
/// assert!(text.contains("address = \"192.0.2.3\""));
///
/// let fleet = FleetBuilder::new().ipv6(true).hosts(2).wireguard().fleet();
/// let plan = fleet.plan("h2")?;
/// assert_eq!(plan.address.to_string(), "2001:db8::2");
/// assert!(plan.wireguard.is_some());
/// # Ok::<(), vxlan_mesh_core::PlanError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FleetBuilder {
    inventory: Inventory,
    /// Each host, with its number when it is numbered (its address is then derived on build).
    hosts: Vec<(Option<u32>, HostSpec)>,
    /// Name prefix of numbered hosts; `h` when absent.
    prefix: Option<String>,
    /// Numbered host `N` gets this address plus `N`; 192.0.2.0 when absent.
    base: Option<IpAddr>,
    /// MTU of every network that sets none of its own.
    mtu: Option<u32>,
}

impl Default for FleetBuilder {
    fn default() -> Self {
        FleetBuilder {
            inventory: Inventory::empty(),
            hosts: Vec::new(),
            prefix: None,
            base: None,
            mtu: None,
        }
    }
}

impl FleetBuilder {
    /// No hosts, the default network, every setting at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// How hosts are joined (`mode`).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.inventory.mode = Some(mode);
        self
    }

    /// Per-peer mode with `loop_prevention`.
    pub fn loop_prevention(mut self, loop_prevention: LoopPrevention) -> Self {
        self.inventory.mode = Some(Mode::PerPeer);
        self.inventory.loop_prevention = Some(loop_prevention);
        self
    }

    /// The mode as tests name it: `flood`, `per-peer`, `evpn`, or a per-peer loop prevention
    /// (`isolation`, `ebtables`). Panics on another word.
    pub fn layout(self, name: &str) -> Self {
        if let Some(lp) = LoopPrevention::ALL.iter().find(|lp| lp.as_str() == name) {
            return self.loop_prevention(*lp);
        }
        match Mode::ALL.iter().find(|m| m.as_str() == name) {
            Some(mode) => self.mode(*mode),
            None => panic!("FleetBuilder::layout: `{name}` is no mode or loop prevention"),
        }
    }

    /// The UDP port of every tunnel (`port`).
    pub fn port(mut self, port: u16) -> Self {
        self.inventory.port = Some(port);
        self
    }

    /// Whether the firewall is on (`firewall`).
    pub fn firewall(mut self, on: bool) -> Self {
        self.inventory.firewall = Some(on);
        self
    }

    /// Adds a network.
    pub fn network(mut self, name: &str, vni: u32, bridge: &str) -> Self {
        self.inventory.networks.push(NetworkSpec {
            name: name.into(),
            vni,
            bridge: bridge.into(),
            mtu: None,
            container_ipv6: None,
        });
        self
    }

    /// Changes network `name`, which must have been added.
    pub fn edit_network(mut self, name: &str, change: impl FnOnce(&mut NetworkSpec)) -> Self {
        match self.inventory.networks.iter_mut().find(|n| n.name == name) {
            Some(n) => change(n),
            None => panic!("FleetBuilder::edit_network: no network `{name}` yet"),
        }
        self
    }

    /// The container MTU of every network that sets none of its own.
    pub fn mtu(mut self, mtu: u32) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// Name prefix of the numbered hosts added from now on (`h` before).
    pub fn names(mut self, prefix: &str) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// The address numbered hosts count from (host `N` gets `base + N`): an address in
    /// 192.0.2.0/24, 198.51.100.0/24 or 2001:db8::/32.
    pub fn underlay(mut self, base: &str) -> Self {
        self.base = Some(documentation_address(base));
        self
    }

    /// Numbered hosts get IPv6 addresses `2001:db8::N` when `on`.
    pub fn ipv6(mut self, on: bool) -> Self {
        if on {
            self.base = Some(IpAddr::V6(V6_BASE));
        }
        self
    }

    /// Adds `count` numbered hosts, numbered on from the largest number so far.
    pub fn hosts(self, count: usize) -> Self {
        let first = self.hosts.iter().filter_map(|(n, _)| *n).max().unwrap_or(0) + 1;
        let numbers: Vec<u32> = (first..).take(count).collect();
        self.numbered(&numbers)
    }

    /// Adds the numbered hosts `numbers` (`[1, 2, 4]`: host 3 left out).
    pub fn numbered(mut self, numbers: &[u32]) -> Self {
        for n in numbers {
            let name = format!("{}{n}", self.prefix.as_deref().unwrap_or("h"));
            self = self.numbered_as(&name, *n);
        }
        self
    }

    /// Adds host number `n` under the name `name`.
    pub fn numbered_as(mut self, name: &str, n: u32) -> Self {
        let mut spec = host(name, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        spec.id = Some(n);
        self.hosts.push((Some(n), spec));
        self
    }

    /// Adds `count` hosts named `a`, `b`, `c`, … (at most 26), numbered from 1 in that order
    /// for their addresses, with no explicit id.
    pub fn lettered(mut self, count: usize) -> Self {
        if count > 26 {
            panic!("FleetBuilder::lettered: {count} hosts, but there are 26 letters");
        }
        for (n, letter) in (1..).zip('a'..='z').take(count) {
            self.hosts
                .push((Some(n), host(&letter.to_string(), IpAddr::V4(Ipv4Addr::UNSPECIFIED))));
        }
        self
    }

    /// Adds host `name` at `address` (in a documentation range), with no explicit id.
    pub fn host(mut self, name: &str, address: &str) -> Self {
        self.hosts.push((None, host(name, documentation_address(address))));
        self
    }

    /// Changes every host added so far (a device, an underlay MTU, …).
    pub fn each_host(mut self, change: impl Fn(&mut HostSpec)) -> Self {
        self.hosts.iter_mut().for_each(|(_, h)| change(h));
        self
    }

    /// Changes host `name`, which must have been added.
    pub fn edit_host(mut self, name: &str, change: impl FnOnce(&mut HostSpec)) -> Self {
        match self.hosts.iter_mut().find(|(_, h)| h.name == name) {
            Some((_, h)) => change(h),
            None => panic!("FleetBuilder::edit_host: no host `{name}` yet"),
        }
        self
    }

    /// `encryption = "wireguard"`. Hosts without a [`public_keys`](FleetBuilder::public_keys)
    /// key get a fixed valid one (no private key belongs to it: for plans, not for links).
    pub fn wireguard(mut self) -> Self {
        self.inventory.encryption = Some(Encryption::Wireguard);
        self
    }

    /// `encryption = "wireguard"` with the inner addresses from `prefix`.
    pub fn wireguard_prefix(self, prefix: &str) -> Self {
        let prefix = parse_prefix("wireguard_prefix", prefix);
        self.wireguard_settings(|w| w.prefix = Some(prefix))
    }

    /// `encryption = "wireguard"` and a change to its `[wireguard]` table.
    pub fn wireguard_settings(mut self, change: impl FnOnce(&mut WireguardSpec)) -> Self {
        change(self.inventory.wireguard.get_or_insert_with(WireguardSpec::default));
        self.wireguard()
    }

    /// The WireGuard public keys of the hosts added so far, in their order (extra keys are
    /// ignored); implies [`wireguard`](FleetBuilder::wireguard). A test may give any text,
    /// valid or not.
    pub fn public_keys<S: AsRef<str>>(mut self, keys: &[S]) -> Self {
        for ((_, h), key) in self.hosts.iter_mut().zip(keys) {
            h.public_key = Some(key.as_ref().into());
        }
        self.wireguard()
    }

    /// `mode = "evpn"`, every host's address in `underlay_prefix`; the first host reflects
    /// routes unless [`route_reflectors`](FleetBuilder::route_reflectors) names others.
    pub fn evpn(self, underlay_prefix: &str) -> Self {
        let prefix = parse_prefix("evpn", underlay_prefix);
        self.evpn_settings(|e| e.underlay_prefix = Some(prefix))
    }

    /// `mode = "evpn"` and a change to its `[evpn]` table (timers, ASN).
    pub fn evpn_settings(mut self, change: impl FnOnce(&mut EvpnSpec)) -> Self {
        change(self.inventory.evpn.get_or_insert_with(EvpnSpec::default));
        self.mode(Mode::Evpn)
    }

    /// The hosts `names` reflect routes (`route-reflector = true`), the others not.
    pub fn route_reflectors(mut self, names: &[&str]) -> Self {
        for (_, h) in &mut self.hosts {
            h.route_reflector = names.contains(&h.name.as_str()).then_some(true);
        }
        self
    }

    /// The inventory as built.
    pub fn inventory(&self) -> Inventory {
        let mut inventory = self.inventory.clone();
        if inventory.networks.is_empty() {
            inventory.networks = FleetBuilder::new().network("lan", 100, "vxbr0").inventory.networks;
        }
        for n in &mut inventory.networks {
            n.mtu = n.mtu.or(self.mtu);
        }
        let base = self.base.unwrap_or(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 0)));
        let wireguard = inventory.encryption == Some(Encryption::Wireguard);
        let evpn = inventory.mode == Some(Mode::Evpn);
        let reflectors = self.hosts.iter().any(|(_, h)| h.route_reflector.is_some());
        for (i, (number, h)) in self.hosts.iter().enumerate() {
            let mut h = h.clone();
            if let Some(n) = number {
                h.address = nth(base, *n);
            }
            if wireguard && h.public_key.is_none() {
                h.public_key = Some(fixed_key(i).to_string());
            }
            if evpn && !reflectors && i == 0 {
                h.route_reflector = Some(true);
            }
            inventory.hosts.push(h);
        }
        inventory
    }

    /// The inventory's TOML text, for tests that hand the CLI a file.
    pub fn toml(&self) -> String {
        let inventory = self.inventory();
        inventory
            .to_toml_string()
            .unwrap_or_else(|e| panic!("FleetBuilder::toml: {e} for {inventory:?}"))
    }

    /// The validated fleet, or the rules it breaks.
    pub fn try_fleet(&self) -> Result<Fleet, ValidationErrors> {
        self.inventory().validate()
    }

    /// The validated fleet; panics with the rules it breaks and its text.
    pub fn fleet(&self) -> Fleet {
        self.try_fleet()
            .unwrap_or_else(|e| panic!("FleetBuilder::fleet: {e}\n{}", self.toml()))
    }
}

fn host(name: &str, address: IpAddr) -> HostSpec {
    HostSpec {
        name: name.into(),
        address,
        device: None,
        underlay_mtu: None,
        id: None,
        networks: None,
        public_key: None,
        endpoint: None,
        persistent_keepalive: None,
        route_reflector: None,
    }
}

/// `text` as a prefix; a panic naming the builder's `method` if it is none.
fn parse_prefix(method: &str, text: &str) -> Prefix {
    text.parse()
        .unwrap_or_else(|e| panic!("FleetBuilder::{method}: `{text}`: {e}"))
}

/// Whether `a` is in a documentation range this builder hands out.
fn is_documentation(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => matches!(v4.octets(), [192, 0, 2, _] | [198, 51, 100, _]),
        IpAddr::V6(v6) => v6.segments()[..2] == [0x2001, 0xdb8],
    }
}

/// `text` as an address, which must lie in a documentation range.
fn documentation_address(text: &str) -> IpAddr {
    match text.parse() {
        Ok(a) if is_documentation(a) => a,
        _ => panic!("FleetBuilder: `{text}` is not an address in 192.0.2.0/24, 198.51.100.0/24 or 2001:db8::/32"),
    }
}

/// `base + n`, which must stay in the base's documentation range and not be an IPv4
/// broadcast address.
fn nth(base: IpAddr, n: u32) -> IpAddr {
    let address = match base {
        IpAddr::V4(b) => u32::from(b)
            .checked_add(n)
            .map(|a| IpAddr::V4(Ipv4Addr::from(a)))
            .filter(|a| matches!(a, IpAddr::V4(v4) if v4.octets()[..3] == b.octets()[..3] && v4.octets()[3] != 255)),
        IpAddr::V6(b) => u128::from(b)
            .checked_add(u128::from(n))
            .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    };
    match address.filter(|a| is_documentation(*a)) {
        Some(a) => a,
        None => panic!("FleetBuilder: host number {n} leaves {base}'s documentation range: use ipv6(true)"),
    }
}

/// A valid public key of its own for the `i`-th host (bytes `i + 2`, never of small order).
fn fixed_key(i: usize) -> PublicKey {
    let byte = u8::try_from(i % 100 + 2).unwrap_or(2);
    PublicKey([byte; crate::wireguard::KEY_LEN])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Name, address and id of every host.
    fn hosts(inv: &Inventory) -> Vec<(&str, String, Option<u32>)> {
        inv.hosts
            .iter()
            .map(|h| (h.name.as_str(), h.address.to_string(), h.id))
            .collect()
    }

    #[test]
    fn numbered_hosts_take_the_base_plus_their_number_and_explicit_ids() {
        let inv = FleetBuilder::new()
            .underlay("198.51.100.0")
            .names("lxd")
            .numbered(&[1, 2, 4])
            .inventory();
        assert_eq!(
            hosts(&inv),
            [
                ("lxd1", "198.51.100.1".to_string(), Some(1)),
                ("lxd2", "198.51.100.2".to_string(), Some(2)),
                ("lxd4", "198.51.100.4".to_string(), Some(4)),
            ]
        );
        assert_eq!(inv.networks.len(), 1, "the default network");
        assert_eq!((inv.networks[0].name.as_str(), inv.networks[0].vni), ("lan", 100));
    }

    #[test]
    fn lettered_hosts_have_no_explicit_id() {
        let inv = FleetBuilder::new().ipv6(true).lettered(3).inventory();
        assert_eq!(
            hosts(&inv),
            [
                ("a", "2001:db8::1".into(), None),
                ("b", "2001:db8::2".into(), None),
                ("c", "2001:db8::3".into(), None)
            ]
        );
    }

    #[test]
    fn ipv6_applies_to_hosts_added_before_it_too() {
        let inv = FleetBuilder::new().hosts(2).ipv6(true).hosts(1).inventory();
        let addresses: Vec<_> = inv.hosts.iter().map(|h| h.address.to_string()).collect();
        assert_eq!(addresses, ["2001:db8::1", "2001:db8::2", "2001:db8::3"]);
    }

    #[test]
    #[should_panic(expected = "leaves 192.0.2.0's documentation range")]
    fn ipv4_hosts_past_the_24_are_refused() {
        FleetBuilder::new().hosts(255).inventory();
    }

    #[test]
    #[should_panic(expected = "is not an address in 192.0.2.0/24")]
    fn addresses_outside_the_documentation_ranges_are_refused() {
        FleetBuilder::new().host("a", "10.0.0.1");
    }

    #[test]
    fn the_text_reads_back_as_the_same_inventory() {
        let b = FleetBuilder::new()
            .layout("ebtables")
            .port(8472)
            .firewall(false)
            .network("lan", 1000, "vxbr0")
            .network("dmz", 5000, "vxdmz")
            .mtu(1400)
            .edit_network("dmz", |n| n.mtu = Some(1300))
            .hosts(3)
            .edit_host("h1", |h| h.device = Some("ul0".into()));
        let inv = b.inventory();
        assert_eq!(Inventory::from_toml_str(&b.toml()).unwrap(), inv);
        assert_eq!(inv.loop_prevention, Some(LoopPrevention::Ebtables));
        let mtus: Vec<_> = inv.networks.iter().map(|n| n.mtu).collect();
        assert_eq!(mtus, [Some(1400), Some(1300)]);
        assert_eq!(inv.hosts[0].device.as_deref(), Some("ul0"));
        b.fleet();
    }

    #[test]
    fn wireguard_and_evpn_fleets_validate() {
        let wg = FleetBuilder::new().hosts(3).wireguard_prefix("192.0.2.128/25").fleet();
        assert_eq!(wg.hosts().len(), 3);
        let keys: std::collections::BTreeSet<_> = wg
            .hosts()
            .iter()
            .filter_map(|h| h.wireguard.as_ref().map(|w| w.public_key))
            .collect();
        assert_eq!(keys.len(), 3, "every host has a key of its own");

        let evpn = FleetBuilder::new().evpn("192.0.2.0/24").hosts(3).inventory();
        let reflectors: Vec<_> = evpn.hosts.iter().map(|h| h.route_reflector).collect();
        assert_eq!(reflectors, [Some(true), None, None]);
        evpn.validate().unwrap();
        let two = FleetBuilder::new()
            .evpn("192.0.2.0/24")
            .hosts(3)
            .route_reflectors(&["h2", "h3"])
            .inventory();
        let reflectors: Vec<_> = two.hosts.iter().map(|h| h.route_reflector).collect();
        assert_eq!(reflectors, [None, Some(true), Some(true)]);
    }

    #[test]
    fn layout_names_every_mode_and_loop_prevention() {
        assert_eq!(FleetBuilder::new().layout("flood").inventory().mode, Some(Mode::Flood));
        assert_eq!(FleetBuilder::new().layout("evpn").inventory().mode, Some(Mode::Evpn));
        let iso = FleetBuilder::new().layout("isolation").inventory();
        assert_eq!(
            (iso.mode, iso.loop_prevention),
            (Some(Mode::PerPeer), Some(LoopPrevention::Isolation))
        );
    }
}
