//! The shell script: `templates/vxlan-mesh.sh`, rendered with the single-quoting escaper.
//!
//! The view below holds every value as a `String`, so that each reaches the escaper whole
//! and comes out as one quoted word.

use askama::Template;
use vxlan_mesh_core::names::{DEVICE_PREFIX, OWNER_MARK};
use vxlan_mesh_core::plan::NFT_TABLE;
use vxlan_mesh_core::{firewall, Family, HostPlan};

use crate::{fill, Header, RenderError, RenderedFile};

/// Where the script is installed.
pub(crate) const PATH: &str = "usr/local/sbin/vxlan-mesh.sh";

#[derive(Template)]
#[template(path = "vxlan-mesh.sh")]
struct Script<'a> {
    h: &'a Header,
    host: &'a str,
    mode: &'static str,
    loop_prevention: &'static str,
    firewall_desc: String,
    owner: &'static str,
    prefix: &'static str,
    nft_table: String,
    nft_remove: String,
    firewall: Option<Nft>,
    ebtables: Option<Ebtables>,
    /// Each rule split into its ebtables arguments, so that each is quoted on its own.
    ebtables_rules: Vec<Vec<String>>,
    networks: Vec<Net>,
}

struct Nft {
    apply: String,
}

struct Ebtables {
    chain: String,
}

struct Net {
    name: String,
    bridge: String,
    mtu: String,
    alias: String,
    vxlans: Vec<Vx>,
}

struct Vx {
    description: String,
    name: String,
    vni: String,
    local: String,
    remote: Option<String>,
    port: String,
    device: Option<String>,
    learning: bool,
    v6: bool,
    udp_checksum: bool,
    mtu: String,
    alias: String,
    bridge: Option<String>,
    isolated: bool,
    fdb: Vec<Fdb>,
}

struct Fdb {
    mac: String,
    destination: String,
}

pub(crate) fn render(plan: &HostPlan, h: &Header) -> Result<Vec<RenderedFile>, RenderError> {
    let table = plan.firewall.as_ref().map_or(NFT_TABLE, |fw| fw.table.as_str());
    let script = Script {
        h,
        host: &plan.host,
        mode: plan.mode.as_str(),
        loop_prevention: plan.loop_prevention.describe(),
        firewall_desc: firewall_desc(plan),
        owner: OWNER_MARK,
        prefix: DEVICE_PREFIX,
        nft_table: table.to_string(),
        nft_remove: firewall::nft_remove_script(table),
        firewall: plan.firewall.as_ref().map(|fw| Nft {
            apply: firewall::nft_script(fw),
        }),
        ebtables: plan.loop_rules.as_ref().map(|r| Ebtables { chain: r.chain.clone() }),
        ebtables_rules: plan
            .loop_rules
            .iter()
            .flat_map(|r| &r.rules)
            .map(vxlan_mesh_core::LoopRule::ebtables_args)
            .collect(),
        networks: plan
            .networks
            .iter()
            .map(|net| Net {
                name: net.name.clone(),
                bridge: net.bridge.name.clone(),
                mtu: net.bridge.mtu.to_string(),
                alias: net.bridge.alias.clone(),
                vxlans: net
                    .vxlans
                    .iter()
                    .map(|v| Vx {
                        description: match &v.peer {
                            Some(peer) => format!("VXLAN device towards {peer}, VNI {}", v.vni),
                            None => format!("VXLAN device, VNI {}, flooding to {} peer(s)", v.vni, net.fdb.len()),
                        },
                        name: v.name.clone(),
                        vni: v.vni.to_string(),
                        local: v.local.to_string(),
                        remote: v.remote.map(|r| r.to_string()),
                        port: v.port.to_string(),
                        device: v.underlay_device.clone(),
                        learning: v.learning,
                        v6: Family::of(&v.local) == Family::V6,
                        udp_checksum: v.udp_checksum,
                        mtu: v.mtu.to_string(),
                        alias: v.alias.clone(),
                        bridge: v.bridge.clone(),
                        isolated: v.isolated,
                        fdb: net
                            .fdb
                            .iter()
                            .filter(|e| e.device == v.name)
                            .map(|e| Fdb {
                                mac: e.mac.to_string(),
                                destination: e.destination.to_string(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
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
