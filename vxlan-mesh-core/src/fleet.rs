//! The validated fleet: an [`Inventory`] whose every rule holds, with defaults filled in and
//! the derived facts (host ids, network MTUs, VNI ranges) computed once.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

pub(crate) use crate::address::Family;
use crate::error::{ValidationError as E, ValidationErrors};
use crate::evpn::{self, BgpTimers};
use crate::inventory::{HostSpec, Inventory, LoopPrevention, Mode, DEFAULT_UNDERLAY_MTU, DEFAULT_VXLAN_PORT};
use crate::mtu::Encapsulation;
use crate::names::{check_bridge_name, check_ifname, check_name, shown, DEVICE_PREFIX};
use crate::path::{FieldPath, Key, Section};
use crate::wireguard::{self, Encryption, Prefix, PublicKey};
use crate::{address, mtu, vni};

/// A validated network (read-only: only validation makes one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Network {
    /// Name.
    pub name: String,
    /// Base VNI (the only VNI in flood mode).
    pub vni: u32,
    /// Last VNI of the network's range (equal to `vni` in flood mode).
    pub vni_last: u32,
    /// Bridge name.
    pub bridge: String,
    /// MTU containers must use, and that bridge and VXLAN devices get.
    pub mtu: u32,
    /// Largest MTU the underlay of the network's hosts allows.
    pub max_mtu: u32,
    /// Whether containers use IPv6.
    pub container_ipv6: bool,
    /// Indices into [`Fleet::hosts`] of the hosts that join the network, in inventory order.
    pub members: Vec<usize>,
}

/// A validated host (read-only: only validation makes one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Host {
    /// Name.
    pub name: String,
    /// Stable id that per-peer VNIs derive from.
    pub id: u32,
    /// Underlay address.
    pub address: IpAddr,
    /// Underlay device, if the tunnels are bound to one.
    pub device: Option<String>,
    /// Underlay MTU.
    pub underlay_mtu: u32,
    /// Indices into [`Fleet::networks`] of the networks it joins.
    pub networks: Vec<usize>,
    /// Its WireGuard facts, with `encryption = "wireguard"`.
    pub wireguard: Option<HostWireguard>,
    /// Whether it is a BGP route reflector (evpn mode only).
    pub route_reflector: bool,
}

/// A host's WireGuard facts (read-only: only validation makes them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HostWireguard {
    /// Public key.
    pub public_key: PublicKey,
    /// Inner address: host number `id` of the fleet's prefix.
    pub address: IpAddr,
    /// Where peers send its WireGuard packets: `endpoint`, or `address` and the WireGuard port.
    pub endpoint: SocketAddr,
    /// Keepalive interval its peers use towards it, in seconds.
    pub persistent_keepalive: Option<u16>,
}

/// The fleet's WireGuard settings, defaults filled in (read-only: only validation makes them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WireguardSettings {
    /// Prefix of the inner addresses.
    pub prefix: Prefix,
    /// Listen port.
    pub port: u16,
    /// Interface name.
    pub interface: String,
}

/// The fleet's EVPN settings, defaults filled in (read-only: only validation makes them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EvpnSettings {
    /// The (internal) BGP AS number of every host.
    pub asn: u32,
    /// The prefix holding every host's underlay address.
    pub underlay_prefix: Prefix,
    /// The sessions' timers, when the inventory sets them (else FRR's defaults apply).
    pub timers: Option<BgpTimers>,
}

