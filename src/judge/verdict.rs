//! The one place that decides a case's verdict and class.
//!
//! The classification table ([`crate::judge::classify::RULES`]) says what an answer asks of an
//! operator. This module turns that, the failures the checks found and what the harness itself
//! settled (a skip, a missing fixture, a spent budget, the recorded endpoint's own verdict, a
//! panic) into the case's verdict, class and reason. [`settled`] and [`answered`] are pure
//! functions, and every branch of them names a row of [`VERDICT_RULES`], which holds the verdict
//! and class it gives.

use crate::judge::capability::Refusal;
use crate::judge::classify::Classification;
use crate::model::class::Class;
use crate::model::failure::Failure;
use crate::model::outcome::Verdict;

/// One row of the verdict table.
#[derive(Debug)]
pub struct VerdictRule {
    pub id: &'static str,
    /// When the row applies, in words.
    // The row's citation, for people and the tests: nothing decides on it.
    #[allow(dead_code)]
    pub when: &'static str,
    pub verdict: Verdict,
    /// The class it gives; `None`: the classification table's class of the answer.
    pub class: Option<Class>,
}

/// The verdict table. [`settled`] and [`answered`] name a row for every outcome; the rows'
/// order is the order in which they are considered.
pub static VERDICT_RULES: &[VerdictRule] = &[
    VerdictRule {
        id: "settled.skipped_by_target",
        when: "the target skips the case (`skip:` in its file)",
        verdict: Verdict::Skip,
        class: Some(Class::Ok),
    },
    VerdictRule {
        id: "settled.live_only",
        when: "a live-only case in an offline run: nothing to replay",
        verdict: Verdict::Skip,
        class: Some(Class::Ok),
    },
    VerdictRule {
        id: "settled.not_offered",
        when: "the case requires a capability the target is declared not to offer",
        verdict: Verdict::Skip,
        class: Some(Class::Ok),
    },
    VerdictRule {
        id: "settled.not_recorded",
        when: "offline, and no fixture is pinned for the case on its target: a suite that grew, the case waits for a recording",
        verdict: Verdict::Skip,
        class: Some(Class::Ok),
    },
    VerdictRule {
        id: "settled.not_recorded_required",
        when: "offline with --require-fixtures, and no fixture is pinned for the case on its target",
        verdict: Verdict::Fail,
        class: Some(Class::ConfigurationDrift),
    },
    VerdictRule {
        id: "settled.no_key",
        when: "the case needs the target's key and none is configured",
        verdict: Verdict::Error,
        class: Some(Class::RefreshCredentials),
    },
    VerdictRule {
        id: "settled.budget_spent",
        when: "the run's request budget (--max-requests) was spent before the case was sent",
        verdict: Verdict::Error,
        class: Some(Class::Retry),
    },
    VerdictRule {
        id: "settled.replay_mismatch",
        when: "the recorded endpoint says the request no longer matches the recorded one",
        verdict: Verdict::Fail,
        class: Some(Class::ConfigurationDrift),
    },
    VerdictRule {
        id: "settled.replay_error",
        when: "the recorded endpoint could not serve the case (no fixture, another verdict)",
        verdict: Verdict::Error,
        class: Some(Class::ConfigurationDrift),
    },
    VerdictRule {
        id: "settled.panic",
        when: "the harness itself failed while running the case",
        verdict: Verdict::Error,
        class: Some(Class::ContractDrift),
    },
    VerdictRule {
        id: "answer.fall_back",
        when: "a transient failure outlived every attempt: fall back (the class becomes fall_back; the verdict follows from the rows below)",
        verdict: Verdict::Error,
        class: Some(Class::FallBack),
    },
    VerdictRule {
        id: "answer.unjudged",
        when: "no response, or a body that did not arrive whole: nothing could be judged",
        verdict: Verdict::Error,
        class: None,
    },
    VerdictRule {
        id: "answer.unsupported",
        when: "the gateway cleanly refused a capability the case requires and the target does not declare: not offered, not broken",
        verdict: Verdict::Unsupported,
        class: Some(Class::Ok),
    },
    VerdictRule {
        id: "answer.unsupported_required",
        when: "as answer.unsupported, for a capability the run or the target requires (--require, `required:`)",
        verdict: Verdict::Fail,
        class: Some(Class::ConfigurationDrift),
    },
    VerdictRule {
        id: "answer.broke_contract",
        when: "a successful answer (class ok) with failures: the API broke the contract",
        verdict: Verdict::Fail,
        class: Some(Class::ContractDrift),
    },
    VerdictRule {
        id: "answer.failed",
        when: "failures, or a class other than the expected one",
        verdict: Verdict::Fail,
        class: None,
    },
    VerdictRule {
        id: "answer.passed",
        when: "no failure and the expected class",
        verdict: Verdict::Pass,
        class: None,
    },
    VerdictRule {
        id: "answer.quota_skipped",
        when: "a quota outcome that did not pass, with --quota-is-skip: counted as skipped",
        verdict: Verdict::Skip,
        class: Some(Class::Quota),
    },
];

