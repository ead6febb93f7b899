//! Judging one exchange: the checks on a response's status, body or stream, the observation
//! the classification table reads, and what a client's parser would have made of it.

use crate::contract::schema::SchemaRegistry;
use crate::exchange::transport::{self, Received, ReceivedBody, TransportError};
use crate::judge::body as check;
use crate::judge::classify::{self, Classification};
use crate::judge::stream::StreamCheck;
use crate::model::class::Class;
use crate::model::deviation::Deviation;
use crate::model::failure::{BodyFault, Failure};
use crate::model::family::Family;
use crate::model::observation::{ApiError, BodyKind, Observation, Soft};
use crate::model::outcome::{ms, CaseOutcome, Drift, ParserOutcome, Usage};
use crate::model::plan::{Expect, Plan, PlanBody, StreamExpect};

/// What judging one response found: the facts an outcome reports, the failures, the observation
/// the classification table read and its answer.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub status: u16,
    pub ttfb_ms: f64,
    pub latency_ms: f64,
    pub frames: Option<usize>,
    pub first_token_ms: Option<f64>,
    pub max_gap_ms: Option<f64>,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub error: Option<ApiError>,
    pub error_body: Option<String>,
    pub notes: Vec<String>,
    pub failures: Vec<Failure>,
    /// Values taken from the answer for later steps (the plan's `capture`).
    pub captured: std::collections::BTreeMap<String, serde_json::Value>,
    /// Named deviations from the spec that clients survive (`judge::levels`).
    pub deviations: Vec<Deviation>,
    pub parser_outcome: ParserOutcome,
    /// The body never arrived whole: nothing about it could be judged.
    pub incomplete: bool,
    pub observation: Observation,
    pub classification: Classification,
}

impl Judgement {
    /// Writes the judgement's facts and failures into a case's outcome; returns the table's
    /// classification and whether the answer went unjudged (its body did not arrive whole). The
    /// verdict and the class are decided later, once, by [`crate::judge::verdict`].
    pub fn record_into(self, out: &mut CaseOutcome) -> (Classification, bool) {
        out.status = Some(self.status);
        out.ttfb_ms = Some(self.ttfb_ms);
        out.latency_ms = self.latency_ms;
        if self.frames.is_some() {
            out.frames = self.frames;
            out.first_token_ms = self.first_token_ms;
            out.max_gap_ms = self.max_gap_ms;
        }
        if self.finish_reason.is_some() {
            out.finish_reason = self.finish_reason;
        }
        if self.usage.is_some() {
            out.usage = self.usage;
        }
        if self.error_body.is_some() {
            out.error_body = self.error_body;
        }
        out.notes.extend(self.notes);
        out.failures = self.failures;
        out.captured = self.captured;
        out.deviations = self.deviations;
        out.error = self.error;
        out.parser_outcome = Some(self.parser_outcome);
        (self.classification, self.incomplete)
    }
}

