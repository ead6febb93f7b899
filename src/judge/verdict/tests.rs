//! The verdict table's tests: every row reached, in order.
use super::*;

fn observed(class: Class) -> Classification {
    Classification {
        class,
        reason: "HTTP 000 (rule x)".into(),
        rule: "x",
    }
}

fn deviation() -> Deviation {
    Deviation {
        name: "tool_calls_null",
        pointer: "/choices/0/message/tool_calls".into(),
        rule: "r",
        source: "s",
        count: 1,
    }
}

fn status_failure() -> Failure {
    Failure::Status {
        expected: vec![200],
        got: 500,
    }
}

struct Row {
    name: &'static str,
    class: Class,
    unjudged: bool,
    failures: Vec<Failure>,
    expected: Class,
    attempts: (u32, u32),
    stopped: Option<&'static str>,
    quota_is_skip: bool,
    deviations: Vec<Deviation>,
    strict: bool,
    want: (Verdict, Class, &'static str),
    reason_starts: &'static str,
    class_failure_at: Option<usize>,
}

fn row(name: &'static str, class: Class, want: (Verdict, Class, &'static str)) -> Row {
    Row {
        name,
        class,
        unjudged: false,
        failures: Vec::new(),
        expected: Class::Ok,
        attempts: (1, 3),
        stopped: None,
        quota_is_skip: false,
        deviations: Vec::new(),
        strict: false,
        want,
        reason_starts: "HTTP 000",
        class_failure_at: None,
    }
}

#[test]
fn the_table_decides_every_answer() {
    let rows = vec![
        row(
            "a clean answer passes",
            Class::Ok,
            (Verdict::Pass, Class::Ok, "answer.passed"),
        ),
        Row {
            failures: vec![status_failure()],
            reason_starts: "the answer succeeded but broke the contract",
            ..row(
                "an ok answer with a failure broke the contract",
                Class::Ok,
                (Verdict::Fail, Class::ContractDrift, "answer.broke_contract"),
            )
        },
        Row {
            expected: Class::RefreshCredentials,
            reason_starts: "a successful answer where refresh_credentials was due",
            class_failure_at: Some(0),
            ..row(
                "a 200 where a 401 was due",
                Class::Ok,
                (Verdict::Fail, Class::ContractDrift, "answer.broke_contract"),
            )
        },
        Row {
            expected: Class::RefreshCredentials,
            ..row(
                "the expected error class passes",
                Class::RefreshCredentials,
                (Verdict::Pass, Class::RefreshCredentials, "answer.passed"),
            )
        },
        Row {
            expected: Class::FixRequest,
            failures: vec![status_failure()],
            class_failure_at: Some(1),
            ..row(
                "another class fails, after the status failure",
                Class::Retry,
                (Verdict::Fail, Class::Retry, "answer.failed"),
            )
        },
        Row {
            unjudged: true,
            failures: vec![Failure::Transport {
                deadline: None,
                message: "reset".into(),
            }],
            ..row(
                "no response is an error with the table's class",
                Class::Retry,
                (Verdict::Error, Class::Retry, "answer.unjudged"),
            )
        },
        Row {
            unjudged: true,
            attempts: (3, 3),
            reason_starts: "still transient after 3 attempts, fall back",
            ..row(
                "a transient failure that outlived its attempts falls back",
                Class::Retry,
                (Verdict::Error, Class::FallBack, "answer.unjudged"),
            )
        },
        Row {
            unjudged: true,
            attempts: (2, 3),
            stopped: Some("the backoff of 9000 ms is past the deadline: not retried"),
            ..row(
                "a retry stopped early does not fall back, and says why",
                Class::Retry,
                (Verdict::Error, Class::Retry, "answer.unjudged"),
            )
        },
        Row {
            expected: Class::Ok,
            quota_is_skip: true,
            class_failure_at: Some(0),
            ..row(
                "quota counted as skipped",
                Class::Quota,
                (Verdict::Skip, Class::Quota, "answer.quota_skipped"),
            )
        },
        Row {
            deviations: vec![deviation()],
            ..row(
                "deviations alone pass, listed",
                Class::Ok,
                (Verdict::Pass, Class::Ok, "answer.passed"),
            )
        },
        Row {
            deviations: vec![deviation()],
            strict: true,
            reason_starts: "strict: the answer deviates from the spec (tool_calls_null)",
            ..row(
                "deviations fail a strict case",
                Class::Ok,
                (Verdict::Fail, Class::ContractDrift, "answer.strict_deviation"),
            )
        },
        Row {
            deviations: vec![deviation()],
            strict: true,
            failures: vec![status_failure()],
            reason_starts: "the answer succeeded but broke the contract",
            ..row(
                "a failure is still the failure, strict or not",
                Class::Ok,
                (Verdict::Fail, Class::ContractDrift, "answer.broke_contract"),
            )
        },
        Row {
            expected: Class::Quota,
            quota_is_skip: true,
            ..row(
                "an expected quota still passes",
                Class::Quota,
                (Verdict::Pass, Class::Quota, "answer.passed"),
            )
        },
    ];
    for r in rows {
        let o = observed(r.class);
        let d = answered(&Answered {
            observed: &o,
            unjudged: r.unjudged,
            failures: &r.failures,
            expected: r.expected,
            attempts: r.attempts.0,
            max_attempts: r.attempts.1,
            stopped: r.stopped,
            quota_is_skip: r.quota_is_skip,
            refusal: None,
            required: false,
            deviations: &r.deviations,
            strict: r.strict,
        });
        assert_eq!(
            (d.verdict, d.class, *d.rules.last().unwrap()),
            r.want,
            "{}",
            r.name
        );
        assert!(
            d.reason.starts_with(r.reason_starts) || d.reason.contains(r.reason_starts),
            "{}: {}",
            r.name,
            d.reason
        );
        if let Some(n) = r.stopped {
            assert!(d.reason.ends_with(n), "{}: {}", r.name, d.reason);
        }
        assert_eq!(
            d.class_failure.as_ref().map(|(at, _)| *at),
            r.class_failure_at,
            "{}",
            r.name
        );
        // One class per case: the class failure names the case's own class (a success where
        // an error was due is contract_drift there too, never `ok`).
        if let Some((_, Failure::Class { got, .. })) = &d.class_failure {
            assert_eq!(*got, d.class, "{}", r.name);
        }
    }
}

