//! The plan of an encrypted mesh: VXLAN between the hosts' inner (WireGuard) addresses, the
//! WireGuard interface and its peers, the MTU through both headers, and the firewall.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_core::wireguard::{PeerRoute, Route, MAIN_TABLE};
use vxlan_mesh_core::{Encryption, Fleet, HostPlan, ValidationError};

const KEYS: [&str; 4] = [
    "yqLoGkczmD/xXZPf6IcZm07lVt+bJFwpIj62fkJt23o=",
    "1VY4lZYnYrHKR8drJcLOjvYyqts+9ocnTXoTmNI+MjU=",
    "Rv4Otndn0+l632AjSfd4VOyAzxLAVrJVMro4o9sRtC0=",
    "3+o18TNcY2UtqB3oumKI+0SavTHs97094Azw1PRAjSs=",
];

/// An encrypted fleet of `n` hosts `h1`… at `192.0.2.N` (`2001:db8::N` with `v6`) in
/// `mode`, with the hosts' keys [`KEYS`] and inner addresses from `prefix` (the default when
/// empty).
fn fleet(n: usize, mode: &str, v6: bool, prefix: &str) -> Fleet {
    encrypted(n, mode, v6, prefix, &KEYS).fleet()
}

/// The inventory of [`fleet`], with the hosts' `keys`.
fn encrypted(n: usize, mode: &str, v6: bool, prefix: &str, keys: &[&str]) -> FleetBuilder {
    let fleet = FleetBuilder::new().layout(mode).ipv6(v6).hosts(n).public_keys(keys);
    if prefix.is_empty() {
        fleet
    } else {
        fleet.wireguard_prefix(prefix)
    }
}

/// The rules `fleet` breaks.
fn errors(fleet: FleetBuilder) -> Vec<ValidationError> {
    fleet.try_fleet().unwrap_err().0
}

#[test]
fn low_order_public_keys_are_refused_in_every_encoding() {
    // The small-order points: 0, 1, the two of order 8, p - 1, and the non-canonical p, p + 1;
    // each also with the top bit set, which X25519 ignores.
    let mut points: Vec<[u8; 32]> = vec![[0; 32], {
        let mut one = [0; 32];
        one[0] = 1;
        one
    }];
    for hex in [
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ] {
        let mut p = [0u8; 32];
        for (i, b) in p.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        points.push(p);
    }
    for mut point in points.clone() {
        point[31] |= 0x80;
        points.push(point);
    }
    assert_eq!(points.len(), 14);
    for point in points {
        let key = vxlan_mesh_core::PublicKey(point).to_string();
        let errs = errors(encrypted(2, "flood", false, "", &[KEYS[0], &key]));
        assert_eq!(
            errs,
            vec![ValidationError::LowOrderPublicKey {
                host: "h2".into(),
                index: 1,
                key: key.clone()
            }],
            "{key}"
        );
        assert!(errs[0].to_string().contains("low-order Curve25519 point"));
        assert_eq!(errs[0].path().to_string(), "hosts[1].public-key");
    }
}

#[test]
fn a_wireguard_prefix_in_loopback_multicast_or_unspecified_space_is_refused() {
    for (prefix, v6, range) in [
        ("127.64.0.0/16", false, "loopback `127.0.0.0/8`"),
        ("224.1.0.0/16", false, "multicast `224.0.0.0/4`"),
        ("0.0.0.0/24", false, "`0.0.0.0/8` (this network)"),
        ("ff05::/64", true, "multicast `ff00::/8`"),
        ("::/64", true, "the unspecified address `::`"),
    ] {
        let errs = errors(encrypted(2, "flood", v6, prefix, &KEYS));
        assert_eq!(
            errs,
            vec![ValidationError::WireguardPrefixReserved {
                prefix: prefix.into(),
                range
            }],
            "{prefix}"
        );
        assert_eq!(errs[0].path().to_string(), "wireguard.prefix");
    }
    // A unicast prefix next to them is fine.
    fleet(2, "flood", false, "126.0.0.0/24");
    fleet(2, "flood", true, "fd00:6d65:7368::/64");
}

fn plan(fleet: &Fleet, host: &str) -> HostPlan {
    fleet.plan(host).unwrap()
}

#[test]
fn flood_devices_run_between_inner_addresses() {
    let p = plan(&fleet(3, "flood", false, ""), "h2");
    assert_eq!(p.encryption, Encryption::Wireguard);
    let vx = p.vxlans().next().unwrap();
    assert_eq!(vx.local.to_string(), "10.213.0.2");
    assert_eq!(vx.underlay_device, None);
    let dests: Vec<String> = p.fdb().map(|e| e.destination.to_string()).collect();
    assert_eq!(dests, ["10.213.0.1", "10.213.0.3"]);
}

