//! Executing the diff's changes, in order, with netlink requests pipelined in stages.
//!
//! Netlink changes accumulate in three stages that run in order when flushed: `setup`
//! (deletions, creations down with their ownership alias, MTU and bridge), `ports` (bridge
//! port isolation) and `up`. So a new port joins its bridge down, is isolated, and only
//! then comes up: an isolated port never forwards before isolation is set, even if the
//! process dies between stages. The requests creating a device and marking it ours are in
//! one datagram, which a SIGKILL cannot split. Stages are flushed before every change that
//! is not netlink (ebtables, nftables) and before a request needs the index of a device
//! created in this run.

use std::collections::HashMap;

use super::requests as rq;
use super::socket::{Batch, Request, Socket};
use super::{external, observe, ApplyError};
use crate::diff::Change;
use crate::plan::Vxlan;

#[derive(Default)]
struct Stages {
    setup: Batch,
    ports: Batch,
    up: Batch,
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
        for batch in [stages.setup, stages.ports, stages.up] {
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

    fn create_vxlan(&mut self, vx: &Vxlan, mut setup: Vec<Request>) -> Result<(), ApplyError> {
        let underlay = self.optional_index(vx.underlay_device.as_deref(), "underlay device", &vx.name)?;
        let bridge = self.optional_index(vx.bridge.as_deref(), "bridge", &vx.name)?;
        setup.push(rq::create_vxlan(vx, underlay, bridge));
        setup.push(rq::set_alias(&vx.name, &vx.alias));
        self.stages.setup.group(&vx.name, setup);
        if vx.isolated && bridge.is_some() {
            self.stages
                .ports
                .group(&vx.name, vec![rq::set_isolated(&vx.name, true)]);
        }
        if vx.up {
            self.stages.up.group(&vx.name, vec![rq::set_up(&vx.name, true)]);
        }
        // The new device's index is learnt on demand (see `index_of`).
        self.index.remove(&vx.name);
        Ok(())
    }

    fn update_vxlan(&mut self, from: &Vxlan, to: &Vxlan) -> Result<(), ApplyError> {
        let mut setup = Vec::new();
        if from.alias != to.alias {
            setup.push(rq::set_alias(&to.name, &to.alias));
        }
        let moved = from.bridge != to.bridge;
        if moved || (!to.up && from.up) {
            setup.push(rq::set_up(&to.name, false));
        }
        if from.mtu != to.mtu {
            setup.push(rq::set_mtu(&to.name, to.mtu));
        }
        if moved {
            let bridge = self.optional_index(to.bridge.as_deref(), "bridge", &to.name)?;
            setup.push(rq::set_master(&to.name, bridge.unwrap_or(0)));
        }
        self.stages.setup.group(&to.name, setup);
        // A port that joins a bridge starts not isolated.
        if to.bridge.is_some() && (from.isolated != to.isolated || (moved && to.isolated)) {
            self.stages
                .ports
                .group(&to.name, vec![rq::set_isolated(&to.name, to.isolated)]);
        }
        if to.up && (!from.up || moved) {
            self.stages.up.group(&to.name, vec![rq::set_up(&to.name, true)]);
        }
        Ok(())
    }

    fn change(&mut self, change: &Change) -> Result<(), ApplyError> {
        match change {
            Change::InstallFirewall { firewall } => {
                self.flush()?;
                external::install_firewall(firewall)?;
            }
            Change::RemoveFirewall { firewall } => {
                self.flush()?;
                external::remove_firewall(firewall)?;
            }
            Change::InstallLoopRules { rules } => {
                self.flush()?;
                external::install_loop_rules(rules)?;
            }
            Change::RemoveLoopRules { rules } => {
                self.flush()?;
                external::remove_loop_rules(rules)?;
            }
            Change::DeleteFdb { entry } => {
                let i = self.index_of(&entry.device, "vxlan device", &entry.device)?;
                self.stages.setup.group(
                    &entry.device,
                    vec![rq::delete_fdb(&entry.device, i, entry.mac, entry.destination)],
                );
            }
            Change::AddFdb { entry } => {
                let i = self.index_of(&entry.device, "vxlan device", &entry.device)?;
                self.stages.setup.group(
                    &entry.device,
                    vec![rq::add_fdb(&entry.device, i, entry.mac, entry.destination)],
                );
            }
            Change::DeleteVxlan { vxlan } => {
                let i = self.index_of(&vxlan.name, "vxlan device", &vxlan.name)?;
                self.stages
                    .setup
                    .group(&vxlan.name, vec![rq::delete_link(&vxlan.name, i, "delete vxlan")]);
                self.index.remove(&vxlan.name);
            }
            Change::DeleteBridge { bridge } => {
                let i = self.index_of(&bridge.name, "bridge", &bridge.name)?;
                self.stages
                    .setup
                    .group(&bridge.name, vec![rq::delete_link(&bridge.name, i, "delete bridge")]);
                self.index.remove(&bridge.name);
            }
            Change::CreateBridge { bridge } => {
                // An explicit MTU after creation pins it (see `rq::set_mtu`).
                self.stages.setup.group(
                    &bridge.name,
                    vec![
                        rq::create_bridge(&bridge.name),
                        rq::set_alias(&bridge.name, &bridge.alias),
                        rq::set_mtu(&bridge.name, bridge.mtu),
                    ],
                );
                if bridge.up {
                    self.stages.up.group(&bridge.name, vec![rq::set_up(&bridge.name, true)]);
                }
                self.index.remove(&bridge.name);
            }
            Change::UpdateBridge { from, to } => {
                let mut setup = Vec::new();
                if from.alias != to.alias {
                    setup.push(rq::set_alias(&to.name, &to.alias));
                }
                if from.mtu != to.mtu {
                    setup.push(rq::set_mtu(&to.name, to.mtu));
                }
                if from.up != to.up {
                    setup.push(rq::set_up(&to.name, to.up));
                }
                self.stages.setup.group(&to.name, setup);
            }
            Change::CreateVxlan { vxlan } => self.create_vxlan(vxlan, Vec::new())?,
            Change::RecreateVxlan { from, to, .. } => {
                let i = self.index_of(&from.name, "vxlan device", &from.name)?;
                self.create_vxlan(to, vec![rq::delete_link(&from.name, i, "delete (to recreate) vxlan")])?;
            }
            Change::UpdateVxlan { from, to } => self.update_vxlan(from, to)?,
        }
        Ok(())
    }
}

/// Executes `changes` in order; `index` maps interface names to indexes as observed.
pub(crate) fn run(socket: &mut Socket, changes: &[Change], index: HashMap<String, u32>) -> Result<(), ApplyError> {
    let mut ex = Executor {
        socket,
        index,
        stages: Stages::default(),
    };
    for change in changes {
        ex.change(change)?;
    }
    ex.flush()
}
