//! Comparing a received exchange with its pinned fixture: which recorded answer is the baseline,
//! the canonical documents, the labelled changes, and the drift failure a policy asks for.

use crate::baseline::drift::{self, StreamShape};
use crate::baseline::sanitize::Sanitizer;
use crate::contract::fixtures::FixtureStore;
use crate::exchange::transport::{self, Received, ReceivedBody};
use crate::model::failure::Failure;
use crate::model::fixture::{Fixture, Provenance};
use crate::model::outcome::{CaseOutcome, Drift, Mode};
use crate::model::plan::Plan;

/// What a comparison needs of the run.
pub struct CompareCx<'a> {
    pub fixtures: &'a FixtureStore,
    pub sanitizer: &'a Sanitizer,
    /// `--strict`: every kind of drift fails.
    pub strict: bool,
}

pub fn compare(
    cx: &CompareCx<'_>,
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
        ReceivedBody::Bytes(b) => drift::body_value(b, cx.sanitizer),
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
        (Mode::Recorded, Step::Request(n)) | (Mode::Recorded, Step::Poll(n)) => fixture.nth(n),
        (Mode::Live, Step::Poll(_)) => fixture.last(),
        (Mode::Live, Step::Request(_)) => fixture
            .responses
            .iter()
            .rev()
            .find(|r| r.request.is_none())
            .unwrap_or(fixture.last()),
    };
    let pinned_doc = drift::pinned_document(pinned_response);
    let policy = if cx.strict {
        crate::model::drift::DriftPolicy::strict()
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
        let path = cx.fixtures.path(&plan.target.name, &plan.case.id);
        let (pinned, received) = (
            drift::canonical(&pinned_doc),
            drift::canonical(&received_doc),
        );
        let diff = drift::diff(&pinned, &received, &path.display().to_string(), "received")
            .unwrap_or_default();
        out.failures.push(Failure::Drift {
            fixture: path.display().to_string(),
            labels: labels.clone(),
            diff: diff.trim_end().to_string(),
        });
    }
    out.drift = Drift::Changed { labels };
}

/// Which request of a case an answer came from, for choosing its drift baseline: the n-th
/// request (an attempt of the case's own request), or a task's poll that was the n-th request.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Request(usize),
    Poll(usize),
}

/// The drift of a submit and of its task's last poll, as one result.
pub fn merge_drift(submit: Drift, last: Drift) -> Drift {
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

pub fn record_hint(plan: &Plan) -> String {
    format!(
        "pin one with `llm-contract record --target {} --case {}` against a live endpoint",
        plan.target.name, plan.case.id
    )
}
