//! The seed documents' tables, row by row, against the classification table.

use super::*;
use crate::model::observation::ApiError;
use serde_json::json;
use serde_json::Value;

fn http(status: u16, body: Value) -> Observation {
    Observation {
        status: Some(status),
        body: Some(BodyKind::Json),
        error: ApiError::from_body(&body),
        ..Observation::default()
    }
}
fn err(status: u16, code: &str, message: &str) -> Observation {
    http(
        status,
        json!({"error": {"message": message, "type": "comet_api_error", "code": code}}),
    )
}
fn page(status: u16) -> Observation {
    Observation {
        status: Some(status),
        body: Some(BodyKind::Html),
        ..Observation::default()
    }
}
fn transport(t: TransportFailure) -> Observation {
    Observation {
        transport: Some(t),
        ..Observation::default()
    }
}
fn ok_with(f: impl FnOnce(&mut Observation)) -> Observation {
    let mut o = http(200, json!({"choices": []}));
    f(&mut o);
    o
}
fn stream(end: StreamEnd, error: Option<Value>) -> Observation {
    Observation {
        status: Some(200),
        body: Some(BodyKind::Stream),
        stream: Some(end),
        error: error.and_then(|e| ApiError::from_body(&e)),
        ..Observation::default()
    }
}

#[test]
fn every_seed_row_gets_its_class_and_retryability() {
    use Class::*;
    let rows: Vec<(&str, Observation, Class, bool)> = vec![
        // seed 001, CometAPI quick triage
        (
            "001 400 validation failed",
            err(400, "", "model name is required (request id: 1)"),
            FixRequest,
            false,
        ),
        (
            "001 401 key missing/invalid",
            err(401, "", "invalid token (request id: 1)"),
            RefreshCredentials,
            false,
        ),
        (
            "001 403 blocked / not allowed",
            err(403, "", "access denied"),
            RefreshCredentials,
            false,
        ),
        (
            "001 path mistake: 301",
            page(301),
            ConfigurationDrift,
            false,
        ),
        (
            "001 path mistake: HTML",
            page(200),
            ConfigurationDrift,
            false,
        ),
        (
            "001 413 too large",
            err(413, "", "request entity too large"),
            FixRequest,
            false,
        ),
        (
            "001 429 rate limited",
            err(429, "", "too many requests"),
            Retry,
            true,
        ),
        (
            "001 500 invalid_request",
            err(500, "invalid_request", "field messages is required"),
            FixRequest,
            false,
        ),
        (
            "001 500 platform",
            err(500, "", "internal error"),
            Retry,
            true,
        ),
        (
            "001 503 unavailable",
            err(503, "", "service unavailable"),
            Retry,
            true,
        ),
        (
            "001 504 timeout",
            err(504, "", "gateway timeout"),
            Retry,
            true,
        ),
        ("001 524 timeout", page(524), Retry, true),
        // seed 000, status and finish_reason tables
        (
            "000 400 bad request",
            err(400, "", "missing model"),
            FixRequest,
            false,
        ),
        (
            "000 401 unauthorized",
            err(401, "", "wrong key"),
            RefreshCredentials,
            false,
        ),
        (
            "000 429 rate limited",
            err(429, "", "slow down"),
            Retry,
            true,
        ),
        ("000 500 server error", err(500, "", "oops"), Retry, true),
        ("000 504 gateway timeout", err(504, "", "slow"), Retry, true),
        ("000 finish stop", ok_with(|_| {}), Ok, false),
        (
            "000 finish length",
            ok_with(|o| o.soft = Some(Soft::Length)),
            FixRequest,
            false,
        ),
        (
            "000 finish content_filter",
            ok_with(|o| o.soft = Some(Soft::ContentFilter)),
            FixRequest,
            false,
        ),
        (
            "000 tool_calls without tools",
            ok_with(|o| o.soft = Some(Soft::UnexpectedToolCalls)),
            ContractDrift,
            false,
        ),
        (
            "000 video task failed with no detail",
            ok_with(|o| o.task = Some(TaskEnd::FailedNoDetail)),
            FixRequest,
            false,
        ),
        (
            "000 video task cancelled",
            ok_with(|o| o.task = Some(TaskEnd::Cancelled)),
            FallBack,
            false,
        ),
        (
            "000 video task stuck in queued",
            ok_with(|o| o.task = Some(TaskEnd::Stuck)),
            FallBack,
            false,
        ),
        (
            "000 video task with an unknown status",
            ok_with(|o| o.task = Some(TaskEnd::UnknownStatus)),
            ContractDrift,
            false,
        ),
        (
            "002 video task failed: content_policy_violation",
            {
                let mut o = err(200, "content_policy_violation", "unsafe prompt");
                o.task = Some(TaskEnd::Failed);
                o
            },
            FixRequest,
            false,
        ),
        (
            "002 video task failed: server_error",
            {
                let mut o = err(200, "server_error", "unexpected");
                o.task = Some(TaskEnd::Failed);
                o
            },
            Retry,
            true,
        ),
        (
            "003 a 200 Responses body with status failed (server_error)",
            {
                let mut o = err(200, "server_error", "The model failed");
                o.failed_answer = true;
                o
            },
            Retry,
            true,
        ),
        (
            "000 image with empty data",
            ok_with(|o| o.soft = Some(Soft::Filtered)),
            FixRequest,
            false,
        ),
        (
            "000 stop with empty content",
            ok_with(|o| o.soft = Some(Soft::Empty)),
            FixRequest,
            false,
        ),
        // seed 002, error codes
        (
            "002 invalid_api_key 401",
            err(401, "invalid_api_key", "bad key"),
            RefreshCredentials,
            false,
        ),
        (
            "002 parameter_missing 400",
            err(400, "parameter_missing", "prompt is required"),
            FixRequest,
            false,
        ),
        (
            "002 invalid_parameter 400",
            err(400, "invalid_parameter", "size unsupported"),
            FixRequest,
            false,
        ),
        (
            "002 quota_exceeded 402",
            err(402, "quota_exceeded", "insufficient balance"),
            Quota,
            false,
        ),
        (
            "002 content_policy_violation 422",
            err(422, "content_policy_violation", "unsafe prompt"),
            FixRequest,
            false,
        ),
        (
            "002 rate_limit 429",
            err(429, "rate_limit", "too many"),
            Retry,
            true,
        ),
        (
            "002 not_found 404",
            err(404, "not_found", "no such generation"),
            ConfigurationDrift,
            false,
        ),
        (
            "002 server_error 500",
            err(500, "server_error", "unexpected"),
            Retry,
            true,
        ),
        // seed 003, gateway statuses and late-stream errors
        (
            "003 400 invalid request",
            err(400, "", "unsupported field"),
            FixRequest,
            false,
        ),
        (
            "003 401 missing key",
            err(401, "", "no key"),
            RefreshCredentials,
            false,
        ),
        (
            "003 402 insufficient credits",
            err(402, "", "top up"),
            Quota,
            false,
        ),
        (
            "003 403 blocked",
            err(403, "", "filtered"),
            RefreshCredentials,
            false,
        ),
        (
            "003 429 abuse protection",
            err(429, "", "slow down"),
            Retry,
            true,
        ),
        ("003 500 internal", err(500, "", "internal"), Retry, true),
        ("003 503 upstream", err(503, "", "upstream"), Retry, true),
        (
            "003 late stream error (inappropriate_content)",
            stream(
                StreamEnd::ErrorFrame,
                Some(
                    json!({"error": {"type": "inappropriate_content", "message": "Status 403"}}),
                ),
            ),
            FixRequest,
            false,
        ),
        (
            "003 late stream error (overloaded)",
            stream(
                StreamEnd::ErrorFrame,
                Some(
                    json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
                ),
            ),
            Retry,
            true,
        ),
        (
            "003 late stream error (unknown)",
            stream(StreamEnd::ErrorFrame, None),
            Retry,
            true,
        ),
        // seed 004 §3, malformed-request matrix
        (
            "004 missing auth header",
            err(401, "", "missing key"),
            RefreshCredentials,
            false,
        ),
        (
            "004 invalid token",
            err(401, "", "invalid token"),
            RefreshCredentials,
            false,
        ),
        (
            "004 missing model",
            err(400, "", "model name is required"),
            FixRequest,
            false,
        ),
        (
            "004 empty messages",
            err(400, "", "messages must not be empty"),
            FixRequest,
            false,
        ),
        (
            "004 invalid role",
            err(400, "", "invalid role"),
            FixRequest,
            false,
        ),
        (
            "004 oversized request",
            err(413, "", "too large"),
            FixRequest,
            false,
        ),
        (
            "004 unknown model (CometAPI 503)",
            err(
                503,
                "model_not_found",
                "no available channel for group default and model m",
            ),
            ConfigurationDrift,
            false,
        ),
        (
            "004 unknown model (OpenAI 404)",
            err(404, "model_not_found", "does not exist"),
            ConfigurationDrift,
            false,
        ),
        // seed 004 §4, timeout and retry classification
        (
            "004 DNS/connect failure",
            transport(TransportFailure::Connect),
            Retry,
            true,
        ),
        (
            "004 read timeout",
            transport(TransportFailure::Timeout),
            Retry,
            true,
        ),
        (
            "004 connection reset",
            transport(TransportFailure::Reset),
            Retry,
            true,
        ),
        ("004 HTTP 400", err(400, "", "bad"), FixRequest, false),
        (
            "004 HTTP 401",
            err(401, "", "bad key"),
            RefreshCredentials,
            false,
        ),
        (
            "004 HTTP 403",
            err(403, "", "forbidden"),
            RefreshCredentials,
            false,
        ),
        (
            "004 HTTP 404 on the path",
            err(404, "", "not found"),
            ConfigurationDrift,
            false,
        ),
        ("004 HTTP 408", err(408, "", "timeout"), Retry, true),
        ("004 HTTP 429", err(429, "", "rate"), Retry, true),
        ("004 HTTP 500", err(500, "", "x"), Retry, true),
        ("004 HTTP 502", page(502), Retry, true),
        ("004 HTTP 503", err(503, "", "x"), Retry, true),
        ("004 HTTP 504", err(504, "", "x"), Retry, true),
        (
            "004 invalid JSON response",
            Observation {
                status: Some(200),
                body: Some(BodyKind::OtherText),
                ..Observation::default()
            },
            ContractDrift,
            false,
        ),
        (
            "004 schema missing a parser field",
            ok_with(|o| o.schema_ok = Some(false)),
            ContractDrift,
            false,
        ),
        (
            "004 §5 mid-stream disconnect",
            stream(StreamEnd::Cut, None),
            Retry,
            true,
        ),
        (
            "004 §5 stalled stream",
            stream(StreamEnd::Stalled, None),
            Retry,
            true,
        ),
        (
            "004 §4 over the latency budget",
            ok_with(|o| o.too_slow = true),
            FallBack,
            false,
        ),
    ];
    let mut wrong = Vec::new();
    for (row, obs, class, retryable) in &rows {
        let c = classify(obs);
        if c.class != *class || c.class.retryable() != *retryable {
            wrong.push(format!(
                "{row}: expected {class} (retryable {retryable}), got {} by rule {}",
                c.class, c.rule
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Every rule of the table is reached by some row or by the other tests.
    assert!(rows.len() >= 60);
}
