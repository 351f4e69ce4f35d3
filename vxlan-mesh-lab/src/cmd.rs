//! Running `ip`, `tc` and programs inside namespaces, with errors that carry the command line
//! and its stderr.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::LabError;

fn command_line(program: &str, args: &[&str]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// Runs `program args`, feeding `stdin` (if any), and returns its output whatever its status.
pub(crate) fn output(program: &str, args: &[&str], stdin: Option<&str>) -> Result<Output, LabError> {
    let spawn_err = |source| LabError::Spawn {
        program: program.to_string(),
        source,
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(spawn_err)?;
    // Write stdin from another thread so that a child filling its stdout pipe cannot
    // deadlock against us filling its stdin pipe.
    let writer = match (stdin, child.stdin.take()) {
        (Some(text), Some(mut pipe)) => {
            let text = text.to_string();
            Some(std::thread::spawn(move || pipe.write_all(text.as_bytes())))
        }
        _ => None,
    };
    let out = child.wait_with_output().map_err(spawn_err)?;
    if let Some(w) = writer {
        // A child that exits early closes its stdin; its status tells the real story.
        let _ = w.join();
    }
    Ok(out)
}

/// Runs `program args` and returns its stdout, or a [`LabError::Command`] on failure.
pub(crate) fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, LabError> {
    let out = output(program, args, stdin)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(LabError::Command {
            command: command_line(program, args),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Runs `ip [-n NETNS] -batch -` with `lines` (one `ip` command per line, without `ip`).
/// Stops at the first failing line.
pub(crate) fn ip_batch(netns: Option<&str>, lines: &[String]) -> Result<(), LabError> {
    match batch_input(netns, &[], lines) {
        Some((args, text)) => run("ip", &args, Some(&text)).map(|_| ()),
        None => Ok(()),
    }
}

/// Like [`ip_batch`] but with `-force`: every line runs even when some fail.
pub(crate) fn ip_batch_force(netns: Option<&str>, lines: &[String]) -> Result<(), LabError> {
    match batch_input(netns, &["-force"], lines) {
        // Failures of single lines are expected here (objects already gone).
        Some((args, text)) => output("ip", &args, Some(&text)).map(|_| ()),
        None => Ok(()),
    }
}

/// Arguments and standard input of `ip|tc [-n NETNS] [extra…] -batch -`; `None` when there is
/// nothing to run.
fn batch_input<'a>(netns: Option<&'a str>, extra: &[&'a str], lines: &[String]) -> Option<(Vec<&'a str>, String)> {
    if lines.is_empty() {
        return None;
    }
    let mut text = lines.join("\n");
    text.push('\n');
    let mut args = Vec::new();
    if let Some(ns) = netns {
        args.extend(["-n", ns]);
    }
    args.extend_from_slice(extra);
    args.extend(["-batch", "-"]);
    Some((args, text))
}

/// Runs `tc -n NETNS -batch -` with `lines`.
pub(crate) fn tc_batch(netns: &str, lines: &[String]) -> Result<(), LabError> {
    match batch_input(Some(netns), &[], lines) {
        Some((args, text)) => run("tc", &args, Some(&text)).map(|_| ()),
        None => Ok(()),
    }
}

/// `ip netns exec NETNS argv...`, output whatever its status.
pub(crate) fn netns_exec(netns: &str, argv: &[&str]) -> Result<Output, LabError> {
    let mut args = vec!["netns", "exec", netns];
    args.extend_from_slice(argv);
    output("ip", &args, None)
}
