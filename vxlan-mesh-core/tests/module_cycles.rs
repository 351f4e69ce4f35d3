//! No import cycles between the modules of any crate of the workspace (issue 19): a module
//! that uses another which uses it back cannot be understood, tested or moved alone.
//!
//! The graph is built from the sources: one node per top-level module of a crate (a file
//! `src/NAME.rs` or a folder `src/NAME/`, submodules counted with their parent), one edge per
//! path that reaches another top-level module: `crate::NAME::...` anywhere in the code
//! (grouped `use crate::{a, b::c}` included), `super::` climbing to the crate root, and items
//! the root re-exports (`pub use NAME::Item` makes `crate::Item` an edge to NAME). The crate
//! root itself is no node: it declares and re-exports every module. Comments, string and
//! character literals and `#[cfg(test)]` modules are ignored.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// Why a module depends on another: the file and the path that reaches it.
type Evidence = (String, String);
/// Edges from module to module, each with the first evidence found.
type Graph = BTreeMap<String, BTreeMap<String, Evidence>>;

/// The source with comments removed and literals emptied (`""`, `' '`), so that text in
/// them never reads as a path or a brace.
fn strip(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == '"' {
            // A raw string when `r` and hashes precede the quote (`r"`, `r#"`, `br#"`).
            let mut hashes = 0;
            while out.ends_with('#') {
                out.pop();
                hashes += 1;
            }
            let raw = out.ends_with('r') && {
                let before: Vec<char> = out.chars().rev().skip(1).take(2).collect();
                match before.as_slice() {
                    [] => true,
                    ['b', rest @ ..] => rest.first().is_none_or(|p| !ident(*p)),
                    [p, ..] => !ident(*p),
                }
            };
            if !raw {
                out.push_str(&"#".repeat(hashes));
                hashes = 0;
            }
            i += 1;
            loop {
                match chars.get(i) {
                    None => break,
                    Some('\\') if !raw => i += 2,
                    Some('"') if chars[i + 1..].iter().take(hashes).filter(|h| **h == '#').count() == hashes => {
                        i += 1 + hashes;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            out.push_str("\"\"");
            continue;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), else a lifetime or label.
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
            continue;
        } else {
            out.push(c);
            i += 1;
        }
        if i < chars.len() && chars[i] == '\n' {
            out.push('\n');
            i += 1;
        }
    }
    out
}

/// `text` without its test-only `mod NAME { ... }` blocks, `#[cfg(test)]` or
/// `#[cfg(all(test, ...))]` (test code may reach anywhere).
fn without_test_modules(text: &str) -> String {
    let mut out = text.to_string();
    let next = |s: &str| {
        ["#[cfg(test)]", "#[cfg(all(test,"]
            .iter()
            .filter_map(|m| s.find(m))
            .min()
    };
    while let Some(at) = next(&out) {
        let attr_len = out[at..].find(']').map_or(out.len() - at, |e| e + 1);
        let rest = &out[at + attr_len..];
        let trimmed = rest.trim_start();
        let Some(open) = trimmed.strip_prefix("mod ").and_then(|m| m.find(['{', ';'])) else {
            // An attribute on something else: keep it, look further.
            out.replace_range(at..at + attr_len, "");
            continue;
        };
        let body_start = at + attr_len + (rest.len() - trimmed.len()) + "mod ".len() + open;
        let mut end = body_start + 1;
        if out.as_bytes()[body_start] == b'{' {
            let mut depth = 0;
            for (k, b) in out.as_bytes()[body_start..].iter().enumerate() {
                match b {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = body_start + k + 1;
                    break;
                }
            }
        }
        out.replace_range(at..end, "");
    }
    out
}

/// Every path a `use` tree names, with the name it is known by: `a::{b, c::{d as e}, self}`
/// gives `a::b` (`b`), `a::c::d` (`e`), `a` (`a`).
fn expand_use(tree: &str) -> Vec<(Vec<String>, String)> {
    fn parse(s: &[char], i: &mut usize, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
        let mut path = prefix.to_vec();
        let mut alias = None;
        loop {
            while *i < s.len() && s[*i].is_whitespace() {
                *i += 1;
            }
            if *i >= s.len() {
                break;
            }
            if s[*i] == '{' {
                *i += 1;
                loop {
                    parse(s, i, &path, out);
                    while *i < s.len() && s[*i].is_whitespace() {
                        *i += 1;
                    }
                    match s.get(*i) {
                        Some(',') => *i += 1,
                        Some('}') => {
                            *i += 1;
                            return;
                        }
                        _ => return,
                    }
                    while *i < s.len() && s[*i].is_whitespace() {
                        *i += 1;
                    }
                    if s.get(*i) == Some(&'}') {
                        *i += 1;
                        return;
                    }
                }
            }
            let start = *i;
            while *i < s.len() && (s[*i].is_alphanumeric() || s[*i] == '_' || s[*i] == '*') {
                *i += 1;
            }
            let word: String = s[start..*i].iter().collect();
            if word.is_empty() {
                break;
            }
            if word != "self" {
                path.push(word);
            }
            if s.get(*i) == Some(&':') && s.get(*i + 1) == Some(&':') {
                *i += 2;
                continue;
            }
            // `as NAME` renames only the last segment: the path stays what it reaches.
            while *i < s.len() && s[*i].is_whitespace() {
                *i += 1;
            }
            if s[*i..].starts_with(&['a', 's']) && s.get(*i + 2).is_some_and(|c| c.is_whitespace()) {
                *i += 2;
                while *i < s.len() && s[*i].is_whitespace() {
                    *i += 1;
                }
                let start = *i;
                while *i < s.len() && (s[*i].is_alphanumeric() || s[*i] == '_') {
                    *i += 1;
                }
                alias = Some(s[start..*i].iter().collect());
            }
            break;
        }
        if let Some(name) = alias.or_else(|| path.last().cloned()) {
            out.push((path, name));
        }
    }
    let chars: Vec<char> = tree.chars().collect();
    let mut out = Vec::new();
    parse(&chars, &mut 0, &[], &mut out);
    out
}

/// The paths (and names) of every `use` item in `text` (stripped).
fn uses(text: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("use ") {
        let starts_word = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        rest = &rest[at + 4..];
        if starts_word {
            let end = rest.find(';').unwrap_or(rest.len());
            out.extend(expand_use(&rest[..end]));
            rest = &rest[end..];
        }
    }
    out
}

/// Every path in `text` (stripped): those of its `use` items, and `a::b::c` sequences
/// starting with `crate` or `super` anywhere else.
fn paths(text: &str) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out: Vec<Vec<String>> = uses(text).into_iter().map(|(path, _)| path).collect();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if ident(chars[i]) && (i == 0 || !ident(chars[i - 1])) {
            let mut path = Vec::new();
            let mut j = i;
            loop {
                let start = j;
                while j < chars.len() && ident(chars[j]) {
                    j += 1;
                }
                path.push(chars[start..j].iter().collect::<String>());
                if chars.get(j) == Some(&':')
                    && chars.get(j + 1) == Some(&':')
                    && chars.get(j + 2).is_some_and(|c| ident(*c))
                {
                    j += 2;
                } else {
                    break;
                }
            }
            if path.len() > 1 && (path[0] == "crate" || path[0] == "super") {
                out.push(path);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The module graph of a crate given as `(path under src/, source)` pairs.
fn graph(files: &[(String, String)]) -> Graph {
    let module_of = |file: &str| -> Vec<String> {
        let mut parts: Vec<String> = file.trim_end_matches(".rs").split('/').map(str::to_string).collect();
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
            parts.pop();
        }
        parts
    };
    let tops: BTreeSet<String> = files
        .iter()
        .filter_map(|(f, _)| module_of(f).first().cloned())
        .collect();
    let texts: Vec<(String, Vec<String>, String)> = files
        .iter()
        .map(|(f, src)| (f.clone(), module_of(f), without_test_modules(&strip(src))))
        .collect();
    // Items the root re-exports, by the module they come from.
    let mut reexported = BTreeMap::new();
    for (_, _, text) in texts.iter().filter(|(_, m, _)| m.is_empty()) {
        for (path, name) in uses(text) {
            let path: Vec<&String> = path.iter().skip_while(|s| *s == "crate").collect();
            if let Some(first) = path.first().filter(|f| tops.contains(**f) && path.len() > 1) {
                reexported.insert(name, (*first).clone());
            }
        }
    }
    let mut edges = Graph::new();
    for (file, module, text) in &texts {
        let Some(from) = module.first() else { continue };
        for path in paths(text) {
            let rooted: Vec<&String> = match path[0].as_str() {
                "crate" => path[1..].iter().collect(),
                "super" => {
                    let ups = path.iter().take_while(|s| *s == "super").count();
                    if ups < module.len() {
                        continue; // Within the same top-level module.
                    }
                    path[ups..].iter().collect()
                }
                _ => continue,
            };
            let Some(first) = rooted.first() else { continue };
            let to = if tops.contains(*first) {
                (*first).clone()
            } else if let Some(m) = reexported.get(*first) {
                m.clone()
            } else {
                continue;
            };
            if &to != from {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| (file.clone(), path.join("::")));
            }
        }
    }
    edges
}

/// Modules that use each other: the shortest cycle through the group's first module (first =
/// last), and the whole group (every module on some cycle with it).
struct Knot {
    cycle: Vec<String>,
    group: BTreeSet<String>,
}

/// One [`Knot`] per strongly connected group of modules.
fn cycles(edges: &Graph) -> Vec<Knot> {
    let nodes: BTreeSet<&String> = edges.keys().chain(edges.values().flat_map(BTreeMap::keys)).collect();
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for next in edges.get(&n).into_iter().flat_map(BTreeMap::keys) {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for node in nodes {
        if done.contains(node) || !reach(node).contains(node) {
            continue;
        }
        // The shortest way back to `node` (breadth first), then its whole group is reported.
        let mut back: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([node.clone()]);
        'search: while let Some(n) = queue.pop_front() {
            for next in edges.get(&n).into_iter().flat_map(BTreeMap::keys) {
                if next == node {
                    back.insert(node.clone(), n.clone());
                    break 'search;
                }
                if !back.contains_key(next) {
                    back.insert(next.clone(), n.clone());
                    queue.push_back(next.clone());
                }
            }
        }
        let mut cycle = vec![node.clone()];
        let mut at = back[node].clone();
        while &at != node {
            cycle.push(at.clone());
            at = back[&at].clone();
        }
        cycle.push(node.clone());
        cycle.reverse();
        let group: BTreeSet<String> = reach(node).into_iter().filter(|m| reach(m).contains(node)).collect();
        done.extend(group.iter().cloned());
        out.push(Knot { cycle, group });
    }
    out
}

/// The knot's cycle with, for each step, the file and path that make it, and the group.
fn describe(edges: &Graph, knot: &Knot) -> String {
    let mut text = knot.cycle[0].clone();
    for pair in knot.cycle.windows(2) {
        let (file, path) = &edges[&pair[0]][&pair[1]];
        let _ = write!(text, " → {} (`{path}` in {file})", pair[1]);
    }
    if knot.group.len() + 1 > knot.cycle.len() {
        let _ = write!(
            text,
            "; modules in the knot: {}",
            knot.group.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    text
}

fn sources(src: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut todo = vec![src.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = path.strip_prefix(src).unwrap().to_string_lossy().into_owned();
                out.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    assert!(members.len() >= 4, "{members:?}");
    let mut found = Vec::new();
    for member in members {
        let member = member.as_str().unwrap();
        let files = sources(&root.join(member).join("src"));
        assert!(files.len() > 3, "{member}: no sources read");
        let edges = graph(&files);
        assert!(!edges.is_empty(), "{member}: no module uses another");
        // The graph itself, for a reader (`-- --nocapture` shows it): one line per module.
        for (from, to) in &edges {
            let to: Vec<&str> = to.keys().map(String::as_str).collect();
            println!("{member}: {from} -> {}", to.join(", "));
        }
        found.extend(
            cycles(&edges)
                .iter()
                .map(|knot| format!("{member}: {}", describe(&edges, knot))),
        );
    }
    assert!(found.is_empty(), "import cycles between modules:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_grouped_uses_super_and_reexports_and_nothing_in_comments_or_tests() {
    let file = |name: &str, src: &str| (name.to_string(), src.to_string());
    let files = [
        file("lib.rs", "mod a; mod b; mod c;\npub use b::{Thing as Renamed, Other};"),
        file("a.rs", "use crate::{Renamed, x};\nfn f() -> char { '\"' }"),
        file(
            "b/mod.rs",
            "// crate::a::gone\n/* use crate::a; /* nested */ crate::a */\nconst S: &str = \"crate::a::y\";\n\
             const R: &str = r#\"crate::a::\"z\"#;\nfn g<'t>(x: &'t str) { crate::c::h(x) }\n\
             #[cfg(test)]\nmod tests { use crate::a::*; fn t() { let _ = '{'; } }\n\
             #[cfg(all(test, feature = \"x\"))]\nmod more { use crate::a::*; }",
        ),
        file("b/inner.rs", "use super::super::c::K;\nuse super::g;"),
        file("c.rs", "fn h() { super::a::f(); }"),
    ];
    let edges = graph(&files);
    let pairs: Vec<(&str, &str)> = edges
        .iter()
        .flat_map(|(from, to)| to.keys().map(move |t| (from.as_str(), t.as_str())))
        .collect();
    assert_eq!(pairs, [("a", "b"), ("b", "c"), ("c", "a")]);
    let found = cycles(&edges);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].cycle, ["a", "b", "c", "a"]);
    assert_eq!(
        describe(&edges, &found[0]),
        "a → b (`crate::Renamed` in a.rs) → c (`crate::c::h` in b/mod.rs) → a (`super::a::f` in c.rs)"
    );
    // A shortcut back from b makes the shortest cycle a ↔ b, and the knot still holds c.
    let mut shortcut = files.to_vec();
    shortcut.push(file("b/more.rs", "use crate::a::f;"));
    let edges = graph(&shortcut);
    let found = cycles(&edges);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].cycle, ["a", "b", "a"]);
    assert_eq!(
        describe(&edges, &found[0]),
        "a → b (`crate::Renamed` in a.rs) → a (`crate::a::f` in b/more.rs); modules in the knot: a, b, c"
    );
    // Without the edge back, no cycle.
    let acyclic = graph(&files[..4]);
    assert!(cycles(&acyclic).is_empty(), "{acyclic:?}");
}
