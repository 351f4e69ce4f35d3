//! Building a lab from its spec, operating on it, and removing it.

use std::net::IpAddr;
use std::process::Output;

use crate::cleanup::{list_namespaces, remove_namespaces};
use crate::spec::{Container, LabHost, LabSpec};
use crate::{cmd, mountns, names, LabError};

/// A step of [`Lab::build_with_progress`], for progress output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// `n` namespaces were created.
    Namespaces(usize),
    /// The underlay switch is up.
    Switch,
    /// Host `done` of `total` is wired (underlay address, container veths).
    Host {
        /// Hosts done.
        done: usize,
        /// All hosts.
        total: usize,
    },
    /// Container `done` of `total` has its addresses.
    Container {
        /// Containers done.
        done: usize,
        /// All containers.
        total: usize,
    },
}

/// A built lab. Dropping it removes every namespace it made (and kills what runs in them);
/// [`Lab::persist`] keeps them for another process, which takes them back with [`Lab::adopt`].
///
/// ```no_run
/// use vxlan_mesh_lab::{names, Lab, LabSpec};
/// let fleet = vxlan_mesh_core::testing::two_hosts();
/// let lab = Lab::build(LabSpec::from_fleet(&fleet, 2, &names::unique_tag("doc"))?)?;
/// let ns = lab.host_netns("a")?;
/// // ... deploy the plan into each host namespace, e.g. `ip netns exec <ns> vxlan-mesh apply` ...
/// lab.attach_containers()?;
/// let matrix = lab.ping_matrix()?;
/// assert!(matrix.is_full(), "{}", matrix.render_text());
/// # Ok::<(), vxlan_mesh_lab::LabError>(())
/// ```
#[derive(Debug)]
pub struct Lab {
    spec: LabSpec,
    owned: bool,
}

impl Lab {
    /// Builds the lab described by `spec`.
    ///
    /// Fails with [`LabError::NamespaceExists`] when a namespace of the same tag exists. A
    /// build that fails half-way removes what it made.
    pub fn build(spec: LabSpec) -> Result<Lab, LabError> {
        Lab::build_with_progress(spec, &mut |_| {})
    }

    /// [`Lab::build`], reporting each step to `progress`.
    pub fn build_with_progress(spec: LabSpec, progress: &mut dyn FnMut(Progress)) -> Result<Lab, LabError> {
        names::check_tag(&spec.tag)?;
        let prefix = names::tag_prefix(&spec.tag);
        if let Some(name) = list_namespaces(&prefix)?
            .into_iter()
            .chain(mountns::list(&prefix)?)
            .next()
        {
            return Err(LabError::NamespaceExists { name });
        }
        // From here on, Drop removes whatever part was built if a step fails.
        let lab = Lab { spec, owned: true };
        lab.create_namespaces()?;
        progress(Progress::Namespaces(lab.spec.namespaces().len()));
        lab.build_switch()?;
        progress(Progress::Switch);
        let total = lab.spec.hosts.len();
        for (i, host) in lab.spec.hosts.iter().enumerate() {
            lab.build_host(host)?;
            if let Some(file) = &host.mount_ns {
                mountns::create(&host.netns, file)?;
            }
            progress(Progress::Host { done: i + 1, total });
        }
        let total = lab.spec.containers().count();
        for (i, c) in lab.spec.containers().enumerate() {
            build_container(c)?;
            progress(Progress::Container { done: i + 1, total });
        }
        Ok(lab)
    }

    /// Takes over a lab built (and [persisted](Lab::persist)) by another process; dropping the
    /// returned value removes it.
    ///
    /// ```no_run
    /// # let spec: vxlan_mesh_lab::LabSpec = todo!();
    /// let lab = vxlan_mesh_lab::Lab::adopt(spec);
    /// # Ok::<(), vxlan_mesh_lab::LabError>(())
    /// ```
    pub fn adopt(spec: LabSpec) -> Lab {
        Lab { spec, owned: true }
    }

    /// Operates on a lab built (and [persisted](Lab::persist)) by another process without
    /// taking it over: dropping the returned value leaves the namespaces in place.
    ///
    /// ```no_run
    /// # let spec: vxlan_mesh_lab::LabSpec = todo!();
    /// let lab = vxlan_mesh_lab::Lab::open(spec);
    /// let matrix = lab.ping_matrix()?;
    /// # Ok::<(), vxlan_mesh_lab::LabError>(())
    /// ```
    pub fn open(spec: LabSpec) -> Lab {
        Lab { spec, owned: false }
    }

    /// Keeps the namespaces after this value is dropped, and returns the spec to
    /// [adopt](Lab::adopt) them later.
    pub fn persist(mut self) -> LabSpec {
        self.owned = false;
        self.spec.clone()
    }

    /// Removes the lab now, reporting failure (dropping does the same silently).
    pub fn destroy(mut self) -> Result<(), LabError> {
        self.owned = false;
        remove_namespaces(&self.spec.namespaces())
    }

