//! Operator classes: what an engineer must do about an outcome, decided by one ordered table.
//!
//! Each row of [`RULES`] names the reference it encodes (the seed documents the project was
//! built from, summarised in the README's "Operator classes" section). The first matching row
//! wins. Rows match on the HTTP status, the error envelope's `code`/`type`/`message`, the kind of
//! body (JSON, HTML, other text), the transport failure, the schema verdict and the stream's end.

use crate::model::class::Class;
use crate::model::observation::{
    BodyKind, Observation, Soft, StreamEnd, TaskEnd, TransportFailure,
};

/// The table's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub class: Class,
    /// Why, in words an operator reads: the deciding status, code, body kind or frame.
    pub reason: String,
    /// The rule that decided, for tracing back to the table.
    pub rule: &'static str,
}

type Matcher = fn(&Observation) -> bool;

/// One row of the classification table.
pub struct Rule {
    pub id: &'static str,
    /// The reference the row encodes.
    // The row's citation, for people and the tests: nothing decides on it.
    #[allow(dead_code)]
    pub source: &'static str,
    pub matches: Matcher,
    pub class: Class,
}

/// An error inside a 200: a stream's error frame, or a success envelope that says it failed.
fn in_band(o: &Observation) -> bool {
    o.stream == Some(StreamEnd::ErrorFrame) || o.failed_answer
}

fn status(o: &Observation) -> u16 {
    o.status.unwrap_or(0)
}
/// A success status: the `2xx` rows name only these; any other status no earlier row took
/// (999, 101) is left to the table's end, "outside every documented range".
fn two(o: &Observation) -> bool {
    (200..300).contains(&status(o))
}
fn code_is(o: &Observation, codes: &[&str]) -> bool {
    o.error.as_ref().is_some_and(|e| e.code_is(codes))
}
fn message_has(o: &Observation, needles: &[&str]) -> bool {
    o.error.as_ref().is_some_and(|e| e.message_has(needles))
}

