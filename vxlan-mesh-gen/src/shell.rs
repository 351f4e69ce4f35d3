//! The shell script: `templates/vxlan-mesh.sh`, rendered with the single-quoting escaper.
//!
//! The view below holds every value as a `String`, so that each reaches the escaper whole
//! and comes out as one quoted word. Every command that changes the system is an argument
//! vector built here ([`Argv`]) and written by the template as one `run ...` line; the
//! template only decides *whether* to run it, by comparing the host's current state with
//! the wanted values the view also provides.

use askama::Template;
use vxlan_mesh_core::names::OWNER_MARK;
use vxlan_mesh_core::plan::{EBTABLES_CHAIN, NFT_TABLE};
use vxlan_mesh_core::{firewall, Family, HostPlan, LoopRule, NetworkPlan, Vxlan};

use crate::{fill, Header, RenderError, RenderedFile};

/// Where the script is installed.
pub(crate) const PATH: &str = "usr/local/sbin/vxlan-mesh.sh";

/// One command as its words; the template quotes each word.
type Argv = Vec<String>;

fn argv(words: &[&str]) -> Argv {
    words.iter().map(|w| (*w).to_string()).collect()
}

#[derive(Template)]
#[template(path = "vxlan-mesh.sh")]
struct Script<'a> {
    h: &'a Header,
    host: &'a str,
    mode: &'static str,
    loop_prevention: &'static str,
    firewall_desc: String,
    owner: &'static str,
    nft_table: String,
    nft_remove: String,
    firewall: Option<Nft>,
    chain: &'static str,
    /// The loop-prevention chain as the plan wants it (ebtables mode).
    ebtables: Option<Ebtables>,
    /// Commands that remove the chain and its jump (run when present and not wanted).
    ebtables_remove: EbtablesRemove,
    /// Every interface name the plan wants: owned links with other names are stale.
    wanted_links: Vec<String>,
    networks: Vec<Net>,
}

struct Nft {
    apply: String,
    /// The peers' addresses, one per line.
    peers: String,
    port: String,
}

struct Ebtables {
    /// The chain's rules as `ebtables -L` lists them, one per line.
    listing: String,
    create: Argv,
    flush: Argv,
    rules: Vec<Argv>,
    jump_delete: Argv,
    jump_insert: Argv,
}

struct EbtablesRemove {
    jump_delete: Argv,
    flush: Argv,
    delete: Argv,
}

struct Net {
    name: String,
    bridge: String,
    mtu: String,
    alias: String,
    create: Argv,
    set_mtu: Argv,
    set_alias: Argv,
    set_up: Argv,
    vxlans: Vec<Vx>,
}

struct Vx {
    description: String,
    name: String,
    /// The attributes that cannot change in place, as `vxlan_sig` prints them.
    signature: String,
    /// The `remote` whose flood entry the kernel implies ('' in flood mode).
    remote: String,
    mtu: String,
    alias: String,
    bridge: String,
    isolated: &'static str,
    delete: Argv,
    create: Argv,
    set_mtu: Argv,
    set_alias: Argv,
    set_down: Argv,
    set_master: Argv,
    set_isolated: Argv,
    set_up: Argv,
    fdb: Vec<Fdb>,
}

struct Fdb {
    /// `MAC@DESTINATION`, as `prune_fdb` compares entries.
    key: String,
    mac: String,
    destination: String,
    add: Argv,
}

/// The wanted fixed attributes of `v` in the words `vxlan_sig` (in the template) prints
/// for an existing device.
fn signature(v: &Vxlan) -> String {
    format!(
        "vni {} local {} remote {} dev {} port {} learning {} checksum {}",
        v.vni,
        v.local,
        v.remote.map_or_else(|| "none".to_string(), |r| r.to_string()),
        v.underlay_device.as_deref().unwrap_or("none"),
        v.port,
        if v.learning { "on" } else { "off" },
        if v.udp_checksum { "on" } else { "off" },
    )
}

fn create_vxlan(v: &Vxlan) -> Argv {
    let (vni, local, port) = (v.vni.to_string(), v.local.to_string(), v.port.to_string());
    let mut a = argv(&[
        "ip", "link", "add", "name", &v.name, "type", "vxlan", "id", &vni, "local", &local,
    ]);
    if let Some(r) = v.remote {
        a.extend(argv(&["remote", &r.to_string()]));
    }
    a.extend(argv(&["dstport", &port]));
    if let Some(d) = &v.underlay_device {
        a.extend(argv(&["dev", d]));
    }
    a.push(if v.learning { "learning" } else { "nolearning" }.to_string());
    let checksum: &[&str] = match (Family::of(&v.local), v.udp_checksum) {
        (Family::V4, true) => &["udpcsum"],
        (Family::V4, false) => &["noudpcsum"],
        (Family::V6, true) => &["noudp6zerocsumtx", "noudp6zerocsumrx"],
        (Family::V6, false) => &["udp6zerocsumtx", "udp6zerocsumrx"],
    };
    a.extend(argv(checksum));
    a
}

fn link_set(name: &str, rest: &[&str]) -> Argv {
    let mut a = argv(&["ip", "link", "set", "dev", name]);
    a.extend(argv(rest));
    a
}

