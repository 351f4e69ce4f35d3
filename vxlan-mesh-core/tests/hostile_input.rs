//! Hostile inventories: every field that reaches a shell script, a file name or a netlink
//! message is checked, and each rule shows the operator the exact message it prints.
//!
//! Each test feeds one hostile value into an otherwise valid two-host inventory and asserts
//! the complete list of messages, so a rule that stops firing (or fires twice) fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use vxlan_mesh_core::{Error, Inventory, ValidationErrors};

const NET: &str = "[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n";

/// A valid fleet whose first host is written by the test (`fields` holds its keys) and whose
/// second host is `b` at 192.0.2.2.
fn with_host_a(fields: &str) -> String {
    format!("{NET}\n[[hosts]]\n{fields}\n\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n")
}

/// A valid fleet of hosts `a` and `b` whose network is written by the test.
fn with_network(fields: &str) -> String {
    format!(
        "[[networks]]\n{fields}\n\n[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n"
    )
}

/// The validation messages, one per broken rule, as `check` prints them after `  - `.
fn rejected(text: &str) -> Vec<String> {
    let inv = Inventory::from_toml_str(text).unwrap_or_else(|e| panic!("parses: {e}\n{text}"));
    let errors: ValidationErrors = inv.validate().expect_err("must be rejected");
    errors.iter().map(ToString::to_string).collect()
}

/// The parse error as `check` prints it after the file name: `LINE:COL: message`.
fn unparsable(text: &str) -> String {
    let e = Inventory::from_toml_str(text).expect_err("must not parse");
    format!("{}:{}: {}", e.line.unwrap_or(0), e.column.unwrap_or(0), e.message)
}

fn host_name(toml_string: &str) -> Vec<String> {
    rejected(&with_host_a(&format!("name = {toml_string}\naddress = \"192.0.2.1\"")))
}

const ALLOWED: &str = "only letters, digits, `_`, `.` and `-` are allowed";

// ---- names: shell metacharacters, newlines, slashes, dots, length, unicode, dashes ----

#[test]
fn shell_metacharacters_in_a_host_name() {
    assert_eq!(
        host_name("\"a;rm -rf /\""),
        [format!("`hosts[0].name` = `a;rm -rf /`: it contains ';'; {ALLOWED}")]
    );
    assert_eq!(
        host_name("\"$(reboot)\""),
        [format!("`hosts[0].name` = `$(reboot)`: it contains '$'; {ALLOWED}")]
    );
    assert_eq!(
        host_name("\"`id`\""),
        [format!("`hosts[0].name` = ``id``: it contains '`'; {ALLOWED}")]
    );
    assert_eq!(
        host_name("\"a b\""),
        [format!("`hosts[0].name` = `a b`: it contains ' '; {ALLOWED}")]
    );
    assert_eq!(
        host_name("\"a'b\""),
        [format!("`hosts[0].name` = `a\\'b`: it contains '\\''; {ALLOWED}")]
    );
}

#[test]
fn newlines_and_control_characters_are_rejected_and_shown_escaped() {
    // The value is shown escaped, so a newline cannot forge a line of `check`'s output.
    assert_eq!(
        host_name("\"a\\nb\""),
        [format!("`hosts[0].name` = `a\\nb`: it contains '\\n'; {ALLOWED}")]
    );
    assert_eq!(
        host_name("\"a\\u0000b\""),
        [format!("`hosts[0].name` = `a\\0b`: it contains '\\0'; {ALLOWED}")]
    );
    assert_eq!(
        host_name("\"a\\u001b[2Jb\""),
        [format!(
            "`hosts[0].name` = `a\\u{{1b}}[2Jb`: it contains '\\u{{1b}}'; {ALLOWED}"
        )]
    );
}