/// The row named `id`.
pub fn rule(id: &str) -> &'static VerdictRule {
    VERDICT_RULES
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no verdict rule `{id}`"))
}

/// What the harness settled without judging an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    SkippedByTarget {
        target: String,
        reason: String,
    },
    LiveOnly,
    /// The case requires a capability the target is declared not to offer.
    NotOffered {
        target: String,
        capability: String,
    },
    /// Offline, no fixture for the case on `target`; `required`: `--require-fixtures`.
    NotRecorded {
        target: String,
        required: bool,
    },
    NoKey {
        message: String,
    },
    BudgetSpent {
        limit: usize,
    },
    /// The recorded endpoint's own verdict; `mismatch` when the request no longer matches.
    Replay {
        mismatch: bool,
        reason: String,
    },
    Panic,
}

/// What a case's attempts came to, for the decision.
#[derive(Debug, Clone, Copy)]
pub struct Answered<'a> {
    /// The classification table's answer for the last attempt.
    pub observed: &'a Classification,
    /// The last attempt got no response, or its body did not arrive whole.
    pub unjudged: bool,
    /// The failures the checks found.
    pub failures: &'a [Failure],
    pub expected: Class,
    /// Attempts made, and allowed.
    pub attempts: u32,
    pub max_attempts: u32,
    /// Why retrying stopped before the attempts ran out (a wait past the deadline, the budget).
    pub stopped: Option<&'a str>,
    pub quota_is_skip: bool,
    /// The answer refused a capability the case requires (see [`crate::judge::capability`]).
    pub refusal: Option<&'a Refusal>,
    /// That capability is required (by the run or the target).
    pub required: bool,
}

/// The decision: a verdict, a class, the reason an operator reads, the rows that decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub verdict: Verdict,
    pub class: Class,
    pub reason: String,
    /// The rows that applied, in order; the last one gave the verdict.
    pub rules: Vec<&'static str>,
    /// The class failure to list (the answer asks for another class than the case expects), with
    /// its place among the failures: after a status failure, else first.
    pub class_failure: Option<(usize, Failure)>,
}

/// Decides a case the harness settled.
pub fn settled(s: &Settled) -> Decision {
    let (id, reason) = match s {
        Settled::SkippedByTarget { target, reason } => (
            "settled.skipped_by_target",
            format!("skipped by target {target}: {reason}"),
        ),
        Settled::LiveOnly => (
            "settled.live_only",
            "live-only case: nothing to replay".to_string(),
        ),
        Settled::NotOffered { target, capability } => (
            "settled.not_offered",
            format!("target {target} does not offer `{capability}` (capabilities: in its file)"),
        ),
        Settled::NotRecorded {
            target,
            required: false,
        } => ("settled.not_recorded", format!("not recorded for {target}")),
        Settled::NotRecorded {
            target,
            required: true,
        } => (
            "settled.not_recorded_required",
            format!("not recorded for {target} (--require-fixtures)"),
        ),
        Settled::NoKey { message } => ("settled.no_key", message.clone()),
        Settled::BudgetSpent { limit } => (
            "settled.budget_spent",
            format!("the request budget (--max-requests {limit}) is spent: not sent"),
        ),
        Settled::Replay {
            mismatch: true,
            reason,
        } => ("settled.replay_mismatch", reason.clone()),
        Settled::Replay {
            mismatch: false,
            reason,
        } => ("settled.replay_error", reason.clone()),
        Settled::Panic => (
            "settled.panic",
            "the harness failed while running this case".to_string(),
        ),
    };
    let r = rule(id);
    Decision {
        verdict: r.verdict,
        class: r.class.unwrap_or(Class::Ok),
        reason,
        rules: vec![r.id],
        class_failure: None,
    }
}

