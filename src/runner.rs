//! From plan to outcome: build the request, send it (again, for transient failures), run the
//! checks, classify, compare with the pinned fixture. Live and recorded runs take the same path;
//! only the endpoint differs.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::check::{self, StreamCheck};
use crate::classify::{
    self, ApiError, BodyKind, Class, Classification, Observation, Soft, TaskEnd,
};
use crate::context::Secret;
use crate::contract::{AuthMode, Plan, PlanBody, RetryPolicy, StreamExpect};
use crate::drift::{self, StreamShape};
use crate::family::{Family, KeyHeader, PollSpec};
use crate::fixture::FixtureRequest;
use crate::fixture::{Fixture, FixtureResponse, FixtureStore, Provenance};
use crate::outcome::TaskOutcome;
use crate::outcome::{CaseOutcome, Drift, Mode, ParserOutcome, Usage, Verdict};
use crate::poll;
use crate::record::{self, Capture};
use crate::recorded::{MISMATCH, NO_FIXTURE, REPLAY_HEADER};
use crate::retry::{self, Budget, Jitter, WaitSource};
use crate::runid::{RunId, CLIENT_REQUEST_ID_HEADER};
use crate::sanitize::{Sanitizer, INVALID_TOKEN};
use crate::schema::SchemaRegistry;
use crate::sse::{SseItem, SseParser};
use crate::transport::{self, Client, Deadlines, Outgoing, Received, ReceivedBody, TransportError};

/// At most `--jobs` requests out at once across a run's cases. A case holds a [`Pass`] only
/// while its request is out (sent, answered, the body read and, for a stream, checked frame by
/// frame); it judges the answer, waits between retries and between polls without one, so the next
/// case's request leaves as soon as an answer is in, not after it has been judged.
#[derive(Debug, Clone)]
pub struct Gate(Option<Arc<tokio::sync::Semaphore>>);

/// Leave to have one request out; given back when dropped.
#[derive(Debug)]
pub struct Pass(Option<tokio::sync::OwnedSemaphorePermit>);

impl Gate {
    /// No limit: every case sends when it is ready (`cargo test`'s trials, single cases).
    pub fn open() -> Gate {
        Gate(None)
    }

    /// At most `n` requests out (at least one).
    pub fn new(n: usize) -> Gate {
        Gate(Some(Arc::new(tokio::sync::Semaphore::new(n.max(1)))))
    }

    /// Waits for leave to send (first come, first served).
    pub async fn pass(&self) -> Pass {
        match &self.0 {
            // The semaphore is never closed, so acquiring cannot fail.
            Some(s) => Pass(s.clone().acquire_owned().await.ok()),
            None => Pass(None),
        }
    }

    /// Gives `pass` back and, when it was a real one, lets the case waiting for it send its
    /// request before this task goes on to judge its own answer.
    pub async fn give_back(&self, pass: Pass) {
        let held = pass.0.is_some();
        drop(pass);
        if held {
            tokio::task::yield_now().await;
        }
    }
}

/// Where one plan's request goes.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub base_url: String,
    /// The key for `auth: valid` cases; `None` when none is configured.
    pub key: Option<Secret>,
    /// Name of the variable the key should come from, for the error when it is missing.
    pub key_env: String,
    pub mode: Mode,
}

/// Run-wide settings.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Multiplies every wait the harness itself makes (retry backoff, Retry-After); tests use a
    /// small value. Reported waits are the unscaled ones.
    pub time_scale: f64,
    /// Overrides the targets' retry attempts: `Some(0)` disables retries.
    pub retries: Option<u32>,
    /// A quota outcome counts as skipped, not failed (scheduled jobs do not page for billing).
    pub quota_is_skip: bool,
    /// At most this many requests in the whole run, retries included.
    pub max_requests: Option<usize>,
    /// Every kind of drift fails, additions included.
    pub strict: bool,
    /// Keep each attempt's exchange for `record`.
    pub record: bool,
    /// Note fixtures older than this many days.
    pub warn_fixture_age_days: i64,
    /// Fail cases whose fixture is older than this many days.
    pub max_fixture_age_days: Option<i64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            time_scale: 1.0,
            retries: None,
            quota_is_skip: false,
            max_requests: None,
            strict: false,
            record: false,
            warn_fixture_age_days: 90,
            max_fixture_age_days: None,
        }
    }
}

/// Runs plans. Shared by the CLI and the test harness.
pub struct Runner {
    client: Client,
    schemas: Arc<SchemaRegistry>,
    fixtures: Arc<FixtureStore>,
    sanitizer: Sanitizer,
    options: RunOptions,
    budget: Option<Budget>,
    jitter: Jitter,
    /// Names this run in every client request id.
    run_id: RunId,
    /// Cases sent so far: the `<n>` of `llmc-<run-id>-<n>`.
    sent: std::sync::atomic::AtomicU64,
}

/// One attempt's judged result, before the retry decision and the class expectation.
struct Attempt {
    out: CaseOutcome,
    observed: Classification,
    hint: Option<Duration>,
    /// How long its request waited for a pass (for `--jobs`).
    queued: Duration,
}

