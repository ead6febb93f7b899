//! The `cargo test` harness: one libtest-mimic trial per target × case, named `<target>::<case>`.
//!
//! Discovery only reads files: `--list` starts no server and touches no network. The first trial
//! that runs starts one shared tokio runtime and, offline, one recorded endpoint on 127.0.0.1;
//! every trial bridges into that runtime. Offline (the default) trials replay the pinned
//! fixtures; with `LLM_CONTRACT_LIVE=1` they run against the live target (`LLM_CONTRACT_TARGET`,
//! default the default target) and live-only cases run too.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::baseline::sanitize::Sanitizer;
use crate::context::Context;
use crate::contract::suite::{Paths, Suite};
use crate::exchange::endpoint::Endpoint;
use crate::exchange::server::Server;
use crate::model::outcome::Verdict;
use crate::model::plan::Plan;
use crate::report;
use crate::run::build::LiveOptions;
use crate::run::runner::Runner;

struct Shared {
    rt: tokio::runtime::Runtime,
    runner: Runner,
    server: OnceLock<Result<Server, String>>,
}

/// What the first running trial needs to build [`Shared`].
struct Lazy {
    cell: OnceLock<Result<Shared, String>>,
    connect: Duration,
    schemas: Arc<crate::contract::schema::SchemaRegistry>,
    fixtures: Arc<crate::contract::fixtures::FixtureStore>,
    sanitizer: Sanitizer,
}

impl Lazy {
    fn get(&self) -> Result<&Shared, String> {
        self.cell
            .get_or_init(|| {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start the runtime: {e}"))?;
                let client = crate::exchange::transport::Client::new(self.connect)?;
                Ok(Shared {
                    rt,
                    runner: Runner::new(
                        client,
                        self.schemas.clone(),
                        self.fixtures.clone(),
                        self.sanitizer.clone(),
                    ),
                    server: OnceLock::new(),
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

enum Where {
    Recorded,
    Live(Endpoint),
}

/// Builds the trials for a suite; `Err` is a message for a suite that cannot run at all.
pub fn trials(paths: &Paths, ctx: &Context) -> Result<Vec<Trial>, String> {
    let suite = Suite::load(paths).map_err(|e| e.to_string())?;
    let live = ctx.live_tests();
    let mut sanitizer = Sanitizer::new();
    let (plans, place): (Vec<Plan>, Where) = if live {
        let opts = LiveOptions {
            target: ctx.live_target(),
            ..LiveOptions::default()
        };
        let (target, endpoint) =
            crate::run::build::live_target(&suite, ctx, &opts).map_err(|e| e.to_string())?;
        if let Some(k) = &endpoint.key {
            sanitizer.add_secret(k);
        }
        (
            suite.plans(&[target], None).map_err(|e| e.to_string())?,
            Where::Live(endpoint),
        )
    } else {
        let targets = suite.recorded_targets(&[]).map_err(|e| e.to_string())?;
        (
            suite.plans(&targets, None).map_err(|e| e.to_string())?,
            Where::Recorded,
        )
    };
    if plans.is_empty() {
        return Err("no contract cases were discovered".into());
    }
    let connect = plans
        .iter()
        .map(|p| p.target.timeouts.connect_ms)
        .max()
        .unwrap_or(10_000);
    let lazy = Arc::new(Lazy {
        cell: OnceLock::new(),
        connect: Duration::from_millis(connect),
        schemas: suite.schemas.clone(),
        fixtures: suite.fixtures.clone(),
        sanitizer,
    });
    let place = Arc::new(place);
    let mut trials = Vec::with_capacity(plans.len());
    for plan in plans {
        let ignored = (plan.case.live_only && !live) || plan.skip.is_some();
        let lazy = lazy.clone();
        let place = place.clone();
        let name = plan.id.clone();
        let trial = Trial::test(name, move || {
            let shared = lazy.get().map_err(Failed::from)?;
            let endpoint = match &*place {
                Where::Live(e) => e.clone(),
                Where::Recorded => {
                    let server = shared.server.get_or_init(|| {
                        shared
                            .rt
                            .block_on(crate::baseline::replay::start(lazy.fixtures.clone(), 1.0))
                            .map_err(|e| {
                                format!("cannot start the recorded endpoint on 127.0.0.1: {e}")
                            })
                    });
                    let server = server.as_ref().map_err(|e| Failed::from(e.clone()))?;
                    crate::run::build::recorded_endpoint(&server.url(), &plan)
                }
            };
            let outcome = shared.rt.block_on(shared.runner.run(&plan, &endpoint));
            match outcome.verdict {
                Verdict::Pass | Verdict::Skip => Ok(()),
                Verdict::Fail | Verdict::Error => Err(Failed::from(format!(
                    "{}\n{}{}",
                    report::line(&outcome),
                    report::details(&outcome),
                    earlier_attempts(&outcome)
                ))),
            }
        })
        .with_ignored_flag(ignored);
        trials.push(trial);
    }
    Ok(trials)
}

/// The harness's `main`: `root` is the directory holding `contracts/` and `fixtures/`.
pub fn main(root: &Path) -> ExitCode {
    let args = Arguments::from_args();
    let ctx = Context::from_process();
    match trials(&Paths::under(root), &ctx) {
        Ok(trials) => libtest_mimic::run(&args, trials).exit_code(),
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

/// The attempts before the last, one line each, for a case that was retried.
fn earlier_attempts(o: &crate::model::outcome::CaseOutcome) -> String {
    let n = o.attempts.len();
    let mut out = String::new();
    for (i, a) in o.attempts.iter().take(n.saturating_sub(1)).enumerate() {
        out.push_str(&format!(
            "      attempt {} of {n}: {}, class {} (rule {}), {} failure(s)\n",
            i + 1,
            a.status
                .map_or("no response".to_string(), |s| format!("HTTP {s}")),
            a.class,
            a.rule,
            a.failures.len()
        ));
    }
    out
}
