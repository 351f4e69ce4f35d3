//! The README's examples are run, so the docs cannot rot.
//!
//! - ```` ```console ```` blocks are terminal transcripts: each `$ ` line is run (with
//!   `bash -o pipefail`, in a scratch directory that links `examples/`, `docs/` and the crates,
//!   `$HOME` pointing into it), and the lines after it must equal its output (stdout and
//!   stderr; `...` and `[..]` are wildcards). It must exit 0, or the code given by a trailing
//!   `# exit N`.
//! - In ```` ```sh ```` blocks, every `vxlan-mesh ...` or `cargo run -p vxlan-mesh-cli -- ...`
//!   line is run the same way, without comparing output; other tools' lines (`lxc`, `docker`)
//!   are the operator's and not run.
//! - Commands that change the machine's network (`apply`, `down`, `status`, `lab`) are only
//!   parsed: the line is run with `--help` appended, which fails on any unknown option.
//! - `<!-- graph: ARGS -->` before a ```` ```mermaid ```` block: the block must equal the
//!   output of `vxlan-mesh ARGS`. `UPDATE_README=1 cargo test -p vxlan-mesh-cli --test readme`
//!   rewrites such blocks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use common::{root, Scratch};
use std::process::Command;

/// Subcommands that only read the inventory and write to stdout or `--out`.
const RUN: &[&str] = &["check", "plan", "graph", "render", "completions", "man", "help"];
/// Subcommands that change or inspect the machine's network: parsed, not run.
const PARSE_ONLY: &[&str] = &["apply", "status", "down", "lab"];
/// Other programs a console transcript may start with.
const OTHER_PROGRAMS: &[&str] = &["mkdir", "find"];

fn bin() -> PathBuf {
    PathBuf::from(common::BIN)
}

#[derive(Debug)]
struct Example {
    line: usize,
    command: String,
    /// Expected output (console blocks only).
    output: Option<String>,
    exit: i32,
}

/// Every example command of the README, with its line number.
fn examples(readme: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut block: Option<String> = None;
    for (i, line) in readme.lines().enumerate() {
        let n = i + 1;
        if let Some(info) = line.strip_prefix("```") {
            block = match block {
                None => Some(info.trim().to_string()),
                Some(_) => None,
            };
            continue;
        }
        match block.as_deref() {
            Some("console") => {
                if let Some(cmd) = line.strip_prefix("$ ") {
                    let (command, exit) = split_exit(cmd);
                    out.push(Example {
                        line: n,
                        command,
                        output: Some(String::new()),
                        exit,
                    });
                } else if let Some(Example { output: Some(o), .. }) = out.last_mut() {
                    o.push_str(line);
                    o.push('\n');
                } else {
                    panic!("README.md:{n}: console block must start with a `$ ` command line");
                }
            }
            Some("sh" | "bash" | "shell") => {
                let t = line.trim_start();
                if t.starts_with("vxlan-mesh ") || t.starts_with("cargo run -p vxlan-mesh-cli ") {
                    let (command, exit) = split_exit(t);
                    out.push(Example {
                        line: n,
                        command,
                        output: None,
                        exit,
                    });
                }
            }
            _ => {}
        }
    }
    assert!(block.is_none(), "README.md: unclosed code block");
    out
}

/// `cmd   # exit 1` → (`cmd`, 1); any other trailing ` # comment` is dropped (so that nothing
/// appended to the command can end up inside a comment).
fn split_exit(cmd: &str) -> (String, i32) {
    match cmd.split_once(" #") {
        Some((c, comment)) => {
            // Only a comment that is exactly `exit N` states the exit code.
            let code = comment
                .trim()
                .strip_prefix("exit ")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            (c.trim_end().to_string(), code)
        }
        None => (cmd.trim_end().to_string(), 0),
    }
}

/// Rewrites `cargo run` forms to the binaries `cargo test` built.
fn resolve(command: &str) -> String {
    if let Some(rest) = command.strip_prefix("cargo run -p vxlan-mesh-gen --example embed --") {
        let embed = bin().parent().unwrap().join("examples/embed");
        assert!(
            embed.exists(),
            "{} is missing: `cargo test --workspace` builds the examples before the tests",
            embed.display()
        );
        return format!("{}{rest}", embed.display());
    }
    if let Some(rest) = command.strip_prefix("cargo run -p vxlan-mesh-cli --") {
        return format!("vxlan-mesh{rest}");
    }
    command.to_string()
}

/// The subcommand of a `vxlan-mesh` command line (skipping global options and their values).
fn subcommand(command: &str) -> Option<&str> {
    let mut words = command.split('|').next()?.split_whitespace().skip(1);
    while let Some(w) = words.next() {
        match w {
            "-i" | "--inventory" => {
                words.next();
            }
            w if w.starts_with('-') => {}
            w => return Some(w),
        }
    }
    None
}

/// A scratch directory (removed on drop, also when the test fails) with the repository's
/// examples, docs and crates linked in.
fn sandbox() -> Scratch {
    let dir = Scratch::new("readme");
    std::fs::create_dir_all(dir.join("home")).unwrap();
    for link in [
        "examples",
        "docs",
        "vxlan-mesh-core",
        "vxlan-mesh-gen",
        "vxlan-mesh-cli",
        "vxlan-mesh-lab",
    ] {
        std::os::unix::fs::symlink(root().join(link), dir.join(link)).unwrap();
    }
    dir
}

