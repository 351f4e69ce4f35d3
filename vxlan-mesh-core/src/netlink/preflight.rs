//! What the kernel would refuse, or what would break beyond our own objects, found before
//! anything is changed: an apply that cannot finish must not start by deleting a working
//! device.

use std::net::IpAddr;

use super::observe::Links;
use super::socket::Socket;
use super::{external, wireguard};
use super::{ApplyError, Warning};
use crate::argv::Program;
use crate::diff::{Change, Observed};
use crate::plan::{HostPlan, Vxlan};

/// Refuses `changes` when the kernel would refuse one of them or clamp the plan's MTU;
/// otherwise returns what the caller should be warned about.
pub(crate) fn check(
    socket: &mut Socket,
    plan: Option<&HostPlan>,
    observed: &Observed,
    changes: &[Change],
    links: &Links,
) -> Result<Vec<Warning>, ApplyError> {
    if let Some(plan) = plan {
        underlay_mtu(socket, plan, links)?;
    }
    vni_in_use(changes, links)?;
    tools(changes)?;
    key_file(changes)?;
    let mut warnings = foreign_bridge_ports(observed, changes, links);
    warnings.extend(userspace_wireguard(changes)?);
    Ok(warnings)
}

/// The private key file a WireGuard change gives `wg` must be there before anything is
/// changed: a missing one found after the interface was made would leave it keyless.
fn key_file(changes: &[Change]) -> Result<(), ApplyError> {
    for change in changes {
        let wanted = match change {
            Change::CreateWireguard { wireguard } | Change::UpdateWireguard { to: wireguard, .. } => wireguard,
            _ => continue,
        };
        let readable = wanted
            .private_key_file
            .as_ref()
            .is_some_and(|f| std::fs::File::open(f).is_ok());
        if !readable {
            return Err(ApplyError::Missing {
                role: "WireGuard private key file",
                name: wanted
                    .private_key_file
                    .as_ref()
                    .map_or_else(|| "(none given)".to_string(), |f| f.display().to_string()),
                by: wanted.interface.clone(),
            });
        }
    }
    Ok(())
}

/// A WireGuard interface to create where the kernel has none is run by wireguard-go, which
/// must then be there: said once, as a warning.
fn userspace_wireguard(changes: &[Change]) -> Result<Vec<Warning>, ApplyError> {
    if wireguard::kernel_has_wireguard() {
        return Ok(Vec::new());
    }
    let mut warnings = Vec::new();
    for change in changes {
        if let Change::CreateWireguard { wireguard } = change {
            if external::find_program(wireguard::USERSPACE).is_none() {
                return Err(ApplyError::ToolMissing {
                    program: wireguard::USERSPACE,
                });
            }
            warnings.push(Warning::Userspace {
                interface: wireguard.interface.clone(),
            });
        }
    }
    Ok(warnings)
}

/// The programs the changes run must be there before the first change is made: a missing
/// `ebtables` found only after the bridges were made would leave a half-applied host.
fn tools(changes: &[Change]) -> Result<(), ApplyError> {
    for change in changes {
        let program = match change {
            Change::InstallLoopRules { .. } | Change::RemoveLoopRules { .. } => Program::Ebtables.name(),
            Change::InstallFirewall { .. } | Change::RemoveFirewall { .. } => Program::Nft.name(),
            Change::CreateWireguard { .. } | Change::UpdateWireguard { .. } => Program::Wg.name(),
            _ => continue,
        };
        if external::find_program(program).is_none() {
            return Err(ApplyError::ToolMissing { program });
        }
    }
    Ok(())
}

/// The underlay must carry `underlay-mtu`: the device's MTU when the tunnels are bound to
/// one (the kernel clamps a VXLAN device's MTU to its lower device's), else the MTU of the
/// route towards each peer.
fn underlay_mtu(socket: &mut Socket, plan: &HostPlan, links: &Links) -> Result<(), ApplyError> {
    if plan.vxlans().next().is_none() {
        return Ok(());
    }
    let name_of = |index: u32| links.index.iter().find(|(_, i)| **i == index).map(|(n, _)| n.clone());
    let too_small = |device: String, mtu: u32, towards: Option<IpAddr>| ApplyError::UnderlayMtu {
        host: plan.host.clone(),
        underlay_mtu: plan.underlay_mtu,
        device,
        mtu,
        towards,
    };
    if let Some(device) = &plan.underlay_device {
        let mtu = links
            .index
            .get(device)
            .and_then(|i| links.mtu.get(i))
            .ok_or_else(|| ApplyError::Missing {
                role: "underlay device",
                name: device.clone(),
                by: format!("host {}", plan.host),
            })?;
        if *mtu < plan.underlay_mtu {
            return Err(too_small(device.clone(), *mtu, None));
        }
        return Ok(());
    }
    let addresses: Vec<IpAddr> = plan.peers.iter().map(|p| p.address).collect();
    let routes = socket.routes_to(&addresses)?;
    for (address, route) in addresses.into_iter().zip(routes) {
        let Some((oif, metric)) = route else {
            continue;
        };
        let device_mtu = links.mtu.get(&oif).copied();
        let Some(mtu) = metric.into_iter().chain(device_mtu).min() else {
            continue;
        };
        if mtu < plan.underlay_mtu {
            let device = name_of(oif).unwrap_or_else(|| format!("#{oif}"));
            return Err(too_small(device, mtu, Some(address)));
        }
    }
    Ok(())
}

/// The VXLAN devices `changes` create.
fn created(changes: &[Change]) -> impl Iterator<Item = &Vxlan> {
    changes.iter().filter_map(|c| match c {
        Change::CreateVxlan { vxlan } | Change::RecreateVxlan { to: vxlan, .. } => Some(vxlan),
        _ => None,
    })
}

/// A foreign VXLAN device holding a VNI and port one of ours needs: the kernel refuses the
/// second device (`File exists`), so a recreation would delete ours and fail.
fn vni_in_use(changes: &[Change], links: &Links) -> Result<(), ApplyError> {
    for ours in created(changes) {
        if let Some(foreign) = links.foreign_vxlans.iter().find(|f| f.clashes_with(ours)) {
            return Err(ApplyError::VniInUse {
                device: ours.name.clone(),
                vni: ours.vni,
                port: ours.port,
                foreign: foreign.name.clone(),
            });
        }
    }
    Ok(())
}

/// Bridges to delete that still have ports vxlan-mesh does not own (containers' veths).
fn foreign_bridge_ports(observed: &Observed, changes: &[Change], links: &Links) -> Vec<Warning> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::DeleteBridge { bridge } => Some(&bridge.name),
            _ => None,
        })
        .filter_map(|bridge| {
            let mut ports: Vec<String> = links
                .index
                .get(bridge)
                .and_then(|i| links.ports.get(i))?
                .iter()
                .filter(|p| !observed.vxlans.iter().any(|v| &v.name == *p))
                .cloned()
                .collect();
            ports.sort();
            (!ports.is_empty()).then(|| Warning::ForeignBridgePorts {
                bridge: bridge.clone(),
                ports,
            })
        })
        .collect()
}