#[test]
fn slashes_and_dot_names_cannot_make_paths() {
    assert_eq!(
        host_name("\"../etc\""),
        [format!("`hosts[0].name` = `../etc`: it contains '/'; {ALLOWED}")]
    );
    assert_eq!(
        host_name("\"..\""),
        ["`hosts[0].name` = `..`: `.` and `..` are not names"]
    );
    assert_eq!(
        host_name("\".\""),
        ["`hosts[0].name` = `.`: `.` and `..` are not names"]
    );
    assert_eq!(
        rejected(&with_network("name = \"a/b\"\nvni = 100\nbridge = \"vxbr0\"")),
        [format!("`networks[0].name` = `a/b`: it contains '/'; {ALLOWED}")]
    );
}

#[test]
fn interface_names_over_15_bytes() {
    assert_eq!(
        rejected(&with_network(
            "name = \"lan\"\nvni = 100\nbridge = \"abcdefghijklmnop\""
        )),
        ["`networks[0].bridge` = `abcdefghijklmnop`: it is 16 bytes long, more than the 15 allowed"]
    );
    assert_eq!(
        rejected(&with_host_a(
            "name = \"a\"\naddress = \"192.0.2.1\"\ndevice = \"enp0s31f6.100000\""
        )),
        ["`hosts[0].device` = `enp0s31f6.100000`: it is 16 bytes long, more than the 15 allowed"]
    );
    // 15 bytes is the limit, and fits.
    let ok = with_network("name = \"lan\"\nvni = 100\nbridge = \"abcdefghijklmno\"");
    assert!(Inventory::from_toml_str(&ok).unwrap().validate().is_ok());
}

#[test]
fn host_and_network_names_over_63_bytes() {
    let long = "h".repeat(64);
    assert_eq!(
        host_name(&format!("\"{long}\"")),
        [format!(
            "`hosts[0].name` = `{long}`: it is 64 bytes long, more than the 63 allowed"
        )]
    );
}

#[test]
fn unicode_is_rejected_even_when_it_looks_like_ascii() {
    assert_eq!(
        host_name("\"lxd1é\""),
        [format!("`hosts[0].name` = `lxd1é`: it contains 'é'; {ALLOWED}")]
    );
    // Fullwidth letters and a right-to-left override (which would reorder the terminal line).
    assert_eq!(
        host_name("\"ｌxd\""),
        [format!("`hosts[0].name` = `ｌxd`: it contains 'ｌ'; {ALLOWED}")]
    );
    assert_eq!(
        host_name("\"a\\u202Eb\""),
        [format!(
            "`hosts[0].name` = `a\\u{{202e}}b`: it contains '\\u{{202e}}'; {ALLOWED}"
        )]
    );
    // Multi-byte characters are reported as characters before any byte-length check.
    assert_eq!(
        rejected(&with_network("name = \"lan\"\nvni = 100\nbridge = \"ééééééééé\"")),
        [format!(
            "`networks[0].bridge` = `ééééééééé`: it contains 'é'; {ALLOWED}"
        )]
    );
}

#[test]
fn leading_dash_and_empty_names() {
    assert_eq!(
        host_name("\"-rf\""),
        ["`hosts[0].name` = `-rf`: it starts with `-`, which commands would read as an option"]
    );
    assert_eq!(
        rejected(&with_host_a(
            "name = \"a\"\naddress = \"192.0.2.1\"\ndevice = \"-eth0\""
        )),
        ["`hosts[0].device` = `-eth0`: it starts with `-`, which commands would read as an option"]
    );
    assert_eq!(
        rejected(&with_network("name = \"\"\nvni = 100\nbridge = \"vxbr0\"")),
        ["`networks[0].name` = ``: it is empty"]
    );
}

#[test]
fn names_in_host_network_lists_are_shown_escaped() {
    assert_eq!(
        rejected(&with_host_a(
            "name = \"a\"\naddress = \"192.0.2.1\"\nnetworks = [\"lan\", \"x\\ny\"]"
        )),
        ["host `a`: `networks` names `x\\ny`, which is not a network of the inventory"]
    );
}

