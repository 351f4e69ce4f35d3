//! # vxlan-mesh-gen
//!
//! Renders a [`HostPlan`] into the files that deploy it without vxlan-mesh on the host:
//!
//! - [`Format::Shell`]: one standalone iproute2 script (`start|stop|restart|status|sync`,
//!   `DRYRUN=1`) that converges the host from whatever an earlier rendering left, touching
//!   only what carries vxlan-mesh's mark;
//! - [`Format::Networkd`]: `.netdev`/`.network` files for `/etc/systemd/network`, plus the
//!   firewall (and ebtables loop prevention) as units that run before systemd-networkd, and
//!   the script with a unit that runs its `sync` after networkd (which alone never deletes
//!   or changes a netdev);
//! - [`Format::Netplan`]: netplan YAML plus networkd drop-ins for what netplan has no key for
//!   (FDB flood entries, bridge port isolation), and the same firewall units;
//! - [`Format::Ignition`]: one Ignition config (spec 3.3.0) that writes the networkd form's
//!   files, for hosts provisioned at first boot (Flatcar);
//! - [`Format::Ifupdown2`]: an `/etc/network/interfaces.d/` file for ifupdown2 (Proxmox VE)
//!   with the same units as the networkd form, ordered around `networking.service`; IPv4
//!   VTEPs, flood and per-peer modes only ([`Ifupdown2Limit`]);
//! - [`Format::Frr`]: in evpn mode, the host's FRR configuration (the `router bgp` block of
//!   [`vxlan_mesh_core::frr::Config`]), which the other forms also ship and load.
//!
//! Every file comes from an askama template under `templates/`; `askama.toml` declares the
//! escaper of each template type (shell words are single-quoted, unit-file values refuse line
//! breaks, YAML values are double-quoted), in the private module `escape`.
//!
//! The public API is the crate root alone. [`Format`], [`RenderError`], [`Options`] (build
//! it with [`Options::new`]) and the output errors are `#[non_exhaustive]`: formats, options
//! and failure kinds arrive in minor versions.
//!
//! ```
//! use vxlan_mesh_core::Inventory;
//! use vxlan_mesh_gen::{render, Format};
//!
//! let fleet = Inventory::from_toml_str(r#"
//!     [[networks]]
//!     name = "lan"
//!     vni = 100
//!     bridge = "vxbr0"
//!     [[hosts]]
//!     name = "a"
//!     address = "192.0.2.1"
//!     [[hosts]]
//!     name = "b"
//!     address = "192.0.2.2"
//! "#)?.validate()?;
//! let plan = fleet.plan("a")?;
//! let files = render(&plan, Format::Networkd)?;
//! assert!(files.iter().any(|f| f.path.ends_with("etc/systemd/network/50-vxlan-mesh-vxm100.netdev")));
//! let script = &render(&plan, Format::Shell)?[0];
//! assert_eq!(script.mode, 0o755);
//! assert!(script.contents.contains("'bridge' 'fdb' 'append' '00:00:00:00:00:00' 'dev' 'vxm100' 'dst' '192.0.2.2'"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
// A `pub` item that no path outside the crate reaches is a mistake: re-export it from here
// or make it `pub(crate)`; a type reachable through a public signature must be nameable.
#![warn(unreachable_pub, unnameable_types)]

mod escape;
mod frr;
mod ifupdown2;
mod ignition;
mod netplan;
mod networkd;
mod output;
mod shell;
mod units;

use std::fmt;
use std::path::PathBuf;

use vxlan_mesh_core::HostPlan;

pub use ifupdown2::Ifupdown2Limit;
pub use output::{check_relative, write_files, OutputDir, WriteError, Written, MANIFEST};