#[test]
fn per_peer_devices_have_the_peers_inner_addresses_as_remotes() {
    let p = plan(&fleet(3, "per-peer", false, "172.16.9.0/24"), "h1");
    let remotes: Vec<String> = p.vxlans().map(|v| v.remote.unwrap().to_string()).collect();
    assert_eq!(remotes, ["172.16.9.2", "172.16.9.3"]);
    assert!(p.vxlans().all(|v| v.local.to_string() == "172.16.9.1"));
}

#[test]
fn the_wireguard_interface_has_every_peer_with_its_inner_address_allowed() {
    let fleet = encrypted(3, "flood", false, "", &KEYS).wireguard_settings(|w| {
        w.port = Some(51000);
        w.interface = Some("wg-mesh".into());
    });
    let p = plan(&fleet.fleet(), "h1");
    let wg = p.wireguard.unwrap();
    assert_eq!(wg.interface, "wg-mesh");
    assert_eq!(wg.public_key.to_string(), KEYS[0]);
    assert_eq!((wg.address.to_string(), wg.prefix_len), ("10.213.0.1".into(), 16));
    assert_eq!(wg.listen_port, 51000);
    assert_eq!(wg.mtu, 1440);
    let peers: Vec<(String, String, String, String)> = wg
        .peers
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.public_key.to_string(),
                p.endpoint.to_string(),
                p.allowed_ips.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    assert_eq!(
        peers,
        [
            (
                "h2".into(),
                KEYS[1].into(),
                "192.0.2.2:51000".into(),
                "10.213.0.2/32".into()
            ),
            (
                "h3".into(),
                KEYS[2].into(),
                "192.0.2.3:51000".into(),
                "10.213.0.3/32".into()
            ),
        ]
    );
}

#[test]
fn mtu_accounts_for_wireguard_and_the_inner_family() {
    // (underlay IPv6?, prefix, container MTU, WireGuard MTU)
    let cases = [
        (false, "10.213.0.0/16", 1390, 1440),
        (false, "fd00:6d65:7368::/64", 1370, 1440),
        (true, "10.213.0.0/16", 1370, 1420),
        (true, "fd00:6d65:7368::/64", 1350, 1420),
    ];
    for (v6, prefix, container, wireguard) in cases {
        let p = plan(&fleet(2, "flood", v6, prefix), "h1");
        assert_eq!(p.networks[0].mtu, container, "{v6} {prefix}");
        assert_eq!(p.vxlans().next().unwrap().mtu, container);
        assert_eq!(p.overhead, 1500 - container);
        assert_eq!(p.wireguard.unwrap().mtu, wireguard, "{v6} {prefix}");
    }
}

#[test]
fn a_network_mtu_beyond_both_headers_names_wireguard() {
    let fleet = FleetBuilder::new()
        .mtu(1400)
        .host("a", "192.0.2.1")
        .host("b", "192.0.2.2");
    let errors = fleet.public_keys(&KEYS).try_fleet().unwrap_err();
    let e = errors.iter().next().unwrap();
    assert!(matches!(e, ValidationError::MtuTooLarge { max: 1390, .. }), "{e}");
    assert!(
        e.to_string()
            .contains("VXLAN over WireGuard over IPv4 (inner IPv4) adds 110 bytes"),
        "{e}"
    );
}

#[test]
fn the_firewall_guards_the_wireguard_port_and_takes_vxlan_from_the_interface_only() {
    let fleet = FleetBuilder::new()
        .host("a", "192.0.2.1")
        .host("b", "192.0.2.2")
        .public_keys(&KEYS)
        .edit_host("b", |b| {
            b.endpoint = Some("198.51.100.9:40000".parse().unwrap());
            b.persistent_keepalive = Some(25);
        })
        .fleet();
    let p = plan(&fleet, "a");
    let fw = p.firewall.unwrap();
    assert_eq!(fw.port, 51820);
    let peers: Vec<String> = fw.peers.iter().map(ToString::to_string).collect();
    assert_eq!(peers, ["192.0.2.2", "198.51.100.9"]);
    let filter = fw.wireguard.unwrap();
    assert_eq!((filter.interface.as_str(), filter.vxlan_port), ("vxmwg0", 4789));
    let peer = &p.wireguard.unwrap().peers[0];
    assert_eq!(peer.endpoint.to_string(), "198.51.100.9:40000");
    assert_eq!(peer.persistent_keepalive, Some(25));
}

