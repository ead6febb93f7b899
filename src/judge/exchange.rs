//! Judging one exchange: the checks on a response's status, body or stream, the observation
//! the classification table reads, and what a client's parser would have made of it.

use crate::contract::schema::SchemaRegistry;
use crate::exchange::transport::{self, Received, ReceivedBody, TransportError};
use crate::judge::body as check;
use crate::judge::classify::{self, Classification};
use crate::judge::stream::StreamCheck;
use crate::model::class::Class;
use crate::model::family::Family;
use crate::model::observation::{ApiError, BodyKind, Observation, Soft};
use crate::model::outcome::{ms, CaseOutcome, Drift, ParserOutcome, Usage, Verdict};
use crate::model::plan::{Plan, PlanBody, StreamExpect};

/// Runs the checks on a response.
pub fn judge(
    schemas: &SchemaRegistry,
    plan: &Plan,
    out: &mut CaseOutcome,
    r: &Received,
    sink: &mut StreamCheck<'_>,
) -> Classification {
    let family = plan.case.family;
    out.status = Some(r.status);
    out.ttfb_ms = Some(ms(r.ttfb));
    out.latency_ms = ms(r.total);
    let mut failures = Vec::new();
    let expect = &plan.expect;
    if !expect.status.is_empty() && !expect.status.contains(&r.status) {
        failures.push(format!(
            "status: expected {}, got {}",
            statuses(&expect.status),
            r.status
        ));
    }
    let mut obs = Observation {
        status: Some(r.status),
        ..Observation::default()
    };
    let success = (200..300).contains(&r.status);
    let content_type = r.content_type();
    let tools_offered = matches!(&plan.body, PlanBody::Json { tools: true, .. });
    match &r.body {
        ReceivedBody::Stream(read) => {
            obs.body = Some(BodyKind::Stream);
            let stream_expect = expect.stream.clone().unwrap_or(StreamExpect {
                done: true,
                usage_chunk: false,
                chunk_schema: None,
                idle_ms: None,
                incremental: false,
            });
            if expect.stream.is_none() && success {
                failures.push("body: expected a JSON body, got a text/event-stream".into());
            }
            let end = sink.finish(read, &stream_expect, expect);
            failures.append(&mut sink.failures);
            out.frames = Some(sink.frames);
            out.first_token_ms = sink.first_content.map(ms);
            out.max_gap_ms = Some(ms(sink.max_gap));
            if let Some((_, err)) = &sink.error_frame {
                obs.error = Some(err.clone());
            }
            obs.stream = Some(end);
            let signals = sink.signals();
            out.finish_reason = signals.finish.first().and_then(|(_, r)| r.clone());
            out.usage = signals.usage.as_ref().and_then(Usage::from_value);
            if end == crate::model::observation::StreamEnd::Complete {
                obs.soft = soft(
                    family,
                    out.finish_reason.as_deref(),
                    signals.content_chars > 0,
                    signals.tool_calls,
                    tools_offered,
                    false,
                );
            }
        }
        ReceivedBody::Bytes(bytes) => {
            if expect.stream.is_some() && success {
                failures.push(format!(
                    "stream: expected content-type text/event-stream, got {}",
                    content_type.unwrap_or("none")
                ));
            }
            let (kind, json) = check::body_kind(content_type, bytes);
            obs.body = Some(kind);
            // The case's schema describes the answer it expects; an answer of the other kind
            // (a 200 where an error was due, or the reverse) is checked as what it is.
            let expected_kind = (expect.class == Class::Ok) == success
                && (expect.status.is_empty() || expect.status.contains(&r.status));
            let schema = match &expect.schema {
                Some(named) if expected_kind => named.clone(),
                _ if success => family.response_schema.to_string(),
                _ => family
                    .error_schema
                    .unwrap_or(plan.target.dialect.error_schema())
                    .to_string(),
            };
            match &json {
                Some(doc) => {
                    out.usage = doc.get("usage").and_then(Usage::from_value);
                    obs.error = ApiError::from_body(doc);
                    if !success && obs.error.is_none() {
                        // An error body of no known dialect is kept as it came (sanitized).
                        out.error_body = Some(check::excerpt(bytes));
                    }
                    let ok = check::schema_failures(schemas, &schema, doc, &mut failures);
                    obs.schema_ok = Some(ok);
                    if success {
                        let answer = crate::judge::family::answer(family, doc);
                        out.finish_reason = answer.finish.first().and_then(|(_, r)| r.clone());
                        check::finish_reason_failures(&answer.finish, expect, &mut failures);
                        if family.poll.is_none() {
                            check::pointer_failures(doc, expect, &mut failures);
                        }
                        out.notes.extend(answer.notes);
                        if let Some(e) = answer.failure {
                            failures.push(format!(
                                "body: a 200 whose answer says it failed: {} — {}",
                                e.describe(),
                                e.message.as_deref().unwrap_or("(no message)")
                            ));
                            obs.error = Some(e);
                            obs.failed_answer = true;
                        } else if ok {
                            obs.soft = soft(
                                family,
                                out.finish_reason.as_deref(),
                                answer.has_content,
                                answer.has_tool_calls,
                                tools_offered,
                                answer.filtered,
                            );
                        }
                    }
                }
                None => failures.push(format!(
                    "body: expected JSON (schema {schema}), got {} ({}): {}",
                    describe_kind(kind),
                    content_type.unwrap_or("no content-type"),
                    check::excerpt(bytes)
                )),
            }
            if let Some(location) = r.header("location") {
                failures.push(format!("redirect: {} to {location}", r.status));
            }
        }
        ReceivedBody::TooLarge { limit, prefix } => {
            obs.body = Some(BodyKind::TooLarge);
            failures.push(format!(
                "body: larger than the {limit}-byte limit; it starts: {}",
                check::excerpt(prefix)
            ));
        }
        ReceivedBody::Failed {
            kind,
            message,
            prefix,
        } => {
            obs.transport = Some(*kind);
            // The body never arrived whole: nothing about it can be judged.
            out.verdict = Verdict::Error;
            failures.push(format!(
                "body: the connection failed after the {} head: {message}; received: {}",
                r.status,
                check::excerpt(prefix)
            ));
        }
    }
    if let Some(soft) = obs.soft {
        failures.push(format!("soft failure: {}", soft.describe()));
    }
    check::error_code_failures(obs.error.as_ref(), expect, &mut failures);
    obs.too_slow = limits(plan, out, &mut failures);
    out.failures = failures;
    out.error = obs.error.clone();
    out.parser_outcome = Some(parser_outcome(&obs, &r.body, sink));
    let c = classify::classify(&obs);
    out.class = c.class;
    out.reason = c.reason.clone();
    c
}

