//! The shell commands (`ip`, `bridge`, `ebtables`, `nft`) equivalent to a [`Change`]: what
//! `apply --dry-run` prints. Pure text; the netlink apply does the same through the kernel
//! API, in the same order (created down; alias, MTU and bridge; isolation; then up).

use crate::diff::Change;
use crate::firewall::{nft_remove_script, nft_script};
use crate::plan::{Bridge, FdbEntry, LoopRules, Vxlan};

/// The commands equivalent to one change.
///
/// ```
/// use vxlan_mesh_core::{commands, diff, State};
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// let changes = diff(&plan.state(), &State::default()).unwrap();
/// let all: Vec<String> = changes.iter().flat_map(commands::for_change).collect();
/// assert!(all.contains(&"ip link add name vxbr0 type bridge".to_string()));
/// assert!(all.contains(&"bridge fdb append 00:00:00:00:00:00 dev vxm100 dst 192.0.2.2 self permanent".to_string()));
/// ```
pub fn for_change(change: &Change) -> Vec<String> {
    match change {
        Change::InstallFirewall { firewall } => vec![heredoc("nft -f -", &nft_script(firewall))],
        Change::RemoveFirewall { firewall } => vec![heredoc("nft -f -", &nft_remove_script(&firewall.table))],
        Change::DeleteFdb { entry } => vec![fdb("del", entry)],
        Change::AddFdb { entry } => vec![fdb("append", entry)],
        Change::DeleteVxlan { vxlan } => vec![format!("ip link del dev {}", w(&vxlan.name))],
        Change::DeleteBridge { bridge } => vec![format!("ip link del dev {}", w(&bridge.name))],
        Change::CreateBridge { bridge } => create_bridge(bridge),
        Change::UpdateBridge { from, to } => update_bridge(from, to),
        Change::InstallLoopRules { rules } => install_loop_rules(rules),
        Change::RemoveLoopRules { rules } => vec![
            format!("ebtables -t filter -D FORWARD -j {}", rules.chain),
            format!("ebtables -t filter -F {}", rules.chain),
            format!("ebtables -t filter -X {}", rules.chain),
        ],
        Change::CreateVxlan { vxlan } => create_vxlan(vxlan),
        Change::RecreateVxlan { from, to, .. } => {
            let mut v = vec![format!("ip link del dev {}", w(&from.name))];
            v.extend(create_vxlan(to));
            v
        }
        Change::UpdateVxlan { from, to } => update_vxlan(from, to),
    }
}

/// The commands equivalent to a list of changes, in order.
///
/// ```
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a").unwrap();
/// let changes = vxlan_mesh_core::diff(&plan.state(), &Default::default()).unwrap();
/// let script = vxlan_mesh_core::commands::for_changes(&changes);
/// assert!(script.first().unwrap().starts_with("nft -f -"));
/// ```
pub fn for_changes(changes: &[Change]) -> Vec<String> {
    changes.iter().flat_map(for_change).collect()
}

/// One shell word for a name or alias. Names from a validated plan are plain words and stay
/// as they are; names read back from the host (any byte but `/`, `:` and whitespace in an
/// interface name, anything in an alias) are single-quoted, with control characters shown
/// escaped, so that a hostile name in `--dry-run` output can neither run a command when
/// pasted into a shell nor steer the terminal.
fn w(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '@' | '+' | '=' | ','));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", crate::names::shown_message(value).replace('\'', "'\\''"))
    }
}

fn heredoc(command: &str, text: &str) -> String {
    format!("{command} <<'EOF'\n{text}EOF")
}

fn fdb(verb: &str, e: &FdbEntry) -> String {
    let tail = if verb == "append" { " self permanent" } else { " self" };
    format!(
        "bridge fdb {verb} {} dev {} dst {}{tail}",
        e.mac,
        w(&e.device),
        e.destination
    )
}

fn create_bridge(b: &Bridge) -> Vec<String> {
    let mut v = vec![
        format!("ip link add name {} type bridge", w(&b.name)),
        format!("ip link set dev {} alias {} mtu {}", w(&b.name), w(&b.alias), b.mtu),
    ];
    if b.up {
        v.push(format!("ip link set dev {} up", w(&b.name)));
    }
    v
}

fn update_bridge(from: &Bridge, to: &Bridge) -> Vec<String> {
    let mut set = Vec::new();
    if from.alias != to.alias {
        set.push(format!("alias {}", w(&to.alias)));
    }
    if from.mtu != to.mtu {
        set.push(format!("mtu {}", to.mtu));
    }
    if from.up != to.up {
        set.push(if to.up { "up" } else { "down" }.to_string());
    }
    vec![format!("ip link set dev {} {}", w(&to.name), set.join(" "))]
}

fn install_loop_rules(rules: &LoopRules) -> Vec<String> {
    let c = &rules.chain;
    let mut v = vec![format!(
        "ebtables -t filter -N {c} 2>/dev/null || ebtables -t filter -F {c}"
    )];
    for rule in &rules.rules {
        v.push(format!("ebtables -t filter -A {c} {rule}"));
    }
    v.push(format!(
        "ebtables -t filter -L FORWARD | grep -qx -- '-j {c}' || ebtables -t filter -A FORWARD -j {c}"
    ));
    v
}