impl Runner {
    pub fn new(
        client: Client,
        schemas: Arc<SchemaRegistry>,
        fixtures: Arc<FixtureStore>,
        sanitizer: Sanitizer,
    ) -> Self {
        Runner::with_options(client, schemas, fixtures, sanitizer, RunOptions::default())
    }

    pub fn with_options(
        client: Client,
        schemas: Arc<SchemaRegistry>,
        fixtures: Arc<FixtureStore>,
        sanitizer: Sanitizer,
        options: RunOptions,
    ) -> Self {
        Runner {
            client,
            schemas,
            fixtures,
            sanitizer,
            budget: options.max_requests.map(Budget::new),
            options,
            jitter: Jitter::from_clock(),
            run_id: RunId::new(),
            sent: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Uses the given run id in client request ids (the CLI's, which also names the reports).
    pub fn with_run_id(mut self, run_id: RunId) -> Self {
        self.run_id = run_id;
        self
    }

    pub fn run_id(&self) -> &RunId {
        &self.run_id
    }

    pub fn sanitizer(&self) -> &Sanitizer {
        &self.sanitizer
    }

    /// Requests sent so far and the budget, when one is set.
    pub fn budget(&self) -> Option<(usize, usize)> {
        self.budget.as_ref().map(|b| (b.used(), b.limit()))
    }

    /// Runs one plan against one endpoint. Never panics on what the endpoint sends; every
    /// outcome leaves sanitized.
    pub async fn run(&self, plan: &Plan, endpoint: &Endpoint) -> CaseOutcome {
        self.run_capturing(plan, endpoint).await.0
    }

    /// Runs one plan and, when the runner records, returns the sanitized exchange too: the
    /// request and the answer to every attempt.
    pub async fn run_capturing(
        &self,
        plan: &Plan,
        endpoint: &Endpoint,
    ) -> (CaseOutcome, Option<Capture>) {
        self.run_gated(plan, endpoint, &Gate::open()).await
    }

    /// [`Runner::run_capturing`], with the run's requests in flight limited by `gate`.
    pub async fn run_gated(
        &self,
        plan: &Plan,
        endpoint: &Endpoint,
        gate: &Gate,
    ) -> (CaseOutcome, Option<Capture>) {
        let mut captured = Vec::new();
        let out = self
            .run_inner(plan, endpoint, gate, &mut captured)
            .await
            .sanitize(&self.sanitizer);
        if captured.is_empty() {
            return (out, None);
        }
        let version = plan.target.version_header.as_ref().and_then(|h| {
            captured
                .iter()
                .rev()
                .find_map(|r: &FixtureResponse| r.headers.get(&h.to_ascii_lowercase()).cloned())
        });
        let capture = Capture {
            request: record::request_of(plan, &self.sanitizer),
            responses: captured,
            version,
        };
        (out, Some(capture))
    }

    fn policy(&self, plan: &Plan) -> RetryPolicy {
        let mut p = plan.target.retry;
        if let Some(r) = self.options.retries {
            p.attempts = r.saturating_add(1);
        }
        p.attempts = p.attempts.max(1);
        p
    }

    async fn run_inner(
        &self,
        plan: &Plan,
        endpoint: &Endpoint,
        gate: &Gate,
        captured: &mut Vec<FixtureResponse>,
    ) -> CaseOutcome {
        let mut out = blank(plan, endpoint.mode);
        if let Some(reason) = &plan.skip {
            out.verdict = Verdict::Skip;
            out.reason = format!("skipped by target {}: {reason}", plan.target.name);
            return out;
        }
        let fixture = self.fixtures.get(&plan.target.name, &plan.case.id);
        let fixture_path = self.fixtures.path(&plan.target.name, &plan.case.id);
        if endpoint.mode == Mode::Recorded {
            if plan.case.live_only {
                out.verdict = Verdict::Skip;
                out.reason = "live-only case: nothing to replay".into();
                return out;
            }
            if fixture.is_none() {
                out.verdict = Verdict::Error;
                out.class = Class::ConfigurationDrift;
                out.reason = "no pinned fixture to replay".into();
                out.failures.push(format!(
                    "fixture: {} does not exist; {}",
                    fixture_path.display(),
                    record_hint(plan)
                ));
                out.drift = Drift::NotRun {
                    reason: "no pinned fixture".into(),
                };
                return out;
            }
        }
        let mut outgoing = match self.request(plan, endpoint) {
            Ok(o) => o,
            Err(message) => {
                out.verdict = Verdict::Error;
                out.class = Class::RefreshCredentials;
                out.reason = message.clone();
                out.failures.push(format!("config: {message}"));
                return out;
            }
        };
        // One client request id per case, the same on each of its attempts; a case that sets the
        // header itself keeps its own.
        let client_request_id = match outgoing
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(CLIENT_REQUEST_ID_HEADER))
        {
            Some((_, v)) => v.clone(),
            None => {
                let n = self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let id = self.run_id.client_request_id(n);
                outgoing
                    .headers
                    .push((CLIENT_REQUEST_ID_HEADER.to_string(), id.clone()));
                id
            }
        };
        let policy = self.policy(plan);
        let mut started = Instant::now();
        let deadline = Duration::from_millis(policy.deadline_ms);
        let mut statuses = Vec::new();
        let mut waits_ms = Vec::new();
        let mut note = None;
        let mut retry = 0u32;
        if let Some(b) = &self.budget {
            if !b.take() {
                let message = format!("the request budget (--max-requests {}) is spent", b.limit());
                out.verdict = Verdict::Error;
                out.class = Class::Retry;
                out.reason = format!("{message}: not sent");
                out.failures
                    .push(format!("budget: {message}; this case was not sent"));
                out.drift = Drift::NotRun {
                    reason: "not sent".into(),
                };
                return out;
            }
        }
        let Attempt {
            mut out, observed, ..
        } = loop {
            let attempt = self
                .attempt(
                    plan,
                    endpoint,
                    outgoing.clone(),
                    fixture.as_deref(),
                    retry as usize,
                    gate,
                    captured,
                )
                .await;
            if retry == 0 {
                // The first request's wait for its turn is queueing, not the case's time.
                started += attempt.queued;
            }
            statuses.push(attempt.out.status);
            if !attempt.observed.class.retryable() || retry + 1 >= policy.attempts {
                break attempt;
            }
            let (wait, source) = retry::wait(&policy, retry, attempt.hint, &self.jitter);
            let remaining = deadline.saturating_sub(started.elapsed());
            if wait > remaining {
                note = Some(format!(
                    "{} of {} ms is past the case's remaining deadline ({} ms): not retried",
                    match source {
                        WaitSource::RetryAfter => "the server's Retry-After",
                        WaitSource::Backoff => "the backoff",
                    },
                    wait.as_millis(),
                    remaining.as_millis()
                ));
                break attempt;
            }
            if let Some(b) = &self.budget {
                if !b.take() {
                    note = Some(format!(
                        "the request budget (--max-requests {}) is spent: not retried",
                        b.limit()
                    ));
                    break attempt;
                }
            }
            waits_ms.push(ms(wait));
            let scaled = wait.mul_f64(self.options.time_scale.max(0.0));
            if !scaled.is_zero() {
                tokio::time::sleep(scaled).await;
            }
            retry += 1;
        };
        if let Some(f) = &fixture {
            self.fixture_age(f, &fixture_path, &mut out);
        }
        out.client_request_id = Some(client_request_id);
        out.retries = retry;
        out.attempt_statuses = statuses;
        out.retry_waits_ms = waits_ms;
        out.case_ms = ms(started.elapsed());
        let mut class = observed.class;
        let mut reason = observed.reason;
        if class == Class::Retry && retry > 0 && retry + 1 >= policy.attempts && note.is_none() {
            class = Class::FallBack;
            reason = format!(
                "still transient after {} attempts, fall back: {reason}",
                retry + 1
            );
        }
        if let Some(n) = note {
            reason = format!("{reason}; {n}");
        }
        // A class is only compared when something was judged (not for transport errors, nor
        // for the recorded endpoint's own verdicts).
        if out.verdict != Verdict::Error && observed.rule != "replay" && class != plan.expect.class
        {
            let at = usize::from(
                out.failures
                    .first()
                    .is_some_and(|f| f.starts_with("status:")),
            );
            out.failures.insert(
                at,
                format!(
                    "class: expected {}, got {} — {}",
                    plan.expect.class, class, reason
                ),
            );
        }
        out.class = class;
        out.reason = reason;
        finalize(&mut out);
        if out.class == Class::Quota && self.options.quota_is_skip && out.verdict != Verdict::Pass {
            out.verdict = Verdict::Skip;
            out.reason = format!("quota counted as skipped (--quota-is-skip): {}", out.reason);
        }
        out
    }

    /// Notes an old fixture, or fails the case past `--max-fixture-age`.
    fn fixture_age(&self, f: &Fixture, path: &std::path::Path, out: &mut CaseOutcome) {
        let Some(age) = record::age_days(f.provenance.date(), SystemTime::now()) else {
            return;
        };
        let hint = format!(
            "re-record it: `llm-contract record --target {} --case {}`",
            out.target, out.case
        );
        match self.options.max_fixture_age_days {
            Some(max) if age > max => out.failures.push(format!(
                "fixture: {} is {age} days old, past --max-fixture-age {max}; {hint}",
                path.display()
            )),
            _ if age > self.options.warn_fixture_age_days => out.notes.push(format!(
                "fixture {} is {age} days old; {hint}",
                path.display()
            )),
            _ => {}
        }
    }

    /// One request and its judgement. The request is built, then waits for a pass from the gate;
    /// the pass goes back before the answer is judged.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        plan: &Plan,
        endpoint: &Endpoint,
        outgoing: Outgoing,
        fixture: Option<&Fixture>,
        index: usize,
        gate: &Gate,
        captured: &mut Vec<FixtureResponse>,
    ) -> Attempt {
        let mut out = blank(plan, endpoint.mode);
        let family = plan.case.family;
        let chunk_schema = plan
            .expect
            .stream
            .as_ref()
            .and_then(|s| s.chunk_schema.clone())
            .unwrap_or_else(|| family.chunk_schema.to_string());
        let mut sink = StreamCheck::new(
            &self.schemas,
            &chunk_schema,
            family.response_schema,
            (family.grammar)(),
        );
        // Frames are kept for drift only when there is a baseline to compare them with.
        sink.collect_shape = fixture.is_some_and(|f| {
            endpoint.mode == Mode::Recorded || matches!(f.provenance, Provenance::Recorded { .. })
        });
        if self.options.record {
            sink.raw = Some(Vec::new());
        }
        // A task family polls with the submit's credential and deadlines.
        let submit = family.poll.map(|_| outgoing.clone());
        // Everything that can be done before it is this case's turn to send is done first.
        let prepared = self.client.prepare(outgoing);
        let queued = Instant::now();
        let pass = gate.pass().await;
        let queued = queued.elapsed();
        let sent = self.client.send_prepared(prepared, &mut sink).await;
        gate.give_back(pass).await;
        match sent {
            Err(e) => {
                let observed = self.transport_failure(&mut out, e);
                Attempt {
                    out,
                    observed,
                    hint: None,
                    queued,
                }
            }
            Ok(received) => {
                let hint = retry::server_hint(
                    received.header("retry-after-ms"),
                    received.header("retry-after"),
                    SystemTime::now(),
                );
                let observed = self.judge(plan, &mut out, &received, &mut sink);
                if self.options.record {
                    captured.push(record::response_of(
                        &received,
                        sink.raw.as_deref(),
                        &self.sanitizer,
                        &plan.target.sanitize,
                    ));
                }
                if let Some(mut observed) = observed {
                    self.drift(
                        plan,
                        &mut out,
                        &received,
                        sink.shape,
                        fixture,
                        Step::Request(index),
                    );
                    let accepted = (200..300).contains(&received.status)
                        && observed.class == Class::Ok
                        && out.failures.is_empty();
                    if let (Some(spec), Some(submit), true) = (&family.poll, &submit, accepted) {
                        let task = Task {
                            spec,
                            submit,
                            submitted: &received,
                            fixture,
                            index,
                        };
                        observed = self
                            .follow(plan, endpoint, task, gate, &mut out, captured)
                            .await;
                    }
                    Attempt {
                        out,
                        observed,
                        hint,
                        queued,
                    }
                } else {
                    let observed = Classification {
                        class: out.class,
                        reason: out.reason.clone(),
                        rule: "replay",
                    };
                    Attempt {
                        out,
                        observed,
                        hint: None,
                        queued,
                    }
                }
            }
        }
    }

    /// Polls a submitted task to its end and judges it: the task's status decides the class, the
    /// last poll is checked against the family's task schema and compared with the fixture.
    async fn follow(
        &self,
        plan: &Plan,
        endpoint: &Endpoint,
        task: Task<'_>,
        gate: &Gate,
        out: &mut CaseOutcome,
        captured: &mut Vec<FixtureResponse>,
    ) -> Classification {
        let submitted = match &task.submitted.body {
            ReceivedBody::Bytes(b) => serde_json::from_slice::<Value>(b).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let settings = plan.case.poll;
        let request = poll::PollRequest {
            client: &self.client,
            gate,
            spec: task.spec,
            settings,
            submit: task.submit,
            base_url: &endpoint.base_url,
            sleep_scale: match endpoint.mode {
                Mode::Recorded => 0.0,
                Mode::Live => self.options.time_scale,
            },
        };
        let report = poll::run(request, &submitted).await;
        if self.options.record {
            for (path, r) in &report.exchanges {
                let mut resp = record::response_of(r, None, &self.sanitizer, &plan.target.sanitize);
                resp.request = Some(FixtureRequest {
                    method: "GET".into(),
                    // The submit's `id` is pinned as `<prefix>_[ID]`: the poll path names it so.
                    path: self.sanitizer.text(&match &report.task_id {
                        Some(id) => path.replace(id.as_str(), &crate::sanitize::id_placeholder(id)),
                        None => path.clone(),
                    }),
                    authorization: record::request_of(plan, &self.sanitizer).authorization,
                    body: None,
                    raw_body: None,
                });
                captured.push(resp);
            }
        }
        let id = report.task_id.clone().unwrap_or_default();
        let trail = report.trail();
        let last_status = report.statuses.last().cloned();
        out.task = Some(TaskOutcome {
            id: report.task_id.clone(),
            polls: report.polls,
            statuses: trail.clone(),
            last_status: last_status.clone(),
            progress: report.progress,
            end: match report.end {
                poll::PollEnd::Task(end) => Some(end),
                _ => None,
            },
            counted_ms: ms(report.counted),
        });
        if endpoint.mode == Mode::Recorded && report.polls > 1 {
            out.notes.push(format!(
                "offline, the {} ms between polls were counted toward the poll deadline, not slept",
                settings.interval_ms
            ));
        }
        let polled = format!(
            "task {id} after {} poll{}{}",
            report.polls,
            if report.polls == 1 { "" } else { "s" },
            if trail.is_empty() {
                String::new()
            } else {
                format!(" ({trail})")
            }
        );
        let end = match report.end {
            poll::PollEnd::NoId => {
                out.failures.push(format!(
                    "task: the submit answer carries no task id (looked at {})",
                    task.spec.id.join(", ")
                ));
                let obs = Observation {
                    status: Some(task.submitted.status),
                    body: Some(BodyKind::Json),
                    schema_ok: Some(false),
                    ..Observation::default()
                };
                return classify::classify(&obs);
            }
            poll::PollEnd::Transport(e) => {
                let c = self.transport_failure(out, e);
                out.failures.insert(
                    0,
                    format!("task: poll {} of task {id} failed", report.polls + 1),
                );
                return c;
            }
            poll::PollEnd::Http(received) => {
                let chunk = task.spec.schema;
                let mut sink =
                    StreamCheck::new(&self.schemas, chunk, chunk, (plan.case.family.grammar)());
                let c = self.judge(plan, out, &received, &mut sink);
                out.failures.insert(
                    0,
                    format!(
                        "task: poll {} of task {id} answered {}{}",
                        report.polls,
                        received.status,
                        if trail.is_empty() {
                            String::new()
                        } else {
                            format!(" (earlier polls: {trail})")
                        }
                    ),
                );
                return c.unwrap_or(Classification {
                    class: out.class,
                    reason: out.reason.clone(),
                    rule: "replay",
                });
            }
            poll::PollEnd::Task(end) => end,
        };
        let mut obs = Observation {
            status: report.last.as_ref().map(|r| r.status),
            body: Some(BodyKind::Json),
            error: report.error.clone(),
            ..Observation::default()
        };
        if let Some(doc) = &report.last_doc {
            let ok =
                check::schema_failures(&self.schemas, task.spec.schema, doc, &mut out.failures);
            obs.schema_ok = Some(ok);
            if end == TaskEnd::Done {
                check::pointer_failures(doc, &plan.expect, &mut out.failures);
            }
        }
        out.finish_reason = last_status.clone();
        out.error = report.error.clone();
        let detail = |e: &ApiError| {
            format!(
                "{} — {}",
                e.describe(),
                e.message.as_deref().unwrap_or("(no message)")
            )
        };
        match end {
            TaskEnd::Done => out.notes.push(format!("task: done: {polled}")),
            TaskEnd::Failed => out.failures.push(format!(
                "task: failed: {polled}: {}",
                report.error.as_ref().map(detail).unwrap_or_default()
            )),
            TaskEnd::FailedNoDetail => out
                .failures
                .push(format!("task: failed with no error detail: {polled}")),
            TaskEnd::Cancelled => out.failures.push(format!("task: cancelled: {polled}")),
            TaskEnd::Stuck => out.failures.push(format!(
                "task: timed out: {polled}, still {} with {} ms counted (poll deadline {} ms, at most {} polls); last progress {}",
                last_status.as_deref().unwrap_or("without a status"),
                report.counted.as_millis(),
                settings.deadline_ms,
                settings.max_polls,
                report
                    .progress
                    .map_or("not reported".to_string(), |p| format!("{p}%"))
            )),
            TaskEnd::UnknownStatus => out.failures.push(format!(
                "task: unknown status \"{}\": {polled} (known: done {}; failed {}; cancelled {}; pending {})",
                last_status.as_deref().unwrap_or("?"),
                task.spec.done.join(", "),
                task.spec.failed.join(", "),
                task.spec.cancelled.join(", "),
                task.spec.pending.join(", ")
            )),
        }
        if end != TaskEnd::Done {
            obs.task = Some(end);
        }
        // The task's final state is what users keep: compare it with the fixture too.
        if let Some(last) = &report.last {
            let submit_drift = std::mem::replace(
                &mut out.drift,
                Drift::NotRun {
                    reason: String::new(),
                },
            );
            let at = task.index + report.polls as usize;
            self.drift(
                plan,
                out,
                last,
                StreamShape::default(),
                task.fixture,
                Step::Poll(at),
            );
            out.drift = merge_drift(
                submit_drift,
                std::mem::replace(
                    &mut out.drift,
                    Drift::NotRun {
                        reason: String::new(),
                    },
                ),
            );
        }
        let c = classify::classify(&obs);
        out.class = c.class;
        out.reason = c.reason.clone();
        c
    }

    fn request(&self, plan: &Plan, endpoint: &Endpoint) -> Result<Outgoing, String> {
        let family = plan.case.family;
        let (auth_header, scheme) = match family.key {
            KeyHeader::Bearer => ("authorization", "Bearer "),
            KeyHeader::Plain(header) => (header, ""),
        };
        let authorization = match plan.case.auth {
            AuthMode::Missing => None,
            AuthMode::Invalid => Some(format!("{scheme}{INVALID_TOKEN}")),
            AuthMode::Valid => match &endpoint.key {
                Some(k) => Some(format!("{scheme}{}", k.expose())),
                None => {
                    return Err(format!(
                        "no API key: set {} (the target's api_key_env) or pass --api-key-env",
                        endpoint.key_env
                    ))
                }
            },
        };
        let body = match &plan.body {
            PlanBody::None => None,
            PlanBody::Json { text, .. } => Some(text.clone()),
            PlanBody::Raw(s) => Some(Bytes::from(s.clone())),
        };
        let t = plan.target.timeouts;
        let idle = plan
            .expect
            .stream
            .as_ref()
            .and_then(|s| s.idle_ms)
            .map_or(t.idle_ms, |c| c.min(t.idle_ms));
        Ok(Outgoing {
            method: family
                .method
                .parse()
                .map_err(|_| format!("bad method {}", family.method))?,
            url: format!("{}{}", endpoint.base_url.trim_end_matches('/'), family.path),
            authorization,
            auth_header,
            headers: family
                .headers
                .iter()
                .filter(|(k, _)| !plan.case.headers.keys().any(|h| h.eq_ignore_ascii_case(k)))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain(
                    plan.case
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone())),
                )
                .collect(),
            body,
            deadlines: Deadlines {
                first_byte: Duration::from_millis(t.first_byte_ms),
                idle: Duration::from_millis(idle),
                total: Duration::from_millis(t.total_ms),
            },
        })
    }

