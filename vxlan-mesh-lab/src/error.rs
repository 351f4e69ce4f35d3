//! The lab's one error type.

use std::path::PathBuf;

/// Why building, probing or tearing down a lab failed.
///
/// ```
/// use vxlan_mesh_lab::LabError;
/// let e = LabError::BadTag { tag: "a-b".into() };
/// assert!(e.to_string().contains("`a-b`"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The tag would make namespace names ambiguous.
    #[error("lab tag `{tag}` must be 1..=24 characters of [a-z0-9]")]
    BadTag {
        /// The rejected tag.
        tag: String,
    },
    /// The spec cannot be built (too many containers, unknown host, ...).
    #[error("lab spec: {0}")]
    Spec(String),
    /// The planner refused a host of the fleet.
    #[error(transparent)]
    Plan(#[from] vxlan_mesh_core::PlanError),
    /// A namespace the lab wants already exists (another lab with the same tag).
    #[error("network namespace `{name}` already exists; remove the old lab first (cleanup_prefix)")]
    NamespaceExists {
        /// The namespace name.
        name: String,
    },
    /// A namespace name is not part of this lab.
    #[error("`{name}` is not a namespace or host of this lab")]
    UnknownName {
        /// What was asked for.
        name: String,
    },
    /// A program could not be started.
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// Reading or writing a file failed.
    #[error("`{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `ip -j` printed something that is not the JSON we expect.
    #[error("cannot parse output of `{command}`: {message}")]
    Parse {
        /// The command line.
        command: String,
        /// What was wrong.
        message: String,
    },
    /// Entering a network namespace failed.
    #[error("cannot enter network namespace `{name}`: {source}")]
    Setns {
        /// The namespace name.
        name: String,
        /// The OS error.
        source: nix::Error,
    },
    /// A raw ICMP socket could not be opened in a namespace (needs CAP_NET_RAW).
    #[error("cannot open a raw ICMP socket in network namespace `{name}`: {source}")]
    Socket {
        /// The namespace name.
        name: String,
        /// The OS error.
        source: nix::Error,
    },
    /// The closure given to [`run_in_netns`](crate::run_in_netns) panicked.
    #[error("the thread running in network namespace `{name}` panicked")]
    ThreadPanicked {
        /// The namespace name.
        name: String,
    },
}
