//! The contract format: cases and targets in YAML, loaded with errors that name file:line:col.
//!
//! serde_yaml is deprecated upstream; it is kept, as the project was asked to, and used only in
//! this module, so replacing it touches nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::classify::Class;
use crate::drift::DriftPolicy;
use crate::error::{did_you_mean, ConfigError, ConfigErrors, Location};
use crate::family::{self, Family};
use crate::sanitize::ExtraRule;

/// How a case authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// The target's key (the recorded endpoint's stand-in key offline).
    Valid,
    /// No Authorization header at all.
    Missing,
    /// A well-formed bearer token that no gateway will accept.
    Invalid,
}

/// One status or a set of them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum StatusSet {
    One(u16),
    Many(Vec<u16>),
}

impl StatusSet {
    pub fn to_vec(&self) -> Vec<u16> {
        match self {
            StatusSet::One(s) => vec![*s],
            StatusSet::Many(v) => v.clone(),
        }
    }
}

/// Stream expectations.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamExpect {
    /// The stream ends with the family's terminal marker (`data: [DONE]`), exactly once.
    #[serde(default = "yes")]
    pub done: bool,
    /// A final usage chunk with `choices: []` arrives (with `stream_options.include_usage`).
    #[serde(default)]
    pub usage_chunk: bool,
    /// Schema for each data frame; the family's chunk schema when left out.
    #[serde(default)]
    pub chunk_schema: Option<String>,
    /// Longest silence allowed between two reads of the stream; a longer one is a stall.
    #[serde(default)]
    pub idle_ms: Option<u64>,
    /// The answer must arrive in more than one read: a stream delivered in one burst (a
    /// buffering gateway) fails.
    #[serde(default)]
    pub incremental: bool,
}

fn yes() -> bool {
    true
}

/// Expectations, as written in a case or as a target's override of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectDoc {
    #[serde(default)]
    pub status: Option<StatusSet>,
    #[serde(default)]
    pub class: Option<Class>,
    /// Schema the body must match; by default the family's response schema for 2xx and its error
    /// schema otherwise.
    #[serde(default)]
    pub schema: Option<String>,
    /// The error envelope's code (or type) must be one of these.
    #[serde(default)]
    pub error_code: Option<Vec<String>>,
    /// Every choice's finish_reason must be one of these.
    #[serde(default)]
    pub finish_reason: Option<Vec<String>>,
    #[serde(default)]
    pub stream: Option<StreamExpect>,
    /// Time to the response head must not exceed this (ms).
    #[serde(default)]
    pub max_ttfb_ms: Option<u64>,
    /// Time to a stream's first non-empty content delta (ms).
    #[serde(default)]
    pub max_first_token_ms: Option<u64>,
    /// Largest gap between two stream frames (ms).
    #[serde(default)]
    pub max_gap_ms: Option<u64>,
    /// Time to the end of the body (ms).
    #[serde(default)]
    pub max_total_ms: Option<u64>,
    /// JSON pointers a successful body must have (`/data/0/url` for an image by URL).
    #[serde(default)]
    pub present: Option<Vec<String>>,
    /// JSON pointers a successful body must not have (`/data/0/b64_json`).
    #[serde(default)]
    pub absent: Option<Vec<String>>,
}

impl ExpectDoc {
    fn limits(&self) -> Limits {
        Limits {
            max_ttfb_ms: self.max_ttfb_ms,
            max_first_token_ms: self.max_first_token_ms,
            max_gap_ms: self.max_gap_ms,
            max_total_ms: self.max_total_ms,
        }
    }
}

/// Timing limits a case asserts, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub max_ttfb_ms: Option<u64>,
    pub max_first_token_ms: Option<u64>,
    pub max_gap_ms: Option<u64>,
    pub max_total_ms: Option<u64>,
}

