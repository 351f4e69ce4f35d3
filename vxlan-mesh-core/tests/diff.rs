//! The plan diff on hand-made observed states: minimal changes, in a safe order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use vxlan_mesh_core::{diff, Change, Inventory, Observed, State};

fn plan(text: &str, host: &str) -> State {
    Inventory::from_toml_str(text)
        .unwrap()
        .validate()
        .unwrap()
        .plan(host)
        .unwrap()
        .state()
}

/// A host exactly as `state` wants it.
fn applied(state: &State) -> Observed {
    Observed::from(state)
}

const FLEET: &str = r#"
mode = "per-peer"
[[networks]]
name = "lan"
vni = 100
bridge = "vxbr0"
[[hosts]]
name = "a"
address = "192.0.2.1"
[[hosts]]
name = "b"
address = "192.0.2.2"
[[hosts]]
name = "c"
address = "192.0.2.3"
"#;

fn kinds(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| serde_json::to_value(c).unwrap()["op"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn setup_order_puts_firewall_first_and_bridges_before_ports() {
    let want = plan(FLEET, "a");
    let changes = diff(&want, &Observed::default()).unwrap();
    assert_eq!(
        kinds(&changes),
        ["install-firewall", "create-bridge", "create-vxlan", "create-vxlan"]
    );
}

#[test]
fn an_mtu_change_is_made_in_place() {
    let have = plan(FLEET, "a");
    let want = plan(
        &FLEET.replace("bridge = \"vxbr0\"", "bridge = \"vxbr0\"\nmtu = 1400"),
        "a",
    );
    let changes = diff(&want, &applied(&have)).unwrap();
    assert_eq!(kinds(&changes), ["update-bridge", "update-vxlan", "update-vxlan"]);
    assert!(changes[0].to_string().contains("mtu 1450 -> 1400"), "{}", changes[0]);
}

#[test]
fn a_port_change_recreates_devices_and_says_why() {
    let have = plan(FLEET, "a");
    let want = plan(&format!("port = 8472\n{FLEET}"), "a");
    let changes = diff(&want, &applied(&have)).unwrap();
    assert_eq!(
        kinds(&changes),
        ["install-firewall", "recreate-vxlan", "recreate-vxlan"]
    );
    assert!(changes[1].to_string().contains("port"), "{}", changes[1]);
}

#[test]
fn removing_a_host_deletes_only_its_device() {
    let have = plan(FLEET, "a");
    let without_c = FLEET.replace("[[hosts]]\nname = \"c\"\naddress = \"192.0.2.3\"\n", "");
    let want = plan(&without_c, "a");
    let changes = diff(&want, &applied(&have)).unwrap();
    assert_eq!(kinds(&changes), ["install-firewall", "delete-vxlan"]);
    match &changes[1] {
        Change::DeleteVxlan { vxlan } => assert_eq!(vxlan.peer.as_deref(), Some("c")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn flood_mode_adds_and_removes_single_fdb_entries() {
    let flood = FLEET.replace("mode = \"per-peer\"\n", "");
    let have = plan(&flood, "a");
    let grown = format!("{flood}[[hosts]]\nname = \"d\"\naddress = \"192.0.2.4\"\n");
    let want = plan(&grown, "a");
    let changes = diff(&want, &applied(&have)).unwrap();
    assert_eq!(kinds(&changes), ["install-firewall", "add-fdb"]);
    let back = diff(&have, &applied(&want)).unwrap();
    assert_eq!(kinds(&back), ["install-firewall", "delete-fdb"]);
}

#[test]
fn a_foreign_interface_with_a_wanted_name_is_an_error() {
    let want = plan(FLEET, "a");
    let mut observed = Observed::default();
    observed.foreign = vec!["eth0".into(), want.vxlans[1].name.clone()];
    let err = diff(&want, &observed).unwrap_err();
    assert_eq!(
        err,
        vxlan_mesh_core::ForeignConflict::Interface {
            name: want.vxlans[1].name.clone()
        }
    );
}

#[test]
fn switching_loop_prevention_installs_rules_before_ports_change() {
    let have = plan(FLEET, "a");
    let want = plan(
        &FLEET.replace(
            "mode = \"per-peer\"",
            "mode = \"per-peer\"\nloop-prevention = \"ebtables\"",
        ),
        "a",
    );
    let changes = diff(&want, &applied(&have)).unwrap();
    assert_eq!(
        kinds(&changes),
        ["install-loop-rules", "place-loop-jump", "update-vxlan", "update-vxlan"]
    );
    assert!(changes[2].to_string().contains("isolated off"), "{}", changes[2]);
    let back = diff(&have, &applied(&want)).unwrap();
    assert_eq!(kinds(&back), ["update-vxlan", "update-vxlan", "remove-loop-rules"]);
}

fn ebtables_fleet() -> State {
    plan(
        &FLEET.replace(
            "mode = \"per-peer\"",
            "mode = \"per-peer\"\nloop-prevention = \"ebtables\"",
        ),
        "a",
    )
}

#[test]
fn a_jump_that_is_not_first_or_not_alone_is_drift() {
    let want = ebtables_fleet();
    let with_jumps = |jumps: Vec<usize>| {
        let mut have = applied(&want);
        if let Some(chain) = &mut have.loop_rules {
            chain.jumps = jumps;
        }
        have
    };
    assert!(diff(&want, &with_jumps(vec![1])).unwrap().is_empty());
    for jumps in [vec![], vec![2], vec![1, 4], vec![3, 5]] {
        let changes = diff(&want, &with_jumps(jumps.clone())).unwrap();
        assert_eq!(
            changes,
            [Change::PlaceLoopJump {
                chain: "VXLAN-MESH".into(),
                jumps
            }]
        );
    }
    // Teardown deletes every jump it found.
    let down = diff(&State::default(), &with_jumps(vec![2, 3])).unwrap();
    assert!(
        down.contains(&Change::RemoveLoopRules {
            chain: "VXLAN-MESH".into(),
            jumps: vec![2, 3]
        }),
        "{down:?}"
    );
}

/// ebtables' default policy for a new chain, ACCEPT, would skip every rule of `FORWARD`
/// below our jump: our chain with our rules but another policy is refilled, and the refill
/// sets the policy back to RETURN.
#[test]
fn our_chain_with_a_policy_other_than_return_is_refilled_with_policy_return() {
    use vxlan_mesh_core::ops::{lower as ops, Op};
    use vxlan_mesh_core::ChainPolicy;
    let want = ebtables_fleet();
    for policy in [ChainPolicy::Accept, ChainPolicy::Drop] {
        let mut have = applied(&want);
        if let Some(chain) = &mut have.loop_rules {
            chain.policy = policy;
        }
        let changes = diff(&want, &have).unwrap();
        assert!(
            matches!(changes[..], [Change::InstallLoopRules { exists: true, .. }]),
            "{policy}: {changes:?}"
        );
        let ops = ops(&changes);
        assert!(
            ops.iter()
                .any(|op| matches!(op, Op::ReturnPolicy { chain } if chain == "VXLAN-MESH")),
            "{ops:?}"
        );
    }
    // A chain created anew gets RETURN with `-N`.
    let created = ops(&diff(&want, &Observed::default()).unwrap());
    let create = created.iter().find(|op| matches!(op, Op::CreateChain { .. })).unwrap();
    assert_eq!(
        vxlan_mesh_core::argv::of(create).shell(),
        "ebtables -t filter -N VXLAN-MESH -P RETURN"
    );
}

#[test]
fn objects_named_like_ours_but_foreign_are_refused_when_wanted_and_left_alone_otherwise() {
    use vxlan_mesh_core::{ChainRule, ForeignConflict, LoopChain, Table};
    let want = ebtables_fleet();
    let mut chain = Observed::default();
    chain.loop_rules = Some(LoopChain::new(
        "VXLAN-MESH",
        vec![ChainRule::Foreign("-j ACCEPT".into())],
        vec![1],
    ));
    assert_eq!(
        diff(&want, &chain).unwrap_err(),
        ForeignConflict::Chain {
            chain: "VXLAN-MESH".into(),
            rule: "-j ACCEPT".into()
        }
    );
    assert!(diff(&State::default(), &chain).unwrap().is_empty());

    let mut table = Observed::default();
    table.firewall = Some(Table::Foreign {
        table: "vxlan_mesh".into(),
        reason: "it is someone else's".into(),
    });
    let err = diff(&want, &table).unwrap_err();
    assert!(err.to_string().contains("`inet vxlan_mesh`"), "{err}");
    assert!(diff(&State::default(), &table).unwrap().is_empty());

    // Ours, with its rules altered by hand: replaced when wanted, removed otherwise.
    let mut altered = Observed::default();
    altered.firewall = Some(Table::Altered {
        table: "vxlan_mesh".into(),
        reason: "other rules".into(),
    });
    let Some(Table::Ours(firewall)) = want.firewall.clone() else {
        panic!("the fleet has a firewall")
    };
    assert!(diff(&want, &altered)
        .unwrap()
        .contains(&Change::InstallFirewall { firewall }));
    assert_eq!(
        diff(&State::default(), &altered).unwrap(),
        [Change::RemoveFirewall {
            table: "vxlan_mesh".into()
        }]
    );
}

/// Issue 11: an entry a flood device learned towards a host that left the inventory keeps
/// sending that MAC's frames there until it ages out: it is drift, and deleted. Entries
/// learned towards the device's own destinations are the device's business.
#[test]
fn a_learned_entry_towards_a_host_that_left_is_deleted_and_others_are_kept() {
    let flood = FLEET.replace("mode = \"per-peer\"\n", "");
    let desired = plan(&flood, "a");
    let device = desired.vxlans[0].name.clone();
    let learned = |mac: u8, dst: &str| {
        vxlan_mesh_core::FdbEntry::new(
            &device,
            vxlan_mesh_core::MacAddr([2, 0, 0, 0, 0, mac]),
            dst.parse().unwrap(),
        )
    };
    let mut observed = applied(&desired);
    observed.learned = vec![learned(1, "192.0.2.2"), learned(2, "192.0.2.9")];
    let changes = diff(&desired, &observed).unwrap();
    assert_eq!(
        changes,
        [Change::DeleteFdb {
            entry: learned(2, "192.0.2.9")
        }]
    );
    // The same on a device that is re-created anyway: nothing to delete by hand.
    let mut moved = observed.clone();
    moved.vxlans[0].port = moved.vxlans[0].port.map(|p| p + 1);
    assert!(diff(&desired, &moved)
        .unwrap()
        .iter()
        .all(|c| !matches!(c, Change::DeleteFdb { .. })));
}

/// A flood entry is its destination, VNI, port and underlay interface: one towards a peer
/// with another VNI or port is another entry, drift, deleted by those (the planned one is
/// added where it is missing); a learned entry with a VNI of its own is drift even towards
/// a peer. A per-peer device's implied entry names its underlay device and stays.
#[test]
fn flood_entries_are_compared_on_vni_port_and_interface() {
    let flood = FLEET.replace("mode = \"per-peer\"\n", "");
    let desired = plan(&flood, "a");
    let wanted = desired.fdb[0].clone();
    let mut odd_vni = wanted.clone();
    odd_vni.vni = Some(999);
    let mut odd_port = wanted.clone();
    odd_port.port = Some(4790);
    let mut via = wanted.clone();
    via.via = Some("lo".into());
    let mut observed = applied(&desired);
    observed.fdb = vec![odd_vni, odd_port, via];
    observed.fdb.extend(desired.fdb[1..].iter().cloned());
    let changes = diff(&desired, &observed).unwrap();
    assert_eq!(
        changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            format!(
                "delete fdb 00:00:00:00:00:00 dst {} via lo on vxm100",
                wanted.destination
            ),
            format!(
                "delete fdb 00:00:00:00:00:00 dst {} port 4790 on vxm100",
                wanted.destination
            ),
            format!(
                "delete fdb 00:00:00:00:00:00 dst {} vni 999 on vxm100",
                wanted.destination
            ),
            format!("add fdb 00:00:00:00:00:00 dst {} on vxm100", wanted.destination),
        ]
    );
    let commands: Vec<String> = changes.iter().flat_map(vxlan_mesh_core::argv::for_change).collect();
    assert_eq!(
        commands[2],
        format!(
            "bridge fdb del 00:00:00:00:00:00 dev vxm100 dst {} vni 999 self",
            wanted.destination
        )
    );
    let mut hijack = wanted.clone();
    hijack.mac = vxlan_mesh_core::MacAddr([2, 0, 0, 0, 0, 1]);
    hijack.vni = Some(999);
    let mut observed = applied(&desired);
    observed.learned = vec![hijack.clone()];
    assert_eq!(
        diff(&desired, &observed).unwrap(),
        [Change::DeleteFdb { entry: hijack }]
    );

    let per_peer = plan(FLEET, "a");
    let mut observed = applied(&per_peer);
    let vx = &per_peer.vxlans[0];
    let mut through = vxlan_mesh_core::FdbEntry::new(&vx.name, vxlan_mesh_core::MacAddr::ZERO, vx.remote.unwrap());
    through.via = Some("eth0".into());
    observed.fdb = vec![through];
    assert!(diff(&per_peer, &observed).unwrap().is_empty());
}

// ---- evpn mode ----

const EVPN: &str = r#"
mode = "evpn"
[evpn]
underlay-prefix = "192.0.2.0/24"
[[networks]]
name = "lan"
vni = 100
bridge = "vxbr0"
[[hosts]]
name = "a"
address = "192.0.2.1"
route-reflector = true
[[hosts]]
name = "b"
address = "192.0.2.2"
[[hosts]]
name = "c"
address = "192.0.2.3"
"#;

/// `state` with the FDB entries FRR's zebra installs on `vxm100`: flood entries towards the
/// VTEPs it learned (`self permanent`) and a remote MAC (here observed as configured too).
fn with_frr_entries(state: &State) -> Observed {
    let entry = |mac: &str, destination: &str| {
        vxlan_mesh_core::FdbEntry::new(
            "vxm100",
            mac.to_string().try_into().unwrap(),
            destination.parse().unwrap(),
        )
    };
    let mut observed = applied(state);
    observed.fdb = vec![
        entry("00:00:00:00:00:00", "192.0.2.2"),
        entry("00:00:00:00:00:00", "192.0.2.77"),
        entry("02:00:00:00:00:07", "192.0.2.3"),
    ];
    observed.learned = vec![entry("02:00:00:00:00:08", "192.0.2.99")];
    observed
}

#[test]
fn in_evpn_mode_the_entries_frr_installs_are_not_drift() {
    let desired = plan(EVPN, "b");
    assert!(desired.external_fdb && desired.fdb.is_empty());
    let observed = with_frr_entries(&desired);
    assert_eq!(diff(&desired, &observed).unwrap(), []);
    // The same entries on a flood-mode device are drift, all of them.
    let mut flood = desired.clone();
    flood.external_fdb = false;
    let changes = diff(&flood, &observed).unwrap();
    assert_eq!(kinds(&changes), ["delete-fdb"; 4], "{changes:#?}");
}

#[test]
fn in_evpn_mode_the_port_flags_are_what_status_checks() {
    let desired = plan(EVPN, "a");
    let vx = &desired.vxlans[0];
    assert!(
        !vx.learning && vx.port_flags.neigh_suppress && !vx.port_flags.learning,
        "{vx:?}"
    );
    // A port whose neighbour suppression was turned off and that learns again.
    let mut observed = applied(&desired);
    observed.vxlans[0].port_flags.neigh_suppress = false;
    observed.vxlans[0].port_flags.learning = true;
    let changes = diff(&desired, &observed).unwrap();
    assert_eq!(kinds(&changes), ["update-vxlan"]);
    assert_eq!(
        changes[0].to_string(),
        "update vxlan vxm100: neigh_suppress on, port learning off"
    );
    let commands: Vec<String> = vxlan_mesh_core::ops::lower(&changes)
        .iter()
        .map(|op| vxlan_mesh_core::argv::of(op).shell())
        .collect();
    assert_eq!(
        commands,
        ["ip link set dev vxm100 type bridge_slave neigh_suppress on learning off"]
    );
}

#[test]
fn an_evpn_port_gets_its_flags_before_it_comes_up() {
    let desired = plan(EVPN, "a");
    let changes = diff(&desired, &Observed::default()).unwrap();
    let commands: Vec<String> = vxlan_mesh_core::ops::lower(&changes)
        .iter()
        .map(|op| vxlan_mesh_core::argv::of(op).shell())
        .filter(|c| c.contains("vxm100"))
        .collect();
    assert_eq!(
        commands,
        [
            "ip link add name vxm100 type vxlan id 100 local 192.0.2.1 dstport 4789 nolearning udpcsum",
            "ip link set dev vxm100 alias vxlan-mesh:lan mtu 1450 master vxbr0",
            "ip link set dev vxm100 type bridge_slave neigh_suppress on learning off",
            "sysctl -w net.ipv6.conf.vxm100.accept_ra=0 net.ipv6.conf.vxm100.autoconf=0 net.ipv6.conf.vxm100.addr_gen_mode=1",
            "ip link set dev vxm100 up",
        ]
    );
    // No flood entries: FRR installs them.
    assert!(!changes.iter().any(|c| matches!(c, Change::AddFdb { .. })));
    assert_eq!(
        changes[0].to_string(),
        "install nftables table inet vxlan_mesh (UDP 4789 and TCP 179 from 192.0.2.0/24 only)"
    );
}
