//! The list a run ends with: every case that did not pass, grouped by class, each with its
//! reason on one line (escaped and bounded), so nobody scrolls back through the run to find them.
//! `run` prints it after the last case; the `cargo test` harness after libtest's own summary.

use std::collections::BTreeMap;

use crate::model::class::Class;
use crate::model::outcome::{CaseOutcome, Verdict};
use crate::util::text::Visible;

/// The longest reason shown, in characters (the details above show it whole).
pub const MAX_REASON: usize = 160;
/// The most cases listed; the rest are counted.
pub const MAX_LISTED: usize = 100;

/// What the list keeps of a case that did not pass.
#[derive(Debug, Clone, PartialEq)]
pub struct NotPassed {
    pub id: String,
    pub verdict: Verdict,
    pub class: Class,
    pub reason: String,
}

impl NotPassed {
    /// `None` for a case that passed.
    pub fn of(o: &CaseOutcome) -> Option<NotPassed> {
        (o.verdict != Verdict::Pass).then(|| NotPassed {
            id: o.id.clone(),
            verdict: o.verdict,
            class: o.class,
            reason: one_line(&o.reason),
        })
    }
}

/// A reason on one line: escaped (no control character or line break gets through) and cut to
/// [`MAX_REASON`] characters with an ellipsis.
pub fn one_line(reason: &str) -> String {
    let shown = Visible(reason).to_string();
    if shown.chars().count() <= MAX_REASON {
        return shown;
    }
    let mut cut: String = shown.chars().take(MAX_REASON - 1).collect();
    cut.push('…');
    cut
}

/// The list, grouped by class (the groups with a failure first, then errors, unsupported and
/// skipped; by class name within), each case's line `VERDICT id — reason`, sorted by id; empty
/// when every case passed.
pub fn render(cases: &[NotPassed]) -> String {
    if cases.is_empty() {
        return String::new();
    }
    let mut groups: BTreeMap<(u8, &str), Vec<&NotPassed>> = BTreeMap::new();
    for c in cases {
        let rank = |v: Verdict| match v {
            Verdict::Fail => 0,
            Verdict::Error => 1,
            Verdict::Unsupported => 2,
            Verdict::Skip => 3,
            Verdict::Pass => 4,
        };
        let key = (rank(c.verdict), c.class.as_str());
        groups.entry(key).or_default().push(c);
    }
    let mut out = format!("{} case(s) did not pass:\n", cases.len());
    let mut listed = 0;
    for ((_, class), mut members) in groups {
        members.sort_by(|a, b| a.id.cmp(&b.id));
        out.push_str(&format!("  {class} ({}):\n", members.len()));
        for c in members {
            if listed == MAX_LISTED {
                break;
            }
            listed += 1;
            out.push_str(&format!(
                "    {:<5} {} — {}\n",
                c.verdict.as_str().to_ascii_uppercase(),
                Visible(&c.id),
                c.reason
            ));
        }
    }
    if listed < cases.len() {
        out.push_str(&format!("  … and {} more\n", cases.len() - listed));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::Mode;

    fn case(id: &str, verdict: Verdict, class: Class, reason: &str) -> CaseOutcome {
        CaseOutcome {
            verdict,
            class,
            reason: reason.into(),
            ..CaseOutcome::new(id, "t", id, Mode::Recorded)
        }
    }

    #[test]
    fn grouped_by_class_failures_first_each_with_its_reason() {
        let cases = [
            case("t::b", Verdict::Fail, Class::ContractDrift, "drifted"),
            case("t::ok", Verdict::Pass, Class::Ok, ""),
            case("t::s", Verdict::Skip, Class::Ok, "not recorded for t"),
            case("t::a", Verdict::Fail, Class::ContractDrift, "a 200 where 400 was due"),
            case("t::e", Verdict::Error, Class::Retry, "connection refused"),
            case("t::f", Verdict::Fail, Class::FixRequest, "HTTP 400"),
        ];
        let list: Vec<NotPassed> = cases.iter().filter_map(NotPassed::of).collect();
        assert_eq!(
            render(&list),
            "5 case(s) did not pass:\n  \
             contract_drift (2):\n    FAIL  t::a — a 200 where 400 was due\n    FAIL  t::b — drifted\n  \
             fix_request (1):\n    FAIL  t::f — HTTP 400\n  \
             retry (1):\n    ERROR t::e — connection refused\n  \
             ok (1):\n    SKIP  t::s — not recorded for t\n"
        );
        assert_eq!(render(&[]), "");
    }

    #[test]
    fn a_reason_is_one_escaped_bounded_line() {
        let long = format!("line one\nline two \u{1b}[31m{}", "x".repeat(500));
        let c = case("t::x", Verdict::Fail, Class::ContractDrift, &long);
        let shown = NotPassed::of(&c).unwrap().reason;
        assert!(!shown.contains('\n') && !shown.contains('\u{1b}'), "{shown}");
        assert_eq!(shown.chars().count(), MAX_REASON);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn a_long_list_is_cut_with_a_count() {
        let list: Vec<NotPassed> = (0..MAX_LISTED + 5)
            .map(|i| {
                let c = case(&format!("t::{i:04}"), Verdict::Fail, Class::Retry, "r");
                NotPassed::of(&c).unwrap()
            })
            .collect();
        let text = render(&list);
        assert!(text.ends_with("  … and 5 more\n"), "{text}");
        assert_eq!(text.lines().filter(|l| l.contains("FAIL")).count(), MAX_LISTED);
    }
}
