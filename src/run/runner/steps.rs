//! A case with steps: its own request, then each step with the values the ones before it
//! captured, each decided on its own; the first that does not pass speaks for the case.

use crate::exchange::endpoint::Endpoint;
use crate::exchange::gate::Gate;
use crate::exchange::watch::Watch;
use crate::judge::verdict::{self, Settled};
use crate::model::class::Class;
use crate::model::failure::Failure;
use crate::model::outcome::{CaseOutcome, RepeatRun, Verdict};
use crate::model::plan::Plan;

use super::{blank, decided, Once, Runner};

impl Runner {
    /// A case with steps: its own request, then each step in order while they pass, each
    /// decided on its own (with the values captured before it filled in); the first step that
    /// does not pass speaks for the case, and every step that ran is listed.
    pub(super) async fn run_steps(
        &self,
        plan: &Plan,
        endpoint: &Endpoint,
        gate: &Gate,
        watch: &mut dyn Watch,
        once: Once<'_>,
    ) -> CaseOutcome {
        let mut runs: Vec<(String, CaseOutcome)> = Vec::new();
        let (first, mut sent) = self.run_once(plan, endpoint, gate, watch, once).await;
        let mut captured = first.captured.clone();
        // What a recording pins: the captured values as the recorded answers hold them.
        let mut masked: std::collections::BTreeMap<String, serde_json::Value> = plan
            .capture
            .iter()
            .filter_map(|(name, pointer)| {
                let v = captured.get(name)?;
                Some((name.clone(), self.sanitizer.value_at(pointer, v, &plan.target.sanitize)))
            })
            .collect();
        runs.push(("request".into(), first));
        for step in &plan.case.steps {
            if runs.last().map(|r| r.1.verdict) != Some(Verdict::Pass) {
                break;
            }
            let planned = crate::contract::plan::plan_step(plan, step, &captured);
            let step_plan = match planned {
                Ok(p) => p,
                Err(e) => {
                    let mut o = blank(plan, endpoint.mode);
                    o.failures.push(Failure::Harness {
                        message: format!("step {}: {e}", step.name),
                    });
                    runs.push((step.name.clone(), decided(o, verdict::settled(&Settled::Panic))));
                    break;
                }
            };
            let request = watch
                .wants_raw()
                .then(|| crate::contract::plan::plan_step(plan, step, &masked).ok())
                .flatten()
                .map(|p| crate::baseline::record::request_of(&p, &self.sanitizer));
            let (o, n) = self
                .run_once(
                    &step_plan,
                    endpoint,
                    gate,
                    watch,
                    Once {
                        first: sent,
                        step: Some((step.name.as_str(), request.as_ref())),
                        ..once
                    },
                )
                .await;
            sent += n;
            for (name, pointer) in &step.capture {
                if let Some(v) = o.captured.get(name) {
                    captured.insert(name.clone(), v.clone());
                    let m = self.sanitizer.value_at(pointer, v, &plan.target.sanitize);
                    masked.insert(name.clone(), m);
                }
            }
            runs.push((step.name.clone(), o));
        }
        let briefs: Vec<(&str, Verdict, Class, &str)> = runs
            .iter()
            .map(|(n, o)| (n.as_str(), o.verdict, o.class, o.reason.as_str()))
            .collect();
        let (at, decision) = verdict::stepped(&briefs);
        let steps = runs
            .iter()
            .map(|(n, o)| RepeatRun {
                step: Some(n.clone()),
                ..RepeatRun::of(o)
            })
            .collect();
        let case_ms = runs.iter().map(|(_, o)| o.case_ms).sum();
        let mut out = runs.swap_remove(at).1;
        out.steps = steps;
        out.case_ms = case_ms;
        decided(out, decision)
    }
}
