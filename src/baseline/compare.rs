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
        out.unpinned = mode == Mode::Live;
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
        out.unpinned = true;
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
        (Mode::Live, Step::Request(_)) => match &plan.step {
            // A step's baseline is the last answer recorded for that step.
            Some(name) => match fixture
                .responses
                .iter()
                .rev()
                .find(|r| r.step.as_deref() == Some(name.as_str()))
            {
                Some(r) => r,
                None => {
                    out.drift = Drift::NotRun {
                        reason: format!("the fixture holds no answer for step {name}"),
                    };
                    return;
                }
            },
            None => fixture
                .responses
                .iter()
                .rev()
                .find(|r| r.request.is_none() && r.step.is_none())
                .unwrap_or(fixture.last()),
        },
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
    let labelled = drift::labelled(&pinned_doc, &received_doc, &policy);
    if labelled.labels.is_empty() {
        out.drift = Drift::Match;
        return;
    }
    if labelled.fails {
        let path = cx.fixtures.path(&plan.target.name, &plan.case.id);
        out.failures.push(drift_failure(
            path.display().to_string(),
            &pinned_doc,
            &received_doc,
            &labelled,
        ));
    }
    let labels = labelled.labels;
    out.drift = Drift::Changed { labels };
}

/// The drift failure: the labels kept, how many were left out, and a diff of the canonical
/// documents (at most [`drift::MAX_DIFF_LINES`] lines; left out when a document is over
/// [`drift::MAX_DIFF_INPUT`] bytes in canonical form, so a huge body costs no huge diff).
fn drift_failure(
    fixture: String,
    pinned_doc: &serde_json::Value,
    received_doc: &serde_json::Value,
    labelled: &drift::Labelled,
) -> Failure {
    let within = |v| drift::canonical_within(v, drift::MAX_DIFF_INPUT);
    let diff = match (within(pinned_doc), within(received_doc)) {
        (Some(pinned), Some(received)) => drift::diff(&pinned, &received, &fixture, "received")
            .unwrap_or_default()
            .trim_end()
            .to_string(),
        _ => format!(
            "(the diff is left out: a document is over {} KiB in canonical form; the changes are labelled above)",
            drift::MAX_DIFF_INPUT / 1024
        ),
    };
    Failure::Drift {
        fixture,
        labels: labelled.labels.clone(),
        more_labels: labelled.more,
        diff,
    }
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

/// How to pin a baseline for the plan's case: `record` with the target and every endpoint flag
/// the run was given (a base URL is shown by its alias wherever an outcome is shown; `run` ends
/// with the whole command).
pub fn record_hint(plan: &Plan) -> String {
    let mut flags = String::new();
    for (flag, value) in &plan.target.endpoint_flags {
        flags.push_str(&format!(" {flag} {}", crate::util::text::shell_word(value)));
    }
    format!(
        "pin one with `llm-contract record --target {}{flags} --case {}` against a live endpoint",
        plan.target.name, plan.case.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    fn wide(prefix: &str, n: usize) -> Value {
        let body: Map<String, Value> = (0..n)
            .map(|i| (format!("{prefix}{i:06}"), Value::from(i)))
            .collect();
        drift::exchange_document(200, Some("application/json"), [], Value::Object(body))
    }

    #[test]
    fn a_huge_drift_is_listed_within_caps_saying_what_was_left_out() {
        // Two bodies of 400k keys, none shared: 800k changes.
        let (pinned, received) = (wide("a", 400_000), wide("b", 400_000));
        let policy = crate::model::drift::DriftPolicy::default();
        let labelled = drift::labelled(&pinned, &received, &policy);
        let f = drift_failure("fixtures/t/c.json".into(), &pinned, &received, &labelled);
        let Failure::Drift {
            labels,
            more_labels,
            diff,
            ..
        } = &f
        else {
            panic!("{f:?}")
        };
        assert_eq!(labels.len(), drift::MAX_LABELS);
        assert_eq!(labels.len() + more_labels, 800_000);
        assert!(diff.lines().count() <= drift::MAX_DIFF_LINES + 3, "{diff}");
        let text = f.to_string();
        assert!(text.len() < 64 * 1024, "{} bytes", text.len());
        assert!(text.contains("799950 more changes left out"), "{text}");
        assert!(text.contains("left out"), "{text}");
    }

    #[test]
    fn a_long_diff_is_cut_at_the_cap_with_a_count() {
        let pinned = wide("a", 2_000);
        let mut received = pinned.clone();
        for i in (0..2_000).step_by(2) {
            received["body"][format!("a{i:06}")] = Value::from("changed");
        }
        let policy = crate::model::drift::DriftPolicy::strict();
        let labelled = drift::labelled(&pinned, &received, &policy);
        let f = drift_failure("p".into(), &pinned, &received, &labelled);
        let Failure::Drift { diff, .. } = &f else {
            panic!("{f:?}")
        };
        let lines: Vec<&str> = diff.lines().collect();
        assert!(lines.len() <= drift::MAX_DIFF_LINES + 1, "{}", lines.len());
        assert!(
            lines.last().unwrap().contains("more diff lines left out"),
            "{:?}",
            lines.last()
        );
    }
}
