//! The recording side of the command line: `record`, `review`, `accept`, `reject`, `scan`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::Args;

use crate::baseline::record::{self, Recorder, Written};
use crate::baseline::sanitize::{self, Sanitizer};
use crate::context::{Context, Secret};
use crate::contract::fixtures::FixtureStore;
use crate::contract::load::Contracts;
use crate::contract::suite::{Paths, Suite};
use crate::model::fixture::{Fixture, Provenance};
use crate::model::plan::AuthMode;
use crate::report;
use crate::run::build::LiveOptions;
use crate::run::build::{Planned, Selection, Start};
use crate::run::runner::RunOptions;
use crate::util::text::Visible;

use super::out::{errln, out, outln};
use super::SuiteArgs;

#[derive(Args)]
pub struct RecordArgs {
    /// Target to record (default: the default target; `--base-url` alone: openai_compatible).
    #[arg(long)]
    target: Option<String>,
    #[command(flatten)]
    select: super::SelectArgs,
    /// The base URL, e.g. http://127.0.0.1:4000/v1.
    #[arg(long)]
    base_url: Option<String>,
    /// The environment variable holding the API key.
    #[arg(long)]
    api_key_env: Option<String>,
    /// The model id substituted for ${model} (a case's own vars still win); the fixtures record
    /// it, and an offline run replays it.
    #[arg(long)]
    model: Option<String>,
    /// Replace pinned fixtures that differ instead of writing <case>.json.new beside them.
    #[arg(long)]
    overwrite: bool,
    /// The server's name for provenance (default: the target's `server`, else the answers'
    /// `Server` header, else `unknown`).
    #[arg(long)]
    server: Option<String>,
    /// The server's version for provenance (default: the answers' `version_header` named by
    /// the target, else unknown).
    #[arg(long)]
    server_version: Option<String>,
    /// Retries for transient failures (default: the target's policy).
    #[arg(long, value_parser = super::retries, allow_negative_numbers = true)]
    retries: Option<u32>,
    /// Requests out at once.
    #[arg(long, default_value_t = 8, value_parser = super::jobs, allow_negative_numbers = true)]
    jobs: usize,
    /// Multiply retry waits by this factor.
    #[arg(long, default_value_t = 1.0, value_parser = super::time_scale, allow_negative_numbers = true)]
    time_scale: f64,
    /// Tests only: pause this long between a fixture's flushed temporary file and its rename.
    #[arg(long, hide = true, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    test_pause_before_rename_ms: u64,
    #[command(flatten)]
    suite: SuiteArgs,
}

#[derive(Args)]
pub struct ReviewArgs {
    /// Only pending fixtures whose path contains this text.
    pattern: Option<String>,
    /// Accepting: refuse a pending fixture whose answer breaks its case's schema (without it,
    /// such a fixture is accepted with a warning saying where and why).
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    suite: SuiteArgs,
}

#[derive(Args)]
pub struct ScanArgs {
    /// Files or directories to scan (default: fixtures and reports).
    paths: Vec<PathBuf>,
    /// Also look for the value of this environment variable (repeatable); the targets' key
    /// variables are always looked for.
    #[arg(long)]
    key_env: Vec<String>,
    /// Directory of contracts (for the targets' key variables).
    #[arg(long, default_value = "contracts")]
    contracts: PathBuf,
}

/// Every key the environment holds for any target, plus named extras: what must never be written.
fn known_secrets(ctx: &Context, contracts: Option<&Contracts>, extra: &[String]) -> Vec<Secret> {
    let mut names: Vec<String> = extra.to_vec();
    if let Some(c) = contracts {
        names.extend(c.targets.iter().map(|t| t.api_key_env.clone()));
    }
    names.sort();
    names.dedup();
    names.iter().filter_map(|n| ctx.secret(n)).collect()
}