    /// The lab's spec.
    pub fn spec(&self) -> &LabSpec {
        &self.spec
    }

    /// The host called `host`.
    pub fn host(&self, host: &str) -> Result<&LabHost, LabError> {
        self.spec
            .host(host)
            .ok_or_else(|| LabError::UnknownName { name: host.to_string() })
    }

    /// Namespace of the host called `host`.
    ///
    /// ```no_run
    /// # let lab: vxlan_mesh_lab::Lab = todo!();
    /// assert!(lab.host_netns("lxd1")?.starts_with("vxm-"));
    /// # Ok::<(), vxlan_mesh_lab::LabError>(())
    /// ```
    pub fn host_netns(&self, host: &str) -> Result<&str, LabError> {
        Ok(&self.host(host)?.netns)
    }

    /// Every container of the lab.
    pub fn containers(&self) -> impl Iterator<Item = &Container> {
        self.spec.containers()
    }

    /// Runs `argv` inside namespace `netns` (`ip netns exec`) and returns its output, whatever
    /// its exit status. Only namespaces of this lab are accepted. A host with its own mount
    /// namespace ([`LabHost::mount_ns`]) runs it there too (`nsenter --mount --net`).
    ///
    /// ```no_run
    /// # let lab: vxlan_mesh_lab::Lab = todo!();
    /// let out = lab.exec(lab.host_netns("lxd1")?, &["ip", "-br", "link"])?;
    /// assert!(out.status.success());
    /// # Ok::<(), vxlan_mesh_lab::LabError>(())
    /// ```
    pub fn exec(&self, netns: &str, argv: &[&str]) -> Result<Output, LabError> {
        let (program, args) = self.command_in(netns, argv)?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cmd::output(program, &args, None)
    }

    /// Like [`Lab::exec`] but fails unless the command succeeds; returns its stdout.
    pub fn exec_ok(&self, netns: &str, argv: &[&str]) -> Result<String, LabError> {
        let (program, args) = self.command_in(netns, argv)?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cmd::run(program, &args, None)
    }

    /// The whole command line (program first) that runs `argv` in namespace `netns` of this
    /// lab, as [`Lab::exec`] runs it: for an operator to type.
    ///
    /// ```no_run
    /// # let lab: vxlan_mesh_lab::Lab = todo!();
    /// let argv = lab.command_line("vxm-lab-lxd1", &["wg", "show"])?;
    /// assert_eq!(argv[..4], ["ip", "netns", "exec", "vxm-lab-lxd1"]);
    /// # Ok::<(), vxlan_mesh_lab::LabError>(())
    /// ```
    pub fn command_line(&self, netns: &str, argv: &[&str]) -> Result<Vec<String>, LabError> {
        let (program, args) = self.command_in(netns, argv)?;
        Ok(std::iter::once(program.to_string()).chain(args).collect())
    }

    /// The program and arguments that run `argv` in namespace `netns` of this lab: in the
    /// host's mount namespace as well when it has one.
    fn command_in(&self, netns: &str, argv: &[&str]) -> Result<(&'static str, Vec<String>), LabError> {
        self.check_netns(netns)?;
        let mount = self
            .spec
            .hosts
            .iter()
            .find(|h| h.netns == netns)
            .and_then(|h| h.mount_ns.as_deref());
        Ok(match mount {
            Some(file) => ("nsenter", mountns::nsenter_args(netns, file, argv)),
            None => {
                let mut args = vec!["netns".to_string(), "exec".to_string(), netns.to_string()];
                args.extend(argv.iter().map(|a| (*a).to_string()));
                ("ip", args)
            }
        })
    }

    pub(crate) fn check_netns(&self, netns: &str) -> Result<(), LabError> {
        if self.spec.namespaces().iter().any(|n| n == netns) {
            Ok(())
        } else {
            Err(LabError::UnknownName {
                name: netns.to_string(),
            })
        }
    }

    /// Enslaves each container veth's host end to its network's bridge (which the deployment
    /// created) and sets it up. Fails naming the bridge when a bridge is missing.
    pub fn attach_containers(&self) -> Result<(), LabError> {
        for host in &self.spec.hosts {
            let mut lines = Vec::new();
            for c in &host.containers {
                lines.push(format!("link set {} master {}", c.host_ifname, c.bridge));
                lines.push(format!("link set {} up", c.host_ifname));
            }
            cmd::ip_batch(Some(&host.netns), &lines)?;
        }
        Ok(())
    }

    /// Takes host `host`'s underlay link down at the switch: the host is cut off.
    pub fn cut(&self, host: &str) -> Result<(), LabError> {
        self.set_port(host, "down")
    }

    /// Brings host `host`'s underlay link back up.
    pub fn heal(&self, host: &str) -> Result<(), LabError> {
        self.set_port(host, "up")
    }