#[test]
fn the_vxlan_device_prefix_is_reserved_for_bridges_and_underlay_devices() {
    assert_eq!(
        rejected(&with_network("name = \"lan\"\nvni = 100\nbridge = \"vxm100\"")),
        ["`networks[0].bridge` = `vxm100`: the prefix `vxm` is reserved for the VXLAN devices vxlan-mesh creates"]
    );
    assert_eq!(
        rejected(&with_host_a(
            "name = \"a\"\naddress = \"192.0.2.1\"\ndevice = \"vxm100\""
        )),
        ["`hosts[0].device` = `vxm100`: the prefix `vxm` is reserved for the VXLAN devices vxlan-mesh creates"]
    );
}

#[test]
fn the_underlay_device_cannot_be_an_overlay_bridge() {
    assert_eq!(
        rejected(&with_host_a("name = \"a\"\naddress = \"192.0.2.1\"\ndevice = \"vxbr0\"")),
        ["host `a`: `device` `vxbr0` is the bridge of network `lan`; tunnels cannot run over the overlay they carry (name the underlay device, e.g. `eth0`)"]
    );
}

// ---- addresses ----

fn address(addr: &str) -> Vec<String> {
    rejected(&with_host_a(&format!("name = \"a\"\naddress = \"{addr}\"")))
}

#[test]
fn addresses_that_cannot_be_tunnel_endpoints() {
    let cases = [
        ("0.0.0.0", "it is the unspecified address"),
        (
            "224.0.0.1",
            "it is a multicast address; unicast VXLAN needs each host's own address",
        ),
        ("127.0.0.1", "it is a loopback address, unreachable from other hosts"),
        ("255.255.255.255", "it is the broadcast address"),
    ];
    for (addr, reason) in cases {
        assert_eq!(
            address(addr),
            [format!(
                "host `a`: `address` `{addr}` cannot be a tunnel endpoint: {reason}"
            )]
        );
    }
}

#[test]
fn ipv6_addresses_that_cannot_be_tunnel_endpoints() {
    let v6 = |addr: &str| {
        let text = format!(
            "{NET}[[hosts]]\nname = \"a\"\naddress = \"{addr}\"\n[[hosts]]\nname = \"b\"\naddress = \"2001:db8::2\"\n"
        );
        rejected(&text)
    };
    let cases = [
        ("::", "it is the unspecified address"),
        ("ff02::1", "it is a multicast address; unicast VXLAN needs each host's own address"),
        ("::1", "it is a loopback address, unreachable from other hosts"),
        ("fe80::1", "it is an IPv6 link-local address, usable only with an interface scope; use a global or unique-local address"),
    ];
    for (addr, reason) in cases {
        assert_eq!(
            v6(addr),
            [format!(
                "host `a`: `address` `{addr}` cannot be a tunnel endpoint: {reason}"
            )]
        );
    }
    // An IPv4-mapped address is an IPv4 endpoint in disguise: nft's `ip6 saddr` would never
    // match its traffic.
    assert_eq!(
        v6("::ffff:192.0.2.1"),
        ["host `a`: `address` `::ffff:192.0.2.1` cannot be a tunnel endpoint: it is an IPv4-mapped IPv6 address; write the IPv4 address itself"]
    );
}

#[test]
fn addresses_are_parsed_never_passed_through() {
    // Shell text, a scope id and an integer are errors pointing at the value, naming what an
    // address must look like.
    const MUST: &str = "`hosts[0].address` must be an IPv4 or IPv6 address in quotes, such as \"192.0.2.1\" or \"2001:db8::1\" (no prefix length or zone)";
    for bad in ["192.0.2.1; reboot", "2001:db8::1%eth0", "192.0.2.1/24", " 192.0.2.1"] {
        assert_eq!(
            unparsable(&with_host_a(&format!("name = \"a\"\naddress = \"{bad}\""))),
            format!("8:11: {MUST}, got the string \"{bad}\""),
            "{bad}"
        );
    }
    assert_eq!(
        unparsable(&with_host_a("name = \"a\"\naddress = 3221225985")),
        format!("8:11: {MUST}, got the integer 3221225985")
    );
}

