//! JSON Schemas: the built-in ones ([`builtin`], this repository's `contracts/schemas/`) and a
//! suite's own `schemas/*.json` over them, compiled once and shared by every case.
//!
//! Schemas are draft 2020-12. References resolve only among the loaded schemas (by their `$id`;
//! `urn:llm-contract:schema:<name>` for every built-in one and for a suite's schema without an
//! `$id`); nothing is ever fetched from the network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::contract::builtin;
use crate::model::assertion::InlineSchema;
use crate::model::error::{did_you_mean, ConfigError, ConfigErrors, Location};
use crate::model::failure::Violation;
use crate::util::tape::{JsonRef, TapeJson};

/// The most violations kept per document; the rest are counted.
pub const MAX_VIOLATIONS: usize = 20;

pub struct SchemaRegistry {
    dir: PathBuf,
    /// Every schema with an `$id`, for references between them.
    registry: jsonschema::Registry<'static>,
    schemas: BTreeMap<String, Entry>,
    overrides: Vec<Override>,
}

/// A suite's schema file that replaces the built-in schema of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub name: String,
    pub file: PathBuf,
}

impl std::fmt::Display for Override {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: note: overrides the built-in schema `{}` ({})",
            self.file.display(),
            self.name,
            builtin::uri(&self.name)
        )
    }
}

/// How a built-in schema is named where a file path is expected (in messages).
fn builtin_path(name: &str) -> PathBuf {
    PathBuf::from(format!("<built-in schema>/{name}.json"))
}

/// One schema file: parsed at load, compiled when first needed ([`SchemaRegistry::compile`]
/// compiles the ones a run uses before it starts; `lint` compiles all).
struct Entry {
    path: PathBuf,
    doc: Value,
    validator: OnceLock<Result<jsonschema::Validator, String>>,
    /// The same schema for a stream frame's [`Tape`](crate::util::tape::Tape), built on first use.
    frames: OnceLock<Option<jsonschema::Validator<TapeJson>>>,
}