    fn transport_failure(&self, out: &mut CaseOutcome, e: TransportError) -> Classification {
        let obs = Observation {
            transport: Some(e.kind),
            ..Observation::default()
        };
        let c = classify::classify(&obs);
        out.verdict = Verdict::Error;
        out.class = c.class;
        out.reason = c.reason.clone();
        out.latency_ms = ms(e.after);
        out.parser_outcome = Some(if e.kind == classify::TransportFailure::Timeout {
            ParserOutcome::Timeout
        } else {
            ParserOutcome::Transport
        });
        let name = e.deadline.map_or("transport".to_string(), |d| {
            format!("deadline ({})", d.name())
        });
        out.failures.push(format!("{name}: {}", e.message));
        out.drift = Drift::NotRun {
            reason: "no response".into(),
        };
        c
    }

    /// Runs the checks on a response. `None` when the exchange could not be judged (a
    /// recorded-endpoint verdict, already written into `out`).
    fn judge(
        &self,
        plan: &Plan,
        out: &mut CaseOutcome,
        r: &Received,
        sink: &mut StreamCheck<'_>,
    ) -> Option<Classification> {
        let family = plan.case.family;
        out.status = Some(r.status);
        out.ttfb_ms = Some(ms(r.ttfb));
        out.latency_ms = ms(r.total);
        if out.mode == Mode::Recorded {
            if let Some(kind) = r.header(REPLAY_HEADER) {
                let text = match &r.body {
                    ReceivedBody::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                    _ => String::new(),
                };
                // The status is the recorded endpoint's own, not the API's: do not report it.
                out.status = None;
                out.verdict = if kind == MISMATCH {
                    Verdict::Fail
                } else {
                    Verdict::Error
                };
                out.class = Class::ConfigurationDrift;
                let fixture = self.fixtures.path(&plan.target.name, &plan.case.id);
                out.reason = match kind {
                    MISMATCH => format!(
                        "the request no longer matches the recorded one: re-record {}",
                        fixture.display()
                    ),
                    NO_FIXTURE => "the recorded endpoint has no fixture for this case".into(),
                    other => format!("recorded endpoint answered {other}"),
                };
                out.failures.push(format!("replay: {}\n{text}", out.reason));
                out.drift = Drift::NotRun {
                    reason: "request mismatch".into(),
                };
                return None;
            }
        }
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
                if end == classify::StreamEnd::Complete {
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
                        let ok = check::schema_failures(&self.schemas, &schema, doc, &mut failures);
                        obs.schema_ok = Some(ok);
                        if success {
                            let answer = (family.answer)(doc);
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
        obs.too_slow = self.limits(plan, out, &mut failures);
        out.failures = failures;
        out.error = obs.error.clone();
        out.parser_outcome = Some(parser_outcome(&obs, &r.body, sink));
        let c = classify::classify(&obs);
        out.class = c.class;
        out.reason = c.reason.clone();
        Some(c)
    }

    /// Checks the case's timing limits; true when one was exceeded.
    fn limits(&self, plan: &Plan, out: &CaseOutcome, failures: &mut Vec<String>) -> bool {
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

    fn drift(
        &self,
        plan: &Plan,
        out: &mut CaseOutcome,
        r: &Received,
        shape: StreamShape,
        fixture: Option<&Fixture>,
        attempt: Step,
    ) {
        let mode = out.mode;
        let Some(fixture) = fixture else {
            out.drift = Drift::NotRun {
                reason: format!("no baseline yet: {}", record_hint(plan)),
            };
            return;
        };
        if mode == Mode::Live && !matches!(fixture.provenance, Provenance::Recorded { .. }) {
            out.drift = Drift::NotRun {
                reason: format!(
                    "the pinned fixture is {}, not recorded, so it is no baseline for a live response; {}",
                    fixture.provenance.kind(),
                    record_hint(plan)
                ),
            };
            return;
        }
        let received_body = match &r.body {
            ReceivedBody::Stream(read)
                if read.stop != transport::StreamStop::Eof { partial: false } =>
            {
                // A stream that stopped early would only repeat the stream failure as a diff.
                out.drift = Drift::NotRun {
                    reason: "the stream did not end cleanly".into(),
                };
                return;
            }
            ReceivedBody::Stream(_) => shape.into_value(),
            ReceivedBody::Bytes(b) => body_value(b, &self.sanitizer),
            _ => {
                out.drift = Drift::NotRun {
                    reason: "the body did not arrive whole".into(),
                };
                return;
            }
        };
        let received_doc = drift::exchange_document(
            r.status,
            r.content_type(),
            r.headers.iter().map(|(k, _)| k.as_str()),
            received_body,
        );
        // Offline, the n-th request was served the n-th recorded answer. Live, the baseline is
        // the last recorded answer to the same request: the submit's for a submit, the last
        // poll's for a task's last poll.
        let pinned_response = match (mode, attempt) {
            (Mode::Recorded, Step::Request(n)) | (Mode::Recorded, Step::Poll(n)) => {
                &fixture.responses[n.min(fixture.responses.len() - 1)]
            }
            (Mode::Live, Step::Poll(_)) => fixture.last(),
            (Mode::Live, Step::Request(_)) => fixture
                .responses
                .iter()
                .rev()
                .find(|r| r.request.is_none())
                .unwrap_or(fixture.last()),
        };
        let pinned_doc = pinned_document(pinned_response);
        let policy = if self.options.strict {
            drift::DriftPolicy::strict()
        } else {
            plan.case
                .drift
                .clone()
                .or_else(|| plan.target.drift.clone())
                .unwrap_or_default()
        };
        let labels = drift::labels(&pinned_doc, &received_doc, &policy);
        if labels.is_empty() {
            out.drift = Drift::Match;
            return;
        }
        if labels.iter().any(|l| l.fails) {
            let path = self.fixtures.path(&plan.target.name, &plan.case.id);
            let (pinned, received) = (
                drift::canonical(&pinned_doc),
                drift::canonical(&received_doc),
            );
            let diff = drift::diff(&pinned, &received, &path.display().to_string(), "received")
                .unwrap_or_default();
            let list: Vec<String> = labels
                .iter()
                .map(|l| format!("  {} {l}", if l.fails { "✗" } else { "·" }))
                .collect();
            out.failures.push(format!(
                "drift: the response differs from the pinned fixture {} (✗ fails the drift policy, · reported):\n{}\n{}",
                path.display(),
                list.join("\n"),
                diff.trim_end()
            ));
        }
        out.drift = Drift::Changed { labels };
    }
}

/// Which request of a case an answer came from, for choosing its drift baseline: the n-th
/// request (an attempt of the case's own request), or a task's poll that was the n-th request.
#[derive(Debug, Clone, Copy)]
enum Step {
    Request(usize),
    Poll(usize),
}

/// A submitted task, for the poll loop.
struct Task<'a> {
    spec: &'a PollSpec,
    submit: &'a Outgoing,
    submitted: &'a Received,
    fixture: Option<&'a Fixture>,
    /// The submit's request index (its attempt).
    index: usize,
}

/// The drift of a submit and of its task's last poll, as one result.
fn merge_drift(submit: Drift, last: Drift) -> Drift {
    match (submit, last) {
        (Drift::Changed { mut labels }, Drift::Changed { labels: more }) => {
            labels.extend(more);
            Drift::Changed { labels }
        }
        (Drift::Changed { labels }, _) | (_, Drift::Changed { labels }) => {
            Drift::Changed { labels }
        }
        (Drift::Match, Drift::Match) => Drift::Match,
        (Drift::NotRun { reason }, _) | (_, Drift::NotRun { reason }) => Drift::NotRun { reason },
    }
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
    let reason = finish_reason.and_then(family.soft_reason);
    Soft::detect(reason, has_content, has_tool_calls, tools_offered)
}

fn record_hint(plan: &Plan) -> String {
    format!(
        "pin one with `llm-contract record --target {} --case {}` against a live endpoint",
        plan.target.name, plan.case.id
    )
}

/// A body as the drift document holds it: masked JSON, or sanitized text.
fn body_value(bytes: &[u8], sanitizer: &Sanitizer) -> Value {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut v) => {
            sanitizer.json(&mut v);
            drift::mask(&mut v);
            v
        }
        Err(_) => {
            Value::String(sanitizer.text(&String::from_utf8_lossy(&bytes[..bytes.len().min(4096)])))
        }
    }
}

