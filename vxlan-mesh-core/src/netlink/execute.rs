//! Executing the lowered [`Op`]s, in order, with netlink requests pipelined in stages.
//!
//! Netlink requests accumulate in three stages that run in order when flushed: `setup`
//! (deletions, creations down with their ownership alias, MTU and bridge), `ports` (bridge
//! port flags), then the IPv6 sysctls of the devices, and `up`. So a new port joins its bridge down, is isolated, and only
//! then comes up: an isolated port never forwards before isolation is set, even if the
//! process dies between stages. Consecutive requests for one device form one group, sent in
//! one datagram: creating a device and marking it ours cannot be split by a SIGKILL. Stages
//! are flushed before every operation that is not netlink (ebtables, nftables: run as
//! [`argv::of`] writes them) and before a request needs the index of a device created in
//! this run.

use std::collections::HashMap;

use super::requests as rq;
use super::socket::{Batch, Request, Socket};
use super::{external, observe, wireguard, ApplyError};
use crate::argv;
use crate::ops::{LinkSettings, Master, Op};
use crate::Ipv6Conf;

/// The kernel's answer to a link kind it does not know.
const EOPNOTSUPP: i32 = 95;

/// One stage: whole groups, plus the group still open for the last device named.
#[derive(Default)]
struct Stage {
    batch: Batch,
    open: Option<(String, Vec<Request>)>,
}

impl Stage {
    fn add(&mut self, device: &str, requests: Vec<Request>) {
        match &mut self.open {
            Some((open, pending)) if open == device => pending.extend(requests),
            _ => {
                self.close();
                self.open = Some((device.to_string(), requests));
            }
        }
    }

    fn close(&mut self) {
        if let Some((device, requests)) = self.open.take() {
            self.batch.group(&device, requests);
        }
    }

    fn into_batch(mut self) -> Batch {
        self.close();
        self.batch
    }
}

#[derive(Default)]
struct Stages {
    setup: Stage,
    ports: Stage,
    /// Sysctl files to write after `ports` and before `up` (by device): the IPv6
    /// hardening, which no netlink request carries, set before the device comes up.
    sysctls: Vec<(String, std::path::PathBuf, &'static str)>,
    up: Stage,
}

struct Executor<'a> {
    socket: &'a mut Socket,
    index: HashMap<String, u32>,
    stages: Stages,
}

