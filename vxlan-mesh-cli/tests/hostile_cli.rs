//! What the command prints for hostile input: control characters from the inventory or the
//! command line come out escaped, so they cannot forge lines or steer the terminal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Scratch;

fn run(inventory: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = Scratch::new("hostile");
    let path = dir.write("inventory.toml", inventory);
    let out = common::vxm().arg("-i").arg(&path).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

const FLEET: &str = "[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n\
                     [[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n\
                     [[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n";

#[test]
fn a_hostile_host_argument_is_shown_escaped() {
    let (code, text) = run(FLEET, &["plan", "--host", "x\u{1b}[2J\nforged"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(
        text.contains("no host named `x\\u{1b}[2J\\nforged` in the inventory (hosts: a, b)"),
        "{text}"
    );
}

#[test]
fn hostile_inventory_text_is_shown_escaped_by_check() {
    let hostile = FLEET.replace("name = \"a\"", "name = \"a\\u001b[31m\"") + "\"k\\u001b\\ny\" = 1\n";
    let (code, text) = run(&hostile, &["check"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("unknown key `k\\u{1b}\\ny`"), "{text}");
    let (code, text) = run(&FLEET.replace("name = \"a\"", "name = \"a\\u001b[31m\""), &["check"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(
        text.contains("`hosts[0].name` = `a\\u{1b}[31m`: it contains '\\u{1b}'"),
        "{text}"
    );
}
