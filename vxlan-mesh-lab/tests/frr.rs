//! FRR in a lab, and the core's FRR runtime (`vxlan_mesh_core::netlink::frr`) against it:
//! zebra and bgpd per host namespace, `router bgp` blocks loaded line by line, health read
//! from FRR's JSON (root, iproute2, iputils-ping, FRR 8.4).
//!
//! The VXLAN devices are made by hand here (learning off, neighbour suppression on, no flood
//! entries), as an evpn plan makes them: everything in the FDB beyond that comes from FRR.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vxlan_mesh_core::netlink::frr::{BgpChange, Edit, Frr, FrrError, HealthProblem};
use vxlan_mesh_core::netlink::Netns;
use vxlan_mesh_core::testing::FleetBuilder;
use vxlan_mesh_lab::frr::{cleanup_frr_prefix, daemons, FrrLab, ETC_FRR};
use vxlan_mesh_lab::{names, Lab, LabSpec};

/// A lab of `hosts` hosts with one container each, the VXLAN device of VNI 100 as an evpn
/// plan has it, and FRR started in every host (its root under the test's own directory).
fn lab(hosts: usize, base: &str) -> (Lab, FrrLab) {
    let tag = names::unique_tag(base);
    let lab = Lab::build(LabSpec::from_fleet(&FleetBuilder::new().hosts(hosts).fleet(), 1, &tag).unwrap()).unwrap();
    for host in &lab.spec().hosts {
        let a = host.address;
        let batch = [
            "link add vxbr0 type bridge".to_string(),
            "link set vxbr0 mtu 1450 up".to_string(),
            format!("link add vxm100 type vxlan id 100 local {a} dstport 4789 nolearning"),
            "link set vxm100 mtu 1450 master vxbr0".to_string(),
            "link set vxm100 type bridge_slave neigh_suppress on learning off".to_string(),
            "link set vxm100 up".to_string(),
        ];
        for line in batch {
            let args: Vec<&str> = line.split_whitespace().collect();
            lab.exec_ok(&host.netns, &[&["ip"], args.as_slice()].concat()).unwrap();
        }
    }
    lab.attach_containers().unwrap();
    let root = std::env::temp_dir().join(format!("vxm-frr-{tag}"));
    let frr = FrrLab::start(&lab, root).unwrap();
    (lab, frr)
}

/// Our block for host `i` (1-based): host 1 reflects, the others are its clients.
fn block(i: usize, extra: &str) -> String {
    let peers = if i == 1 {
        " bgp listen range 192.0.2.0/24 peer-group vxlan-mesh\n".to_string()
    } else {
        " neighbor 192.0.2.1 peer-group vxlan-mesh\n".to_string()
    };
    let rr = if i == 1 {
        "  neighbor vxlan-mesh route-reflector-client\n"
    } else {
        ""
    };
    format!(
        "router bgp 65000\n bgp router-id 192.0.2.{i}\n no bgp default ipv4-unicast\n neighbor vxlan-mesh peer-group\n \
         neighbor vxlan-mesh remote-as internal\n{extra}{peers} !\n address-family l2vpn evpn\n  neighbor vxlan-mesh activate\n\
         {rr}  advertise-all-vni\n exit-address-family\nexit\n"
    )
}

/// Host `i`'s (1-based) namespace handle and name.
fn netns(lab: &Lab, i: usize) -> (Netns, String) {
    let name = lab.spec().hosts[i - 1].netns.clone();
    (Netns::named(&name).unwrap(), name)
}

/// Polls `f` every 200 ms until it returns `Some`, for at most `limit` (FRR converges in
/// seconds); panics with `what` after that.
fn poll<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// vtysh of instance `netns`, raw: for what the runtime does not expose.
fn vtysh(lab: &Lab, frr: &FrrLab, netns: &str, commands: &[&str]) -> String {
    let mut argv: Vec<String> = vec!["vtysh".into()];
    argv.extend(frr.frr(netns).vtysh_args());
    for c in commands {
        argv.extend(["-c".to_string(), (*c).to_string()]);
    }
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    lab.exec_ok(netns, &argv).unwrap()
}

/// How often the session to `peer` was established and dropped, from FRR's summary, while it
/// is established: a reset counts one more of each.
fn connections(lab: &Lab, frr: &FrrLab, netns: &str, peer: &str) -> Option<(u64, u64)> {
    let json = vtysh(lab, frr, netns, &["show bgp l2vpn evpn summary json"]);
    let v: serde_json::Value = serde_json::from_str(&json).ok()?;
    let p = &v["peers"][peer];
    (p["state"] == "Established").then_some(())?;
    Some((p["connectionsEstablished"].as_u64()?, p["connectionsDropped"].as_u64()?))
}

