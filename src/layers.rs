//! Keeps ARCHITECTURE.md true: reads the layer table from it, follows every `crate::` path between
//! src/'s top-level modules, and fails on a use that points up or sideways (which is also the only
//! way a cycle can form), naming the edge and the file. A test only: nothing here ships.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules that draw or parse arguments: no domain module may use them.
const FRONT: [&str; 3] = ["ui", "app", "cli"];
/// This file is a test, not a layer (its text names modules in strings).
const SELF: &str = "layers";

/// Layers from ARCHITECTURE.md's ```layers block: top first, one line per layer, modules separated
/// by spaces.
fn layers(architecture: &str) -> Vec<Vec<String>> {
    let start = architecture.find("```layers\n").expect("ARCHITECTURE.md has a ```layers block") + 10;
    let block = &architecture[start..];
    let block = &block[..block.find("```").expect("the ```layers block is closed")];
    block
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|layer| !layer.is_empty())
        .collect()
}

/// The top-level modules of `src` (a `name.rs` file or a `name/` folder), without lib.rs and main.rs.
fn top_modules(src: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(src).expect("src/ is readable").flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.path().is_dir() {
            out.insert(name);
        } else if let Some(stem) = name.strip_suffix(".rs")
            && stem != "lib"
            && stem != "main"
            && stem != SELF
        {
            out.insert(stem.to_string());
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules `text` names through `crate::name` or `crate::{name, …}` (doc links
/// included: they are dependencies too).
fn named_modules(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + 7..];
        let names: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group: the first identifier after `{` or after a comma at depth 0.
            let mut names = vec![ident(group.trim_start())];
            let mut depth = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => names.push(ident(group[i + 1..].trim_start())),
                    _ => {}
                }
            }
            names
        } else {
            vec![ident(rest)]
        };
        out.extend(names.into_iter().filter(|n| modules.contains(n)));
    }
    out
}

/// Every edge between top-level modules, with the first file (relative to src/) that makes it.
fn edges(src: &Path, modules: &BTreeSet<String>) -> BTreeMap<(String, String), String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut out = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap().to_string_lossy().to_string();
        let first = relative.split('/').next().unwrap_or("");
        let from = first.strip_suffix(".rs").unwrap_or(first).to_string();
        if !modules.contains(&from) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        for to in named_modules(&text, modules) {
            if to != from {
                out.entry((from.clone(), to)).or_insert_with(|| relative.clone());
            }
        }
    }
    out
}

/// A cycle through the edges, as `a -> b -> … -> a`, if there is one.
fn cycle(edges: &BTreeMap<(String, String), String>) -> Option<String> {
    fn visit<'a>(
        node: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<String> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut names = path[at..].to_vec();
            names.push(node);
            return Some(names.join(" -> "));
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for to in next.get(node).into_iter().flatten() {
            if let Some(found) = visit(to, next, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
    }
    let mut done = BTreeSet::new();
    next.keys().find_map(|node| visit(node, &next, &mut Vec::new(), &mut done))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_use_points_down_the_layers_of_architecture_md() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let layers = layers(&architecture);
    let src = root().join("src");
    let modules = top_modules(&src);
    let level: BTreeMap<&str, usize> =
        layers.iter().enumerate().flat_map(|(i, layer)| layer.iter().map(move |m| (m.as_str(), i))).collect();
    let unplaced: Vec<&String> = modules.iter().filter(|m| !level.contains_key(m.as_str())).collect();
    assert!(unplaced.is_empty(), "top-level modules missing from ARCHITECTURE.md's layers: {unplaced:?}");

    let edges = edges(&src, &modules);
    let mut wrong = Vec::new();
    for ((from, to), file) in &edges {
        let front_use = FRONT.contains(&to.as_str()) && !FRONT.contains(&from.as_str());
        // Top first: a module may use only modules on lines below its own.
        if front_use || level[to.as_str()] <= level[from.as_str()] {
            wrong.push(format!("{from} -> {to} (src/{file})"));
        }
    }
    assert!(wrong.is_empty(), "uses that point up or sideways (see ARCHITECTURE.md):\n  {}", wrong.join("\n  "));
    assert_eq!(cycle(&edges), None, "the top-level modules form a cycle");
}

#[test]
fn the_scanner_sees_paths_groups_and_cycles() {
    let modules: BTreeSet<String> = ["a", "b", "c", "ui"].iter().map(|s| s.to_string()).collect();
    let text = "use crate::a::x;\nuse crate::{b::{y, z}, ui};\n/// see [`crate::c`]\nlet s = crate::nothing;";
    let named = named_modules(text, &modules);
    assert_eq!(named.into_iter().collect::<Vec<_>>(), ["a", "b", "c", "ui"]);

    let edge = |a: &str, b: &str| ((a.to_string(), b.to_string()), String::new());
    let acyclic: BTreeMap<_, _> = [edge("a", "b"), edge("b", "c"), edge("a", "c")].into_iter().collect();
    assert_eq!(cycle(&acyclic), None);
    let cyclic: BTreeMap<_, _> = [edge("a", "b"), edge("b", "c"), edge("c", "a")].into_iter().collect();
    assert_eq!(cycle(&cyclic).as_deref(), Some("a -> b -> c -> a"));

    let table = layers("x\n```layers\ntop\nmid other  # comment\nbottom\n```\n");
    assert_eq!(table, [vec!["top"], vec!["mid", "other"], vec!["bottom"]]);
}
