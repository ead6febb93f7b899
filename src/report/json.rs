//! `report.json`: the run and every case as data, described by `contracts/report.schema.json`.
//!
//! Each case is its [`CaseOutcome`] as serialized (every field name kept), plus
//! `base_url_alias` (the target's name: the URL itself may carry credentials or tenant names) and,
//! as `null` when unknown, every field of the observability checklist that the outcome leaves out
//! when empty, so a consumer finds each one in every case.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ReportError, Reports, Summary};
use crate::outcome::CaseOutcome;

/// The fields every case carries, `null` when the case has no value for them.
pub const CHECKLIST: [&str; 16] = [
    "client_request_id",
    "target",
    "endpoint",
    "base_url_alias",
    "model",
    "stream",
    "status",
    "class",
    "retries",
    "latency_ms",
    "ttfb_ms",
    "first_token_ms",
    "finish_reason",
    "usage",
    "parser_outcome",
    "verdict",
];

#[derive(Serialize)]
struct Doc<'a> {
    tool: &'static str,
    version: &'static str,
    run_id: &'a str,
    started_at: &'a str,
    mode: crate::outcome::Mode,
    exit_code: u8,
    summary: Summary,
    cases: Vec<JsonCase<'a>>,
}

/// One case as `report.json` holds it: the outcome's own fields in their order, then the alias,
/// then a `null` for each checklist field the outcome left out.
#[derive(Serialize)]
pub struct JsonCase<'a> {
    #[serde(flatten)]
    outcome: &'a CaseOutcome,
    base_url_alias: &'a str,
    #[serde(flatten)]
    absent: BTreeMap<&'static str, Option<()>>,
}

impl<'a> JsonCase<'a> {
    pub fn new(outcome: &'a CaseOutcome) -> Result<JsonCase<'a>, serde_json::Error> {
        let present = serde_json::to_value(outcome)?;
        let absent = CHECKLIST
            .into_iter()
            .filter(|k| *k != "base_url_alias" && present.get(k).is_none())
            .map(|k| (k, None))
            .collect();
        Ok(JsonCase {
            outcome,
            base_url_alias: &outcome.target,
            absent,
        })
    }
}

pub fn render(r: &Reports) -> Result<String, ReportError> {
    let doc = Doc {
        tool: "llm-contract",
        version: env!("CARGO_PKG_VERSION"),
        run_id: r.info.run_id.as_str(),
        started_at: r.info.run_id.started_at(),
        mode: r.info.mode,
        exit_code: r.summary.exit_code(),
        summary: r.summary,
        cases: r
            .outcomes
            .iter()
            .map(JsonCase::new)
            .collect::<Result<_, _>>()?,
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    Ok(text)
}
