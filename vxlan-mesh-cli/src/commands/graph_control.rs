//! What `graph` draws beside the VXLAN links for the modes that have more: the BGP EVPN
//! sessions and route reflectors of mode `evpn`, and the WireGuard tunnels the links run in
//! with `encryption = "wireguard"`.
//!
//! Taken from the fleet's host and membership lists, not from the hosts' plans: planning
//! every host costs O(hosts²) (each plan lists every peer), which at 10,000 hosts was minutes
//! (BENCHMARKS.md). They follow the planner's rules (`evpn.sessions`: a host peers with
//! every route reflector but itself; `wireguard.peers`: every host it shares a network with),
//! which a test compares with the plans of generated fleets.

use std::fmt::Write as _;

use vxlan_mesh_core::{Fleet, Mode};

/// Sessions, reflectors and tunnels, by host index.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Control {
    /// Hosts that are BGP route reflectors.
    pub reflectors: Vec<usize>,
    /// BGP sessions: the host that opens it, the reflector, and whether both are reflectors
    /// (each opens it to the other; drawn once).
    pub sessions: Vec<(usize, usize, bool)>,
    /// WireGuard tunnels between two hosts, lower index first (none when the fleet's
    /// tunnels are drawn as stars, see [`Control::from_fleet`]).
    pub tunnels: Vec<(usize, usize)>,
}

impl Control {
    /// The sessions of an evpn fleet (O(hosts × reflectors)) and the tunnels of an encrypted
    /// one: one per pair of hosts sharing a network (O(links)), or none when
    /// `tunnels_as_stars` (the caller draws each network's members linked to it instead).
    pub fn from_fleet(fleet: &Fleet, tunnels_as_stars: bool) -> Control {
        let mut c = Control::default();
        let hosts = fleet.hosts();
        if fleet.mode() == Mode::Evpn && fleet.evpn().is_some() {
            c.reflectors = hosts
                .iter()
                .enumerate()
                .filter(|(_, h)| h.route_reflector)
                .map(|(i, _)| i)
                .collect();
            for (me, host) in hosts.iter().enumerate() {
                for &peer in c.reflectors.iter().filter(|&&r| r != me) {
                    // Reflectors open sessions to each other: draw each once.
                    let both = host.route_reflector;
                    if !both || me < peer {
                        c.sessions.push((me, peer, both));
                    }
                }
            }
        }
        if fleet.wireguard().is_some() && !tunnels_as_stars {
            for net in fleet.networks() {
                let members: Vec<usize> = net
                    .members
                    .iter()
                    .copied()
                    .filter(|&i| hosts.get(i).is_some_and(|h| h.wireguard.is_some()))
                    .collect();
                for (k, &a) in members.iter().enumerate() {
                    c.tunnels.extend(members[k + 1..].iter().map(|&b| (a.min(b), a.max(b))));
                }
            }
            // Two hosts sharing several networks have one tunnel.
            c.tunnels.sort_unstable();
            c.tunnels.dedup();
        }
        c.sessions.sort_unstable();
        c
    }

    /// Mermaid lines: reflectors redrawn as hexagons saying so (the last definition of a node
    /// wins), dashed arrows for sessions (towards the reflector), thick lines for tunnels.
    pub fn mermaid(&self, hosts: &[(String, String)], s: &mut String) {
        for &r in &self.reflectors {
            if let Some((name, addr)) = hosts.get(r) {
                let _ = writeln!(s, "    h{r}{{{{\"{name}<br/>{addr}<br/>BGP route reflector\"}}}}");
            }
        }
        for (a, b, mutual) in &self.sessions {
            let from = if *mutual { "<" } else { "" };
            let _ = writeln!(s, "    h{a} {from}-.->|\"iBGP EVPN session\"| h{b}");
        }
        for (a, b) in &self.tunnels {
            let _ = writeln!(s, "    h{a} <==>|\"WireGuard, encrypted\"| h{b}");
        }
        if !self.reflectors.is_empty() {
            let ids: Vec<String> = self.reflectors.iter().map(|r| format!("h{r}")).collect();
            let _ = writeln!(s, "    classDef reflector stroke-width:3px");
            let _ = writeln!(s, "    class {} reflector", ids.join(","));
        }
    }

