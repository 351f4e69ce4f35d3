//! A `router bgp ASN` block as FRR's `show running-config` prints it, read into lines by
//! context (the block's top level, or one `address-family` inside it), and the line edits
//! that turn a running block into a desired one: pure, no I/O.
//!
//! FRR 8.4 prints a block as
//!
//! ```text
//! router bgp 65000
//!  bgp router-id 192.0.2.1
//!  neighbor vxlan-mesh peer-group
//!  !
//!  address-family l2vpn evpn
//!   neighbor vxlan-mesh activate
//!  exit-address-family
//! exit
//! ```
//!
//! Top-level lines are indented by one space, an address family's lines by two; ` !` only
//! separates. Each line is also the command that sets it, and `no LINE` (or LINE without its
//! `no `) the one that unsets it, so converging is sending the lines that differ, context by
//! context: sessions whose lines stay are never reset.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{relearn_commands, running_block, ADVERTISE_ALL_VNI, PEER_GROUP};

/// A `router bgp ASN` block of the default VRF, read into its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    /// The autonomous system number of `router bgp ASN`.
    pub(crate) asn: u32,
    /// The block's contexts in the order printed: the top level first (`None`), then each
    /// `address-family` (`Some("address-family l2vpn evpn")`), each with its lines without
    /// their indentation, in order.
    pub(crate) contexts: Vec<(Option<String>, Vec<String>)>,
    /// Why the lines cannot be edited one by one, if they cannot (a section vxlan-mesh
    /// never writes): such a block can be recognised and removed whole, not converged.
    pub(crate) unreadable: Option<String>,
}

/// Why a text could not be read as a `router bgp` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) String);

impl Block {
    /// The `router bgp ASN` block of the default VRF in `config` (a whole `show
    /// running-config`, or a block alone, as [`running_block`] finds it), or `None` when there
    /// is none. Blocks of other VRFs and views (`router bgp 65001 vrf red`) are other
    /// instances, never read.
    pub(crate) fn find(config: &str) -> Result<Option<Block>, Malformed> {
        let Some(text) = running_block(config) else {
            return Ok(None);
        };
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default();
        let asn = first
            .strip_prefix("router bgp ")
            .and_then(|asn| asn.parse::<u32>().ok())
            .ok_or_else(|| Malformed(format!("`{first}`: the AS number is not a 32-bit number")))?;
        let mut contexts: Vec<(Option<String>, Vec<String>)> = vec![(None, Vec::new())];
        let mut unreadable = None;
        let mut in_family = false;
        for line in lines {
            let line = line.trim_end();
            // The block ends at its `exit` line, the first one not indented.
            if !line.starts_with(' ') {
                return Ok(Some(Block {
                    asn,
                    contexts,
                    unreadable,
                }));
            }
            let inner = line.trim_start();
            let depth = line.len() - inner.len();
            let problem = match (depth, inner) {
                (1, "!") | (_, "") => None,
                (1, "exit-address-family") => {
                    in_family = false;
                    None
                }
                (1, _) if inner.starts_with("address-family ") => {
                    in_family = true;
                    contexts.push((Some(inner.to_string()), Vec::new()));
                    None
                }
                (1, _) if in_family => Some("is at the top level inside an address family"),
                (1, _) => {
                    if let Some((_, top)) = contexts.first_mut() {
                        top.push(inner.to_string());
                    }
                    None
                }
                (2, _) if in_family => {
                    if let Some((_, lines)) = contexts.last_mut() {
                        lines.push(inner.to_string());
                    }
                    None
                }
                (2, _) => Some("is indented twice outside an address family"),
                // `vni N` sections inside an address family: vxlan-mesh writes none, and a
                // line edit there would need their context too.
                _ => Some("is in a section nested inside an address family, which vxlan-mesh does not write"),
            };
            if let (Some(problem), None) = (problem, &unreadable) {
                unreadable = Some(format!("`{inner}` {problem}"));
            }
        }
        Err(Malformed(format!("`router bgp {asn}` has no `exit` line")))
    }

    /// Whether the block is vxlan-mesh's: it declares the peer-group [`PEER_GROUP`].
    pub(crate) fn is_ours(&self) -> bool {
        let mark = format!("neighbor {PEER_GROUP} peer-group");
        self.top().contains(&mark)
    }

