//! The plan in evpn mode: one learning-off VXLAN device per network with neighbour
//! suppression on its port and no flood entries, the BGP sessions (clients to every route
//! reflector, reflectors to each other plus a listen range), the VNIs, the router id, and a
//! firewall that admits the underlay prefix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use vxlan_mesh_core::{plan_host_from_toml, HostPlan, LoopPreventionPlan, Mode};

const FLEET: &str = r#"
mode = "evpn"
[evpn]
asn = 64512
underlay-prefix = "198.51.100.0/24"
keepalive = 5
hold-time = 15
[[networks]]
name = "lan"
vni = 300
bridge = "vxbr0"
[[networks]]
name = "storage"
vni = 200
bridge = "vxbr1"
[[hosts]]
name = "c1"
address = "198.51.100.20"
networks = ["lan"]
[[hosts]]
name = "rr-b"
address = "198.51.100.3"
route-reflector = true
[[hosts]]
name = "rr-a"
address = "198.51.100.10"
route-reflector = true
[[hosts]]
name = "c2"
address = "198.51.100.21"
"#;

fn plan(text: &str, host: &str) -> HostPlan {
    plan_host_from_toml(text, host).unwrap()
}

fn sessions(plan: &HostPlan) -> Vec<(String, String)> {
    let evpn = plan.evpn.as_ref().unwrap();
    evpn.sessions
        .iter()
        .map(|s| (s.peer.clone(), s.address.to_string()))
        .collect()
}

#[test]
fn a_client_peers_with_every_route_reflector_in_address_order() {
    let c1 = plan(FLEET, "c1");
    assert_eq!(c1.mode, Mode::Evpn);
    assert_eq!(c1.schema, 3);
    let evpn = c1.evpn.as_ref().unwrap();
    assert_eq!((evpn.asn, evpn.route_reflector), (64512, false));
    assert_eq!(evpn.router_id.to_string(), "198.51.100.20");
    assert_eq!(
        sessions(&c1),
        [
            ("rr-b".into(), "198.51.100.3".into()),
            ("rr-a".into(), "198.51.100.10".into())
        ]
    );
    assert_eq!(evpn.listen_range, None);
    assert_eq!(evpn.vnis, [300]);
    assert_eq!(evpn.timers.map(|t| (t.keepalive, t.hold_time)), Some((5, 15)));
}

#[test]
fn a_reflector_peers_with_the_other_reflectors_and_listens_on_the_prefix() {
    let rr = plan(FLEET, "rr-a");
    let evpn = rr.evpn.as_ref().unwrap();
    assert!(evpn.route_reflector);
    assert_eq!(sessions(&rr), [("rr-b".into(), "198.51.100.3".into())]);
    assert_eq!(
        evpn.listen_range.map(|p| p.to_string()).as_deref(),
        Some("198.51.100.0/24")
    );
    // Every network the host joins, ascending.
    assert_eq!(evpn.vnis, [200, 300]);
}

#[test]
fn devices_leave_the_fdb_to_frr() {
    let c2 = plan(FLEET, "c2");
    assert_eq!(c2.loop_prevention, LoopPreventionPlan::ByConstruction);
    assert_eq!(c2.networks.len(), 2);
    for net in &c2.networks {
        assert!(net.fdb.is_empty(), "{net:?}");
        let [vx] = net.vxlans.as_slice() else {
            panic!("one device per network: {net:?}")
        };
        assert_eq!((vx.vni, vx.remote), (net.vni, None));
        assert!(
            !vx.learning && vx.port_flags.neigh_suppress && !vx.port_flags.learning && !vx.port_flags.isolated,
            "{vx:?}"
        );
        // The MTU rules are the other modes'.
        assert_eq!(net.mtu, 1450);
    }
    // Flood mode keeps learning on and the port flags at the kernel's defaults.
    let flood_fleet = "[[networks]]\nname = \"lan\"\nvni = 300\nbridge = \"vxbr0\"\n\
                       [[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n";
    let flood = plan(flood_fleet, "a");
    let vx = flood.vxlans().next().unwrap();
    assert!(
        vx.learning && !vx.port_flags.neigh_suppress && vx.port_flags.learning,
        "{vx:?}"
    );
    assert!(flood.evpn.is_none());
}

#[test]
fn the_evpn_bridge_accepts_gratuitous_arp_and_dry_run_shows_the_sysctl() {
    let c2 = plan(FLEET, "c2");
    assert!(c2.networks.iter().all(|n| n.bridge.arp_accept), "{c2:?}");
    let changes = vxlan_mesh_core::diff(&c2.state(), &Default::default()).unwrap();
    let commands: Vec<String> = vxlan_mesh_core::ops::lower(&changes)
        .iter()
        .map(|op| vxlan_mesh_core::argv::of(op).shell())
        .collect();
    for bridge in ["vxbr0", "vxbr1"] {
        let set = format!("sysctl -w net.ipv4.conf.{bridge}.arp_accept=1");
        let (at, up) = (
            commands.iter().position(|c| *c == set),
            commands
                .iter()
                .position(|c| *c == format!("ip link set dev {bridge} up")),
        );
        assert!(at.is_some() && at < up, "{commands:#?}");
    }
    // Other modes leave the host's setting alone.
    let flood_fleet = "[[networks]]\nname = \"lan\"\nvni = 300\nbridge = \"vxbr0\"\n\
                       [[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n";
    assert!(!plan(flood_fleet, "a").networks[0].bridge.arp_accept);
}

#[test]
fn the_firewall_admits_the_underlay_prefix_to_vxlan_and_bgp() {
    let fw = plan(FLEET, "c1").firewall.unwrap();
    assert!(fw.peers.is_empty(), "{fw:?}");
    let evpn = fw.evpn.unwrap();
    assert_eq!(
        (evpn.prefix.to_string().as_str(), evpn.bgp_port, fw.port),
        ("198.51.100.0/24", 179, 4789)
    );
}

#[test]
fn over_ipv6_the_router_id_is_the_host_id() {
    let v6 = FLEET
        .replace("198.51.100.0/24", "2001:db8:100::/48")
        .replace("198.51.100.", "2001:db8:100::");
    let rr = plan(&v6, "rr-b");
    assert_eq!(rr.host_id, 2);
    assert_eq!(rr.evpn.as_ref().unwrap().router_id.to_string(), "0.0.0.2");
    assert_eq!(sessions(&rr), [("rr-a".into(), "2001:db8:100::10".into())]);
}
