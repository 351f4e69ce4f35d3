//! `--wireguard-key FILE` of the commands that act on this host. Reading, checking and
//! making key files is [`vxlan_mesh_core::key_file`]'s.

use std::path::PathBuf;

use clap::Args;
pub use vxlan_mesh_core::key_file::generate;
pub use vxlan_mesh_core::wireguard::DEFAULT_KEY_FILE;

/// The environment variable that gives the key file instead of `--wireguard-key`.
pub const KEY_ENV: &str = "VXLAN_MESH_WIREGUARD_KEY";

/// `--wireguard-key FILE` of the commands that act on this host.
#[derive(Debug, Args, Clone)]
pub struct KeyArg {
    /// This host's WireGuard private key (with `encryption = "wireguard"`; ignored
    /// otherwise). Its public half must be the host's `public-key` in the inventory.
    #[arg(long, value_name = "FILE", env = KEY_ENV, default_value = DEFAULT_KEY_FILE)]
    pub wireguard_key: PathBuf,
}