#[test]
fn adding_a_host_keeps_the_inner_addresses_of_the_others() {
    let before = fleet(3, "flood", false, "");
    let after = fleet(4, "flood", false, "");
    for h in ["h1", "h2", "h3"] {
        assert_eq!(
            plan(&before, h).wireguard.unwrap().address,
            plan(&after, h).wireguard.unwrap().address
        );
    }
}

#[test]
fn a_clear_plan_has_no_wireguard_and_json_says_null() {
    let p = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
    assert_eq!(p.encryption, Encryption::None);
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["encryption"], "none");
    assert!(v["wireguard"].is_null());
    assert!(v["firewall"]["wireguard"].is_null());
    let back: HostPlan = serde_json::from_value(v).unwrap();
    assert_eq!(back, p);
}

// ---- changing an applied interface: only what differs, peer by peer

use vxlan_mesh_core::{argv, diff, ops, ops::Op, Change, Observed, State};

/// The operations that turn host h1 of `before` into host h1 of `after`.
fn ops_between(before: &Fleet, after: &Fleet) -> Vec<Op> {
    let have = Observed::from(&plan(before, "h1").state());
    let want = plan(after, "h1").state();
    ops::lower(&diff(&want, &have).unwrap())
}

#[test]
fn adding_a_host_sets_one_peer_and_touches_no_other() {
    let ops = ops_between(&fleet(3, "flood", false, ""), &fleet(4, "flood", false, ""));
    let wireguard: Vec<&Op> = ops
        .iter()
        .filter(|op| {
            matches!(
                op,
                Op::SetPeer { .. }
                    | Op::RemovePeer { .. }
                    | Op::ConfigureWireguard { .. }
                    | Op::DeleteLink { .. }
                    | Op::CreateWireguard { .. }
            )
        })
        .collect();
    assert_eq!(wireguard.len(), 1, "{ops:?}");
    let Op::SetPeer { peer, .. } = wireguard[0] else {
        panic!("{ops:?}")
    };
    assert_eq!(peer.name, "h4");
}

#[test]
fn removing_a_host_removes_its_peer_only() {
    let ops = ops_between(&fleet(4, "flood", false, ""), &fleet(3, "flood", false, ""));
    let removed: Vec<String> = ops
        .iter()
        .filter_map(|op| match op {
            Op::RemovePeer { public_key, .. } => Some(public_key.to_string()),
            Op::SetPeer { .. } | Op::CreateWireguard { .. } | Op::DeleteLink { .. } => panic!("{ops:?}"),
            _ => None,
        })
        .collect();
    assert_eq!(removed, [KEYS[3]]);
}

#[test]
fn an_observed_peer_with_another_endpoint_is_set_again_alone() {
    let want = plan(&fleet(3, "flood", false, ""), "h1").state();
    let mut have = Observed::from(&want);
    let wg = have.wireguard.as_mut().unwrap();
    wg.peers[1].endpoint = "198.51.100.7:1".parse().ok();
    let changes = diff(&want, &have).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(matches!(&changes[0], Change::UpdateWireguard { .. }));
    assert_eq!(
        changes[0].to_string(),
        "update wireguard vxmwg0: update peer h3 (endpoint)"
    );
    let lowered = ops::lower(&changes);
    assert!(
        matches!(&lowered[..], [Op::SetPeer { peer, .. }] if peer.name == "h3"),
        "{lowered:?}"
    );
    // Nothing differs: nothing to do (the key file is not observable, so not compared).
    assert!(diff(&want, &Observed::from(&want)).unwrap().is_empty());
    // A peer without an endpoint is drift named so, not one towards `0.0.0.0:0`.
    let mut unset = Observed::from(&want);
    unset.wireguard.as_mut().unwrap().peers[1].endpoint = None;
    let changes = diff(&want, &unset).unwrap();
    assert_eq!(
        changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["update wireguard vxmwg0: update peer h3 (endpoint unset)"]
    );
}

#[test]
fn dry_run_creates_the_interface_before_the_vxlan_devices_with_the_key_path() {
    let p = plan(&fleet(2, "flood", false, ""), "h1");
    let lines = argv::for_changes(&diff(&p.state(), &Observed::default()).unwrap());
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {lines:#?}"))
    };
    assert!(at("ip link add name vxmwg0 type wireguard") < at("ip link add name vxm100 type vxlan"));
    assert!(lines
        .contains(&"wg set vxmwg0 private-key /etc/vxlan-mesh/wireguard.key listen-port 51820 fwmark off".to_string()));
    assert!(lines.contains(&"ip address add 10.213.0.1/16 dev vxmwg0".to_string()));
    assert!(lines.contains(&format!(
        "wg set vxmwg0 peer {} endpoint 192.0.2.2:51820 allowed-ips 10.213.0.2/32 persistent-keepalive off preshared-key /dev/null",
        KEYS[1]
    )));
    assert!(at("wg set vxmwg0 peer") < at("ip link set dev vxmwg0 up"));
}

