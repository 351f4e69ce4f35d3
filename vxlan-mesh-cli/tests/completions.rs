//! The completion scripts `vxlan-mesh completions SHELL` prints, loaded into the real shells
//! (bash with bash-completion, zsh with compinit, fish) and asked what they offer: a script
//! that parses but completes nothing (clap_complete's bash script for a hyphenated binary
//! name, clap-rs/clap#6421) fails here.
//!
//! bash-completion, zsh and fish are needed (Debian packages of those names).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::Scratch;

/// What the tests ask each shell, and what must be among its answers.
const CASES: &[(&str, &[&str])] = &[
    ("vxlan-mesh pl", &["plan"]),
    ("vxlan-mesh plan --", &["--host", "--all", "--format", "--inventory"]),
    ("vxlan-mesh render --format ", &["shell", "networkd", "netplan"]),
    ("vxlan-mesh render --", &["--format", "--host", "--all", "--out"]),
    ("vxlan-mesh graph --format ", &["mermaid", "dot"]),
];

fn script(shell: &str) -> String {
    let out = common::vxm().args(["completions", shell]).output().unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn run(cmd: &mut Command) -> BTreeSet<String> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (is the shell installed?)"));
    assert!(out.status.success(), "{cmd:?}: {}", common::text(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        // fish prints `candidate<TAB>description`.
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

fn check(shell: &str, line: &str, got: &BTreeSet<String>, want: &[&str]) {
    for w in want {
        assert!(got.contains(*w), "{shell}: `{line}<TAB>` offers {got:?}, not `{w}`");
    }
}

#[test]
fn bash_with_bash_completion_completes_options_and_values_of_subcommands() {
    // Installed as the README says, in the user directory that bash-completion reads.
    let home = Scratch::new("bash-compl");
    let dir = home.join(".local/share/bash-completion/completions");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("vxlan-mesh"), script("bash")).unwrap();
    for (line, want) in CASES {
        // bash-completion loads the script on first use (`_completion_loader`), as on a
        // terminal; then the function it registered completes the line.
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source /usr/share/bash-completion/bash_completion || exit 3
             _completion_loader vxlan-mesh
             spec=$(complete -p vxlan-mesh) || exit 4
             fn=${{spec#*-F }}; fn=${{fn%% *}}
             COMP_LINE={line:?}; COMP_POINT=${{#COMP_LINE}}
             COMP_WORDS=({words}); COMP_CWORD={cword}
             $fn vxlan-mesh {cur:?} {prev:?}
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words = words.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(" "),
            cword = words.len() - 1,
            cur = words[words.len() - 1],
            prev = words[words.len() - 2],
        );
        let got = run(Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program])
            .env("HOME", &*home)
            .env_remove("XDG_DATA_HOME")
            .env_remove("BASH_COMPLETION_USER_DIR"));
        check("bash", line, &got, want);
    }
}

#[test]
fn zsh_completes_options_and_values_of_subcommands() {
    let dir = Scratch::new("zsh-compl");
    dir.write("_vxlan-mesh", &script("zsh"));
    let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/completion/zsh-complete.zsh");
    for (line, want) in CASES {
        let got = run(Command::new("zsh").arg("-f").arg(&helper).arg(&*dir).arg(line));
        check("zsh", line, &got, want);
    }
}

#[test]
fn fish_completes_options_and_values_of_subcommands() {
    let dir = Scratch::new("fish-compl");
    let file = dir.write("vxlan-mesh.fish", &script("fish"));
    for (line, want) in CASES {
        let got = run(Command::new("fish")
            .arg("--no-config")
            .arg("-c")
            .arg(format!("source {}; complete -C {line:?}", file.display())));
        check("fish", line, &got, want);
    }
}