/// A fleet whose inventory passed validation; the planner's only input.
///
/// ```
/// use vxlan_mesh_core::Inventory;
/// let fleet = Inventory::from_toml_str(r#"
///     [[networks]]
///     name = "lan"
///     vni = 100
///     bridge = "vxbr0"
///     [[hosts]]
///     name = "a"
///     address = "192.0.2.1"
///     [[hosts]]
///     name = "b"
///     address = "192.0.2.2"
///     underlay-mtu = 9000
/// "#).unwrap().validate().unwrap();
/// assert_eq!(fleet.networks()[0].mtu, 1450);
/// assert_eq!(fleet.port(), 4789);
/// ```
///
/// Its fields are private, so a validated fleet cannot be changed into one that breaks a rule:
///
/// ```compile_fail
/// # let text = "";
/// let mut fleet = vxlan_mesh_core::Inventory::from_toml_str(text)?.validate()?;
/// fleet.port = 0;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fleet {
    // Private to other crates: a `Fleet` exists only as the result of validation, so every
    // invariant the planner relies on holds. Read through the accessors below.
    pub(crate) port: u16,
    pub(crate) mode: Mode,
    pub(crate) loop_prevention: LoopPrevention,
    pub(crate) firewall: bool,
    pub(crate) family: Family,
    pub(crate) wireguard: Option<WireguardSettings>,
    pub(crate) evpn: Option<EvpnSettings>,
    pub(crate) networks: Vec<Network>,
    pub(crate) hosts: Vec<Host>,
}

impl Inventory {
    /// Checks every rule and returns the validated fleet, or every broken rule.
    ///
    /// ```
    /// use vxlan_mesh_core::Inventory;
    /// let inv = Inventory::from_toml_str(r#"
    ///     [[networks]]
    ///     name = "lan"
    ///     vni = 0
    ///     bridge = "vxbr0"
    ///     [[hosts]]
    ///     name = "a"
    ///     address = "192.0.2.1"
    /// "#).unwrap();
    /// let errors = inv.validate().unwrap_err();
    /// assert_eq!(errors.0.len(), 2); // one host only, and VNI 0
    /// ```
    pub fn validate(&self) -> Result<Fleet, ValidationErrors> {
        let mut errors = Vec::new();
        let fleet = build(self, &mut errors);
        if errors.is_empty() {
            Ok(fleet)
        } else {
            Err(ValidationErrors(errors))
        }
    }
}

fn bad_name(errors: &mut Vec<E>, field: FieldPath, value: &str, check: fn(&str) -> Result<(), crate::NameProblem>) {
    if let Err(problem) = check(value) {
        errors.push(E::BadName {
            field,
            value: shown(value),
            problem,
        });
    }
}

fn build(inv: &Inventory, errors: &mut Vec<E>) -> Fleet {
    let port = inv.port.unwrap_or(DEFAULT_VXLAN_PORT);
    if port == 0 {
        errors.push(E::PortZero);
    }
    let mode = inv.mode.unwrap_or_default();
    // Keys of per-peer mode mean nothing in the others (evpn included).
    if inv.loop_prevention.is_some() && mode != Mode::PerPeer {
        errors.push(E::LoopPreventionWithoutPerPeer);
    }
    if inv.hosts.len() < 2 {
        errors.push(E::TooFewHosts { found: inv.hosts.len() });
    }
    if inv.networks.is_empty() {
        errors.push(E::NoNetworks);
    }

    let family = inv.hosts.first().map_or(Family::V4, |h| Family::of(&h.address));
    let mut hosts = check_hosts(inv, family, errors);
    let wireguard = check_wireguard(inv, family, &mut hosts, errors);
    let evpn = check_evpn(inv, mode, family, &mut hosts, errors);
    let encapsulation = encapsulation(family, wireguard.as_ref());
    let networks = check_networks(inv, mode, encapsulation, &hosts, errors);
    for (ni, n) in networks.iter().enumerate() {
        for &hi in &n.members {
            hosts[hi].networks.push(ni);
        }
    }

    Fleet {
        port,
        mode,
        loop_prevention: inv.loop_prevention.unwrap_or_default(),
        firewall: inv.firewall.unwrap_or(true),
        family,
        wireguard,
        evpn,
        networks,
        hosts,
    }
}