/// The classification table. Order matters: the first matching row decides.
pub static RULES: &[Rule] = &[
    Rule {
        id: "transport.connect",
        source: "seed 004 §4 timeout/retry table: DNS/connect failure — retry once if the deadline allows",
        matches: |o| o.transport == Some(TransportFailure::Connect),
        class: Class::Retry,
    },
    Rule {
        id: "transport.timeout",
        source: "seed 004 §4: read timeout after no response body — maybe retry; seed 001: 504/524 timeout class",
        matches: |o| o.transport == Some(TransportFailure::Timeout),
        class: Class::Retry,
    },
    Rule {
        id: "transport.reset",
        source: "seed 004 §4/§5: network resets and mid-stream disconnects are transient, never a success",
        matches: |o| matches!(o.transport, Some(TransportFailure::Reset | TransportFailure::Other)),
        class: Class::Retry,
    },
    Rule {
        id: "redirect",
        source: "seed 001 quick triage: a path mistake shows up on Comet as a 301 redirect or HTML",
        matches: |o| (300..400).contains(&status(o)),
        class: Class::ConfigurationDrift,
    },
    Rule {
        id: "task.failed.retryable",
        source: "seed 002: server_error 500 and rate_limit 429 are retryable; a task that failed with one can be submitted again",
        matches: |o| {
            o.task == Some(TaskEnd::Failed)
                && code_is(o, &["server_error", "rate_limit", "rate_limit_exceeded", "overloaded_error"])
        },
        class: Class::Retry,
    },
    Rule {
        id: "task.failed",
        source: "seed 002 async video failures: failed is terminal — read error.message, fix the input, submit a new generation",
        matches: |o| o.task == Some(TaskEnd::Failed),
        class: Class::FixRequest,
    },
    Rule {
        id: "task.failed_no_detail",
        source: "seed 000 video failures: failed with no error detail — prompt filtered or model error, rephrase the prompt",
        matches: |o| o.task == Some(TaskEnd::FailedNoDetail),
        class: Class::FixRequest,
    },
    Rule {
        id: "task.cancelled",
        source: "seed 000 video polling: cancelled is terminal like failed, but nothing in the request caused it — submit again elsewhere",
        matches: |o| o.task == Some(TaskEnd::Cancelled),
        class: Class::FallBack,
    },
    Rule {
        id: "task.stuck",
        source: "seed 000 video failures: a task stuck in queued for minutes is server load — retry with a different model",
        matches: |o| o.task == Some(TaskEnd::Stuck),
        class: Class::FallBack,
    },
    Rule {
        id: "task.unknown_status",
        source: "seed 000: handle every documented status (succeeded, Kling's succeed); an unknown one is drift in the contract",
        matches: |o| o.task == Some(TaskEnd::UnknownStatus),
        class: Class::ContractDrift,
    },
    Rule {
        id: "stream.error_frame.rate_limit",
        source: "seed 003: late-stream errors use the same error model as HTTP errors; 429-like codes retry",
        matches: |o| {
            in_band(o)
                && code_is(o, &["rate_limit", "rate_limit_exceeded", "rate_limit_error", "overloaded_error"])
        },
        class: Class::Retry,
    },
    Rule {
        id: "stream.error_frame.content",
        source: "seed 003: mid-stream error payload such as inappropriate_content; seed 002: content_policy_violation — revise the input",
        matches: |o| {
            in_band(o)
                && code_is(o, &["inappropriate_content", "content_policy_violation", "invalid_request_error", "invalid_request"])
        },
        class: Class::FixRequest,
    },
    Rule {
        id: "stream.error_frame",
        source: "seed 003: a streamed 200 may still fail; an unrecognised late error is treated as an upstream failure",
        matches: in_band,
        class: Class::Retry,
    },
    Rule {
        id: "500.invalid_request",
        source: "seed 001 quick triage: 500 with error.code invalid_request is a malformed request — do not retry",
        matches: |o| status(o) == 500 && code_is(o, &["invalid_request"]),
        class: Class::FixRequest,
    },
    Rule {
        id: "model_not_found",
        source: "CometAPI live run: unknown model → 503 code model_not_found; OpenAI: 404 model_not_found; LiteLLM proxy: 400 'Invalid model name'; seed 004 §3: unknown model is configuration drift",
        matches: |o| {
            code_is(o, &["model_not_found"])
                || (matches!(status(o), 400 | 404 | 503)
                    && message_has(o, &["no available channel", "model not found", "does not exist"]))
                // LiteLLM's proxy: "Invalid model name passed in model=<id>"; with model=None the
                // model is missing, which is a request to fix, not configuration drift.
                || (status(o) == 400
                    && message_has(o, &["invalid model name"])
                    && !message_has(o, &["model=none"]))
        },
        class: Class::ConfigurationDrift,
    },
    Rule {
        id: "401",
        source: "seed 001: 401 key missing, malformed or invalid — do not retry; seed 004 §4: credential issue, page owner",
        matches: |o| status(o) == 401,
        class: Class::RefreshCredentials,
    },
    Rule {
        id: "403",
        source: "seed 004 §4: HTTP 401/403 — credential or permission issue, no retry, page owner; seed 001: 403 usually no retry",
        matches: |o| status(o) == 403,
        class: Class::RefreshCredentials,
    },
    Rule {
        id: "402",
        source: "seed 002: quota_exceeded 402 — insufficient balance or quota, not retryable",
        matches: |o| status(o) == 402,
        class: Class::Quota,
    },
    Rule {
        id: "429.quota",
        source: "seed 002/003: exhausted credits or quota (insufficient_quota, quota_exceeded) need an account change, not a retry",
        matches: |o| {
            status(o) == 429
                && (code_is(o, &["insufficient_quota", "quota_exceeded", "billing_hard_limit_reached"])
                    || message_has(o, &["quota", "insufficient balance", "credits"]))
        },
        class: Class::Quota,
    },
    Rule {
        id: "429",
        source: "seed 001/000/003: 429 rate limited — retry with exponential backoff and jitter",
        matches: |o| status(o) == 429,
        class: Class::Retry,
    },
    Rule {
        id: "408",
        source: "seed 004 §4: HTTP 408/429 — maybe retry, honour retry hints",
        matches: |o| status(o) == 408,
        class: Class::Retry,
    },
    Rule {
        id: "413",
        source: "seed 001: 413 request entity too large — reduce the request; seed 004 §3: oversized request is not retryable",
        matches: |o| status(o) == 413,
        class: Class::FixRequest,
    },
    Rule {
        id: "422",
        source: "seed 002: content_policy_violation 422 — revise the prompt, not retryable",
        matches: |o| status(o) == 422,
        class: Class::FixRequest,
    },
    Rule {
        id: "404",
        source: "seed 004 §4: HTTP 404 on the endpoint path — configuration or contract drift, no retry",
        matches: |o| status(o) == 404,
        class: Class::ConfigurationDrift,
    },
    Rule {
        id: "4xx",
        source: "seed 001/000: 400 request validation failed — fix the request, do not retry",
        matches: |o| (400..500).contains(&status(o)),
        class: Class::FixRequest,
    },
    Rule {
        id: "5xx",
        source: "seed 001: 500, 503, 504, 524 platform or timeout class — retry with backoff, keep the request id; seed 004 §4: 500/502/503/504",
        matches: |o| (500..600).contains(&status(o)),
        class: Class::Retry,
    },
    Rule {
        id: "2xx.html",
        source: "seed 001: a wrong base URL or path may answer with an HTML page instead of JSON",
        matches: |o| two(o) && o.body == Some(BodyKind::Html),
        class: Class::ConfigurationDrift,
    },
    Rule {
        id: "2xx.too_large",
        source: "harness limit: a body larger than the configured maximum cannot be judged",
        matches: |o| two(o) && o.body == Some(BodyKind::TooLarge),
        class: Class::ContractDrift,
    },
    Rule {
        id: "2xx.not_json",
        source: "seed 004 §4: invalid JSON response — store the fixture, alert if repeated",
        matches: |o| two(o) && matches!(o.body, Some(BodyKind::OtherText | BodyKind::Empty)),
        class: Class::ContractDrift,
    },
    Rule {
        id: "2xx.stream_cut",
        source: "seed 004 §5: a mid-stream disconnect must not produce an unmarked successful answer; seed 003: keep parsing until the terminal event",
        matches: |o| two(o) && o.stream == Some(StreamEnd::Cut),
        class: Class::Retry,
    },
    Rule {
        id: "2xx.stream_stalled",
        source: "seed 004 §4: read timeout after a partial body — treat as unknown completion, retry within the deadline; seed 004 §5: partial answers must not look complete",
        matches: |o| two(o) && o.stream == Some(StreamEnd::Stalled),
        class: Class::Retry,
    },
    Rule {
        id: "2xx.stream_malformed",
        source: "seed 003: parse frames structurally; a frame that breaks the chunk contract is drift",
        matches: |o| two(o) && o.stream == Some(StreamEnd::Malformed),
        class: Class::ContractDrift,
    },
    Rule {
        id: "2xx.schema",
        source: "seed 004 §4: schema missing a required parser field — contract drift",
        matches: |o| two(o) && o.schema_ok == Some(false),
        class: Class::ContractDrift,
    },
    Rule {
        id: "2xx.content_filter",
        source: "seed 000 finish_reason table: content_filter — blocked by safety policy, rephrase the prompt",
        matches: |o| two(o) && o.soft == Some(Soft::ContentFilter),
        class: Class::FixRequest,
    },
    Rule {
        id: "2xx.length",
        source: "seed 000 finish_reason table: length — hit the token limit, raise max_tokens or shorten the prompt",
        matches: |o| two(o) && o.soft == Some(Soft::Length),
        class: Class::FixRequest,
    },
    Rule {
        id: "2xx.tool_calls_unexpected",
        source: "seed 000: tool_calls means content is null by design — a failure only when the request offered no tools",
        matches: |o| two(o) && o.soft == Some(Soft::UnexpectedToolCalls),
        class: Class::ContractDrift,
    },
    Rule {
        id: "2xx.filtered",
        source: "seed 000 image failures: an empty data array means the prompt was filtered — check revised_prompt and rephrase",
        matches: |o| two(o) && o.soft == Some(Soft::Filtered),
        class: Class::FixRequest,
    },
    Rule {
        id: "2xx.empty",
        source: "seed 000 FAQ: finish_reason stop with empty content is a silent failure — log the response and check the prompt",
        matches: |o| two(o) && o.soft == Some(Soft::Empty),
        class: Class::FixRequest,
    },
    Rule {
        id: "2xx.too_slow",
        source: "seed 004 §4: fall back only within the user's deadline; a latency limit missed is a reason to route elsewhere",
        matches: |o| o.too_slow && two(o),
        class: Class::FallBack,
    },
    Rule {
        id: "2xx",
        source: "seed 004 §2: successful status, valid JSON, parseable choices",
        matches: two,
        class: Class::Ok,
    },
];

