//! The host engine (`vxlan_mesh_core::host`) against a real kernel, in a namespace of its
//! own (root needed; fails loudly without): one call converges, one `status` sees a change
//! made behind its back (in the drift and in the metrics), `apply` repairs it, `down`
//! removes everything; outside evpn mode no FRR record is written.
#![cfg(all(feature = "netlink", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{in_netns, run};
use vxlan_mesh_core::host::{self, Options};
use vxlan_mesh_core::metrics;
use vxlan_mesh_core::netlink::Netns;

#[test]
fn one_call_each_converges_sees_drift_repairs_it_and_tears_down() {
    in_netns(|| {
        let ns = Netns::current().unwrap();
        // A veth underlay: on lo, 192.0.2.2 would be this host too, and what the VXLAN
        // device floods to b would come back to it.
        run(&["ip", "link", "add", "ul0", "type", "veth", "peer", "name", "ul1"]);
        run(&["ip", "addr", "add", "192.0.2.1/24", "dev", "ul0"]);
        run(&["ip", "link", "set", "ul0", "up"]);
        run(&["ip", "link", "set", "ul1", "up"]);
        let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
        let opts = Options::default();
        let device = plan.vxlans().next().unwrap().name.clone();

        let preview = host::preview(&ns, &plan, &opts).unwrap();
        let report = host::apply(&ns, &plan, &opts).unwrap();
        assert_eq!(report.devices.changes, preview.devices.changes);
        assert!(!report.is_empty() && report.frr.is_none(), "{report:?}");
        let status = host::status(&ns, &plan, &opts).unwrap();
        assert!(status.converged() && status.healthy(), "{:?}", status.changes());
        assert!(status.frr.is_none());
        assert!(
            !host::frr_record_path(&ns).unwrap().exists(),
            "a flood apply recorded an FRR block"
        );

        // Behind the tool's back: the flood entry to b goes.
        run(&[
            "bridge",
            "fdb",
            "del",
            "00:00:00:00:00:00",
            "dev",
            &device,
            "dst",
            "192.0.2.2",
        ]);
        let status = host::status(&ns, &plan, &opts).unwrap();
        assert_eq!(status.differences(), 1, "{:?}", status.changes());
        let text = metrics::render(&status.families(&plan));
        assert!(text.contains("vxlan_mesh_pending_changes{host=\"a\"} 1\n"), "{text}");
        let repair = host::apply(&ns, &plan, &opts).unwrap();
        assert_eq!(repair.devices.changes.len(), 1, "{repair:?}");
        assert!(run(&["bridge", "fdb", "show", "dev", &device]).contains("dst 192.0.2.2"));
        assert!(host::status(&ns, &plan, &opts).unwrap().converged());

        let down = host::down(&ns, &opts).unwrap();
        assert!(!down.devices.changes.is_empty());
        let left = run(&["ip", "-o", "link", "show"]);
        assert!(!left.contains("vxbr0") && !left.contains(&device), "{left}");
        assert!(host::down(&ns, &opts).unwrap().is_empty());
    });
}