fn vx(net: &NetworkPlan, v: &Vxlan) -> Vx {
    let mtu = v.mtu.to_string();
    let bridge = v.bridge.clone().unwrap_or_default();
    let isolated = if v.isolated { "on" } else { "off" };
    Vx {
        description: match &v.peer {
            Some(peer) => format!("VXLAN device towards {peer}, VNI {}", v.vni),
            None => format!("VXLAN device, VNI {}, flooding to {} peer(s)", v.vni, net.fdb.len()),
        },
        name: v.name.clone(),
        signature: signature(v),
        remote: v.remote.map(|r| r.to_string()).unwrap_or_default(),
        delete: argv(&["ip", "link", "del", "dev", &v.name]),
        create: create_vxlan(v),
        set_mtu: link_set(&v.name, &["mtu", &mtu]),
        set_alias: link_set(&v.name, &["alias", &v.alias]),
        set_down: link_set(&v.name, &["down"]),
        set_master: link_set(&v.name, &["master", &bridge]),
        set_isolated: argv(&["bridge", "link", "set", "dev", &v.name, "isolated", isolated]),
        set_up: link_set(&v.name, &["up"]),
        mtu,
        alias: v.alias.clone(),
        bridge,
        isolated,
        fdb: net
            .fdb
            .iter()
            .filter(|e| e.device == v.name)
            .map(|e| {
                let (mac, destination) = (e.mac.to_string(), e.destination.to_string());
                Fdb {
                    key: format!("{mac}@{destination}"),
                    add: argv(&["bridge", "fdb", "append", &mac, "dev", &v.name, "dst", &destination]),
                    mac,
                    destination,
                }
            })
            .collect(),
    }
}

fn net(n: &NetworkPlan) -> Net {
    let br = &n.bridge;
    let mtu = br.mtu.to_string();
    Net {
        name: n.name.clone(),
        bridge: br.name.clone(),
        create: argv(&["ip", "link", "add", "name", &br.name, "type", "bridge"]),
        set_mtu: link_set(&br.name, &["mtu", &mtu]),
        set_alias: link_set(&br.name, &["alias", &br.alias]),
        set_up: link_set(&br.name, &["up"]),
        mtu,
        alias: br.alias.clone(),
        vxlans: n.vxlans.iter().map(|v| vx(n, v)).collect(),
    }
}

fn ebtables(chain: &str, rules: &[LoopRule]) -> Ebtables {
    let rule_words: Vec<Argv> = rules
        .iter()
        .map(|rule| {
            let mut a = argv(&["ebtables", "-t", "filter", "-A", chain]);
            a.extend(rule.ebtables_args());
            a
        })
        .collect();
    Ebtables {
        listing: rules
            .iter()
            .map(|r| r.ebtables_args().join(" "))
            .collect::<Vec<_>>()
            .join("\n"),
        create: argv(&["ebtables", "-t", "filter", "-N", chain]),
        flush: argv(&["ebtables", "-t", "filter", "-F", chain]),
        rules: rule_words,
        jump_delete: argv(&["ebtables", "-t", "filter", "-D", "FORWARD", "-j", chain]),
        // Position 1: evaluated before any rule of other tools that could accept the frame.
        jump_insert: argv(&["ebtables", "-t", "filter", "-I", "FORWARD", "1", "-j", chain]),
    }
}

pub(crate) fn render(plan: &HostPlan, h: &Header) -> Result<Vec<RenderedFile>, RenderError> {
    let table = plan.firewall.as_ref().map_or(NFT_TABLE, |fw| fw.table.as_str());
    let mut wanted_links = Vec::new();
    for n in &plan.networks {
        wanted_links.push(n.bridge.name.clone());
        wanted_links.extend(n.vxlans.iter().map(|v| v.name.clone()));
    }
    let script = Script {
        h,
        host: &plan.host,
        mode: plan.mode.as_str(),
        loop_prevention: plan.loop_prevention.describe(),
        firewall_desc: firewall_desc(plan),
        owner: OWNER_MARK,
        nft_table: table.to_string(),
        nft_remove: firewall::nft_remove_script(table),
        firewall: plan.firewall.as_ref().map(|fw| Nft {
            apply: firewall::nft_script(fw),
            peers: fw.peers.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
            port: fw.port.to_string(),
        }),
        chain: EBTABLES_CHAIN,
        ebtables: plan.loop_rules.as_ref().map(|r| ebtables(&r.chain, &r.rules)),
        ebtables_remove: EbtablesRemove {
            jump_delete: argv(&["ebtables", "-t", "filter", "-D", "FORWARD", "-j", EBTABLES_CHAIN]),
            flush: argv(&["ebtables", "-t", "filter", "-F", EBTABLES_CHAIN]),
            delete: argv(&["ebtables", "-t", "filter", "-X", EBTABLES_CHAIN]),
        },
        wanted_links,
        networks: plan.networks.iter().map(net).collect(),
    };
    Ok(vec![RenderedFile {
        path: PATH.into(),
        mode: 0o755,
        contents: fill(PATH, &script)?,
    }])
}

/// One line on the firewall for headers of every format.
pub(crate) fn firewall_desc(plan: &HostPlan) -> String {
    match &plan.firewall {
        Some(fw) => format!(
            "nftables table inet {} accepts UDP {} from the {} peer(s) only",
            fw.table,
            fw.port,
            fw.peers.len()
        ),
        None => format!("off in the inventory; UDP {} is open to anyone", plan.port),
    }
}
