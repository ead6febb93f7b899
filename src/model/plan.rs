//! The contract's data: a case as loaded, a target, and a plan (one case resolved for one
//! target), with the expectations, timeouts, retry policy and poll settings they carry.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::assertion::{Assertion, Invariant};
use crate::model::capability::Capability;
use crate::model::class::Class;
use crate::model::drift::DriftPolicy;
use crate::model::error::Location;
use crate::model::family::Family;

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

pub(crate) fn yes() -> bool {
    true
}

/// Expectations, as written in a case or as a target's override of them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
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
    /// Assertions on the answer (a body, or what a stream's frames add up to).
    #[serde(default)]
    pub assert: Option<Vec<Assertion>>,
    /// Built-in checks the answer is held to.
    #[serde(default)]
    pub invariants: Option<Vec<Invariant>>,
}

impl ExpectDoc {
    pub fn limits(&self) -> Limits {
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
    pub fn or(self, other: Limits) -> Limits {
        Limits {
            max_ttfb_ms: self.max_ttfb_ms.or(other.max_ttfb_ms),
            max_first_token_ms: self.max_first_token_ms.or(other.max_first_token_ms),
            max_gap_ms: self.max_gap_ms.or(other.max_gap_ms),
            max_total_ms: self.max_total_ms.or(other.max_total_ms),
        }
    }
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

/// A step of a case after its own request: another request, its own expectations, and the
/// values it captures for the steps after it.
#[derive(Debug, Clone)]
pub struct CaseStep {
    /// Unique within the case: `[a-z0-9_]`.
    pub name: String,
    /// The request's method and path (after the base URL); the family's when left out. The path
    /// may name variables and captured values (`/responses/${response_id}`).
    pub method: Option<String>,
    pub path: Option<String>,
    pub body: BodyTemplate,
    pub headers: BTreeMap<String, String>,
    pub expect: ExpectDoc,
    /// Values taken from this step's answer, by JSON pointer, for the steps after it.
    pub capture: BTreeMap<String, String>,
}

/// How a repeated case passes: any run passing (pass@k) or every run (pass^k).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PassRule {
    Any,
    All,
}

impl PassRule {
    pub fn as_str(self) -> &'static str {
        match self {
            PassRule::Any => "any",
            PassRule::All => "all",
        }
    }
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
    /// Deviations from the spec fail this case (as `--strict` does for a run).
    pub strict: bool,
    pub tags: Vec<String>,
    /// The case's own variables, over the target's (`${name}` in their values is the target's).
    pub vars: BTreeMap<String, String>,
    pub body: BodyTemplate,
    /// The request's method and path (after the base URL, `${name}`s allowed) where they are
    /// not the family's (`request.method`, `request.path`).
    pub method: Option<String>,
    pub path: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub expect: ExpectDoc,
    pub drift: Option<DriftPolicy>,
    pub poll: PollSettings,
    /// The capabilities the case needs (`requires:`).
    pub requires: Vec<&'static Capability>,
    /// Values taken from the answer to the case's own request, by JSON pointer, for its steps.
    pub capture: BTreeMap<String, String>,
    /// Further requests, in order, each with its expectations (`steps:`).
    pub steps: Vec<CaseStep>,
    /// Runs of the case (`repeat:`, 1 when not repeated), and how they pass (`pass:`).
    pub repeat: u32,
    pub pass: PassRule,
    pub file: PathBuf,
    /// The case file's text, for locating template errors.
    pub source: String,
}

impl Case {
    /// Whether the request asks for a stream.
    pub fn streams(&self) -> bool {
        matches!(&self.body, BodyTemplate::Json(b) if b.get("stream") == Some(&Value::Bool(true)))
    }

    /// The location of the first line containing `needle`, for errors about templates.
    pub fn locate(&self, needle: &str) -> Location {
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
    /// Deviations from the spec fail this target's cases (as `--strict` does for a run).
    pub strict: bool,
    pub server: Option<String>,
    pub version_header: Option<String>,
    /// The families this target serves; `None`: all of them.
    pub families: Option<Vec<&'static Family>>,
    /// What the target is declared to offer (true) or not to offer (false); a capability left
    /// out is not declared either way.
    pub capabilities: BTreeMap<String, bool>,
    /// Capabilities whose absence fails a case here (an `unsupported` becomes a failure).
    pub required: Vec<String>,
    pub file: PathBuf,
    /// A live run's endpoint flags (`--base-url`, `--api-key-env`, `--model`) with their values,
    /// so a hint can repeat them; empty otherwise. A key's variable, never its value.
    pub endpoint_flags: Vec<(&'static str, String)>,
}

impl Target {
    /// Whether the target declares a capability offered (`Some(true)`), not offered
    /// (`Some(false)`), or neither.
    pub fn offers(&self, capability: &str) -> Option<bool> {
        self.capabilities.get(capability).copied()
    }

    /// Whether the target serves a family.
    pub fn serves(&self, family: &Family) -> bool {
        self.families
            .as_ref()
            .is_none_or(|fs| fs.iter().any(|f| f.name == family.name))
    }
}

/// Expectations of one case on one target, with the target's overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// Empty: any status (the case expects a class).
    pub status: Vec<u16>,
    pub class: Class,
    pub schema: Option<String>,
    pub error_code: Option<Vec<String>>,
    pub finish_reason: Option<Vec<String>>,
    pub stream: Option<StreamExpect>,
    pub limits: Limits,
    /// Assertions on the answer: `present` and `absent` first (as `exists`), then `assert`.
    pub assert: Vec<Assertion>,
    pub invariants: Vec<Invariant>,
}

impl Expect {
    /// Whether a stream's answer must be reassembled with its text (assertions or a schema read
    /// it); without, a stream keeps only counts.
    pub fn reads_answer(&self) -> bool {
        !self.assert.is_empty() || !self.invariants.is_empty() || self.schema.is_some()
    }
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
    /// Which step of the case this plan is (`None`: the case's own request).
    pub step: Option<String>,
    /// The request's method, path and headers, where they are not the family's and the case's
    /// (a step's).
    pub method: Option<String>,
    pub path: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    /// Values to take from the answer (a pointer each) for later steps.
    pub capture: BTreeMap<String, String>,
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

/// A target's own sanitizing rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraRule {
    /// Replace matches of this regular expression in every text.
    #[serde(default)]
    pub regex: Option<String>,
    /// Replace the value at this JSON pointer in bodies and frames.
    #[serde(default)]
    pub pointer: Option<String>,
    pub placeholder: String,
}

/// The token sent by `auth: invalid` cases. It is deliberately not a secret.
pub const INVALID_TOKEN: &str = "llm-contract-invalid-token";