#[test]
fn mixed_and_duplicate_addresses() {
    assert_eq!(
        address("2001:db8::1"),
        ["host `b`: `address` `192.0.2.2` is IPv4, but host `a` has an IPv6 address; a mesh's underlay must be all IPv4 or all IPv6"]
    );
    assert_eq!(
        address("192.0.2.2"),
        ["host `b`: `address` `192.0.2.2` is already the address of host `a`"]
    );
}

// ---- huge numbers ----

#[test]
fn numbers_beyond_their_type_are_syntax_errors() {
    assert_eq!(
        unparsable(&format!("port = 70000\n{NET}")),
        "1:8: `port` must be an integer from 0 to 65535, got 70000"
    );
    assert_eq!(
        unparsable(&format!("port = -1\n{NET}")),
        "1:8: `port` must be an integer from 0 to 65535, got -1"
    );
    assert_eq!(
        unparsable(&format!("port = 99999999999999999999\n{NET}")),
        "1:8: `port` must be an integer from 0 to 65535, got 99999999999999999999"
    );
    assert_eq!(
        unparsable(&format!("port = 4.789e3\n{NET}")),
        "1:8: `port` must be an integer, got the float 4.789e3"
    );
    assert_eq!(
        unparsable(&with_network("name = \"lan\"\nvni = 99999999999\nbridge = \"vxbr0\"")),
        "3:7: `networks[0].vni` must be an integer from 0 to 4294967295, got 99999999999"
    );
}

#[test]
fn numbers_that_fit_their_type_but_not_the_kernel() {
    assert_eq!(
        rejected(&format!(
            "port = 0\n{}",
            with_host_a("name = \"a\"\naddress = \"192.0.2.1\"")
        )),
        ["`port`: 0 is not a usable UDP port (use 1..65535, usually 4789)"]
    );
    assert_eq!(
        rejected(&with_network("name = \"lan\"\nvni = 16777216\nbridge = \"vxbr0\"")),
        ["network `lan`: `vni` 16777216 is outside the valid range 1..=16777215"]
    );
    assert_eq!(
        rejected(&with_network("name = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\nmtu = 4294967295")),
        ["network `lan`: `mtu` 4294967295 is above the maximum 1450: host `a` has `underlay-mtu` 1500 and VXLAN over IPv4 adds 50 bytes"]
    );
    assert_eq!(
        rejected(&with_host_a(
            "name = \"a\"\naddress = \"192.0.2.1\"\nunderlay-mtu = 4294967295"
        )),
        ["host `a`: `underlay-mtu` 4294967295 is above the maximum 65535"]
    );
    // The largest host id makes the per-peer VNI range overflow, computed without wrapping.
    assert_eq!(
        rejected(&format!(
            "mode = \"per-peer\"\n{}",
            with_host_a("name = \"a\"\naddress = \"192.0.2.1\"\nid = 4294967295")
        )),
        ["network `lan`: `vni` 100 leaves no room for the per-peer VNI range: 9223372030412324865 links (host ids up to 4294967295) need VNIs 100..=9223372030412324964, beyond the maximum 16777215"]
    );
}

// ---- duplicate and unknown keys ----

#[test]
fn duplicate_keys_are_syntax_errors_at_the_second_key() {
    assert_eq!(
        unparsable(&format!("port = 4789\nport = 8472\n{NET}")),
        "2:1: duplicate key"
    );
    assert_eq!(
        unparsable(&with_host_a("name = \"a\"\nname = \"evil\"\naddress = \"192.0.2.1\"")),
        "8:1: duplicate key"
    );
}