/// The fleet's EVPN settings in evpn mode, marking its route reflectors; in other modes,
/// refuses the `[evpn]` table and `route-reflector`.
fn check_evpn(
    inv: &Inventory,
    mode: Mode,
    family: Family,
    hosts: &mut [Host],
    errors: &mut Vec<E>,
) -> Option<EvpnSettings> {
    if mode != Mode::Evpn {
        if inv.evpn.is_some() {
            errors.push(E::EvpnWithoutEvpnMode);
        }
        for (index, h) in inv.hosts.iter().enumerate() {
            if h.route_reflector.is_some() {
                errors.push(E::RouteReflectorWithoutEvpn {
                    host: shown(&h.name),
                    index,
                });
            }
        }
        return None;
    }
    // A new host would need every host's WireGuard peer list changed: no EVPN then.
    if inv.encryption.unwrap_or_default() == Encryption::Wireguard {
        errors.push(E::EvpnWithEncryption);
    }
    let spec = inv.evpn.clone().unwrap_or_default();
    let asn = spec.asn.unwrap_or(evpn::DEFAULT_ASN);
    if let Some(reason) = evpn::asn_problem(asn) {
        errors.push(E::BadAsn { asn, reason });
    }
    // One timer given: the other in BGP's usual ratio (FRR's defaults are 60 and 180).
    let timers = match (spec.keepalive, spec.hold_time) {
        (None, None) => None,
        (Some(keepalive), None) => Some(BgpTimers {
            keepalive,
            hold_time: keepalive.saturating_mul(3),
        }),
        (None, Some(hold_time)) => Some(BgpTimers {
            keepalive: hold_time / 3,
            hold_time,
        }),
        (Some(keepalive), Some(hold_time)) => Some(BgpTimers { keepalive, hold_time }),
    };
    if let Some(t) = timers {
        if (1..3).contains(&t.hold_time) {
            errors.push(E::EvpnHoldTimeTooShort { hold_time: t.hold_time });
        } else if t.keepalive >= t.hold_time && (t.keepalive, t.hold_time) != (0, 0) {
            errors.push(E::EvpnKeepaliveNotBelowHoldTime {
                keepalive: t.keepalive,
                hold_time: t.hold_time,
            });
        }
    }
    match spec.underlay_prefix {
        None => errors.push(E::EvpnMissingUnderlayPrefix {
            table: inv.evpn.is_some(),
        }),
        Some(prefix) if Family::of(&prefix.network()) != family => errors.push(E::EvpnUnderlayPrefixFamily {
            prefix: prefix.to_string(),
            family: Family::of(&prefix.network()).name(),
            underlay: family.name(),
        }),
        Some(prefix) => {
            let min_len = evpn::min_underlay_prefix_len(family);
            if prefix.prefix_len() < min_len && spec.allow_wide_underlay_prefix != Some(true) {
                errors.push(E::EvpnUnderlayPrefixTooWide {
                    prefix: prefix.to_string(),
                    min_len,
                });
            }
            for (index, h) in inv.hosts.iter().enumerate() {
                if !prefix.contains(&h.address) && Family::of(&h.address) == family {
                    errors.push(E::EvpnAddressOutsidePrefix {
                        host: shown(&h.name),
                        index,
                        address: h.address,
                        prefix: prefix.to_string(),
                    });
                }
            }
        }
    }
    for (h, host) in inv.hosts.iter().zip(hosts.iter_mut()) {
        host.route_reflector = h.route_reflector.unwrap_or(false);
    }
    if !hosts.iter().any(|h| h.route_reflector) {
        errors.push(E::EvpnNoRouteReflector);
    }
    // Without a prefix the fleet is invalid (an error says so) and never planned.
    Some(EvpnSettings {
        asn,
        underlay_prefix: spec.underlay_prefix?,
        timers,
    })
}