fn fdb(lab: &Lab, netns: &str) -> String {
    lab.exec_ok(netns, &["bridge", "fdb", "show", "dev", "vxm100"]).unwrap()
}

#[test]
fn load_sends_only_the_differing_lines_and_keeps_sessions() {
    let (lab, frr) = lab(3, "frrload");
    for i in 1..=3 {
        let (ns, name) = netns(&lab, i);
        let frr_i = frr.frr(&name);
        let change = frr_i.load(&ns, &block(i, ""), 65000).unwrap();
        assert!(
            matches!(change, Some(BgpChange::Edit { created: true, .. })),
            "{change:?}"
        );
        // Loaded as FRR prints it: a second load has nothing to do.
        assert_eq!(frr_i.load(&ns, &block(i, ""), 65000).unwrap(), None);
        assert_eq!(frr_i.preview(&ns, &block(i, ""), 65000).unwrap(), None);
    }
    let (ns2, h2) = netns(&lab, 2);
    let client = frr.frr(&h2);
    poll(Duration::from_secs(30), "h2's session to the reflector", || {
        let h = client.health(&ns2).unwrap();
        h.problems(&[100]).is_empty().then_some(())
    });
    // Flood entries towards both other VTEPs, installed by FRR, not by us.
    let entries = poll(Duration::from_secs(30), "FRR's flood entries on h2", || {
        let f = fdb(&lab, &h2);
        (f.contains("00:00:00:00:00:00 dst 192.0.2.1 self permanent")
            && f.contains("00:00:00:00:00:00 dst 192.0.2.3 self permanent"))
        .then_some(f)
    });
    assert!(!entries.contains("dst 192.0.2.2"), "{entries}");
    let matrix = poll(Duration::from_secs(30), "full reachability", || {
        let m = lab.ping_matrix().unwrap();
        m.is_full().then_some(m)
    });
    assert_eq!(matrix.pairs(), 6);

    // A new neighbour line: one edit, and the established session is not reset.
    let before = connections(&lab, &frr, &h2, "192.0.2.1").unwrap();
    let extra = " neighbor 192.0.2.99 peer-group vxlan-mesh\n";
    let change = client.load(&ns2, &block(2, extra), 65000).unwrap();
    let added = Edit::Add {
        context: None,
        line: "neighbor 192.0.2.99 peer-group vxlan-mesh".into(),
    };
    assert_eq!(
        change,
        Some(BgpChange::Edit {
            asn: 65000,
            created: false,
            edits: vec![added]
        })
    );
    let problems = client.health(&ns2).unwrap().problems(&[100]);
    assert!(
        matches!(problems.as_slice(), [HealthProblem::SessionDown { peer, .. }] if peer == "192.0.2.99"),
        "{problems:?}"
    );
    // Back: one removal, the session to the reflector still the same one.
    let change = client.load(&ns2, &block(2, ""), 65000).unwrap();
    assert!(
        matches!(&change, Some(BgpChange::Edit { edits, .. }) if matches!(edits.as_slice(), [Edit::Remove { .. }])),
        "{change:?}"
    );
    assert_eq!(connections(&lab, &frr, &h2, "192.0.2.1"), Some(before));
    assert!(client.health(&ns2).unwrap().problems(&[100]).is_empty());
    // A VNI zebra does not know is a problem.
    assert_eq!(
        client.health(&ns2).unwrap().problems(&[100, 200]),
        [HealthProblem::VniUnknown { vni: 200 }]
    );
}