pub fn record(args: RecordArgs, ctx: &Context) -> ExitCode {
    let suite = match Suite::load(&args.suite.paths()) {
        Ok(s) => s,
        Err(e) => return super::config_exit(e),
    };
    let selection = Selection {
        live: Some(LiveOptions {
            target: args.target.clone(),
            base_url: args.base_url.clone(),
            api_key_env: args.api_key_env.clone(),
            model: args.model.clone(),
        }),
        filter: args.select.filter(),
        ..Selection::default()
    };
    let mut planned = match Planned::new(&suite, ctx, &selection) {
        Ok(p) => p,
        Err(e) => return super::config_exit(e),
    };
    let (Some(endpoint), Some(target)) = (
        planned.live.clone(),
        planned.plans.first().map(|p| p.target.clone()),
    ) else {
        return super::config_exit("error: nothing to record");
    };
    if endpoint.key.is_none() && planned.plans.iter().any(|p| p.case.auth == AuthMode::Valid) {
        return super::config_exit(format!(
            "error: {} is not set: recording needs the target's API key (or --api-key-env VAR)",
            endpoint.key_env
        ));
    }
    // Every key the environment holds for any target must stay out of the fixtures too.
    for k in known_secrets(ctx, Some(&suite.contracts), &[]) {
        planned.sanitizer.add_secret(&k);
    }
    let mut known = known_secrets(ctx, Some(&suite.contracts), &[]);
    known.extend(endpoint.key.clone());
    let sanitizer = planned.sanitizer.clone();
    let dir = suite.fixtures.dir.join(&target.name);
    clean_stale_temporaries(&dir);
    let start = Start {
        options: RunOptions {
            retries: args.retries,
            time_scale: args.time_scale,
            ..RunOptions::default()
        },
        ..Start::default()
    };
    let started = match planned.start(start) {
        Ok(s) => s,
        Err(e) => return super::config_exit(format!("error: {e}")),
    };
    let plans = planned.plans.clone();
    outln!(
        "llm-contract record: {} case(s) from {} into {}{}",
        plans.len(),
        sanitizer.text(&record::url_alias(&endpoint.base_url)),
        dir.display(),
        if ctx.is_ci() {
            " (CI is set: nothing will be written)"
        } else {
            ""
        }
    );
    let work = started.work(std::mem::take(&mut planned.plans));
    // The recorder watches each case's exchanges; its capture is sanitized as the case ends.
    let done = started.rt.block_on(crate::run::lanes::run_all(
        started.runner.clone(),
        work,
        args.jobs,
        Recorder::default,
        |o, recorder, plan| (o, recorder.capture(plan, &sanitizer)),
    ));
    let now = SystemTime::now();
    // Not every answer carries the version header (early errors may not): the run's answers all
    // come from one server, so any of them tells its version.
    let run_version = done
        .iter()
        .find_map(|(_, c)| c.as_ref().and_then(|c| c.version.clone()));
    let run_server = done
        .iter()
        .find_map(|(_, c)| c.as_ref().and_then(|c| c.server.clone()));
    let mut trouble = false;
    let summary = report::Summary::of(done.iter().map(|(o, _)| o.verdict));
    for (outcome, capture) in done {
        out!("{}", report::line(&outcome));
        let Some(capture) = capture else {
            outln!("  — not recorded: no response");
            out!("{}", report::details(&outcome));
            continue;
        };
        let plan = plans
            .iter()
            .find(|p| p.id == outcome.id)
            .expect("a plan per outcome");
        let fixture = Fixture {
            provenance: Provenance::Recorded {
                // Never the target's description: what the answers said, or `unknown`.
                server: args
                    .server
                    .clone()
                    .or_else(|| target.server.clone())
                    .or(capture.server.clone())
                    .or(run_server.clone())
                    .unwrap_or_else(|| "unknown".into()),
                version: args
                    .server_version
                    .clone()
                    .or(capture.version.clone())
                    .or(run_version.clone())
                    .unwrap_or_else(|| "unknown".into()),
                date: crate::util::time::rfc3339(now),
                base_url: Some(sanitizer.text(&record::url_alias(&endpoint.base_url))),
                harness: Some(format!("llm-contract {}", env!("CARGO_PKG_VERSION"))),
                target: Some(target.name.clone()),
                model: plan.model().map(str::to_string),
                sanitizer: Some(Sanitizer::rules_hash(&target.sanitize)),
            },
            request: capture.request,
            responses: capture.responses,
        };
        let pinned = suite.fixtures.path(&target.name, &plan.case.id);
        let existing = suite.fixtures.get(&target.name, &plan.case.id);
        match record::write_fixture(
            &pinned,
            &fixture,
            existing.as_deref(),
            args.overwrite,
            ctx.is_ci(),
            &known,
            Duration::from_millis(args.test_pause_before_rename_ms),
        ) {
            Ok(Written::Created(p)) => outln!("  → pinned {}", p.display()),
            Ok(Written::Unchanged(p)) => outln!("  = unchanged {}", p.display()),
            Ok(Written::Pending { path, diff }) => {
                trouble = true;
                outln!(
                    "  ≠ differs from the pinned fixture: pending {}",
                    path.display()
                );
                outln!("{}", indent(&diff));
            }
            Ok(Written::Overwritten { path, diff }) => {
                outln!("  ↻ overwrote {}", path.display());
                outln!("{}", indent(&diff));
            }
            Ok(Written::Withheld { path, change }) => {
                trouble |= change;
                outln!(
                    "  · CI: not written ({} {})",
                    if change {
                        "would differ from"
                    } else {
                        "would pin"
                    },
                    path.display()
                );
            }
            Ok(Written::Refused { path, hits }) => {
                trouble = true;
                outln!(
                    "  ✗ REFUSED: after sanitizing, {} still holds what looks like a secret; nothing written",
                    path.display()
                );
                for h in hits {
                    match h.line {
                        0 => outln!("      {} {}", h.kind, Visible(&h.masked)),
                        line => outln!("      line {line}: {} {}", h.kind, Visible(&h.masked)),
                    }
                }
            }
            Err(e) => {
                trouble = true;
                outln!("  ✗ cannot write {}: {e}", pinned.display());
            }
        }
    }
    let pending_now = record::pending(&suite.fixtures.dir);
    if !pending_now.is_empty() {
        outln!(
            "\n{} pending fixture(s): review them with `llm-contract review` (or `accept` / `reject`)",
            pending_now.len()
        );
    }
    outln!("\n{}", summary.line());
    // The cases' exit code, as `run` gives it (1 a failure, 3 errors only); a fixture that waits
    // for review, was refused or could not be written is a 1 too.
    ExitCode::from(match summary.exit_code() {
        0 | 3 if trouble => 1,
        code => code,
    })
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("      {}", Visible(l)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Removes temporary files a killed recorder may have left (`.<name>.tmp-<pid>`).
fn clean_stale_temporaries(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn selected(fixtures: &Path, pattern: Option<&str>) -> Vec<PathBuf> {
    record::pending(fixtures)
        .into_iter()
        .filter(|p| pattern.is_none_or(|pat| p.to_string_lossy().contains(pat)))
        .collect()
}

/// Fixtures whose case (or target) no longer exists.
fn orphans(paths: &Paths) -> Vec<PathBuf> {
    let (Ok(contracts), Ok(store)) = (
        Contracts::load(&paths.contracts),
        FixtureStore::load(&paths.fixtures),
    ) else {
        return Vec::new();
    };
    crate::contract::lint::orphans(&contracts, &store)
        .into_iter()
        .map(|o| o.path)
        .collect()
}

fn report_orphans(paths: &Paths) {
    let o = orphans(paths);
    if !o.is_empty() {
        outln!("orphaned fixtures (no such case or target):");
        for p in o {
            outln!("  {}", p.display());
        }
    }
}

/// Walks the pending fixtures one by one: accept, reject or skip, like `cargo insta review`.
pub fn review(args: ReviewArgs) -> ExitCode {
    let paths = args.suite.paths();
    let pending = selected(&paths.fixtures, args.pattern.as_deref());
    report_orphans(&paths);
    if pending.is_empty() {
        outln!("no pending fixtures");
        return ExitCode::SUCCESS;
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let (mut accepted, mut rejected, mut skipped) = (0, 0, 0);
    let suite = Suite::load(&paths).ok();
    for (i, p) in pending.iter().enumerate() {
        outln!("\n== {} ({} of {})", p.display(), i + 1, pending.len());
        match record::pending_diff(p) {
            Ok(d) => outln!("{}", crate::util::text::VisibleLines(&d)),
            Err(e) => outln!("(cannot read it: {e})"),
        }
        if let super::pending::Checked::Breaks(lines) = super::pending::check(suite.as_ref(), p) {
            schema_warning(p, &lines);
        }
        out!("[a]ccept  [r]eject  [s]kip  [q]uit > ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if input.read_line(&mut line).unwrap_or(0) == 0 {
            outln!("(end of input)");
            skipped += pending.len() - i;
            break;
        }
        match line.trim() {
            "a" | "accept" => match record::accept(p) {
                Ok(pinned) => {
                    accepted += 1;
                    outln!("accepted → {}", pinned.display());
                }
                Err(e) => outln!("cannot accept: {e}"),
            },
            "r" | "reject" => match record::reject(p) {
                Ok(()) => {
                    rejected += 1;
                    outln!("rejected");
                }
                Err(e) => outln!("cannot reject: {e}"),
            },
            "q" | "quit" => {
                skipped += pending.len() - i;
                break;
            }
            _ => {
                skipped += 1;
                outln!("skipped");
            }
        }
    }
    outln!("\n{accepted} accepted, {rejected} rejected, {skipped} skipped");
    ExitCode::SUCCESS
}

/// `accept` or `reject` every pending fixture (matching the pattern).
pub fn bulk(args: ReviewArgs, accept: bool) -> ExitCode {
    let paths = args.suite.paths();
    let pending = selected(&paths.fixtures, args.pattern.as_deref());
    let mut failed = false;
    let suite = accept.then(|| Suite::load(&paths).ok()).flatten();
    for p in &pending {
        if accept {
            match super::pending::check(suite.as_ref(), p) {
                super::pending::Checked::Breaks(lines) => {
                    schema_warning(p, &lines);
                    if args.strict {
                        failed = true;
                        outln!("not accepted (--strict): {}", p.display());
                        continue;
                    }
                }
                super::pending::Checked::Clean { note: Some(n) } => {
                    outln!("note: {}: {}", p.display(), Visible(&n));
                }
                super::pending::Checked::Clean { note: None } => {}
            }
        }
        let r = if accept {
            record::accept(p).map(|pinned| format!("accepted → {}", pinned.display()))
        } else {
            record::reject(p).map(|()| format!("rejected {}", p.display()))
        };
        match r {
            Ok(m) => outln!("{m}"),
            Err(e) => {
                failed = true;
                outln!(
                    "cannot {} {}: {e}",
                    if accept { "accept" } else { "reject" },
                    p.display()
                );
            }
        }
    }
    if pending.is_empty() {
        outln!("no pending fixtures");
    }
    report_orphans(&paths);
    ExitCode::from(u8::from(failed))
}

/// Says that a pending fixture's answer breaks its case's schema, where and why.
fn schema_warning(p: &Path, lines: &[String]) {
    outln!(
        "warning: {} breaks its case's schema (a run replaying it will fail):",
        p.display()
    );
    for l in lines {
        outln!("  - {}", Visible(l));
    }
}

/// The files below `path` (or `path` itself), symbolic links to directories not followed; those
/// are added to `skipped` with why.
fn files_below(path: &Path, out: &mut Vec<PathBuf>, skipped: &mut Vec<(PathBuf, String)>) {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        if let Ok(walk) = crate::util::fs::walk(path, &|_| true) {
            out.extend(walk.files);
            skipped.extend(walk.not_followed);
        }
    } else if path.exists() || path.is_symlink() {
        out.push(path.to_path_buf());
    }
}

/// Looks through fixtures and reports for anything that looks like a secret.
pub fn scan(args: ScanArgs, ctx: &Context) -> ExitCode {
    let contracts = Contracts::load(&args.contracts).ok();
    let known = known_secrets(ctx, contracts.as_ref(), &args.key_env);
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from("fixtures"), PathBuf::from("reports")]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for r in &roots {
        files_below(r, &mut files, &mut skipped);
    }
    let mut hits = 0usize;
    for f in &files {
        let bytes = match crate::util::fs::read_bytes(f, 64 * 1024 * 1024) {
            Ok(b) => b,
            Err(e) => {
                skipped.push((f.clone(), e.to_string()));
                continue;
            }
        };
        if bytes.contains(&0) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for h in sanitize::scan(&text, &known) {
            hits += 1;
            outln!(
                "{}:{}: {} {}",
                f.display(),
                h.line,
                h.kind,
                Visible(&h.masked)
            );
        }
    }
    for (path, why) in &skipped {
        errln!("scan: not scanned: {}: {why}", path.display());
    }
    outln!(
        "scanned {} file(s) for {} known key(s), bearer tokens, sk- keys and cookies: {} hit(s)",
        files.len(),
        known.len(),
        hits
    );
    ExitCode::from(u8::from(hits > 0))
}