    fn top(&self) -> &[String] {
        self.contexts.first().map(|(_, l)| l.as_slice()).unwrap_or_default()
    }

    fn lines_of(&self, context: &Option<String>) -> &[String] {
        self.contexts
            .iter()
            .find(|(c, _)| c == context)
            .map(|(_, l)| l.as_slice())
            .unwrap_or_default()
    }

    /// The edits that turn `running` (or nothing) into `self`, in an order FRR accepts:
    /// address-family lines removed first (they may name what the top level defines), then
    /// top-level lines removed, then top-level lines added, then address-family lines added.
    pub(crate) fn edits_from(&self, running: Option<&Block>) -> Vec<Edit> {
        let empty = Block {
            asn: self.asn,
            contexts: Vec::new(),
            unreadable: None,
        };
        let running = running.unwrap_or(&empty);
        let mut edits = Vec::new();
        let families = |b: &Block| -> Vec<Option<String>> {
            b.contexts
                .iter()
                .filter(|(c, _)| c.is_some())
                .map(|(c, _)| c.clone())
                .collect()
        };
        // Removals last-to-first, so that a line is removed before what it depends on.
        let mut removals = |context: &Option<String>| {
            let want = self.lines_of(context);
            for line in running.lines_of(context).iter().rev() {
                if !want.contains(line) {
                    edits.push(Edit::Remove {
                        context: context.clone(),
                        line: line.clone(),
                    });
                }
            }
        };
        for family in families(running) {
            removals(&family);
        }
        removals(&None);
        let mut additions = |context: &Option<String>| {
            let have = running.lines_of(context);
            for line in self.lines_of(context) {
                if !have.contains(line) {
                    edits.push(Edit::Add {
                        context: context.clone(),
                        line: line.clone(),
                    });
                }
            }
        };
        additions(&None);
        for family in families(self) {
            additions(&family);
        }
        edits
    }
}

/// One line of a `router bgp` block to add or remove, in its context.
///
/// ```
/// use vxlan_mesh_core::frr::Edit;
/// let e = Edit::Add { context: Some("address-family l2vpn evpn".into()), line: "advertise-all-vni".into() };
/// assert_eq!(e.to_string(), "add `advertise-all-vni` in `address-family l2vpn evpn`");
/// assert_eq!(e.command(), "advertise-all-vni");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "edit", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Edit {
    /// A line the running block lacks.
    Add {
        /// `None` for the block's top level, else the `address-family ...` line.
        context: Option<String>,
        /// The line, without indentation.
        line: String,
    },
    /// A line the desired block does not have.
    Remove {
        /// `None` for the block's top level, else the `address-family ...` line.
        context: Option<String>,
        /// The line, without indentation.
        line: String,
    },
}

impl Edit {
    /// The context the edit is made in.
    pub fn context(&self) -> Option<&str> {
        match self {
            Edit::Add { context, .. } | Edit::Remove { context, .. } => context.as_deref(),
        }
    }

    /// The configuration command that makes the edit: the line itself to add it, its
    /// negation to remove it (`no LINE`, or LINE without its leading `no `).
    pub fn command(&self) -> String {
        match self {
            Edit::Add { line, .. } => line.clone(),
            Edit::Remove { line, .. } => match line.strip_prefix("no ") {
                Some(positive) => positive.to_string(),
                None => format!("no {line}"),
            },
        }
    }
}

impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (verb, line) = match self {
            Edit::Add { line, .. } => ("add", line),
            Edit::Remove { line, .. } => ("remove", line),
        };
        write!(f, "{verb} `{}`", line.escape_debug())?;
        if let Some(context) = self.context() {
            write!(f, " in `{}`", context.escape_debug())?;
        }
        Ok(())
    }
}