fn check_hosts(inv: &Inventory, family: Family, errors: &mut Vec<E>) -> Vec<Host> {
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut addresses: BTreeMap<IpAddr, &str> = BTreeMap::new();
    let first_host = inv.hosts.first().map_or("", |h| h.name.as_str());
    for (i, h) in inv.hosts.iter().enumerate() {
        bad_name(errors, FieldPath::of(Section::Host(i), Key::Name), &h.name, check_name);
        if let Some(&first) = names.get(h.name.as_str()) {
            errors.push(E::DuplicateHostName {
                name: shown(&h.name),
                index: i,
                first,
            });
        } else {
            names.insert(&h.name, i);
        }
        if let Some(dev) = &h.device {
            // Our own VXLAN devices can never be the underlay: reserve their prefix here too.
            bad_name(
                errors,
                FieldPath::of(Section::Host(i), Key::Device),
                dev,
                check_bridge_name,
            );
            if let Some(n) = inv.networks.iter().find(|n| &n.bridge == dev) {
                errors.push(E::DeviceIsBridge {
                    host: shown(&h.name),
                    index: i,
                    device: shown(dev),
                    network: shown(&n.name),
                });
            }
        }
        if let Some(reason) = address::endpoint_problem(&h.address) {
            errors.push(E::BadAddress {
                host: shown(&h.name),
                index: i,
                address: h.address,
                reason,
            });
        }
        if Family::of(&h.address) != family {
            errors.push(E::MixedFamilies {
                host: shown(&h.name),
                index: i,
                address: h.address,
                family: Family::of(&h.address).name(),
                first_host: shown(first_host),
                first_family: family.name(),
            });
        }
        if let Some(other) = addresses.insert(h.address, &h.name) {
            errors.push(E::DuplicateAddress {
                host: shown(&h.name),
                index: i,
                other: shown(other),
                address: h.address,
            });
            addresses.insert(h.address, other);
        }
        let underlay_mtu = h.underlay_mtu.unwrap_or(DEFAULT_UNDERLAY_MTU);
        let member = mtu::Member {
            index: i,
            name: &h.name,
            underlay_mtu,
        };
        mtu::check_underlay(&member, errors);
    }
    let ids = assign_ids(&inv.hosts, errors);
    inv.hosts
        .iter()
        .zip(ids)
        .map(|(h, id)| Host {
            name: h.name.clone(),
            id,
            address: h.address,
            device: h.device.clone(),
            underlay_mtu: h.underlay_mtu.unwrap_or(DEFAULT_UNDERLAY_MTU),
            networks: Vec::new(),
            wireguard: None,
            route_reflector: false,
        })
        .collect()
}

