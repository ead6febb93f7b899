//! From plan to outcome: build the request, send it (again, for transient failures), judge each
//! answer (`judge::exchange`), compare it with the pinned fixture (`baseline::compare`), show it
//! to the case's watcher, then decide the verdict and class once (`judge::verdict`). Live and
//! recorded runs take the same path; only the endpoint differs.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::baseline::compare;
use crate::baseline::drift::StreamShape;
use crate::baseline::replay;
use crate::baseline::sanitize::Sanitizer;
use crate::contract::fixtures::FixtureStore;
use crate::contract::schema::SchemaRegistry;
use crate::exchange::endpoint::Endpoint;
use crate::exchange::gate::Gate;
use crate::exchange::retry::{self, Budget, Jitter, WaitSource};
use crate::exchange::watch::{Asked, RawTap, Watch};
use crate::judge;
use crate::judge::classify::Classification;
use crate::judge::stream::{FrameWatch, StreamCheck};
use crate::judge::verdict::{self, Decision, Settled};
use crate::model::class::Class;
use crate::model::failure::{Failure, FixtureFault};
use crate::model::fixture::{Fixture, FixtureRequest, Provenance};
use crate::model::outcome::{ms, AttemptResult, CaseOutcome, Drift, Mode, RepeatRun};
use crate::model::plan::{Plan, RetryPolicy};
use crate::model::runid::{RunId, CLIENT_REQUEST_ID_HEADER};

use crate::exchange::transport::{Client, Outgoing};

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
    /// Every kind of drift fails, additions included; so does every named deviation from the
    /// spec (`judge::levels`).
    pub strict: bool,
    /// Note fixtures older than this many days.
    pub warn_fixture_age_days: i64,
    /// Fail cases whose fixture is older than this many days.
    pub max_fixture_age_days: Option<i64>,
    /// Capabilities whose absence fails a case (`--require`): an `unsupported` becomes a failure.
    pub require: Vec<String>,
    /// Offline, a case with no fixture fails instead of being skipped as not recorded.
    pub require_fixtures: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            time_scale: 1.0,
            retries: None,
            quota_is_skip: false,
            max_requests: None,
            strict: false,
            warn_fixture_age_days: 90,
            max_fixture_age_days: None,
            require: Vec::new(),
            require_fixtures: false,
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
    observed: Observed,
    hint: Option<Duration>,
    /// How long its request waited for a pass (for `--jobs`).
    queued: Duration,
}

mod steps;
mod task;

use task::Task;

/// What one attempt came to, before the decision.
pub(super) enum Observed {
    /// The answer was judged, or none came (`unjudged`): the classification table's answer.
    Judged {
        classification: Classification,
        unjudged: bool,
    },
    /// The harness settled it without judging (the recorded endpoint's own verdict).
    Settled(Settled),
}

impl Attempt {
    /// What this attempt came to, kept on the case's outcome whether or not it is retried.
    fn result(&self) -> AttemptResult {
        let (class, rule) = match &self.observed {
            Observed::Judged { classification, .. } => (classification.class, classification.rule),
            Observed::Settled(_) => (crate::model::class::Class::ConfigurationDrift, "replay"),
        };
        AttemptResult {
            status: self.out.status,
            class,
            rule,
            latency_ms: self.out.latency_ms,
            failures: self.out.failures.clone(),
        }
    }
}

impl Observed {
    /// Whether a live client may send the same request again.
    fn retryable(&self) -> bool {
        matches!(self, Observed::Judged { classification, .. } if classification.class.retryable())
    }
}

impl Runner {
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

    /// Requests sent so far and the budget, when one is set.
    pub fn budget(&self) -> Option<(usize, usize)> {
        self.budget.as_ref().map(|b| (b.used(), b.limit()))
    }

    /// Runs one plan against one endpoint. Never panics on what the endpoint sends; every
    /// outcome leaves sanitized.
    pub async fn run(&self, plan: &Plan, endpoint: &Endpoint) -> CaseOutcome {
        self.run_watched(plan, endpoint, &Gate::open(), &mut ())
            .await
    }

    /// [`Runner::run`], with the run's requests in flight limited by `gate`, every answer shown
    /// to `watch` as it comes (recording is a watcher).
    pub async fn run_watched(
        &self,
        plan: &Plan,
        endpoint: &Endpoint,
        gate: &Gate,
        watch: &mut dyn Watch,
    ) -> CaseOutcome {
        let out = self.run_inner(plan, endpoint, gate, watch).await;
        self.sanitizer.outcome(out)
    }