/// What converging FRR's `router bgp` block takes.
///
/// ```
/// use vxlan_mesh_core::frr::{BgpChange, Edit};
/// let change = BgpChange::Remove { asn: 65000 };
/// assert_eq!(change.vtysh_commands(), ["configure terminal", "no router bgp 65000"]);
/// let change = BgpChange::Edit {
///     asn: 65000,
///     created: false,
///     edits: vec![Edit::Add { context: None, line: "neighbor 192.0.2.9 peer-group vxlan-mesh".into() }],
/// };
/// assert_eq!(change.vtysh_commands(), ["configure terminal", "router bgp 65000", "neighbor 192.0.2.9 peer-group vxlan-mesh"]);
/// let change = BgpChange::Relearn { asn: 65000, vnis: vec![100] };
/// assert_eq!(
///     change.vtysh_commands()[2..],
///     ["address-family l2vpn evpn", "no advertise-all-vni", "advertise-all-vni", "exit-address-family"]
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BgpChange {
    /// Lines of the block `router bgp ASN` to add and remove (every line when the block is
    /// new).
    Edit {
        /// The AS number.
        asn: u32,
        /// Whether the block does not exist yet.
        created: bool,
        /// The edits, in the order they are sent.
        edits: Vec<Edit>,
    },
    /// The whole block `router bgp ASN` is removed (`down`).
    Remove {
        /// The AS number.
        asn: u32,
    },
    /// `advertise-all-vni` of the block, given again: zebra had forgotten VNIs of the plan
    /// whose devices exist (it forgets a VNI for good when another VXLAN device that held
    /// it goes away, and no event on our device brings it back), and reads every VXLAN
    /// device again when EVPN is turned on.
    Relearn {
        /// The AS number.
        asn: u32,
        /// The VNIs zebra had forgotten.
        vnis: Vec<u32>,
    },
}

impl BgpChange {
    /// The vtysh commands, in order, one `-c` each: `configure terminal`, `router bgp ASN`,
    /// then each edit's command, entering and leaving its address family around it.
    pub fn vtysh_commands(&self) -> Vec<String> {
        if let BgpChange::Relearn { asn, .. } = self {
            return relearn_commands(*asn);
        }
        let mut out = vec!["configure terminal".to_string()];
        match self {
            BgpChange::Remove { asn } => out.push(format!("no router bgp {asn}")),
            BgpChange::Relearn { .. } => {}
            BgpChange::Edit { asn, edits, .. } => {
                out.push(format!("router bgp {asn}"));
                for run in edits.chunk_by(|a, b| a.context() == b.context()) {
                    let context = run.first().and_then(Edit::context);
                    out.extend(context.map(str::to_string));
                    out.extend(run.iter().map(Edit::command));
                    if context.is_some() {
                        out.push("exit-address-family".to_string());
                    }
                }
            }
        }
        out
    }
}

/// Why the edits from a running configuration to a wanted block cannot be computed: the
/// cases in which vxlan-mesh changes nothing.
///
/// ```
/// use vxlan_mesh_core::frr::ChangeError;
/// assert!(ChangeError::Foreign { asn: 65000 }.to_string().contains("`router bgp 65000`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeError {
    /// The default VRF's `router bgp` does not declare [`PEER_GROUP`]: not vxlan-mesh's.
    #[error("FRR runs `router bgp {asn}`, which has no `neighbor {PEER_GROUP} peer-group`: not vxlan-mesh's")]
    Foreign {
        /// Its AS number.
        asn: u32,
    },
    /// vxlan-mesh's running block has another AS number than the wanted one.
    #[error("FRR runs vxlan-mesh's `router bgp {running}`, the plan wants `router bgp {wanted}`")]
    OtherAsn {
        /// The running block's AS number.
        running: u32,
        /// The wanted one.
        wanted: u32,
    },
    /// The running block cannot be read, or not line by line.
    #[error("cannot read {what}: {message}")]
    Running {
        /// Which block.
        what: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The wanted block is not one `router bgp ASN` block of vxlan-mesh's in FRR's format.
    #[error("the desired FRR configuration {0}")]
    Desired(String),
}

/// The wanted block, checked: one `router bgp ASN` block in FRR's format, ours.
pub(crate) fn desired_block(text: &str, asn: u32) -> Result<Block, ChangeError> {
    let block = Block::find(text)
        .map_err(|Malformed(m)| ChangeError::Desired(format!("cannot be read: {m}")))?
        .ok_or_else(|| ChangeError::Desired("holds no `router bgp` block".to_string()))?;
    if let Some(why) = &block.unreadable {
        return Err(ChangeError::Desired(format!("cannot be read: {why}")));
    }
    if block.asn != asn {
        return Err(ChangeError::Desired(format!(
            "is `router bgp {}`, not `router bgp {asn}`",
            block.asn
        )));
    }
    if !block.is_ours() {
        return Err(ChangeError::Desired(format!(
            "does not declare `neighbor {PEER_GROUP} peer-group`, which marks the block as vxlan-mesh's"
        )));
    }
    Ok(block)
}