fn create_vxlan(vx: &Vxlan) -> Vec<String> {
    let mut add = format!(
        "ip link add name {} type vxlan id {} local {}",
        w(&vx.name),
        vx.vni,
        vx.local
    );
    if let Some(r) = vx.remote {
        add.push_str(&format!(" remote {r}"));
    }
    add.push_str(&format!(" dstport {}", vx.port));
    if let Some(d) = &vx.underlay_device {
        add.push_str(&format!(" dev {}", w(d)));
    }
    add.push_str(if vx.learning { " learning" } else { " nolearning" });
    add.push_str(match (vx.local.is_ipv4(), vx.udp_checksum) {
        (true, true) => " udpcsum",
        (true, false) => " noudpcsum",
        (false, true) => " noudp6zerocsumtx noudp6zerocsumrx",
        (false, false) => " udp6zerocsumtx udp6zerocsumrx",
    });
    let mut set = format!("ip link set dev {} alias {} mtu {}", w(&vx.name), w(&vx.alias), vx.mtu);
    if let Some(b) = &vx.bridge {
        set.push_str(&format!(" master {}", w(b)));
    }
    let mut v = vec![add, set];
    if vx.isolated && vx.bridge.is_some() {
        v.push(format!("bridge link set dev {} isolated on", w(&vx.name)));
    }
    if vx.up {
        v.push(format!("ip link set dev {} up", w(&vx.name)));
    }
    v
}

fn update_vxlan(from: &Vxlan, to: &Vxlan) -> Vec<String> {
    let mut v = Vec::new();
    let moved = from.bridge != to.bridge;
    let mut set = Vec::new();
    if from.alias != to.alias {
        set.push(format!("alias {}", w(&to.alias)));
    }
    if moved || (from.up && !to.up) {
        set.push("down".to_string());
    }
    if from.mtu != to.mtu {
        set.push(format!("mtu {}", to.mtu));
    }
    if moved {
        set.push(match &to.bridge {
            Some(b) => format!("master {}", w(b)),
            None => "nomaster".to_string(),
        });
    }
    if !set.is_empty() {
        v.push(format!("ip link set dev {} {}", w(&to.name), set.join(" ")));
    }
    if to.bridge.is_some() && (from.isolated != to.isolated || (moved && to.isolated)) {
        v.push(format!(
            "bridge link set dev {} isolated {}",
            w(&to.name),
            if to.isolated { "on" } else { "off" }
        ));
    }
    if to.up && (!from.up || moved) {
        v.push(format!("ip link set dev {} up", w(&to.name)));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{diff, State};

    #[test]
    fn hostile_observed_names_stay_quoted() {
        assert_eq!(w("vxm100"), "vxm100");
        assert_eq!(w("vxlan-mesh:lan:b"), "vxlan-mesh:lan:b");
        assert_eq!(w("x;reboot"), "'x;reboot'");
        assert_eq!(w("a'b$(id)"), "'a'\\''b$(id)'");
        assert_eq!(w("\u{1b}]0;x\u{7}"), "'\\u{1b}]0;x\\u{7}'");
        assert_eq!(w(""), "''");
        let bridge = Bridge {
            name: "br`id`".into(),
            network: "lan".into(),
            mtu: 1450,
            up: true,
            alias: "vxlan-mesh:lan".into(),
        };
        assert_eq!(
            for_change(&Change::DeleteBridge { bridge }),
            ["ip link del dev 'br`id`'"]
        );
    }

    #[test]
    fn create_order_is_down_then_isolated_then_up() {
        let fleet = crate::Inventory::from_toml_str(
            "mode = \"per-peer\"\n[[networks]]\nname = \"lan\"\nvni = 10\nbridge = \"br0\"\n\
             [[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\n",
        )
        .map_err(crate::Error::from)
        .and_then(|i| i.validate().map_err(crate::Error::from));
        let plan = fleet.ok().and_then(|f| f.plan("a").ok());
        let Some(plan) = plan else {
            unreachable!("valid example")
        };
        let changes = diff(&plan.state(), &State::default()).unwrap_or_default();
        let cmds = for_changes(&changes);
        let pos = |needle: &str| cmds.iter().position(|c| c.contains(needle));
        let add = pos("type vxlan id").unwrap_or(usize::MAX);
        let iso = pos("isolated on").unwrap_or(usize::MAX);
        let up = cmds
            .iter()
            .position(|c| c.starts_with("ip link set dev vxm") && c.ends_with(" up"))
            .unwrap_or(usize::MAX);
        assert!(add < iso && iso < up, "{cmds:#?}");
        assert!(cmds
            .iter()
            .any(|c| c.contains("remote 192.0.2.2 dstport 4789 nolearning udpcsum")));
    }
}
