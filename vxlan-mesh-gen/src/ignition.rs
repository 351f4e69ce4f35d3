//! The Ignition form: one Ignition config (spec 3.3.0) that writes the networkd form's files.
//!
//! Hosts provisioned by Ignition (Flatcar, Fedora CoreOS) are configured once, at first boot,
//! from one config; the networkd form is useful there only inside one. This form is a pure
//! function of the networkd form's [`RenderedFile`]s and restates none of their content: a
//! file, unit or drop-in added to the networkd form appears here unchanged.
//!
//! - A file Ignition would write back at the same path and mode as a systemd unit
//!   (`etc/systemd/system/NAME.service`, mode 0644) or drop-in
//!   (`etc/systemd/system/NAME.service.d/X.conf`, mode 0644) goes into `systemd.units`, with
//!   `contents` or `dropins`. Ignition then writes the same bytes at the same place, and
//!   knows them as units: its validation parses them, and a user's config merged with this
//!   one adds or replaces units and drop-ins by name rather than clashing on paths. No unit
//!   gets `enabled`: the networkd form enables nothing (its drop-in on
//!   systemd-networkd.service pulls its units in), and a preset would add a file and a
//!   behaviour the networkd form does not have.
//! - Every other file goes into `storage.files` with its mode, its contents as a data URL and
//!   `overwrite: true`: these paths are vxlan-mesh's, and a copy left by an earlier
//!   provisioning must be replaced rather than fail the boot (Ignition always overwrites
//!   units).
//!
//! Contents are percent-encoded (`data:,…`), as Butane writes uncompressed inline contents:
//! the config stays reviewable (a diff between two renders shows which words changed, which
//! base64 hides) at about the size base64 would have for these mostly-alphanumeric files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::{RenderError, RenderedFile};

/// Where the config is written (`render --out`); printed on stdout without `--out`.
pub(crate) const PATH: &str = "vxlan-mesh.ign";

/// The spec version Flatcar's Butane `flatcar` 1.0 variant produces and Ignition 2.14 accepts.
const SPEC_VERSION: &str = "3.3.0";

/// Where Ignition writes `systemd.units` (relative to the root).
const UNIT_DIR: &str = "etc/systemd/system";

/// The mode Ignition gives units and drop-ins; other modes must stay plain files.
const UNIT_MODE: u32 = 0o644;

/// Unit types that are files under `/etc/systemd/system` (devices and scopes are not).
const UNIT_SUFFIXES: [&str; 9] = [
    "service",
    "socket",
    "target",
    "path",
    "timer",
    "mount",
    "automount",
    "swap",
    "slice",
];

/// An Ignition config: the part of spec 3.3.0 this form uses.
#[derive(Serialize)]
struct Config {
    ignition: Ignition,
    #[serde(skip_serializing_if = "Storage::is_empty")]
    storage: Storage,
    #[serde(skip_serializing_if = "Systemd::is_empty")]
    systemd: Systemd,
}

#[derive(Serialize)]
struct Ignition {
    version: &'static str,
}

#[derive(Serialize)]
struct Storage {
    files: Vec<File>,
}

impl Storage {
    fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// `storage.files[]`.
#[derive(Serialize)]
struct File {
    /// Absolute.
    path: String,
    /// Permission bits (JSON has no octal: 0644 is 420).
    mode: u32,
    overwrite: bool,
    contents: Resource,
}

/// A resource with inline contents.
#[derive(Serialize)]
struct Resource {
    source: String,
}

#[derive(Serialize)]
struct Systemd {
    units: Vec<Unit>,
}

impl Systemd {
    fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

/// `systemd.units[]`: a unit file, its drop-ins, or both.
#[derive(Serialize, Default)]
struct Unit {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    contents: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dropins: Vec<Dropin>,
}

/// `systemd.units[].dropins[]`.
#[derive(Serialize)]
struct Dropin {
    name: String,
    contents: String,
}

/// Where a networkd-form file goes in the config.
#[derive(Debug, PartialEq, Eq)]
enum Place<'a> {
    /// `systemd.units[name].contents`.
    Unit(&'a str),
    /// `systemd.units[unit].dropins[name]`.
    Dropin { unit: &'a str, name: &'a str },
    /// `storage.files`.
    File,
}

/// Where `f` goes: a unit or drop-in only when Ignition writes that back byte for byte at the
/// same path with the same mode.
fn place(f: &RenderedFile) -> Place<'_> {
    if f.mode != UNIT_MODE {
        return Place::File;
    }
    let Some(rest) = f
        .path
        .to_str()
        .and_then(|p| p.strip_prefix(UNIT_DIR)?.strip_prefix('/'))
    else {
        return Place::File;
    };
    let is_unit = |name: &str| {
        name.rsplit_once('.')
            .is_some_and(|(stem, suffix)| !stem.is_empty() && UNIT_SUFFIXES.contains(&suffix))
    };
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        [name] if is_unit(name) => Place::Unit(name),
        [dir, name] if name.len() > ".conf".len() && name.ends_with(".conf") => match dir.strip_suffix(".d") {
            Some(unit) if is_unit(unit) => Place::Dropin { unit, name },
            _ => Place::File,
        },
        _ => Place::File,
    }
}

/// `bytes` as a percent-encoded data URL: RFC 3986's unreserved characters stay, every other
/// byte is `%XX`.
fn data_url(bytes: &[u8]) -> String {
    let mut url = String::with_capacity("data:,".len() + bytes.len() * 2);
    url.push_str("data:,");
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            url.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(url, "%{b:02X}");
        }
    }
    url
}

