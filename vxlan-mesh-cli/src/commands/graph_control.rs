//! What `graph` draws beside the VXLAN links for the modes that have more: the BGP EVPN
//! sessions and route reflectors of mode `evpn`, and the WireGuard tunnels the links run in
//! with `encryption = "wireguard"`. Taken from the hosts' plans (`evpn.sessions`,
//! `wireguard.peers`), as `apply` builds them.

use std::fmt::Write as _;

use vxlan_mesh_core::{Encryption, Fleet, Mode};

/// Sessions, reflectors and tunnels, by host index.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Control {
    /// Hosts that are BGP route reflectors.
    pub reflectors: Vec<usize>,
    /// BGP sessions: the host that opens it, the reflector, and whether both are reflectors
    /// (each opens it to the other; drawn once).
    pub sessions: Vec<(usize, usize, bool)>,
    /// WireGuard tunnels between two hosts, lower index first.
    pub tunnels: Vec<(usize, usize)>,
}

impl Control {
    /// Nothing (and no planning) unless the fleet is in mode evpn or encrypted.
    pub fn from_fleet(fleet: &Fleet) -> Control {
        let mut c = Control::default();
        if fleet.mode() != Mode::Evpn && fleet.encryption() != Encryption::Wireguard {
            return c;
        }
        let index = |name: &str| fleet.hosts().iter().position(|h| h.name == name);
        for (me, host) in fleet.hosts().iter().enumerate() {
            let Ok(plan) = fleet.plan(&host.name) else { continue };
            if let Some(evpn) = &plan.evpn {
                if evpn.route_reflector {
                    c.reflectors.push(me);
                }
                for s in &evpn.sessions {
                    let Some(peer) = index(&s.peer) else { continue };
                    // Reflectors open sessions to each other: draw each once.
                    let both = host.route_reflector && fleet.hosts().get(peer).is_some_and(|h| h.route_reflector);
                    if !both || me < peer {
                        c.sessions.push((me, peer, both));
                    }
                }
            }
            if let Some(wg) = &plan.wireguard {
                c.tunnels.extend(
                    wg.peers
                        .iter()
                        .filter_map(|p| index(&p.name))
                        .filter(|peer| me < *peer)
                        .map(|peer| (me, peer)),
                );
            }
        }
        c.sessions.sort_unstable();
        c.tunnels.sort_unstable();
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
        let c = Control::from_fleet(&fleet);
        assert_eq!(c.reflectors, vec![0, 2]);
        assert_eq!(
            c.sessions,
            vec![(0, 2, true), (1, 0, false), (1, 2, false), (3, 0, false), (3, 2, false)]
        );
        assert!(c.tunnels.is_empty());
    }
}