/// Decides a case whose attempts were sent.
///
/// The class is what the endpoint's answer asks of an operator, whether or not the case expected
/// it: a `missing_auth` case passes with `refresh_credentials`, and a 500 carrying
/// `invalid_request` is `fix_request` even where the contract said 400 (the status failure says
/// so). A failing case whose answer was otherwise `ok` (a 200 where a 401 was due, a drifted
/// body) is `contract_drift`.
pub fn answered(a: &Answered<'_>) -> Decision {
    let mut rules = Vec::new();
    let mut class = a.observed.class;
    let mut reason = a.observed.reason.clone();
    if class == Class::Retry
        && a.attempts > 1
        && a.attempts >= a.max_attempts
        && a.stopped.is_none()
    {
        let r = rule("answer.fall_back");
        class = r.class.unwrap_or(class);
        reason = format!(
            "still transient after {} attempts, fall back: {reason}",
            a.attempts
        );
        rules.push(r.id);
    }
    if let Some(n) = a.stopped {
        reason = format!("{reason}; {n}");
    }
    if a.unjudged {
        let r = rule("answer.unjudged");
        rules.push(r.id);
        return Decision {
            verdict: r.verdict,
            class: r.class.unwrap_or(class),
            reason,
            rules,
            class_failure: None,
        };
    }
    // A class is compared only when something was judged.
    let class_failure = (class != a.expected).then(|| {
        let at = usize::from(matches!(a.failures.first(), Some(Failure::Status { .. })));
        (
            at,
            Failure::Class {
                expected: a.expected,
                got: class,
                reason: reason.clone(),
            },
        )
    });
    let failing = !a.failures.is_empty() || class_failure.is_some();
    if let (true, Some(refusal)) = (failing, a.refusal) {
        let r = rule(if a.required {
            "answer.unsupported_required"
        } else {
            "answer.unsupported"
        });
        rules.push(r.id);
        let required = if a.required { ", which is required here" } else { "" };
        return Decision {
            verdict: r.verdict,
            class: r.class.unwrap_or(class),
            reason: format!(
                "`{}` is not offered{required}: {} ({reason})",
                refusal.capability, refusal.how
            ),
            rules,
            class_failure: None,
        };
    }
    let r = if !failing {
        rule("answer.passed")
    } else if class == Class::Ok {
        reason = if a.expected == Class::Ok {
            format!("the answer succeeded but broke the contract: {reason}")
        } else {
            format!("a successful answer where {} was due: {reason}", a.expected)
        };
        rule("answer.broke_contract")
    } else {
        rule("answer.failed")
    };
    rules.push(r.id);
    let mut d = Decision {
        verdict: r.verdict,
        class: r.class.unwrap_or(class),
        reason,
        rules,
        class_failure,
    };
    if d.class == Class::Quota && a.quota_is_skip && d.verdict != Verdict::Pass {
        let q = rule("answer.quota_skipped");
        d.verdict = q.verdict;
        d.reason = format!("quota counted as skipped (--quota-is-skip): {}", d.reason);
        d.rules.push(q.id);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(class: Class) -> Classification {
        Classification {
            class,
            reason: "HTTP 000 (rule x)".into(),
            rule: "x",
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
        let src = include_str!("verdict.rs");
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
}