/// What turns FRR's running configuration into the wanted `router bgp ASN` block: pure, the
/// one computation of the edits, which the netlink runtime sends through vtysh and the
/// shell script's routine ([`super::edits_awk`]) reproduces. `running_config` is a whole
/// `show running-config` (or the block alone); `wanted` is [`super::Config::render`]'s
/// text. `None` when the running block is the wanted one.
///
/// ```
/// use vxlan_mesh_core::frr::change;
/// let wanted = "router bgp 65000\n neighbor vxlan-mesh peer-group\n neighbor vxlan-mesh timers 5 15\nexit\n";
/// let running = "frr version 8.4.4\n!\nrouter bgp 65000\n neighbor vxlan-mesh peer-group\n neighbor vxlan-mesh timers 3 9\nexit\n!\nend\n";
/// let edit = change(running, wanted, 65000)?.expect("the timers differ");
/// assert_eq!(edit.vtysh_commands(), ["configure terminal", "router bgp 65000",
///     "no neighbor vxlan-mesh timers 3 9", "neighbor vxlan-mesh timers 5 15"]);
/// assert_eq!(change(wanted, wanted, 65000)?, None);
/// # Ok::<(), vxlan_mesh_core::frr::ChangeError>(())
/// ```
pub fn change(running_config: &str, wanted: &str, asn: u32) -> Result<Option<BgpChange>, ChangeError> {
    let desired = desired_block(wanted, asn)?;
    let running = Block::find(running_config).map_err(|Malformed(message)| ChangeError::Running {
        what: "FRR's running `router bgp` block",
        message,
    })?;
    change_from(running.as_ref(), &desired)
}

/// [`change`] from a running block already read.
pub(crate) fn change_from(running: Option<&Block>, desired: &Block) -> Result<Option<BgpChange>, ChangeError> {
    if let Some(running) = running {
        if !running.is_ours() {
            return Err(ChangeError::Foreign { asn: running.asn });
        }
        if let Some(why) = &running.unreadable {
            return Err(ChangeError::Running {
                what: "FRR's running `router bgp` block of vxlan-mesh",
                message: format!("{why}; remove that section by hand, then apply again"),
            });
        }
        if running.asn != desired.asn {
            return Err(ChangeError::OtherAsn {
                running: running.asn,
                wanted: desired.asn,
            });
        }
    }
    let edits = desired.edits_from(running);
    Ok((!edits.is_empty()).then(|| BgpChange::Edit {
        asn: desired.asn,
        created: running.is_none(),
        edits,
    }))
}

