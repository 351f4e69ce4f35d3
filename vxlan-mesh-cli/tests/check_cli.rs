//! `vxlan-mesh check` as an operator runs it: one bad inventory per rule of the core, each
//! error with its position, code and field path, in text and JSON; inputs that are too large.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Output, Stdio};

use common::{root, Scratch};

/// The binary, run from the workspace root with no inventory from the environment.
fn vxm(args: &[&str]) -> Output {
    common::vxm().args(args).output().unwrap()
}

// ---------------------------------------------------------------- size limit

const LIMIT: usize = 4 << 20;

#[test]
fn an_endless_input_is_refused_at_the_size_limit() {
    let out = vxm(&["-i", "/dev/zero", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: /dev/zero: cannot read inventory: it is larger than 4 MiB, the limit for an inventory file\n"
    );
}

#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer_or_an_end() {
    let dir = Scratch::new("fifo");
    let fifo = dir.join("inventory.toml");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let expected = format!(
        "error: {}: cannot read inventory: it is a FIFO (named pipe), which may never be written or never end; give a regular file\n",
        fifo.display()
    );
    // No writer: opening it for reading would wait forever. `timeout` bounds the bug.
    let out = Command::new("timeout")
        .arg("20")
        .arg(common::BIN)
        .args(["-i", fifo.to_str().unwrap(), "check"])
        .env_remove("VXLAN_MESH_INVENTORY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    assert_eq!(String::from_utf8(out.stderr).unwrap(), expected);
    // A writer that never stops (`yes`): refused too, without reading it.
    let mut writer = Command::new("sh")
        .arg("-c")
        .arg("exec yes '# padding' > \"$0\"")
        .arg(&fifo)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = vxm(&["-i", fifo.to_str().unwrap(), "check"]);
    let _ = writer.kill();
    let _ = writer.wait();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stderr).unwrap(), expected);
}

#[test]
fn an_inventory_of_exactly_the_limit_is_read() {
    let dir = Scratch::new("limit");
    let text = std::fs::read_to_string(root().join("examples/classic-geo.toml")).unwrap();
    let mut padded = text.clone();
    while padded.len() + 8 <= LIMIT {
        padded.push_str("#######\n");
    }
    padded.push_str(&"#".repeat(LIMIT - padded.len() - 1));
    padded.push('\n');
    assert_eq!(padded.len(), LIMIT);
    let path = dir.join("big.toml");
    std::fs::write(&path, &padded).unwrap();
    let out = vxm(&["-i", path.to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // One byte more is refused.
    padded.push('\n');
    std::fs::write(&path, &padded).unwrap();
    let out = vxm(&["-i", path.to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than 4 MiB"));
}

#[test]
fn a_file_that_is_not_utf8_is_refused_naming_the_offset() {
    let dir = Scratch::new("utf8");
    let path = dir.join("latin1.toml");
    std::fs::write(&path, b"port = 4789\n# caf\xe9\n").unwrap();
    let out = vxm(&["-i", path.to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.ends_with("latin1.toml: cannot read inventory: it is not UTF-8 text (invalid byte at offset 17)\n"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------- one bad inventory per rule

/// One bad inventory under `tests/bad/`: its first line says what `check` must print,
/// `# expect: LINE:COLUMN: MESSAGE` (the position is absent for whole-file rules), and its
/// second line the code of the rule it breaks, `# code: duplicate-address`.
struct BadCase {
    /// Path from the workspace root, as `check` shows it.
    rel: String,
    expect: String,
    code: String,
}

fn bad_cases() -> Vec<BadCase> {
    let dir = root().join("vxlan-mesh-cli/tests/bad");
    let mut cases: Vec<BadCase> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                name.ends_with(".toml"),
                "tests/bad/{name}: only inventories belong there"
            );
            let rel = format!("vxlan-mesh-cli/tests/bad/{name}");
            let text = std::fs::read_to_string(root().join(&rel)).unwrap();
            let mut lines = text.lines();
            let expect = lines.next().and_then(|l| l.strip_prefix("# expect: "));
            let code = lines.next().and_then(|l| l.strip_prefix("# code: "));
            BadCase {
                expect: expect
                    .unwrap_or_else(|| panic!("{rel}: first line must be `# expect: ...`"))
                    .to_string(),
                code: code
                    .unwrap_or_else(|| panic!("{rel}: second line must be `# code: CODE`"))
                    .to_string(),
                rel,
            }
        })
        .collect();
    cases.sort_by(|a, b| a.rel.cmp(&b.rel));
    cases
}

/// Every code the core can report: the validation rules and the parser's problems.
fn codes_of_the_core() -> Vec<&'static str> {
    let mut codes = vxlan_mesh_core::ValidationError::CODES.to_vec();
    codes.extend(vxlan_mesh_core::ParseProblem::ALL.iter().map(|p| p.code()));
    codes
}

#[test]
fn every_code_of_the_core_has_a_bad_inventory() {
    let codes = codes_of_the_core();
    assert!(codes.len() >= 25, "{codes:?}");
    let cases = bad_cases();
    for code in &codes {
        assert!(
            cases.iter().any(|c| c.code == *code),
            "the code `{code}` has no inventory under vxlan-mesh-cli/tests/bad/"
        );
    }
    for c in &cases {
        assert!(
            codes.contains(&c.code.as_str()),
            "{}: `{}` is not a code of the core",
            c.rel,
            c.code
        );
    }
}

#[test]
fn codes_are_unique_and_kebab_case() {
    let codes = codes_of_the_core();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), codes.len(), "{codes:?}");
    for code in codes {
        assert!(
            !code.is_empty()
                && code
                    .split('-')
                    .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase())),
            "{code}"
        );
    }
}

