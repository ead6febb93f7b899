//! Lanes: a run's plans taken from a shared queue by twice as many lanes as `--jobs`, at most
//! `--jobs` requests out at once (the gate), each outcome handed to the caller as it ends.

use std::sync::Arc;

use tokio::task::JoinSet;

use crate::exchange::endpoint::Endpoint;
use crate::exchange::gate::Gate;
use crate::exchange::watch::Watch;
use crate::judge::verdict::{self, Settled};
use crate::model::failure::Failure;
use crate::model::outcome::{CaseOutcome, Drift, Mode};
use crate::model::plan::Plan;
use crate::run::runner::{blank, decided, Runner};

/// The outcome of a case whose run panicked.
fn harness_failure(plan: &Plan, mode: Mode, panic: &(dyn std::any::Any + Send)) -> CaseOutcome {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    let mut o = blank(plan, mode);
    o.failures.push(Failure::Harness { message });
    o.drift = Drift::NotRun {
        reason: "the case did not finish".into(),
    };
    decided(o, verdict::settled(&Settled::Panic))
}

/// Runs plans concurrently, at most `jobs` requests out at a time, each case's answers shown to
/// its own watcher made by `watch` (recording is one; a plain run passes `|| ()`). `on_done`
/// takes each outcome with its watcher and plan as it completes, on the task that awaits this
/// function, and makes what the caller keeps of it; those come back sorted by the cases' ids.
pub async fn run_all<W, T>(
    runner: Arc<Runner>,
    plans: Vec<(Plan, Endpoint)>,
    jobs: usize,
    watch: impl Fn() -> W + Send + Sync + 'static,
    mut on_done: impl FnMut(CaseOutcome, W, &Plan) -> T,
) -> Vec<T>
where
    W: Watch + 'static,
{
    // Lanes, each taking the next plan from a shared queue as soon as its case is done: the next
    // request leaves from the worker that took the last answer, with no round trip through a
    // coordinating task. The gate keeps at most `jobs` requests out; twice as many lanes keep a
    // case ready to send whenever an answer comes in, while that answer is judged.
    let total = plans.len();
    let jobs = jobs.max(1);
    let lanes_n = jobs.saturating_mul(2).min(total.max(1));
    let gate = Gate::new(jobs);
    let queue = Arc::new(std::sync::Mutex::new(plans.into_iter()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut lanes = JoinSet::new();
    let watch = Arc::new(watch);
    for _ in 0..lanes_n {
        let (queue, runner, tx, gate) = (queue.clone(), runner.clone(), tx.clone(), gate.clone());
        let watch = watch.clone();
        lanes.spawn(async move {
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .next();
                let Some((plan, endpoint)) = next else {
                    break;
                };
                let mut w = watch();
                let run = std::panic::AssertUnwindSafe(
                    runner.run_watched(&plan, &endpoint, &gate, &mut w),
                );
                let outcome = match futures_util::FutureExt::catch_unwind(run).await {
                    Ok(outcome) => outcome,
                    // A panic inside one case must not lose its result, nor the others'.
                    Err(panic) => harness_failure(&plan, endpoint.mode, &*panic),
                };
                if tx.send((outcome, w, plan)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut kept: Vec<(String, T)> = Vec::with_capacity(total);
    while let Some((outcome, w, plan)) = rx.recv().await {
        let id = outcome.id.clone();
        kept.push((id, on_done(outcome, w, &plan)));
    }
    while lanes.join_next().await.is_some() {}
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    kept.into_iter().map(|(_, t)| t).collect()
}
