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
use crate::model::deviation::Deviation;
use crate::model::failure::Failure;
use crate::model::outcome::Verdict;
use crate::model::plan::PassRule;

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
        id: "answer.strict_deviation",
        when: "no failure and the expected class, but named deviations from the spec (judge::levels), and the run (--strict), the target or the case is strict",
        verdict: Verdict::Fail,
        class: Some(Class::ContractDrift),
    },
    VerdictRule {
        id: "answer.passed",
        when: "no failure and the expected class (named deviations, if any, listed and counted)",
        verdict: Verdict::Pass,
        class: None,
    },
    VerdictRule {
        id: "repeat.all_passed",
        when: "a repeated case with `pass: all` (pass^k): every run passed",
        verdict: Verdict::Pass,
        class: Some(Class::Ok),
    },
    VerdictRule {
        id: "repeat.not_all_passed",
        when: "`pass: all`: a run failed (the runs stop there); the case takes that run's class",
        verdict: Verdict::Fail,
        class: None,
    },
    VerdictRule {
        id: "repeat.any_passed",
        when: "a repeated case with `pass: any` (pass@k): a run passed (the runs stop there)",
        verdict: Verdict::Pass,
        class: Some(Class::Ok),
    },
    VerdictRule {
        id: "repeat.none_passed",
        when: "`pass: any`: no run passed; the case takes the last run's class",
        verdict: Verdict::Fail,
        class: None,
    },
    VerdictRule {
        id: "steps.all_passed",
        when: "a case with steps: its request and every step passed",
        verdict: Verdict::Pass,
        class: Some(Class::Ok),
    },
    VerdictRule {
        id: "steps.failed",
        when: "a step failed (the steps stop there); the case takes its class",
        verdict: Verdict::Fail,
        class: None,
    },
    VerdictRule {
        id: "steps.errored",
        when: "a step could not be judged (no response, a spent budget)",
        verdict: Verdict::Error,
        class: None,
    },
    VerdictRule {
        id: "steps.unsupported",
        when: "a step was cleanly refused a capability the case requires: not offered",
        verdict: Verdict::Unsupported,
        class: Some(Class::Ok),
    },
    VerdictRule {
        id: "steps.skipped",
        when: "a step was settled as skipped",
        verdict: Verdict::Skip,
        class: Some(Class::Ok),
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
    /// The named deviations from the spec the checks found, and whether they fail the case.
    pub deviations: &'a [Deviation],
    pub strict: bool,
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

/// Whether a repeated case needs another run after runs with these verdicts: not once the
/// result is known (`all`: a run did not pass; `any`: a run passed), nor after a run that
/// settled or could not be judged (a skip, `unsupported`, an error: later runs would say the
/// same, and cost requests).
pub fn another_run(pass: PassRule, runs: &[Verdict], times: u32) -> bool {
    let Some(last) = runs.last() else {
        return true;
    };
    runs.len() < times as usize
        && match last {
            Verdict::Pass => pass == PassRule::All,
            Verdict::Fail => pass == PassRule::Any,
            Verdict::Error | Verdict::Skip | Verdict::Unsupported => false,
        }
}

/// Decides a repeated case from its runs: the run that speaks for the case (its failures and
/// facts are the case's) and the decision. A run that was not a pass or a fail (a skip,
/// `unsupported`, an error) ends the runs and keeps its own decision (`None`).
pub fn repeated(pass: PassRule, runs: &[(Verdict, Class, String)], times: u32) -> (usize, Option<Decision>) {
    let last = runs.len().saturating_sub(1);
    let Some((v, class, reason)) = runs.last() else {
        return (0, None);
    };
    if !matches!(v, Verdict::Pass | Verdict::Fail) {
        return (last, None);
    }
    let passed = runs.iter().filter(|r| r.0 == Verdict::Pass).count();
    let n = runs.len();
    let (id, why) = match (pass, v) {
        (PassRule::All, Verdict::Pass) => ("repeat.all_passed", format!("pass^{times}: all {n} runs passed")),
        (PassRule::All, _) => (
            "repeat.not_all_passed",
            format!("pass^{times}: run {n} of {times} did not pass ({passed} passed before it): {reason}"),
        ),
        (PassRule::Any, Verdict::Pass) => (
            "repeat.any_passed",
            format!("pass@{times}: run {n} passed ({} before it did not)", n - 1),
        ),
        (PassRule::Any, _) => (
            "repeat.none_passed",
            format!("pass@{times}: none of {n} runs passed; the last: {reason}"),
        ),
    };
    let r = rule(id);
    (
        last,
        Some(Decision {
            verdict: r.verdict,
            class: r.class.unwrap_or(*class),
            reason: why,
            rules: vec![r.id],
            class_failure: None,
        }),
    )
}

/// Decides a case with steps from its steps' own decisions (`name`, verdict, class, reason),
/// in order; the steps stop at the first that does not pass, which then speaks for the case
/// (its index comes back with the decision). When every step passed, the case's own request
/// speaks for it.
pub fn stepped(steps: &[(&str, Verdict, Class, &str)]) -> (usize, Decision) {
    let last = steps.len().saturating_sub(1);
    let (name, v, class, reason) = steps.get(last).copied().unwrap_or(("request", Verdict::Error, Class::ContractDrift, "no step ran"));
    let (at, id, why) = match v {
        Verdict::Pass => (0, "steps.all_passed", format!("all {} steps passed", steps.len())),
        Verdict::Fail => (last, "steps.failed", format!("step {name} ({} of {}): {reason}", last + 1, steps.len())),
        Verdict::Error => (last, "steps.errored", format!("step {name}: {reason}")),
        Verdict::Unsupported => (last, "steps.unsupported", format!("step {name}: {reason}")),
        Verdict::Skip => (last, "steps.skipped", format!("step {name}: {reason}")),
    };
    let r = rule(id);
    (
        at,
        Decision {
            verdict: r.verdict,
            class: r.class.unwrap_or(class),
            reason: why,
            rules: vec![r.id],
            class_failure: None,
        },
    )
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
    let r = if !failing && a.strict && !a.deviations.is_empty() {
        let names: Vec<&str> = a.deviations.iter().map(|d| d.name).collect();
        reason = format!(
            "strict: the answer deviates from the spec ({}): {reason}",
            names.join(", ")
        );
        rule("answer.strict_deviation")
    } else if !failing {
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
    // The class failure names the case's own class (a success where an error was due is
    // `contract_drift`, not `ok`): the verdict line and the details say the same.
    if let Some((_, Failure::Class { got, .. })) = &mut d.class_failure {
        *got = d.class;
    }
    if d.class == Class::Quota && a.quota_is_skip && d.verdict != Verdict::Pass {
        let q = rule("answer.quota_skipped");
        d.verdict = q.verdict;
        d.reason = format!("quota counted as skipped (--quota-is-skip): {}", d.reason);
        d.rules.push(q.id);
    }
    d
}

#[cfg(test)]
mod tests;
