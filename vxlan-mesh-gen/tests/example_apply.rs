//! The example `apply_netns` (examples/apply_netns.rs) run as root: one library call
//! converges a host in a namespace of its own, the namespace is gone afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // Its `main` is the example's; the test calls what `main` calls.
#[path = "../../examples/apply_netns.rs"]
mod example;

#[test]
fn the_example_applies_a_plan_in_its_own_namespace_and_cleans_up() {
    let name = format!("vxm-exa-{}", std::process::id());
    let report = example::apply_in_namespace(&name).unwrap_or_else(|e| panic!("{e}"));
    let changes: Vec<String> = report.devices.changes.iter().map(ToString::to_string).collect();
    assert!(changes.iter().any(|c| c.contains("vxbr0")), "{changes:?}");
    assert!(
        changes.iter().any(|c| c.contains("192.0.2.2")),
        "no flood entry to b: {changes:?}"
    );
    assert!(
        !std::path::Path::new("/run/netns").join(&name).exists(),
        "namespace `{name}` left behind"
    );
}
