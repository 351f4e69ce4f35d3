//! One test per validation rule: each builds a small inventory that breaks exactly that rule
//! and checks the typed error and that its message names the field and the reason.
#![allow(clippy::useless_format)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use vxlan_mesh_core::schema::{self, InventoryTable};
use vxlan_mesh_core::{FieldPath, Inventory, Key, NameProblem, ParseProblem, Section, ValidationError as E};

const NET: &str = r#"
[[networks]]
name = "lan"
vni = 100
bridge = "vxbr0"
"#;

fn hosts(n: usize) -> String {
    (1..=n)
        .map(|i| format!("[[hosts]]\nname = \"h{i}\"\naddress = \"192.0.2.{i}\"\n"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Validates `text`, expecting failure; returns the errors and their joined messages.
fn errors(text: &str) -> (Vec<E>, String) {
    let inv = Inventory::from_toml_str(text).unwrap();
    let errs = inv.validate().expect_err("inventory should be invalid").0;
    let msg = errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    (errs, msg)
}

fn valid(text: &str) -> vxlan_mesh_core::Fleet {
    Inventory::from_toml_str(text).unwrap().validate().unwrap()
}

#[test]
fn the_base_inventory_is_valid() {
    let fleet = valid(&format!("{NET}{}", hosts(3)));
    assert_eq!(fleet.networks()[0].mtu, 1450);
    assert_eq!(fleet.port(), 4789);
}

/// `n` hosts with IPv6 documentation addresses (IPv4's /24 is too small).
fn hosts6(n: usize) -> String {
    (1..=n)
        .map(|i| format!("[[hosts]]\nname = \"h{i}\"\naddress = \"2001:db8::{i:x}\"\n"))
        .collect()
}

#[test]
fn a_per_peer_network_with_more_peers_than_bridge_ports_is_rejected() {
    // 1,024 members: 1,023 tunnel ports per bridge, the kernel's most.
    valid(&format!("mode = \"per-peer\"\n{NET}{}", hosts6(1024)));
    let (errs, msg) = errors(&format!("mode = \"per-peer\"\n{NET}{}", hosts6(1025)));
    assert_eq!(errs.len(), 1, "{msg}");
    assert_eq!(errs[0].code(), "too-many-bridge-ports");
    assert!(
        msg.contains("network `lan`: joined by 1025 hosts in per-peer mode, so bridge `vxbr0` of each needs 1024 tunnel ports; a Linux bridge has at most 1023"),
        "{msg}"
    );
    // Flood mode needs one port per host, whatever the fleet's size.
    valid(&format!("{NET}{}", hosts6(1025)));
}

#[test]
fn a_mesh_of_one_host_is_rejected() {
    let (errs, msg) = errors(&format!("{NET}{}", hosts(1)));
    assert_eq!(errs, vec![E::TooFewHosts { found: 1 }]);
    assert!(msg.contains("`hosts`") && msg.contains("at least two"), "{msg}");
}

#[test]
fn no_networks_is_rejected() {
    let (errs, msg) = errors(&hosts(2));
    assert_eq!(errs, vec![E::NoNetworks]);
    assert!(msg.contains("`networks`"), "{msg}");
}

#[test]
fn port_zero_is_rejected() {
    let (errs, msg) = errors(&format!("port = 0\n{NET}{}", hosts(2)));
    assert_eq!(errs, vec![E::PortZero]);
    assert!(msg.contains("`port`"), "{msg}");
}

#[test]
fn port_out_of_u16_is_a_parse_error_with_position() {
    let err = Inventory::from_toml_str(&format!("port = 70000\n{NET}")).unwrap_err();
    assert_eq!(err.line, Some(1));
    assert!(
        err.message.contains("70000") || err.message.contains("invalid value"),
        "{}",
        err.message
    );
}

#[test]
fn unknown_keys_are_rejected_with_position() {
    for (text, key) in [
        (format!("prot = 1\n{NET}"), "prot"),
        (format!("{NET}vnid = 3\n"), "vnid"),
        (format!("{NET}{}\nunderlay_mtu = 1500\n", hosts(1)), "underlay_mtu"),
    ] {
        let err = Inventory::from_toml_str(&text).unwrap_err();
        assert!(err.message.contains(key), "{key}: {}", err.message);
        assert!(err.line.is_some());
    }
}

#[test]
fn loop_prevention_outside_per_peer_is_rejected() {
    let (errs, msg) = errors(&format!("loop-prevention = \"ebtables\"\n{NET}{}", hosts(2)));
    assert_eq!(errs, vec![E::LoopPreventionWithoutPerPeer]);
    assert!(msg.contains("`loop-prevention`"), "{msg}");
}

#[test]
fn duplicate_host_names_are_rejected() {
    let text = format!("{NET}{}[[hosts]]\nname = \"h1\"\naddress = \"192.0.2.9\"\n", hosts(2));
    let (errs, msg) = errors(&text);
    assert_eq!(
        errs,
        vec![E::DuplicateHostName {
            name: "h1".into(),
            index: 2,
            first: 0
        }]
    );
    assert!(msg.contains("`hosts[2].name`"), "{msg}");
}

#[test]
fn duplicate_addresses_are_rejected() {
    let text = format!("{NET}{}[[hosts]]\nname = \"h9\"\naddress = \"192.0.2.1\"\n", hosts(2));
    let (errs, msg) = errors(&text);
    assert!(matches!(&errs[..], [E::DuplicateAddress { host, other, .. }] if host == "h9" && other == "h1"));
    assert!(msg.contains("`192.0.2.1`"), "{msg}");
}

#[test]
fn mixed_underlay_families_are_rejected() {
    let text = format!("{NET}{}[[hosts]]\nname = \"v6\"\naddress = \"2001:db8::1\"\n", hosts(2));
    let (errs, msg) = errors(&text);
    assert!(matches!(&errs[..], [E::MixedFamilies { host, .. }] if host == "v6"));
    assert!(msg.contains("all IPv4 or all IPv6"), "{msg}");
}

#[test]
fn unusable_addresses_are_rejected() {
    for addr in ["0.0.0.0", "127.0.0.1", "224.0.0.1", "255.255.255.255"] {
        let text = format!("{NET}{}[[hosts]]\nname = \"bad\"\naddress = \"{addr}\"\n", hosts(2));
        let (errs, msg) = errors(&text);
        assert!(
            matches!(&errs[..], [E::BadAddress { host, .. }] if host == "bad"),
            "{addr}: {errs:?}"
        );
        assert!(msg.contains("`address`"), "{msg}");
    }
}

#[test]
fn an_address_with_a_prefix_is_a_parse_error() {
    let text = format!("{NET}[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1/24\"\n");
    let err = Inventory::from_toml_str(&text).unwrap_err();
    assert!(err.line.is_some(), "{err:?}");
}

#[test]
fn vni_outside_24_bits_is_rejected() {
    for vni in [0u32, 16_777_216, 4_000_000_000] {
        let text = format!(
            "[[networks]]\nname = \"lan\"\nvni = {vni}\nbridge = \"vxbr0\"\n{}",
            hosts(2)
        );
        let (errs, msg) = errors(&text);
        assert_eq!(
            errs,
            vec![E::VniOutOfRange {
                network: "lan".into(),
                index: 0,
                vni
            }]
        );
        assert!(msg.contains("`vni`") && msg.contains("1..=16777215"), "{msg}");
    }
}

#[test]
fn colliding_vnis_are_rejected_in_flood_mode() {
    let text = format!(
        "{NET}[[networks]]\nname = \"dmz\"\nvni = 100\nbridge = \"vxbr1\"\n{}",
        hosts(2)
    );
    let (errs, msg) = errors(&text);
    assert!(matches!(&errs[..], [E::VniCollision { network, other, .. }] if network == "dmz" && other == "lan"));
    assert!(msg.contains("collides"), "{msg}");
}

#[test]
fn overlapping_per_peer_ranges_are_rejected() {
    // Four hosts need six link VNIs: 100..=105 overlaps 103.
    let text = format!(
        "mode = \"per-peer\"\n{NET}[[networks]]\nname = \"dmz\"\nvni = 103\nbridge = \"vxbr1\"\n{}",
        hosts(4)
    );
    let (errs, msg) = errors(&text);
    assert!(matches!(
        &errs[..],
        [E::VniCollision { network, first: 103, last: 108, other_first: 100, other_last: 105, .. }] if network == "dmz"
    ));
    assert!(msg.contains("100..=105"), "{msg}");
    // Adjacent ranges are fine.
    valid(&format!(
        "mode = \"per-peer\"\n{NET}[[networks]]\nname = \"dmz\"\nvni = 106\nbridge = \"vxbr1\"\n{}",
        hosts(4)
    ));
}

#[test]
fn per_peer_range_overflow_is_rejected() {
    let text = format!(
        "mode = \"per-peer\"\n[[networks]]\nname = \"lan\"\nvni = 16777214\nbridge = \"vxbr0\"\n{}",
        hosts(3)
    );
    let (errs, msg) = errors(&text);
    assert!(
        matches!(
            &errs[..],
            [E::VniRangeOverflow {
                links: 3,
                last: 16_777_216,
                ..
            }]
        ),
        "{errs:?}"
    );
    assert!(msg.contains("16777215"), "{msg}");
    // A huge explicit id overflows too.
    let text = format!(
        "mode = \"per-peer\"\n{NET}{}[[hosts]]\nname = \"big\"\nid = 100000\naddress = \"192.0.2.99\"\n",
        hosts(2)
    );
    let (errs, _) = errors(&text);
    assert!(
        matches!(&errs[..], [E::VniRangeOverflow { max_id: 100_000, .. }]),
        "{errs:?}"
    );
}

#[test]
fn bad_interface_names_are_rejected() {
    let cases = [
        ("vxbr0-is-much-too-long", NameProblem::TooLong { len: 22, max: 15 }),
        ("br;rm -rf", NameProblem::BadChar { found: ';' }),
        ("br0\nx", NameProblem::BadChar { found: '\n' }),
        ("br/0", NameProblem::BadChar { found: '/' }),
        ("", NameProblem::Empty),
        ("..", NameProblem::Dots),
        ("-br", NameProblem::LeadingDash),
        (".br", NameProblem::LeadingDot),
        ("vxm100", NameProblem::Reserved { prefix: "vxm" }),
    ];
    for (bridge, problem) in cases {
        let text = format!(
            "[[networks]]\nname = \"lan\"\nvni = 100\nbridge = {}\n{}",
            toml_string(bridge),
            hosts(2)
        );
        let (errs, msg) = errors(&text);
        assert!(
            matches!(&errs[..], [E::BadName { field, problem: p, .. }] if field.to_string() == "networks[0].bridge" && *p == problem),
            "{bridge:?}: {errs:?}"
        );
        assert!(msg.contains("`networks[0].bridge`"), "{msg}");
        assert!(
            !msg.contains('\n'),
            "a newline in the value must not reach the message: {msg:?}"
        );
    }
}

#[test]
fn bad_device_host_and_network_names_are_rejected() {
    let text = format!(
        "[[networks]]\nname = \"l a n\"\nvni = 100\nbridge = \"vxbr0\"\n[[hosts]]\nname = \"a$(x)\"\naddress = \"192.0.2.1\"\ndevice = \"eth0;reboot\"\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n"
    );
    let (errs, msg) = errors(&text);
    let fields: Vec<String> = errs
        .iter()
        .filter_map(|e| match e {
            E::BadName { field, .. } => Some(field.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        fields,
        vec!["hosts[0].name", "hosts[0].device", "networks[0].name"],
        "{msg}"
    );
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.escape_default())
}

#[test]
fn duplicate_network_names_and_bridges_are_rejected() {
    let text = format!(
        "{NET}[[networks]]\nname = \"lan\"\nvni = 200\nbridge = \"vxbr0\"\n{}",
        hosts(2)
    );
    let (errs, msg) = errors(&text);
    assert!(errs
        .iter()
        .any(|e| matches!(e, E::DuplicateNetworkName { index: 1, first: 0, .. })));
    assert!(errs
        .iter()
        .any(|e| matches!(e, E::DuplicateBridge { bridge, .. } if bridge == "vxbr0")));
    assert!(msg.contains("`networks[1].name`"), "{msg}");
}

#[test]
fn mtu_too_small_is_rejected_with_the_applicable_minimum() {
    let with = |mtu: u32, v6: Option<bool>| {
        format!(
            "[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\nmtu = {mtu}\n{}{}",
            v6.map(|v| format!("container-ipv6 = {v}\n")).unwrap_or_default(),
            hosts(2)
        )
    };
    let (errs, msg) = errors(&with(1279, None));
    assert!(matches!(&errs[..], [E::MtuTooSmall { min: 1280, .. }]), "{errs:?}");
    assert!(msg.contains("`mtu` 1279") && msg.contains("IPv6"), "{msg}");
    let (errs, _) = errors(&with(575, Some(false)));
    assert!(matches!(&errs[..], [E::MtuTooSmall { min: 576, .. }]), "{errs:?}");
    assert_eq!(valid(&with(1000, Some(false))).networks()[0].mtu, 1000);
}

#[test]
fn mtu_above_the_underlay_maximum_is_rejected_naming_the_limiting_host() {
    let text = format!(
        "[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\nmtu = 1450\n[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\nunderlay-mtu = 9000\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\nunderlay-mtu = 1400\n"
    );
    let (errs, msg) = errors(&text);
    assert!(
        matches!(&errs[..], [E::MtuTooLarge { max: 1350, host, .. }] if host == "b"),
        "{errs:?}"
    );
    assert!(msg.contains("`mtu` 1450") && msg.contains("host `b`"), "{msg}");
}

#[test]
fn the_overlay_mtu_is_the_minimum_over_the_network_hosts() {
    let text = format!(
        "{NET}[[hosts]]\nname = \"a\"\naddress = \"2001:db8::1\"\nunderlay-mtu = 9000\n[[hosts]]\nname = \"b\"\naddress = \"2001:db8::2\"\nunderlay-mtu = 1500\n"
    );
    let fleet = valid(&text);
    assert_eq!(fleet.networks()[0].mtu, 1430);
    assert_eq!(fleet.networks()[0].max_mtu, 1430);
}

#[test]
fn an_underlay_mtu_too_small_for_the_overlay_is_rejected() {
    let text = format!(
        "{NET}[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\nunderlay-mtu = 1300\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n"
    );
    let (errs, msg) = errors(&text);
    assert!(
        matches!(&errs[..], [E::UnderlayMtuTooSmall { host, overlay: 1250, .. }] if host == "a"),
        "{errs:?}"
    );
    assert!(msg.contains("`underlay-mtu` 1300"), "{msg}");
    let text = format!(
        "{NET}[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\nunderlay-mtu = 70000\n{}",
        hosts(1).replace("h1", "b").replace(".1\"", ".2\"")
    );
    let (errs, _) = errors(&text);
    assert!(
        errs.iter().any(|e| matches!(e, E::UnderlayMtuTooLarge { .. })),
        "{errs:?}"
    );
}

#[test]
fn host_ids_must_be_unique_and_positive() {
    let text = format!("{NET}[[hosts]]\nname = \"a\"\nid = 2\naddress = \"192.0.2.1\"\n[[hosts]]\nname = \"b\"\nid = 2\naddress = \"192.0.2.2\"\n[[hosts]]\nname = \"c\"\nid = 0\naddress = \"192.0.2.3\"\n");
    let (errs, msg) = errors(&text);
    assert!(
        errs.iter().any(|e| matches!(e, E::DuplicateHostId { id: 2, .. })),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| matches!(e, E::HostIdZero { host, index: 2 } if host == "c")),
        "{errs:?}"
    );
    assert!(msg.contains("`id`"), "{msg}");
}

#[test]
fn implicit_ids_fill_the_gaps_left_by_explicit_ones() {
    let text = format!("{NET}[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n[[hosts]]\nname = \"b\"\nid = 1\naddress = \"192.0.2.2\"\n[[hosts]]\nname = \"c\"\naddress = \"192.0.2.3\"\n");
    let fleet = valid(&text);
    let ids: Vec<u32> = fleet.hosts().iter().map(|h| h.id).collect();
    assert_eq!(ids, vec![2, 1, 3]);
}

#[test]
fn host_networks_must_exist_and_networks_need_two_members() {
    let text = format!("{NET}[[networks]]\nname = \"dmz\"\nvni = 200\nbridge = \"vxbr1\"\n[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\nnetworks = [\"lan\", \"dmz\", \"nope\"]\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\nnetworks = [\"lan\"]\n");
    let (errs, msg) = errors(&text);
    assert!(
        errs.iter()
            .any(|e| matches!(e, E::UnknownNetwork { network, .. } if network == "nope")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| matches!(e, E::NetworkTooSmall { network, found: 1, index: 1 } if network == "dmz")),
        "{errs:?}"
    );
    assert!(msg.contains("`networks`"), "{msg}");
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = "port = 0\n[[networks]]\nname = \"lan\"\nvni = 0\nbridge = \"a very long bridge\"\n[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n";
    let (errs, _) = errors(text);
    assert!(errs.len() >= 4, "{errs:?}");
}

// ---- type and syntax errors: the field and the expected kind in words, with positions ----

/// The parse error of `text` as `check` shows it: `LINE:COL: message`, with its code and path.
fn parse_error(text: &str) -> (String, &'static str, Option<String>) {
    let e = Inventory::from_toml_str(text).expect_err("must not parse");
    (
        format!("{}:{}: {}", e.line.unwrap_or(0), e.column.unwrap_or(0), e.message),
        e.code(),
        e.path.map(|p| p.to_string()),
    )
}

#[test]
fn type_errors_name_the_field_and_the_expected_kind_in_words() {
    let h2 = hosts(2);
    let net = |fields: &str| format!("[[networks]]\nname = \"lan\"\nbridge = \"vxbr0\"\n{fields}\n{h2}");
    let host = |fields: &str| {
        format!("{NET}[[hosts]]\nname = \"a\"\n{fields}\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n")
    };
    let cases: Vec<(String, &str, &str, &str)> = vec![
        // Top level: integer, enum, boolean, array of tables.
        (format!("port = \"4789\"\n{NET}"), "1:8: `port` must be an integer, got the string \"4789\"", "wrong-type", "port"),
        (format!("mode = \"mesh\"\n{NET}"), "1:8: `mode` must be one of `flood`, `per-peer`, `evpn`, got the string \"mesh\"", "bad-value", "mode"),
        (format!("mode = 1\n{NET}"), "1:8: `mode` must be one of `flood`, `per-peer`, `evpn`, got the integer 1", "wrong-type", "mode"),
        (
            format!("loop-prevention = \"nft\"\n{NET}"),
            "1:19: `loop-prevention` must be one of `isolation`, `ebtables`, got the string \"nft\"",
            "bad-value",
            "loop-prevention",
        ),
        (format!("firewall = \"yes\"\n{NET}"), "1:12: `firewall` must be a boolean (`true` or `false`), got the string \"yes\"", "wrong-type", "firewall"),
        (
            "[networks]\nname = \"lan\"\n".to_string(),
            "1:1: `networks` must be an array of tables, one `[[networks]]` per network, got a table",
            "wrong-type",
            "networks",
        ),
        ("hosts = [1]\n".to_string(), "1:10: `hosts[0]` must be a table, got the integer 1", "wrong-type", "hosts[0]"),
        // Network keys.
        (net("vni = \"100\""), "4:7: `networks[0].vni` must be an integer, got the string \"100\"", "wrong-type", "networks[0].vni"),
        (net("vni = -5"), "4:7: `networks[0].vni` must be an integer from 0 to 4294967295, got -5", "out-of-range", "networks[0].vni"),
        (net("vni = 1\nmtu = 1450.0"), "5:7: `networks[0].mtu` must be an integer, got the float 1450.0", "wrong-type", "networks[0].mtu"),
        (
            net("vni = 1\ncontainer-ipv6 = \"no\""),
            "5:18: `networks[0].container-ipv6` must be a boolean (`true` or `false`), got the string \"no\"",
            "wrong-type",
            "networks[0].container-ipv6",
        ),
        (
            format!("[[networks]]\nname = \"lan\"\nvni = 100\nbridge = [\"vxbr0\"]\n{h2}"),
            "4:10: `networks[0].bridge` must be a string, got an array",
            "wrong-type",
            "networks[0].bridge",
        ),
        (net("vni = 1\nvlan = 3"), "5:1: unknown key `vlan` in `networks[0]`; the allowed keys are `name`, `vni`, `bridge`, `mtu`, `container-ipv6`", "unknown-key", "networks[0]"),
        (net(""), "1:1: `networks[0]` has no `vni`, which is required", "missing-key", "networks[0].vni"),
        (
            "networks = [{}]\n".to_string(),
            "1:13: `networks[0]` has no `name`, `vni` or `bridge`, which are required",
            "missing-key",
            "networks[0].name",
        ),
        // Host keys.
        (host("address = 3221225985"), "8:11: `hosts[0].address` must be an IPv4 or IPv6 address in quotes, such as \"192.0.2.1\" or \"2001:db8::1\" (no prefix length or zone), got the integer 3221225985", "wrong-type", "hosts[0].address"),
        (host("address = \"192.0.2.1\"\nid = true"), "9:6: `hosts[0].id` must be an integer, got the boolean true", "wrong-type", "hosts[0].id"),
        (host("address = \"192.0.2.1\"\nunderlay-mtu = 1979-05-27"), "9:16: `hosts[0].underlay-mtu` must be an integer, got the date-time 1979-05-27", "wrong-type", "hosts[0].underlay-mtu"),
        (host("address = \"192.0.2.1\"\ndevice = { name = \"eth0\" }"), "9:10: `hosts[0].device` must be a string, got a table", "wrong-type", "hosts[0].device"),
        (host("address = \"192.0.2.1\"\nnetworks = \"lan\""), "9:12: `hosts[0].networks` must be an array of strings, got the string \"lan\"", "wrong-type", "hosts[0].networks"),
        (host("address = \"192.0.2.1\"\nnetworks = [\"lan\", 7]"), "9:20: `hosts[0].networks[1]` must be a string, got the integer 7", "wrong-type", "hosts[0].networks[1]"),
        (host("address = \"192.0.2.1\"\nunderlay_mtu = 9000"), "9:1: unknown key `underlay_mtu` in `hosts[0]` (did you mean `underlay-mtu`?); the allowed keys are `name`, `address`, `device`, `underlay-mtu`, `id`, `networks`, `public-key`, `endpoint`, `persistent-keepalive`, `route-reflector`", "unknown-key", "hosts[0]"),
        (host(""), "6:1: `hosts[0]` has no `address`, which is required", "missing-key", "hosts[0].address"),
    ];
    for (text, want, code, path) in cases {
        let (got, got_code, got_path) = parse_error(&text);
        assert_eq!(got, want, "{text}");
        assert_eq!(got_code, code, "{text}");
        assert_eq!(got_path.as_deref(), Some(path), "{text}");
        assert!(
            !got.contains("expected u") && !got.contains("invalid type"),
            "Rust types leak: {got}"
        );
    }
}

#[test]
fn the_first_problem_in_the_file_is_reported() {
    // Two wrong values: the one that comes first in the file, whatever the key order.
    let text = format!("[[networks]]\nname = 1\nvni = \"x\"\nbridge = \"vxbr0\"\n{}", hosts(2));
    assert_eq!(
        parse_error(&text).0,
        "2:8: `networks[0].name` must be a string, got the integer 1"
    );
}

#[test]
fn syntax_errors_keep_the_toml_readers_words_and_position() {
    let (got, code, path) = parse_error("port = \n");
    assert_eq!(code, "toml-syntax");
    assert_eq!(path, None);
    assert!(got.starts_with("1:"), "{got}");
}

#[test]
fn every_validation_error_has_a_path_that_positions_find() {
    // A file breaking many rules: each error's path leads to the line of its key.
    let text = "port = 0\nloop-prevention = \"ebtables\"\n[[networks]]\nname = \"lan\"\nvni = 0\nbridge = \"vxm1\"\nmtu = 100\n\
                [[hosts]]\nname = \"a\"\naddress = \"127.0.0.1\"\nid = 0\nnetworks = [\"lan\", \"nope\"]\n\
                [[hosts]]\nname = \"a\"\naddress = \"127.0.0.1\"\nunderlay-mtu = 70000\ndevice = \"vxm1\"\n";
    let (inv, positions) = Inventory::from_toml_str_with_positions(text).unwrap();
    let errors = inv.validate().unwrap_err();
    let found: Vec<(String, &str, Option<usize>)> = errors
        .iter()
        .map(|e| {
            (
                e.path().to_string(),
                e.code(),
                positions.find(&e.path()).map(|p| p.line),
            )
        })
        .collect();
    for want in [
        ("port".to_string(), "port-zero", Some(1)),
        ("loop-prevention".into(), "loop-prevention-without-per-peer", Some(2)),
        ("networks[0].vni".into(), "vni-out-of-range", Some(5)),
        ("networks[0].bridge".into(), "bad-name", Some(6)),
        ("networks[0].mtu".into(), "mtu-too-small", Some(7)),
        ("hosts[0].address".into(), "bad-address", Some(10)),
        ("hosts[0].id".into(), "host-id-zero", Some(11)),
        ("hosts[0].networks[1]".into(), "unknown-network", Some(12)),
        ("hosts[1].name".into(), "duplicate-host-name", Some(14)),
        ("hosts[1].address".into(), "duplicate-address", Some(15)),
        ("hosts[1].underlay-mtu".into(), "underlay-mtu-too-large", Some(16)),
        ("hosts[1].device".into(), "device-is-bridge", Some(17)),
    ] {
        assert!(found.contains(&want), "{want:?} not in {found:#?}");
    }
    // A default that is absent from the text points at its table; a whole-file rule nowhere.
    let hosts_only = format!("{NET}[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\nunderlay-mtu = 1300\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n");
    let (_, positions) = Inventory::from_toml_str_with_positions(&hosts_only).unwrap();
    let b_mtu = FieldPath::of(Section::Host(1), Key::UnderlayMtu);
    assert_eq!(positions.find(&b_mtu).map(|p| (p.line, p.column)), Some((10, 1)));
    assert_eq!(positions.find(&FieldPath::root(Key::Networks)).map(|p| p.line), Some(2));
    let (_, empty) = Inventory::from_toml_str_with_positions("").unwrap();
    assert_eq!(empty.find(&FieldPath::root(Key::Networks)), None);
}

#[test]
fn codes_are_listed_and_stable() {
    // The codes are a public contract (`check --format json`): changing one breaks tools.
    assert_eq!(
        E::CODES,
        [
            "too-few-hosts",
            "no-networks",
            "port-zero",
            "loop-prevention-without-per-peer",
            "bad-name",
            "duplicate-host-name",
            "duplicate-address",
            "bad-address",
            "mixed-families",
            "duplicate-host-id",
            "host-id-zero",
            "unknown-network",
            "network-too-small",
            "too-many-bridge-ports",
            "duplicate-network-name",
            "duplicate-bridge",
            "vni-out-of-range",
            "vni-range-overflow",
            "vni-collision",
            "mtu-too-small",
            "mtu-too-large",
            "underlay-mtu-too-small",
            "device-is-bridge",
            "underlay-mtu-too-large",
            "wireguard-without-encryption",
            "missing-public-key",
            "bad-public-key",
            "duplicate-public-key",
            "wireguard-port-zero",
            "wireguard-port-is-vxlan-port",
            "wireguard-prefix-too-small",
            "wireguard-prefix-holds-underlay",
            "wireguard-interface-taken",
            "bad-endpoint",
            "wireguard-key-without-encryption",
            "evpn-without-evpn-mode",
            "route-reflector-without-evpn",
            "evpn-no-route-reflector",
            "evpn-with-encryption",
            "evpn-missing-underlay-prefix",
            "evpn-underlay-prefix-family",
            "evpn-address-outside-underlay-prefix",
            "bad-asn",
            "evpn-hold-time-too-short",
            "evpn-keepalive-not-below-hold-time",
            "evpn-underlay-prefix-too-wide",
            "low-order-public-key",
            "wireguard-prefix-reserved",
        ]
    );
    let parse: Vec<&str> = ParseProblem::ALL.iter().map(|p| p.code()).collect();
    assert_eq!(
        parse,
        [
            "toml-syntax",
            "wrong-type",
            "out-of-range",
            "bad-value",
            "unknown-key",
            "missing-key"
        ]
    );
}

#[test]
fn every_key_the_reader_knows_is_the_key_serialization_writes() {
    // A fully written inventory survives a round trip, and its keys are exactly the reader's.
    let text = "port = 8472\nmode = \"per-peer\"\nloop-prevention = \"ebtables\"\nfirewall = false\n\
                encryption = \"wireguard\"\n\
                [wireguard]\nprefix = \"fd00:6d65:7368::/64\"\nport = 51000\ninterface = \"wg-mesh\"\n\
                [evpn]\nasn = 65001\nunderlay-prefix = \"192.0.2.0/24\"\nallow-wide-underlay-prefix = true\nkeepalive = 10\nhold-time = 30\n\
                [[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\nmtu = 1400\ncontainer-ipv6 = false\n\
                [[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\ndevice = \"eth0\"\nunderlay-mtu = 9000\nid = 3\nnetworks = [\"lan\"]\n\
                public-key = \"yqLoGkczmD/xXZPf6IcZm07lVt+bJFwpIj62fkJt23o=\"\n\
                endpoint = \"198.51.100.7:40000\"\npersistent-keepalive = 25\nroute-reflector = true\n";
    let inv = Inventory::from_toml_str(text).unwrap();
    let written = inv.to_toml_string().unwrap();
    assert_eq!(Inventory::from_toml_str(&written).unwrap(), inv);
    let value: toml::Table = written.parse().unwrap();
    let keys = |t: &toml::Table| t.keys().cloned().collect::<std::collections::BTreeSet<_>>();
    let names = |table: InventoryTable| {
        schema::keys(table)
            .map(|k| k.as_str().to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(keys(&value), names(InventoryTable::Root));
    assert_eq!(
        keys(value["networks"][0].as_table().unwrap()),
        names(InventoryTable::Networks)
    );
    assert_eq!(
        keys(value["hosts"][0].as_table().unwrap()),
        names(InventoryTable::Hosts)
    );
    assert_eq!(
        keys(value["wireguard"].as_table().unwrap()),
        names(InventoryTable::Wireguard)
    );
    assert_eq!(keys(value["evpn"].as_table().unwrap()), names(InventoryTable::Evpn));
}

// ---- evpn mode ----

/// An evpn inventory of `n` hosts in 198.51.100.0/24, the first a route reflector, with
/// `evpn` as the `[evpn]` table's extra lines.
fn evpn(evpn: &str, n: usize) -> String {
    let hosts: Vec<String> = (1..=n)
        .map(|i| {
            let rr = if i == 1 { "route-reflector = true\n" } else { "" };
            format!("[[hosts]]\nname = \"h{i}\"\naddress = \"198.51.100.{i}\"\n{rr}")
        })
        .collect();
    format!(
        "mode = \"evpn\"\n[evpn]\nunderlay-prefix = \"198.51.100.0/24\"\n{evpn}\n{NET}{}",
        hosts.join("\n")
    )
}

#[test]
fn an_evpn_inventory_is_valid_with_defaults() {
    let fleet = valid(&evpn("", 3));
    let settings = fleet.evpn().unwrap();
    assert_eq!(settings.asn, 65000);
    assert_eq!(settings.timers, None);
    assert_eq!(settings.underlay_prefix.to_string(), "198.51.100.0/24");
    let reflectors: Vec<bool> = fleet.hosts().iter().map(|h| h.route_reflector).collect();
    assert_eq!(reflectors, [true, false, false]);
    // Flood mode has no evpn settings.
    assert!(valid(&format!("{NET}{}", hosts(2))).evpn().is_none());
}

#[test]
fn the_asn_must_be_usable_by_bgp() {
    for asn in ["1", "65000", "4294967295"] {
        assert_eq!(
            valid(&evpn(&format!("asn = {asn}"), 2)).evpn().unwrap().asn.to_string(),
            asn
        );
    }
    for asn in [0u32, 23456] {
        let (errs, msg) = errors(&evpn(&format!("asn = {asn}"), 2));
        assert!(
            matches!(errs.as_slice(), [E::BadAsn { asn: a, .. }] if *a == asn),
            "{errs:?}"
        );
        assert!(msg.contains(&format!("`evpn.asn` {asn}")), "{msg}");
        assert_eq!(errs[0].path(), FieldPath::of(Section::Evpn, Key::Asn));
    }
    let (_, code, path) = parse_error(&evpn("asn = 4294967296", 2));
    assert_eq!((code, path.as_deref()), ("out-of-range", Some("evpn.asn")));
}

#[test]
fn bgp_timers_follow_bgp_s_rules() {
    let timers = |extra: &str| {
        valid(&evpn(extra, 2))
            .evpn()
            .unwrap()
            .timers
            .map(|t| (t.keepalive, t.hold_time))
    };
    assert_eq!(timers("keepalive = 3\nhold-time = 9"), Some((3, 9)));
    assert_eq!(timers("keepalive = 0\nhold-time = 0"), Some((0, 0)));
    assert_eq!(timers("hold-time = 0"), Some((0, 0)));
    // One given: the other in BGP's usual ratio, hold time = 3 × keepalive.
    assert_eq!(timers("keepalive = 10"), Some((10, 30)));
    assert_eq!(timers("hold-time = 9"), Some((3, 9)));
    assert_eq!(timers("keepalive = 30000"), Some((30000, 65535)));
    for hold in [1, 2] {
        let (errs, msg) = errors(&evpn(&format!("hold-time = {hold}"), 2));
        assert_eq!(errs, vec![E::EvpnHoldTimeTooShort { hold_time: hold }]);
        assert!(msg.contains(&format!("`evpn.hold-time` {hold}")), "{msg}");
        assert_eq!(errs[0].path(), FieldPath::of(Section::Evpn, Key::HoldTime));
    }
    for (keepalive, hold) in [(30, 30), (40, 30), (5, 0)] {
        let (errs, msg) = errors(&evpn(&format!("keepalive = {keepalive}\nhold-time = {hold}"), 2));
        assert_eq!(
            errs,
            vec![E::EvpnKeepaliveNotBelowHoldTime {
                keepalive,
                hold_time: hold
            }]
        );
        assert!(msg.contains("must be below `evpn.hold-time`"), "{msg}");
        assert_eq!(errs[0].path(), FieldPath::of(Section::Evpn, Key::Keepalive));
    }
}

#[test]
fn evpn_needs_an_underlay_prefix_holding_every_host() {
    let no_prefix = evpn("", 2).replace("underlay-prefix = \"198.51.100.0/24\"\n", "");
    let (errs, msg) = errors(&no_prefix);
    assert_eq!(errs, vec![E::EvpnMissingUnderlayPrefix { table: true }]);
    assert!(msg.contains("`evpn.underlay-prefix` is required"), "{msg}");
    let v6 = evpn("", 2).replace("198.51.100.0/24", "2001:db8::/32");
    let (errs, _) = errors(&v6);
    assert!(
        matches!(errs.as_slice(), [E::EvpnUnderlayPrefixFamily { .. }]),
        "{errs:?}"
    );
    let narrow = evpn("", 3).replace("198.51.100.0/24", "198.51.100.0/31");
    let (errs, msg) = errors(&narrow);
    assert!(
        matches!(
            errs.as_slice(),
            [
                E::EvpnAddressOutsidePrefix { index: 1, .. },
                E::EvpnAddressOutsidePrefix { index: 2, .. }
            ]
        ),
        "{errs:?}"
    );
    assert!(
        msg.contains("host `h3`: `address` `198.51.100.3` lies outside"),
        "{msg}"
    );
    assert_eq!(errs[1].path(), FieldPath::of(Section::Host(2), Key::Address));
    // Without `[evpn]` at all: the same rule, pointing at `mode`, the key that asks for the
    // table (a path into a table the text lacks would have no position).
    let no_table = format!("mode = \"evpn\"\n{NET}[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\nroute-reflector = true\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n");
    let (errs, _) = errors(&no_table);
    assert_eq!(errs, vec![E::EvpnMissingUnderlayPrefix { table: false }]);
    assert_eq!(errs[0].path(), FieldPath::root(Key::Mode));
    let (_, positions) = vxlan_mesh_core::Inventory::from_toml_str_with_positions(&no_table).unwrap();
    assert!(positions.find(&errs[0].path()).is_some(), "`mode` has a position");
}

#[test]
fn a_wide_underlay_prefix_needs_the_explicit_opt_in() {
    // 0.0.0.0/0 holds every host, and would open the route reflectors' iBGP to the internet.
    for (prefix, min_len) in [("0.0.0.0/0", 16), ("198.0.0.0/8", 16), ("198.48.0.0/12", 16)] {
        let wide = evpn("", 2).replace("198.51.100.0/24", prefix);
        let (errs, msg) = errors(&wide);
        assert_eq!(
            errs,
            vec![E::EvpnUnderlayPrefixTooWide {
                prefix: prefix.to_string(),
                min_len
            }]
        );
        assert!(
            msg.contains(&format!("`evpn.underlay-prefix` `{prefix}` is wider than /16")),
            "{msg}"
        );
        assert!(msg.contains("`allow-wide-underlay-prefix = true`"), "{msg}");
        assert_eq!(errs[0].path(), FieldPath::of(Section::Evpn, Key::UnderlayPrefix));
        valid(&wide.replace("[evpn]\n", "[evpn]\nallow-wide-underlay-prefix = true\n"));
    }
    // The limits themselves are accepted; `false` is no opt-in.
    valid(&evpn("", 2).replace("198.51.100.0/24", "198.51.0.0/16"));
    let no = evpn("", 2)
        .replace("198.51.100.0/24", "0.0.0.0/0")
        .replace("[evpn]\n", "[evpn]\nallow-wide-underlay-prefix = false\n");
    assert!(matches!(
        errors(&no).0.as_slice(),
        [E::EvpnUnderlayPrefixTooWide { .. }]
    ));
    let v6 = evpn("", 2)
        .replace("198.51.100.0/24", "2001:db8::/32")
        .replace("198.51.100.", "2001:db8::");
    let (errs, msg) = errors(&v6);
    assert!(
        matches!(errs.as_slice(), [E::EvpnUnderlayPrefixTooWide { min_len: 48, .. }]),
        "{errs:?}"
    );
    assert!(msg.contains("is wider than /48"), "{msg}");
    valid(&v6.replace("2001:db8::/32", "2001:db8::/48"));
}

#[test]
fn evpn_needs_a_route_reflector_and_refuses_encryption() {
    let (errs, msg) = errors(&evpn("", 2).replace("route-reflector = true\n", ""));
    assert_eq!(errs, vec![E::EvpnNoRouteReflector]);
    assert!(msg.contains("`route-reflector = true`"), "{msg}");
    assert_eq!(errs[0].path(), FieldPath::root(Key::Hosts));
    let rr_false = evpn("", 2).replace("route-reflector = true", "route-reflector = false");
    assert_eq!(errors(&rr_false).0, vec![E::EvpnNoRouteReflector]);
    let encrypted = evpn("", 2).replace("mode = \"evpn\"", "mode = \"evpn\"\nencryption = \"wireguard\"");
    let (errs, msg) = errors(&encrypted);
    assert!(errs.contains(&E::EvpnWithEncryption), "{errs:?}");
    assert!(
        msg.contains("`encryption`") && msg.contains("cannot be combined with `mode = \"evpn\"`"),
        "{msg}"
    );
}

#[test]
fn evpn_keys_outside_evpn_mode_are_refused() {
    let flood = evpn("", 2).replace("mode = \"evpn\"\n", "");
    let (errs, msg) = errors(&flood);
    assert_eq!(
        errs,
        vec![
            E::EvpnWithoutEvpnMode,
            E::RouteReflectorWithoutEvpn {
                host: "h1".into(),
                index: 0
            }
        ]
    );
    assert!(msg.contains("`evpn`: only applies to `mode = \"evpn\"`"), "{msg}");
    assert_eq!(errs[1].path(), FieldPath::of(Section::Host(0), Key::RouteReflector));
    // And per-peer mode's key in evpn mode.
    let (errs, _) = errors(&format!("loop-prevention = \"isolation\"\n{}", evpn("", 2)));
    assert_eq!(errs, vec![E::LoopPreventionWithoutPerPeer]);
    let (_, code, path) = parse_error(&evpn("prefix = \"198.51.100.0/24\"", 2));
    assert_eq!((code, path.as_deref()), ("unknown-key", Some("evpn")));
}

// ---- error chains ----

/// The messages of `err` and its chain of sources, outermost first.
fn chain(err: &dyn std::error::Error) -> Vec<String> {
    let mut out = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push(e.to_string());
        cur = e.source();
    }
    out
}

#[test]
fn error_chains_print_each_cause_once() {
    let two = format!("{NET}{}", hosts(2));
    let errors = [
        vxlan_mesh_core::plan_host_from_toml("port = ", "h1").unwrap_err(),
        vxlan_mesh_core::plan_host_from_toml("port = \"x\"", "h1").unwrap_err(),
        vxlan_mesh_core::plan_host_from_toml(&format!("port = 0\n{two}"), "h1").unwrap_err(),
        vxlan_mesh_core::plan_host_from_toml(&two, "zz").unwrap_err(),
    ];
    for err in &errors {
        let messages = chain(err);
        // What `{:#}` (anyhow) or a `caused by:` list prints: no message repeats its cause.
        for pair in messages.windows(2) {
            assert!(
                !pair[0].contains(&pair[1]),
                "{err:?} prints its cause twice: {messages:?}"
            );
        }
        let shown = messages.join(": ");
        for m in &messages {
            assert_eq!(shown.matches(m.as_str()).count(), 1, "{shown}");
        }
    }
    // The message itself says what is wrong, with the position for parse errors.
    assert_eq!(
        errors[1].to_string(),
        "line 1, column 8: `port` must be an integer, got the string \"x\""
    );
    assert!(errors[2].to_string().contains("`port`: 0 is not a usable UDP port"));
}
