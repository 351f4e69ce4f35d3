//! The sizes above which commands draw, write or refuse differently: one place, which the
//! commands and the manual page (vxlan-mesh(1), "Large fleets") both read.

/// Flood fleets larger than this are drawn as stars, one per network (encrypted fleets'
/// tunnels too).
pub const STAR_ABOVE: usize = 100;

/// The most links `graph` draws one by one: a per-peer fleet of 1,000 hosts.
pub const MAX_LINKS: u64 = 499_500;

/// The most peer entries `plan --all` and `render --all` write without
/// `--allow-large-output`: a flood fleet of 2,000 hosts on one network (2,000 × 1,999 =
/// 3,998,000 entries; about 1.1 GB of plan JSON, 1.5 GB of networkd files), which
/// `render --all` writes in about a minute on the project's 2-core machine. Above it the
/// output is rarely wanted whole: one host's part (`--host`) is what a host deploys.
pub const MAX_PEER_ENTRIES: u64 = 4_000_000;
