//! What `lab up` prints last: for each host, the exact commands that run `status`, `probe`,
//! `wg` (encrypted fleets) and `vtysh` (mode evpn) on it — in its network namespace, its
//! mount namespace (where its wireguard-go's socket is), with its key file and its FRR
//! pathspace — built by the functions the lab itself runs commands with.

use anyhow::Result;
use vxlan_mesh_core::netlink::frr::VTYSH;
use vxlan_mesh_lab::frr::FrrLab;
use vxlan_mesh_lab::LabHost;

use super::deploy::{self, Ctx};

/// One line per host and command: `  HOST WHAT: COMMAND`, the command quoted for a POSIX shell.
pub fn lines(ctx: &Ctx<'_>, frr: Option<&FrrLab>) -> Result<Vec<String>> {
    let wg_interface = ctx.fleet.fleet.wireguard().map(|w| w.interface.clone());
    let mut out = Vec::new();
    for host in &ctx.lab.spec().hosts {
        let mut commands = vec![
            ("status", deploy::host_command(ctx, host, "status")?),
            ("probe", deploy::probe_command(ctx, host)?),
        ];
        if let Some(interface) = &wg_interface {
            commands.push(("wg", vec!["wg".into(), "show".into(), interface.clone()]));
        }
        if let Some(frr) = frr {
            let vtysh = std::iter::once(VTYSH.to_string()).chain(frr.frr(&host.netns).vtysh_args());
            commands.push(("vtysh", vtysh.collect()));
        }
        for (what, argv) in commands {
            out.push(format!("  {} {what}: {}", host.name, in_host(ctx, host, &argv)?));
        }
    }
    Ok(out)
}

/// `argv` as run in `host` (`ip netns exec`, or `nsenter` into its mount namespace too).
fn in_host(ctx: &Ctx<'_>, host: &LabHost, argv: &[String]) -> Result<String> {
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let line = ctx.lab.command_line(&host.netns, &argv)?;
    Ok(line.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "))
}

/// `arg` as one word of a POSIX shell: as it is when it holds nothing the shell reads
/// specially, else in single quotes.
fn quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn words_the_shell_would_split_or_expand_are_quoted() {
        assert_eq!(quote("/run/vxlan-mesh-lab/x"), "/run/vxlan-mesh-lab/x");
        assert_eq!(quote("--net=/run/netns/vxm-a-h0"), "--net=/run/netns/vxm-a-h0");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's$"), r"'it'\''s$'");
        assert_eq!(quote(""), "''");
    }
}