impl std::fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("dir", &self.dir)
            .field("schemas", &self.schemas.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SchemaRegistry {
    /// The built-in schemas ([`builtin`]) and every `*.json` schema in `dir` (the file stem is
    /// its name) over them: a file adds a schema, or replaces the built-in one of its name (an
    /// [`Override`], unless its text is the built-in's own). A missing `dir` is the built-ins
    /// alone. A schema with no `$id` is given `urn:llm-contract:schema:<name>`
    /// ([`builtin::uri`]), so any schema may `$ref` any other by that URI; two schemas with one
    /// `$id` are an error. Each is compiled (and checked against the meta-schema) when
    /// [`SchemaRegistry::compile`] names it or a document is first checked against it.
    pub fn load(dir: &Path) -> Result<SchemaRegistry, ConfigErrors> {
        SchemaRegistry::load_from(Some(dir))
    }

    /// The built-in schemas alone.
    #[cfg(any(test, feature = "testkit"))]
    pub fn builtin() -> Result<SchemaRegistry, ConfigErrors> {
        SchemaRegistry::load_from(None)
    }

    fn load_from(dir: Option<&Path>) -> Result<SchemaRegistry, ConfigErrors> {
        let mut errors = Vec::new();
        let mut docs: BTreeMap<String, (PathBuf, bool, Value)> = BTreeMap::new();
        for (name, text) in builtin::schemas() {
            let path = builtin_path(name);
            match serde_json::from_str::<Value>(text) {
                Ok(v) => {
                    docs.insert(name.to_string(), (path, true, v));
                }
                Err(e) => errors.push(ConfigError::new(
                    Location::at(&path, e.line(), e.column()),
                    format!("built-in schema is not valid JSON: {e}"),
                )),
            }
        }
        let mut overrides = Vec::new();
        let read = match dir {
            Some(dir) => std::fs::read_dir(dir).map(Some),
            None => Ok(None),
        };
        let paths: Vec<PathBuf> = match read {
            Ok(None) => Vec::new(),
            Ok(Some(e)) => e
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(ConfigError::new(
                    Location::file(dir.unwrap_or(Path::new(""))),
                    format!("cannot read schema directory: {e}"),
                )
                .into())
            }
        };
        let mut paths = paths;
        paths.sort();
        for path in paths {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let text = match crate::util::fs::read_text(&path, 4 * 1024 * 1024) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(ConfigError::new(
                        Location::file(&path),
                        format!("cannot read schema: {e}"),
                    ));
                    continue;
                }
            };
            if builtin::schema(&name) == Some(text.as_str()) {
                // The built-in schema's own file (this repository's folder, or a copy of it).
                continue;
            }
            match serde_json::from_str::<Value>(&text) {
                Ok(v) => {
                    if let Some((_, true, old)) = docs.get(&name) {
                        if *old != v {
                            overrides.push(Override {
                                name: name.clone(),
                                file: path.clone(),
                            });
                        }
                    }
                    docs.insert(name, (path, false, v));
                }
                Err(e) => errors.push(ConfigError::new(
                    Location::at(&path, e.line(), e.column()),
                    format!("schema is not valid JSON: {e}"),
                )),
            }
        }
        // Every schema is a resource the others may reference: by its own `$id`, else by the
        // URI of its name.
        let mut resources = Vec::new();
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        for (name, (path, _, doc)) in docs.iter_mut() {
            if let Value::Object(map) = doc {
                if !map.get("$id").is_some_and(Value::is_string) {
                    map.insert("$id".into(), Value::String(builtin::uri(name)));
                }
            }
            let Some(id) = doc.get("$id").and_then(Value::as_str) else {
                continue;
            };
            if let Some(other) = ids.insert(id.to_string(), name.clone()) {
                errors.push(ConfigError::new(
                    Location::file(&*path),
                    format!("schema `{name}` has the `$id` {id} of schema `{other}`: each `$id` names one schema"),
                ));
                continue;
            }
            resources.push((
                id.to_string(),
                jsonschema::Resource::from_contents(doc.clone()),
            ));
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let dir = dir.map_or_else(|| PathBuf::from("<built-in schemas>"), Path::to_path_buf);
        let registry = match jsonschema::Registry::new()
            .extend(resources)
            .and_then(|r| r.prepare())
        {
            Ok(r) => r,
            Err(e) => {
                return Err(
                    ConfigError::new(Location::file(&dir), format!("schema registry: {e}")).into(),
                )
            }
        };
        let schemas = docs
            .into_iter()
            .map(|(name, (path, _, doc))| {
                let entry = Entry {
                    path,
                    doc,
                    validator: OnceLock::new(),
                    frames: OnceLock::new(),
                };
                (name, entry)
            })
            .collect();
        Ok(SchemaRegistry {
            dir,
            registry,
            schemas,
            overrides,
        })
    }

    /// The suite's schema files that replace a built-in schema with a different one.
    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    /// Compiles the named schemas (unknown names are skipped: [`SchemaRegistry::contains`]
    /// reports them); an invalid schema is a configuration error naming its file.
    pub fn compile<'n>(
        &self,
        names: impl IntoIterator<Item = &'n str>,
    ) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for name in names {
            if !seen.insert(name) {
                continue;
            }
            if let Some(entry) = self.schemas.get(name) {
                if let Err(e) = self.compiled(entry) {
                    errors.push(ConfigError::new(Location::file(&entry.path), e.clone()));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Compiles every schema in the folder (what `lint` checks).
    pub fn compile_all(&self) -> Result<(), ConfigErrors> {
        let names: Vec<&str> = self.names().collect();
        self.compile(names)
    }

    fn compiled<'s>(&self, entry: &'s Entry) -> &'s Result<jsonschema::Validator, String> {
        entry.validator.get_or_init(|| {
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .offline()
                .with_registry(&self.registry)
                .build(&entry.doc)
                .map_err(|e| format!("invalid schema: {e}"))
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.schemas.keys().map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.schemas.contains_key(name)
    }

    /// An error for a schema name that does not exist, with a suggestion.
    pub fn unknown(&self, name: &str) -> ConfigError {
        let mut e = ConfigError::new(
            Location::file(&self.dir),
            format!("no schema named `{name}`"),
        );
        e = match did_you_mean(name, self.names()) {
            Some(s) => e.with_hint(format!("did you mean `{s}`?")),
            None => e.with_hint(format!(
                "schemas: {}",
                self.names().collect::<Vec<_>>().join(", ")
            )),
        };
        e
    }

 #[cfg(any(test, feature = "testkit"))]
    /// True when the document matches; cheap (no error collection).
    pub fn is_valid(&self, name: &str, doc: &Value) -> Result<bool, ConfigError> {
        Ok(self.get(name)?.is_valid(doc))
    }

    /// Every violation (up to [`MAX_VIOLATIONS`]) and the total count.
    pub fn validate(
        &self,
        name: &str,
        doc: &Value,
    ) -> Result<(Vec<Violation>, usize), ConfigError> {
        Ok(violations(self.get(name)?, doc))
    }

    /// Compiles a schema written in a case (once: later calls reuse it); it may `$ref` the
    /// folder's schemas by their `$id`.
    pub fn inline<'s>(&self, s: &'s InlineSchema) -> Result<&'s jsonschema::Validator, String> {
        // The validator lives as long as the assertion that holds it, and so does `s`.
        s.compiled
            .get_or_init(|| {
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .offline()
                    .with_registry(&self.registry)
                    .build(&s.doc)
                    .map_err(|e| format!("invalid schema: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Every violation of a schema written in a case (up to [`MAX_VIOLATIONS`]) and the total.
    pub fn validate_inline(
        &self,
        s: &InlineSchema,
        doc: &Value,
    ) -> Result<(Vec<Violation>, usize), String> {
        Ok(violations(self.inline(s)?, doc))
    }

    /// Every violation of the named schema, uncapped (see [`all_violations`]).
    pub fn validate_all(&self, name: &str, doc: &Value) -> Result<Vec<Violation>, ConfigError> {
        Ok(all_violations(self.get(name)?, doc))
    }

    fn get(&self, name: &str) -> Result<&jsonschema::Validator, ConfigError> {
        let entry = self.schemas.get(name).ok_or_else(|| self.unknown(name))?;
        self.compiled(entry)
            .as_ref()
            .map_err(|e| ConfigError::new(Location::file(&entry.path), e.clone()))
    }
}

/// One jsonschema error as data.
fn violation(err: &jsonschema::ValidationError<'_>) -> Violation {
    let kind = err.kind();
    let property = match kind {
        jsonschema::error::ValidationErrorKind::Required { property } => Some(
            property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string),
        ),
        _ => None,
    };
    Violation {
        pointer: err.instance_path().to_string(),
        schema_path: err.schema_path().to_string(),
        message: err.masked().to_string(),
        keyword: kind.keyword().to_string(),
        property,
    }
}

/// Every violation, uncapped: the level split must see each one to tell a named deviation from
/// a failure (the failures it leaves are capped by the caller).
pub fn all_violations(validator: &jsonschema::Validator, doc: &Value) -> Vec<Violation> {
    if validator.is_valid(doc) {
        return Vec::new();
    }
    validator.iter_errors(doc).map(|e| violation(&e)).collect()
}

/// Every violation (up to [`MAX_VIOLATIONS`]) and the total count.
fn violations(validator: &jsonschema::Validator, doc: &Value) -> (Vec<Violation>, usize) {
        if validator.is_valid(doc) {
            return (Vec::new(), 0);
        }
        let mut out = Vec::new();
        let mut total = 0;
        for err in validator.iter_errors(doc) {
            total += 1;
            if out.len() < MAX_VIOLATIONS {
                out.push(violation(&err));
            }
        }
        (out, total)
}

impl SchemaRegistry {
    /// Whether a stream frame, parsed into a [`Tape`](crate::util::tape::Tape), matches `name`: the same schema, compiled
    /// once more for the tape representation. `None` when it cannot say (an unknown or invalid
    /// schema): the caller then checks the frame as a `Value`.
    pub fn frame_is_valid(&self, name: &str, frame: JsonRef<'_>) -> Option<bool> {
        let entry = self.schemas.get(name)?;
        self.compiled(entry).as_ref().ok()?;
        let validator = entry.frames.get_or_init(|| {
            jsonschema::options_for::<TapeJson>()
                .with_draft(jsonschema::Draft::Draft202012)
                .offline()
                .with_registry(&self.registry)
                .build(&entry.doc)
                .ok()
        });
        validator.as_ref().map(|v| v.is_valid(frame))
    }
}
