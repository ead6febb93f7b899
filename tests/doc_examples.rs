//! The examples in docs/contract-format.md are the repository's own files.
//!
//! A ```yaml block whose first line is `# example: <path>` must be, after that line, byte for
//! byte the file at <path>; each such file must be a fault case that tests/faults/expected.tsv
//! lists (so `cargo test --test faults` runs it, and the example is known to do what the text
//! says); and every key the format added (assert, invariants, requires, repeat, pass, capture,
//! steps) must have at least one example. Every other ```yaml block in the docs and the README
//! is a snippet, and must at least be well-formed YAML.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The document the examples live in, from the repository root.
const DOC: &str = "docs/contract-format.md";
/// Other documents whose YAML snippets must be well-formed.
const ALSO_PARSED: &[&str] = &["README.md"];
/// Where example cases live, and the table that makes the fault suite run them.
const CASES: &str = "tests/faults/contracts/cases";
const EXPECTED: &str = "tests/faults/expected.tsv";
const MARKER: &str = "# example: ";

/// Keys of a case's top level that need an example.
const CASE_KEYS: &[&str] = &["requires", "repeat", "pass", "capture", "steps"];
/// Keys of a case's `expect` (or a step's) that need an example.
const EXPECT_KEYS: &[&str] = &["assert", "invariants"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A fenced ```yaml block: the line its body starts on (1-based) and its body, each line ending
/// in `\n`.
#[derive(Debug)]
struct Block {
    line: usize,
    body: String,
}

impl Block {
    /// The example's path and the text after its marker line, when it is an example.
    fn example(&self) -> Option<(&str, &str)> {
        let (first, rest) = self.body.split_once('\n')?;
        let path = first.strip_prefix(MARKER)?.trim();
        Some((path, rest))
    }
}

/// The ```yaml blocks of a Markdown text. A fence is a line that is ``` and an info string,
/// indented or not (a block in a list item); a block's lines lose the fence's indentation. A
/// block left open is an error.
fn yaml_blocks(doc: &str, name: &str) -> Vec<Block> {
    struct Open {
        yaml: bool,
        indent: usize,
        line: usize,
        body: String,
    }
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    for (i, line) in doc.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let trimmed = bare.trim_start_matches(' ');
        let indent = bare.len() - trimmed.len();
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some(Open {
                        yaml: info.trim() == "yaml",
                        indent,
                        line: i + 2,
                        body: String::new(),
                    });
                }
            }
            Some(o) => {
                if trimmed == "```" && indent <= o.indent {
                    if o.yaml {
                        blocks.push(Block {
                            line: o.line,
                            body: std::mem::take(&mut o.body),
                        });
                    }
                    open = None;
                } else {
                    let cut = line
                        .char_indices()
                        .take_while(|&(j, c)| j < o.indent && c == ' ')
                        .count();
                    o.body.push_str(&line[cut..]);
                }
            }
        }
    }
    if let Some(o) = open {
        panic!("{name}:{}: a fenced block is never closed", o.line - 1);
    }
    blocks
}

fn doc_blocks() -> Vec<Block> {
    yaml_blocks(&read(DOC), DOC)
}

/// The first column of the fault table (the case ids it runs).
fn expected_cases() -> BTreeSet<String> {
    read(EXPECTED)
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| l.split('\t').next())
        .map(str::to_string)
        .collect()
}

/// A unified diff of the file (expected) and the example (found), for a failure message.
fn diff(file: &str, example: &str, path: &str) -> String {
    similar::TextDiff::from_lines(file, example)
        .unified_diff()
        .context_radius(2)
        .header(path, &format!("{DOC} (example)"))
        .to_string()
}

