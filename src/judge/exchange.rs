//! Judging one exchange: the checks on a response's status, body or stream, the observation
//! the classification table reads, and what a client's parser would have made of it.

use crate::contract::schema::SchemaRegistry;
use crate::exchange::transport::{self, Received, ReceivedBody, TransportError};
use crate::judge::body as check;
use crate::judge::classify::{self, Classification};
use crate::judge::stream::StreamCheck;
use crate::model::class::Class;
use crate::model::failure::{BodyFault, Failure};
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
        failures.push(Failure::Status {
            expected: expect.status.clone(),
            got: r.status,
        });
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
                failures.push(Failure::Body(BodyFault::StreamWhereJson));
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
                failures.push(Failure::Body(BodyFault::NotAStream {
                    content_type: content_type.map(str::to_string),
                }));
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
                            failures
                                .push(Failure::Body(BodyFault::FailedAnswer { error: e.clone() }));
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
                None => failures.push(Failure::Body(BodyFault::NotJson {
                    schema,
                    kind,
                    content_type: content_type.map(str::to_string),
                    excerpt: check::excerpt(bytes),
                })),
            }
            if let Some(location) = r.header("location") {
                failures.push(Failure::Redirect {
                    status: r.status,
                    location: location.to_string(),
                });
            }
        }
        ReceivedBody::TooLarge { limit, prefix } => {
            obs.body = Some(BodyKind::TooLarge);
            failures.push(Failure::Body(BodyFault::TooLarge {
                limit: *limit,
                excerpt: check::excerpt(prefix),
            }));
        }
        ReceivedBody::Failed {
            kind,
            message,
            prefix,
        } => {
            obs.transport = Some(*kind);
            // The body never arrived whole: nothing about it can be judged.
            out.verdict = Verdict::Error;
            failures.push(Failure::Body(BodyFault::CutAfterHead {
                status: r.status,
                message: message.clone(),
                excerpt: check::excerpt(prefix),
            }));
        }
    }
    if let Some(soft) = obs.soft {
        failures.push(Failure::Soft(soft));
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
fn limits(plan: &Plan, out: &CaseOutcome, failures: &mut Vec<Failure>) -> bool {
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
                failures.push(Failure::Timing {
                    what: name,
                    got_ms: got,
                    limit_ms: limit,
                });
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
    out.failures.push(Failure::Transport {
        deadline: e.deadline.map(|d| d.name()),
        message: e.message,
    });
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