/// The fleet's WireGuard settings, when `encryption = "wireguard"`, giving every host its
/// WireGuard facts; without encryption, refuses WireGuard keys and the `[wireguard]` table.
fn check_wireguard(
    inv: &Inventory,
    family: Family,
    hosts: &mut [Host],
    errors: &mut Vec<E>,
) -> Option<WireguardSettings> {
    if inv.encryption.unwrap_or_default() != Encryption::Wireguard {
        if inv.wireguard.is_some() {
            errors.push(E::WireguardWithoutEncryption);
        }
        for (index, h) in inv.hosts.iter().enumerate() {
            let given = [
                (Key::PublicKey, h.public_key.is_some()),
                (Key::Endpoint, h.endpoint.is_some()),
                (Key::PersistentKeepalive, h.persistent_keepalive.is_some()),
            ];
            for (key, _) in given.into_iter().filter(|(_, given)| *given) {
                errors.push(E::WireguardKeyWithoutEncryption {
                    host: shown(&h.name),
                    index,
                    key,
                });
            }
        }
        return None;
    }
    let spec = inv.wireguard.clone().unwrap_or_default();
    let settings = WireguardSettings {
        prefix: spec.prefix.unwrap_or(wireguard::DEFAULT_PREFIX),
        port: spec.port.unwrap_or(wireguard::DEFAULT_WIREGUARD_PORT),
        interface: spec
            .interface
            .unwrap_or_else(|| wireguard::DEFAULT_INTERFACE.to_string()),
    };
    if settings.port == 0 {
        errors.push(E::WireguardPortZero);
    } else if settings.port == inv.port.unwrap_or(DEFAULT_VXLAN_PORT) {
        errors.push(E::WireguardPortIsVxlanPort { port: settings.port });
    }
    bad_name(
        errors,
        FieldPath::of(Section::Wireguard, Key::Interface),
        &settings.interface,
        check_ifname,
    );
    if let Some(taken_by) = interface_taken_by(inv, &settings.interface) {
        errors.push(E::WireguardInterfaceTaken {
            interface: shown(&settings.interface),
            taken_by,
        });
    }
    if let Some(range) = wireguard::inner_prefix_problem(&settings.prefix) {
        errors.push(E::WireguardPrefixReserved {
            prefix: settings.prefix.to_string(),
            range,
        });
    }
    let mut keys: BTreeMap<PublicKey, &str> = BTreeMap::new();
    for (index, (h, host)) in inv.hosts.iter().zip(hosts.iter_mut()).enumerate() {
        if settings.prefix.contains(&h.address) {
            errors.push(E::WireguardPrefixHoldsUnderlay {
                host: shown(&h.name),
                index,
                address: h.address,
                prefix: settings.prefix.to_string(),
            });
        }
        let inner = settings.prefix.host(host.id);
        if inner.is_none() && host.id != 0 {
            errors.push(E::WireguardPrefixTooSmall {
                host: shown(&h.name),
                index,
                id: host.id,
                prefix: settings.prefix.to_string(),
                max: settings.prefix.max_host(),
            });
        }
        // The default endpoint is the checked `address` and `wireguard.port`.
        let endpoint = h.endpoint.unwrap_or(SocketAddr::new(h.address, settings.port));
        if let Some(reason) = h.endpoint.and_then(|e| endpoint_problem(&e, family)) {
            errors.push(E::BadEndpoint {
                host: shown(&h.name),
                index,
                endpoint,
                reason,
            });
        }
        let public_key = match &h.public_key {
            None => {
                errors.push(E::MissingPublicKey {
                    host: shown(&h.name),
                    index,
                });
                None
            }
            Some(text) => match text.parse::<PublicKey>() {
                Err(why) => {
                    let shortened: String = text.chars().take(64).collect();
                    errors.push(E::BadPublicKey {
                        host: shown(&h.name),
                        index,
                        key: shown(&shortened),
                        why,
                    });
                    None
                }
                Ok(key) if key.is_low_order() => {
                    errors.push(E::LowOrderPublicKey {
                        host: shown(&h.name),
                        index,
                        key: key.to_string(),
                    });
                    None
                }
                Ok(key) => {
                    if let Some(other) = keys.insert(key, &h.name) {
                        errors.push(E::DuplicatePublicKey {
                            host: shown(&h.name),
                            index,
                            other: shown(other),
                            key: key.to_string(),
                        });
                        keys.insert(key, other);
                    }
                    Some(key)
                }
            },
        };
        if let (Some(public_key), Some(address)) = (public_key, inner) {
            host.wireguard = Some(HostWireguard {
                public_key,
                address,
                endpoint,
                persistent_keepalive: h.persistent_keepalive.filter(|s| *s != 0),
            });
        }
    }
    Some(settings)
}

/// VXLAN over a `family` underlay, inside WireGuard when it has `wireguard` settings.
fn encapsulation(family: Family, wireguard: Option<&WireguardSettings>) -> Encapsulation {
    Encapsulation {
        underlay: family,
        wireguard_inner: wireguard.map(|w| Family::of(&w.prefix.network())),
    }
}

/// What already has the name `interface`, in words, if something of the mesh does.
fn interface_taken_by(inv: &Inventory, interface: &str) -> Option<String> {
    if let Some(n) = inv.networks.iter().find(|n| n.bridge == interface) {
        return Some(format!("the bridge of network `{}`", shown(&n.name)));
    }
    if let Some(h) = inv.hosts.iter().find(|h| h.device.as_deref() == Some(interface)) {
        return Some(format!("the underlay `device` of host `{}`", shown(&h.name)));
    }
    let digits = interface.strip_prefix(DEVICE_PREFIX)?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("the name of a VXLAN device vxlan-mesh creates (`{DEVICE_PREFIX}` and a VNI)"))
}

/// Why peers cannot dial `endpoint` over a `family` underlay, if they cannot.
fn endpoint_problem(endpoint: &SocketAddr, family: Family) -> Option<&'static str> {
    if endpoint.port() == 0 {
        return Some("port 0 cannot be dialled");
    }
    if Family::of(&endpoint.ip()) != family {
        return Some("its address family differs from the underlay's");
    }
    address::endpoint_problem(&endpoint.ip())
}