#[test]
fn examples_are_byte_identical_to_their_files() {
    let mut problems = Vec::new();
    let mut seen = 0;
    for b in doc_blocks() {
        let Some((path, text)) = b.example() else {
            continue;
        };
        seen += 1;
        let file = root().join(path);
        match std::fs::read_to_string(&file) {
            Ok(want) if want == text => {}
            Ok(want) => problems.push(format!(
                "{DOC}:{}: the example differs from {path}; copy the file into the block again \
                 (or fix the file, if the example is right):\n{}",
                b.line,
                diff(&want, text, path)
            )),
            Err(e) => problems.push(format!(
                "{DOC}:{}: the example names {path}, which cannot be read: {e}",
                b.line
            )),
        }
    }
    assert!(seen > 0, "{DOC} has no `{MARKER}<path>` example at all");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn examples_are_fault_cases_the_fault_suite_runs() {
    let listed = expected_cases();
    let mut problems = Vec::new();
    for b in doc_blocks() {
        let Some((path, _)) = b.example() else {
            continue;
        };
        let p = Path::new(path);
        let in_cases = p.parent() == Some(Path::new(CASES))
            && p.extension().and_then(|e| e.to_str()) == Some("yaml");
        if !in_cases {
            problems.push(format!(
                "{DOC}:{}: example {path} is not a case file in {CASES}/",
                b.line
            ));
            continue;
        }
        if !root().join(p).is_file() {
            problems.push(format!("{DOC}:{}: example {path} does not exist", b.line));
        }
        let id = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if !listed.contains(id) {
            problems.push(format!(
                "{DOC}:{}: example {path} is not a row of {EXPECTED}, so the fault suite does \
                 not run it",
                b.line
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The keys a case's YAML uses, of those the examples must show: top-level keys, and the keys of
/// its `expect` and its steps' `expect`.
fn keys_used(case: &serde_yaml::Value, out: &mut BTreeSet<String>) {
    let Some(map) = case.as_mapping() else {
        return;
    };
    for (k, v) in map {
        let Some(k) = k.as_str() else {
            continue;
        };
        if CASE_KEYS.contains(&k) {
            out.insert(k.to_string());
        }
        if k == "expect" {
            for key in v.as_mapping().into_iter().flat_map(|m| m.keys()) {
                if let Some(key) = key.as_str().filter(|key| EXPECT_KEYS.contains(key)) {
                    out.insert(key.to_string());
                }
            }
        }
        if k == "steps" {
            for step in v.as_sequence().into_iter().flatten() {
                keys_used(step, out);
            }
        }
    }
}

#[test]
fn every_new_key_has_an_example() {
    let mut used = BTreeSet::new();
    for b in doc_blocks() {
        let Some((path, text)) = b.example() else {
            continue;
        };
        let case: serde_yaml::Value = serde_yaml::from_str(text)
            .unwrap_or_else(|e| panic!("{DOC}:{}: example {path} is not YAML: {e}", b.line));
        keys_used(&case, &mut used);
    }
    let missing: Vec<&str> = CASE_KEYS
        .iter()
        .chain(EXPECT_KEYS)
        .copied()
        .filter(|k| !used.contains(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "{DOC} has no `{MARKER}<path>` example using: {}",
        missing.join(", ")
    );
}

#[test]
fn snippets_are_well_formed_yaml() {
    let mut problems = Vec::new();
    let mut snippets = 0;
    for name in std::iter::once(DOC).chain(ALSO_PARSED.iter().copied()) {
        for b in yaml_blocks(&read(name), name) {
            if b.example().is_some() {
                continue;
            }
            snippets += 1;
            if let Err(e) = serde_yaml::from_str::<serde_yaml::Value>(&b.body) {
                let at = e
                    .location()
                    .map_or(b.line, |l| b.line + l.line().saturating_sub(1));
                problems.push(format!(
                    "{name}:{at}: the YAML snippet is not well-formed: {e}"
                ));
            }
        }
    }
    assert!(
        snippets > 0,
        "no YAML snippet found: has the fence syntax changed?"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The checks above are only as good as the block reader: it must find what a document holds.
#[test]
fn the_block_reader_finds_examples_and_snippets() {
    let doc = concat!(
        "text\n```yaml\n# example: a/b.yaml\nid: b\n```\n",
        "```sh\nls\n```\n```yaml\nk: v\n```\n",
        "- item\n\n  ```yaml\n  a:\n    b: 1\n  ```\n",
    );
    let blocks = yaml_blocks(doc, "t.md");
    assert_eq!(blocks.len(), 3);
    assert_eq!(blocks[2].body, "a:\n  b: 1\n");
    assert_eq!(blocks[0].line, 3);
    assert_eq!(blocks[0].example(), Some(("a/b.yaml", "id: b\n")));
    assert_eq!(blocks[1].example(), None);
    assert_eq!(blocks[1].body, "k: v\n");
    let mut used = BTreeSet::new();
    let case: serde_yaml::Value = serde_yaml::from_str(
        "repeat: 2\nexpect: {assert: []}\nsteps:\n- name: s\n  expect: {invariants: []}\n",
    )
    .unwrap();
    keys_used(&case, &mut used);
    let want: BTreeSet<String> = ["repeat", "assert", "steps", "invariants"]
        .map(String::from)
        .into();
    assert_eq!(used, want);
}

/// Every environment variable `src/context.rs` names (`pub const …_VAR: &str = "NAME";`) is in
/// the adopters' table of docs/adopting.md.
#[test]
fn every_environment_variable_is_documented_for_adopters() {
    let context = read("src/context.rs");
    let doc = read("docs/adopting.md");
    let mut names = Vec::new();
    for line in context.lines() {
        let Some(rest) = line.trim().strip_prefix("pub const ") else {
            continue;
        };
        if let Some((_, value)) = rest.split_once("_VAR: &str = \"") {
            names.push(value.trim_end_matches("\";").to_string());
        }
    }
    assert!(names.len() >= 8, "{names:?}");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !doc.contains(&format!("| `{n}")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/adopting.md's table lacks {missing:?}"
    );
}