/// Checks the case's timing limits; true when one was exceeded.
fn limits(plan: &Plan, out: &CaseOutcome, failures: &mut Vec<String>) -> bool {
    let l = plan.expect.limits;
    let checks = [
        ("time to first byte", l.max_ttfb_ms, out.ttfb_ms),
        (
            "time to first token",
            l.max_first_token_ms,
            out.first_token_ms,
        ),
        ("largest gap between frames", l.max_gap_ms, out.max_gap_ms),
        ("total time", l.max_total_ms, Some(out.latency_ms)),
    ];
    let mut slow = false;
    for (name, limit, got) in checks {
        if let (Some(limit), Some(got)) = (limit, got) {
            if got > limit as f64 {
                slow = true;
                failures.push(format!(
                    "timing: {name} {got:.1} ms is over the limit of {limit} ms"
                ));
            }
        }
    }
    slow
}

pub fn transport_failure(out: &mut CaseOutcome, e: TransportError) -> Classification {
    let obs = Observation {
        transport: Some(e.kind),
        ..Observation::default()
    };
    let c = classify::classify(&obs);
    out.verdict = Verdict::Error;
    out.class = c.class;
    out.reason = c.reason.clone();
    out.latency_ms = ms(e.after);
    out.parser_outcome = Some(
        if e.kind == crate::model::observation::TransportFailure::Timeout {
            ParserOutcome::Timeout
        } else {
            ParserOutcome::Transport
        },
    );
    let name = e.deadline.map_or("transport".to_string(), |d| {
        format!("deadline ({})", d.name())
    });
    out.failures.push(format!("{name}: {}", e.message));
    out.drift = Drift::NotRun {
        reason: "no response".into(),
    };
    c
}

