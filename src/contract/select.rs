//! Which cases a run covers: `--case` patterns and `--tag`s, the same for `run`, `record`, `list`
//! and (through its own filter and `LLM_CONTRACT_TAG`) the `cargo test` harness.
//!
//! A pattern is matched against each plan's `<target>::<case>` and against its bare case id:
//!
//! - with a wildcard (`*`, `?`; [`crate::util::glob`]) it must match all of one of them:
//!   `cometapi::*`, `*stream*`, `case_?`;
//! - without one it is an exact id when some plan has it as its `<target>::<case>` or its case
//!   id (`happy_path` is that case, not `messages_happy_path` too), and a substring of
//!   `<target>::<case>` otherwise (`faults::`, `stream`), as `--case` always was.
//!
//! A case is selected when it matches any pattern (none given: every case) and has any of the
//! tags (none given: every case). A pattern that matches no planned case, or a tag no case of the
//! suite has, is an error naming close matches: a typo must not pass as an empty green run.

use crate::contract::load::Contracts;
use crate::model::error::{close_matches, ConfigError, ConfigErrors, Location};
use crate::model::plan::Plan;
use crate::util::glob;

/// The `--case` patterns and `--tag`s of a run; empty selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Exact ids, substrings or globs; a case matching any of them is selected.
    pub cases: Vec<String>,
    /// A case with any of these tags is selected.
    pub tags: Vec<String>,
}

/// How many close matches an error lists.
const CLOSE: usize = 5;

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty() && self.tags.is_empty()
    }

    /// The plans the filter selects, in their order. Every pattern must match a plan and every
    /// tag must be on a case of the suite; the errors name each one that does not, with close
    /// matches.
    pub fn apply(&self, contracts: &Contracts, plans: Vec<Plan>) -> Result<Vec<Plan>, ConfigErrors> {
        if self.is_empty() {
            return Ok(plans);
        }
        let at = || Location::file(&contracts.dir);
        let mut errors = Vec::new();
        let patterns: Vec<Pattern> = self
            .cases
            .iter()
            .map(|p| Pattern::new(p, &plans))
            .collect();
        for p in &patterns {
            if !plans.iter().any(|plan| p.matches(plan)) {
                errors.push(no_case_matches(p.text, &plans, at()));
            }
        }
        let mut known: Vec<&str> = contracts
            .cases
            .iter()
            .flat_map(|c| c.tags.iter().map(String::as_str))
            .collect();
        known.sort_unstable();
        known.dedup();
        for tag in &self.tags {
            if !known.contains(&tag.as_str()) {
                errors.push(unknown_tag(tag, &known, at()));
            }
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let selected: Vec<Plan> = plans
            .into_iter()
            .filter(|plan| {
                (patterns.is_empty() || patterns.iter().any(|p| p.matches(plan)))
                    && (self.tags.is_empty() || plan.case.tags.iter().any(|t| self.tags.contains(t)))
            })
            .collect();
        if selected.is_empty() {
            return Err(ConfigError::new(
                at(),
                format!(
                    "no case matches --case {} and --tag {} together",
                    self.cases.join(", "),
                    self.tags.join(", ")
                ),
            )
            .with_hint("a case is selected when it matches a --case pattern and has a --tag")
            .into());
        }
        Ok(selected)
    }
}

/// One `--case` pattern, with what kind of match it asks for.
struct Pattern<'a> {
    text: &'a str,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Glob,
    Exact,
    Substring,
}

