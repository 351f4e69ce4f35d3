//! Files the networkd, netplan and ifupdown2 forms share: the unit that loads the firewall
//! (through the script, which refuses a foreign table), ebtables loop prevention as a unit,
//! the drop-in on the service that creates the links ([`Manager`]) that orders both before
//! it, and the shell script (`etc/vxlan-mesh/vxlan-mesh.sh`),
//! whose verbs the units run.

use askama::Template;
use vxlan_mesh_core::HostPlan;

use crate::{fill, frr, shell, Header, RenderError, RenderedFile};

const FIREWALL_UNIT: &str = "vxlan-mesh-firewall.service";
const EBTABLES_UNIT: &str = "vxlan-mesh-ebtables.service";
const CLAIM_UNIT: &str = "vxlan-mesh-claim.service";
const SYNC_UNIT: &str = "vxlan-mesh-sync.service";
const UNIT_DIR: &str = "etc/systemd/system";

/// The service that creates the links from the form's files, which the units are ordered
/// around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Manager {
    /// systemd-networkd (the networkd, netplan and Ignition forms).
    Networkd,
    /// ifupdown2's `networking.service` (`ifup -a` at boot, `ifreload -a` on reload).
    Ifupdown2,
}

impl Manager {
    /// Its name in prose.
    fn daemon(self) -> &'static str {
        match self {
            Manager::Networkd => "systemd-networkd",
            Manager::Ifupdown2 => "ifupdown2 (networking.service)",
        }
    }

    /// The unit's name.
    fn service(self) -> &'static str {
        match self {
            Manager::Networkd => "systemd-networkd.service",
            Manager::Ifupdown2 => "networking.service",
        }
    }
}

#[derive(Template)]
#[template(path = "firewall.service")]
struct FirewallUnit<'a> {
    h: &'a Header,
    service: &'static str,
    table: &'a str,
    script: &'a str,
}

#[derive(Template)]
#[template(path = "ebtables.service")]
struct EbtablesUnit<'a> {
    h: &'a Header,
    service: &'static str,
    chain: &'a str,
    script: String,
}

#[derive(Template)]
#[template(path = "claim.service")]
struct ClaimUnit<'a> {
    h: &'a Header,
    service: &'static str,
    script: &'a str,
}

#[derive(Template)]
#[template(path = "sync.service")]
struct SyncUnit<'a> {
    h: &'a Header,
    service: &'static str,
    daemon: &'static str,
    script: &'a str,
    /// evpn mode: the sync also loads FRR's configuration, so it runs after FRR (and again
    /// when FRR restarts, which forgets what was loaded).
    frr: bool,
}

#[derive(Template)]
#[template(path = "networkd-wants.conf")]
struct NetworkdWants<'a> {
    h: &'a Header,
    daemon: &'static str,
    ebtables: bool,
    firewall: bool,
    /// Units that run before networkd.
    before: Vec<&'static str>,
    sync: &'static str,
}

/// The script, the firewall and loop-prevention files of `plan`, the sync unit and the
/// drop-in on `manager`'s service that pulls them in.
pub(crate) fn render(plan: &HostPlan, h: &Header, manager: Manager) -> Result<Vec<RenderedFile>, RenderError> {
    let service = manager.service();
    // The script is shipped with these forms: the units run its verbs.
    let mut files = shell::render(plan, h)?;
    let script = format!("/{}", shell::PATH);
    let mut units = Vec::new();
    if let Some(fw) = &plan.firewall {
        let path = format!("{UNIT_DIR}/{FIREWALL_UNIT}");
        let unit = FirewallUnit {
            h,
            service,
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
            service,
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
    let unit = ClaimUnit {
        h,
        service,
        script: &script,
    };
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
        service,
        daemon: manager.daemon(),
        script: &script,
        frr: plan.evpn.is_some(),
    };
    files.push(RenderedFile {
        contents: fill(&path, &unit)?,
        path: path.into(),
        mode: 0o644,
    });
    let path = format!("{UNIT_DIR}/{service}.d/50-vxlan-mesh.conf");
    let wants = NetworkdWants {
        h,
        daemon: manager.daemon(),
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