/// The soft-failure signal of a finished answer, its end reason read in chat-completions words.
fn soft(
    family: &Family,
    finish_reason: Option<&str>,
    has_content: bool,
    has_tool_calls: bool,
    tools_offered: bool,
    filtered: bool,
) -> Option<Soft> {
    if filtered {
        return Some(Soft::Filtered);
    }
    let reason = finish_reason.and_then(|r| crate::judge::family::soft_reason(family, r));
    Soft::detect(reason, has_content, has_tool_calls, tools_offered)
}

fn describe_kind(kind: BodyKind) -> &'static str {
    match kind {
        BodyKind::Html => "an HTML page",
        BodyKind::Empty => "an empty body",
        BodyKind::OtherText => "text that is not JSON",
        BodyKind::TooLarge => "an oversized body",
        BodyKind::Json => "JSON",
        BodyKind::Stream => "a stream",
    }
}

fn statuses(s: &[u16]) -> String {
    match s {
        [one] => one.to_string(),
        many => format!(
            "one of {}",
            many.iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What a client's parser made of a judged response, from what the checks observed.
/// A stream whose frames all parsed and matched their schema parses as a success even when its
/// framing broke the contract (a second `[DONE]`, frames after it): the verdict says that.
fn parser_outcome(obs: &Observation, body: &ReceivedBody, sink: &StreamCheck<'_>) -> ParserOutcome {
    use crate::model::observation::StreamEnd;
    if let Some(t) = obs.transport {
        return if t == crate::model::observation::TransportFailure::Timeout {
            ParserOutcome::Timeout
        } else {
            ParserOutcome::Transport
        };
    }
    match obs.stream {
        Some(StreamEnd::ErrorFrame) => return ParserOutcome::ErrorFrame,
        Some(StreamEnd::Stalled) => return ParserOutcome::Timeout,
        Some(StreamEnd::Cut) => {
            let deadline = matches!(body, ReceivedBody::Stream(r) if matches!(r.stop, transport::StreamStop::Deadline(..)));
            return if deadline {
                ParserOutcome::Timeout
            } else {
                ParserOutcome::StreamCut
            };
        }
        Some(StreamEnd::Malformed) if sink.invalid_json => return ParserOutcome::InvalidJson,
        Some(StreamEnd::Malformed) if sink.schema_failed => return ParserOutcome::MissingField,
        Some(StreamEnd::Malformed | StreamEnd::Complete) | None => {}
    }
    if matches!(
        obs.body,
        Some(BodyKind::Html | BodyKind::OtherText | BodyKind::Empty | BodyKind::TooLarge)
    ) {
        return ParserOutcome::InvalidJson;
    }
    if obs.schema_ok == Some(false) {
        return ParserOutcome::MissingField;
    }
    if obs.soft == Some(Soft::Empty) {
        return ParserOutcome::EmptyContent;
    }
    ParserOutcome::Success
}

/// Sets the verdict and the outcome's class from the failures.
///
/// The class is what the endpoint's answer asks of an operator, whether or not the case expected
/// it: a `missing_auth` case passes with `refresh_credentials`, and a 500 carrying
/// `invalid_request` is `fix_request` even where the contract said 400 (the status failure says
/// so). A failing case whose answer was otherwise `ok` (a 200 where a 401 was due, a drifted
/// body) is `contract_drift`.
pub fn finalize(out: &mut CaseOutcome) {
    if out.verdict != Verdict::Pass || out.failures.is_empty() {
        return;
    }
    out.verdict = Verdict::Fail;
    if out.class == Class::Ok {
        out.class = Class::ContractDrift;
        out.reason = if out.expected_class == Class::Ok {
            format!(
                "the answer succeeded but broke the contract: {}",
                out.reason
            )
        } else {
            format!(
                "a successful answer where {} was due: {}",
                out.expected_class, out.reason
            )
        };
    }
}