fn absolute(path: &Path) -> String {
    format!("/{}", path.display())
}

/// The entry of unit `name`, made when missing.
fn unit<'a, 'u>(units: &'u mut BTreeMap<&'a str, Unit>, name: &'a str) -> &'u mut Unit {
    units.entry(name).or_insert_with(|| Unit {
        name: name.to_string(),
        ..Unit::default()
    })
}

/// The Ignition config holding `files` (the networkd form of one host), as one file.
pub(crate) fn render(files: &[RenderedFile]) -> Result<RenderedFile, RenderError> {
    let mut storage = Storage { files: Vec::new() };
    // By name: Ignition refuses two entries for one unit, and the order is then fixed.
    let mut units: BTreeMap<&str, Unit> = BTreeMap::new();
    for f in files {
        match place(f) {
            Place::Unit(name) => unit(&mut units, name).contents = Some(f.contents.clone()),
            Place::Dropin { unit: of, name } => unit(&mut units, of).dropins.push(Dropin {
                name: name.to_string(),
                contents: f.contents.clone(),
            }),
            Place::File => storage.files.push(File {
                path: absolute(&f.path),
                mode: f.mode,
                overwrite: true,
                contents: Resource {
                    source: data_url(f.contents.as_bytes()),
                },
            }),
        }
    }
    let config = Config {
        ignition: Ignition { version: SPEC_VERSION },
        storage,
        systemd: Systemd {
            units: units.into_values().collect(),
        },
    };
    let mut json = serde_json::to_string_pretty(&config).map_err(|source| RenderError::Json {
        file: PATH.to_string(),
        source,
    })?;
    json.push('\n');
    Ok(RenderedFile {
        path: PATH.into(),
        mode: 0o644,
        contents: json,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn file(path: &str, mode: u32) -> RenderedFile {
        RenderedFile {
            path: path.into(),
            mode,
            contents: format!("{path}\n"),
        }
    }

    #[test]
    fn units_and_dropins_only_where_ignition_writes_them_back_unchanged() {
        let cases = [
            ("etc/systemd/system/a.service", 0o644, Place::Unit("a.service")),
            ("etc/systemd/system/a.timer", 0o644, Place::Unit("a.timer")),
            (
                "etc/systemd/system/systemd-networkd.service.d/50-x.conf",
                0o644,
                Place::Dropin {
                    unit: "systemd-networkd.service",
                    name: "50-x.conf",
                },
            ),
            // Another mode than Ignition's 0644 for units.
            ("etc/systemd/system/a.service", 0o600, Place::File),
            ("etc/systemd/system/a.service.d/x.conf", 0o755, Place::File),
            // Not a unit type, not a .conf, not directly in the unit directory.
            ("etc/systemd/system/a.txt", 0o644, Place::File),
            ("etc/systemd/system/.service", 0o644, Place::File),
            ("etc/systemd/system/a.service.d/x.txt", 0o644, Place::File),
            ("etc/systemd/system/a.d/x.conf", 0o644, Place::File),
            (
                "etc/systemd/system/multi-user.target.wants/a.service",
                0o644,
                Place::File,
            ),
            ("etc/systemd/network/50-x.network", 0o644, Place::File),
            ("usr/lib/systemd/system/a.service", 0o644, Place::File),
            ("etc/systemd/systemx/a.service", 0o644, Place::File),
        ];
        for (path, mode, want) in cases {
            assert_eq!(place(&file(path, mode)), want, "{path} {mode:o}");
        }
    }

    #[test]
    fn data_urls_escape_all_but_unreserved_characters() {
        assert_eq!(data_url(b"a-Z_0.~"), "data:,a-Z_0.~");
        assert_eq!(data_url(b"# x=1\n%/\xff"), "data:,%23%20x%3D1%0A%25%2F%FF");
    }

    #[test]
    fn one_entry_per_unit_sorted_and_files_in_their_order() {
        let config = render(&[
            file("etc/z", 0o755),
            file("etc/systemd/system/b.service.d/x.conf", 0o644),
            file("etc/systemd/system/b.service", 0o644),
            file("etc/systemd/system/a.service", 0o644),
            file("etc/a", 0o600),
        ])
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&config.contents).unwrap();
        let names: Vec<&str> = json["systemd"]["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a.service", "b.service"]);
        let b = &json["systemd"]["units"][1];
        assert_eq!(b["contents"], "etc/systemd/system/b.service\n");
        assert_eq!(b["dropins"][0]["name"], "x.conf");
        let files = json["storage"]["files"].as_array().unwrap();
        assert_eq!(files[0]["path"], "/etc/z");
        assert_eq!(files[0]["mode"], 0o755);
        assert_eq!(files[1]["path"], "/etc/a");
        assert_eq!(files[1]["mode"], 0o600);
        assert_eq!(files[1]["overwrite"], true);
    }

    #[test]
    fn the_format_is_called_ignition() {
        assert_eq!("ignition".parse::<crate::Format>(), Ok(crate::Format::Ignition));
        assert_eq!(crate::Format::Ignition.to_string(), "ignition");
    }

    #[test]
    fn nothing_to_write_is_a_bare_config() {
        let config = render(&[]).unwrap();
        assert_eq!(
            config.contents,
            "{\n  \"ignition\": {\n    \"version\": \"3.3.0\"\n  }\n}\n"
        );
    }
}
