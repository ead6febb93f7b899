//! The harness judging faults: every case in tests/faults is a synthetic exchange (a cut stream,
//! a stall, an error frame, a 503 then a 200, ...) served by the recorded endpoint, and
//! tests/faults/expected.tsv says the verdict, class and retries the harness must give it. One
//! trial per row, named `faults::<case>`, plus trials for the request budget and quota-as-skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use libtest_mimic::{Arguments, Failed, Trial};

use llm_contract::contract::suite::{Paths, Suite};
use llm_contract::model::outcome::CaseOutcome;
use llm_contract::model::plan::Plan;
use llm_contract::run::build::{Planned, Selection, Start, Started};
use llm_contract::run::runner::RunOptions;

/// Retry waits are scaled by this in the tests (a 2 s Retry-After waits 100 ms).
const TIME_SCALE: f64 = 0.05;

#[derive(Debug, Clone)]
struct Row {
    retries: Option<u32>,
    verdict: String,
    class: String,
    retries_made: u32,
    contains: String,
}

fn table(path: &Path) -> Result<BTreeMap<String, Row>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = BTreeMap::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 6 {
            return Err(format!(
                "{}:{}: expected 6 tab-separated columns",
                path.display(),
                n + 1
            ));
        }
        let bad = |what: &str| format!("{}:{}: bad {what}", path.display(), n + 1);
        rows.insert(
            cols[0].to_string(),
            Row {
                retries: match cols[1] {
                    "-" => None,
                    r => Some(r.parse().map_err(|_| bad("retries"))?),
                },
                verdict: cols[2].to_string(),
                class: cols[3].to_string(),
                retries_made: cols[4].parse().map_err(|_| bad("retries_made"))?,
                contains: cols[5].to_string(),
            },
        );
    }
    Ok(rows)
}

/// The fault suite, planned once; each trial starts its own run from it (its runner's options
/// differ) with the same builder the binary uses.
struct Shared {
    planned: Planned,
}

impl Shared {
    /// A started run with these options: its runtime, runner and recorded endpoint.
    fn start(&self, options: RunOptions) -> Started {
        self.planned
            .start(Start {
                options,
                worker_threads: Some(1),
                replay: Some(1.0),
                ..Start::default()
            })
            .expect("a run starts, with its recorded endpoint on 127.0.0.1")
    }

    fn run(&self, run: &Started, plan: &Plan) -> CaseOutcome {
        let endpoint = run
            .endpoint(plan)
            .expect("offline, the recorded endpoint runs");
        run.rt.block_on(run.runner.run(plan, &endpoint))
    }
}

fn options(retries: Option<u32>) -> RunOptions {
    RunOptions {
        time_scale: TIME_SCALE,
        retries,
        ..RunOptions::default()
    }
}

fn check(row: &Row, o: &CaseOutcome) -> Result<(), Failed> {
    let json = serde_json::to_string_pretty(o).unwrap();
    let mut problems = Vec::new();
    if o.verdict.as_str() != row.verdict {
        problems.push(format!(
            "verdict: expected {}, got {}",
            row.verdict,
            o.verdict.as_str()
        ));
    }
    if o.class.as_str() != row.class {
        problems.push(format!("class: expected {}, got {}", row.class, o.class));
    }
    if o.retries != row.retries_made {
        problems.push(format!(
            "retries: expected {}, got {}",
            row.retries_made, o.retries
        ));
    }
    if !row.contains.is_empty() && !json.contains(&row.contains) {
        problems.push(format!("the outcome does not mention {:?}", row.contains));
    }
    match o.case.as_str() {
        "retry_429_retry_after" => {
            if o.retry_waits_ms != vec![2000.0] {
                problems.push(format!(
                    "expected one wait of Retry-After's 2000 ms, got {:?}",
                    o.retry_waits_ms
                ));
            }
            if o.case_ms < 2000.0 * TIME_SCALE {
                problems.push(format!(
                    "the retry came after {} ms, before the scaled 2 s",
                    o.case_ms
                ));
            }
        }
        "retry_after_ms" if o.retry_waits_ms != vec![1500.0] => {
            problems.push(format!(
                "retry-after-ms 1500 should win, got {:?}",
                o.retry_waits_ms
            ));
        }
        _ => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\noutcome: {json}", problems.join("\n")).into())
    }
}

