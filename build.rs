//! Embeds the repository's suite in the crate: every JSON Schema in `contracts/schemas/` (the
//! built-in schemas every suite starts from) and every case in `contracts/<family>/` (what
//! `llm-contract init` writes into a new suite). The folders are read here, at build time, so a
//! file added to either is built in without a code edit; `src/contract/builtin.rs` includes the
//! table this writes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Files of `dir` ending in `.ext`, sorted; none when the folder is absent.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().and_then(|e| e.to_str()) == Some(ext))
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .and_then(|s| s.to_str())
        .expect("a UTF-8 file name")
        .to_string()
}

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let contracts = root.join("contracts");
    // A folder watched by cargo is scanned whole: a file added, removed or edited reruns this.
    println!("cargo::rerun-if-changed=contracts");
    println!("cargo::rerun-if-changed=build.rs");

    let mut out = String::new();
    out.push_str("/// `(name, text)` of every schema in `contracts/schemas/`, by name.\n");
    out.push_str("pub(crate) static SCHEMAS: &[(&str, &str)] = &[\n");
    for p in files(&contracts.join("schemas"), "json") {
        writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            stem(&p),
            p.to_str().expect("a UTF-8 path")
        )
        .unwrap();
    }
    out.push_str("];\n");

    out.push_str(
        "/// `(family folder, case id, text)` of every case in `contracts/<family>/`, sorted.\n",
    );
    out.push_str("pub(crate) static CASES: &[(&str, &str, &str)] = &[\n");
    let mut families: Vec<PathBuf> = std::fs::read_dir(&contracts)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .filter(|p| !matches!(stem(p).as_str(), "schemas" | "targets"))
                .collect()
        })
        .unwrap_or_default();
    families.sort();
    for dir in families {
        let family = stem(&dir);
        for p in files(&dir, "yaml") {
            writeln!(
                out,
                "    ({family:?}, {:?}, include_str!({:?})),",
                stem(&p),
                p.to_str().expect("a UTF-8 path")
            )
            .unwrap();
        }
    }
    out.push_str("];\n");

    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("builtin.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
