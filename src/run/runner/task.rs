//! Following a submitted task: its polls, the task's end judged, its last poll compared with the
//! fixture.

use super::{Observed, Runner};
use crate::baseline::compare;
use crate::baseline::drift::StreamShape;
use crate::baseline::replay;
use crate::exchange::endpoint::Endpoint;
use crate::exchange::gate::Gate;
use crate::exchange::poll;
use crate::exchange::transport::{Outgoing, Received, ReceivedBody};
use crate::exchange::watch::{Asked, Watch};
use crate::judge;
use crate::judge::body as check;
use crate::judge::classify::{self, Classification};
use crate::judge::stream::StreamCheck;
use crate::model::failure::{Failure, Polled, TaskFault};
use crate::model::family::PollSpec;
use crate::model::fixture::Fixture;
use crate::model::observation::{BodyKind, Observation, TaskEnd};
use crate::model::outcome::TaskOutcome;
use crate::model::outcome::{ms, CaseOutcome, Drift, Mode};
use crate::model::plan::Plan;
use serde_json::Value;

/// A submitted task, for the poll loop.
pub(super) struct Task<'a> {
    pub(super) spec: &'a PollSpec,
    pub(super) submit: &'a Outgoing,
    pub(super) submitted: &'a Received,
    pub(super) fixture: Option<&'a Fixture>,
    /// The submit's request index (its attempt).
    pub(super) index: usize,
}

impl Runner {
    /// Polls a submitted task to its end and judges it: the task's status decides the class, the
    /// last poll is checked against the family's task schema and compared with the fixture.
    pub(super) async fn follow(
        &self,
        plan: &Plan,
        endpoint: &Endpoint,
        task: Task<'_>,
        gate: &Gate,
        out: &mut CaseOutcome,
        watch: &mut dyn Watch,
    ) -> Observed {
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
        for (path, r) in &report.exchanges {
            let asked = Asked::Poll {
                path,
                task_id: report.task_id.as_deref(),
            };
            watch.answer(asked, r, None);
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
        let polled = Polled {
            id: id.clone(),
            polls: report.polls,
            trail: trail.clone(),
        };
        let end = match report.end {
            poll::PollEnd::NoId => {
                out.failures.push(Failure::Task(TaskFault::NoId {
                    looked_at: task.spec.id.join(", "),
                }));
                let obs = Observation {
                    status: Some(task.submitted.status),
                    body: Some(BodyKind::Json),
                    schema_ok: Some(false),
                    ..Observation::default()
                };
                return judged(classify::classify(&obs), false);
            }
            poll::PollEnd::Transport(e) => {
                let c = judged(judge::exchange::transport_failure(out, e), true);
                out.failures.insert(
                    0,
                    Failure::Task(TaskFault::PollFailed {
                        poll: report.polls + 1,
                        id: id.clone(),
                    }),
                );
                return c;
            }
            poll::PollEnd::Http(received) => {
                let chunk = task.spec.schema;
                let mut sink = StreamCheck::new(
                    &self.schemas,
                    chunk,
                    chunk,
                    crate::judge::family::grammar(plan.case.family),
                );
                let fixture_path = self.fixtures.path(&plan.target.name, &plan.case.id);
                let settled = match endpoint.mode {
                    Mode::Recorded => replay::settle(out, &received, &fixture_path),
                    Mode::Live => None,
                };
                let c = match settled {
                    Some(s) => Observed::Settled(s),
                    None => {
                        let (c, unjudged) =
                            judge::exchange::judge(&self.schemas, plan, &received, &mut sink)
                                .record_into(out);
                        judged(c, unjudged)
                    }
                };
                out.failures.insert(
                    0,
                    Failure::Task(TaskFault::PollAnswered {
                        poll: report.polls,
                        id: id.clone(),
                        status: received.status,
                        trail: trail.clone(),
                    }),
                );
                return c;
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
                crate::judge::assert::on_answer(&self.schemas, plan, doc, &mut out.failures);
            } else {
                out.notes.extend(crate::judge::assert::unchecked(
                    plan,
                    "the task did not end done",
                ));
            }
        }
        out.finish_reason = last_status.clone();
        out.error = report.error.clone();
        match end {
            TaskEnd::Done => out.notes.push(format!("task: done: {polled}")),
            TaskEnd::Failed => out.failures.push(Failure::Task(TaskFault::Failed {
                polled,
                error: report.error.clone(),
            })),
            TaskEnd::FailedNoDetail => out
                .failures
                .push(Failure::Task(TaskFault::FailedNoDetail { polled })),
            TaskEnd::Cancelled => out
                .failures
                .push(Failure::Task(TaskFault::Cancelled { polled })),
            TaskEnd::Stuck => out.failures.push(Failure::Task(TaskFault::Stuck {
                polled,
                last_status: last_status.clone(),
                counted_ms: report.counted.as_millis(),
                deadline_ms: settings.deadline_ms,
                max_polls: settings.max_polls,
                progress: report.progress,
            })),
            TaskEnd::UnknownStatus => out.failures.push(Failure::Task(TaskFault::UnknownStatus {
                polled,
                status: last_status.clone(),
                known: format!(
                    "known: done {}; failed {}; cancelled {}; pending {}",
                    task.spec.done.join(", "),
                    task.spec.failed.join(", "),
                    task.spec.cancelled.join(", "),
                    task.spec.pending.join(", ")
                ),
            })),
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
            compare::compare(
                &self.compare_cx(),
                plan,
                out,
                last,
                StreamShape::default(),
                task.fixture,
                compare::Step::Poll(at),
            );
            out.drift = compare::merge_drift(
                submit_drift,
                std::mem::replace(
                    &mut out.drift,
                    Drift::NotRun {
                        reason: String::new(),
                    },
                ),
            );
        }
        judged(classify::classify(&obs), false)
    }
}

fn judged(classification: Classification, unjudged: bool) -> Observed {
    Observed::Judged {
        classification,
        unjudged,
    }
}