impl Limits {
    fn or(self, other: Limits) -> Limits {
        Limits {
            max_ttfb_ms: self.max_ttfb_ms.or(other.max_ttfb_ms),
            max_first_token_ms: self.max_first_token_ms.or(other.max_first_token_ms),
            max_gap_ms: self.max_gap_ms.or(other.max_gap_ms),
            max_total_ms: self.max_total_ms.or(other.max_total_ms),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestDoc {
    #[serde(default)]
    body: Option<Value>,
    /// Sent verbatim, for cases whose body must not be valid JSON.
    #[serde(default)]
    raw_body: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// How an asynchronous task is polled (families with a poll loop: video tasks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollSettings {
    /// Wait between two polls. Offline the recorded endpoint answers at once and the wait is
    /// counted, not slept.
    #[serde(default = "default_poll_interval_ms")]
    pub interval_ms: u64,
    /// At most this many polls.
    #[serde(default = "default_max_polls")]
    pub max_polls: u32,
    /// A task still pending after this long (waits included) is stuck.
    #[serde(default = "default_poll_deadline_ms")]
    pub deadline_ms: u64,
    /// How many early polls may answer "task does not exist yet" (`task_not_exist`) before it
    /// counts as a failure.
    #[serde(default = "default_not_yet_retries")]
    pub not_yet_retries: u32,
}

fn default_poll_interval_ms() -> u64 {
    10_000
}
fn default_max_polls() -> u32 {
    60
}
fn default_poll_deadline_ms() -> u64 {
    600_000
}
fn default_not_yet_retries() -> u32 {
    3
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            interval_ms: default_poll_interval_ms(),
            max_polls: default_max_polls(),
            deadline_ms: default_poll_deadline_ms(),
            not_yet_retries: default_not_yet_retries(),
        }
    }
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
    #[serde(default)]
    tags: Vec<String>,
    request: RequestDoc,
    expect: ExpectDoc,
    /// Which kinds of drift fail this case (overrides the target's policy).
    #[serde(default)]
    drift: Option<DriftPolicy>,
    /// Poll settings, for families that poll a task.
    #[serde(default)]
    poll: Option<PollSettings>,
}

fn default_family() -> String {
    family::CHAT_COMPLETIONS.name.to_string()
}

/// What a case sends.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyTemplate {
    None,
    Json(Value),
    Raw(String),
}

/// A contract case, as loaded.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub description: String,
    pub family: &'static Family,
    pub auth: AuthMode,
    pub live_only: bool,
    pub tags: Vec<String>,
    pub body: BodyTemplate,
    pub headers: BTreeMap<String, String>,
    pub expect: ExpectDoc,
    pub drift: Option<DriftPolicy>,
    pub poll: PollSettings,
    pub file: PathBuf,
    source: String,
}

impl Case {
    /// Whether the request asks for a stream.
    pub fn streams(&self) -> bool {
        matches!(&self.body, BodyTemplate::Json(b) if b.get("stream") == Some(&Value::Bool(true)))
    }

    /// The location of the first line containing `needle`, for errors about templates.
    fn locate(&self, needle: &str) -> Location {
        for (i, line) in self.source.lines().enumerate() {
            if let Some(col) = line.find(needle) {
                return Location::at(&self.file, i + 1, col + 1);
            }
        }
        Location::file(&self.file)
    }
}

/// A gateway's error dialect: which schema its error bodies follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// `{"error":{"message","type","param","code"}}`.
    Openai,
    /// OpenAI's envelope with `type: comet_api_error`, `param` "" or absent, `code` "" at times and
    /// "(request id: …)" inside the message.
    Comet,
    /// A generation API's envelope (seed 002): `type` always `invalid_request_error`, a
    /// machine-readable `code` (`invalid_api_key`, `parameter_missing`, `quota_exceeded`,
    /// `content_policy_violation`, …) and a `doc_url` when there is one.
    Generation,
}

impl Dialect {
    pub fn error_schema(self) -> &'static str {
        match self {
            Dialect::Openai | Dialect::Comet => "error",
            Dialect::Generation => "generation_error",
        }
    }
}

/// Deadlines for one attempt, per target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default = "default_connect_ms")]
    pub connect_ms: u64,
    /// From sending to the response head.
    #[serde(default = "default_first_byte_ms")]
    pub first_byte_ms: u64,
    /// Between two reads of a body; a case's `stream.idle_ms` can only shorten it.
    #[serde(default = "default_idle_ms")]
    pub idle_ms: u64,
    #[serde(default = "default_total_ms")]
    pub total_ms: u64,
}

fn default_connect_ms() -> u64 {
    10_000
}
fn default_first_byte_ms() -> u64 {
    60_000
}
fn default_idle_ms() -> u64 {
    30_000
}
fn default_total_ms() -> u64 {
    120_000
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect_ms: default_connect_ms(),
            first_byte_ms: default_first_byte_ms(),
            idle_ms: default_idle_ms(),
            total_ms: default_total_ms(),
        }
    }
}