/// Output format of [`render`].
///
/// ```
/// use vxlan_mesh_gen::Format;
/// assert_eq!("netplan".parse::<Format>(), Ok(Format::Netplan));
/// assert_eq!(Format::Shell.to_string(), "shell");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// A standalone iproute2 shell script.
    Shell,
    /// systemd-networkd `.netdev`/`.network` files.
    Networkd,
    /// netplan YAML plus networkd drop-ins.
    Netplan,
    /// An Ignition config holding the networkd form's files.
    Ignition,
    /// The FRR configuration of an evpn-mode host.
    Frr,
    /// An ifupdown2 interfaces file (Proxmox VE) plus the networkd form's units.
    Ifupdown2,
}

impl Format {
    /// Every format, in a fixed order.
    pub const ALL: [Format; 6] = [
        Format::Shell,
        Format::Networkd,
        Format::Netplan,
        Format::Ignition,
        Format::Frr,
        Format::Ifupdown2,
    ];

    /// The formats `plan` can be rendered in: every one but [`Format::Frr`] outside evpn
    /// mode (such a plan has no BGP configuration), and [`Format::Ifupdown2`] only where
    /// ifupdown2 can build the plan (no [`Ifupdown2Limit`]).
    ///
    /// ```
    /// use vxlan_mesh_gen::Format;
    /// let plan = vxlan_mesh_core::testing::two_hosts().plan("a")?;
    /// assert!(!Format::of_plan(&plan).any(|f| f == Format::Frr));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of_plan(plan: &HostPlan) -> impl Iterator<Item = Format> + '_ {
        Format::ALL
            .into_iter()
            .filter(|f| *f != Format::Frr || plan.evpn.is_some())
            .filter(|f| *f != Format::Ifupdown2 || ifupdown2::limit(plan).is_none())
    }

    /// The format's name on the command line.
    ///
    /// ```
    /// assert_eq!(vxlan_mesh_gen::Format::Networkd.as_str(), "networkd");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Shell => "shell",
            Format::Networkd => "networkd",
            Format::Netplan => "netplan",
            Format::Ignition => "ignition",
            Format::Frr => "frr",
            Format::Ifupdown2 => "ifupdown2",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            format!("unknown format `{s}` (expected shell, networkd, netplan, ignition, frr or ifupdown2)")
        })
    }
}

/// One generated file.
///
/// ```
/// let fleet = vxlan_mesh_core::testing::two_hosts();
/// let files = vxlan_mesh_gen::render(&fleet.plan("a")?, vxlan_mesh_gen::Format::Netplan)?;
/// let yaml = files.iter().find(|f| f.path.extension().is_some_and(|e| e == "yaml")).unwrap();
/// assert_eq!(yaml.mode, 0o600); // netplan refuses world-readable YAML
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenderedFile {
    /// Path relative to the root of the host's filesystem (e.g. `etc/systemd/network/x.netdev`);
    /// never absolute, never with `..`.
    pub path: PathBuf,
    /// Unix permission bits the file must be installed with.
    pub mode: u32,
    /// File contents.
    pub contents: String,
}

/// Rendering options.
///
/// ```
/// let opts = vxlan_mesh_gen::Options::new("fleet.toml");
/// assert_eq!(opts.inventory, "fleet.toml");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The inventory the plan came from, named in every file's header (free text; shown in
    /// comments with unsafe characters replaced).
    pub inventory: String,
}

