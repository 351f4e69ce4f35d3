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

// ---------------------------------------------------------------- `--host` from the inventory

/// How each shell completes `line` with the scripts installed (in `dir`) and `vxlan-mesh` on
/// the PATH, from `cwd`, with `env` set.
fn complete(shell: &str, dir: &Path, cwd: &Path, line: &str, env: &[(&str, &str)]) -> BTreeSet<String> {
    let bin_dir = Path::new(common::BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = match shell {
        "bash" => {
            // COMP_WORDS split as bash splits them: `=` is a word break.
            let spaced = line.replace('=', " = ");
            let mut words: Vec<&str> = spaced.split(' ').collect();
            if line.ends_with(' ') {
                words.pop();
                words.push("");
            }
            let program = format!(
                "source /usr/share/bash-completion/bash_completion || exit 3
                 source {script:?}
                 COMP_LINE={line:?}; COMP_POINT=${{#COMP_LINE}}
                 COMP_WORDS=({words}); COMP_CWORD={cword}
                 _vxlan__mesh vxlan-mesh {cur:?} {prev:?}
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                script = dir.join("vxlan-mesh.bash"),
                words = words.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(" "),
                cword = words.len() - 1,
                cur = words[words.len() - 1],
                prev = words[words.len() - 2],
            );
            let mut c = Command::new("bash");
            c.args(["--norc", "--noprofile", "-c", &program]);
            c
        }
        "zsh" => {
            let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/completion/zsh-complete.zsh");
            let mut c = Command::new("zsh");
            c.arg("-f").arg(helper).arg(dir).arg(line);
            c
        }
        _ => {
            let mut c = Command::new("fish");
            c.arg("--no-config").arg("-c").arg(format!(
                "source {}; complete -C {line:?}",
                dir.join("vxlan-mesh.fish").display()
            ));
            c
        }
    };
    cmd.current_dir(cwd)
        .env("PATH", path)
        .env_remove("VXLAN_MESH_INVENTORY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

#[test]
fn every_shell_completes_host_with_the_inventorys_host_names() {
    let dir = Scratch::new("host-compl");
    dir.write("vxlan-mesh.bash", &script("bash"));
    dir.write("_vxlan-mesh", &script("zsh"));
    dir.write("vxlan-mesh.fish", &script("fish"));
    // Two inventories with different hosts: the one the command line (or environment) names is asked.
    let fleet = |names: &[&str]| {
        let mut t = String::from("[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n");
        for (i, n) in names.iter().enumerate() {
            t += &format!("[[hosts]]\nname = \"{n}\"\naddress = \"192.0.2.{}\"\n", i + 1);
        }
        t
    };
    let one = dir.write("one.toml", &fleet(&["alpha", "beta", "bravo"]));
    let two = dir.write("two.toml", &fleet(&["yankee", "zulu"]));
    // The default inventory of the directory the shell runs in.
    dir.write("vxlan-mesh.toml", &fleet(&["kilo", "lima"]));
    let (one, two) = (one.to_str().unwrap(), two.to_str().unwrap());
    // The line, its environment, what must be offered and what must not.
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, Vec<&'a str>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            format!("vxlan-mesh -i {one} plan --host "),
            vec![],
            vec!["alpha", "beta", "bravo"],
            vec!["zulu", "kilo"],
        ),
        (
            format!("vxlan-mesh --inventory={two} status --host "),
            vec![],
            vec!["yankee", "zulu"],
            vec!["alpha"],
        ),
        (
            format!("vxlan-mesh -i {one} render --format shell --host b"),
            vec![],
            vec!["beta", "bravo"],
            vec!["alpha"],
        ),
        (
            "vxlan-mesh apply --host ".into(),
            vec![("VXLAN_MESH_INVENTORY", two)],
            vec!["yankee", "zulu"],
            vec!["kilo"],
        ),
        (
            "vxlan-mesh down --host ".into(),
            vec![],
            vec!["kilo", "lima"],
            vec!["alpha"],
        ),
    ];
    for shell in ["bash", "zsh", "fish"] {
        for (line, env, want, not) in &cases {
            let got = complete(shell, &dir, &dir, line, env);
            check(shell, line, &got, want);
            for n in not {
                assert!(!got.contains(*n), "{shell}: `{line}<TAB>` offers {n}: {got:?}");
            }
        }
    }
}
