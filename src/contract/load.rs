//! The contract format: cases and targets in YAML, loaded with errors that name file:line:col.
//!
//! serde_yaml is deprecated upstream; it is kept, as the project was asked to, and used only in
//! this module, so replacing it touches nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::model::class::Class;
use crate::model::drift::DriftPolicy;
use crate::model::error::{did_you_mean, ConfigError, ConfigErrors, Location};
use crate::model::family;
use crate::model::plan::{
    AuthMode, BodyTemplate, Case, ExpectDoc, PassRule, Plan, PollSettings, Target,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestDoc {
    /// The family's method and path unless the case names its own (`GET /models/${model}`).
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    body: Option<Value>,
    /// Sent verbatim, for cases whose body must not be valid JSON.
    #[serde(default)]
    raw_body: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseDoc {
    id: String,
    description: String,
    #[serde(default = "default_family")]
    family: String,
    auth: AuthMode,
    #[serde(default)]
    live_only: bool,
    /// Named deviations from the spec fail this case instead of being listed.
    #[serde(default)]
    strict: bool,
    #[serde(default)]
    tags: Vec<String>,
    /// Variables for this case, over the target's; their values may name the target's.
    #[serde(default)]
    vars: BTreeMap<String, String>,
    request: RequestDoc,
    expect: ExpectDoc,
    /// Which kinds of drift fail this case (overrides the target's policy).
    #[serde(default)]
    drift: Option<DriftPolicy>,
    /// Poll settings, for families that poll a task.
    #[serde(default)]
    poll: Option<PollSettings>,
    /// Capabilities the case needs: where a target is declared not to offer one, the case is
    /// skipped; where it is not declared and the gateway refuses it, the case is `unsupported`.
    #[serde(default)]
    requires: Vec<String>,
    /// Runs of the case, for behaviour that depends on the model (at most [`MAX_REPEAT`]).
    #[serde(default)]
    repeat: Option<u32>,
    /// How a repeated case passes: `any` run (pass@k) or `all` of them (pass^k, the default).
    #[serde(default)]
    pass: Option<PassRule>,
    /// Values taken from the answer to the case's request, by JSON pointer, for its steps.
    #[serde(default)]
    capture: BTreeMap<String, String>,
    /// Further requests, in order, each with its own expectations.
    #[serde(default)]
    steps: Vec<crate::contract::steps::StepDoc>,
}

/// The most runs a case may repeat.
pub const MAX_REPEAT: u32 = 100;

fn default_family() -> String {
    family::CHAT_COMPLETIONS.name.to_string()
}

fn yaml_error(file: &Path, err: &serde_yaml::Error, known: &[&str]) -> ConfigError {
    let raw = err.to_string();
    // serde_yaml appends " at line L column C"; the location is printed on its own line.
    let message = match raw.rfind(" at line ") {
        Some(i) => raw[..i].to_string(),
        None => raw.clone(),
    };
    let location = match err.location() {
        Some(l) => Location::at(file, l.line(), l.column()),
        None => Location::file(file),
    };
    let mut e = ConfigError::new(location, message.clone());
    if let Some(rest) = message
        .find("unknown field `")
        .map(|i| &message[i + "unknown field `".len()..])
    {
        if let Some(end) = rest.find('`') {
            let word = &rest[..end];
            let expected: Vec<&str> = rest[end..].split('`').skip(2).step_by(2).collect();
            let pool: Vec<&str> = if expected.is_empty() {
                known.to_vec()
            } else {
                expected
            };
            if let Some(s) = did_you_mean(word, pool.iter().copied()) {
                e = e.with_hint(format!("did you mean `{s}`?"));
            }
        }
    }
    if let Some(rest) = message
        .find("unknown variant `")
        .map(|i| &message[i + "unknown variant `".len()..])
    {
        if let Some(end) = rest.find('`') {
            let word = &rest[..end];
            let expected: Vec<&str> = rest[end..].split('`').skip(2).step_by(2).collect();
            if let Some(s) = did_you_mean(word, expected.iter().copied()) {
                e = e.with_hint(format!("did you mean `{s}`?"));
            }
        }
    }
    e
}

fn parse_yaml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    // The parser's time grows with the square of the nesting: too deep is refused before it.
    crate::contract::depth::check(text, crate::contract::depth::MAX_YAML_DEPTH)
        .map_err(|e| ConfigError::new(Location::at(file, e.line, e.column), e.to_string()))?;
    serde_yaml::from_str(text).map_err(|e| yaml_error(file, &e, &[]))
}

/// The largest case or target file read (bytes).
pub const MAX_CONTRACT_FILE: u64 = 4 * 1024 * 1024;

fn read(file: &Path) -> Result<String, ConfigError> {
    crate::util::fs::read_text(file, MAX_CONTRACT_FILE)
        .map_err(|e| ConfigError::new(Location::file(file), format!("cannot read file: {e}")))
}

/// Parses one case file.
pub fn parse_case(file: &Path, text: &str) -> Result<Case, ConfigErrors> {
    let doc: CaseDoc = parse_yaml(file, text)?;
    let mut errors = Vec::new();
    let at = |needle: &str| -> Location {
        for (i, line) in text.lines().enumerate() {
            if let Some(col) = line.find(needle) {
                return Location::at(file, i + 1, col + 1);
            }
        }
        Location::file(file)
    };
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if doc.id != stem {
        errors.push(
            ConfigError::new(
                at("id:"),
                format!("case id `{}` differs from its file name `{stem}`", doc.id),
            )
            .with_hint("one case per file, named <id>.yaml"),
        );
    }
    if !crate::contract::names::is_safe(&doc.id) || doc.id.contains('-') {
        errors.push(ConfigError::new(
            at("id:"),
            format!(
                "case id `{}` must be [a-z0-9_], at most {} characters (it names a file)",
                crate::util::text::Visible(&doc.id),
                crate::contract::names::MAX_NAME,
            ),
        ));
    }
    let family = match family::by_name(&doc.family) {
        Some(f) => f,
        None => {
            let mut e = ConfigError::new(at("family:"), format!("unknown family `{}`", doc.family));
            if let Some(s) = did_you_mean(&doc.family, family::names()) {
                e = e.with_hint(format!("did you mean `{s}`?"));
            }
            errors.push(e);
            &family::CHAT_COMPLETIONS
        }
    };
    crate::contract::steps::check_method_path(
        doc.request.method.as_deref(),
        doc.request.path.as_deref(),
        "the case",
        &at,
        &mut errors,
    );
    if family.poll.is_some() {
        for (key, set) in [
            ("method", doc.request.method.is_some()),
            ("path", doc.request.path.is_some()),
        ] {
            if set {
                errors.push(ConfigError::new(
                    at(&format!("{key}:")),
                    format!(
                        "`request.{key}` cannot apply to {}: its submit and polls have the family's own",
                        family.name
                    ),
                ));
            }
        }
    }
    let body = match (doc.request.body, doc.request.raw_body) {
        (Some(_), Some(_)) => {
            errors.push(ConfigError::new(
                at("raw_body:"),
                "a request has either `body` or `raw_body`, not both",
            ));
            BodyTemplate::None
        }
        (Some(b), None) => BodyTemplate::Json(b),
        (None, Some(r)) => BodyTemplate::Raw(r),
        (None, None) => BodyTemplate::None,
    };
    if doc.expect.status.is_none() {
        errors.push(ConfigError::new(
            at("expect:"),
            "`expect.status` is required",
        ));
    }
    if doc.expect.class.is_none() {
        errors.push(
            ConfigError::new(at("expect:"), "`expect.class` is required").with_hint(format!(
                "one of: {}",
                Class::ALL.map(Class::as_str).join(", ")
            )),
        );
    }
    for header in doc.request.headers.keys() {
        if header.eq_ignore_ascii_case("authorization")
            || header.to_ascii_lowercase().contains("api-key")
        {
            errors.push(
                ConfigError::new(at(header), "credentials do not belong in a case file")
                    .with_hint("use `auth: valid | missing | invalid`; the key comes from the target's api_key_env"),
            );
        }
    }
    let mut requires = Vec::new();
    for name in &doc.requires {
        match capability(name, &at) {
            Ok(c) => requires.push(c),
            Err(e) => errors.push(e),
        }
    }
    if let Some(r) = doc.repeat {
        if !(1..=MAX_REPEAT).contains(&r) {
            errors.push(ConfigError::new(
                at("repeat:"),
                format!("`repeat: {r}`: a case runs 1 to {MAX_REPEAT} times"),
            ));
        }
    }
    if doc.repeat.unwrap_or(1) > 1 && family.poll.is_some() {
        errors.push(ConfigError::new(
            at("repeat:"),
            format!(
                "`repeat` is not available for {}: a task's polls are replayed by position",
                family.name
            ),
        ));
    }
    crate::contract::steps::check_capture(&doc.capture, &at, &mut errors);
    if !doc.capture.is_empty() && doc.steps.is_empty() {
        errors.push(
            ConfigError::new(at("capture:"), "`capture` feeds later steps; this case has none")
                .with_hint("add `steps:`, or remove `capture`"),
        );
    }
    if !doc.steps.is_empty() && doc.repeat.unwrap_or(1) > 1 {
        errors.push(ConfigError::new(
            at("repeat:"),
            "`repeat` and `steps` together are not available yet: repeat one request, or step without repeating",
        ));
    }
    if !doc.steps.is_empty() && family.poll.is_some() {
        errors.push(ConfigError::new(
            at("steps:"),
            format!("`steps` are not available for {}: its polls are its steps", family.name),
        ));
    }
    let steps = crate::contract::steps::steps(doc.steps, family, &at, &mut errors);
    if doc.pass.is_some() && doc.repeat.unwrap_or(1) < 2 {
        errors.push(
            ConfigError::new(at("pass:"), "`pass` applies to a repeated case")
                .with_hint("add `repeat: k` (k ≥ 2), or remove `pass`"),
        );
    }
    let case = Case {
        id: doc.id,
        description: doc.description,
        family,
        auth: doc.auth,
        live_only: doc.live_only,
        strict: doc.strict,
        tags: doc.tags,
        vars: doc.vars,
        body,
        method: doc.request.method,
        path: doc.request.path,
        headers: doc.request.headers,
        expect: doc.expect,
        drift: doc.drift,
        poll: doc.poll.unwrap_or_default(),
        requires,
        repeat: doc.repeat.unwrap_or(1).clamp(1, MAX_REPEAT),
        pass: doc.pass.unwrap_or(PassRule::All),
        capture: doc.capture,
        steps,
        file: file.to_path_buf(),
        source: text.to_string(),
    };
    if doc.poll.is_some() && family.poll.is_none() {
        errors.push(ConfigError::new(
            at("poll:"),
            format!(
                "`poll` is for families that poll a task; {} does not",
                family.name
            ),
        ));
    }
    errors.extend(crate::contract::applies::refusals(
        &case.expect,
        family,
        case.streams(),
        "the case",
        &at,
    ));
    if case.streams() != case.expect.stream.is_some() {
        errors.push(ConfigError::new(
            at("stream"),
            if case.streams() {
                "request.body.stream is true but `expect.stream` is missing"
            } else {
                "`expect.stream` is set but request.body.stream is not true"
            },
        ));
    }
    if errors.is_empty() {
        Ok(case)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// The capability named `name`, or an error located at it with a did-you-mean.
fn capability(
    name: &str,
    at: &dyn Fn(&str) -> Location,
) -> Result<&'static crate::model::capability::Capability, ConfigError> {
    use crate::model::capability;
    capability::by_name(name).ok_or_else(|| {
        let e = ConfigError::new(at(name), format!("unknown capability `{name}`"));
        match did_you_mean(name, capability::names()) {
            Some(s) => e.with_hint(format!("did you mean `{s}`?")),
            None => e.with_hint(format!(
                "capabilities: {}",
                capability::names().collect::<Vec<_>>().join(", ")
            )),
        }
    })
}

/// The YAML files below `dir`; a symbolic link to a directory is not followed, and is an error.
fn yaml_files(dir: &Path, errors: &mut Vec<ConfigError>) -> std::io::Result<Vec<PathBuf>> {
    let walk = crate::util::fs::walk(dir, &|p| {
        matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        )
    })?;
    for (path, why) in walk.not_followed {
        errors.push(ConfigError::new(Location::file(path), why));
    }
    Ok(walk.files)
}

/// The cases and targets below a contracts directory: cases anywhere except `targets/` and
/// `schemas/`, targets in `targets/`.
#[derive(Debug, Clone)]
pub struct Contracts {
    pub dir: PathBuf,
    pub cases: Vec<Arc<Case>>,
    pub targets: Vec<Arc<Target>>,
}

impl Contracts {
    pub fn load(dir: &Path) -> Result<Contracts, ConfigErrors> {
        let mut errors = Vec::new();
        let io_err = |p: &Path, e: std::io::Error| {
            ConfigError::new(Location::file(p), format!("cannot read directory: {e}"))
        };
        let files = match yaml_files(dir, &mut errors) {
            Ok(files) => files,
            Err(e) => return Err(io_err(dir, e).into()),
        };
        let targets_dir = dir.join("targets");
        let mut cases: Vec<Arc<Case>> = Vec::new();
        let mut targets: Vec<Arc<Target>> = Vec::new();
        let mut ids: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        enum Parsed {
            Target(Result<Arc<Target>, ConfigErrors>),
            Case(Result<Arc<Case>, ConfigErrors>),
        }
        // Read and parse on every core (YAML is slow to parse); judged below in file order.
        let parsed = crate::util::fs::par_map(&files, |file| {
            read(file).map(|text| {
                if file.starts_with(&targets_dir) {
                    Parsed::Target(parse_target(file, &text).map(Arc::new))
                } else {
                    Parsed::Case(parse_case(file, &text).map(Arc::new))
                }
            })
        });
        for (file, parsed) in files.into_iter().zip(parsed) {
            let parsed = match parsed {
                Ok(p) => p,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            match parsed {
                Parsed::Target(target) => match target {
                    Ok(t) => targets.push(t),
                    Err(e) => errors.extend(e.0),
                },
                Parsed::Case(case) => match case {
                    Ok(c) => {
                        if let Some(prev) = ids.get(&c.id).map(|&i| &cases[i]) {
                            errors.push(ConfigError::new(
                                Location::file(&file),
                                format!(
                                    "case id `{}` is also used by {}",
                                    c.id,
                                    prev.file.display()
                                ),
                            ));
                        } else {
                            ids.insert(c.id.clone(), cases.len());
                            cases.push(c);
                        }
                    }
                    Err(e) => errors.extend(e.0),
                },
            }
        }
        if cases.is_empty() && errors.is_empty() {
            errors.push(
                ConfigError::new(Location::file(dir), "no contract cases found").with_hint(
                    "cases are YAML files below the contracts directory (outside targets/)",
                ),
            );
        }
        if targets.is_empty() && errors.is_empty() {
            errors.push(ConfigError::new(
                Location::file(&targets_dir),
                "no targets found: a target file (targets/<name>.yaml) says where cases run",
            ));
        }
        // Target overrides must name real cases.
        for t in &targets {
            for name in t.expect.keys().chain(t.skip.keys()) {
                if !cases.iter().any(|c| &c.id == name) {
                    let mut e = ConfigError::new(
                        locate_in_file(&t.file, &format!("{name}:")),
                        format!(
                            "target `{}` names case `{name}`, which does not exist",
                            t.name
                        ),
                    );
                    if let Some(s) = did_you_mean(name, cases.iter().map(|c| c.id.as_str())) {
                        e = e.with_hint(format!("did you mean `{s}`?"));
                    }
                    errors.push(e);
                }
            }
        }
        // A target's overrides are held to what can apply to the case they override.
        for t in &targets {
            for (name, over) in &t.expect {
                let Some(case) = ids.get(name).map(|&i| &cases[i]) else {
                    continue;
                };
                let text = std::fs::read_to_string(&t.file).unwrap_or_default();
                let at = |needle: &str| locate_in_file_text(&t.file, &text, needle);
                errors.extend(crate::contract::applies::refusals(
                    over,
                    case.family,
                    case.streams(),
                    &format!("target `{}`'s override of `{name}`", t.name),
                    &at,
                ));
            }
        }
        let defaults = targets.iter().filter(|t| t.default).count();
        if defaults > 1 {
            errors.push(ConfigError::new(
                Location::file(&targets_dir),
                "more than one target is marked `default: true`",
            ));
        }
        if errors.is_empty() {
            Ok(Contracts {
                dir: dir.to_path_buf(),
                cases,
                targets,
            })
        } else {
            Err(ConfigErrors(errors))
        }
    }

    pub fn target(&self, name: &str) -> Result<Arc<Target>, ConfigError> {
        self.targets
            .iter()
            .find(|t| t.name == name)
            .cloned()
            .ok_or_else(|| {
                let mut e = ConfigError::new(
                    Location::file(self.dir.join("targets")),
                    format!("no target named `{name}`"),
                );
                if let Some(s) = did_you_mean(name, self.targets.iter().map(|t| t.name.as_str())) {
                    e = e.with_hint(format!("did you mean `{s}`?"));
                } else {
                    e = e.with_hint(format!(
                        "targets: {}",
                        self.targets
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                e
            })
    }

    /// The target marked `default: true`, else the first.
    pub fn default_target(&self) -> Arc<Target> {
        self.targets
            .iter()
            .find(|t| t.default)
            .unwrap_or(&self.targets[0])
            .clone()
    }

    /// Resolves every case for a target. Placeholders that the target does not define are errors.
    /// The target's plans: every case of a family the target serves, resolved for it.
    pub fn plans(&self, target: &Arc<Target>) -> Result<Vec<Plan>, ConfigErrors> {
        let mut plans = Vec::new();
        let mut errors = Vec::new();
        for case in self.cases.iter().filter(|c| target.serves(c.family)) {
            match crate::contract::plan::plan(case, target) {
                Ok(p) => plans.push(p),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(plans)
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

fn locate_in_file_text(file: &Path, text: &str, needle: &str) -> Location {
    for (i, line) in text.lines().enumerate() {
        if let Some(col) = line.find(needle) {
            return Location::at(file, i + 1, col + 1);
        }
    }
    Location::file(file)
}

fn locate_in_file(file: &Path, needle: &str) -> Location {
    if let Ok(text) = std::fs::read_to_string(file) {
        for (i, line) in text.lines().enumerate() {
            if let Some(col) = line.find(needle) {
                return Location::at(file, i + 1, col + 1);
            }
        }
    }
    Location::file(file)
}

mod target;
pub use target::parse_target;

#[cfg(test)]
mod tests;