/// Explicit ids first; then each host without one takes the smallest free id, in list order.
fn assign_ids(hosts: &[HostSpec], errors: &mut Vec<E>) -> Vec<u32> {
    let mut taken: BTreeMap<u32, &str> = BTreeMap::new();
    for (index, h) in hosts.iter().enumerate() {
        match h.id {
            Some(0) => errors.push(E::HostIdZero {
                host: shown(&h.name),
                index,
            }),
            Some(id) => {
                if let Some(other) = taken.insert(id, &h.name) {
                    errors.push(E::DuplicateHostId {
                        host: shown(&h.name),
                        index,
                        other: shown(other),
                        id,
                    });
                    taken.insert(id, other);
                }
            }
            None => {}
        }
    }
    let mut next = 1u32;
    hosts
        .iter()
        .map(|h| match h.id {
            Some(id) => id,
            None => {
                while taken.contains_key(&next) {
                    next = next.saturating_add(1);
                }
                taken.insert(next, &h.name);
                next
            }
        })
        .collect()
}

/// Ports a Linux bridge can have: port numbers are 10 bits (`BR_MAX_PORTS` = 1,024) and
/// number 0 is never given, so the 1,024th port is refused (`EXFULL`).
const BRIDGE_MAX_PORTS: usize = 1023;

fn check_networks(
    inv: &Inventory,
    mode: Mode,
    encapsulation: Encapsulation,
    hosts: &[Host],
    errors: &mut Vec<E>,
) -> Vec<Network> {
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut bridges: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, n) in inv.networks.iter().enumerate() {
        bad_name(
            errors,
            FieldPath::of(Section::Network(i), Key::Name),
            &n.name,
            check_name,
        );
        bad_name(
            errors,
            FieldPath::of(Section::Network(i), Key::Bridge),
            &n.bridge,
            check_bridge_name,
        );
        if let Some(&first) = names.get(n.name.as_str()) {
            errors.push(E::DuplicateNetworkName {
                name: shown(&n.name),
                index: i,
                first,
            });
        } else {
            names.insert(&n.name, i);
        }
        if let Some(other) = bridges.get(n.bridge.as_str()) {
            errors.push(E::DuplicateBridge {
                network: shown(&n.name),
                index: i,
                other: shown(other),
                bridge: shown(&n.bridge),
            });
        } else {
            bridges.insert(&n.bridge, &n.name);
        }
        if n.vni == 0 || n.vni > vni::MAX_VNI {
            errors.push(E::VniOutOfRange {
                network: shown(&n.name),
                index: i,
                vni: n.vni,
            });
        }
    }

    // Membership: which networks each host joins.
    let mut membership: Vec<Vec<usize>> = vec![Vec::new(); hosts.len()];
    for (hi, h) in inv.hosts.iter().enumerate() {
        match &h.networks {
            None => membership[hi] = (0..inv.networks.len()).collect(),
            Some(list) => {
                for (item, name) in list.iter().enumerate() {
                    match inv.networks.iter().position(|n| &n.name == name) {
                        Some(ni) if !membership[hi].contains(&ni) => membership[hi].push(ni),
                        Some(_) => {}
                        None => errors.push(E::UnknownNetwork {
                            host: shown(&h.name),
                            index: hi,
                            network: shown(name),
                            item,
                        }),
                    }
                }
                membership[hi].sort_unstable();
            }
        }
    }

    let max_id = hosts.iter().map(|h| h.id).max().unwrap_or(1);
    let mut networks: Vec<Network> = Vec::with_capacity(inv.networks.len());
    for (ni, n) in inv.networks.iter().enumerate() {
        let members: Vec<usize> = (0..hosts.len()).filter(|&hi| membership[hi].contains(&ni)).collect();
        if members.len() < 2 && inv.hosts.len() >= 2 {
            errors.push(E::NetworkTooSmall {
                network: shown(&n.name),
                index: ni,
                found: members.len(),
            });
        }
        let ports = members.len().saturating_sub(1);
        if mode == Mode::PerPeer && ports > BRIDGE_MAX_PORTS {
            errors.push(E::TooManyBridgePorts {
                network: shown(&n.name),
                index: ni,
                bridge: shown(&n.bridge),
                found: members.len(),
                ports,
                max: BRIDGE_MAX_PORTS,
            });
        }
        let vni_last = match mode {
            Mode::Flood | Mode::Evpn => n.vni,
            Mode::PerPeer => {
                let links = vni::range_len(max_id);
                let last = u64::from(n.vni) + links - 1;
                match u32::try_from(last) {
                    Ok(last) if last <= vni::MAX_VNI => last,
                    _ => {
                        if n.vni != 0 && n.vni <= vni::MAX_VNI {
                            errors.push(E::VniRangeOverflow {
                                network: shown(&n.name),
                                index: ni,
                                vni: n.vni,
                                links,
                                max_id,
                                last,
                            });
                        }
                        vni::MAX_VNI
                    }
                }
            }
        };
        for other in &networks {
            if n.vni <= other.vni_last && other.vni <= vni_last {
                errors.push(E::VniCollision {
                    network: shown(&n.name),
                    index: ni,
                    first: n.vni,
                    last: vni_last,
                    other: shown(&other.name),
                    other_first: other.vni,
                    other_last: other.vni_last,
                });
            }
        }

        let container_ipv6 = n.container_ipv6.unwrap_or(true);
        let member_mtus: Vec<mtu::Member<'_>> = members
            .iter()
            .map(|&hi| mtu::Member {
                index: hi,
                name: &hosts[hi].name,
                underlay_mtu: hosts[hi].underlay_mtu,
            })
            .collect();
        let spec = mtu::NetworkMtuSpec {
            index: ni,
            name: &n.name,
            requested: n.mtu,
            container_ipv6,
        };
        let mtu::NetworkMtu { mtu, max: max_mtu } = mtu::check_network(&spec, &member_mtus, encapsulation, errors);
        networks.push(Network {
            name: n.name.clone(),
            vni: n.vni,
            vni_last,
            bridge: n.bridge.clone(),
            mtu,
            max_mtu,
            container_ipv6,
            members,
        });
    }
    networks
}