#[test]
fn foreign_blocks_are_refused_and_remove_takes_only_ours() {
    let (lab, frr) = lab(2, "frrown");
    let (ns, h1) = netns(&lab, 1);
    let f = frr.frr(&h1);
    // Someone else's BGP instance, and configuration of zebra's beside it.
    vtysh(
        &lab,
        &frr,
        &h1,
        &[
            "configure terminal",
            "interface lo",
            "description kept-by-its-owner",
            "exit",
            "router bgp 65000",
            "bgp router-id 10.0.0.1",
        ],
    );
    let err = f.load(&ns, &block(1, ""), 65000).unwrap_err();
    assert!(matches!(err, FrrError::Foreign { asn: 65000 }), "{err}");
    assert!(err.to_string().contains("`router bgp 65000`"), "{err}");
    assert!(f.preview(&ns, &block(1, ""), 65000).is_err());
    assert_eq!(f.remove(&ns).unwrap(), None);
    assert!(f.running_config(&ns).unwrap().contains("bgp router-id 10.0.0.1"));
    vtysh(&lab, &frr, &h1, &["configure terminal", "no router bgp 65000"]);

    // Ours, under another AS number than the desired one. Alone (h2 has no BGP), the
    // reflector has no session and no remote VTEP.
    f.load(&ns, &block(1, ""), 65000).unwrap();
    let problems = poll(Duration::from_secs(10), "zebra knowing VNI 100", || {
        let p = f.health(&ns).unwrap().problems(&[100]);
        (!p.contains(&HealthProblem::VniUnknown { vni: 100 })).then_some(p)
    });
    assert_eq!(
        problems,
        [HealthProblem::NoSession, HealthProblem::NoRemoteVtep { vni: 100 }]
    );
    let other = block(1, "").replace("router bgp 65000", "router bgp 65001");
    let err = f.load(&ns, &other, 65001).unwrap_err();
    assert!(
        matches!(
            err,
            FrrError::OtherAsn {
                running: 65000,
                wanted: 65001
            }
        ),
        "{err}"
    );
    // A desired block that is not ours, or not of the AS given, is refused before FRR is asked.
    let err = f.load(&ns, &other, 65000).unwrap_err();
    assert!(matches!(err, FrrError::Desired(_)), "{err}");
    let err = f.load(
        &ns,
        &block(1, "").replace("neighbor vxlan-mesh peer-group\n", ""),
        65000,
    );
    assert!(matches!(err, Err(FrrError::Desired(_))), "{err:?}");

    // Remove takes our block and nothing else.
    assert_eq!(f.preview_remove(&ns).unwrap(), Some(BgpChange::Remove { asn: 65000 }));
    assert_eq!(f.remove(&ns).unwrap(), Some(BgpChange::Remove { asn: 65000 }));
    let config = f.running_config(&ns).unwrap();
    assert!(!config.contains("router bgp"), "{config}");
    assert!(config.contains("description kept-by-its-owner"), "{config}");
    assert_eq!(f.remove(&ns).unwrap(), None);
}

#[test]
fn daemons_down_are_clear_errors() {
    let (lab, frr) = lab(2, "frrdown");
    let (ns, h1) = netns(&lab, 1);
    let f = frr.frr(&h1);
    f.load(&ns, &block(1, ""), 65000).unwrap();
    frr.kill_bgpd(&h1).unwrap();
    let err = f.health(&ns).unwrap_err();
    assert!(
        matches!(&err, FrrError::NotRunning { daemon, .. } if daemon == "bgpd"),
        "{err}"
    );
    assert!(err.to_string().contains("`bgpd` is not running"), "{err}");
    let err = f.load(&ns, &block(1, ""), 65000).unwrap_err();
    assert!(matches!(&err, FrrError::NotRunning { .. }), "{err}");
    // The block went with bgpd: nothing to remove.
    assert_eq!(f.remove(&ns).unwrap(), None);
    // An instance nobody started.
    let none = Frr::system().pathspace(&h1).vty_dir("/nonexistent");
    let err = none.health(&ns).unwrap_err();
    assert!(matches!(err, FrrError::NoDaemons { .. }), "{err}");
    assert!(err.to_string().contains("no FRR daemon answers"), "{err}");
    assert_eq!(none.remove(&ns).unwrap(), None);
}

#[test]
fn stop_and_cleanup_leave_no_daemon_or_file() {
    let (lab, frr) = lab(2, "frrstop");
    let prefix = names::tag_prefix(&lab.spec().tag);
    let etc = |i: usize| Path::new(ETC_FRR).join(&lab.spec().hosts[i].netns);
    assert_eq!(daemons(&prefix).len(), 4);
    assert!(etc(0).join("vtysh.conf").exists());
    let root: PathBuf = frr.root().to_path_buf();
    frr.stop().unwrap();
    assert_eq!(daemons(&prefix).len(), 0);
    assert!(!etc(0).exists() && !etc(1).exists() && !root.exists());

    // After an interrupted run: no pid files to go by, found by their pathspace.
    let frr = FrrLab::start(&lab, &root).unwrap();
    let _kept = frr.persist();
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(daemons(&prefix).len(), 4);
    let found = cleanup_frr_prefix(&prefix).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(daemons(&prefix).len(), 0);
    assert!(!etc(0).exists());
}
