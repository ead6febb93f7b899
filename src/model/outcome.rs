//! What one case produced: the data every report renders.

use serde::Serialize;

use crate::model::observation::ApiError;

use crate::model::class::Class;
use crate::model::deviation::Deviation;
use crate::model::failure::Failure;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// The endpoint broke the contract.
    Fail,
    /// Nothing could be judged: no response, or the harness itself could not run the case.
    Error,
    Skip,
    /// The gateway cleanly refused a feature the case requires and the target was not declared
    /// to offer: not broken, not offered. It fails the run only where the capability is required.
    Unsupported,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::Skip => "skip",
            Verdict::Unsupported => "unsupported",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Live,
    Recorded,
}

/// The drift check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Drift {
    /// The canonical response equals the pinned fixture's.
    Match,
    /// It differs: each change labelled, and whether the drift policy fails it. When one fails,
    /// the labels and the diff are among the failures.
    Changed {
        labels: Vec<crate::model::drift::Label>,
    },
    /// Not compared, and why (no baseline yet, and the command that would pin one).
    NotRun { reason: String },
}

/// The outcome of one case on one target.
#[derive(Debug, Clone, Serialize)]
pub struct CaseOutcome {
    /// `<target>::<case>`
    pub id: String,
    pub target: String,
    pub case: String,
    pub verdict: Verdict,
    /// The operator class of what happened.
    pub class: Class,
    /// Why that class: the deciding status, code, body or frame.
    pub reason: String,
    pub status: Option<u16>,
    pub latency_ms: f64,
    pub ttfb_ms: Option<f64>,
    pub failures: Vec<Failure>,
    /// Named deviations from the spec that clients survive: listed, not failed (unless strict).
    pub deviations: Vec<Deviation>,
    pub expected_status: Vec<u16>,
    pub expected_class: Class,
    pub mode: Mode,
    /// The endpoint path below the base URL.
    pub endpoint: String,
    pub model: Option<String>,
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<usize>,
    pub drift: Drift,
    /// The error envelope the endpoint sent (HTTP body or stream error frame), sanitized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// An error body of no known dialect, as it came (sanitized, shortened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_body: Option<String>,
    /// Time to the first non-empty content delta of a stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_token_ms: Option<f64>,
    /// Largest gap between two stream frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_gap_ms: Option<f64>,
    /// Retries made (attempts − 1).
    pub retries: u32,
    /// The status of each attempt, in order (null where none came).
    pub attempt_statuses: Vec<Option<u16>>,
    /// Every attempt's own result, in order, the last one included (as Hurl keeps each entry
    /// result of its retries): what a retried case saw before its final answer.
    #[serde(skip)]
    pub attempts: Vec<AttemptResult>,
    /// The waits before each retry, unscaled.
    pub retry_waits_ms: Vec<f64>,
    /// The whole case, retries and waits included.
    pub case_ms: f64,
    /// Things worth knowing that fail nothing (an old fixture, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The `X-Client-Request-Id` header this case's requests carried (`llmc-<run-id>-<n>`, the
    /// same on every attempt); `None` when nothing was sent.
    pub client_request_id: Option<String>,
    /// Token counts, when the response body or the stream's usage chunk carried them.
    pub usage: Option<Usage>,
    /// What a client's parser made of the response; `None` when nothing was sent or judged.
    pub parser_outcome: Option<ParserOutcome>,
    /// How a polled task went (video tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskOutcome>,
    /// A repeated case's runs, in order (`repeat:`); the case's own fields are those of the run
    /// that decided it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repeats: Vec<RepeatRun>,
    /// A case with steps: its own request and each step after it, in order, as far as they
    /// ran; the case's own fields are those of the step that decided it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<RepeatRun>,
    /// Values captured from the answer for later steps (never reported).
    #[serde(skip)]
    pub captured: std::collections::BTreeMap<String, serde_json::Value>,
    /// A live answer had no recorded baseline to be compared with: `record` would pin one (the
    /// run ends with the command).
    #[serde(skip)]
    pub unpinned: bool,
}

/// One run of a repeated case, or one step of a case with steps, as decided on its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepeatRun {
    /// The step's name (`request` for the case's own request); none for a repeat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub verdict: Verdict,
    pub class: Class,
    pub reason: String,
    pub status: Option<u16>,
    pub retries: u32,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
}

impl RepeatRun {
    pub fn of(o: &CaseOutcome) -> RepeatRun {
        RepeatRun {
            step: None,
            verdict: o.verdict,
            class: o.class,
            reason: o.reason.clone(),
            status: o.status,
            retries: o.retries,
            latency_ms: o.latency_ms,
            failures: o.failures.clone(),
        }
    }
}

/// One attempt of a case, as judged before the retry decision.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    /// `None` where no response came.
    pub status: Option<u16>,
    /// The classification table's class for the attempt (the case's class is decided once, from
    /// the last attempt).
    pub class: Class,
    /// The table's row that classified it.
    pub rule: &'static str,
    pub latency_ms: f64,
    pub failures: Vec<Failure>,
}