#[test]
fn duplicate_names_bridges_and_ids_are_validation_errors() {
    assert_eq!(
        host_name("\"b\""),
        ["`hosts[1].name`: `b` is already the name of `hosts[0]`"]
    );
    let two_nets = format!("{NET}\n[[networks]]\nname = \"lan\"\nvni = 200\nbridge = \"vxbr0\"\n");
    assert_eq!(
        rejected(&format!(
            "{two_nets}\n[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n"
        )),
        [
            "`networks[1].name`: `lan` is already the name of `networks[0]`",
            "network `lan`: `bridge` `vxbr0` is already the bridge of network `lan`",
        ]
    );
    assert_eq!(
        rejected(&format!(
            "{NET}[[hosts]]\nname = \"a\"\nid = 7\naddress = \"192.0.2.1\"\n[[hosts]]\nname = \"b\"\nid = 7\naddress = \"192.0.2.2\"\n"
        )),
        ["host `b`: `id` 7 is already the id of host `a`"]
    );
}

#[test]
fn unknown_keys_are_rejected_where_they_stand() {
    assert_eq!(
        unparsable(&format!("prot = 4789\n{NET}")),
        "1:1: unknown key `prot` (did you mean `port`?); the allowed keys are `port`, `mode`, `loop-prevention`, `firewall`, `encryption`, `wireguard`, `evpn`, `networks`, `hosts`"
    );
    assert_eq!(
        unparsable(&with_network("name = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\nvlan = 5")),
        "5:1: unknown key `vlan` in `networks[0]`; the allowed keys are `name`, `vni`, `bridge`, `mtu`, `container-ipv6`"
    );
    assert_eq!(
        unparsable(&with_host_a("name = \"a\"\nadress = \"192.0.2.1\"")),
        "8:1: unknown key `adress` in `hosts[0]` (did you mean `address`?); the allowed keys are `name`, `address`, `device`, `underlay-mtu`, `id`, `networks`, `public-key`, `endpoint`, `persistent-keepalive`, `route-reflector`"
    );
}

#[test]
fn quoted_inventory_text_in_syntax_errors_cannot_forge_lines() {
    // Keys and values are quoted as written; control characters come out escaped.
    assert_eq!(
        unparsable(&format!("\"x\\nerror: forged\" = 1\n{NET}")),
        "1:1: unknown key `x\\nerror: forged`; the allowed keys are `port`, `mode`, `loop-prevention`, `firewall`, `encryption`, `wireguard`, `evpn`, `networks`, `hosts`"
    );
    assert_eq!(
        unparsable(&format!("mode = \"x\\u001b[2J\\u202E\"\n{NET}")),
        "1:8: `mode` must be one of `flood`, `per-peer`, `evpn`, got the string \"x\\u{1b}[2J\\u{202e}\""
    );
    // A long value is shortened.
    let long = "x".repeat(500);
    assert_eq!(
        unparsable(&format!("mode = \"{long}\"\n{NET}")),
        format!(
            "1:8: `mode` must be one of `flood`, `per-peer`, `evpn`, got the string \"{}…\"",
            &long[..64]
        )
    );
}

#[test]
fn unknown_host_requests_are_shown_escaped() {
    let text = with_host_a("name = \"a\"\naddress = \"192.0.2.1\"");
    let err = vxlan_mesh_core::plan_host_from_toml(&text, "x\ny").unwrap_err();
    assert!(matches!(err, Error::Plan(_)));
    assert_eq!(err.to_string(), "no host named `x\\ny` in the inventory (hosts: a, b)");
}

#[test]
fn every_error_of_a_thoroughly_hostile_inventory_is_one_line() {
    // All of the above at once: `check` prints one line per rule, never more.
    let text = "port = 0\nmode = \"per-peer\"\n[[networks]]\nname = \"l\\nan\"\nvni = 0\nbridge = \"vxm\\r\"\n\
                [[hosts]]\nname = \"a\\u2028b\"\naddress = \"fe80::1\"\ndevice = \"-x\"\nid = 0\n\
                [[hosts]]\nname = \"..\"\naddress = \"192.0.2.1\"\nnetworks = [\"\\u0007\"]\n";
    let msgs = rejected(text);
    assert!(msgs.len() >= 8, "{msgs:#?}");
    for m in &msgs {
        assert!(!m.chars().any(char::is_control), "{m:?}");
    }
}
