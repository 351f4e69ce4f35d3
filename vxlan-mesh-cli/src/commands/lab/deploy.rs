//! One `Deployer` per `--via`: how a host's plan gets into its lab namespace, the way an
//! operator would deploy it on the real host.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use vxlan_mesh_gen::Format;
use vxlan_mesh_lab::systemd::{Order, NETWORKD};
use vxlan_mesh_lab::{Lab, LabHost};

use super::fleet_copy::LabFleet;
use super::Via;
use crate::keys::{DEFAULT_KEY_FILE, KEY_ENV};

/// What a deployer works with.
pub struct Ctx<'a> {
    pub lab: &'a Lab,
    /// The fleet deployed, with the lab's keys when encrypted.
    pub fleet: &'a LabFleet,
    pub workdir: &'a Path,
}

/// Deploys plans into lab host namespaces.
pub trait Deployer {
    /// Fails at once, with the reason, when this build cannot deploy this way.
    fn available(&self) -> Result<()>;
    /// Fails at once, with the reason, when this way cannot deploy an encrypted fleet in
    /// the lab.
    fn encryption(&self) -> Result<()> {
        Ok(())
    }
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
        Via::Shell => Box::new(Shell),
        Via::Networkd => Box::new(Networkd { netplan: false }),
        Via::Netplan => Box::new(Networkd { netplan: true }),
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
        let mut argv = host_command(ctx, host, "apply")?;
        // Quiet: the lab prints its own progress.
        argv.insert(1, "-q".to_string());
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        // In the host's mount namespace when encrypted (`Lab::exec`): its wireguard-go.
        let out = ctx.lab.exec(&host.netns, &argv)?;
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

/// Renders `host`'s plan in `format` into `<workdir>/<host>/root/` (laid out as on the host)
/// and returns that root.
/// `vxlan-mesh SUBCOMMAND` for a lab host (`apply`, `status`, `down`): the lab's inventory
/// (its own keys when encrypted), the host, its key file and its FRR instance (mode evpn;
/// where none runs, the command finds no block of its own there).
pub fn host_command(ctx: &Ctx<'_>, host: &LabHost, subcommand: &str) -> Result<Vec<String>> {
    let frr_root = super::state::frr_root(&ctx.lab.spec().tag);
    let mut argv: Vec<String> = vec![
        current_exe()?.to_string_lossy().into_owned(),
        "-i".into(),
        ctx.fleet.inventory.to_string_lossy().into_owned(),
        subcommand.into(),
        "--host".into(),
        host.name.clone(),
        "--frr-pathspace".into(),
        host.netns.clone(),
        "--frr-vty-dir".into(),
        frr_root.to_string_lossy().into_owned(),
    ];
    if let Some(key) = ctx.fleet.key_of(&host.name) {
        argv.extend(["--wireguard-key".into(), key.to_string_lossy().into_owned()]);
    }
    Ok(argv)
}

/// `vxlan-mesh probe` for a lab host.
pub fn probe_command(ctx: &Ctx<'_>, host: &LabHost) -> Result<Vec<String>> {
    Ok(vec![
        current_exe()?.to_string_lossy().into_owned(),
        "-i".into(),
        ctx.fleet.inventory.to_string_lossy().into_owned(),
        "probe".into(),
        "--host".into(),
        host.name.clone(),
    ])
}

fn render_into(ctx: &Ctx<'_>, host: &LabHost, format: Format) -> Result<PathBuf> {
    let plan = ctx.fleet.fleet.plan(&host.name)?;
    let files = vxlan_mesh_gen::render(&plan, format)?;
    let root = root_of(ctx, host);
    if root.exists() {
        std::fs::remove_dir_all(&root).with_context(|| format!("cannot clear `{}`", root.display()))?;
    }
    vxlan_mesh_gen::write_files(&root, &files).with_context(|| format!("cannot write `{}`", root.display()))?;
    Ok(root)
}

/// Where [`render_into`] puts `host`'s files.
fn root_of(ctx: &Ctx<'_>, host: &LabHost) -> PathBuf {
    ctx.workdir.join(&host.name).join("root")
}

fn need(program: &str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    if found || Path::new(program).is_file() {
        Ok(())
    } else {
        bail!("`{program}` is not installed on this machine")
    }
}

fn run_ok(ctx: &Ctx<'_>, host: &LabHost, argv: &[&str]) -> Result<()> {
    let out = ctx.lab.exec(&host.netns, argv)?;
    if !out.status.success() {
        bail!(
            "`{}` failed in `{}`: {}{}",
            argv.join(" "),
            host.netns,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(())
}

/// The rendered shell script, run with `start` inside the host namespace (and, when
/// encrypted, its mount namespace, with the lab's key of the host).
struct Shell;

impl Deployer for Shell {
    fn available(&self) -> Result<()> {
        need("sh")
    }

    fn deploy(&self, ctx: &Ctx<'_>, host: &LabHost) -> Result<()> {
        let root = render_into(ctx, host, Format::Shell)?;
        let plan = ctx.fleet.fleet.plan(&host.name)?;
        let files = vxlan_mesh_gen::render(&plan, Format::Shell)?;
        let script = files
            .iter()
            .find(|f| f.mode & 0o111 != 0)
            .ok_or_else(|| anyhow!("the shell rendering of `{}` has no executable script", host.name))?;
        let path = root.join(&script.path);
        let path = path.to_string_lossy();
        // The script reads the host's key where `apply` would: from the environment.
        let key = ctx
            .fleet
            .key_of(&host.name)
            .map(|k| format!("{KEY_ENV}={}", k.display()));
        let mut argv = vec!["env"];
        argv.extend(key.as_deref());
        argv.extend(["sh", &path, "start"]);
        run_ok(ctx, host, &argv)
    }
}

/// systemd-networkd inside each host namespace, on the rendered files (`--via networkd`) or
/// on what `netplan generate` makes of the rendered YAML plus our drop-ins (`--via netplan`).
///
/// The units the form installs run as systemd would run them: those ordered before
/// systemd-networkd (firewall, ebtables loop prevention) first, then networkd itself, then
/// those ordered after it (the sync). networkd runs in a private mount namespace, as the
/// daemon of that host; `lab down` kills it with everything else running in the lab's
/// namespaces.
struct Networkd {
    netplan: bool,
}

impl Deployer for Networkd {
    fn available(&self) -> Result<()> {
        need(NETWORKD)?;
        need("unshare")?;
        if self.netplan {
            need("netplan")?;
        }
        Ok(())
    }

    fn encryption(&self) -> Result<()> {
        bail!(
            "`--via {}` cannot deploy an encrypted inventory (`encryption = \"wireguard\"`) in the lab: \
             systemd-networkd makes the WireGuard device only through the kernel's WireGuard module \
             (which kernels such as this lab's often lack; the lab's hosts then run wireguard-go, each \
             in its own mount namespace), and it reads the private key from the path the rendered \
             files name, `{DEFAULT_KEY_FILE}`: this machine's own key, which the lab never touches; \
             use `--via netlink` or `--via shell`, which take the lab's own key of each host",
            if self.netplan { "netplan" } else { "networkd" }
        )
    }

    fn deploy(&self, ctx: &Ctx<'_>, host: &LabHost) -> Result<()> {
        let format = if self.netplan {
            Format::Netplan
        } else {
            Format::Networkd
        };
        let root = render_into(ctx, host, format)?;
        ctx.lab.run_units(&host.netns, &root, Order::BeforeNetworkd)?;
        let mut sources = vec![root.join("etc/systemd/network")];
        if self.netplan {
            let out = std::process::Command::new("netplan")
                .args(["generate", "--root-dir"])
                .arg(&root)
                .output()
                .context("cannot run `netplan generate`")?;
            if !out.status.success() {
                bail!(
                    "`netplan generate --root-dir {}` failed: {}",
                    root.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            sources.insert(0, root.join("run/systemd/network"));
        }
        let log = ctx.workdir.join(&host.name).join("networkd.log");
        // Left running after `lab up` returns: the host's network daemon.
        ctx.lab.start_networkd(&host.netns, &sources, &log)?;
        Ok(())
    }

    fn wait_ready(&self, ctx: &Ctx<'_>) -> Result<()> {
        for host in &ctx.lab.spec().hosts {
            ctx.lab
                .run_units(&host.netns, &root_of(ctx, host), Order::AfterNetworkd)
                .with_context(|| format!("host `{}`", host.name))?;
        }
        wait_for_devices(ctx, std::time::Duration::from_secs(30))
    }
}

/// Waits until every bridge and VXLAN device of every host's plan exists and is up.
fn wait_for_devices(ctx: &Ctx<'_>, timeout: std::time::Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    for host in &ctx.lab.spec().hosts {
        let plan = ctx.fleet.fleet.plan(&host.name)?;
        let mut want: Vec<String> = plan.networks.iter().map(|n| n.bridge.name.clone()).collect();
        want.extend(plan.vxlans().map(|v| v.name.clone()));
        loop {
            let out = ctx.lab.exec(&host.netns, &["ip", "-br", "link", "show", "up"])?;
            let text = String::from_utf8_lossy(&out.stdout);
            let up: Vec<&str> = text
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(|n| n.split('@').next().unwrap_or(n))
                .collect();
            let missing: Vec<&String> = want.iter().filter(|w| !up.contains(&w.as_str())).collect();
            if missing.is_empty() {
                break;
            }
            if std::time::Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(ctx.workdir.join(&host.name).join("networkd.log")).unwrap_or_default();
                bail!(
                    "host `{}`: devices not up after {}s: {}\nnetworkd log:\n{}",
                    host.name,
                    timeout.as_secs(),
                    missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
                    log.lines()
                        .rev()
                        .take(20)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    Ok(())
}
