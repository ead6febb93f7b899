//! `run --dry-run`: every request a live run of the plans would send, built as the runner builds
//! them (the same plans, the same steps, the same URL joining), and nothing sent. What the
//! requests cost is counted in `model::budget`; `report::budget` prints it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::contract::plan::plan_step;
use crate::model::budget::{cap_of, NotSent, Request, TargetBudget};
use crate::model::plan::{AuthMode, Plan, PlanBody};

/// One target's requests: `plans` are that target's, `base_url` where a live run sends them,
/// `retries` the run's `--retries` (overriding the target's attempts).
pub fn of_target(plans: &[Plan], base_url: &str, retries: Option<u32>) -> TargetBudget {
    let mut requests = Vec::new();
    let mut not_sent = Vec::new();
    let target = plans.first().map(|p| p.target.name.clone()).unwrap_or_default();
    for plan in plans {
        if let Some(why) = &plan.skip {
            not_sent.push(NotSent {
                case: plan.case.id.clone(),
                why: format!("skipped by the target: {why}"),
            });
            continue;
        }
        if let Some(c) = plan
            .case
            .requires
            .iter()
            .find(|c| plan.target.offers(c.name) == Some(false))
        {
            not_sent.push(NotSent {
                case: plan.case.id.clone(),
                why: format!("the target does not offer `{}`", c.name),
            });
            continue;
        }
        let attempts = retries
            .map_or(plan.target.retry.attempts, |r| r.saturating_add(1))
            .max(1);
        let polls = plan.case.family.poll.map_or(0, |_| plan.case.poll.max_polls);
        let runs = if plan.case.steps.is_empty() {
            plan.case.repeat.max(1)
        } else {
            1
        };
        requests.push(request(plan, base_url, None, runs, attempts, polls));
        // Each step as the runner plans it, a value captured before it shown as its `${name}`.
        let mut captured: BTreeMap<String, Value> = plan
            .case
            .capture
            .keys()
            .map(|k| (k.clone(), Value::String(format!("${{{k}}}"))))
            .collect();
        for step in &plan.case.steps {
            match plan_step(plan, step, &captured) {
                Ok(p) => requests.push(request(&p, base_url, Some(&step.name), 1, attempts, 0)),
                Err(e) => not_sent.push(NotSent {
                    case: format!("{} step {}", plan.case.id, step.name),
                    why: e.to_string(),
                }),
            }
            captured.extend(
                step.capture
                    .keys()
                    .map(|k| (k.clone(), Value::String(format!("${{{k}}}")))),
            );
        }
    }
    TargetBudget {
        target,
        base_url: base_url.to_string(),
        requests,
        not_sent,
    }
}

fn request(
    plan: &Plan,
    base_url: &str,
    step: Option<&str>,
    runs: u32,
    attempts: u32,
    polls: u32,
) -> Request {
    let family = plan.case.family;
    let body: Option<Value> = match &plan.body {
        PlanBody::None => None,
        PlanBody::Json { text, .. } => serde_json::from_slice(text).ok(),
        // A raw body that is JSON is read as such; one that is not has no field to read.
        PlanBody::Raw(s) => Some(serde_json::from_str(s).unwrap_or(Value::Null)),
    };
    let path = plan.path.as_deref().unwrap_or(family.path);
    Request {
        case: plan.case.id.clone(),
        step: step.map(str::to_string),
        method: plan.method.as_deref().unwrap_or(family.method).to_string(),
        url: crate::exchange::endpoint::join(base_url, path),
        auth: match plan.case.auth {
            AuthMode::Valid => "key",
            AuthMode::Missing => "no key",
            AuthMode::Invalid => "invalid key",
        },
        stream: matches!(&body, Some(b) if b.get("stream") == Some(&Value::Bool(true))),
        runs,
        attempts,
        polls,
        cap: cap_of(family.name, body.as_ref()),
    }
}