/// Judges a response: a pure function of the plan, the response and the stream check that read
/// its frames as they arrived (for a body, a fresh one). Nothing is sent, printed or stored.
pub fn judge(
    schemas: &SchemaRegistry,
    plan: &Plan,
    r: &Received,
    sink: &mut StreamCheck<'_>,
) -> Judgement {
    let family = plan.case.family;
    let mut j = Judgement {
        status: r.status,
        ttfb_ms: ms(r.ttfb),
        latency_ms: ms(r.total),
        frames: None,
        first_token_ms: None,
        max_gap_ms: None,
        finish_reason: None,
        usage: None,
        error: None,
        error_body: None,
        notes: Vec::new(),
        failures: Vec::new(),
        captured: Default::default(),
        deviations: Vec::new(),
        parser_outcome: ParserOutcome::Success,
        incomplete: false,
        observation: Observation::default(),
        classification: Classification {
            class: Class::Ok,
            reason: String::new(),
            rule: "",
        },
    };
    let out = &mut j;
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
            out.deviations.append(&mut sink.deviations);
            let expected_kind = expected_kind(expect, r.status, success);
            match (end, sink.answer()) {
                (crate::model::observation::StreamEnd::Complete, Some(doc)) if expected_kind => {
                    crate::judge::assert::on_answer(schemas, plan, doc, &mut failures);
                    out.captured = crate::judge::assert::capture(plan, doc, &mut failures);
                }
                _ => out.notes.extend(crate::judge::assert::unchecked(
                    plan,
                    "the stream did not add up to the answer the case expects",
                )),
            }
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
            let (schema, expected_kind) = answer_schema(plan, expect, r.status);
            match &json {
                Some(doc) => {
                    out.usage = doc.get("usage").and_then(Usage::from_value);
                    obs.error = ApiError::from_body(doc);
                    if !success && obs.error.is_none() {
                        // An error body of no known dialect is kept as it came (sanitized).
                        out.error_body = Some(check::excerpt(bytes));
                    }
                    let ok = crate::judge::levels::schema_check(
                        schemas,
                        &schema,
                        doc,
                        "",
                        &mut failures,
                        &mut out.deviations,
                    );
                    obs.schema_ok = Some(ok);
                    // A task's assertions are on its last poll, not on its submit.
                    if family.poll.is_none() {
                        if expected_kind {
                            crate::judge::assert::on_answer(schemas, plan, doc, &mut failures);
                            out.captured = crate::judge::assert::capture(plan, doc, &mut failures);
                        } else {
                            out.notes.extend(crate::judge::assert::unchecked(
                                plan,
                                "the answer is not of the kind the case expects",
                            ));
                        }
                    }
                    if success {
                        let answer = crate::judge::family::answer(family, doc);
                        out.finish_reason = answer.finish.first().and_then(|(_, r)| r.clone());
                        check::finish_reason_failures(&answer.finish, expect, &mut failures);
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
            out.incomplete = true;
            failures.push(Failure::Body(BodyFault::CutAfterHead {
                status: r.status,
                message: message.clone(),
                excerpt: check::excerpt(prefix),
            }));
        }
    }
    if let Some(soft) = obs.soft {
        // A soft failure the case asks for (a 2xx it lists, with the class the soft failure has:
        // `status: 200, class: fix_request, finish_reason: [length]` for a max_tokens cut) is its
        // expected outcome: the class check still holds it to the soft failure's class.
        let asked = success && expect.class != Class::Ok && expect.status.contains(&r.status);
        if !asked {
            failures.push(Failure::Soft(soft));
        }
    }
    check::error_code_failures(obs.error.as_ref(), expect, &mut failures);
    obs.too_slow = limits(plan, out, &mut failures);
    out.failures = failures;
    out.error = obs.error.clone();
    out.parser_outcome = parser_outcome(&obs, &r.body, sink);
    out.classification = classify::classify(&obs);
    out.observation = obs;
    j
}

/// Whether an answer is of the kind the case expects (a success body or an error body), so that
/// its assertions, invariants and named schema apply. A status the case lists decides: a 200
/// truncated at `max_tokens`, expected as `status: 200, class: fix_request`, is a success body to
/// assert on (its usage, its finish_reason). Without a status, the class does: `ok` expects a
/// success, any other class an error.
fn expected_kind(expect: &crate::model::plan::Expect, status: u16, success: bool) -> bool {
    if expect.status.is_empty() {
        (expect.class == Class::Ok) == success
    } else {
        expect.status.contains(&status) && (success || expect.class != Class::Ok)
    }
}

/// The schema a JSON answer with `status` is checked against, and whether it is the kind of
/// answer the case expects: the case's schema describes the answer it expects; an answer of the
/// other kind (a 200 where an error was due, or the reverse) is checked as what it is.
pub fn answer_schema(plan: &Plan, expect: &Expect, status: u16) -> (String, bool) {
    let family = plan.case.family;
    let success = (200..300).contains(&status);
    let expected_kind = expected_kind(expect, status, success);
    let schema = match &expect.schema {
        Some(named) if expected_kind => named.clone(),
        _ if success => family.response_schema.to_string(),
        _ => family
            .error_schema
            .unwrap_or(plan.target.dialect.error_schema())
            .to_string(),
    };
    (schema, expected_kind)
}

/// Checks the case's timing limits; true when one was exceeded.
fn limits(plan: &Plan, out: &Judgement, failures: &mut Vec<Failure>) -> bool {
    let l = plan.expect.limits;
    let checks = [
        ("time to first byte", l.max_ttfb_ms, Some(out.ttfb_ms)),
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

/// Records an attempt that got no (complete) response; returns the table's classification.
pub fn transport_failure(out: &mut CaseOutcome, e: TransportError) -> Classification {
    let obs = Observation {
        transport: Some(e.kind),
        ..Observation::default()
    };
    let c = classify::classify(&obs);
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

#[cfg(test)]
mod tests {
    //! The judge from tables of small exchanges: no HTTP, no server.
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::contract::load::{parse_case, parse_target};
    use crate::contract::plan::plan;

    fn schemas() -> SchemaRegistry {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts/schemas");
        let s = SchemaRegistry::load(&dir).unwrap();
        s.compile_all().unwrap();
        s
    }

    fn plan_of(expect: &str) -> Plan {
        let case = format!(
            "id: c\ndescription: d\nauth: valid\nrequest:\n  body:\n    model: ${{model}}\n    messages: [{{role: user, content: hi}}]\nexpect:\n{expect}"
        );
        let case = Arc::new(parse_case(Path::new("c.yaml"), &case).unwrap());
        let target = Arc::new(
            parse_target(
                Path::new("targets/t.yaml"),
                "name: t\ndescription: d\nbase_url: http://x/v1\napi_key_env: K\nvars:\n  model: m1\n",
            )
            .unwrap(),
        );
        plan(&case, &target).unwrap()
    }

    fn received(status: u16, content_type: &str, body: &str) -> Received {
        Received {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: ReceivedBody::Bytes(Bytes::from(body.to_string())),
            ttfb: Duration::from_millis(5),
            total: Duration::from_millis(7),
        }
    }

    const OK: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m1","choices":[{"index":0,"message":{"role":"assistant","content":"pong"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;
    const EMPTY: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m1","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"stop"}]}"#;
    const NO_CHOICES: &str =
        r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m1"}"#;
    const LENGTH: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m1","choices":[{"index":0,"message":{"role":"assistant","content":"The old"},"finish_reason":"length"}],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}"#;
    const ERR_401: &str = r#"{"error":{"message":"invalid token","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;

    /// expect, status, content type, body → class, rule, failures' first words, parser outcome.
    type Row = (
        &'static str,
        u16,
        &'static str,
        &'static str,
        Class,
        &'static str,
        &'static [&'static str],
        ParserOutcome,
    );

    #[test]
    fn judges_small_exchanges() {
        let schemas = schemas();
        let table: &[Row] = &[
            (
                "  status: 200\n  class: ok\n",
                200,
                "application/json",
                OK,
                Class::Ok,
                "2xx",
                &[],
                ParserOutcome::Success,
            ),
            (
                "  status: 200\n  class: ok\n",
                200,
                "application/json",
                NO_CHOICES,
                Class::ContractDrift,
                "2xx.schema",
                &["schema chat_completion: /:"],
                ParserOutcome::MissingField,
            ),
            (
                "  status: 200\n  class: ok\n",
                200,
                "application/json",
                EMPTY,
                Class::FixRequest,
                "2xx.empty",
                &["soft failure: empty content"],
                ParserOutcome::EmptyContent,
            ),
            (
                "  status: 200\n  class: ok\n",
                200,
                "text/html",
                "<html><body>Welcome</body></html>",
                Class::ConfigurationDrift,
                "2xx.html",
                &["body: expected JSON (schema chat_completion), got an HTML page"],
                ParserOutcome::InvalidJson,
            ),
            (
                "  status: 401\n  class: refresh_credentials\n",
                401,
                "application/json",
                ERR_401,
                Class::RefreshCredentials,
                "401",
                &[],
                ParserOutcome::Success,
            ),
            (
                "  status: 200\n  class: ok\n",
                401,
                "application/json",
                ERR_401,
                Class::RefreshCredentials,
                "401",
                &["status: expected 200, got 401"],
                ParserOutcome::Success,
            ),
            (
                "  status: 200\n  class: ok\n  finish_reason: [length]\n",
                200,
                "application/json",
                OK,
                Class::Ok,
                "2xx",
                &["finish_reason: choice 0: expected one of [length], got \"stop\""],
                ParserOutcome::Success,
            ),
            (
                "  status: 200\n  class: ok\n  present: [/system_fingerprint]\n  absent: [/usage]\n",
                200,
                "application/json",
                OK,
                Class::Ok,
                "2xx",
                &[
                    "assert /system_fingerprint: expected a value, found none",
                    "assert /usage: expected nothing, found",
                ],
                ParserOutcome::Success,
            ),
            // A max_tokens cut the case asks for (a 2xx it lists, class fix_request): no soft
            // failure, and its assertions apply to the success body.
            (
                "  status: 200\n  class: fix_request\n  finish_reason: [length]\n  assert:\n  - {at: /usage/completion_tokens, max: 5}\n",
                200,
                "application/json",
                LENGTH,
                Class::FixRequest,
                "2xx.length",
                &[],
                ParserOutcome::Success,
            ),
            (
                "  status: 200\n  class: fix_request\n  finish_reason: [length]\n  assert:\n  - {at: /usage/completion_tokens, max: 4}\n",
                200,
                "application/json",
                LENGTH,
                Class::FixRequest,
                "2xx.length",
                &["assert /usage/completion_tokens: expected at most 4, found 5"],
                ParserOutcome::Success,
            ),
            // The same cut where the case expects a finished answer: a soft failure.
            (
                "  status: 200\n  class: ok\n",
                200,
                "application/json",
                LENGTH,
                Class::FixRequest,
                "2xx.length",
                &["soft failure: truncated"],
                ParserOutcome::Success,
            ),
            // A case that asks for the cut and gets a finished answer fails on its end reason.
            (
                "  status: 200\n  class: fix_request\n  finish_reason: [length]\n",
                200,
                "application/json",
                OK,
                Class::Ok,
                "2xx",
                &["finish_reason: choice 0: expected one of [length], got \"stop\""],
                ParserOutcome::Success,
            ),
        ];
        for (i, (expect, status, ct, body, class, rule, failures, parser)) in
            table.iter().enumerate()
        {
            let plan = plan_of(expect);
            let mut sink = StreamCheck::new(
                &schemas,
                "chat_completion_chunk",
                "chat_completion",
                crate::judge::family::grammar(plan.case.family),
            );
            let j = judge(&schemas, &plan, &received(*status, ct, body), &mut sink);
            let got: Vec<String> = j.failures.iter().map(ToString::to_string).collect();
            assert_eq!(j.classification.class, *class, "row {i}: {got:?}");
            assert_eq!(j.classification.rule, *rule, "row {i}");
            assert_eq!(got.len(), failures.len(), "row {i}: {got:?}");
            for (g, w) in got.iter().zip(failures.iter()) {
                assert!(g.starts_with(w), "row {i}: {g} does not start with {w}");
            }
            assert_eq!(j.parser_outcome, *parser, "row {i}");
            assert!(!j.incomplete);
        }
    }

    #[test]
    fn a_body_cut_after_the_head_goes_unjudged() {
        let schemas = schemas();
        let plan = plan_of("  status: 200\n  class: ok\n");
        let mut r = received(200, "application/json", "");
        r.body = ReceivedBody::Failed {
            kind: crate::model::observation::TransportFailure::Reset,
            message: "connection reset".into(),
            prefix: Bytes::from_static(b"{\"id\":"),
        };
        let mut sink = StreamCheck::new(
            &schemas,
            "chat_completion_chunk",
            "chat_completion",
            crate::judge::family::grammar(plan.case.family),
        );
        let j = judge(&schemas, &plan, &r, &mut sink);
        assert!(j.incomplete);
        assert_eq!(j.classification.class, Class::Retry);
        assert!(matches!(
            j.failures[0],
            Failure::Body(BodyFault::CutAfterHead { status: 200, .. })
        ));
    }
}