/// Classifies an observation with the table.
pub fn classify(o: &Observation) -> Classification {
    for rule in RULES {
        if (rule.matches)(o) {
            return Classification {
                class: rule.class,
                reason: reason(rule, o),
                rule: rule.id,
            };
        }
    }
    Classification {
        class: Class::ContractDrift,
        reason: format!(
            "status {} is outside every documented range",
            o.status.map_or("none".to_string(), |s| s.to_string())
        ),
        rule: "unmatched",
    }
}

fn reason(rule: &Rule, o: &Observation) -> String {
    let mut parts = Vec::new();
    if let Some(t) = o.transport {
        parts.push(
            match t {
                TransportFailure::Connect => "connection failed",
                TransportFailure::Timeout => "deadline passed",
                TransportFailure::Reset => "connection reset or closed mid-response",
                TransportFailure::Other => "transport error",
            }
            .to_string(),
        );
    }
    if let Some(s) = o.status {
        parts.push(format!("HTTP {s}"));
    }
    match o.stream {
        Some(StreamEnd::ErrorFrame) => parts.push("error frame in the stream".into()),
        Some(StreamEnd::Cut) => parts.push("stream ended without its terminal event".into()),
        Some(StreamEnd::Malformed) => parts.push("malformed stream frame".into()),
        Some(StreamEnd::Stalled) => parts.push("stream stalled past its idle limit".into()),
        _ => {}
    }
    if o.failed_answer {
        parts.push("the answer says it failed".into());
    }
    match o.task {
        Some(TaskEnd::Failed) => parts.push("the task failed".into()),
        Some(TaskEnd::FailedNoDetail) => parts.push("the task failed with no error detail".into()),
        Some(TaskEnd::Cancelled) => parts.push("the task was cancelled".into()),
        Some(TaskEnd::Stuck) => {
            parts.push("the task was still pending at the poll deadline".into())
        }
        Some(TaskEnd::UnknownStatus) => parts.push("the task reported an unknown status".into()),
        Some(TaskEnd::Done) | None => {}
    }
    if let Some(soft) = o.soft {
        parts.push(soft.describe().into());
    }
    if let Some(e) = &o.error {
        parts.push(e.describe());
    }
    match o.body {
        Some(BodyKind::Html) => parts.push("HTML body".into()),
        Some(BodyKind::OtherText) => parts.push("body is not JSON".into()),
        Some(BodyKind::Empty) if o.error.is_none() => parts.push("empty body".into()),
        Some(BodyKind::TooLarge) => parts.push("body over the size limit".into()),
        _ => {}
    }
    if o.schema_ok == Some(false) {
        parts.push("body breaks its schema".into());
    }
    if o.too_slow {
        parts.push("over a timing limit".into());
    }
    format!("{} (rule {})", parts.join(", "), rule.id)
}

/// One row per row of the reference tables the classifier encodes, with the class and
/// retryability each prescribes.
#[cfg(test)]
mod seed_tables;

#[cfg(test)]
mod tests;