    /// DOT lines: reflectors re-attributed (double octagons saying so), dashed arrows for
    /// sessions (towards the reflector), bold green edges for tunnels.
    pub fn dot(&self, hosts: &[(String, String)], s: &mut String) {
        for &r in &self.reflectors {
            if let Some((name, addr)) = hosts.get(r) {
                let _ = writeln!(
                    s,
                    "    h{r} [shape=doubleoctagon, label=\"{name}\\n{addr}\\nBGP route reflector\"];"
                );
            }
        }
        for (a, b, mutual) in &self.sessions {
            let dir = if *mutual { "both" } else { "forward" };
            let _ = writeln!(
                s,
                "    h{a} -- h{b} [style=dashed, dir={dir}, color=blue, label=\"iBGP EVPN session\"];"
            );
        }
        for (a, b) in &self.tunnels {
            let _ = writeln!(
                s,
                "    h{a} -- h{b} [style=bold, color=darkgreen, label=\"WireGuard, encrypted\"];"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use vxlan_mesh_core::Inventory;

    #[test]
    fn clients_open_a_session_to_each_reflector_and_reflectors_one_between_them() {
        let mut text = String::from(
            "mode = \"evpn\"\n[evpn]\nunderlay-prefix = \"192.0.2.0/24\"\n\
             [[networks]]\nname = \"lan\"\nvni = 100\nbridge = \"vxbr0\"\n",
        );
        for n in 1..=4 {
            let rr = if n % 2 == 1 { "route-reflector = true\n" } else { "" };
            text += &format!("[[hosts]]\nname = \"h{n}\"\naddress = \"192.0.2.{n}\"\n{rr}");
        }
        let fleet = Inventory::from_toml_str(&text).unwrap().validate().unwrap();
        let c = Control::from_fleet(&fleet, false);
        assert_eq!(c.reflectors, vec![0, 2]);
        assert_eq!(
            c.sessions,
            vec![(0, 2, true), (1, 0, false), (1, 2, false), (3, 0, false), (3, 2, false)]
        );
        assert!(c.tunnels.is_empty());
    }

    /// What the hosts' plans say, as `graph` drew it before it stopped planning: the sessions
    /// of `evpn.sessions` and the tunnels of `wireguard.peers`.
    fn from_plans(fleet: &Fleet) -> Control {
        let mut c = Control::default();
        let index = |name: &str| fleet.hosts().iter().position(|h| h.name == name).unwrap();
        for (me, host) in fleet.hosts().iter().enumerate() {
            let plan = fleet.plan(&host.name).unwrap();
            if let Some(evpn) = &plan.evpn {
                if evpn.route_reflector {
                    c.reflectors.push(me);
                }
                for s in &evpn.sessions {
                    let peer = index(&s.peer);
                    let both = host.route_reflector && fleet.hosts()[peer].route_reflector;
                    if !both || me < peer {
                        c.sessions.push((me, peer, both));
                    }
                }
            }
            if let Some(wg) = &plan.wireguard {
                c.tunnels.extend(
                    wg.peers
                        .iter()
                        .map(|p| index(&p.name))
                        .filter(|p| me < *p)
                        .map(|p| (me, p)),
                );
            }
        }
        c.sessions.sort_unstable();
        c.tunnels.sort_unstable();
        c
    }

    /// Three networks; host i joins those whose bit is set in i % 8 (some hosts none).
    fn networks_and_hosts(hosts: usize, extra: impl Fn(usize) -> String) -> String {
        let mut text = String::new();
        for (n, name) in ["a", "b", "c"].iter().enumerate() {
            text += &format!(
                "[[networks]]\nname = \"{name}\"\nvni = {}\nbridge = \"vxbr{n}\"\n",
                1000 * (n + 1)
            );
        }
        for i in 1..=hosts {
            let nets: Vec<String> = ["a", "b", "c"]
                .iter()
                .enumerate()
                .filter(|(n, _)| (i % 8) & (1 << n) != 0)
                .map(|(_, name)| format!("\"{name}\""))
                .collect();
            text += &format!(
                "[[hosts]]\nname = \"h{i}\"\naddress = \"192.0.2.{i}\"\nnetworks = [{}]\n{}",
                nets.join(", "),
                extra(i)
            );
        }
        text
    }

    #[test]
    fn evpn_sessions_are_the_plans_sessions() {
        for reflectors in [1, 2, 5] {
            let text = format!(
                "mode = \"evpn\"\n[evpn]\nunderlay-prefix = \"192.0.2.0/24\"\n{}",
                networks_and_hosts(30, |i| if i % 5 == 0 && i / 5 <= reflectors {
                    "route-reflector = true\n".to_string()
                } else {
                    String::new()
                })
            );
            let fleet = Inventory::from_toml_str(&text).unwrap().validate().unwrap();
            let c = Control::from_fleet(&fleet, false);
            assert_eq!(c.reflectors.len(), reflectors);
            assert_eq!(c, from_plans(&fleet), "{reflectors} reflectors");
        }
    }

    #[test]
    fn wireguard_tunnels_are_the_plans_peers_or_none_as_stars() {
        // A distinct public key per host: its number in the first byte.
        let key = |i: usize| {
            let mut bytes = [7u8; 32];
            bytes[0] = i as u8;
            vxlan_mesh_core::PublicKey(bytes).to_string()
        };
        // Validation refuses evpn with encryption.
        for mode in ["flood", "per-peer"] {
            let text = format!(
                "mode = \"{mode}\"\nencryption = \"wireguard\"\n[wireguard]\nprefix = \"10.9.0.0/24\"\n{}",
                networks_and_hosts(24, |i| format!("public-key = \"{}\"\n", key(i)))
            );
            let fleet = Inventory::from_toml_str(&text).unwrap().validate().unwrap();
            let c = Control::from_fleet(&fleet, false);
            // Hosts of no network (i % 8 == 0) have no tunnel; the others have some.
            assert!(!c.tunnels.is_empty() && c.tunnels.iter().all(|&(a, b)| a < b && (a + 1) % 8 != 0));
            assert_eq!(c, from_plans(&fleet), "{mode}");
            assert!(Control::from_fleet(&fleet, true).tunnels.is_empty());
        }
    }
}
