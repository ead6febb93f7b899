//! `junit.xml`, written with quick-junit: one `<testsuite>` per target, one `<testcase>` per case.
//!
//! A contract violation (verdict `fail`) is a `<failure>`, a case that could not be judged (verdict
//! `error`: transport or harness) an `<error>`, a skip `<skipped>`. The failure's text is the
//! terminal's text without colour ([`terminal_text`]); its `message` is the reason and its `type`
//! the operator class. Class, status, retries, latencies and the other observability fields are
//! the test case's `<properties>`.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::{terminal_text, ReportError, Reports};
use crate::outcome::{CaseOutcome, Verdict};

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64((v.max(0.0)) / 1e3)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// The properties of one case, in a fixed order.
pub fn properties(o: &CaseOutcome) -> Vec<Property> {
    let statuses = |s: &[u16]| s.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    let mut p = vec![
        ("verdict", o.verdict.as_str().to_string()),
        ("class", o.class.as_str().to_string()),
        ("expected_class", o.expected_class.as_str().to_string()),
        ("status", opt(o.status)),
        ("expected_status", statuses(&o.expected_status)),
        ("retries", o.retries.to_string()),
        ("latency_ms", format!("{:.3}", o.latency_ms)),
        ("ttfb_ms", opt(o.ttfb_ms.map(|v| format!("{v:.3}")))),
        (
            "first_token_ms",
            opt(o.first_token_ms.map(|v| format!("{v:.3}"))),
        ),
        ("case_ms", format!("{:.3}", o.case_ms)),
        ("client_request_id", opt(o.client_request_id.as_deref())),
        ("endpoint", o.endpoint.clone()),
        ("model", opt(o.model.as_deref())),
        ("stream", o.stream.to_string()),
        ("finish_reason", opt(o.finish_reason.as_deref())),
        ("parser_outcome", opt(o.parser_outcome.map(|p| p.as_str()))),
    ];
    if let Some(u) = &o.usage {
        p.push(("prompt_tokens", opt(u.prompt_tokens)));
        p.push(("completion_tokens", opt(u.completion_tokens)));
        p.push(("total_tokens", opt(u.total_tokens)));
    }
    p.into_iter().map(|(k, v)| Property::new(k, v)).collect()
}

fn test_case(o: &CaseOutcome) -> TestCase {
    let mut status = match o.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Verdict::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
        Verdict::Skip => TestCaseStatus::skipped(),
    };
    if o.verdict != Verdict::Pass {
        status
            .set_message(o.reason.as_str())
            .set_type(o.class.as_str())
            .set_description(terminal_text(o));
    }
    let mut tc = TestCase::new(o.case.as_str(), status);
    tc.set_classname(o.target.as_str())
        .set_time(ms(o.case_ms.max(o.latency_ms)))
        .add_properties(properties(o));
    tc
}

pub fn render(r: &Reports) -> Result<String, ReportError> {
    let mut report = Report::new("llm-contract");
    let mut total = Duration::ZERO;
    for (target, cases) in r.by_target() {
        let mut suite = TestSuite::new(target);
        suite.add_properties([
            Property::new("run_id", r.info.run_id.as_str()),
            Property::new("started_at", r.info.run_id.started_at()),
            Property::new(
                "mode",
                match r.info.mode {
                    crate::outcome::Mode::Live => "live",
                    crate::outcome::Mode::Recorded => "recorded",
                },
            ),
            Property::new("base_url_alias", target),
        ]);
        let time: Duration = cases.iter().map(|o| ms(o.case_ms.max(o.latency_ms))).sum();
        suite.set_time(time);
        total += time;
        suite.add_test_cases(cases.into_iter().map(test_case));
        report.add_test_suite(suite);
    }
    report.set_time(total);
    Ok(report.to_string()?)
}
