//! Pending fixtures (`<case>.json.new`, drift awaiting review) seen from `lint` and `accept`:
//! `lint` lists them with the command that reviews them; `accept` checks the answer a pending
//! fixture would pin against its case's schema first, and warns (or, with `--strict`, refuses).

use std::path::Path;

use crate::baseline::record;
use crate::contract::schema::MAX_VIOLATIONS;
use crate::contract::select::Filter;
use crate::contract::suite::Suite;
use crate::judge::exchange::answer_schema;
use crate::judge::levels;
use crate::model::fixture::Fixture;

/// `lint`'s notes: one line per pending fixture, then how to review them; empty when none.
pub fn lint_notes(fixtures: &Path) -> Vec<String> {
    let pending = record::pending(fixtures);
    if pending.is_empty() {
        return Vec::new();
    }
    let mut notes: Vec<String> = pending
        .iter()
        .map(|p| {
            format!(
                "{}: pending: drift awaiting review (it replaces {} once accepted)",
                p.display(),
                record::pinned_of(p).display()
            )
        })
        .collect();
    let folder = if fixtures.as_os_str() == "fixtures" {
        String::new()
    } else {
        format!(
            " --fixtures {}",
            crate::util::text::shell_word(&fixtures.to_string_lossy())
        )
    };
    notes.push(format!(
        "{} pending fixture(s): review them with `llm-contract review{folder}` (or `accept` / `reject`)",
        pending.len()
    ));
    notes
}

/// The target and case a pending fixture belongs to: `<fixtures>/<target>/<case>.json.new`.
fn names(pending: &Path) -> Option<(String, String)> {
    let case = pending.file_name()?.to_str()?.strip_suffix(".json.new")?;
    let target = pending.parent()?.file_name()?.to_str()?;
    Some((target.to_string(), case.to_string()))
}

/// What in the answers a pending fixture would pin breaks the schema its case checks them
/// against (each `schema <name>: <pointer>: <why>`; deviations clients survive are not listed);
/// `Err` when it cannot be checked (its case or target is gone, it does not parse).
pub fn schema_breaks(suite: &Suite, pending: &Path) -> Result<Vec<String>, String> {
    let (target, case) =
        names(pending).ok_or_else(|| format!("{} is not a pending fixture", pending.display()))?;
    let text = std::fs::read_to_string(pending).map_err(|e| e.to_string())?;
    let fixture = Fixture::parse(pending, &text).map_err(|e| e.to_string())?;
    let t = suite
        .contracts
        .target(&target)
        .map_err(|_| format!("no target `{target}`"))?;
    let filter = Filter {
        cases: vec![format!("{target}::{case}")],
        tags: Vec::new(),
    };
    let plans = suite
        .plans(&[t], Some(&filter))
        .map_err(|e| e.to_string())?;
    let plan = plans
        .iter()
        .find(|p| p.case.id == case)
        .ok_or_else(|| format!("no case `{case}` for target `{target}`"))?;
    let mut breaks = Vec::new();
    // The answers of the case's own request (its last attempt decides it); a task's polls and
    // later steps have schemas of their own and are left to `run`.
    let own = fixture
        .responses
        .iter()
        .rfind(|r| r.step.is_none() && r.request.is_none());
    if let Some((r, body)) = own.and_then(|r| Some((r, r.body.as_ref()?.value()))) {
        let (schema, _) = answer_schema(plan, &plan.expect, r.status);
        let violations = suite
            .schemas
            .validate_all(&schema, &body)
            .map_err(|e| e.to_string())?;
        let (violations, _deviations) = levels::split(&schema, &body, violations, "");
        let total = violations.len();
        breaks.extend(
            violations
                .iter()
                .take(MAX_VIOLATIONS)
                .map(|v| format!("schema {schema}: {v}")),
        );
        if total > MAX_VIOLATIONS {
            breaks.push(format!(
                "schema {schema}: … and {} more",
                total - MAX_VIOLATIONS
            ));
        }
    }
    Ok(breaks)
}

/// A pending fixture `accept` was asked to pin, after the schema check.
pub enum Checked {
    /// Nothing breaks its schema (or it could not be checked: `note` says why).
    Clean { note: Option<String> },
    /// Its answer breaks its schema: the lines that say where and why.
    Breaks(Vec<String>),
}

/// Checks a pending fixture before `accept` pins it.
pub fn check(suite: Option<&Suite>, pending: &Path) -> Checked {
    let Some(suite) = suite else {
        return Checked::Clean {
            note: Some("not checked against its schema: the suite does not load".into()),
        };
    };
    match schema_breaks(suite, pending) {
        Ok(b) if b.is_empty() => Checked::Clean { note: None },
        Ok(b) => Checked::Breaks(b),
        Err(e) => Checked::Clean {
            note: Some(format!("not checked against its schema: {e}")),
        },
    }
}
