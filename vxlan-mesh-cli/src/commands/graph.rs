//! `vxlan-mesh graph`: the mesh as a picture, drawn from the hosts' plans.
//!
//! Links and their VNIs come from the planner (the VXLAN devices of per-peer mode, the FDB
//! flood entries of flood mode), never recomputed here, so the picture shows what `apply`
//! and `render` build.
//!
//! Size: a flood fleet of more than [`STAR_ABOVE`] hosts is drawn as one star per network
//! (each member linked to its network), not as its N(N−1)/2 flood links: in flood mode every
//! member floods to every other, so the star says the same in O(hosts), and a picture of
//! thousands of crossing lines says nothing. The WireGuard tunnels of an encrypted fleet of
//! more than [`STAR_ABOVE`] hosts are drawn the same way (every pair of hosts sharing a
//! network has one). A per-peer fleet has one VNI per link, which only the full mesh shows:
//! above [`MAX_LINKS`] links the command refuses. An evpn fleet has no static links; its BGP
//! sessions are O(hosts × route reflectors). Nothing is planned for a large flood fleet nor
//! for an evpn one.

use std::fmt::Write as _;
use std::process::ExitCode;

use std::collections::HashMap;

use anyhow::{bail, Result};
use vxlan_mesh_core::{Fleet, HostPlan, Mode};

use super::graph_control::Control;
use crate::cli::{Cli, GraphFormat};
use crate::inventory_file;
use crate::output;
use crate::progress::Progress;

use crate::limits::{MAX_LINKS, STAR_ABOVE};