/// The pinned fixture's response in the same canonical form as a received one.
pub fn pinned_document(resp: &FixtureResponse) -> Value {
    let body = if let Some(chunks) = &resp.chunks {
        let mut parser = SseParser::new(transport::MAX_EVENT);
        let mut shape = StreamShape::default();
        for c in chunks {
            let _ = parser.push(c.data.as_bytes(), &mut |item| {
                if let SseItem::Event(ev) = item {
                    shape.push(ev.event.as_deref(), &ev.data);
                }
                true
            });
        }
        shape.into_value()
    } else if let Some(v) = &resp.body {
        let mut v = v.value();
        drift::mask(&mut v);
        v
    } else {
        body_value(
            resp.body_text.as_deref().unwrap_or("").as_bytes(),
            &Sanitizer::new(),
        )
    };
    drift::exchange_document(
        resp.status,
        resp.content_type(),
        resp.headers.keys().map(String::as_str),
        body,
    )
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

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn blank(plan: &Plan, mode: Mode) -> CaseOutcome {
    CaseOutcome {
        id: plan.id.clone(),
        target: plan.target.name.clone(),
        case: plan.case.id.clone(),
        verdict: Verdict::Pass,
        class: Class::Ok,
        reason: String::new(),
        status: None,
        latency_ms: 0.0,
        ttfb_ms: None,
        failures: Vec::new(),
        expected_status: plan.expect.status.clone(),
        expected_class: plan.expect.class,
        mode,
        endpoint: plan.case.family.path.to_string(),
        model: plan.model().map(str::to_string),
        stream: plan.case.streams(),
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
        retry_waits_ms: Vec::new(),
        case_ms: 0.0,
        notes: Vec::new(),
        client_request_id: None,
        usage: None,
        parser_outcome: None,
        task: None,
    }
}

/// What a client's parser made of a judged response, from what the checks observed.
/// A stream whose frames all parsed and matched their schema parses as a success even when its
/// framing broke the contract (a second `[DONE]`, frames after it): the verdict says that.
fn parser_outcome(obs: &Observation, body: &ReceivedBody, sink: &StreamCheck<'_>) -> ParserOutcome {
    use classify::StreamEnd;
    if let Some(t) = obs.transport {
        return if t == classify::TransportFailure::Timeout {
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
fn finalize(out: &mut CaseOutcome) {
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

/// The outcome of a case whose run panicked.
fn harness_failure(plan: &Plan, mode: Mode, panic: &(dyn std::any::Any + Send)) -> CaseOutcome {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    let mut o = blank(plan, mode);
    o.verdict = Verdict::Error;
    o.class = Class::ContractDrift;
    o.reason = "the harness failed while running this case".into();
    o.failures.push(format!("harness: {message}"));
    o.drift = Drift::NotRun {
        reason: "the case did not finish".into(),
    };
    o
}

/// Runs plans concurrently, at most `jobs` requests out at a time. `on_done` takes each outcome
/// (and its capture, when recording) as it completes, on the task that awaits this function, and
/// makes what the caller keeps of it; those come back sorted by the cases' ids.
pub async fn run_all<T>(
    runner: Arc<Runner>,
    plans: Vec<(Plan, Endpoint)>,
    jobs: usize,
    mut on_done: impl FnMut(CaseOutcome, Option<Capture>) -> T,
) -> Vec<T> {
    // Lanes, each taking the next plan from a shared queue as soon as its case is done: the next
    // request leaves from the worker that took the last answer, with no round trip through a
    // coordinating task. The gate keeps at most `jobs` requests out; twice as many lanes keep a
    // case ready to send whenever an answer comes in, while that answer is judged.
    let total = plans.len();
    let jobs = jobs.max(1);
    let lanes_n = jobs.saturating_mul(2).min(total.max(1));
    let gate = Gate::new(jobs);
    let queue = Arc::new(std::sync::Mutex::new(plans.into_iter()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut lanes = JoinSet::new();
    for _ in 0..lanes_n {
        let (queue, runner, tx, gate) = (queue.clone(), runner.clone(), tx.clone(), gate.clone());
        lanes.spawn(async move {
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .next();
                let Some((plan, endpoint)) = next else {
                    break;
                };
                let run = std::panic::AssertUnwindSafe(runner.run_gated(&plan, &endpoint, &gate));
                let done = match futures_util::FutureExt::catch_unwind(run).await {
                    Ok(done) => done,
                    // A panic inside one case must not lose its result, nor the others'.
                    Err(panic) => (harness_failure(&plan, endpoint.mode, &*panic), None),
                };
                if tx.send(done).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut kept: Vec<(String, T)> = Vec::with_capacity(total);
    while let Some((outcome, capture)) = rx.recv().await {
        let id = outcome.id.clone();
        kept.push((id, on_done(outcome, capture)));
    }
    while lanes.join_next().await.is_some() {}
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    kept.into_iter().map(|(_, t)| t).collect()
}