fn trials(root: &Path) -> Result<Vec<Trial>, String> {
    let dir = root.join("tests/faults");
    let paths = Paths {
        contracts: dir.join("contracts"),
        fixtures: dir.join("fixtures"),
        schemas: root.join("contracts/schemas"),
    };
    let suite = Suite::load(&paths).map_err(|e| e.to_string())?;
    let target = suite
        .contracts
        .target("faults")
        .map_err(|e| e.to_string())?;
    let plans = suite.plans(&[target], None).map_err(|e| e.to_string())?;
    let rows = table(&dir.join("expected.tsv"))?;
    let mut trials = Vec::new();
    let case_ids: Vec<String> = plans.iter().map(|p| p.case.id.clone()).collect();
    let row_ids: Vec<String> = rows.keys().cloned().collect();
    trials.push(Trial::test("faults::every_case_has_a_row", move || {
        let missing: Vec<_> = case_ids.iter().filter(|c| !row_ids.contains(c)).collect();
        let orphans: Vec<_> = row_ids.iter().filter(|r| !case_ids.contains(r)).collect();
        if missing.is_empty() && orphans.is_empty() {
            Ok(())
        } else {
            Err(
                format!("cases without a row: {missing:?}; rows without a case: {orphans:?}")
                    .into(),
            )
        }
    }));
    let init = {
        let paths = paths.clone();
        Arc::new(move || -> &'static Shared {
            static SHARED: OnceLock<Shared> = OnceLock::new();
            SHARED.get_or_init(|| {
                let suite = Suite::load(&paths).expect("suite loads");
                let ctx = llm_contract::context::Context::default();
                Shared {
                    planned: Planned::new(&suite, &ctx, &Selection::default())
                        .expect("the fault suite plans"),
                }
            })
        })
    };
    let plans_by_id: BTreeMap<String, Plan> =
        plans.into_iter().map(|p| (p.case.id.clone(), p)).collect();
    for (id, plan) in &plans_by_id {
        let Some(row) = rows.get(id).cloned() else {
            continue;
        };
        let plan = plan.clone();
        let init = init.clone();
        trials.push(Trial::test(format!("faults::{id}"), move || {
            let shared = init();
            let run = shared.start(options(row.retries));
            let outcome = shared.run(&run, &plan);
            check(&row, &outcome)
        }));
    }
    let budget_plans = (
        plans_by_id.get("retry_503_then_200").cloned(),
        plans_by_id.get("stream_ok").cloned(),
    );
    let init_b = init.clone();
    trials.push(Trial::test(
        "faults::the_request_budget_stops_the_run",
        move || {
            let (Some(flaky), Some(other)) = budget_plans.clone() else {
                return Err("the budget trial needs retry_503_then_200 and stream_ok".into());
            };
            let shared = init_b();
            let run = shared.start(RunOptions {
                max_requests: Some(1),
                ..options(None)
            });
            let first = shared.run(&run, &flaky);
            let second = shared.run(&run, &other);
            let mut problems = Vec::new();
            if first.status != Some(503) || first.retries != 0 || !first.reason.contains("budget") {
                problems.push(format!(
                    "the first case should stop at its 503 for want of budget: {first:?}"
                ));
            }
            if second.verdict.as_str() != "error"
                || !second
                    .failures
                    .iter()
                    .any(|f| matches!(f, llm_contract::model::failure::Failure::Budget { .. }))
            {
                problems.push(format!("the second case should not be sent: {second:?}"));
            }
            if run.runner.budget() != Some((1, 1)) {
                problems.push(format!("requests sent: {:?}", run.runner.budget()));
            }
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("\n").into())
            }
        },
    ));
    let deviating = plans_by_id.get("tool_calls_null").cloned();
    let init_s = init.clone();
    trials.push(Trial::test("faults::strict_fails_deviations", move || {
        let Some(plan) = deviating.clone() else {
            return Err("needs tool_calls_null".into());
        };
        let shared = init_s();
        let mut problems = Vec::new();
        // --strict on the run, then `strict: true` on the target: each fails the deviation.
        let mut strict_target = plan.clone();
        let mut target = (*plan.target).clone();
        target.strict = true;
        strict_target.target = Arc::new(target);
        for (how, strict, plan) in [
            ("plain", false, &plan),
            ("--strict", true, &plan),
            ("target strict", false, &strict_target),
        ] {
            let run = shared.start(RunOptions {
                strict,
                ..options(None)
            });
            let o = shared.run(&run, plan);
            let listed = o.deviations.iter().any(|d| d.name == "tool_calls_null");
            let want = if how == "plain" { "pass" } else { "fail" };
            if o.verdict.as_str() != want || !listed {
                problems.push(format!(
                    "{how}: expected {want} with the deviation listed: {o:?}"
                ));
            }
            if want == "fail" && o.class.as_str() != "contract_drift" {
                problems.push(format!("{how}: expected contract_drift, got {}", o.class));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n").into())
        }
    }));
    let quota_plan = plans_by_id.get("quota_402").cloned();
    let init_q = init.clone();
    trials.push(Trial::test(
        "faults::quota_is_skip_skips_quota",
        move || {
            let Some(plan) = quota_plan.clone() else {
                return Err("needs quota_402".into());
            };
            // Expect ok so the quota answer would fail; --quota-is-skip turns it into a skip.
            let mut plan = plan;
            plan.expect.class = llm_contract::model::class::Class::Ok;
            plan.expect.status = vec![200];
            let shared = init_q();
            let run = shared.start(RunOptions {
                quota_is_skip: true,
                ..options(None)
            });
            let o = shared.run(&run, &plan);
            if o.verdict.as_str() == "skip"
                && o.class.as_str() == "quota"
                && o.reason.contains("--quota-is-skip")
            {
                Ok(())
            } else {
                Err(format!("expected a skipped quota outcome: {o:?}").into())
            }
        },
    ));
    Ok(trials)
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match trials(&root) {
        Ok(t) => libtest_mimic::run(&args, t).exit_code(),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