pub fn run(cli: &Cli, format: GraphFormat) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    drawable(&fleet)?;
    let mesh = Mesh::from_fleet(&fleet, Progress::for_cli(cli, "planning", fleet.hosts().len() as u64));
    let text = match format {
        GraphFormat::Mermaid => mermaid(&mesh),
        GraphFormat::Dot => dot(&mesh),
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// What the picture shows, independent of the graph language.
pub struct Mesh {
    mode: Mode,
    port: u16,
    hosts: Vec<(String, String)>,
    networks: Vec<NetBox>,
    /// (host index, host index, network index, VNI); each link once, lower index first.
    links: Vec<(usize, usize, usize, u32)>,
    /// BGP sessions, route reflectors and WireGuard tunnels (modes that have them).
    control: Control,
    /// A large flood or encrypted fleet: (host index, network index) of every membership,
    /// drawn instead of `links` (flood mode; empty then) or of the WireGuard tunnels.
    stars: Vec<(usize, usize)>,
    /// Whether `stars` stand for flood links (else for WireGuard tunnels only).
    flood_star: bool,
    /// Whether the links run in WireGuard tunnels.
    encrypted: bool,
}

/// Refuses a per-peer fleet of more than [`MAX_LINKS`] links (flood fleets are drawn as
/// stars when large; evpn fleets have no static links).
fn drawable(fleet: &Fleet) -> Result<()> {
    if fleet.mode() == Mode::PerPeer {
        let links = mesh_links(fleet);
        if links > MAX_LINKS {
            bail!(
                "a per-peer fleet of {} hosts has {links} links, each its own VNI; graph draws at most {MAX_LINKS} (a per-peer fleet of 1,000 hosts): use `plan --host` for one host's links",
                fleet.hosts().len()
            );
        }
    }
    Ok(())
}

/// Whether `fleet`'s flood links are drawn as stars: a flood fleet above [`STAR_ABOVE`]
/// hosts.
fn flood_star(fleet: &Fleet) -> bool {
    fleet.mode() == Mode::Flood && fleet.hosts().len() > STAR_ABOVE
}

/// Whether `fleet`'s WireGuard tunnels are drawn as stars: an encrypted fleet above
/// [`STAR_ABOVE`] hosts.
fn tunnel_star(fleet: &Fleet) -> bool {
    fleet.wireguard().is_some() && fleet.hosts().len() > STAR_ABOVE
}

/// The links of a per-peer `fleet`: every pair of members of each network, each pair's two
/// ends counted once among the peer entries.
fn mesh_links(fleet: &Fleet) -> u64 {
    super::fleet_size::peer_entries(fleet) / 2
}

struct NetBox {
    name: String,
    bridge: String,
    vni: u32,
    vni_last: u32,
    mtu: u32,
}

impl Mesh {
    /// Plans every host and collects hosts, networks and links; a large flood fleet's
    /// memberships instead (see [`STAR_ABOVE`]), and nothing for an evpn fleet, which has
    /// no static links.
    pub fn from_fleet(fleet: &Fleet, mut progress: Progress) -> Mesh {
        let hosts: HashMap<&str, usize> = fleet
            .hosts()
            .iter()
            .enumerate()
            .map(|(i, h)| (h.name.as_str(), i))
            .collect();
        let index = |name: &str| hosts.get(name).copied();
        let net_index = |name: &str| fleet.networks().iter().position(|n| n.name == name);
        let mut links = Vec::new();
        let mut stars = Vec::new();
        let (flood_star, tunnel_star) = (flood_star(fleet), tunnel_star(fleet));
        if flood_star || tunnel_star {
            for (net, n) in fleet.networks().iter().enumerate() {
                stars.extend(n.members.iter().map(|&host| (host, net)));
            }
            stars.sort_unstable();
        }
        // In evpn mode FRR installs the flood list: the plans have no links to collect.
        let planned = !flood_star && fleet.mode() != Mode::Evpn;
        for (me, host) in fleet.hosts().iter().enumerate().filter(|_| planned) {
            let Ok(plan) = fleet.plan(&host.name) else { continue };
            links.extend(links_of(&plan).filter_map(|(peer, net, vni)| {
                let (peer, net) = (index(peer)?, net_index(net)?);
                (me < peer).then_some((me, peer, net, vni))
            }));
            progress.inc(1);
        }
        progress.finish();
        links.sort_unstable();
        Mesh {
            mode: fleet.mode(),
            port: fleet.port(),
            hosts: fleet
                .hosts()
                .iter()
                .map(|h| (h.name.clone(), h.address.to_string()))
                .collect(),
            networks: fleet
                .networks()
                .iter()
                .map(|n| NetBox {
                    name: n.name.clone(),
                    bridge: n.bridge.clone(),
                    vni: n.vni,
                    vni_last: n.vni_last,
                    mtu: n.mtu,
                })
                .collect(),
            links,
            control: Control::from_fleet(fleet, tunnel_star),
            stars,
            flood_star,
            encrypted: fleet.wireguard().is_some(),
        }
    }

    fn title(&self) -> String {
        let star = match (self.stars.is_empty(), self.flood_star, self.encrypted) {
            (true, _, _) => "",
            (false, true, false) => " · each network drawn as a star: its members all flood to each other",
            (false, true, true) => {
                " · each network drawn as a star: its members all flood to each other, through a WireGuard tunnel between every two"
            }
            (false, false, _) => {
                " · WireGuard tunnels drawn as a star per network: every two members have one"
            }
        };
        format!(
            "vxlan-mesh · {} hosts · {} mode · UDP port {}{star}",
            self.hosts.len(),
            self.mode.as_str(),
            self.port
        )
    }

    fn link_label(&self, net: usize, vni: u32) -> String {
        let name = self.networks.get(net).map_or("", |n| n.name.as_str());
        if self.networks.len() == 1 {
            format!("VNI {vni}")
        } else {
            format!("{name} VNI {vni}")
        }
    }

    fn net_label(&self, n: &NetBox, newline: &str) -> String {
        let vnis = match self.mode {
            Mode::Flood => format!("VNI {} (flood: one device, one FDB entry per peer)", n.vni),
            Mode::PerPeer => format!("VNIs {}..{} (one per link)", n.vni, n.vni_last),
            Mode::Evpn => format!("VNI {} (evpn: FRR installs the flood list)", n.vni),
            // `Mode` is non-exhaustive: a mode added later shows its VNI range until it has
            // words of its own here.
            _ => format!("VNIs {}..{}", n.vni, n.vni_last),
        };
        format!(
            "network {}{newline}bridge {}{newline}{vnis}{newline}container MTU {}",
            n.name, n.bridge, n.mtu
        )
    }
}

/// (peer name, network name, VNI) of every link in a host's plan.
fn links_of(plan: &HostPlan) -> impl Iterator<Item = (&str, &str, u32)> {
    plan.networks.iter().flat_map(|net| {
        let per_peer = net
            .vxlans
            .iter()
            .filter_map(|vx| Some((vx.peer.as_deref()?, net.name.as_str(), vx.vni)));
        let flood = net.fdb.iter().filter_map(move |e| {
            let vni = net.vxlans.iter().find(|v| v.name == e.device)?.vni;
            Some((e.peer.as_deref()?, net.name.as_str(), vni))
        });
        per_peer.chain(flood)
    })
}

/// A Mermaid flowchart. Node ids are generated (`h0`, `n0`) because host names may hold
/// `-` and `.`, which Mermaid reads as syntax; names only appear inside quoted labels,
/// and the inventory's name rules keep quotes out of them.
pub fn mermaid(mesh: &Mesh) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "---\ntitle: {}\n---", mesh.title());
    let _ = writeln!(s, "flowchart LR");
    for (i, (name, addr)) in mesh.hosts.iter().enumerate() {
        let _ = writeln!(s, "    h{i}[\"{name}<br/>{addr}\"]");
    }
    for (a, b, net, vni) in &mesh.links {
        let _ = writeln!(s, "    h{a} <-->|\"{}\"| h{b}", mesh.link_label(*net, *vni));
    }
    // Thick edges, as tunnels are drawn, when the star stands for WireGuard tunnels.
    let edge = if mesh.encrypted { "<==>" } else { "<-->" };
    for (host, net) in &mesh.stars {
        let _ = writeln!(s, "    h{host} {edge} n{net}");
    }
    for (i, n) in mesh.networks.iter().enumerate() {
        let _ = writeln!(s, "    n{i}[/\"{}\"/]", mesh.net_label(n, "<br/>"));
    }
    mesh.control.mermaid(&mesh.hosts, &mut s);
    s
}