/// What the polls of an asynchronous task showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskOutcome {
    pub id: Option<String>,
    pub polls: u32,
    /// Each poll's status in order, repeats collapsed: `queued ×3 → in_progress → succeeded`.
    pub statuses: String,
    pub last_status: Option<String>,
    /// The last progress reported, in percent.
    pub progress: Option<f64>,
    /// How the task ended; `None` when the polls stopped on an HTTP or transport failure.
    pub end: Option<crate::model::observation::TaskEnd>,
    /// Time counted toward the poll deadline (requests and the waits between them).
    pub counted_ms: f64,
}

/// Token usage as the endpoint reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
}

impl Usage {
    /// Reads a `usage` object; `None` when it is not an object or carries none of the counts.
    pub fn from_value(v: &serde_json::Value) -> Option<Usage> {
        let count = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
        let u = Usage {
            prompt_tokens: count("prompt_tokens").or_else(|| count("input_tokens")),
            completion_tokens: count("completion_tokens").or_else(|| count("output_tokens")),
            total_tokens: count("total_tokens"),
        };
        (v.is_object() && u != Usage::default()).then_some(u)
    }
}

/// What a client parsing the response would have got, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParserOutcome {
    /// The body (or every frame) parsed and matched its schema, with content where some was due.
    Success,
    /// The body or a frame was not JSON (an HTML page, text, an empty or oversized body).
    InvalidJson,
    /// JSON that breaks its schema: a required field missing or of the wrong type.
    MissingField,
    /// A finished answer with no content and no tool calls.
    EmptyContent,
    /// A deadline passed: before the head, or a stream went silent or overran.
    Timeout,
    /// The connection failed (refused, reset) with no complete response.
    Transport,
    /// A stream ended without its terminal event.
    StreamCut,
    /// An in-band error frame arrived inside a 200 stream.
    ErrorFrame,
}

impl ParserOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ParserOutcome::Success => "success",
            ParserOutcome::InvalidJson => "invalid_json",
            ParserOutcome::MissingField => "missing_field",
            ParserOutcome::EmptyContent => "empty_content",
            ParserOutcome::Timeout => "timeout",
            ParserOutcome::Transport => "transport",
            ParserOutcome::StreamCut => "stream_cut",
            ParserOutcome::ErrorFrame => "error_frame",
        }
    }
}

impl CaseOutcome {
    /// An outcome not yet run: a pass with class `ok`, nothing sent, nothing compared. The
    /// runner fills it in; tests build theirs from it.
    pub fn new(id: &str, target: &str, case: &str, mode: Mode) -> CaseOutcome {
        CaseOutcome {
            id: id.to_string(),
            target: target.to_string(),
            case: case.to_string(),
            verdict: Verdict::Pass,
            class: Class::Ok,
            reason: String::new(),
            status: None,
            latency_ms: 0.0,
            ttfb_ms: None,
            failures: Vec::new(),
            deviations: Vec::new(),
            expected_status: Vec::new(),
            expected_class: Class::Ok,
            mode,
            endpoint: String::new(),
            model: None,
            stream: false,
            finish_reason: None,
            frames: None,
            drift: Drift::NotRun {
                reason: "not compared".into(),
            },
            error: None,
            error_body: None,
            first_token_ms: None,
            max_gap_ms: None,
            retries: 0,
            attempt_statuses: Vec::new(),
            attempts: Vec::new(),
            retry_waits_ms: Vec::new(),
            case_ms: 0.0,
            notes: Vec::new(),
            client_request_id: None,
            usage: None,
            parser_outcome: None,
            task: None,
            repeats: Vec::new(),
            steps: Vec::new(),
            captured: Default::default(),
            unpinned: false,
        }
    }

    /// Calls `fix` on every text the outcome carries that came from outside (reasons, failures,
    /// notes, drift labels, the error envelope, the task's statuses): what a sanitizer must see
    /// before an outcome is printed or stored.
    pub fn texts_mut(&mut self, fix: &mut dyn FnMut(&mut String)) {
        fix(&mut self.reason);
        for f in &mut self.failures {
            f.texts_mut(fix);
        }
        for n in &mut self.notes {
            fix(n);
        }
        for d in &mut self.deviations {
            fix(&mut d.pointer);
        }
        match &mut self.drift {
            Drift::NotRun { reason } => fix(reason),
            Drift::Changed { labels } => {
                for l in labels {
                    fix(&mut l.path);
                    for v in [&mut l.from, &mut l.to].into_iter().flatten() {
                        fix(v);
                    }
                }
            }
            Drift::Match => {}
        }
        for field in [&mut self.model, &mut self.finish_reason]
            .into_iter()
            .flatten()
        {
            fix(field);
        }
        if let Some(t) = &mut self.task {
            fix(&mut t.statuses);
            for field in [&mut t.id, &mut t.last_status].into_iter().flatten() {
                fix(field);
            }
        }
        if let Some(b) = &mut self.error_body {
            fix(b);
        }
        for r in self.repeats.iter_mut().chain(self.steps.iter_mut()) {
            fix(&mut r.reason);
            for f in &mut r.failures {
                f.texts_mut(fix);
            }
        }
        if let Some(e) = &mut self.error {
            e.texts_mut(fix);
        }
    }
}

/// A duration in milliseconds, to the microsecond: how every outcome reports its times.
pub fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