#[test]
fn a_preshared_key_or_a_firewall_mark_set_by_hand_is_drift_that_the_plan_clears() {
    let want = plan(&fleet(3, "flood", false, ""), "h1").state();
    let mut have = Observed::from(&want);
    let wg = have.wireguard.as_mut().unwrap();
    wg.fwmark = 0x2a;
    wg.peers[0].preshared_key = true;
    let changes = diff(&want, &have).unwrap();
    assert_eq!(
        changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["update wireguard vxmwg0: fwmark 0x2a -> off, update peer h2 (preshared key)"]
    );
    let lines = argv::for_changes(&changes);
    assert_eq!(
        lines,
        [
            "wg set vxmwg0 private-key /etc/vxlan-mesh/wireguard.key listen-port 51820 fwmark off".to_string(),
            format!(
                "wg set vxmwg0 peer {} endpoint 192.0.2.2:51820 allowed-ips 10.213.0.2/32 persistent-keepalive off preshared-key /dev/null",
                KEYS[1]
            ),
        ]
    );
}

/// `have` with the route towards every peer's inner address: `route` for h2, through
/// the interface for the others.
fn with_route_to_h2(want: &State, route: Option<Route>) -> Observed {
    let mut have = Observed::from(want);
    let Some(wg) = &want.wireguard else {
        panic!("the fleet is encrypted")
    };
    let ours = Route::new(
        "10.213.0.0".parse().ok(),
        16,
        MAIN_TABLE,
        Some("vxmwg0".into()),
        None,
        None,
    );
    have.wireguard_routes = wg
        .peers
        .iter()
        .map(|p| {
            let r = if p.name == "h2" {
                route.clone()
            } else {
                Some(ours.clone())
            };
            PeerRoute::new(p.name.clone(), p.allowed_ips[0].network(), r)
        })
        .collect();
    have
}

#[test]
fn a_route_not_ours_that_wins_over_the_interface_is_reported_and_has_no_command() {
    let want = plan(&fleet(3, "flood", false, ""), "h1").state();
    for route in [
        // More specific, in main.
        Route::new(
            "10.213.0.2".parse().ok(),
            32,
            MAIN_TABLE,
            Some("ul0".into()),
            "192.0.2.9".parse().ok(),
            None,
        ),
        // As specific: the route there first wins the tie.
        Route::new(
            "10.213.0.0".parse().ok(),
            16,
            MAIN_TABLE,
            Some("ul0".into()),
            None,
            None,
        ),
        // Less specific, in a table looked up before main.
        Route::new(None, 0, 100, None, None, Some("blackhole".into())),
    ] {
        let changes = diff(&want, &with_route_to_h2(&want, Some(route.clone()))).unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(
            changes[0].to_string(),
            format!(
                "route not added by vxlan-mesh takes peer h2 out of wireguard vxmwg0: 10.213.0.2 goes by `{route}`"
            )
        );
        assert!(argv::for_changes(&changes).is_empty());
    }
}

#[test]
fn a_missing_route_of_the_interface_is_restored_by_giving_its_address_again() {
    let want = plan(&fleet(3, "flood", false, ""), "h1").state();
    let default = Route::new(
        None,
        0,
        MAIN_TABLE,
        Some("ul0".into()),
        "192.0.2.254".parse().ok(),
        None,
    );
    for route in [Some(default), None] {
        let have = with_route_to_h2(&want, route);
        let changes = diff(&want, &have).unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!(
            changes[0]
                .to_string()
                .starts_with("restore the route of 10.213.0.1/16 through wireguard vxmwg0 (10.213.0.2 "),
            "{}",
            changes[0]
        );
        assert_eq!(
            argv::for_changes(&changes),
            [
                "ip address del 10.213.0.1/16 dev vxmwg0",
                "ip address add 10.213.0.1/16 dev vxmwg0"
            ]
        );
        // Down, the interface has no route: bringing it up restores it, nothing more.
        let mut down = have.clone();
        down.wireguard.as_mut().unwrap().up = false;
        let changes = diff(&want, &down).unwrap();
        assert_eq!(
            changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["update wireguard vxmwg0: up"]
        );
    }
}
