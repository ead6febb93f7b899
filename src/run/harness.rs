//! The `cargo test` harness: one libtest-mimic trial per target × case, named `<target>::<case>`.
//!
//! Discovery only reads files: `--list` starts no server and touches no network. The first trial
//! that runs starts one shared tokio runtime and, offline, one recorded endpoint on 127.0.0.1;
//! every trial bridges into that runtime. Offline (the default) trials replay the pinned
//! fixtures; with `LLM_CONTRACT_LIVE=1` they run against the live target (`LLM_CONTRACT_TARGET`,
//! default the default target; `LLM_CONTRACT_MODEL` replaces its `${model}`) and live-only cases
//! run too. Offline each case replays the model its fixture recorded.
//!
//! Selecting cases: libtest's own filter (a text the name contains, or `--exact` name); a filter
//! with a wildcard (`*`, `?`) is a glob matched as `run --case` matches it (against
//! `<target>::<case>` and the case id). `LLM_CONTRACT_TAG` (comma-separated) keeps the cases with
//! any of those tags, as `run --tag` does. A glob or tag that selects nothing stops the harness
//! (exit 2) with close matches.
//!
//! Offline, a case with no fixture for its target passes as skipped (`not recorded for
//! <target>`); `LLM_CONTRACT_REQUIRE_FIXTURES=1` fails it, as `run --require-fixtures` does.
//!
//! `LLM_CONTRACT_REQUIRE=tools,n` fails a case the gateway answers with a clean refusal of one
//! of those capabilities, as `run --require` does (otherwise the trial passes as `unsupported`;
//! an unknown capability's name stops the harness, exit 2).
//!
//! `LLM_CONTRACT_STRICT=1` makes every named deviation from the spec (and every kind of drift)
//! fail, as `run --strict` does.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};

use libtest_mimic::{Arguments, Failed, Trial};

use crate::context::Context;
use crate::contract::select::Filter;
use crate::contract::suite::{Paths, Suite};
use crate::model::outcome::Verdict;
use crate::report;
use crate::report::not_passed::{self, NotPassed};
use crate::run::build::{LiveOptions, Planned, Selection, Start, Started};
use crate::run::runner::RunOptions;
use crate::util::glob;

/// Builds the trials for a suite; `Err` is a message for a suite that cannot run at all.
///
/// Listing the trials only plans them: the first trial that runs starts the run (its runtime,
/// client, runner and, offline, the recorded endpoint), which every later trial shares.
pub fn trials(paths: &Paths, ctx: &Context) -> Result<Vec<Trial>, String> {
    selected(paths, ctx, Vec::new())
}

/// libtest-mimic knows no wildcards: a filter with one is taken out of its arguments, to be
/// matched as `run --case` matches it. A plain filter stays libtest's.
fn take_globs(args: &mut Arguments) -> Vec<String> {
    args.filter.take_if(|f| glob::is_glob(f)).into_iter().collect()
}

/// What the harness runs: live (`LLM_CONTRACT_LIVE`, with `LLM_CONTRACT_TARGET` and the live-only
/// `LLM_CONTRACT_MODEL`) or offline, the cases matching `patterns` with `LLM_CONTRACT_TAG`'s tags.
fn selection(ctx: &Context, patterns: Vec<String>) -> Selection {
    Selection {
        live: ctx.live_tests().then(|| LiveOptions {
            target: ctx.live_target(),
            model: ctx.live_model(),
            ..LiveOptions::default()
        }),
        filter: Filter {
            cases: patterns,
            tags: ctx.tags(),
        },
        ..Selection::default()
    }
}

/// [`trials`] for the cases matching `patterns` (as `run --case`) and the context's tags.
pub fn selected(paths: &Paths, ctx: &Context, patterns: Vec<String>) -> Result<Vec<Trial>, String> {
    collecting(paths, ctx, patterns, Collected::default())
}

/// The cases that did not pass, as the trials end, for the list the harness ends with.
type Collected = Arc<Mutex<Vec<NotPassed>>>;