#[test]
fn repeated_runs_stop_once_known_and_the_deciding_run_speaks() {
    use Verdict::{Error, Fail, Pass, Skip};
    let more: &[(PassRule, &[Verdict], bool)] = &[
        (PassRule::All, &[], true),
        (PassRule::All, &[Pass], true),
        (PassRule::All, &[Pass, Pass, Pass], false),
        (PassRule::All, &[Pass, Fail], false),
        (PassRule::Any, &[Fail], true),
        (PassRule::Any, &[Fail, Pass], false),
        (PassRule::Any, &[Fail, Fail, Fail], false),
        (PassRule::Any, &[Error], false),
        (PassRule::All, &[Skip], false),
    ];
    for (pass, runs, want) in more {
        assert_eq!(another_run(*pass, runs, 3), *want, "{pass:?} {runs:?}");
    }
    let run = |v: Verdict, c: Class| (v, c, "r".to_string());
    type Row = (PassRule, Vec<(Verdict, Class, String)>, Option<(Verdict, Class, &'static str)>);
    let table: &[Row] = &[
        (PassRule::All, vec![run(Pass, Class::Ok); 3], Some((Pass, Class::Ok, "repeat.all_passed"))),
        (PassRule::All, vec![run(Pass, Class::Ok), run(Fail, Class::FixRequest)], Some((Fail, Class::FixRequest, "repeat.not_all_passed"))),
        (PassRule::Any, vec![run(Fail, Class::ContractDrift), run(Pass, Class::Ok)], Some((Pass, Class::Ok, "repeat.any_passed"))),
        (PassRule::Any, vec![run(Fail, Class::ContractDrift); 3], Some((Fail, Class::ContractDrift, "repeat.none_passed"))),
        (PassRule::Any, vec![run(Fail, Class::ContractDrift), run(Error, Class::Retry)], None),
    ];
    for (pass, runs, want) in table {
        let (at, d) = repeated(*pass, runs, 3);
        assert_eq!(at, runs.len() - 1);
        let got = d.map(|d| (d.verdict, d.class, *d.rules.last().unwrap()));
        assert_eq!(got, *want, "{pass:?} {runs:?}");
    }
}

#[test]
fn a_refusal_of_a_required_capability_fails_and_of_another_is_unsupported() {
    let refusal = Refusal {
        capability: "n",
        how: "HTTP 400 naming `n`".into(),
    };
    let o = observed(Class::FixRequest);
    let failures = [status_failure()];
    let base = Answered {
        observed: &o,
        unjudged: false,
        failures: &failures,
        expected: Class::Ok,
        attempts: 1,
        max_attempts: 3,
        stopped: None,
        quota_is_skip: false,
        refusal: Some(&refusal),
        required: false,
        deviations: &[],
        strict: false,
    };
    let d = answered(&base);
    assert_eq!(
        (d.verdict, d.class, d.rules.last().copied()),
        (Verdict::Unsupported, Class::Ok, Some("answer.unsupported"))
    );
    assert!(d.reason.starts_with("`n` is not offered: HTTP 400 naming `n`"), "{}", d.reason);
    let d = answered(&Answered { required: true, ..base });
    assert_eq!(
        (d.verdict, d.class, d.rules.last().copied()),
        (Verdict::Fail, Class::ConfigurationDrift, Some("answer.unsupported_required"))
    );
    // A case that passes anyway (it expected the refusal) is a pass, refusal or not.
    let d = answered(&Answered {
        failures: &[],
        expected: Class::FixRequest,
        ..base
    });
    assert_eq!(d.verdict, Verdict::Pass);
    // Nothing judged: an error, whatever the refusal.
    let d = answered(&Answered { unjudged: true, ..base });
    assert_eq!(d.verdict, Verdict::Error);
}

#[test]
fn settled_cases_take_their_row() {
    let table: &[(Settled, Verdict, Class)] = &[
        (
            Settled::SkippedByTarget {
                target: "t".into(),
                reason: "r".into(),
            },
            Verdict::Skip,
            Class::Ok,
        ),
        (Settled::LiveOnly, Verdict::Skip, Class::Ok),
        (
            Settled::NotOffered {
                target: "t".into(),
                capability: "n".into(),
            },
            Verdict::Skip,
            Class::Ok,
        ),
        (
            Settled::NotRecorded {
                target: "t".into(),
                required: false,
            },
            Verdict::Skip,
            Class::Ok,
        ),
        (
            Settled::NotRecorded {
                target: "t".into(),
                required: true,
            },
            Verdict::Fail,
            Class::ConfigurationDrift,
        ),
        (
            Settled::NoKey {
                message: "no API key".into(),
            },
            Verdict::Error,
            Class::RefreshCredentials,
        ),
        (
            Settled::BudgetSpent { limit: 3 },
            Verdict::Error,
            Class::Retry,
        ),
        (
            Settled::Replay {
                mismatch: true,
                reason: "re-record".into(),
            },
            Verdict::Fail,
            Class::ConfigurationDrift,
        ),
        (
            Settled::Replay {
                mismatch: false,
                reason: "no fixture".into(),
            },
            Verdict::Error,
            Class::ConfigurationDrift,
        ),
        (Settled::Panic, Verdict::Error, Class::ContractDrift),
    ];
    for (s, v, c) in table {
        let d = settled(s);
        assert_eq!((d.verdict, d.class), (*v, *c), "{s:?}");
        assert!(!d.reason.is_empty());
        assert!(d.class_failure.is_none());
    }
    assert_eq!(
        settled(&Settled::BudgetSpent { limit: 3 }).reason,
        "the request budget (--max-requests 3) is spent: not sent"
    );
    let not_recorded = |required| Settled::NotRecorded {
        target: "cometapi".into(),
        required,
    };
    assert_eq!(
        settled(&not_recorded(false)).reason,
        "not recorded for cometapi"
    );
    assert_eq!(
        settled(&not_recorded(true)).reason,
        "not recorded for cometapi (--require-fixtures)"
    );
}

#[test]
fn every_row_is_used_and_ids_are_unique() {
    let src = include_str!("../verdict.rs");
    let code = &src[..src.find("#[cfg(test)]").unwrap()];
    for (i, r) in VERDICT_RULES.iter().enumerate() {
        assert!(
            VERDICT_RULES[..i].iter().all(|o| o.id != r.id),
            "{} twice",
            r.id
        );
        assert!(
            code.matches(&format!("\"{}\"", r.id)).count() >= 2,
            "row {} is never named by settled or answered",
            r.id
        );
    }
}