/// How a target's transient failures are retried: bounded attempts, exponential backoff with
/// full jitter, Retry-After honoured within the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 disables retries).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// The first backoff ceiling; doubled per retry.
    #[serde(default = "default_base_ms")]
    pub base_ms: u64,
    /// The largest backoff ceiling.
    #[serde(default = "default_max_ms")]
    pub max_ms: u64,
    /// The whole case, retries and waits included, must end within this.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
}

fn default_attempts() -> u32 {
    3
}
fn default_base_ms() -> u64 {
    500
}
fn default_max_ms() -> u64 {
    8_000
}
fn default_deadline_ms() -> u64 {
    300_000
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: default_attempts(),
            base_ms: default_base_ms(),
            max_ms: default_max_ms(),
            deadline_ms: default_deadline_ms(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetDoc {
    name: String,
    description: String,
    base_url: String,
    #[serde(default)]
    base_url_env: Option<String>,
    api_key_env: String,
    #[serde(default = "default_dialect")]
    dialect: Dialect,
    #[serde(default)]
    default: bool,
    vars: BTreeMap<String, String>,
    #[serde(default)]
    expect: BTreeMap<String, ExpectDoc>,
    #[serde(default)]
    skip: BTreeMap<String, String>,
    #[serde(default)]
    timeouts: Timeouts,
    #[serde(default)]
    retry: RetryPolicy,
    /// Which kinds of drift fail this target's cases (default: removals, type, status, enum and
    /// content-type changes).
    #[serde(default)]
    drift: Option<DriftPolicy>,
    /// Extra sanitizing rules for fixtures recorded from this target.
    #[serde(default)]
    sanitize: Vec<ExtraRule>,
    /// Whether a plain offline `run` replays this target's fixtures (false: only with --target).
    #[serde(default = "yes")]
    replay_by_default: bool,
    /// What recorded fixtures name as their server (default: the description).
    #[serde(default)]
    server: Option<String>,
    /// A response header that carries the server's version, for recorded provenance.
    #[serde(default)]
    version_header: Option<String>,
    /// The families this target serves (default: all); cases of other families are not planned.
    #[serde(default)]
    families: Option<Vec<String>>,
}

fn default_dialect() -> Dialect {
    Dialect::Openai
}

/// Where a suite runs, and what differs there: base URL, key variable, model ids (`vars`), error
/// dialect, and per-case overrides of the expectations (the status a gateway is documented to
/// return for a case, for instance).
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub description: String,
    pub base_url: String,
    pub base_url_env: Option<String>,
    pub api_key_env: String,
    pub dialect: Dialect,
    pub default: bool,
    pub vars: BTreeMap<String, String>,
    pub expect: BTreeMap<String, ExpectDoc>,
    pub skip: BTreeMap<String, String>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub drift: Option<DriftPolicy>,
    pub sanitize: Vec<ExtraRule>,
    pub replay_by_default: bool,
    pub server: Option<String>,
    pub version_header: Option<String>,
    /// The families this target serves; `None`: all of them.
    pub families: Option<Vec<&'static Family>>,
    pub file: PathBuf,
}

impl Target {
    /// Whether the target serves a family.
    pub fn serves(&self, family: &Family) -> bool {
        self.families
            .as_ref()
            .is_none_or(|fs| fs.iter().any(|f| f.name == family.name))
    }
}

/// Expectations of one case on one target, with the target's overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// Empty: any status (the case expects a class).
    pub status: Vec<u16>,
    pub class: Class,
    pub schema: Option<String>,
    pub error_code: Option<Vec<String>>,
    pub finish_reason: Option<Vec<String>>,
    pub stream: Option<StreamExpect>,
    pub limits: Limits,
    pub present: Vec<String>,
    pub absent: Vec<String>,
}

/// One case resolved for one target: what to send and what to expect.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `<target>::<case>`
    pub id: String,
    pub case: Arc<Case>,
    pub target: Arc<Target>,
    pub body: PlanBody,
    pub expect: Expect,
    /// Why the target skips this case, if it does.
    pub skip: Option<String>,
}

/// What a plan sends: the case's body with the target's `${var}`s filled in. A JSON body is kept
/// as the bytes that go out (compact, keys in order), not as a tree: one tree per plan cost a
/// thousand-case suite megabytes, and each request serialized it again.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanBody {
    None,
    Json {
        text: bytes::Bytes,
        /// Its top-level `model`, when that is a string.
        model: Option<String>,
        /// Whether it offers `tools` (or the older `functions`).
        tools: bool,
    },
    Raw(String),
}