    fn compare_cx(&self) -> compare::CompareCx<'_> {
        compare::CompareCx {
            fixtures: &self.fixtures,
            sanitizer: &self.sanitizer,
            strict: self.options.strict,
        }
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
        watch: &mut dyn Watch,
    ) -> CaseOutcome {
        let mut out = blank(plan, endpoint.mode);
        if let Some(reason) = &plan.skip {
            let s = Settled::SkippedByTarget {
                target: plan.target.name.clone(),
                reason: reason.clone(),
            };
            return decided(out, verdict::settled(&s));
        }
        if let Some(c) = plan
            .case
            .requires
            .iter()
            .find(|c| plan.target.offers(c.name) == Some(false))
        {
            let s = Settled::NotOffered {
                target: plan.target.name.clone(),
                capability: c.name.to_string(),
            };
            return decided(out, verdict::settled(&s));
        }
        let fixture = self.fixtures.get(&plan.target.name, &plan.case.id);
        let fixture_path = self.fixtures.path(&plan.target.name, &plan.case.id);
        if endpoint.mode == Mode::Recorded {
            if plan.case.live_only {
                return decided(out, verdict::settled(&Settled::LiveOnly));
            }
            if fixture.is_none() {
                // A suite that grew: skipped, with how to record it; failed when fixtures are
                // required.
                let required = self.options.require_fixtures;
                let missing = FixtureFault::Missing {
                    path: fixture_path.display().to_string(),
                    hint: compare::record_hint(plan),
                };
                if required {
                    out.failures.push(Failure::Fixture(missing));
                } else {
                    out.notes.push(Failure::Fixture(missing).to_string());
                }
                out.drift = Drift::NotRun {
                    reason: "no pinned fixture".into(),
                };
                let s = Settled::NotRecorded {
                    target: plan.target.name.clone(),
                    required,
                };
                return decided(out, verdict::settled(&s));
            }
        }
        let once = |first| Once {
            fixture: fixture.as_deref(),
            fixture_path: &fixture_path,
            first,
            step: None,
        };
        if !plan.case.steps.is_empty() {
            return self
                .run_steps(plan, endpoint, gate, watch, once(0))
                .await;
        }
        if plan.case.repeat <= 1 {
            return self.run_once(plan, endpoint, gate, watch, once(0)).await.0;
        }
        // A repeated case: runs until its result is known, each decided on its own; the run that
        // decides speaks for the case, and every run is listed.
        let (times, pass) = (plan.case.repeat, plan.case.pass);
        let mut runs: Vec<CaseOutcome> = Vec::new();
        let mut sent = 0;
        let verdicts = |runs: &[CaseOutcome]| runs.iter().map(|o| o.verdict).collect::<Vec<_>>();
        while verdict::another_run(pass, &verdicts(&runs), times) {
            let (o, n) = self.run_once(plan, endpoint, gate, watch, once(sent)).await;
            sent += n;
            runs.push(o);
        }
        let briefs: Vec<_> = runs
            .iter()
            .map(|o| (o.verdict, o.class, o.reason.clone()))
            .collect();
        let (at, decision) = verdict::repeated(pass, &briefs, times);
        let repeats = runs.iter().map(RepeatRun::of).collect();
        let case_ms = runs.iter().map(|o| o.case_ms).sum();
        let mut out = runs.swap_remove(at);
        out.repeats = repeats;
        out.case_ms = case_ms;
        match decision {
            Some(d) => decided(out, d),
            None => out,
        }
    }

    /// One run of a case (or of one of its steps): its request, retried as the target's policy
    /// says, judged and decided. `once.first` is how many requests the case sent before it
    /// (offline, the n-th request is served the n-th recorded answer); returns the outcome and
    /// the requests this run sent.
    async fn run_once(
        &self,
        plan: &Plan,
        endpoint: &Endpoint,
        gate: &Gate,
        watch: &mut dyn Watch,
        once: Once<'_>,
    ) -> (CaseOutcome, usize) {
        let Once {
            fixture,
            fixture_path,
            first,
            step,
        } = once;
        let mut out = blank(plan, endpoint.mode);
        let mut outgoing = match crate::exchange::request::outgoing(plan, endpoint) {
            Ok(o) => o,
            Err(message) => {
                out.failures.push(Failure::Config {
                    message: message.clone(),
                });
                return (decided(out, verdict::settled(&Settled::NoKey { message })), 0);
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
        let mut attempts = Vec::new();
        let mut waits_ms = Vec::new();
        let mut note = None;
        let mut retry = 0u32;
        if let Some(b) = &self.budget {
            if !b.take() {
                out.failures.push(Failure::Budget { limit: b.limit() });
                out.drift = Drift::NotRun {
                    reason: "not sent".into(),
                };
                let s = Settled::BudgetSpent { limit: b.limit() };
                return (decided(out, verdict::settled(&s)), 0);
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
                    fixture,
                    first + retry as usize,
                    step,
                    gate,
                    watch,
                )
                .await;
            if retry == 0 {
                // The first request's wait for its turn is queueing, not the case's time.
                started += attempt.queued;
            }
            attempts.push(attempt.result());
            if !attempt.observed.retryable() || retry + 1 >= policy.attempts {
                break attempt;
            }
            let (wait, source) = retry::wait(&policy, retry, attempt.hint, &self.jitter);
            let remaining = deadline.saturating_sub(started.elapsed());
            // The wait as it is slept (`--time-scale`) must fit too, or a case outlives its
            // deadline.
            let scaled = crate::util::time::scaled(wait, self.options.time_scale);
            if wait > remaining || scaled > remaining {
                let as_slept = if wait > remaining {
                    String::new()
                } else {
                    format!(
                        " ({} ms at --time-scale {})",
                        scaled.as_millis(),
                        self.options.time_scale
                    )
                };
                note = Some(format!(
                    "{} of {} ms{as_slept} is past the case's remaining deadline ({} ms): not retried",
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
            if !scaled.is_zero() {
                tokio::time::sleep(scaled).await;
            }
            retry += 1;
        };
        if let Some(f) = fixture {
            self.fixture_age(f, fixture_path, &mut out);
        }
        out.client_request_id = Some(client_request_id);
        out.retries = retry;
        out.attempt_statuses = attempts.iter().map(|a: &AttemptResult| a.status).collect();
        let attempts_sent = attempts.len();
        out.attempts = attempts;
        out.retry_waits_ms = waits_ms;
        out.case_ms = ms(started.elapsed());
        let refusal = match &observed {
            Observed::Judged { .. } => out
                .status
                .and_then(|s| crate::judge::capability::refused(plan, s, out.error.as_ref())),
            Observed::Settled(_) => None,
        };
        let required = refusal.as_ref().is_some_and(|r| {
            let named = |names: &[String]| names.iter().any(|n| n == r.capability);
            named(&plan.target.required) || named(&self.options.require)
        });
        let decision = match &observed {
            Observed::Settled(settled) => verdict::settled(settled),
            Observed::Judged {
                classification,
                unjudged,
            } => verdict::answered(&verdict::Answered {
                observed: classification,
                unjudged: *unjudged,
                failures: &out.failures,
                deviations: &out.deviations,
                strict: self.options.strict || plan.case.strict || plan.target.strict,
                expected: plan.expect.class,
                attempts: retry + 1,
                max_attempts: policy.attempts,
                stopped: note.as_deref(),
                quota_is_skip: self.options.quota_is_skip,
                refusal: refusal.as_ref(),
                required,
            }),
        };
        (decided(out, decision), attempts_sent)
    }

    /// Notes an old fixture, or fails the case past `--max-fixture-age`.
    fn fixture_age(&self, f: &Fixture, path: &std::path::Path, out: &mut CaseOutcome) {
        let Some(age) = crate::util::time::age_days(f.provenance.date(), SystemTime::now()) else {
            return;
        };
        let hint = format!(
            "re-record it: `llm-contract record --target {} --case {}`",
            out.target, out.case
        );
        match self.options.max_fixture_age_days {
            Some(max) if age > max => out.failures.push(Failure::Fixture(FixtureFault::TooOld {
                path: path.display().to_string(),
                age_days: age,
                max_days: max,
                hint,
            })),
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
        step: Option<(&str, Option<&FixtureRequest>)>,
        gate: &Gate,
        watch: &mut dyn Watch,
    ) -> Attempt {
        let mut out = blank(plan, endpoint.mode);
        let family = plan.case.family;
        // Frames are kept for drift only when there is a baseline to compare them with.
        let collect_shape = fixture.is_some_and(|f| {
            endpoint.mode == Mode::Recorded || matches!(f.provenance, Provenance::Recorded { .. })
        });
        let mut shape = StreamShape::default();
        let mut sink = StreamCheck::for_plan(&self.schemas, plan)
        .watching(collect_shape.then_some(&mut shape as &mut dyn FrameWatch));
        // A task family polls with the submit's credential and deadlines.
        let submit = family.poll.map(|_| outgoing.clone());
        // Everything that can be done before it is this case's turn to send is done first.
        let prepared = self.client.prepare(outgoing);
        let queued = Instant::now();
        let pass = gate.pass().await;
        let queued = queued.elapsed();
        let mut tap = RawTap::new(&mut sink, watch.wants_raw());
        let sent = self.client.send_prepared(prepared, &mut tap).await;
        let raw = tap.into_pieces();
        gate.give_back(pass).await;
        match sent {
            Err(e) => {
                let observed = Observed::Judged {
                    classification: judge::exchange::transport_failure(&mut out, e),
                    unjudged: true,
                };
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
                let fixture_path = self.fixtures.path(&plan.target.name, &plan.case.id);
                let settled = match endpoint.mode {
                    Mode::Recorded => replay::settle(&mut out, &received, &fixture_path),
                    Mode::Live => None,
                };
                let judged = match settled {
                    Some(s) => Err(s),
                    None => Ok(
                        judge::exchange::judge(&self.schemas, plan, &received, &mut sink)
                            .record_into(&mut out),
                    ),
                };
                let asked = match step {
                    Some((name, request)) => Asked::Step { name, request },
                    None => Asked::Case,
                };
                watch.answer(asked, &received, raw);
                drop(sink);
                match judged {
                    Ok((classification, unjudged)) => {
                        compare::compare(
                            &self.compare_cx(),
                            plan,
                            &mut out,
                            &received,
                            shape,
                            fixture,
                            compare::Step::Request(index),
                        );
                        let accepted = (200..300).contains(&received.status)
                            && classification.class == Class::Ok
                            && !unjudged
                            && out.failures.is_empty();
                        let mut observed = Observed::Judged {
                            classification,
                            unjudged,
                        };
                        if let (Some(spec), Some(submit), true) = (&family.poll, &submit, accepted)
                        {
                            let task = Task {
                                spec,
                                submit,
                                submitted: &received,
                                fixture,
                                index,
                            };
                            observed = self
                                .follow(plan, endpoint, task, gate, &mut out, watch)
                                .await;
                        }
                        Attempt {
                            out,
                            observed,
                            hint,
                            queued,
                        }
                    }
                    Err(settled) => Attempt {
                        out,
                        observed: Observed::Settled(settled),
                        hint: None,
                        queued,
                    },
                }
            }
        }
    }
}

/// The outcome with the decision applied: its verdict, class and reason, and the class failure
/// where the decision lists one. The only place an outcome's verdict and class are set.
pub(crate) fn decided(mut out: CaseOutcome, d: Decision) -> CaseOutcome {
    out.verdict = d.verdict;
    out.class = d.class;
    out.reason = d.reason;
    if let Some((at, f)) = d.class_failure {
        out.failures.insert(at, f);
    }
    out
}

/// Where one run of a case stands: its fixture, how many requests the case sent before it, and
/// which step it is (with its request as a recording pins it).
#[derive(Clone, Copy)]
struct Once<'a> {
    fixture: Option<&'a Fixture>,
    fixture_path: &'a std::path::Path,
    first: usize,
    step: Option<(&'a str, Option<&'a FixtureRequest>)>,
}

pub(crate) fn blank(plan: &Plan, mode: Mode) -> CaseOutcome {
    CaseOutcome {
        expected_status: plan.expect.status.clone(),
        expected_class: plan.expect.class,
        endpoint: plan
            .path
            .clone()
            .unwrap_or_else(|| plan.case.family.path.to_string()),
        model: plan.model().map(str::to_string),
        stream: plan.case.streams(),
        family: plan.case.family.name,
        description: plan.case.description.clone(),
        requires: plan.case.requires.iter().map(|c| c.name).collect(),
        tags: plan.case.tags.clone(),
        ..CaseOutcome::new(&plan.id, &plan.target.name, &plan.case.id, mode)
    }
}
