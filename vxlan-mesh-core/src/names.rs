//! Names that end up in interface names, shell scripts and file names, and the names
//! vxlan-mesh gives the devices it creates.

use crate::error::NameProblem;

/// Longest Linux interface name (IFNAMSIZ − 1).
pub(crate) const IFNAME_MAX: usize = 15;

/// Longest host or network name.
pub(crate) const NAME_MAX: usize = 63;

/// Prefix of every VXLAN device vxlan-mesh creates; bridges may not use it, and ebtables
/// loop prevention matches it with a wildcard.
pub(crate) const DEVICE_PREFIX: &str = "vxm";

/// Prefix of the interface alias (IFLA_IFALIAS) that marks an object as owned by vxlan-mesh.
pub const OWNER_MARK: &str = "vxlan-mesh:";

/// Checks a host or network name: 1..=63 bytes of `[A-Za-z0-9_.-]`, not `.`/`..`, no
/// leading `.` or `-`.
///
/// ```
/// use vxlan_mesh_core::check_name;
/// assert!(check_name("lxd-1.eu").is_ok());
/// assert!(check_name("a;b").is_err());
/// ```
pub fn check_name(name: &str) -> Result<(), NameProblem> {
    check_chars(name, NAME_MAX)
}

/// Checks an interface name: as [`check_name`] but at most 15 bytes.
///
/// ```
/// use vxlan_mesh_core::check_ifname;
/// assert!(check_ifname("vxbr0").is_ok());
/// assert!(check_ifname("a-very-long-bridge").is_err());
/// ```
pub fn check_ifname(name: &str) -> Result<(), NameProblem> {
    check_chars(name, IFNAME_MAX)
}

/// Checks the name of a bridge vxlan-mesh manages: an interface name outside the reserved
/// [`DEVICE_PREFIX`].
pub(crate) fn check_bridge_name(name: &str) -> Result<(), NameProblem> {
    check_ifname(name)?;
    if name.starts_with(DEVICE_PREFIX) {
        return Err(NameProblem::Reserved { prefix: DEVICE_PREFIX });
    }
    Ok(())
}

fn check_chars(name: &str, max: usize) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if let Some(found) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(NameProblem::BadChar { found });
    }
    if name.len() > max {
        return Err(NameProblem::TooLong { len: name.len(), max });
    }
    if name == "." || name == ".." {
        return Err(NameProblem::Dots);
    }
    if name.starts_with('.') {
        return Err(NameProblem::LeadingDot);
    }
    if name.starts_with('-') {
        return Err(NameProblem::LeadingDash);
    }
    Ok(())
}

/// Name of the VXLAN device carrying `vni`: unique on a host because VNIs are, and at most
/// 11 bytes since VNIs have at most 8 digits.
pub(crate) fn vxlan_device(vni: u32) -> String {
    format!("{DEVICE_PREFIX}{vni}")
}

/// Ownership mark (interface alias) of a bridge or flood-mode VXLAN device of `network`, or
/// of a per-peer device towards `peer`.
pub(crate) fn owner_alias(network: &str, peer: Option<&str>) -> String {
    match peer {
        Some(peer) => format!("{OWNER_MARK}{network}:{peer}"),
        None => format!("{OWNER_MARK}{network}"),
    }
}

/// Whether an interface alias marks the interface as owned by vxlan-mesh.
// Only the netlink observer reads aliases back.
#[cfg(all(feature = "netlink", target_os = "linux"))]
pub(crate) fn is_owned_alias(alias: Option<&str>) -> bool {
    alias.is_some_and(|a| a.starts_with(OWNER_MARK))
}

/// Renders a value for an error message: control characters escaped so that a newline in
/// the inventory cannot forge extra output lines.
pub(crate) fn shown(value: &str) -> String {
    value.escape_debug().to_string()
}

/// Renders a message that quotes inventory text (e.g. the TOML reader's): only characters
/// that could forge lines or steer a terminal (control, bidi and other invisible ones) are
/// escaped; quotes and backslashes stay as written so the message reads naturally.
pub(crate) fn shown_message(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\'' | '"' | '\\') {
            out.push(c);
        } else {
            out.extend(c.escape_debug());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_shells_and_paths_would_misread() {
        for bad in ["a b", "a;b", "a$b", "a/b", "a\nb", "`x`", "a'b", "é"] {
            assert!(matches!(check_name(bad), Err(NameProblem::BadChar { .. })), "{bad}");
        }
        assert_eq!(check_name(""), Err(NameProblem::Empty));
        assert_eq!(check_name(".."), Err(NameProblem::Dots));
        assert_eq!(check_name("-x"), Err(NameProblem::LeadingDash));
        assert_eq!(check_name(".hidden"), Err(NameProblem::LeadingDot));
        assert_eq!(check_ifname(".br"), Err(NameProblem::LeadingDot));
        assert_eq!(
            check_ifname("abcdefghijklmnop"),
            Err(NameProblem::TooLong { len: 16, max: 15 })
        );
        assert!(check_ifname("abcdefghijklmno").is_ok());
    }

    #[test]
    fn messages_keep_quotes_but_escape_what_forges_lines() {
        assert_eq!(
            shown_message("field `a\nb`, \"x\" 'y' \\"),
            "field `a\\nb`, \"x\" 'y' \\"
        );
        assert_eq!(shown_message("a\u{202e}b\u{1b}[31m"), "a\\u{202e}b\\u{1b}[31m");
        assert_eq!(shown_message("é ü"), "é ü");
    }

    #[test]
    fn bridges_may_not_take_the_device_prefix() {
        assert!(check_bridge_name("vxbr0").is_ok());
        assert_eq!(
            check_bridge_name("vxm100"),
            Err(NameProblem::Reserved { prefix: "vxm" })
        );
    }

    #[test]
    fn owner_aliases_carry_the_mark() {
        assert_eq!(vxlan_device(100), "vxm100");
        assert_eq!(owner_alias("lan", None), "vxlan-mesh:lan");
        assert_eq!(owner_alias("lan", Some("lxd2")), "vxlan-mesh:lan:lxd2");
    }

    #[cfg(all(feature = "netlink", target_os = "linux"))]
    #[test]
    fn owned_aliases_are_recognised() {
        assert!(is_owned_alias(Some(&owner_alias("lan", None))));
        assert!(!is_owned_alias(Some("uplink")));
        assert!(!is_owned_alias(None));
    }

    #[test]
    fn device_names_fit_ifnamsiz_for_every_vni() {
        assert!(check_ifname(&vxlan_device(16_777_215)).is_ok());
    }
}
