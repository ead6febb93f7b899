//! `run --dry-run`: what a live run would send, per target, and nothing sent.

use std::process::ExitCode;

use super::out::outln;
use super::{config_exit, RunArgs};
use crate::context::Context;
use crate::contract::suite::Suite;
use crate::run::build::{live_target, LiveOptions};

/// Prints every request a live run of the selection would send. With `--live`, the one target
/// that run would use (with `--base-url`, `--model`, `--api-key-env`); without, each target a
/// plain run replays (`--target`), at its live base URL. No key is needed, none is printed.
pub(super) fn dry_run(args: &RunArgs, suite: &Suite, ctx: &Context) -> ExitCode {
    let names: Vec<Option<String>> = if args.live {
        vec![args.target.first().cloned()]
    } else {
        match suite.recorded_targets(&args.target) {
            Ok(ts) => ts.iter().map(|t| Some(t.name.clone())).collect(),
            Err(e) => return config_exit(e),
        }
    };
    let mut budgets = Vec::with_capacity(names.len());
    for name in names {
        let opts = LiveOptions {
            target: name,
            base_url: args.base_url.clone(),
            api_key_env: args.api_key_env.clone(),
            model: args.model.clone(),
        };
        let (target, endpoint) = match live_target(suite, ctx, &opts) {
            Ok(t) => t,
            Err(e) => return config_exit(e),
        };
        let plans = match suite.plans(&[target], Some(&args.select.filter())) {
            Ok(p) => p,
            Err(e) => return config_exit(e),
        };
        budgets.push(crate::run::budget::of_target(
            &plans,
            &endpoint.base_url,
            args.retries,
        ));
    }
    outln!(
        "{}",
        crate::report::budget::render(&budgets, args.max_requests).trim_end()
    );
    ExitCode::SUCCESS
}