impl Executor<'_> {
    /// Runs the stages in order. A device refused in one stage is left out of the later
    /// ones (never brought up unless isolated); the others go on, and the first refusal is
    /// returned.
    fn flush(&mut self) -> Result<(), ApplyError> {
        let stages = std::mem::take(&mut self.stages);
        let mut failed: Vec<String> = Vec::new();
        let mut first_error = None;
        for (i, stage) in [stages.setup, stages.ports, stages.up].into_iter().enumerate() {
            if i == 2 {
                for (device, path, value) in &stages.sysctls {
                    if failed.contains(device) {
                        continue;
                    }
                    if let Err(source) = std::fs::write(path, value) {
                        failed.push(device.clone());
                        first_error = first_error.or(Some(ApplyError::Sysctl {
                            path: path.clone(),
                            source,
                        }));
                    }
                }
            }
            let batch = stage.into_batch();
            if !batch.is_empty() {
                let outcome = self.socket.execute(batch, &failed)?;
                failed.extend(outcome.failed);
                first_error = first_error.or(outcome.first_error);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The index of `name`, flushing pending work and re-reading links if it was created
    /// in this run.
    fn index_of(&mut self, name: &str, role: &'static str, by: &str) -> Result<u32, ApplyError> {
        if let Some(i) = self.index.get(name) {
            return Ok(*i);
        }
        self.flush()?;
        self.index = observe::links(&self.socket.dump_links()?).index;
        self.index.get(name).copied().ok_or_else(|| ApplyError::Missing {
            role,
            name: name.to_string(),
            by: by.to_string(),
        })
    }

    fn optional_index(&mut self, name: Option<&str>, role: &'static str, by: &str) -> Result<Option<u32>, ApplyError> {
        name.map(|n| self.index_of(n, role, by)).transpose()
    }

    fn set_link(&mut self, name: &str, s: &LinkSettings) -> Result<(), ApplyError> {
        // Resolved before any request is queued: a lookup may flush, and must not split a
        // device's group.
        let master = match &s.master {
            Some(Master::Bridge(b)) => Some(self.index_of(b, "bridge", name)?),
            Some(Master::None) => Some(0),
            None => None,
        };
        let mut setup = Vec::new();
        if let Some(alias) = &s.alias {
            setup.push(rq::set_alias(name, alias));
        }
        if s.up == Some(false) {
            setup.push(rq::set_up(name, false));
        }
        if let Some(mtu) = s.mtu {
            setup.push(rq::set_mtu(name, mtu));
        }
        if let Some(index) = master {
            setup.push(rq::set_master(name, index));
        }
        self.stages.setup.add(name, setup);
        if s.up == Some(true) {
            self.stages.up.add(name, vec![rq::set_up(name, true)]);
        }
        Ok(())
    }

    /// A kernel `wireguard` link; where the kernel does not know the kind, a wireguard-go
    /// daemon's TUN device (as wg-quick falls back).
    fn create_wireguard(&mut self, name: &str) -> Result<(), ApplyError> {
        self.flush()?;
        let mut batch = Batch::default();
        batch.group(name, vec![rq::create_wireguard(name)]);
        match self.socket.execute(batch, &[])?.first_error {
            None => {}
            Some(ApplyError::Netlink { source, .. }) if source.raw_os_error() == Some(EOPNOTSUPP) => {
                wireguard::start_userspace(name)?;
            }
            Some(e) => return Err(e),
        }
        self.index.remove(name);
        Ok(())
    }

    fn op(&mut self, op: &Op) -> Result<(), ApplyError> {
        match op {
            Op::CreateBridge { name } => {
                self.stages.setup.add(name, vec![rq::create_bridge(name)]);
                self.index.remove(name);
            }
            Op::CreateVxlan { vxlan } => {
                let underlay = self.optional_index(vxlan.underlay_device.as_deref(), "underlay device", &vxlan.name)?;
                // Learnt now, so that the `SetLink` that follows (alias, MTU, bridge: one
                // group with the creation) needs no lookup.
                self.optional_index(vxlan.bridge.as_deref(), "bridge", &vxlan.name)?;
                self.stages
                    .setup
                    .add(&vxlan.name, vec![rq::create_vxlan(vxlan, underlay)]);
                self.index.remove(&vxlan.name);
            }
            Op::SetLink { name, settings } => self.set_link(name, settings)?,
            Op::DeleteLink { name } => {
                let i = self.index_of(name, "interface", name)?;
                self.stages
                    .setup
                    .add(name, vec![rq::delete_link(name, i, "delete interface")]);
                self.index.remove(name);
            }
            Op::SetPortFlags { name, flags } => {
                self.stages.ports.add(name, vec![rq::set_port_flags(name, flags)]);
            }
            Op::SetArpAccept { bridge, accept } => {
                // A sysctl, not a link attribute: the bridge must exist first.
                self.flush()?;
                let path = arp_accept_path(bridge);
                std::fs::write(&path, if *accept { "1" } else { "0" })
                    .map_err(|source| ApplyError::Sysctl { path, source })?;
            }
            Op::HardenIpv6 { name } => {
                // Sysctls, not link attributes: written once the interface exists, before
                // it comes up (when it would get a link-local address).
                for (setting, value) in Ipv6Conf::SETTINGS {
                    let path = std::path::Path::new("/proc/sys/net/ipv6/conf").join(name).join(setting);
                    self.stages.sysctls.push((name.clone(), path, value));
                }
            }
            // iproute2 finds the addresses and deletes each: run what `--dry-run` prints.
            Op::FlushIpv6 { .. } => {
                self.flush()?;
                external::run_command(&argv::of(op))?;
            }
            Op::AddFdb { entry } => {
                let i = self.index_of(&entry.device, "vxlan device", &entry.device)?;
                let via = self.optional_index(entry.via.as_deref(), "underlay interface", &entry.device)?;
                self.stages.setup.add(&entry.device, vec![rq::add_fdb(entry, i, via)]);
            }
            Op::DeleteFdb { entry } => {
                let i = self.index_of(&entry.device, "vxlan device", &entry.device)?;
                let via = self.optional_index(entry.via.as_deref(), "underlay interface", &entry.device)?;
                self.stages
                    .setup
                    .add(&entry.device, vec![rq::delete_fdb(entry, i, via)]);
            }
            Op::CreateWireguard { name } => self.create_wireguard(name)?,
            Op::AddAddress {
                interface,
                address,
                prefix_len,
            }
            | Op::DeleteAddress {
                interface,
                address,
                prefix_len,
            } => {
                let i = self.index_of(interface, "wireguard interface", interface)?;
                let add = matches!(op, Op::AddAddress { .. });
                self.stages
                    .setup
                    .add(interface, vec![rq::address(interface, i, *address, *prefix_len, add)]);
            }
            // ebtables, nftables and wg: run the command `--dry-run` prints, after
            // everything queued before it.
            Op::ConfigureWireguard { .. } | Op::SetPeer { .. } | Op::RemovePeer { .. } => {
                self.flush()?;
                external::run_command(&argv::of(op))?;
            }
            Op::LoadFirewall { .. }
            | Op::RemoveFirewall { .. }
            | Op::CreateChain { .. }
            | Op::FlushChain { .. }
            | Op::ReturnPolicy { .. }
            | Op::AppendRule { .. }
            | Op::InsertJump { .. }
            | Op::DeleteJump { .. }
            | Op::DeleteRuleAt { .. }
            | Op::DeleteChain { .. } => {
                self.flush()?;
                external::run_command(&argv::of(op))?;
            }
        }
        Ok(())
    }
}

/// `/proc/sys/net/ipv4/conf/<bridge>/arp_accept`: `/proc/sys/net` shows the network
/// namespace of the thread that opens it, and this runs on the namespace's worker thread.
fn arp_accept_path(bridge: &str) -> std::path::PathBuf {
    std::path::Path::new("/proc/sys/net/ipv4/conf")
        .join(bridge)
        .join("arp_accept")
}

/// Executes `ops` in order; `index` maps interface names to indexes as observed.
pub(crate) fn run(socket: &mut Socket, ops: &[Op], index: HashMap<String, u32>) -> Result<(), ApplyError> {
    let mut ex = Executor {
        socket,
        index,
        stages: Stages::default(),
    };
    for op in ops {
        ex.op(op)?;
    }
    ex.flush()
}
