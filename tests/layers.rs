//! The house rule, checked: the folders of `src/` are the pipeline's layers, and a module imports
//! only from layers below its own (or from its own layer), with no import circle between modules.
//!
//! Layers, lowest first (the README's Architecture section and docs/architecture.md say the same):
//!
//! | layer | modules            | what                                                          |
//! |-------|--------------------|---------------------------------------------------------------|
//! | 0     | `util`, `context`  | generic helpers; the one place the environment is read        |
//! | 1     | `model`            | the data every layer shares: plans, outcomes, failures        |
//! | 2     | `contract`         | loading a suite and planning its cases                        |
//! | 3     | `exchange`         | HTTP: client, SSE, gate, retries, polls, the loopback server  |
//! | 4     | `judge`            | checks, grammars, classification, the verdict                 |
//! | 5     | `baseline`         | drift, redaction, recording, replay                           |
//! | 6     | `report`           | rendering outcomes; sees only the data                        |
//! | 7     | `run`              | wiring a run: builder, lanes, the `cargo test` harness        |
//! | 8     | `cli`              | the command line                                              |
//!
//! `main.rs` (it calls `cli::main`) and `lib.rs` (the public surface) are not checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: &[(&str, u8)] = &[
    ("util", 0),
    ("context", 0),
    ("model", 1),
    ("contract", 2),
    ("exchange", 3),
    ("judge", 4),
    ("baseline", 5),
    ("report", 6),
    ("run", 7),
    ("cli", 8),
];

/// `report` may import only these (it sees the data, not the machinery).
const REPORT_MAY_IMPORT: &[&str] = &["util", "context", "model", "report"];

fn layer(top: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == top).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to, at the granularity the circle check uses: `layer::module` for
/// files inside a layer folder (`judge::grammar` for every file below `judge/grammar/`), the
/// file's own name for a top-level file.
fn node_of(rel: &Path) -> String {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts.as_slice() {
        [one] => one.clone(),
        [top, file] if file == "mod" => top.clone(),
        [top, second, ..] => format!("{top}::{second}"),
        [] => String::new(),
    }
}

/// The `crate::…` paths a source names (in `use` lines and inline), as their first two segments,
/// with comments and string literals left out.
fn references(text: &str) -> BTreeSet<(String, Option<String>)> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = &rest[..i];
            rest = &rest[i + "crate::".len()..];
            // `llm_contract::…` is not this crate's `crate::`; a path inside a string is not code.
            if before.ends_with("llm_") || before.matches('"').count() % 2 == 1 {
                continue;
            }
            let mut segs = rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty());
            if let Some(top) = segs.next() {
                let second = segs
                    .next()
                    .filter(|s| s.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
                    .map(str::to_string);
                found.insert((top.to_string(), second));
            }
        }
    }
    found
}

struct Graph {
    /// module → the modules it imports, each with the file that does.
    edges: BTreeMap<String, BTreeMap<String, PathBuf>>,
    violations: Vec<String>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut g = Graph {
        edges: BTreeMap::new(),
        violations: Vec::new(),
    };
    for file in files {
        let rel = file.strip_prefix(&src).unwrap().to_path_buf();
        let node = node_of(&rel);
        let top = node.split("::").next().unwrap_or("").to_string();
        if matches!(top.as_str(), "main" | "lib") {
            continue;
        }
        let Some(own) = layer(&top) else {
            g.violations.push(format!(
                "src/{}: module `{top}` belongs to no layer (add it to LAYERS and the README)",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (to_top, second) in references(&text) {
            let Some(theirs) = layer(&to_top) else {
                g.violations.push(format!(
                    "src/{}: imports `crate::{to_top}`, which belongs to no layer",
                    rel.display()
                ));
                continue;
            };
            if theirs > own {
                g.violations.push(format!(
                    "src/{}: layer {own} `{top}` imports `crate::{to_top}` from layer {theirs} above it",
                    rel.display()
                ));
            }
            if top == "report" && !REPORT_MAY_IMPORT.contains(&to_top.as_str()) {
                g.violations.push(format!(
                    "src/{}: reports see only the data, but this imports `crate::{to_top}`",
                    rel.display()
                ));
            }
            let to = match (&second, theirs) {
                (Some(s), _) if to_top != "context" => format!("{to_top}::{s}"),
                _ => to_top.clone(),
            };
            if to != node {
                g.edges
                    .entry(node.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| rel.clone());
            }
        }
    }
    g
}

/// A circle through `start`, if there is one: the modules in order.
fn circle(edges: &BTreeMap<String, BTreeMap<String, PathBuf>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        edges: &BTreeMap<String, BTreeMap<String, PathBuf>>,
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in edges.get(at).into_iter().flat_map(|m| m.keys()) {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(edges, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    walk(edges, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn every_module_imports_only_from_layers_below_it() {
    let g = graph();
    assert!(
        g.violations.is_empty(),
        "layering violations:\n  {}",
        g.violations.join("\n  ")
    );
}

#[test]
fn no_import_circle_between_modules() {
    let g = graph();
    let mut circles = BTreeSet::new();
    for node in g.edges.keys() {
        if let Some(mut c) = circle(&g.edges, node) {
            // One report per circle, whichever module it was found from.
            let min = c.iter().enumerate().min_by_key(|(_, n)| *n).map(|(i, _)| i);
            c.rotate_left(min.unwrap_or(0));
            circles.insert(c.join(" → "));
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n  {}",
        circles.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}

#[test]
fn the_checker_sees_upward_imports_and_circles() {
    // The parser: `use` lines, inline paths, groups; comments and strings left out.
    let refs = references(
        "use crate::model::plan::Plan;\nlet x = crate::judge::classify::classify(&o); // crate::run::x\nlet s = \"crate::report\";\nuse llm_contract::run::y;",
    );
    let tops: Vec<&str> = refs.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tops, ["judge", "model"]);
    // The circle finder.
    let mut edges: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        edges
            .entry(a.into())
            .or_default()
            .insert(b.into(), PathBuf::new());
    }
    assert_eq!(circle(&edges, "a").unwrap(), ["a", "b", "c"]);
    assert!(circle(&edges, "d").is_none());
    assert_eq!(
        node_of(Path::new("judge/grammar/chat.rs")),
        "judge::grammar"
    );
    assert_eq!(node_of(Path::new("judge/mod.rs")), "judge");
    assert_eq!(node_of(Path::new("context.rs")), "context");
}

#[test]
fn no_source_file_is_over_800_lines() {
    // Data tables aside (none needs the exception today).
    const TABLES: &[&str] = &[];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut big = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap().to_string_lossy().to_string();
        let lines = std::fs::read_to_string(&f).unwrap().lines().count();
        if lines > 800 && !TABLES.contains(&rel.as_str()) {
            big.push(format!("src/{rel}: {lines} lines"));
        }
    }
    assert!(
        big.is_empty(),
        "files over 800 lines:\n  {}",
        big.join("\n  ")
    );
}