/// A Graphviz graph (`dot -Tsvg`). Every string is quoted; names cannot hold quotes or
/// backslashes (the inventory's name rules), so no escaping is needed.
pub fn dot(mesh: &Mesh) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "graph \"vxlan-mesh\" {{");
    let _ = writeln!(s, "    label=\"{}\";", mesh.title());
    let _ = writeln!(s, "    labelloc=t;");
    let _ = writeln!(s, "    layout=circo;");
    let _ = writeln!(s, "    node [shape=box, fontname=\"Helvetica\"];");
    let _ = writeln!(s, "    edge [fontname=\"Helvetica\", fontsize=10];");
    for (i, (name, addr)) in mesh.hosts.iter().enumerate() {
        let _ = writeln!(s, "    h{i} [label=\"{name}\\n{addr}\"];");
    }
    for (a, b, net, vni) in &mesh.links {
        let _ = writeln!(s, "    h{a} -- h{b} [label=\"{}\"];", mesh.link_label(*net, *vni));
    }
    // Bold green, as tunnels are drawn, when the star stands for WireGuard tunnels.
    let style = if mesh.encrypted {
        " [style=bold, color=darkgreen]"
    } else {
        ""
    };
    for (host, net) in &mesh.stars {
        let _ = writeln!(s, "    h{host} -- n{net}{style};");
    }
    for (i, n) in mesh.networks.iter().enumerate() {
        let _ = writeln!(s, "    n{i} [shape=note, label=\"{}\"];", mesh.net_label(n, "\\n"));
    }
    mesh.control.dot(&mesh.hosts, &mut s);
    let _ = writeln!(s, "}}");
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use vxlan_mesh_core::Inventory;

    fn mesh(text: &str) -> Mesh {
        Mesh::from_fleet(
            &Inventory::from_toml_str(text).unwrap().validate().unwrap(),
            Progress::hidden(),
        )
    }

    const THREE: &str = "[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n[[networks]]\nname = \"dmz\"\nvni = 200\nbridge = \"vxbr1\"\n[[hosts]]\nname = \"a\"\naddress = \"192.0.2.1\"\n[[hosts]]\nname = \"b\"\naddress = \"192.0.2.2\"\nnetworks = [\"lan\"]\n[[hosts]]\nname = \"c\"\naddress = \"192.0.2.3\"\n";

    #[test]
    fn flood_links_follow_network_membership() {
        let m = mesh(THREE);
        // lan: a-b, a-c, b-c; dmz: a-c only (b does not join it).
        assert_eq!(
            m.links,
            vec![(0, 1, 0, 100), (0, 2, 0, 100), (0, 2, 1, 200), (1, 2, 0, 100)]
        );
        assert!(mermaid(&m).contains("h0 <-->|\"dmz VNI 200\"| h2"));
    }

    #[test]
    fn per_peer_links_carry_the_planned_vni_once() {
        let m = mesh(&format!("mode = \"per-peer\"\n{THREE}"));
        let lan: Vec<u32> = m.links.iter().filter(|l| l.2 == 0).map(|l| l.3).collect();
        // Pair indices {1,2}→0, {1,3}→1, {2,3}→2 on base 100.
        assert_eq!(lan, vec![100, 101, 102]);
        assert!(dot(&m).contains("h1 -- h2 [label=\"lan VNI 102\"];"));
    }

    /// `hosts` hosts in `mode` on `networks` (joining all), IPv6 documentation addresses.
    fn fleet_of(mode: &str, networks: &str, hosts: usize) -> Fleet {
        let mut text = format!("mode = \"{mode}\"\n{networks}");
        for i in 1..=hosts {
            text.push_str(&format!("[[hosts]]\nname = \"h{i}\"\naddress = \"2001:db8::{i:x}\"\n"));
        }
        Inventory::from_toml_str(&text).unwrap().validate().unwrap()
    }

    #[test]
    fn a_large_flood_fleet_is_one_star_per_network() {
        let networks = THREE.split("[[hosts]]").next().unwrap();
        let small = Mesh::from_fleet(&fleet_of("flood", networks, STAR_ABOVE), Progress::hidden());
        assert_eq!((small.links.len(), small.stars.len()), (2 * 100 * 99 / 2, 0));
        let m = Mesh::from_fleet(&fleet_of("flood", networks, STAR_ABOVE + 1), Progress::hidden());
        // Every host joins both networks: one edge per membership, none between hosts.
        assert!(m.links.is_empty());
        assert_eq!(m.stars.len(), 2 * (STAR_ABOVE + 1));
        assert_eq!(m.stars[..2], [(0, 0), (0, 1)]);
        let text = mermaid(&m);
        assert!(text.contains("    h100 <--> n1\n"), "{text}");
        assert!(text.contains("drawn as a star"), "{text}");
        assert!(dot(&m).contains("    h0 -- n0;\n"));
    }

    #[test]
    fn a_per_peer_fleet_above_the_limit_is_refused_with_its_link_count() {
        let lan = "[[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n";
        assert!(drawable(&fleet_of("per-peer", lan, 1000)).is_ok());
        let err = drawable(&fleet_of("per-peer", lan, 1001)).unwrap_err().to_string();
        assert!(err.contains("1001 hosts has 500500 links"), "{err}");
        assert!(drawable(&fleet_of("flood", lan, 5000)).is_ok());
    }

    #[test]
    fn evpn_networks_have_no_static_links_and_say_who_floods() {
        let evpn = THREE.replace(
            "address = \"192.0.2.1\"\n",
            "address = \"192.0.2.1\"\nroute-reflector = true\n",
        );
        let m = mesh(&format!(
            "mode = \"evpn\"\n[evpn]\nunderlay-prefix = \"192.0.2.0/24\"\n{evpn}"
        ));
        assert!(m.links.is_empty(), "{:?}", m.links);
        assert!(mermaid(&m).contains("VNI 100 (evpn: FRR installs the flood list)"));
    }
}