fn run(dir: &Path, command: &str) -> (i32, String) {
    let path = format!(
        "{}:{}",
        bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-o", "pipefail", "-c", &format!("exec 2>&1\n{command}")])
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", dir.join("home"))
        .env_remove("VXLAN_MESH_INVENTORY")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn every_readme_example_runs_and_prints_what_the_readme_shows() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let examples = examples(&readme);
    assert!(
        examples.len() >= 10,
        "found only {} examples: is the parser broken?",
        examples.len()
    );
    let dir = sandbox();
    let mut failures = Vec::new();
    for ex in &examples {
        let command = resolve(&ex.command);
        let first = command.split_whitespace().next().unwrap_or("");
        let (command, compare) = if first == "vxlan-mesh" {
            match subcommand(&command) {
                Some(s) if RUN.contains(&s) => (command.clone(), true),
                Some(s) if PARSE_ONLY.contains(&s) => {
                    // Straight to the parser, no shell: the words of the command, then `--help`.
                    assert!(
                        !command.contains(['|', '>', '<', ';', '&', '$', '`']),
                        "README.md:{}: keep `{command}` a plain command line",
                        ex.line
                    );
                    let out = Command::new(bin())
                        .args(command.split_whitespace().skip(1))
                        .arg("--help")
                        .output()
                        .unwrap();
                    if !out.status.success() {
                        failures.push(format!(
                            "README.md:{}: `{command}` does not parse:\n{}",
                            ex.line,
                            String::from_utf8_lossy(&out.stderr)
                        ));
                    }
                    continue;
                }
                other => panic!("README.md:{}: unknown subcommand {other:?} in `{command}`", ex.line),
            }
        } else if command.starts_with(bin().parent().unwrap().to_str().unwrap()) || OTHER_PROGRAMS.contains(&first) {
            (command.clone(), true)
        } else {
            panic!(
                "README.md:{}: `{first}` is not run by this test; move the line to a ```sh block",
                ex.line
            );
        };
        let (code, output) = run(&dir, &command);
        if code != ex.exit {
            failures.push(format!(
                "README.md:{}: `{command}` exited {code}, expected {}:\n{output}",
                ex.line, ex.exit
            ));
            continue;
        }
        if let (true, Some(expected)) = (compare, &ex.output)
            && !matches(expected, &output)
        {
            failures.push(format!(
                "README.md:{}: `{command}` printed\n{output}\nbut the README shows\n{expected}",
                ex.line
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Line-by-line equality where an expected `...` line matches any number of lines and `[..]`
/// any text within a line.
fn matches(expected: &str, actual: &str) -> bool {
    fn lines_match(exp: &[&str], act: &[&str]) -> bool {
        match exp.split_first() {
            None => act.is_empty(),
            Some((&"...", rest)) => (0..=act.len()).any(|k| lines_match(rest, &act[k..])),
            Some((e, rest)) => act
                .split_first()
                .is_some_and(|(a, arest)| line_match(e, a) && lines_match(rest, arest)),
        }
    }
    fn line_match(e: &str, a: &str) -> bool {
        let parts: Vec<&str> = e.split("[..]").collect();
        if parts.len() == 1 {
            return e == a;
        }
        let mut rest = a;
        for (i, p) in parts.iter().enumerate() {
            if i == 0 {
                let Some(r) = rest.strip_prefix(p) else { return false };
                rest = r;
            } else if i == parts.len() - 1 {
                return rest.ends_with(p);
            } else {
                let Some(at) = rest.find(p) else { return false };
                rest = &rest[at + p.len()..];
            }
        }
        true
    }
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    lines_match(&e, &a)
}

#[test]
fn wildcards_match_what_they_should_and_nothing_more() {
    assert!(matches("a\n...\nd\n", "a\nb\nc\nd\n"));
    assert!(matches("x [..] z\n", "x yyy z\n"));
    assert!(!matches("a\nd\n", "a\nb\nd\n"));
    assert!(!matches("x [..] z\n", "x y w\n"));
    assert!(!matches("", "something\n"));
}

#[test]
fn parse_only_commands_are_checked_against_the_parser() {
    assert_eq!(subcommand("vxlan-mesh -i x.toml -q apply --dry-run"), Some("apply"));
    assert_eq!(subcommand("vxlan-mesh --inventory=x.toml plan | jq ."), Some("plan"));
    assert_eq!(
        split_exit("vxlan-mesh check   # exit 1"),
        ("vxlan-mesh check".into(), 1)
    );
}

#[test]
fn readme_graph_blocks_equal_the_graph_command() {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let update = std::env::var_os("UPDATE_README").is_some();
    let mut out = String::new();
    let mut rest = readme.as_str();
    let mut seen = 0;
    while let Some(at) = rest.find("<!-- graph: ") {
        seen += 1;
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let end = from.find(" -->").unwrap();
        let args = &from["<!-- graph: ".len()..end];
        let open = from.find("```mermaid\n").unwrap() + "```mermaid\n".len();
        let close = open + from[open..].find("```\n").unwrap();
        let shown = &from[open..close];
        let cmd = Command::new(bin())
            .args(args.split_whitespace())
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            cmd.status.success(),
            "vxlan-mesh {args}: {}",
            String::from_utf8_lossy(&cmd.stderr)
        );
        let actual = String::from_utf8(cmd.stdout).unwrap();
        if !update {
            assert_eq!(
                shown, actual,
                "README's picture differs from `vxlan-mesh {args}`; run UPDATE_README=1 cargo test -p vxlan-mesh-cli --test readme"
            );
        }
        out.push_str(&from[..open]);
        out.push_str(&actual);
        rest = &from[close..];
    }
    out.push_str(rest);
    assert!(seen >= 1, "README has no `<!-- graph: ... -->` picture");
    if update {
        std::fs::write(&path, out).unwrap();
    }
}