impl PlanBody {
    /// The JSON body as a tree (for a fixture's record of the request).
    pub fn json(&self) -> Option<Value> {
        match self {
            PlanBody::Json { text, .. } => serde_json::from_slice(text).ok(),
            _ => None,
        }
    }
}

impl Plan {
    pub fn model(&self) -> Option<&str> {
        match &self.body {
            PlanBody::Json { model, .. } => model.as_deref(),
            _ => None,
        }
    }
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
    serde_yaml::from_str(text).map_err(|e| yaml_error(file, &e, &[]))
}

fn read(file: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(file)
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
    if !doc
        .id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        errors.push(ConfigError::new(
            at("id:"),
            format!(
                "case id `{}` must be lowercase letters, digits and `_`",
                doc.id
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
    let case = Case {
        id: doc.id,
        description: doc.description,
        family,
        auth: doc.auth,
        live_only: doc.live_only,
        tags: doc.tags,
        body,
        headers: doc.request.headers,
        expect: doc.expect,
        drift: doc.drift,
        poll: doc.poll.unwrap_or_default(),
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

/// Parses one target file.
pub fn parse_target(file: &Path, text: &str) -> Result<Target, ConfigErrors> {
    let doc: TargetDoc = parse_yaml(file, text)?;
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if doc.name != stem {
        return Err(ConfigError::new(
            Location::file(file),
            format!(
                "target name `{}` differs from its file name `{stem}`",
                doc.name
            ),
        )
        .into());
    }
    if !doc.vars.contains_key("model") {
        return Err(
            ConfigError::new(Location::file(file), "`vars.model` is required")
                .with_hint("the model id cases use as ${model}")
                .into(),
        );
    }
    let families = match &doc.families {
        None => None,
        Some(names) => {
            let mut fs = Vec::new();
            for n in names {
                match family::by_name(n) {
                    Some(f) => fs.push(f),
                    None => {
                        let mut e = ConfigError::new(
                            locate_in_file_text(file, text, n),
                            format!("unknown family `{n}` in `families`"),
                        );
                        if let Some(s) = did_you_mean(n, family::names()) {
                            e = e.with_hint(format!("did you mean `{s}`?"));
                        }
                        return Err(e.into());
                    }
                }
            }
            Some(fs)
        }
    };
    Ok(Target {
        name: doc.name,
        description: doc.description,
        base_url: doc.base_url,
        base_url_env: doc.base_url_env,
        api_key_env: doc.api_key_env,
        dialect: doc.dialect,
        default: doc.default,
        vars: doc.vars,
        expect: doc.expect,
        skip: doc.skip,
        timeouts: doc.timeouts,
        retry: doc.retry,
        drift: doc.drift,
        sanitize: doc.sanitize,
        replay_by_default: doc.replay_by_default,
        server: doc.server,
        version_header: doc.version_header,
        families,
        file: file.to_path_buf(),
    })
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    // Siblings: their names' order is their paths' order, without comparing paths component by
    // component (which cost more than reading the files on a suite of a thousand cases).
    entries.sort_by_cached_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        if crate::suite::is_dir(&entry) {
            yaml_files(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
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
        let mut files = Vec::new();
        if let Err(e) = yaml_files(dir, &mut files) {
            return Err(io_err(dir, e).into());
        }
        let targets_dir = dir.join("targets");
        let mut cases: Vec<Arc<Case>> = Vec::new();
        let mut targets: Vec<Arc<Target>> = Vec::new();
        let mut ids: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        enum Parsed {
            Target(Result<Target, ConfigErrors>),
            Case(Result<Case, ConfigErrors>),
        }
        // Read and parse on every core (YAML is slow to parse); judged below in file order.
        let parsed = crate::suite::par_map(&files, |file| {
            read(file).map(|text| {
                if file.starts_with(&targets_dir) {
                    Parsed::Target(parse_target(file, &text))
                } else {
                    Parsed::Case(parse_case(file, &text))
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
                    Ok(t) => targets.push(Arc::new(t)),
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
                            cases.push(Arc::new(c));
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
            match plan(case, target) {
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

fn plan(case: &Arc<Case>, target: &Arc<Target>) -> Result<Plan, ConfigError> {
    let body = match &case.body {
        BodyTemplate::Json(v) => {
            let mut text = Vec::with_capacity(256);
            write_substituted(v, case, target, &mut text)?;
            let model = match v.get("model") {
                Some(Value::String(m)) => Some(substitute_str(m, case, target)?),
                _ => None,
            };
            PlanBody::Json {
                text: text.into(),
                model,
                tools: v.get("tools").is_some() || v.get("functions").is_some(),
            }
        }
        BodyTemplate::Raw(s) => PlanBody::Raw(substitute_str(s, case, target)?),
        BodyTemplate::None => PlanBody::None,
    };
    let over = target.expect.get(&case.id);
    let pick =
        |f: fn(&ExpectDoc) -> Option<&StatusSet>| over.and_then(f).or_else(|| f(&case.expect));
    let status = pick(|e| e.status.as_ref())
        .map(StatusSet::to_vec)
        .unwrap_or_default();
    let expect = Expect {
        status,
        class: over
            .and_then(|o| o.class)
            .or(case.expect.class)
            .unwrap_or(Class::Ok),
        schema: over
            .and_then(|o| o.schema.clone())
            .or_else(|| case.expect.schema.clone()),
        error_code: over
            .and_then(|o| o.error_code.clone())
            .or_else(|| case.expect.error_code.clone()),
        finish_reason: over
            .and_then(|o| o.finish_reason.clone())
            .or_else(|| case.expect.finish_reason.clone()),
        stream: over
            .and_then(|o| o.stream.clone())
            .or_else(|| case.expect.stream.clone()),
        limits: over
            .map_or(Limits::default(), ExpectDoc::limits)
            .or(case.expect.limits()),
        present: over
            .and_then(|o| o.present.clone())
            .or_else(|| case.expect.present.clone())
            .unwrap_or_default(),
        absent: over
            .and_then(|o| o.absent.clone())
            .or_else(|| case.expect.absent.clone())
            .unwrap_or_default(),
    };
    let skip = target.skip.get(&case.id).cloned();
    Ok(Plan {
        id: format!("{}::{}", target.name, case.id),
        case: case.clone(),
        target: target.clone(),
        body,
        expect,
        skip,
    })
}

/// Writes `v` as compact JSON with every string's `${var}`s filled in: the bytes
/// `serde_json::to_vec` gives for the filled-in tree, without building that tree.
fn write_substituted(
    v: &Value,
    case: &Case,
    target: &Target,
    out: &mut Vec<u8>,
) -> Result<(), ConfigError> {
    match v {
        Value::String(s) if has_placeholder(s) => put_json(out, &substitute_str(s, case, target)?),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_substituted(item, case, target, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                put_json(out, k);
                out.push(b':');
                write_substituted(item, case, target, out)?;
            }
            out.push(b'}');
        }
        other => put_json(out, other),
    }
    Ok(())
}

/// Writes a string, number, boolean or null (or a key) as compact JSON; into a `Vec` serde_json
/// has no error to give.
fn put_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(out, v);
}

/// Whether `s` holds a `${`: a byte scan, cheaper on a short string than a substring search's
/// set-up (a thousand plans check every string of their bodies).
fn has_placeholder(s: &str) -> bool {
    s.as_bytes().windows(2).any(|w| w == b"${")
}

/// Replaces `${name}` with the target's `vars.name`.
fn substitute_str(s: &str, case: &Case, target: &Target) -> Result<String, ConfigError> {
    if !has_placeholder(s) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(ConfigError::new(
                case.locate("${"),
                "unclosed `${` in a request value",
            ));
        };
        let name = &after[..end];
        match target.vars.get(name) {
            Some(v) => out.push_str(v),
            None => {
                let mut e = ConfigError::new(
                    case.locate(&format!("${{{name}}}")),
                    format!("`${{{name}}}` is not defined by target `{}`", target.name),
                );
                if let Some(s) = did_you_mean(name, target.vars.keys().map(String::as_str)) {
                    e = e.with_hint(format!("did you mean `${{{s}}}`?"));
                } else {
                    e = e.with_hint(format!(
                        "define it under `vars:` in {}",
                        target.file.display()
                    ));
                }
                return Err(e);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASE: &str = "id: happy\ndescription: d\nauth: valid\nrequest:\n  body:\n    model: ${model}\n    messages: []\nexpect:\n  status: 200\n  class: ok\n";

    fn target() -> Arc<Target> {
        Arc::new(
            parse_target(
                Path::new("targets/t.yaml"),
                "name: t\ndescription: d\nbase_url: http://x/v1\napi_key_env: K\nvars:\n  model: m1\nexpect:\n  happy:\n    status: [200, 201]\n",
            )
            .unwrap(),
        )
    }

    #[test]
    fn parses_and_resolves_placeholders_and_overrides() {
        let case = Arc::new(parse_case(Path::new("c/happy.yaml"), CASE).unwrap());
        let p = plan(&case, &target()).unwrap();
        assert_eq!(p.id, "t::happy");
        assert_eq!(p.model(), Some("m1"));
        assert_eq!(p.expect.status, vec![200, 201]);
        assert_eq!(p.expect.class, Class::Ok);
    }

    #[test]
    fn a_json_body_is_sent_as_the_compact_text_of_its_filled_in_tree() {
        let case = Arc::new(parse_case(Path::new("c/happy.yaml"), CASE).unwrap());
        let template = serde_json::json!({
            "model": "${model}",
            "messages": [{"role": "user", "content": "a ${model} \"q\" é\n\u{1}"}, [], {}],
            "n": 1.5, "big": 18446744073709551615u64, "neg": -3, "x": null, "t": true,
            "${model}": "keys are not filled in", "nested": {"deep": ["${model}-${model}"]}
        });
        let filled = serde_json::json!({
            "model": "m1",
            "messages": [{"role": "user", "content": "a m1 \"q\" é\n\u{1}"}, [], {}],
            "n": 1.5, "big": 18446744073709551615u64, "neg": -3, "x": null, "t": true,
            "${model}": "keys are not filled in", "nested": {"deep": ["m1-m1"]}
        });
        let mut text = Vec::new();
        write_substituted(&template, &case, &target(), &mut text).unwrap();
        assert_eq!(text, serde_json::to_vec(&filled).unwrap());
        let mut c = (*case).clone();
        c.body = BodyTemplate::Json(template);
        let p = plan(&Arc::new(c), &target()).unwrap();
        assert_eq!(p.body.json(), Some(filled));
        assert_eq!(p.model(), Some("m1"));
        assert!(matches!(p.body, PlanBody::Json { tools: false, .. }));
    }

    #[test]
    fn unknown_key_names_line_column_and_suggests() {
        let text = CASE.replace("  class: ok", "  clas: ok");
        let err = parse_case(Path::new("c/happy.yaml"), &text).unwrap_err();
        let s = err.to_string();
        assert!(s.contains("unknown field `clas`"), "{s}");
        assert!(s.contains("c/happy.yaml:10:"), "{s}");
        assert!(s.contains("did you mean `class`?"), "{s}");
    }

    #[test]
    fn unknown_class_suggests() {
        let text = CASE.replace("class: ok", "class: fix_requests");
        let s = parse_case(Path::new("c/happy.yaml"), &text)
            .unwrap_err()
            .to_string();
        assert!(s.contains("did you mean `fix_request`?"), "{s}");
    }

    #[test]
    fn undefined_placeholder_is_located() {
        let text = CASE.replace("${model}", "${modle}");
        let case = Arc::new(parse_case(Path::new("c/happy.yaml"), &text).unwrap());
        let e = plan(&case, &target()).unwrap_err().to_string();
        assert!(e.contains("c/happy.yaml:6:12"), "{e}");
        assert!(e.contains("did you mean `${model}`?"), "{e}");
    }

    #[test]
    fn id_must_match_file_and_stream_must_agree() {
        let s = parse_case(Path::new("c/other.yaml"), CASE)
            .unwrap_err()
            .to_string();
        assert!(s.contains("differs from its file name"), "{s}");
        let text = CASE.replace("messages: []", "messages: []\n    stream: true");
        let s = parse_case(Path::new("c/happy.yaml"), &text)
            .unwrap_err()
            .to_string();
        assert!(s.contains("expect.stream` is missing"), "{s}");
    }

    #[test]
    fn credentials_in_headers_are_rejected() {
        let text = CASE.replace(
            "request:\n",
            "request:\n  headers:\n    Authorization: Bearer x\n",
        );
        let s = parse_case(Path::new("c/happy.yaml"), &text)
            .unwrap_err()
            .to_string();
        assert!(s.contains("credentials do not belong"), "{s}");
    }
}
