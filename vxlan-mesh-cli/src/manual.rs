//! The operator's manual: the part of `vxlan-mesh(1)` (and `--help`) that lists the render
//! forms, modes, encryption and environment variables, generated from the clap definition and
//! the core's enums; and `vxlan-mesh.toml(5)`, rendered from the inventory schema
//! (`vxlan_mesh_core::schema`) that the reader itself uses. Neither can fall behind what the
//! parsers accept.

use clap::{Command, CommandFactory, ValueEnum};
use roff::{bold, italic, roman, Inline, Roff};
use vxlan_mesh_core::schema::{self, InventoryTable, KeyDoc, ValueType};
use vxlan_mesh_core::{Encryption, Mode, ParseProblem, ValidationError};

use crate::cli::{Cli, RenderFormat, EXIT_CODES};
use crate::limits;

/// File name of the inventory's man page.
pub const TOML_PAGE: &str = "vxlan-mesh.toml.5";

/// The command line, with the generated text after the options (in `--help` and the man page).
pub fn command() -> Command {
    let cmd = Cli::command();
    let text = after_help(&cmd);
    cmd.after_help(text)
}

/// The `vxlan-mesh(1)` page (roff): clap_mangen's sections, then the generated text after
/// the options kept as laid out (clap_mangen would fill its lists into one paragraph).
pub fn main_page() -> std::io::Result<Vec<u8>> {
    let cmd = command();
    let extra = cmd.get_after_help().map(|t| t.to_string()).unwrap_or_default();
    let man = clap_mangen::Man::new(cmd.clone().after_help(""));
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    let mut page = Roff::new();
    page.control("SH", ["FORMS, MODES, ENVIRONMENT, EXIT STATUS"]);
    page.control("nf", []);
    for line in extra.lines() {
        page.text([roman(line)]);
    }
    page.control("fi", []);
    page.to_writer(&mut out)?;
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// One item of a two-column list: the name padded to `width`, then its meaning.
fn item(name: &str, width: usize, meaning: &str) -> String {
    format!("  {name:<width$}  {meaning}\n")
}

/// Forms, modes, encryption, environment and exit codes.
fn after_help(cmd: &Command) -> String {
    let mut s = String::from("Render forms (`render --format FORM`):\n");
    for form in RenderFormat::value_variants() {
        if let Some(v) = form.to_possible_value() {
            let help = v.get_help().map(|h| h.to_string()).unwrap_or_default();
            s += &item(v.get_name(), 9, &help);
        }
    }
    s += "\nModes (inventory `mode`, see vxlan-mesh.toml(5)):\n";
    for mode in Mode::ALL {
        s += &item(mode.as_str(), 9, mode.describe());
    }
    s += "\nEncryption (inventory `encryption`):\n";
    for e in Encryption::ALL {
        s += &item(e.as_str(), 9, e.describe());
    }
    s += "\nLarge fleets:\n";
    s += &large_fleets();
    s += "\nEnvironment:\n";
    for (env, flag, help) in environment(cmd) {
        s += &format!("  {env}  --{flag}: {help}\n");
    }
    s += "\n";
    s += EXIT_CODES;
    s += "\n\nThe inventory's keys, defaults and rule codes: vxlan-mesh.toml(5) (`vxlan-mesh man --section 5`).";
    s
}

/// The sizes above which the commands that cover the whole fleet refuse or draw less, from
/// the constants they check.
fn large_fleets() -> String {
    format!(
        "  `plan --all` and `render --all` refuse a fleet whose plans list more than {} peer
  entries together (each host lists every peer of each of its networks: m × (m − 1) for a
  network of m hosts, 3998000 for 2,000 flood hosts on one network), as their output grows
  with the square of the fleet: use `--host NAME`, or `--allow-large-output` to write it all.
  `graph` draws a flood fleet of more than {} hosts, and an encrypted fleet's WireGuard
  tunnels, as one star per network, and refuses a per-peer fleet of more than {} links.\n",
        limits::MAX_PEER_ENTRIES,
        limits::STAR_ABOVE,
        limits::MAX_LINKS
    )
}

/// Every environment variable an option of `cmd` or its subcommands reads: the variable, the
/// option's long name and the first sentence of its help, each variable once.
fn environment(cmd: &Command) -> Vec<(String, String, String)> {
    fn walk(cmd: &Command, out: &mut Vec<(String, String, String)>) {
        for arg in cmd.get_arguments() {
            let Some(env) = arg.get_env() else { continue };
            let env = env.to_string_lossy().into_owned();
            if out.iter().any(|(e, _, _)| *e == env) {
                continue;
            }
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let first = help
                .split(". ")
                .next()
                .unwrap_or_default()
                .trim_end_matches('.')
                .to_string();
            out.push((env, arg.get_long().unwrap_or_default().to_string(), first));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(cmd, &mut out);
    out
}

/// `text` with `backticked` parts in bold.
fn inline(text: &str) -> Vec<Inline> {
    text.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| if i % 2 == 1 { bold(part) } else { roman(part) })
        .collect()
}

/// The `vxlan-mesh.toml(5)` page (roff), rendered from the schema.
pub fn toml_page() -> String {
    let mut page = Roff::new();
    page.control(
        "TH",
        [
            "vxlan-mesh.toml",
            "5",
            "",
            concat!("vxlan-mesh ", env!("CARGO_PKG_VERSION")),
        ],
    );
    // No hyphenation and ragged right: keys and rule codes are looked up as written, and
    // lists of codes would be stretched apart.
    page.control("nh", []);
    page.control("ad", ["l"]);
    page.control("SH", ["NAME"]);
    page.text([roman("vxlan-mesh.toml - the fleet inventory of vxlan-mesh")]);
    page.control("SH", ["SYNOPSIS"]);
    page.text([
        bold("vxlan-mesh"),
        roman(" ["),
        bold("-i"),
        roman(" "),
        italic("FILE"),
        roman("] "),
        italic("COMMAND"),
    ]);
    page.control("SH", ["DESCRIPTION"]);
    page.text(inline(
        "One TOML file describes the whole fleet: the overlay networks and the hosts that join them. \
         vxlan-mesh reads it from `-i FILE`, else from `$VXLAN_MESH_INVENTORY`, else from `./vxlan-mesh.toml`. \
         Unknown keys are errors everywhere, so a typo never goes unnoticed; `vxlan-mesh check` prints every \
         broken rule with its code, field, line and column.",
    ));
    page.control("SH", ["EXAMPLE"]);
    page.control("nf", []);
    for line in EXAMPLE.lines() {
        page.text([roman(line)]);
    }
    page.control("fi", []);
    for table in InventoryTable::ALL {
        page.control("SH", [table.to_string().to_uppercase().as_str()]);
        page.text(inline(table.doc()));
        for doc in schema::docs(*table) {
            key_entry(&mut page, doc);
        }
    }
    page.control("SH", ["RULES"]);
    page.text(inline(
        "Each broken rule has a stable code (`check --format json` reports it) and names the field it is about:",
    ));
    for code in ValidationError::CODES {
        page.control("TP", []);
        page.text([bold(*code)]);
        let keys: Vec<String> = schema::KEYS
            .iter()
            .filter(|k| k.rules.contains(code))
            .map(KeyDoc::qualified)
            .collect();
        page.text([roman(keys.join(", "))]);
    }
    page.control("SH", ["READING ERRORS"]);
    page.text(inline(
        "A file that cannot be read reports one of these codes, with its line and column:",
    ));
    for problem in ParseProblem::ALL {
        page.control("TP", []);
        page.text([bold(problem.code())]);
        page.text(inline(problem.describe()));
    }
    page.control("SH", ["SEE ALSO"]);
    page.text([bold("vxlan-mesh"), roman("(1), the README's Inventory reference.")]);
    page.render()
}

/// One key: name and type, meaning, default, example, rules, values.
fn key_entry(page: &mut Roff, doc: &KeyDoc) {
    page.control("TP", []);
    page.text([
        bold(doc.key.as_str()),
        roman(" ("),
        italic(doc.value.to_string()),
        roman(")"),
    ]);
    page.text(inline(doc.doc));
    page.control("br", []);
    page.text(
        [roman("Default: ")]
            .into_iter()
            .chain(inline(&doc.absent.to_string()))
            .collect::<Vec<_>>(),
    );
    if !matches!(doc.value, ValueType::Table(_) | ValueType::Tables(_)) {
        page.control("br", []);
        page.text([roman("Example: "), bold(format!("{} = {}", doc.key, doc.example))]);
    }
    if !doc.rules.is_empty() {
        page.control("br", []);
        page.text([roman("Rules: "), roman(doc.rules.join(", "))]);
    }
    if let ValueType::OneOf(values) = doc.value {
        page.control("RS", []);
        for (value, meaning) in values() {
            page.control("IP", [format!("\"{value}\"").as_str(), "4"]);
            page.text(inline(meaning));
        }
        page.control("RE", []);
    }
}

/// A whole inventory, in the manual; a test validates it.
const EXAMPLE: &str = r#"port = 4789
mode = "flood"

[[networks]]
name = "lan"
vni = 100
bridge = "vxbr0"

[[hosts]]
name = "lxd1"
address = "192.0.2.1"
underlay-mtu = 1450

[[hosts]]
name = "lxd2"
address = "192.0.2.2""#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_a_valid_inventory() {
        let inventory = vxlan_mesh_core::Inventory::from_toml_str(EXAMPLE);
        assert!(inventory.is_ok_and(|i| i.validate().is_ok()));
    }

    #[test]
    fn the_environment_lists_every_variable_an_option_reads() {
        let env: Vec<String> = environment(&Cli::command()).into_iter().map(|(e, _, _)| e).collect();
        for var in [
            "VXLAN_MESH_INVENTORY",
            "VXLAN_MESH_WIREGUARD_KEY",
            "VXLAN_MESH_FRR_PATHSPACE",
            "VXLAN_MESH_FRR_VTY_DIR",
            "VXLAN_MESH_LAB_TAG",
        ] {
            assert!(env.iter().any(|e| e == var), "{var} not in {env:?}");
        }
    }
}
