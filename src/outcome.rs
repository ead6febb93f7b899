//! What one case produced: the data every report renders.

use serde::Serialize;

use crate::classify::{ApiError, Class};
use crate::sanitize::Sanitizer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// The endpoint broke the contract.
    Fail,
    /// Nothing could be judged: no response, or the harness itself could not run the case.
    Error,
    Skip,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::Skip => "skip",
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
    Changed { labels: Vec<crate::drift::Label> },
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
    pub failures: Vec<String>,
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
    /// The waits before each retry, unscaled.
    pub retry_waits_ms: Vec<f64>,
    /// The whole case, retries and waits included.
    pub case_ms: f64,
    /// Things worth knowing that fail nothing (an old fixture, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl CaseOutcome {
    /// Runs every text field through the sanitizer. The runner calls this before an outcome
    /// leaves it, so nothing downstream can print or persist a secret.
    pub fn sanitize(mut self, s: &Sanitizer) -> Self {
        self.reason = s.text(&self.reason);
        for f in self.failures.iter_mut().chain(self.notes.iter_mut()) {
            *f = s.text(f);
        }
        match &mut self.drift {
            Drift::NotRun { reason } => *reason = s.text(reason),
            Drift::Changed { labels } => {
                for l in labels {
                    l.path = s.text(&l.path);
                    for v in [&mut l.from, &mut l.to].into_iter().flatten() {
                        *v = s.text(v);
                    }
                }
            }
            Drift::Match => {}
        }
        for field in [&mut self.model, &mut self.finish_reason]
            .into_iter()
            .flatten()
        {
            *field = s.text(field);
        }
        if let Some(b) = &mut self.error_body {
            *b = s.text(b);
        }
        if let Some(e) = &mut self.error {
            for field in [
                &mut e.r#type,
                &mut e.code,
                &mut e.message,
                &mut e.param,
                &mut e.doc_url,
            ]
            .into_iter()
            .flatten()
            {
                *field = s.text(field);
            }
        }
        self
    }
}
