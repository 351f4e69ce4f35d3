//! `vxlan-mesh lab`: the fleet simulated in network namespaces on this machine (the
//! `vxlan-mesh-lab` fixture), deployed the way the operator will deploy it, and verified.

mod check;
mod deploy;
mod fleet_copy;
mod howto;
mod state;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use vxlan_mesh_core::{Encryption, Mode};
use vxlan_mesh_lab::frr::{cleanup_frr_prefix, FrrLab};
use vxlan_mesh_lab::{cleanup_prefix, names, Lab, LabSpec};

use crate::cli::lab::{LabArgs, LabCommand, Via};
use crate::cli::{Cli, OutputFormat};
use crate::inventory_file;
use crate::output::{self, outln};
use crate::progress::Progress;

/// Runs `lab …`.
pub fn run(cli: &Cli, args: &LabArgs) -> Result<ExitCode> {
    names::check_tag(&args.tag)?;
    match &args.command {
        LabCommand::Up {
            containers,
            via,
            underlay_rate,
        } => up(cli, &args.tag, *containers, *via, underlay_rate.as_deref()),
        LabCommand::Check {
            throughput,
            seconds,
            format,
        } => {
            let st = state::load(&args.tag)?;
            let lab = Lab::open(st.spec.clone());
            let report = check::run(&lab, &st, throughput.then_some(*seconds), cli.quiet)?;
            match format {
                OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&report)?)?,
                OutputFormat::Text => output::print(&report.render_text())?,
            }
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        LabCommand::Cut { host } => {
            let lab = Lab::open(state::load(&args.tag)?.spec);
            lab.cut(host)?;
            if !cli.quiet {
                outln!("cut {host}: its underlay link is down")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Heal { host } => {
            let lab = Lab::open(state::load(&args.tag)?.spec);
            lab.heal(host)?;
            if !cli.quiet {
                outln!("healed {host}: its underlay link is up")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Attach => {
            let lab = Lab::open(state::load(&args.tag)?.spec);
            lab.attach_containers()?;
            if !cli.quiet {
                outln!("attached {} containers", lab.containers().count())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Down => down(cli, &args.tag),
    }
}

fn up(cli: &Cli, tag: &str, containers: usize, via: Via, rate: Option<&str>) -> Result<ExitCode> {
    let started = Instant::now();
    let fleet = inventory_file::load(&cli.inventory)?;
    let inventory = std::fs::canonicalize(&cli.inventory)
        .with_context(|| format!("cannot resolve inventory path `{}`", cli.inventory.display()))?;
    if containers == 0 {
        bail!("`--containers` must be at least 1");
    }
    let deployer = deploy::for_via(via);
    // Refuse before building anything when this build cannot deploy that way.
    deployer.available()?;
    if fleet.encryption() == Encryption::Wireguard {
        deployer.encryption()?;
    }
    // Every host of an evpn fleet runs FRR (its plan has a `router bgp` block).
    let bgp = fleet.mode() == Mode::Evpn;
    if bgp && !matches!(via, Via::Netlink | Via::None) {
        bail!(
            "`--via {}` cannot deploy mode `evpn` in the lab: its BGP configuration is loaded into each host's FRR by `apply`; use `--via netlink`",
            via.as_str()
        );
    }
    if let Some(existing) = vxlan_mesh_lab::list_namespaces(&names::tag_prefix(tag))?.first() {
        bail!("lab `{tag}` exists (namespace `{existing}`); run `vxlan-mesh lab --tag {tag} down` first");
    }
    let workdir = state::workdir(tag);
    // A failed `up` leaves nothing behind: the lab removes its namespaces when dropped, and
    // the lab's keys and files go here.
    let result = (|| -> Result<ExitCode> {
        let fleet = fleet_copy::prepare(&inventory, fleet, &workdir)?;
        let mut spec = LabSpec::from_fleet(&fleet.fleet, containers, tag)?;
        if let Some(rate) = rate {
            spec = spec.with_underlay_rate(rate);
        }
        let hosts = spec.hosts.len();
        let n_containers = spec.containers().count();
        let mut progress = Progress::phases(cli.quiet);
        let lab = Lab::build_with_progress(spec, &mut |p| progress.show(&build_step(&p)))?;
        // Declared after the lab: dropped (stopped) before it on failure.
        let frr = if bgp {
            progress.show("starting zebra and bgpd in every host");
            Some(FrrLab::start(&lab, state::frr_root(tag))?)
        } else {
            None
        };
        let ctx = deploy::Ctx {
            lab: &lab,
            fleet: &fleet,
            workdir: &workdir,
        };
        for (i, host) in lab.spec().hosts.iter().enumerate() {
            progress.show(&format!(
                "deploying via {}: host {}/{hosts} ({})",
                via.as_str(),
                i + 1,
                host.name
            ));
            deployer
                .deploy(&ctx, host)
                .with_context(|| format!("deploying host `{}` via {}", host.name, via.as_str()))?;
        }
        if via != Via::None {
            progress.show("attaching containers");
            deployer.wait_ready(&ctx)?;
            lab.attach_containers()?;
        }
        if let (Some(frr), Via::Netlink) = (&frr, via) {
            progress.show("waiting for BGP EVPN to converge");
            wait_for_bgp(&lab, frr, &fleet.fleet, std::time::Duration::from_secs(60))?;
        }
        progress.clear();
        let commands = howto::lines(&ctx, frr.as_ref())?;
        let st = state::LabState {
            inventory,
            via: via.as_str().to_string(),
            containers,
            spec: lab.spec().clone(),
        };
        state::save(&st)?;
        let _kept = frr.map(FrrLab::persist);
        let _kept = lab.persist();
        if !cli.quiet {
            if fleet.encrypted() {
                outln!(
                    "encrypted: WireGuard with the lab's own key pairs (`{}`), not the hosts' keys; \
                     each host's wireguard-go runs in the host's own mount namespace (`{}/<host namespace>`)",
                    workdir.join("keys").display(),
                    vxlan_mesh_lab::MOUNT_NS_DIR
                )?;
            }
            outln!(
                "lab `{tag}` up: {hosts} hosts, {n_containers} containers, deployed via {} in {:.1}s; \
                 next: vxlan-mesh lab{} {}",
                via.as_str(),
                started.elapsed().as_secs_f64(),
                if tag == "lab" {
                    String::new()
                } else {
                    format!(" --tag {tag}")
                },
                if via == Via::None {
                    "attach (after deploying each host), then check"
                } else {
                    "check"
                }
            )?;
        }
        if !cli.quiet {
            outln!("on each host (as root):")?;
            for line in &commands {
                outln!("{line}")?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })();
    if result.is_err() {
        let _ = state::remove(tag);
    }
    result
}

/// Waits until every host's FRR has its block and reports no health problem (sessions
/// established, every VNI known with remote VTEPs), so that `lab check` right after `up`
/// checks a converged control plane.
fn wait_for_bgp(lab: &Lab, frr: &FrrLab, fleet: &vxlan_mesh_core::Fleet, limit: std::time::Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    for host in &lab.spec().hosts {
        let plan = fleet.plan(&host.name)?;
        let ns = vxlan_mesh_core::netlink::Netns::named(&host.netns)?;
        loop {
            let status = vxlan_mesh_core::host::frr_status(&ns, &plan, &frr.frr(&host.netns))?;
            let left: Vec<String> = status
                .iter()
                .flat_map(|s| {
                    s.changes
                        .iter()
                        .map(ToString::to_string)
                        .chain(s.problems.iter().map(ToString::to_string))
                })
                .collect();
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "host `{}`: BGP EVPN not converged after {} s: {}",
                    host.name,
                    limit.as_secs(),
                    left.join("; ")
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    Ok(())
}

/// A step of the lab's build, as the progress line shows it.
fn build_step(step: &vxlan_mesh_lab::Progress) -> String {
    use vxlan_mesh_lab::Progress as Step;
    match step {
        Step::Namespaces(n) => format!("building lab: {n} namespaces created"),
        Step::Switch => "building lab: underlay switch up".to_string(),
        Step::Host { done, total } => format!("building lab: host {done}/{total}"),
        Step::Container { done, total } => format!("building lab: container {done}/{total}"),
    }
}

fn down(cli: &Cli, tag: &str) -> Result<ExitCode> {
    // FRR's daemons by their pid files, then (after a crashed `lab up`) by their pathspace.
    FrrLab::adopt(state::frr_root(tag)).stop()?;
    cleanup_frr_prefix(&names::tag_prefix(tag))?;
    let mut removed = 0;
    if let Ok(st) = state::load(tag) {
        Lab::adopt(st.spec.clone()).destroy()?;
        removed += st.spec.namespaces().len();
    }
    // Leftovers of a crashed `lab up` (no state file) are found by their prefix.
    removed += cleanup_prefix(&names::tag_prefix(tag))?.len();
    state::remove(tag)?;
    if !cli.quiet {
        outln!("lab `{tag}` down: {removed} namespaces removed")?;
    }
    Ok(ExitCode::SUCCESS)
}
