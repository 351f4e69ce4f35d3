//! Files the networkd and netplan forms share: the unit that loads the firewall, ebtables loop prevention as a unit, the systemd-networkd.service drop-in
//! that orders both before networkd, and the shell script (`usr/local/sbin/vxlan-mesh.sh`),
//! whose verbs the units run.

use askama::Template;
use vxlan_mesh_core::HostPlan;

use crate::{fill, frr, shell, Header, RenderError, RenderedFile};

const FIREWALL_UNIT: &str = "vxlan-mesh-firewall.service";
const EBTABLES_UNIT: &str = "vxlan-mesh-ebtables.service";
const CLAIM_UNIT: &str = "vxlan-mesh-claim.service";
const SYNC_UNIT: &str = "vxlan-mesh-sync.service";
const UNIT_DIR: &str = "etc/systemd/system";

#[derive(Template)]
#[template(path = "firewall.service")]
struct FirewallUnit<'a> {
    h: &'a Header,
    table: &'a str,
    script: &'a str,
}

#[derive(Template)]
#[template(path = "ebtables.service")]
struct EbtablesUnit<'a> {
    h: &'a Header,
    chain: &'a str,
    script: String,
}

#[derive(Template)]
#[template(path = "claim.service")]
struct ClaimUnit<'a> {
    h: &'a Header,
    script: &'a str,
}

#[derive(Template)]
#[template(path = "sync.service")]
struct SyncUnit<'a> {
    h: &'a Header,
    script: &'a str,
    /// evpn mode: the sync also loads FRR's configuration, so it runs after FRR (and again
    /// when FRR restarts, which forgets what was loaded).
    frr: bool,
}

#[derive(Template)]
#[template(path = "networkd-wants.conf")]
struct NetworkdWants<'a> {
    h: &'a Header,
    ebtables: bool,
    firewall: bool,
    /// Units that run before networkd.
    before: Vec<&'static str>,
    sync: &'static str,
}

/// The script, the firewall and loop-prevention files of `plan`, the sync unit and the
/// systemd-networkd drop-in that pulls them in.
pub(crate) fn render(plan: &HostPlan, h: &Header) -> Result<Vec<RenderedFile>, RenderError> {
    // The script is shipped with these forms: the units run its verbs.
    let mut files = shell::render(plan, h)?;
    let script = format!("/{}", shell::PATH);
    let mut units = Vec::new();
    if let Some(fw) = &plan.firewall {
        let path = format!("{UNIT_DIR}/{FIREWALL_UNIT}");
        let unit = FirewallUnit {
            h,
            table: &fw.table,
            // The script holds the core's nft text and refuses a foreign table.
            script: &script,
        };
        files.push(RenderedFile {
            contents: fill(&path, &unit)?,
            path: path.into(),
            mode: 0o644,
        });
        units.push(FIREWALL_UNIT);
    }
    if let Some(rules) = &plan.loop_rules {
        let path = format!("{UNIT_DIR}/{EBTABLES_UNIT}");
        let unit = EbtablesUnit {
            h,
            chain: &rules.chain,
            script: script.clone(),
        };
        files.push(RenderedFile {
            contents: fill(&path, &unit)?,
            path: path.into(),
            mode: 0o644,
        });
        units.push(EBTABLES_UNIT);
    }
    // The links networkd finds rather than makes are not the sync's to mark.
    let path = format!("{UNIT_DIR}/{CLAIM_UNIT}");
    let unit = ClaimUnit { h, script: &script };
    files.push(RenderedFile {
        contents: fill(&path, &unit)?,
        path: path.into(),
        mode: 0o644,
    });
    units.push(CLAIM_UNIT);
    let path = format!("{UNIT_DIR}/{SYNC_UNIT}");
    // evpn mode: the script's sync loads this file's block into FRR.
    files.extend(frr::render(plan, h)?);
    let unit = SyncUnit {
        h,
        script: &script,
        frr: plan.evpn.is_some(),
    };
    files.push(RenderedFile {
        contents: fill(&path, &unit)?,
        path: path.into(),
        mode: 0o644,
    });
    let path = format!("{UNIT_DIR}/systemd-networkd.service.d/50-vxlan-mesh.conf");
    let wants = NetworkdWants {
        h,
        ebtables: plan.loop_rules.is_some(),
        firewall: plan.firewall.is_some(),
        before: units,
        sync: SYNC_UNIT,
    };
    files.push(RenderedFile {
        contents: fill(&path, &wants)?,
        path: path.into(),
        mode: 0o644,
    });
    Ok(files)
}