impl fmt::Display for BgpChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BgpChange::Remove { asn } => write!(f, "remove FRR `router bgp {asn}`"),
            BgpChange::Relearn { asn, vnis } => {
                let vnis: Vec<String> = vnis.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "FRR's zebra had forgotten VNI(s) {}: `{ADVERTISE_ALL_VNI}` given again in `router bgp {asn}`",
                    vnis.join(", ")
                )
            }
            BgpChange::Edit {
                asn,
                created: true,
                edits,
            } => write!(f, "create FRR `router bgp {asn}` ({} line(s))", edits.len()),
            BgpChange::Edit { asn, edits, .. } => {
                let edits: Vec<String> = edits.iter().map(Edit::to_string).collect();
                write!(f, "FRR `router bgp {asn}`: {}", edits.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNNING: &str = "Building configuration...\n\nCurrent configuration:\n!\nfrr version 8.4.4\n\
        frr defaults traditional\nhostname vm\n!\nrouter bgp 65001 vrf red\n bgp router-id 10.0.0.9\nexit\n!\n\
        router bgp 65000\n bgp router-id 192.0.2.2\n no bgp default ipv4-unicast\n neighbor vxlan-mesh peer-group\n \
        neighbor vxlan-mesh remote-as internal\n neighbor 192.0.2.1 peer-group vxlan-mesh\n !\n \
        address-family ipv4 unicast\n  network 10.9.0.0/16\n exit-address-family\n !\n \
        address-family l2vpn evpn\n  neighbor vxlan-mesh activate\n  advertise-all-vni\n exit-address-family\nexit\n!\nend\n";

    const DESIRED: &str = "router bgp 65000\n bgp router-id 192.0.2.2\n no bgp default ipv4-unicast\n \
        neighbor vxlan-mesh peer-group\n neighbor vxlan-mesh remote-as internal\n \
        neighbor 192.0.2.1 peer-group vxlan-mesh\n neighbor 192.0.2.3 peer-group vxlan-mesh\n !\n \
        address-family l2vpn evpn\n  neighbor vxlan-mesh activate\n  advertise-all-vni\n exit-address-family\nexit\n";

    fn block(text: &str) -> Block {
        Block::find(text).ok().flatten().unwrap_or(Block {
            asn: 0,
            contexts: Vec::new(),
            unreadable: None,
        })
    }

    #[test]
    fn reads_the_default_vrf_block_by_context() {
        let b = block(RUNNING);
        assert_eq!(b.asn, 65000);
        assert!(b.is_ours());
        assert_eq!(b.top().len(), 5);
        assert_eq!(
            b.lines_of(&Some("address-family ipv4 unicast".into())),
            ["network 10.9.0.0/16"]
        );
        assert_eq!(
            b.lines_of(&Some("address-family l2vpn evpn".into())),
            ["neighbor vxlan-mesh activate", "advertise-all-vni"]
        );
        assert_eq!(Block::find("frr version 8.4.4\n!\nend\n"), Ok(None));
        assert!(!block("router bgp 1\n bgp router-id 1.1.1.1\nexit\n").is_ours());
        assert_eq!(Block::find("router bgp 1\n bgp router-id 1.1.1.1\n"), Ok(None));
        assert!(Block::find("router bgp 99999999999\nexit\n").is_err());
        let nested = "router bgp 1\n !\n address-family l2vpn evpn\n  vni 100\n   rd 1:1\n  exit-vni\n exit-address-family\nexit\n";
        let nested = block(nested);
        assert_eq!(nested.asn, 1);
        assert!(nested.unreadable.is_some_and(|u| u.contains("`rd 1:1`")));
    }

    #[test]
    fn edits_touch_only_the_lines_that_differ() {
        let edits = block(DESIRED).edits_from(Some(&block(RUNNING)));
        let family = Some("address-family ipv4 unicast".to_string());
        assert_eq!(
            edits,
            [
                Edit::Remove {
                    context: family,
                    line: "network 10.9.0.0/16".into()
                },
                Edit::Add {
                    context: None,
                    line: "neighbor 192.0.2.3 peer-group vxlan-mesh".into()
                },
            ]
        );
        let change = BgpChange::Edit {
            asn: 65000,
            created: false,
            edits,
        };
        assert_eq!(
            change.vtysh_commands(),
            [
                "configure terminal",
                "router bgp 65000",
                "address-family ipv4 unicast",
                "no network 10.9.0.0/16",
                "exit-address-family",
                "neighbor 192.0.2.3 peer-group vxlan-mesh"
            ]
        );
        assert!(block(DESIRED).edits_from(Some(&block(DESIRED))).is_empty());
    }

    #[test]
    fn a_new_block_sends_every_line_in_order() {
        let edits = block(DESIRED).edits_from(None);
        let commands: Vec<String> = edits.iter().map(Edit::command).collect();
        assert_eq!(commands.first().map(String::as_str), Some("bgp router-id 192.0.2.2"));
        assert_eq!(commands.len(), 8);
        let change = BgpChange::Edit {
            asn: 65000,
            created: true,
            edits,
        };
        let all = change.vtysh_commands();
        assert_eq!(all.get(8).map(String::as_str), Some("address-family l2vpn evpn"));
        assert_eq!(all.last().map(String::as_str), Some("exit-address-family"));
    }

    #[test]
    fn removing_a_negative_line_sends_the_positive_one() {
        let e = Edit::Remove {
            context: None,
            line: "no bgp default ipv4-unicast".into(),
        };
        assert_eq!(e.command(), "bgp default ipv4-unicast");
    }
}