#[test]
fn check_prints_file_line_column_field_and_reason_for_each_rule() {
    for BadCase { rel, expect, .. } in bad_cases() {
        let out = vxm(&["-i", &rel, "check"]);
        assert_eq!(out.status.code(), Some(1), "{rel}");
        assert!(out.stdout.is_empty(), "{rel}: stdout not empty");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let want = format!("{rel}:{expect}");
        assert!(
            stderr.lines().any(|l| l.starts_with(&want)),
            "{rel}: expected a line starting with\n  {want}\ngot:\n{stderr}"
        );
        assert!(
            stderr.starts_with(&format!("error: {rel}: invalid inventory (")),
            "{rel}: {stderr}"
        );
    }
}

#[test]
fn check_json_lists_the_same_errors_with_positions_codes_and_paths() {
    for BadCase { rel, expect, code } in bad_cases() {
        let out = vxm(&["-i", &rel, "check", "--format", "json"]);
        assert_eq!(out.status.code(), Some(1), "{rel}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["valid"], false, "{rel}");
        assert_eq!(v["file"], rel.as_str());
        let (pos, message) = match expect.split_once(": ") {
            Some((pos, msg)) if pos.contains(':') && pos.chars().all(|c| c.is_ascii_digit() || c == ':') => {
                (Some(pos.to_string()), msg.to_string())
            }
            _ => (None, expect.trim_start().to_string()),
        };
        let hit = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["message"].as_str().unwrap().starts_with(&message))
            .unwrap_or_else(|| panic!("{rel}: no error starting with {message:?} in {v}"));
        let got = hit["line"].as_u64().map(|l| format!("{l}:{}", hit["column"]));
        assert_eq!(got, pos, "{rel}");
        assert_eq!(hit["code"], code.as_str(), "{rel}");
        // Every problem but a TOML syntax error or an unknown top-level key is about a field.
        if code != "toml-syntax" && code != "unknown-key" {
            assert!(hit["path"].is_string(), "{rel}: {hit}");
        }
    }
}

#[test]
fn check_json_gives_the_typed_path_of_validation_errors() {
    let out = vxm(&[
        "-i",
        "vxlan-mesh-cli/tests/bad/duplicate-address.toml",
        "check",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["errors"],
        serde_json::json!([{
            "line": 14,
            "column": 11,
            "code": "duplicate-address",
            "path": "hosts[1].address",
            "message": "host `b`: `address` `192.0.2.1` is already the address of host `a`",
        }])
    );
    let out = vxm(&["-i", "/nonexistent/inventory.toml", "check", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"][0]["code"], "unreadable");
    assert_eq!(v["errors"][0]["path"], serde_json::Value::Null);
}
