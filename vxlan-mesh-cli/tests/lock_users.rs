//! Local users cannot block or redirect `apply`: its lock lives in a directory only root may
//! enter (/run/vxlan-mesh, 0700), which is refused when someone else made it or planted a
//! link there, and a lock in the world-writable /run/lock (where it used to be) binds nothing.
//!
//! Each case runs in a mount namespace of its own with a tmpfs on /run (so the machine's
//! /run/vxlan-mesh, shared by every run, is never touched) and a network namespace of its own;
//! the other user is `nobody`, by `setpriv`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Output};

use common::{Scratch, BIN};
use vxlan_mesh_core::testing::FleetBuilder;

/// Runs `setup` (a shell snippet; `$NOBODY` runs a command as nobody, `$NS` is the
/// namespace's lock name) and then `apply --host a`, bounded by 20 s, in fresh mount and
/// network namespaces with /run world-writable (as /run/lock is), then `after`.
fn apply_after(setup: &str, after: &str) -> Output {
    run_after(setup, ("apply", "timeout 20 $VXM apply --host a --force"), after)
}

/// As [`apply_after`], with `command` instead of the apply (`$VXM` is the CLI with the
/// inventory, `$SCRIPT` the rendered shell script of host `a`); prints `LABEL exited N`.
fn run_after(setup: &str, (label, command): (&str, &str), after: &str) -> Output {
    let dir = Scratch::new("lockusers");
    let inv = dir.write("inventory.toml", &FleetBuilder::new().lettered(2).toml());
    let rendered = common::vxm()
        .args([
            "-i",
            inv.to_str().unwrap(),
            "render",
            "--format",
            "shell",
            "--host",
            "a",
        ])
        .output()
        .unwrap();
    assert!(rendered.status.success(), "{}", common::text(&rendered));
    let script = dir.write("vxlan-mesh.sh", &String::from_utf8(rendered.stdout).unwrap());
    let script = format!(
        "set -e\n\
         mount -t tmpfs -o mode=1777 tmpfs /run\n\
         ip link set lo up\n\
         ip addr add 192.0.2.1/32 dev lo\n\
         NOBODY='setpriv --reuid=65534 --regid=65534 --clear-groups'\n\
         NS=net$(stat -L -c %i /proc/self/ns/net).lock\n\
         VXM='{BIN} -i {inv}'\n\
         SCRIPT={script}\n\
         {setup}\n\
         set +e\n\
         {command}\n\
         echo \"{label} exited $?\"\n\
         {after}\n",
        inv = inv.display(),
        script = script.display(),
    );
    Command::new("unshare")
        .args(["--mount", "--net", "sh", "-c", &script])
        .output()
        .unwrap()
}

#[test]
fn a_lock_held_by_nobody_in_run_lock_does_not_block_apply() {
    // What blocked every apply for good: nobody holds the lock file the old code took.
    let out = apply_after(
        "mkdir -m 1777 /run/lock\n\
         $NOBODY flock --no-fork /run/lock/vxlan-mesh-$NS sleep 60 >/dev/null 2>&1 &\n\
         holder=$!\n\
         sleep 0.5",
        "kill $holder\n\
         $NOBODY touch /run/vxlan-mesh/planted 2>/dev/null && echo 'nobody wrote into the lock directory'\n\
         stat -c 'lock directory %a %u' /run/vxlan-mesh",
    );
    let said = common::text(&out);
    assert!(said.contains("apply exited 0"), "{said}");
    assert!(!said.contains("nobody wrote"), "{said}");
    assert!(said.contains("lock directory 700 0"), "{said}");
}

#[test]
fn a_lock_directory_planted_by_nobody_is_refused_and_never_followed() {
    // A link to a directory of nobody's, and a directory nobody made: refused, at once.
    let link = apply_after(
        "$NOBODY mkdir -m 700 /run/theirs\n\
         $NOBODY ln -s /run/theirs /run/vxlan-mesh",
        "ls -A /run/theirs | sed 's/^/found in the link target: /'",
    );
    let said = common::text(&link);
    assert!(said.contains("apply exited 1"), "{said}");
    assert!(
        said.contains("lock directory `/run/vxlan-mesh`: it is a symbolic link; refusing to use it"),
        "{said}"
    );
    assert!(!said.contains("found in the link target"), "{said}");

    let theirs = apply_after("$NOBODY mkdir -m 777 /run/vxlan-mesh", "");
    let said = common::text(&theirs);
    assert!(said.contains("apply exited 1"), "{said}");
    assert!(
        said.contains("lock directory `/run/vxlan-mesh`: it is owned by uid 65534, not by uid 0 running vxlan-mesh"),
        "{said}"
    );
}

#[test]
fn the_shell_script_takes_the_same_lock_by_the_same_rules() {
    // A link planted by nobody: refused with the CLI's message.
    let link = run_after(
        "$NOBODY mkdir -m 700 /run/theirs\n$NOBODY ln -s /run/theirs /run/vxlan-mesh",
        ("start", "timeout 20 sh $SCRIPT start"),
        "ls -A /run/theirs | sed 's/^/found in the link target: /'",
    );
    let said = common::text(&link);
    assert!(said.contains("start exited 1"), "{said}");
    assert!(
        said.contains("lock directory `/run/vxlan-mesh`: it is a symbolic link; refusing to use it (remove it: vxlan-mesh makes it again, 0700)"),
        "{said}"
    );
    assert!(!said.contains("found in the link target"), "{said}");

    // nobody's lock in /run/lock binds nothing; the lock the CLI holds does: `status` waits
    // for it (killed by `timeout`: 124), and runs once it is free.
    let shared = run_after(
        "mkdir -m 1777 /run/lock\n\
         $NOBODY flock --no-fork /run/lock/vxlan-mesh-$NS sleep 60 >/dev/null 2>&1 &\n\
         nobody=$!\n\
         timeout 20 sh $SCRIPT start\n\
         stat -c 'lock directory %a %u' /run/vxlan-mesh\n\
         flock --no-fork /run/vxlan-mesh/$NS sleep 60 >/dev/null 2>&1 &\n\
         holder=$!\n\
         sleep 0.5",
        ("status", "timeout 3 sh $SCRIPT status"),
        "kill $holder $nobody\n\
         wait $holder\n\
         timeout 20 sh $SCRIPT status; echo \"free: status exited $?\"",
    );
    let said = common::text(&shared);
    assert!(said.contains("lock directory 700 0"), "{said}");
    assert!(said.contains("status exited 124"), "{said}");
    assert!(said.contains("free: status exited 0"), "{said}");
}
