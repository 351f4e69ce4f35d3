//! IPv6 on the overlay's own interfaces (its bridges and VXLAN ports): the host takes no
//! part in the overlay's IPv6, in every form, as the networkd form's
//! `LinkLocalAddressing=no` and `IPv6AcceptRA=no` say.
//!
//! A bridge that accepts router advertisements (the kernel's default, `accept_ra = 1`)
//! lets any container give the host a default route through the overlay; one with a
//! link-local address answers the containers' neighbour discovery as a host of their LAN.

use serde::{Deserialize, Serialize};

/// The IPv6 settings of one interface that decide whether the host joins the overlay's
/// IPv6. Every form wants them all off ([`Ipv6Conf::HARDENED`]); an observed interface
/// with any on is drift.
///
/// ```
/// use vxlan_mesh_core::Ipv6Conf;
/// let mut c = Ipv6Conf::HARDENED;
/// c.accept_ra = true;
/// assert_eq!(c.delta(&Ipv6Conf::HARDENED), ["accept_ra off"]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Ipv6Conf {
    /// `net.ipv6.conf.<if>.accept_ra`: router advertisements received on the interface
    /// set routes (a default route through the overlay).
    #[serde(default)]
    pub accept_ra: bool,
    /// `net.ipv6.conf.<if>.autoconf`: prefixes advertised there give the host addresses.
    #[serde(default)]
    pub autoconf: bool,
    /// `net.ipv6.conf.<if>.addr_gen_mode` other than `1` (none): the kernel gives the
    /// interface a link-local address when it comes up.
    #[serde(default)]
    pub link_local: bool,
    /// The interface holds IPv6 addresses (the plan puts none on it).
    #[serde(default)]
    pub addresses: bool,
}

impl Ipv6Conf {
    /// What every form sets: no router advertisements, no autoconfiguration, no
    /// link-local address, no address at all.
    pub const HARDENED: Ipv6Conf = Ipv6Conf {
        accept_ra: false,
        autoconf: false,
        link_local: false,
        addresses: false,
    };

    /// What the kernel gives a new interface: router advertisements accepted,
    /// autoconfiguration on, a link-local address when it comes up.
    pub const fn default_of_new_link() -> Ipv6Conf {
        Ipv6Conf {
            accept_ra: true,
            autoconf: true,
            link_local: true,
            addresses: false,
        }
    }

    /// The sysctls that make an interface's settings [`Ipv6Conf::HARDENED`], as
    /// `sysctl -w` names them (a `.` in the interface name written `/`), with their values.
    ///
    /// ```
    /// let s = vxlan_mesh_core::Ipv6Conf::sysctls("vxbr0");
    /// assert_eq!(s[0], ("net.ipv6.conf.vxbr0.accept_ra".to_string(), "0"));
    /// ```
    pub fn sysctls(interface: &str) -> Vec<(String, &'static str)> {
        Ipv6Conf::SETTINGS
            .iter()
            .map(|(name, value)| (format!("net.ipv6.conf.{}.{name}", interface.replace('.', "/")), *value))
            .collect()
    }

    /// The settings of `net.ipv6.conf.<if>` that [`Ipv6Conf::HARDENED`] is made of, with
    /// their values (`addr_gen_mode` 1: none).
    pub const SETTINGS: [(&'static str, &'static str); 3] =
        [("accept_ra", "0"), ("autoconf", "0"), ("addr_gen_mode", "1")];

    /// Whether the sysctls of [`Ipv6Conf::sysctls`] differ from `to`'s.
    pub fn sysctls_differ(&self, to: &Ipv6Conf) -> bool {
        (self.accept_ra, self.autoconf, self.link_local) != (to.accept_ra, to.autoconf, to.link_local)
    }

    /// What differs from `to`, in words.
    pub fn delta(&self, to: &Ipv6Conf) -> Vec<String> {
        let mut d = Vec::new();
        let on_off = |b: bool| if b { "on" } else { "off" };
        if self.accept_ra != to.accept_ra {
            d.push(format!("accept_ra {}", on_off(to.accept_ra)));
        }
        if self.autoconf != to.autoconf {
            d.push(format!("autoconf {}", on_off(to.autoconf)));
        }
        if self.link_local != to.link_local {
            d.push(
                if to.link_local {
                    "addrgenmode eui64"
                } else {
                    "addrgenmode none"
                }
                .to_string(),
            );
        }
        if self.addresses && !to.addresses {
            d.push("flush IPv6 addresses".to_string());
        }
        d
    }
}