impl Fleet {
    /// UDP destination port of every tunnel.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How the hosts are joined.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Loop prevention (meaningful in per-peer mode only).
    pub fn loop_prevention(&self) -> LoopPrevention {
        self.loop_prevention
    }

    /// Whether the peer-only firewall is on.
    pub fn firewall(&self) -> bool {
        self.firewall
    }

    /// Underlay address family of every host.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Whether the tunnels run inside WireGuard.
    pub fn encryption(&self) -> Encryption {
        if self.wireguard.is_some() {
            Encryption::Wireguard
        } else {
            Encryption::None
        }
    }

    /// The WireGuard settings, with `encryption = "wireguard"`.
    pub fn wireguard(&self) -> Option<&WireguardSettings> {
        self.wireguard.as_ref()
    }

    /// The EVPN settings, with `mode = "evpn"`.
    pub fn evpn(&self) -> Option<&EvpnSettings> {
        self.evpn.as_ref()
    }

    /// How VXLAN packets reach the underlay (the MTU rules' input).
    pub fn encapsulation(&self) -> Encapsulation {
        encapsulation(self.family, self.wireguard.as_ref())
    }

    /// The networks, in inventory order.
    pub fn networks(&self) -> &[Network] {
        &self.networks
    }

    /// The hosts, in inventory order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The host called `name`.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// assert_eq!(fleet.host("a").map(|h| h.id), Some(1));
    /// assert!(fleet.host("zz").is_none());
    /// ```
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Hosts whose underlay address is among `local` (e.g. the addresses assigned on this
    /// machine), to find "this host" without being told.
    ///
    /// ```
    /// # let fleet = vxlan_mesh_core::testing::two_hosts();
    /// let local = ["192.0.2.2".parse().unwrap()];
    /// assert_eq!(fleet.hosts_with_addresses(&local)[0].name, "b");
    /// ```
    pub fn hosts_with_addresses(&self, local: &[IpAddr]) -> Vec<&Host> {
        self.hosts.iter().filter(|h| local.contains(&h.address)).collect()
    }
}