/// [`selected`], each trial adding its case to `collected` when it did not pass.
fn collecting(
    paths: &Paths,
    ctx: &Context,
    patterns: Vec<String>,
    collected: Collected,
) -> Result<Vec<Trial>, String> {
    let suite = Suite::load(paths).map_err(|e| e.to_string())?;
    let live = ctx.live_tests();
    let selection = selection(ctx, patterns);
    let mut planned = Planned::new(&suite, ctx, &selection).map_err(|e| e.to_string())?;
    let plans = std::mem::take(&mut planned.plans);
    if plans.is_empty() {
        return Err("no contract cases were discovered".into());
    }
    let require_fixtures = ctx.require_fixtures();
    let strict = ctx.strict_tests();
    let require = ctx.required_capabilities();
    if let Some(bad) = require
        .iter()
        .find(|c| crate::model::capability::by_name(c).is_none())
    {
        return Err(format!(
            "{}: unknown capability `{bad}` (one of: {})",
            crate::context::REQUIRE_VAR,
            crate::model::capability::names().collect::<Vec<_>>().join(", ")
        ));
    }
    let planned = Arc::new(planned);
    let started: Arc<OnceLock<Result<Started, String>>> = Arc::new(OnceLock::new());
    let mut trials = Vec::with_capacity(plans.len());
    for plan in plans {
        // Offline, nothing to replay: a live-only case, or one not recorded for its target
        // (unless fixtures are required, which fails it).
        let not_recorded = !live && !require_fixtures && !planned.recorded(&plan);
        let ignored = (plan.case.live_only && !live) || plan.skip.is_some() || not_recorded;
        let (planned, started, require) = (planned.clone(), started.clone(), require.clone());
        let collected = collected.clone();
        let name = plan.id.clone();
        let trial = Trial::test(name, move || {
            let run = started
                .get_or_init(|| {
                    planned
                        .start(Start {
                            options: RunOptions {
                                require_fixtures,
                                strict,
                                require,
                                ..RunOptions::default()
                            },
                            worker_threads: Some(2),
                            replay: Some(1.0),
                            ..Start::default()
                        })
                        .map_err(|e| e.to_string())
                })
                .as_ref()
                .map_err(|e| Failed::from(e.clone()))?;
            let endpoint = run
                .endpoint(&plan)
                .ok_or_else(|| Failed::from("the recorded endpoint is not running"))?;
            let outcome = run.rt.block_on(run.runner.run(&plan, &endpoint));
            if let Some(n) = NotPassed::of(&outcome) {
                collected.lock().unwrap_or_else(|p| p.into_inner()).push(n);
            }
            match outcome.verdict {
                Verdict::Pass | Verdict::Skip | Verdict::Unsupported => Ok(()),
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

/// The harness's `main`: `root` is the directory holding `contracts/` and `fixtures/` (and,
/// optionally, `contracts/schemas/` with schemas of your own, added to the built-in ones).
pub fn main(root: &Path) -> ExitCode {
    main_with(root, Arguments::from_args(), &Context::from_process())
}

/// The harness's `main` for a suite whose folders are elsewhere: the same three folders the
/// command line's `--contracts`, `--fixtures` and `--schemas` name, taken the same way (the
/// schemas folder adds to the built-in schemas and may be absent).
pub fn main_in(paths: &Paths) -> ExitCode {
    run_in(paths, Arguments::from_args(), &Context::from_process())
}

/// [`main`] with libtest's arguments and the environment given.
pub fn main_with(root: &Path, args: Arguments, ctx: &Context) -> ExitCode {
    run_in(&Paths::under(root), args, ctx)
}

fn run_in(paths: &Paths, mut args: Arguments, ctx: &Context) -> ExitCode {
    let globs = take_globs(&mut args);
    let collected = Collected::default();
    match collecting(paths, ctx, globs, collected.clone()) {
        Ok(trials) => {
            let conclusion = libtest_mimic::run(&args, trials);
            // After libtest's summary: every case that did not pass, grouped by class, with its
            // reason (skips and unsupported cases too, which libtest counts as passed).
            let list = not_passed::render(&collected.lock().unwrap_or_else(|p| p.into_inner()));
            if !list.is_empty() {
                println!("{list}");
            }
            conclusion.exit_code()
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glob_filter_is_taken_from_libtest_and_a_plain_one_left_to_it() {
        let mut a = Arguments::from_iter(["contracts", "cometapi::stream*"]);
        assert_eq!(take_globs(&mut a), ["cometapi::stream*"]);
        assert_eq!(a.filter, None);
        let mut a = Arguments::from_iter(["contracts", "--exact", "cometapi::streaming"]);
        assert!(take_globs(&mut a).is_empty());
        assert_eq!(a.filter.as_deref(), Some("cometapi::streaming"));
        assert!(a.exact);
        let mut a = Arguments::from_iter(["contracts"]);
        assert!(take_globs(&mut a).is_empty());
    }

    #[test]
    fn the_model_variable_is_a_live_override_only() {
        let live = Context::from_map([("LLM_CONTRACT_LIVE", "1"), ("LLM_CONTRACT_MODEL", "m-2")]);
        let opts = selection(&live, Vec::new()).live.unwrap();
        assert_eq!(opts.model.as_deref(), Some("m-2"));
        let offline = Context::from_map([("LLM_CONTRACT_MODEL", "m-2")]);
        assert!(selection(&offline, Vec::new()).live.is_none());
    }
}
