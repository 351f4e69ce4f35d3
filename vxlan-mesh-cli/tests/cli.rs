//! The `vxlan-mesh` binary as an operator runs it: every command's success and error paths.
//!
//! Outputs are compared with insta snapshots (inline, and files under `tests/snapshots/`;
//! regenerate with `INSTA_UPDATE=always cargo test -p vxlan-mesh-cli --test cli` or
//! `cargo insta review`, and review the diff).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command as StdCommand;

use common::{root, vxm, Assert as _, Netns, Ran, Scratch, BIN};

/// Stdout of `vxlan-mesh ARGS…`, which must succeed.
fn stdout_of(args: &[&str]) -> String {
    vxm().args(args).assert().success().stdout()
}

/// `vxlan-mesh ARGS…`, checked to fail with exit code 1.
fn fails(args: &[&str]) -> Ran {
    vxm().args(args).assert().code(1)
}

fn tempdir(tag: &str) -> Scratch {
    Scratch::new(tag)
}

// ---------------------------------------------------------------- global options

#[test]
fn help_documents_exit_codes_and_every_command() {
    let help = stdout_of(&["--help"]);
    for needle in [
        "0  ok",
        "1  error",
        "2  drift",
        "check",
        "plan",
        "graph",
        "completions",
        "man",
        "--inventory",
        "VXLAN_MESH_INVENTORY",
    ] {
        assert!(help.contains(needle), "`--help` lacks {needle:?}:\n{help}");
    }
}