    fn set_port(&self, host: &str, state: &str) -> Result<(), LabError> {
        let port = self.host(host)?.switch_port.clone();
        cmd::run("ip", &["-n", &self.spec.switch, "link", "set", &port, state], None).map(|_| ())
    }

    fn create_namespaces(&self) -> Result<(), LabError> {
        let lines: Vec<String> = self
            .spec
            .namespaces()
            .iter()
            .map(|n| format!("netns add {n}"))
            .collect();
        cmd::ip_batch(None, &lines)
    }

    fn build_switch(&self) -> Result<(), LabError> {
        let sw = &self.spec.switch;
        let br = names::SWITCH_BRIDGE;
        let mut lines = vec![
            "link set lo up".to_string(),
            // No STP (ports forward at once) and no multicast snooping (IPv6 neighbour
            // discovery floods like ARP, as on a dumb switch).
            format!("link add {br} type bridge stp_state 0 mcast_snooping 0"),
            format!("link set {br} up"),
        ];
        for h in &self.spec.hosts {
            lines.push(veth_pair(&h.switch_port, &h.device, h.mtu, &h.netns));
            lines.push(format!("link set {} master {br}", h.switch_port));
            lines.push(format!("link set {} up", h.switch_port));
        }
        cmd::ip_batch(Some(sw), &lines)?;
        if let Some(rate) = &self.spec.underlay_rate {
            // The rate goes into a tc batch line: only a number and a unit.
            if rate.is_empty() || !rate.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
                return Err(LabError::Spec(format!(
                    "underlay rate `{rate}` is not a tc rate such as `1gbit`"
                )));
            }
            // tbf needs a burst of at least one (GSO-sized) packet; 256 KiB also covers the
            // 1 ms timer granularity at 1 Gbit/s.
            let lines: Vec<String> = self
                .spec
                .hosts
                .iter()
                .map(|h| {
                    format!(
                        "qdisc add dev {} root tbf rate {rate} burst 256kb latency 50ms",
                        h.switch_port
                    )
                })
                .collect();
            cmd::tc_batch(sw, &lines)?;
        }
        Ok(())
    }

    fn build_host(&self, host: &LabHost) -> Result<(), LabError> {
        let nodad = if host.address.is_ipv6() { " nodad" } else { "" };
        let mut lines = vec![
            "link set lo up".to_string(),
            format!(
                "addr add {}/{} dev {}{nodad}",
                host.address, host.prefix_len, host.device
            ),
            format!("link set {} up", host.device),
        ];
        for peer in &self.spec.hosts {
            if peer.name != host.name && !same_subnet(host.address, peer.address, host.prefix_len) {
                lines.push(format!("route add {} dev {}", peer.address, host.device));
            }
        }
        for c in &host.containers {
            lines.push(veth_pair(&c.host_ifname, &c.ifname, c.mtu, &c.netns));
        }
        cmd::ip_batch(Some(&host.netns), &lines)
    }
}

/// The `ip` batch line that makes a veth pair with both ends of MTU `mtu`: `here` stays in
/// the namespace the batch runs in, `there` goes into namespace `netns`.
fn veth_pair(here: &str, there: &str, mtu: u32, netns: &str) -> String {
    format!("link add {here} mtu {mtu} type veth peer name {there} mtu {mtu} netns {netns}")
}

fn build_container(c: &Container) -> Result<(), LabError> {
    let mut lines = vec!["link set lo up".to_string()];
    if let Some(a) = c.ipv4 {
        lines.push(format!("addr add {a}/24 dev {}", c.ifname));
    }
    if let Some(a) = c.ipv6 {
        // nodad: usable at once instead of after a second of duplicate address detection.
        lines.push(format!("addr add {a}/64 dev {} nodad", c.ifname));
    }
    lines.push(format!("link set {} up", c.ifname));
    cmd::ip_batch(Some(&c.netns), &lines)
}

/// Whether `a` and `b` share the first `prefix_len` bits.
fn same_subnet(a: IpAddr, b: IpAddr, prefix_len: u8) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix_len.min(32))).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix_len.min(128))).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.owned {
            // Nothing to report to in Drop; `destroy` reports.
            let _ = remove_namespaces(&self.spec.namespaces());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_subnet;

    #[test]
    fn subnets() {
        let a = "192.0.2.1".parse().unwrap_or(std::net::IpAddr::from([0u8; 4]));
        let b = "192.0.2.200".parse().unwrap_or(a);
        let c = "198.51.100.1".parse().unwrap_or(a);
        assert!(same_subnet(a, b, 24));
        assert!(!same_subnet(a, c, 24));
        assert!(same_subnet(a, c, 0));
        let d = "2001:db8::1".parse().unwrap_or(a);
        let e = "2001:db8::2:1".parse().unwrap_or(a);
        let f = "2001:db8:1::1".parse().unwrap_or(a);
        assert!(same_subnet(d, e, 64));
        assert!(!same_subnet(d, f, 64));
        assert!(!same_subnet(a, d, 0));
    }
}
