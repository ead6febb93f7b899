//! The suite built into the crate: the JSON Schemas of `contracts/schemas/` and the cases of
//! `contracts/<family>/`, embedded at build time by `build.rs` (a file added to either folder is
//! built in without a code edit).
//!
//! Every built-in schema is known by its name (the file stem) and by the URI
//! [`uri`]`(name)`, `urn:llm-contract:schema:<name>`, which a suite's own schemas use to `$ref`
//! it.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// What every schema URI starts with; the schema's name follows.
pub const SCHEMA_URI_PREFIX: &str = "urn:llm-contract:schema:";

/// The URI a schema named `name` is known by when it declares no `$id` of its own (every
/// built-in one declares exactly this).
pub fn uri(name: &str) -> String {
    format!("{SCHEMA_URI_PREFIX}{name}")
}

/// The built-in schemas: `(name, text)`, sorted by name.
pub fn schemas() -> &'static [(&'static str, &'static str)] {
    SCHEMAS
}

/// The built-in schema named `name`.
pub fn schema(name: &str) -> Option<&'static str> {
    SCHEMAS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The built-in cases: `(family folder, case id, YAML text)`, sorted by family then id.
pub fn cases() -> &'static [(&'static str, &'static str, &'static str)] {
    CASES
}

/// The families that have built-in cases, sorted.
pub fn families() -> Vec<&'static str> {
    let mut out: Vec<&str> = CASES.iter().map(|(f, _, _)| *f).collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table is the folder: same names, same bytes (a file added is built in).
    #[test]
    fn every_schema_file_is_built_in_byte_for_byte() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts/schemas");
        let mut on_disk: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| {
                let name = p.file_stem().unwrap().to_str().unwrap().to_string();
                (name, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        on_disk.sort();
        let built: Vec<(String, String)> = schemas()
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        assert_eq!(built, on_disk);
        for (name, text) in schemas() {
            let doc: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(doc["$id"].as_str(), Some(uri(name).as_str()), "{name}");
        }
    }

    #[test]
    fn every_case_file_is_built_in() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
        for (family, id, text) in cases() {
            let path = root.join(family).join(format!("{id}.yaml"));
            assert_eq!(std::fs::read_to_string(&path).unwrap(), *text, "{}", path.display());
        }
        let chat = cases().iter().filter(|(f, _, _)| *f == "chat_completions").count();
        assert!(chat >= 10, "{chat}");
        assert!(families().contains(&"chat_completions"));
        assert!(!families().contains(&"schemas") && !families().contains(&"targets"));
    }
}