impl<'a> Pattern<'a> {
    fn new(text: &'a str, plans: &[Plan]) -> Pattern<'a> {
        let kind = if glob::is_glob(text) {
            Kind::Glob
        } else if plans.iter().any(|p| p.id == text || p.case.id == text) {
            Kind::Exact
        } else {
            Kind::Substring
        };
        Pattern { text, kind }
    }

    fn matches(&self, plan: &Plan) -> bool {
        match self.kind {
            Kind::Glob => {
                glob::matches(self.text, &plan.id) || glob::matches(self.text, &plan.case.id)
            }
            Kind::Exact => plan.id == self.text || plan.case.id == self.text,
            Kind::Substring => plan.id.contains(self.text),
        }
    }
}

fn no_case_matches(pattern: &str, plans: &[Plan], at: Location) -> ConfigError {
    let word: String = pattern.chars().filter(|c| !matches!(c, '*' | '?')).collect();
    let ids = plans
        .iter()
        .flat_map(|p| [p.case.id.as_str(), p.id.as_str()]);
    let near = close_matches(&word, ids, CLOSE);
    let e = ConfigError::new(at, format!("no case matches `{pattern}`"));
    if near.is_empty() {
        let mut cases: Vec<&str> = Vec::new();
        for p in plans {
            if !cases.contains(&p.case.id.as_str()) {
                cases.push(&p.case.id);
            }
        }
        e.with_hint(format!("cases: {}", cases.join(", ")))
    } else {
        e.with_hint(format!("close matches: {}", near.join(", ")))
    }
}

fn unknown_tag(tag: &str, known: &[&str], at: Location) -> ConfigError {
    let near = close_matches(tag, known.iter().copied(), CLOSE);
    let e = ConfigError::new(at, format!("no case has the tag `{tag}`"));
    if near.is_empty() {
        e.with_hint(format!("tags: {}", known.join(", ")))
    } else {
        e.with_hint(format!("close matches: {}", near.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    fn suite() -> (Contracts, Vec<Plan>) {
        let contracts =
            Contracts::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts")).unwrap();
        let mut plans = Vec::new();
        for name in ["cometapi", "litellm"] {
            let t: Arc<_> = contracts.target(name).unwrap();
            plans.extend(contracts.plans(&t).unwrap());
        }
        (contracts, plans)
    }

    fn select(cases: &[&str], tags: &[&str]) -> Result<Vec<String>, String> {
        let (contracts, plans) = suite();
        let f = Filter {
            cases: cases.iter().map(|s| s.to_string()).collect(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
        };
        f.apply(&contracts, plans)
            .map(|ps| ps.into_iter().map(|p| p.id).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn patterns_select_by_exact_id_substring_or_glob() {
        let rows: &[(&[&str], &[&str], &[&str])] = &[
            // An exact case id is that case on every target, not every id containing it.
            (
                &["happy_path"],
                &[],
                &["cometapi::happy_path", "litellm::happy_path"],
            ),
            // An exact <target>::<case>.
            (&["litellm::happy_path"], &[], &["litellm::happy_path"]),
            // No case has it as its id: a substring, as before.
            (
                &["messages_stream"],
                &[],
                &["cometapi::messages_streaming", "litellm::messages_streaming"],
            ),
            // Globs match the whole <target>::<case> or the whole case id.
            (
                &["cometapi::*messages_stream*"],
                &[],
                &["cometapi::messages_streaming"],
            ),
            (
                &["messages_*auth"],
                &[],
                &["cometapi::messages_missing_auth", "litellm::messages_missing_auth"],
            ),
            (&["video_?appy_path"], &[], &["cometapi::video_happy_path"]),
            // Repeated: any of them, in the plans' order.
            (
                &["litellm::happy_path", "cometapi::happy_path"],
                &[],
                &["cometapi::happy_path", "litellm::happy_path"],
            ),
            // Tags: any of them; with patterns, both.
            (
                &[],
                &["video"],
                &[
                    "cometapi::video_happy_path",
                    "cometapi::video_invalid_seconds",
                    "cometapi::video_invalid_size",
                    "cometapi::video_missing_auth",
                    "cometapi::video_missing_prompt",
                    "cometapi::video_task_shape",
                ],
            ),
            (&["*happy*"], &["video"], &["cometapi::video_happy_path"]),
            (
                &["litellm::*"],
                &["smoke", "video"],
                &["litellm::happy_path"],
            ),
        ];
        for (cases, tags, want) in rows {
            let got = select(cases, tags).unwrap();
            // Every expected plan, and only plans that fit.
            for w in *want {
                assert!(got.contains(&w.to_string()), "{cases:?} {tags:?}: {got:?}");
            }
            assert_eq!(got.len(), want.len(), "{cases:?} {tags:?}: {got:?}");
        }
    }

    #[test]
    fn a_pattern_or_tag_that_selects_nothing_is_an_error_with_close_matches() {
        let e = select(&["hapy_path"], &[]).unwrap_err();
        assert!(e.contains("no case matches `hapy_path`"), "{e}");
        assert!(e.contains("close matches: happy_path"), "{e}");
        let e = select(&["*streamng*"], &[]).unwrap_err();
        assert!(e.contains("close matches: streaming"), "{e}");
        let e = select(&["zzzz_nothing"], &[]).unwrap_err();
        assert!(e.contains("cases: ") && e.contains(" empty_messages,"), "{e}");
        assert_eq!(e.matches(" happy_path,").count(), 1, "each case once: {e}");
        // Every bad pattern and tag is named at once.
        let e = select(&["happy_path", "nope_nope", "*x?z*"], &["smok", "qqqqqq"]).unwrap_err();
        assert!(e.contains("`nope_nope`") && e.contains("`*x?z*`"), "{e}");
        assert!(e.contains("no case has the tag `smok`"), "{e}");
        assert!(e.contains("close matches: smoke"), "{e}");
        assert!(e.contains("no case has the tag `qqqqqq`"), "{e}");
        assert!(e.contains("tags: ") && e.contains(" images, messages,"), "{e}");
        assert!(!e.contains("`happy_path`"), "{e}");
        // Each matches something, not together.
        let e = select(&["happy_path"], &["video"]).unwrap_err();
        assert!(
            e.contains("no case matches --case happy_path and --tag video together"),
            "{e}"
        );
    }
}
