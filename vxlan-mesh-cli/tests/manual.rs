//! The operator's manual as `man` shows it: `vxlan-mesh man --out DIR/man1` installs
//! vxlan-mesh(1) and vxlan-mesh.toml(5), and `man` (man-db) formats them. The inventory page
//! must name every key the reader accepts and every rule and reading-error code; the command's
//! page every render form, mode, encryption and environment variable.
//!
//! Needs man-db (`man`) and groff-base.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{vxm, Assert as _, Scratch};
use vxlan_mesh_core::schema::{self, InventoryTable};
use vxlan_mesh_core::{Encryption, Mode, ParseProblem, ValidationError};

/// `man ARGS` formatted as plain ASCII text, wide enough that nothing is hyphenated.
fn man(manpath: &Path, args: &[&str]) -> String {
    let out = Command::new("man")
        .args(args)
        .env("MANPATH", manpath)
        .env("MANWIDTH", "200")
        .env("LC_ALL", "C")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("man (man-db) is installed");
    assert!(out.status.success(), "man {args:?}: {}", common::text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `page` holds `word` as a whole word (not only inside a longer code or key).
fn has_word(page: &str, word: &str) -> bool {
    page.match_indices(word).any(|(i, _)| {
        let before = page[..i].chars().next_back();
        let after = page[i + word.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        !part(before) && !part(after)
    })
}

fn installed() -> (Scratch, std::path::PathBuf) {
    let root = Scratch::new("man");
    let man1 = root.join("man1");
    vxm().args(["man", "--out", man1.to_str().unwrap()]).assert().success();
    let manpath = root.to_path_buf();
    (root, manpath)
}

#[test]
fn the_inventory_page_lists_every_key_the_reader_accepts_and_every_code() {
    let (_root, manpath) = installed();
    let page = man(&manpath, &["5", "vxlan-mesh.toml"]);
    // The same page, read as a file (`man -l`), as `man --section 5` prints it.
    let file = Scratch::new("man5");
    let printed = vxm().args(["man", "--section", "5"]).assert().success().stdout();
    let local = man(
        &manpath,
        &["-l", file.write("vxlan-mesh.toml.5", &printed).to_str().unwrap()],
    );
    assert_eq!(local, page);

    for table in InventoryTable::ALL {
        let heading = table.to_string().to_uppercase();
        // From the heading to the next heading (the next line that is not indented).
        let section: String = page
            .lines()
            .skip_while(|l| *l != heading)
            .enumerate()
            .take_while(|(i, l)| *i == 0 || l.is_empty() || l.starts_with(' '))
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        assert!(!section.is_empty(), "no section {heading} in\n{page}");
        for doc in schema::docs(*table) {
            // Each key opens its entry: `name (type)`.
            let entry = format!("       {} ({}", doc.key, doc.value);
            assert!(section.contains(&entry), "{heading} lacks `{entry}`");
        }
    }
    for code in ValidationError::CODES {
        assert!(has_word(&page, code), "no rule {code}");
    }
    for problem in ParseProblem::ALL {
        assert!(has_word(&page, problem.code()), "no reading error {}", problem.code());
    }
}

#[test]
fn the_command_page_lists_every_form_mode_encryption_and_variable() {
    let (_root, manpath) = installed();
    let page = man(&manpath, &["1", "vxlan-mesh"]);
    let forms = man(&manpath, &["1", "vxlan-mesh-render"]);
    // What `render --format` accepts, asked of the parser itself.
    let out = vxm().args(["render", "--format", "no-such-form"]).output().unwrap();
    let error = common::text(&out);
    let accepted: Vec<&str> = error
        .split("[possible values: ")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .expect("clap lists the possible values")
        .split(", ")
        .collect();
    assert!(accepted.len() >= 5, "{accepted:?}");
    for form in &accepted {
        assert!(
            page.contains(&format!("\n         {form} ")),
            "vxlan-mesh(1) lacks the form {form}"
        );
        assert!(has_word(&forms, form), "vxlan-mesh-render(1) lacks the form {form}");
    }
    for mode in Mode::ALL {
        assert!(
            page.contains(&format!("\n         {} ", mode.as_str())),
            "no mode {mode:?}"
        );
    }
    for e in Encryption::ALL {
        assert!(
            page.contains(&format!("\n         {} ", e.as_str())),
            "no encryption {e:?}"
        );
    }
    for var in [
        "VXLAN_MESH_INVENTORY",
        "VXLAN_MESH_WIREGUARD_KEY",
        "VXLAN_MESH_FRR_PATHSPACE",
        "VXLAN_MESH_FRR_VTY_DIR",
        "VXLAN_MESH_LAB_TAG",
    ] {
        assert!(has_word(&page, var), "no variable {var}");
    }
    assert!(page.contains("vxlan-mesh.toml(5)"));
    // `--help` says the same.
    let help = vxm().arg("--help").assert().success().stdout();
    for word in ["VXLAN_MESH_WIREGUARD_KEY", "evpn", "ignition", "frr"] {
        assert!(has_word(&help, word), "--help lacks {word}");
    }
}

#[test]
fn every_broken_rule_of_the_bad_examples_is_listed_under_the_key_it_names() {
    // The manual lists each rule under keys; the errors name their key themselves
    // (`ValidationError::path`): the two must agree for every rule the examples break.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let mut seen = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(inventory) = vxlan_mesh_core::Inventory::from_toml_str(&text) else {
            continue;
        };
        let Err(errors) = inventory.validate() else { continue };
        for e in &errors {
            let at = e.path();
            let Some(key) = at.key() else { continue };
            let doc = schema::find(InventoryTable::of(at.section()), key)
                .unwrap_or_else(|| panic!("{}: `{at}` is no key of the schema", path.display()));
            assert!(
                doc.rules.contains(&e.code()),
                "{}: {} is not listed under {}",
                path.display(),
                e.code(),
                doc.qualified()
            );
            seen.insert(e.code());
        }
    }
    // The examples break most rules; too few would make this test weak.
    assert!(seen.len() * 10 >= ValidationError::CODES.len() * 9, "{seen:?}");
}
