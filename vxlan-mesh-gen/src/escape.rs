//! The escapers `askama.toml` declares for our templates' file extensions, and the one
//! custom filter (`int`) the YAML template uses.
//!
//! Escaping is the templates' only defence against a value that would change the structure
//! of the output (a quote, a newline, a `$`). The core validates every name, so none of this
//! should ever trigger on a valid plan; it is the second wall, not the first.

use std::fmt::{self, Write};

/// Shell escaper: writes every interpolated value as a single-quoted shell word, by the
/// workspace's one quoting function ([`vxlan_mesh_core::argv::single_quoted`]).
///
/// askama may hand a value over in several pieces; each piece becomes its own quoted word
/// and adjacent quoted words concatenate, so the result is the same single word.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ShellQuote;

impl askama::filters::Escaper for ShellQuote {
    fn write_escaped_str<W: Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        dest.write_str(&vxlan_mesh_core::argv::single_quoted(string))
    }
}

/// Escaper for systemd unit-style files (`.netdev`, `.network`, `.service`, drop-ins).
///
/// These formats have no quoting for values: a value runs to the end of its line. A value
/// holding a control character (a newline would start a new key), a backslash (line
/// continuation) or `%` (a unit specifier in `.service` files) is refused: rendering fails
/// with a formatting error that [`render`](crate::render) reports, rather than writing a
/// file that means something else.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct UnitValue;

impl askama::filters::Escaper for UnitValue {
    fn write_escaped_str<W: Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        if string.chars().any(|c| c.is_control() || c == '\\' || c == '%') {
            return Err(fmt::Error);
        }
        dest.write_str(string)
    }
}

/// Escaper for ifupdown2's interfaces file (`/etc/network/interfaces.d/`).
///
/// A value runs to the end of its line: a value holding a control character (a newline would
/// start a new attribute) or a backslash (line continuation) is refused, and rendering fails
/// rather than write a file that means something else. `#` starts a comment only as a line's
/// first character, where no value is ever written.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct InterfacesValue;

impl askama::filters::Escaper for InterfacesValue {
    fn write_escaped_str<W: Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        if string.chars().any(|c| c.is_control() || c == '\\') {
            return Err(fmt::Error);
        }
        dest.write_str(string)
    }
}

/// Escaper for netplan YAML: every interpolated value becomes a double-quoted YAML string.
///
/// Integers must stay plain YAML integers; the template passes them through the `int`
/// filter, which only accepts integer types (so no string can slip through unquoted).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct YamlQuote;

impl askama::filters::Escaper for YamlQuote {
    fn write_escaped_str<W: Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        dest.write_char('"')?;
        for c in string.chars() {
            match c {
                '"' => dest.write_str("\\\"")?,
                '\\' => dest.write_str("\\\\")?,
                '\n' => dest.write_str("\\n")?,
                '\t' => dest.write_str("\\t")?,
                c if c.is_control() => write!(dest, "\\u{:04x}", u32::from(c))?,
                c => dest.write_char(c)?,
            }
        }
        dest.write_char('"')
    }
}

/// Makes free text (an inventory path given by the user) safe to show in a comment of any
/// output format: characters other than printable ASCII, and `\`, `'`, `"`, `%`, become `_`.
pub(crate) fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && !matches!(c, '\\' | '\'' | '"' | '%') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Integer types the YAML template may write unquoted.
pub(crate) trait Integer: Copy + fmt::Display {}
impl Integer for u16 {}
impl Integer for u32 {}

/// Custom template filters, found by askama as `filters::NAME`.
// askama's `filter_fn` makes each filter a `pub` item; the module keeps them in the crate.
#[allow(unreachable_pub)]
pub(crate) mod filters {
    use askama::filters::Safe;

    /// Writes an integer without the escaper's quotes; only integer types are accepted, so
    /// this cannot pass a string through unescaped.
    #[askama::filter_fn]
    pub fn int<T: super::Integer>(value: &T, _: &dyn askama::Values) -> askama::Result<Safe<T>> {
        Ok(Safe(*value))
    }
}

#[cfg(test)]
mod tests {
    use askama::filters::Escaper;

    use super::*;

    fn escaped(escaper: impl Escaper, value: &str) -> Result<String, fmt::Error> {
        let mut out = String::new();
        escaper.write_escaped_str(&mut out, value)?;
        Ok(out)
    }

    #[test]
    fn shell_values_are_one_single_quoted_word() {
        assert_eq!(escaped(ShellQuote, "it's $HOME"), Ok(r#"'it'\''s $HOME'"#.to_string()));
    }

    #[test]
    fn line_values_refuse_what_would_start_a_line() {
        assert_eq!(escaped(UnitValue, "vxbr0"), Ok("vxbr0".to_string()));
        assert!(escaped(UnitValue, "x\nBridge=evil").is_err());
        assert_eq!(
            escaped(InterfacesValue, "vxlan-mesh:lan"),
            Ok("vxlan-mesh:lan".to_string())
        );
        assert!(escaped(InterfacesValue, "x\nup reboot").is_err());
        assert!(escaped(InterfacesValue, "x\\").is_err());
    }

    #[test]
    fn yaml_values_are_double_quoted() {
        assert_eq!(escaped(YamlQuote, "a\"b\n"), Ok(r#""a\"b\n""#.to_string()));
    }

    #[test]
    fn comment_text_keeps_printable_ascii_only() {
        assert_eq!(comment_text("a\nb'c.toml"), "a_b_c.toml");
    }

    #[test]
    fn unit_value_refuses_what_would_change_the_file() {
        for bad in ["a\nb", "a\\", "%H", "a\rb"] {
            let mut s = String::new();
            assert!(
                askama::filters::Escaper::write_escaped_str(&UnitValue, &mut s, bad).is_err(),
                "{bad:?}"
            );
        }
    }
}
