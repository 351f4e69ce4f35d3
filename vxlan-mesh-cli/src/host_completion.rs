//! `--host` completed with the inventory's host names in the bash, zsh and fish scripts.
//!
//! clap_complete writes static scripts, which complete a `--host` value with file names.
//! The scripts are patched where they complete `--host`: they ask the hidden `vxlan-mesh
//! hosts` command, with the `-i`/`--inventory` of the command line being completed (else
//! `$VXLAN_MESH_INVENTORY` or ./vxlan-mesh.toml, as the command itself would read), so names
//! are always the inventory's current ones. A script whose `--host` arm cannot be found is an
//! error, not a silently static script.

use anyhow::{bail, Result};
use clap_complete::Shell;

/// bash: a function printing the host names, for `compgen -W`. `COMP_WORDS` splits
/// `--inventory=FILE` at the `=` (it is in `COMP_WORDBREAKS`); `~` is not expanded there.
const BASH_HOSTS: &str = r#"
_vxlan_mesh_hosts() {
    local i w inv=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
            -i|--inventory)
                [[ ${COMP_WORDS[i+1]} == = ]] && ((i++))
                inv=(-i "${COMP_WORDS[i+1]/#\~/$HOME}")
                ;;
            -i?*) inv=(-i "${w#-i}") ;;
        esac
    done
    "${COMP_WORDS[0]/#\~/$HOME}" "${inv[@]}" hosts 2>/dev/null
}
"#;

/// zsh: `_arguments` narrows `$words` to the subcommand's, so the whole line is read from
/// `$BUFFER` (split as the shell would, quotes removed).
const ZSH_HOSTS: &str = r#"(( $+functions[_vxlan_mesh_hosts] )) ||
_vxlan_mesh_hosts() {
    local -a all inv hosts
    local i
    all=(${(Q)${(z)BUFFER}})
    for (( i = 2; i <= $#all; i++ )); do
        case $all[i] in
            (-i|--inventory) inv=(-i ${all[i+1]/#\~/$HOME}) ;;
            (--inventory=*) inv=(-i ${${all[i]#--inventory=}/#\~/$HOME}) ;;
            (-i?*) inv=(-i ${all[i]#-i}) ;;
        esac
    done
    hosts=(${(f)"$(${all[1]/#\~/$HOME} $inv hosts 2>/dev/null)"})
    _describe -t hosts 'host' hosts
}

"#;

/// fish: the tokens of the command line before the cursor.
const FISH_HOSTS: &str = r#"
function __vxlan_mesh_hosts
    set -l tokens (commandline -opc)
    set -l inv
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case -i --inventory
                set inv -i $tokens[(math $i + 1)]
            case '--inventory=*'
                set inv -i (string replace -- --inventory= '' $tokens[$i])
            case '-i?*'
                set inv -i (string sub -s 3 -- $tokens[$i])
        end
    end
    $tokens[1] $inv hosts 2>/dev/null
end
"#;

/// `script`, clap_complete's completion script for `shell`, completing `--host` with host
/// names where the shell is one of bash, zsh and fish; other shells' scripts unchanged.
pub fn patch(shell: Shell, script: &str) -> Result<String> {
    let (patched, sites) = match shell {
        Shell::Bash => bash(script),
        Shell::Zsh => zsh(script),
        Shell::Fish => fish(script),
        _ => return Ok(script.to_string()),
    };
    if sites == 0 {
        bail!("the {shell} completion script has no `--host` to complete (clap_complete changed its output)");
    }
    Ok(patched)
}

/// The bash script: in each subcommand's `--host)` arm, the file completion becomes the host
/// names; the function goes at the end.
fn bash(script: &str) -> (String, usize) {
    const FILES: &str = r#"COMPREPLY=($(compgen -f "${cur}"))"#;
    let mut out = String::with_capacity(script.len() + BASH_HOSTS.len());
    let mut sites = 0;
    let mut in_host_arm = false;
    for line in script.lines() {
        if in_host_arm && line.trim() == FILES {
            out += &line.replace(FILES, r#"COMPREPLY=($(compgen -W "$(_vxlan_mesh_hosts)" -- "${cur}"))"#);
            sites += 1;
        } else {
            out += line;
        }
        out += "\n";
        in_host_arm = line.trim() == "--host)";
    }
    out += BASH_HOSTS;
    (out, sites)
}

/// The zsh script: `--host`'s action becomes the function, defined before the script's last
/// statement (which runs or registers the completion).
fn zsh(script: &str) -> (String, usize) {
    const ACTION: &str = ":HOST:_default'";
    let sites = script
        .lines()
        .filter(|l| l.starts_with("'--host=[") && l.contains(ACTION))
        .count();
    let patched = script.replace(ACTION, ":HOST:_vxlan_mesh_hosts'");
    const LAST: &str = "if [ \"$funcstack[1]\" = \"_vxlan-mesh\" ]; then";
    match patched.rfind(LAST) {
        Some(at) => (format!("{}{ZSH_HOSTS}{}", &patched[..at], &patched[at..]), sites),
        None => (patched, 0),
    }
}

/// The fish script: each `-l host` line gets the host names as its arguments (and no files).
fn fish(script: &str) -> (String, usize) {
    let mut out = String::with_capacity(script.len() + FISH_HOSTS.len());
    let mut sites = 0;
    for line in script.lines() {
        out += line;
        if line.starts_with("complete -c vxlan-mesh ") && line.contains(" -l host -") && line.ends_with(" -r") {
            out += " -f -a \"(__vxlan_mesh_hosts)\"";
            sites += 1;
        }
        out += "\n";
    }
    out += FISH_HOSTS;
    (out, sites)
}