impl Options {
    /// Options naming `inventory` in every file's header, the others at their defaults (the
    /// struct is `#[non_exhaustive]`: options arrive in minor versions).
    pub fn new(inventory: impl Into<String>) -> Options {
        Options {
            inventory: inventory.into(),
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::new("(unnamed inventory)")
    }
}

/// Why a plan could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// A template failed, which happens when a value holds a character the format cannot
    /// carry (the core's validation should have refused it).
    #[error("cannot render `{file}`: a value holds a character this format cannot carry ({source})")]
    Template {
        /// The file being rendered.
        file: String,
        /// askama's error.
        source: askama::Error,
    },
    /// A generated path is absolute, has `..` or an unexpected character.
    #[error("generated path `{path}` could leave the output directory; refusing it")]
    UnsafePath {
        /// The offending path, with control characters escaped.
        path: String,
    },
    /// A generated networkd file would match the host's own underlay device, which networkd
    /// would then reconfigure (dropping addresses the file does not list).
    #[error("`{file}` would match the host's underlay device `{device}`; refusing to take it over")]
    MatchesUnderlay {
        /// The generated file.
        file: String,
        /// The underlay device.
        device: String,
    },
    /// The Ignition config could not be written as JSON.
    #[error("cannot write the Ignition config `{file}` as JSON ({source})")]
    Json {
        /// The config file.
        file: String,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The FRR form of a plan that is not in evpn mode, which has no BGP configuration.
    #[error(
        "host `{host}`: the `frr` form is the BGP configuration of mode = \"evpn\"; this inventory's mode is `{mode}`"
    )]
    NotEvpn {
        /// The host whose plan it is.
        host: String,
        /// The plan's mode.
        mode: &'static str,
    },
    /// The ifupdown2 form of a plan ifupdown2 cannot build.
    #[error("host `{host}`: no `ifupdown2` form: {limit}")]
    Ifupdown2 {
        /// The host whose plan it is.
        host: String,
        /// What ifupdown2 cannot build.
        limit: Ifupdown2Limit,
    },
}

/// Renders `plan` in `format`, with default [`Options`].
///
/// ```
/// use vxlan_mesh_gen::{render, Format};
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("b")?;
/// for format in Format::of_plan(&plan) {
///     assert!(!render(&plan, format)?.is_empty());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render(plan: &HostPlan, format: Format) -> Result<Vec<RenderedFile>, RenderError> {
    render_with(plan, format, &Options::default())
}

/// Renders `plan` in `format`; every returned path has passed [`check_relative`].
///
/// ```
/// use vxlan_mesh_gen::{render_with, Format, Options};
/// let plan = vxlan_mesh_core::testing::two_hosts().plan("a")?;
/// let opts = Options::new("examples/x.toml");
/// let files = render_with(&plan, Format::Shell, &opts)?;
/// assert!(files[0].contents.contains("examples/x.toml"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render_with(plan: &HostPlan, format: Format, opts: &Options) -> Result<Vec<RenderedFile>, RenderError> {
    let header = Header::new(plan, format, opts);
    let files = match format {
        Format::Shell => shell::render(plan, &header)?,
        Format::Networkd => networkd::render(plan, &header)?,
        Format::Netplan => netplan::render(plan, &header)?,
        // The networkd form's files, whatever they are, carried as they are; their headers
        // name the command that rendered them (`--format ignition`).
        Format::Ignition => vec![ignition::render(&networkd::render(plan, &header)?)?],
        Format::Frr => vec![frr::render(plan, &header)?.ok_or_else(|| RenderError::NotEvpn {
            host: plan.host.clone(),
            mode: plan.mode.as_str(),
        })?],
        Format::Ifupdown2 => ifupdown2::render(plan, &header)?,
    };
    for f in &files {
        check_relative(&f.path)?;
    }
    Ok(files)
}

/// Facts every file's header states.
pub(crate) struct Header {
    pub version: &'static str,
    pub host: String,
    pub inventory: String,
    pub command: String,
}

impl Header {
    fn new(plan: &HostPlan, format: Format, opts: &Options) -> Self {
        let inventory = escape::comment_text(&opts.inventory);
        Header {
            version: env!("CARGO_PKG_VERSION"),
            host: escape::comment_text(&plan.host),
            command: format!(
                "vxlan-mesh -i {inventory} render --format {format} --host {}",
                escape::comment_text(&plan.host)
            ),
            inventory,
        }
    }
}

/// Renders one askama template, naming the file in the error.
pub(crate) fn fill<T: askama::Template>(file: &str, template: &T) -> Result<String, RenderError> {
    let mut text = template.render().map_err(|source| RenderError::Template {
        file: file.to_string(),
        source,
    })?;
    // Template files end with a newline that askama does not keep; text files need one.
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}