#[test]
fn version_prints_the_crate_version() {
    vxm()
        .arg("--version")
        .assert()
        .success()
        .stdout_eq(format!("vxlan-mesh {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn unknown_command_and_option_are_usage_errors() {
    // Exit 1, not clap's usual 2: 2 means drift, and a typo must never look like drift.
    vxm().arg("frobnicate").assert().code(1);
    fails(&["plan", "--hots", "a"]);
}

#[test]
fn default_inventory_is_vxlan_mesh_toml_in_the_current_directory() {
    let dir = tempdir("default-inv");
    let ran = vxm().current_dir(&dir).arg("check").assert().code(1);
    insta::assert_snapshot!(ran.stderr(), @r#"
error: vxlan-mesh.toml: cannot read inventory: No such file or directory (os error 2)
"#);
    std::fs::copy(root().join("examples/classic-geo.toml"), dir.join("vxlan-mesh.toml")).unwrap();
    let ran = vxm().current_dir(&dir).arg("check").assert().success();
    insta::assert_snapshot!(ran.stdout(), @r#"
vxlan-mesh.toml: valid (4 hosts, flood mode; lan mtu 1450)
"#);
}

#[test]
fn inventory_comes_from_the_environment_and_the_option_wins() {
    let ran = vxm()
        .env("VXLAN_MESH_INVENTORY", "examples/hetzner.toml")
        .arg("check")
        .assert()
        .success();
    insta::assert_snapshot!(ran.stdout(), @r#"
examples/hetzner.toml: valid (4 hosts, per-peer mode; lan mtu 1450)
"#);
    let ran = vxm()
        .env("VXLAN_MESH_INVENTORY", "examples/hetzner.toml")
        .args(["-i", "examples/classic-geo.toml", "check"])
        .assert()
        .success();
    insta::assert_snapshot!(ran.stdout(), @r#"
examples/classic-geo.toml: valid (4 hosts, flood mode; lan mtu 1450)
"#);
}

#[test]
fn quiet_check_prints_nothing_on_success_and_conflicts_with_verbose() {
    vxm()
        .args(["-q", "-i", "examples/hetzner.toml", "check"])
        .assert()
        .success()
        .stdout_eq("")
        .stderr_eq("");
    fails(&["-q", "-v", "check"]);
}

// ---------------------------------------------------------------- check

#[test]
fn check_json_of_a_valid_inventory() {
    insta::assert_snapshot!(
        "check-geo",
        stdout_of(&["-i", "examples/classic-geo.toml", "check", "--format", "json"])
    );
}

#[test]
fn check_reports_every_broken_rule_at_once_in_file_order() {
    let dir = tempdir("many");
    let path = dir.join("many.toml");
    std::fs::write(
        &path,
        "port = 0\n[[networks]]\nname = \"lan\"\nvni = 0\nbridge = \"vxm1\"\n\n[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\nid = 0\n",
    )
    .unwrap();
    let ran = vxm()
        .current_dir(&dir)
        .args(["-i", "many.toml", "check"])
        .assert()
        .code(1);
    insta::assert_snapshot!(ran.stderr(), @r#"
error: many.toml: invalid inventory (6 problems)
many.toml:1:8: `port`: 0 is not a usable UDP port (use 1..65535, usually 4789)
many.toml:4:7: network `lan`: `vni` 0 is outside the valid range 1..=16777215
many.toml:5:10: `networks[0].bridge` = `vxm1`: the prefix `vxm` is reserved for the VXLAN devices vxlan-mesh creates
many.toml:11:8: `hosts[1].name`: `a` is already the name of `hosts[0]`
many.toml:12:11: host `a`: `address` `192.0.2.1` is already the address of host `a`
many.toml:13:6: host `a`: `id` must be at least 1, found 0
"#);
}

#[test]
fn plan_verbose_adds_peers_firewall_and_ownership_marks() {
    let text = stdout_of(&["-v", "-i", "examples/hetzner.toml", "plan", "--host", "lxd1"]);
    let details = text.split("\npeers:\n").nth(1).expect("no peers section");
    assert_eq!(
        details,
        "  lxd2             id 2      198.51.100.2
  lxd3             id 3      198.51.100.3
  lxd4             id 4      198.51.100.4
firewall allow-list (UDP 4789): 198.51.100.2 198.51.100.3 198.51.100.4
ownership marks (interface alias):
  vxbr0        vxlan-mesh:lan
  vxm1000      vxlan-mesh:lan:lxd2
  vxm1001      vxlan-mesh:lan:lxd3
  vxm1003      vxlan-mesh:lan:lxd4
"
    );
}

#[test]
fn plan_verbose_of_an_encrypted_mesh_lists_endpoints_and_marks_the_wireguard_interface() {
    let text = stdout_of(&["-v", "-i", "docs/encrypted.toml", "plan", "--host", "lxd1"]);
    let details = text.split("\nfirewall allow-list").nth(1).expect("no allow-list");
    assert_eq!(
        details,
        " (UDP 51820): 192.0.2.4 198.51.100.2 198.51.100.3 198.51.100.40
ownership marks (interface alias):
  vxmwg0       vxlan-mesh::wireguard
  vxbr0        vxlan-mesh:lan
  vxm100       vxlan-mesh:lan
"
    );
}

#[test]
fn check_verbose_lists_networks_and_hosts() {
    insta::assert_snapshot!(stdout_of(&["-v", "-i", "examples/hetzner.toml", "check"]), @r#"
examples/hetzner.toml: valid (4 hosts, per-peer mode; lan mtu 1450)
  network lan: bridge vxbr0, VNI 1000..1005, container MTU 1450 (max 1450), 4 hosts
  host lxd1 (id 1): 198.51.100.1, underlay MTU 1500
  host lxd2 (id 2): 198.51.100.2, underlay MTU 1500
  host lxd3 (id 3): 198.51.100.3, underlay MTU 1500
  host lxd4 (id 4): 198.51.100.4, underlay MTU 1500
"#);
}

// ---------------------------------------------------------------- plan

#[test]
fn plan_text_of_both_examples() {
    for (name, inventory, host) in [
        ("plan-geo-lxd1", "examples/classic-geo.toml", "lxd1"),
        ("plan-hetzner-lxd3", "examples/hetzner.toml", "lxd3"),
    ] {
        insta::assert_snapshot!(name, stdout_of(&["-i", inventory, "plan", "--host", host]));
    }
}

#[test]
fn plan_json_is_the_documented_contract() {
    insta::assert_snapshot!(
        "plan-hetzner-lxd1-json",
        stdout_of(&[
            "-i",
            "examples/hetzner.toml",
            "plan",
            "--host",
            "lxd1",
            "--format",
            "json",
        ])
    );
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "-i",
        "examples/classic-geo.toml",
        "plan",
        "--host",
        "lxd2",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(v["schema"], 3);
    assert_eq!(v["host"], "lxd2");
    assert_eq!(v["networks"][0]["mtu"], 1450);
    // Every field docs/plan-json.md documents is there (the doc test checks the reverse).
    for key in documented_plan_fields() {
        assert!(v.get(&key).is_some(), "plan JSON lacks documented field `{key}`");
    }
}

/// Top-level field names from the table in docs/plan-json.md (`| \`name\` | ...`).
fn documented_plan_fields() -> Vec<String> {
    let doc = std::fs::read_to_string(root().join("docs/plan-json.md")).unwrap();
    let section = doc.split("## Top level").nth(1).unwrap().split("\n## ").next().unwrap();
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn plan_json_has_exactly_the_documented_top_level_fields() {
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "-i",
        "examples/hetzner.toml",
        "plan",
        "--host",
        "lxd1",
        "--format",
        "json",
    ]))
    .unwrap();
    let mut have: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    have.sort();
    let mut documented = documented_plan_fields();
    documented.sort();
    assert_eq!(have, documented, "docs/plan-json.md and the plan's JSON disagree");
}

#[test]
fn plan_all_prints_every_host() {
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "-i",
        "examples/hetzner.toml",
        "plan",
        "--all",
        "--format",
        "json",
    ]))
    .unwrap();
    let hosts: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["lxd1", "lxd2", "lxd3", "lxd4"]);
    let text = stdout_of(&["-i", "examples/hetzner.toml", "plan", "--all"]);
    assert_eq!(
        text.matches("\nhost ").count() + usize::from(text.starts_with("host ")),
        4
    );
    fails(&["-i", "examples/hetzner.toml", "plan", "--all", "--host", "lxd1"]);
}

#[test]
fn plan_of_an_unknown_host_names_the_known_ones() {
    let ran = fails(&["-i", "examples/hetzner.toml", "plan", "--host", "lxd9"]).stdout_eq("");
    insta::assert_snapshot!(ran.stderr(), @r#"
error: no host named `lxd9` in the inventory (hosts: lxd1, lxd2, lxd3, lxd4)
"#);
}

#[test]
fn plan_of_an_invalid_inventory_fails_like_check() {
    insta::assert_snapshot!(fails(&["-i", "vxlan-mesh-cli/tests/bad/port-zero.toml", "plan", "--host", "a"]).stderr(), @r#"
error: vxlan-mesh-cli/tests/bad/port-zero.toml: invalid inventory (1 problem)
vxlan-mesh-cli/tests/bad/port-zero.toml:3:8: `port`: 0 is not a usable UDP port (use 1..65535, usually 4789)
"#);
}

#[test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs root: run with --features e2e")]
fn plan_without_host_uses_the_locally_assigned_address() {
    // A namespace of our own holds the underlay addresses; nothing in the root namespace
    // is touched. Needs root (CI is root): fail loudly otherwise.
    let ns = Netns::new("vxmcli");
    // No address of the inventory here: a clear error.
    let out = ns.vxm().args(["-i", "examples/hetzner.toml", "plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no host of the inventory has an underlay address assigned on this machine (hosts: lxd1 (198.51.100.1), lxd2 (198.51.100.2), lxd3 (198.51.100.3), lxd4 (198.51.100.4)); pass --host NAME\n"
    );
    ns.sh("ip addr add 198.51.100.3/24 dev lo");
    let out = ns
        .vxm()
        .args(["-i", "examples/hetzner.toml", "plan", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["host"], "lxd3");
    // Two hosts' addresses on one machine: ambiguous, named in the error.
    ns.sh("ip addr add 198.51.100.1/32 dev lo");
    let out = ns.vxm().args(["-i", "examples/hetzner.toml", "plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: several hosts of the inventory have addresses on this machine (lxd1, lxd3); pass --host NAME\n"
    );
    // IPv6 addresses are found too.
    let ns6 = Netns::new("vxmcli6");
    let dir = tempdir("v6");
    std::fs::write(
        dir.join("v6.toml"),
        "[[networks]]\nname = \"lan\"\nvni = 7\nbridge = \"vxbr0\"\n[[hosts]]\nname = \"a\"\naddress = \"2001:db8::1\"\n[[hosts]]\nname = \"b\"\naddress = \"2001:db8::2\"\n",
    )
    .unwrap();
    ns6.sh("ip link set lo up");
    ns6.sh("ip addr add 2001:db8::2/64 dev lo nodad");
    let out = ns6
        .vxm()
        .args(["-i", dir.join("v6.toml").to_str().unwrap(), "plan", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["host"], "b");
}

// ---------------------------------------------------------------- graph

#[test]
fn graph_mermaid_and_dot_of_both_examples() {
    for (name, inventory, format) in [
        ("graph-hetzner-mermaid", "examples/hetzner.toml", None),
        ("graph-geo-mermaid", "examples/classic-geo.toml", Some("mermaid")),
        ("graph-hetzner-dot", "examples/hetzner.toml", Some("dot")),
    ] {
        let mut args = vec!["-i", inventory, "graph"];
        args.extend(format.map(|f| ["--format", f]).into_iter().flatten());
        insta::assert_snapshot!(name, stdout_of(&args));
    }
}

#[test]
fn graph_dot_is_accepted_by_graphviz() {
    for inv in ["examples/hetzner.toml", "examples/classic-geo.toml"] {
        let text = stdout_of(&["-i", inv, "graph", "--format", "dot"]);
        let mut child = StdCommand::new("dot")
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("graphviz `dot` is needed (apt-get install graphviz; .ci/run installs it)");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{inv}: {}", String::from_utf8_lossy(&out.stderr));
        let svg = String::from_utf8(out.stdout).unwrap();
        // Every host and its address made it into the picture.
        for (host, addr) in [("lxd1", ".1"), ("lxd4", ".4")] {
            assert!(
                svg.contains(host) && svg.contains(addr),
                "{inv}: {host} missing from the SVG"
            );
        }
    }
}

#[test]
fn graph_of_an_invalid_inventory_fails() {
    fails(&["-i", "vxlan-mesh-cli/tests/bad/mixed-families.toml", "graph"]).stdout_eq("");
    fails(&["-i", "examples/hetzner.toml", "graph", "--format", "png"]);
}

// ---------------------------------------------------------------- render

#[test]
fn render_to_a_directory_for_one_host_and_for_all() {
    let dir = tempdir("render");
    vxm()
        .args([
            "-i",
            "examples/hetzner.toml",
            "render",
            "--format",
            "netplan",
            "--host",
            "lxd2",
            "--out",
        ])
        .arg(dir.join("one"))
        .assert()
        .success()
        .stdout_eq("");
    let yaml = dir.join("one/etc/netplan/60-vxlan-mesh.yaml");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&yaml).unwrap().permissions().mode() & 0o777, 0o600);
    vxm()
        .args([
            "-q",
            "-i",
            "examples/classic-geo.toml",
            "render",
            "--format",
            "networkd",
            "--all",
            "--out",
        ])
        .arg(dir.join("all"))
        .assert()
        .success()
        .stderr_eq("");
    for host in ["lxd1", "lxd2", "lxd3", "lxd4"] {
        assert!(
            dir.join("all")
                .join(host)
                .join("etc/systemd/network/50-vxlan-mesh-vxm100.netdev")
                .exists(),
            "{host}"
        );
    }
}

#[test]
fn render_error_paths() {
    // A multi-file form needs a directory.
    let out = fails(&[
        "-i",
        "examples/hetzner.toml",
        "render",
        "--format",
        "networkd",
        "--host",
        "lxd1",
    ])
    .stdout_eq("")
    .0;
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("error: the networkd form is 13 files ("), "{stderr}");
    assert!(stderr.ends_with("); pass --out DIR to write them\n"), "{stderr}");
    fails(&["-i", "examples/hetzner.toml", "render", "--format", "shell", "--all"])
        .stderr_eq("error: --all writes one folder per host and needs --out DIR\n");
    // The format is required; an unknown one is a usage error (exit 1).
    fails(&["-i", "examples/hetzner.toml", "render", "--host", "lxd1"]);
    fails(&[
        "-i",
        "examples/hetzner.toml",
        "render",
        "--format",
        "yaml",
        "--host",
        "lxd1",
    ]);
    // An invalid inventory renders nothing.
    fails(&[
        "-i",
        "vxlan-mesh-cli/tests/bad/bridge-with-slash.toml",
        "render",
        "--format",
        "shell",
        "--host",
        "a",
    ])
    .stdout_eq("");
}

// ---------------------------------------------------------------- apply, status, down

/// Their success paths change a network namespace and are tested end to end in
/// tests/apply_cli.rs; here, the error paths that stop before any netlink request (so they
/// are safe to run in the test's own namespace).
#[test]
fn apply_status_down_refuse_unknown_hosts_and_invalid_inventories() {
    for cmd in ["apply", "status", "down"] {
        fails(&["-i", "examples/hetzner.toml", cmd, "--host", "lxd9"])
            .stdout_eq("")
            .stderr_eq("error: no host named `lxd9` in the inventory (hosts: lxd1, lxd2, lxd3, lxd4)\n");
        fails(&["-i", "vxlan-mesh-cli/tests/bad/port-zero.toml", cmd, "--host", "a"]).stdout_eq("");
    }
    fails(&["-i", "examples/hetzner.toml", "apply", "--host", "lxd1", "--dry-runn"]);
}

// ---------------------------------------------------------------- completions and man

// Each shell completing real command lines: tests/completions.rs.

#[test]
fn completions_for_other_shells_and_a_bad_shell() {
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(stdout_of(&["completions", shell]).contains("graph"), "{shell}");
    }
    fails(&["completions", "tcsh"]);
}

#[test]
fn man_page_on_stdout_and_one_page_per_command() {
    let page = stdout_of(&["man"]);
    assert!(page.contains("\n.TH vxlan-mesh 1 "), "{page}");
    for word in [
        "vxlan\\-mesh\\-check(1)",
        "vxlan\\-mesh\\-graph(1)",
        "VXLAN_MESH_INVENTORY",
        "Exit codes",
    ] {
        assert!(page.contains(word), "man page lacks {word}");
    }
    let dir = tempdir("man");
    vxm().args(["man", "--out", dir.to_str().unwrap()]).assert().success();
    for page in [
        "vxlan-mesh.1",
        "vxlan-mesh-check.1",
        "vxlan-mesh-plan.1",
        "vxlan-mesh-graph.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
}

// ---------------------------------------------------------------- progress

#[test]
fn progress_is_silent_when_piped_and_shown_on_a_terminal() {
    // Piped (as here): stderr stays empty.
    vxm()
        .args(["-i", "examples/hetzner.toml", "plan", "--all", "--format", "json"])
        .assert()
        .success()
        .stderr_eq("");
    // On a terminal: `script` gives the command a pseudo-terminal.
    let bin = std::path::Path::new(BIN);
    let cmd = format!(
        "{} -i examples/hetzner.toml plan --all --format json >/dev/null",
        bin.display()
    );
    let out = StdCommand::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(root())
        .output()
        .expect("`script` (util-linux) is needed");
    assert!(out.status.success());
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(tty.contains("planning: 4/4 done in "), "{tty:?}");
    // And `-q` silences it on a terminal too.
    let cmd = format!(
        "{} -q -i examples/hetzner.toml plan --all --format json >/dev/null",
        bin.display()
    );
    let out = StdCommand::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("planning"));
}

// ---------------------------------------------------------------- the embedding example

#[test]
fn embed_example_renders_what_the_cli_renders() {
    // `cargo test` builds examples before running tests.
    let embed = std::path::Path::new(BIN).parent().unwrap().join("examples/embed");
    assert!(
        embed.exists(),
        "{} missing: run the whole `cargo test`",
        embed.display()
    );
    let out = StdCommand::new(&embed)
        .args(["examples/hetzner.toml", "lxd2"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("lxd2: network lan on bridge vxbr0: container MTU 1450, 3 VXLAN device(s)\n"));
    // The networkd files the library gives the program are those `render --out` writes.
    let mut from_lib: Vec<(String, usize)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("networkd: "))
        .map(|l| {
            let (path, rest) = l.split_once(" (mode ").unwrap();
            let bytes = rest.split(", ").nth(1).unwrap().trim_end_matches(" bytes)");
            (path.to_string(), bytes.parse().unwrap())
        })
        .collect();
    let dir = tempdir("embed");
    vxm()
        .args([
            "-i",
            "examples/hetzner.toml",
            "render",
            "--format",
            "networkd",
            "--host",
            "lxd2",
            "--out",
        ])
        .arg(&dir)
        .assert()
        .success();
    let mut from_cli = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == vxlan_mesh_gen::MANIFEST) {
                // What the render wrote, for the next one; not a file of the form.
            } else {
                let rel = p.strip_prefix(&dir).unwrap().display().to_string();
                from_cli.push((rel, std::fs::metadata(&p).unwrap().len() as usize));
            }
        }
    }
    from_lib.sort();
    from_cli.sort();
    assert!(!from_lib.is_empty());
    assert_eq!(from_lib, from_cli);
}
