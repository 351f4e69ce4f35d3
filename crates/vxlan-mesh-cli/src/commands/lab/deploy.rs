//! One `Deployer` per `--via`: how a host's plan gets into its lab namespace, the way an
//! operator would deploy it on the real host.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use vxlan_mesh_core::Fleet;
use vxlan_mesh_lab::{Lab, LabHost};

use super::Via;

/// What a deployer works with.
pub struct Ctx<'a> {
    pub lab: &'a Lab,
    #[allow(dead_code)] // used by the generator-based deployers
    pub fleet: &'a Fleet,
    pub inventory: &'a Path,
    #[allow(dead_code)] // used by the generator-based deployers
    pub workdir: &'a Path,
}

/// Deploys plans into lab host namespaces.
pub trait Deployer {
    /// Fails at once, with the reason, when this build cannot deploy this way.
    fn available(&self) -> Result<()>;
    /// Deploys `host`'s plan inside its namespace.
    fn deploy(&self, ctx: &Ctx<'_>, host: &LabHost) -> Result<()>;
    /// Waits until every host's bridges exist (daemons configure asynchronously).
    fn wait_ready(&self, _ctx: &Ctx<'_>) -> Result<()> {
        Ok(())
    }
}

pub fn for_via(via: Via) -> Box<dyn Deployer> {
    match via {
        Via::Netlink => Box::new(Netlink),
        Via::Shell | Via::Networkd | Via::Netplan => Box::new(NotYet(via)),
        Via::None => Box::new(Manual),
    }
}

/// `--via none`: the operator deploys by hand.
struct Manual;

impl Deployer for Manual {
    fn available(&self) -> Result<()> {
        Ok(())
    }

    fn deploy(&self, _ctx: &Ctx<'_>, _host: &LabHost) -> Result<()> {
        Ok(())
    }
}

/// `ip netns exec <host-ns> <this exe> -i INVENTORY apply --host H`.
struct Netlink;

fn current_exe() -> Result<std::path::PathBuf> {
    std::env::current_exe().context("cannot find the path of the running vxlan-mesh")
}

impl Deployer for Netlink {
    fn available(&self) -> Result<()> {
        let exe = current_exe()?;
        let out = std::process::Command::new(&exe)
            .args(["apply", "--help"])
            .output()
            .with_context(|| format!("cannot run `{}`", exe.display()))?;
        if !out.status.success() {
            bail!(
                "`--via netlink` is not available yet: this build of vxlan-mesh has no `apply` command \
                 (it lands with the netlink issue)"
            );
        }
        Ok(())
    }

    fn deploy(&self, ctx: &Ctx<'_>, host: &LabHost) -> Result<()> {
        let exe = current_exe()?;
        let exe = exe.to_string_lossy();
        let inventory = ctx.inventory.to_string_lossy();
        let out = ctx.lab.exec(
            &host.netns,
            &[&exe, "-q", "-i", &inventory, "apply", "--host", &host.name],
        )?;
        if !out.status.success() {
            return Err(anyhow!(
                "`vxlan-mesh apply --host {}` failed in `{}`: {}",
                host.name,
                host.netns,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }
}

/// A `--via` whose generator has not landed in this build yet.
struct NotYet(Via);

impl Deployer for NotYet {
    fn available(&self) -> Result<()> {
        bail!(
            "`--via {}` is not available yet: the generators (`vxlan-mesh render`) have not landed in this build; \
             use `--via netlink`",
            self.0.as_str()
        )
    }

    fn deploy(&self, _ctx: &Ctx<'_>, _host: &LabHost) -> Result<()> {
        self.available()
    }
}
