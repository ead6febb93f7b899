//! Layer 8: the `llm-contract` command line (clap): `run`, `list`, `validate`, `lint` here;
//! `record`, `review`, `accept`, `reject` and `scan` in `cli/record.rs`. `src/main.rs` calls
//! [`main`].

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

mod budget;
mod color;
mod hints;
mod init;
mod matrix;
mod out;
mod pending;
mod record;

use record as commands;

use out::{errln, out, outln};

use crate::context::Context;
use crate::contract::schema::{SchemaRegistry, MAX_VIOLATIONS};
use crate::contract::select::Filter;
use crate::contract::suite::{Paths, Suite};
use crate::judge::levels;
use crate::model::deviation::Level;
use crate::model::outcome::Mode;
use crate::report::progress;
use crate::report::{self, Summary};
use crate::run::build::LiveOptions;
use crate::run::build::{Planned, Selection, Start, StartError};
use crate::run::runner::RunOptions;

const EXIT_CODES: &str = "Exit codes: 0 every case passed (skips allowed); 1 a contract failure or drift; \
2 a configuration or contract-file error (nothing ran); 3 transport or harness errors only (nothing could be judged).";

#[derive(Parser)]
#[command(
    name = "llm-contract",
    version,
    about = "Contract tests for LLM chat-completions HTTP APIs: YAML cases, JSON Schemas, operator classes, drift against pinned fixtures.",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run contract cases against the recorded endpoint (default) or a live one (--live).
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Check a saved JSON body (or - for stdin) against a named schema, at the client level
    /// (named deviations from the spec listed, not failed) or the spec level.
    Validate(ValidateArgs),
    /// List the cases a run would execute, as <target>::<case>.
    List(ListArgs),
    /// Run cases live and pin sanitized fixtures (pending <case>.json.new where one differs).
    Record(commands::RecordArgs),
    /// Walk the pending fixtures one by one: accept, reject or skip.
    Review(commands::ReviewArgs),
    /// Accept every pending fixture (matching PATTERN).
    Accept(commands::ReviewArgs),
    /// Reject every pending fixture (matching PATTERN).
    Reject(commands::ReviewArgs),
    /// Look through fixtures and reports for anything that looks like a secret; exit 1 on a hit.
    Scan(commands::ScanArgs),
    /// Load and check every case, target, schema and fixture without sending anything; a case
    /// a target with fixtures has not recorded yet is a note, not a problem.
    #[command(
        after_help = "Exit codes: 0 no problem found; 2 problems (each printed with file:line:col)."
    )]
    Lint(LintArgs),
    /// Several runs' report.json as one behaviours × targets table: matrix.md and matrix.html,
    /// grouped by family and capability, with per-target totals.
    Matrix(matrix::MatrixArgs),
    /// Scaffold a suite in your repository: contracts/ with the standard cases, a target, the
    /// `cargo test` harness file, a scheduled CI workflow; prints the Cargo.toml lines to add.
    Init(init::InitArgs),
}

#[derive(Args)]
pub(crate) struct SuiteArgs {
    /// Directory of contract cases, targets/ and schemas/.
    #[arg(long, default_value = "contracts")]
    contracts: PathBuf,
    /// Directory of pinned fixtures, <target>/<case>.json.
    #[arg(long, default_value = "fixtures")]
    fixtures: PathBuf,
    /// Directory of your own JSON Schemas, added to the built-in ones (a file named like a
    /// built-in schema replaces it); default <contracts>/schemas, which may be absent.
    #[arg(long)]
    schemas: Option<PathBuf>,
}

impl SuiteArgs {
    pub(crate) fn paths(&self) -> Paths {
        Paths {
            contracts: self.contracts.clone(),
            fixtures: self.fixtures.clone(),
            schemas: self
                .schemas
                .clone()
                .unwrap_or_else(|| self.contracts.join("schemas")),
        }
    }
}

/// Which cases: `--case` and `--tag`, shared by `run`, `record` and `list`.
#[derive(Args)]
pub(crate) struct SelectArgs {
    /// Only these cases (repeatable): an exact id (`happy_path`, `cometapi::happy_path`), a glob
    /// matched against <target>::<case> and the case id (`*` any run, `?` one character:
    /// `cometapi::*`, `*stream*`), or else a text <target>::<case> contains.
    #[arg(long = "case", value_name = "PATTERN")]
    cases: Vec<String>,
    /// Only cases with this tag (repeatable: any of them); with --case, both must hold.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
}

impl SelectArgs {
    pub(crate) fn filter(&self) -> Filter {
        Filter {
            cases: self.cases.clone(),
            tags: self.tags.clone(),
        }
    }
}

#[derive(Args)]
struct RunArgs {
    /// Talk to the live endpoint instead of replaying fixtures.
    #[arg(long)]
    live: bool,
    /// Send nothing: print every request a live run of the selection would send, per target
    /// (method, URL, case, stream, runs × attempts at worst, the output-token cap), with totals.
    #[arg(long)]
    dry_run: bool,
    /// Target to run (repeatable offline; one live). Default: every target with fixtures
    /// offline, the default target (cometapi) live.
    #[arg(long)]
    target: Vec<String>,
    #[command(flatten)]
    select: SelectArgs,
    /// Live: the base URL, e.g. http://127.0.0.1:4000/v1 (selects the generic
    /// `openai_compatible` target unless --target is given).
    #[arg(long, requires = "live")]
    base_url: Option<String>,
    /// Live: the environment variable holding the API key.
    #[arg(long, requires = "live")]
    api_key_env: Option<String>,
    /// Live: the model id substituted for ${model} (a case's own vars still win). Offline each
    /// case replays the model its fixture recorded, whatever --model says.
    #[arg(long)]
    model: Option<String>,
    /// Requests out at once (I/O bound, not CPU bound); each waits its turn once built.
    #[arg(long, default_value_t = 16, value_parser = jobs, allow_negative_numbers = true)]
    jobs: usize,
    /// Where reports go (<dir>/latest/report.json).
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// Multiply every wait by this factor: recorded stream delays offline, retry backoff and
    /// Retry-After everywhere (0 waits not at all; tests use small values).
    #[arg(long, default_value_t = 1.0, value_parser = time_scale, allow_negative_numbers = true)]
    time_scale: f64,
    /// Retries for transient failures (429, 408, 5xx without invalid_request, resets,
    /// timeouts); overrides the targets' `retry.attempts`. 0 disables retries.
    #[arg(long, value_parser = retries, allow_negative_numbers = true)]
    retries: Option<u32>,
    /// Count a quota outcome (402, an exhausted-quota 429) as skipped, not failed.
    #[arg(long)]
    quota_is_skip: bool,
    /// Send at most this many requests in the whole run, retries included.
    #[arg(long, value_parser = requests, allow_negative_numbers = true)]
    max_requests: Option<usize>,
    /// Fail on every kind of drift, additions and header changes included.
    #[arg(long)]
    strict: bool,
    /// Note fixtures older than this many days.
    #[arg(long, default_value_t = 90, value_parser = days, allow_negative_numbers = true)]
    warn_fixture_age: i64,
    /// Fail cases whose fixture is older than this many days.
    #[arg(long, value_parser = days, allow_negative_numbers = true)]
    max_fixture_age: Option<i64>,
    /// A capability the gateway must offer (repeatable): a case the gateway answers with a clean
    /// refusal of it fails instead of being `unsupported`.
    #[arg(long, value_name = "CAPABILITY", value_parser = capability_name)]
    require: Vec<String>,
    /// Offline: fail a case that has no fixture for its target (configuration_drift) instead of
    /// skipping it as "not recorded for <target>".
    #[arg(long)]
    require_fixtures: bool,
    /// Colour the case lines: `auto` on a terminal unless NO_COLOR (any non-empty value) or CI
    /// is set; `always`; `never`.
    #[arg(long, value_enum, default_value_t = color::ColorChoice::Auto, value_name = "WHEN")]
    color: color::ColorChoice,
    #[command(flatten)]
    suite: SuiteArgs,
}

/// The most requests `--jobs` may keep out at once (each has a lane and a connection).
pub(crate) const MAX_JOBS: u64 = 1024;

/// A whole number from `lo` to `hi`, for a numeric flag; the message names the range.
fn whole(s: &str, lo: u64, hi: u64) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from {lo} to {hi}")),
    }
}

/// `--jobs`: 1 to [`MAX_JOBS`].
pub(crate) fn jobs(s: &str) -> Result<usize, String> {
    whole(s, 1, MAX_JOBS).map(|n| n as usize)
}

/// `--retries`: 0 to 100.
pub(crate) fn retries(s: &str) -> Result<u32, String> {
    whole(s, 0, 100).map(|n| n as u32)
}

/// `--max-requests`: 1 to a billion.
fn requests(s: &str) -> Result<usize, String> {
    whole(s, 1, 1_000_000_000).map(|n| n as usize)
}

/// `--warn-fixture-age`, `--max-fixture-age`: 0 to 36500 days.
fn days(s: &str) -> Result<i64, String> {
    whole(s, 0, 36_500).map(|n| n as i64)
}

/// `--time-scale`: a finite number from 0 (no waits) to 1000.
pub(crate) fn time_scale(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && (0.0..=1000.0).contains(&f) => Ok(f),
        _ => Err("must be a number from 0 to 1000 (0: no waits; 1: as recorded or sent)".into()),
    }
}

/// A capability's name, checked against the known ones.
fn capability_name(s: &str) -> Result<String, String> {
    use crate::model::capability;
    if capability::by_name(s).is_some() {
        return Ok(s.to_string());
    }
    let known: Vec<&str> = capability::names().collect();
    Err(
        match crate::model::error::did_you_mean(s, known.iter().copied()) {
            Some(m) => format!("unknown capability `{s}`: did you mean `{m}`?"),
            None => format!("unknown capability `{s}` (one of: {})", known.join(", ")),
        },
    )
}

#[derive(Args)]
struct ValidateArgs {
    /// Schema name: a file stem in <contracts>/schemas (chat_completion, chat_completion_chunk, error, ...).
    #[arg(long)]
    schema: String,
    /// The JSON file to check, or - for standard input.
    file: PathBuf,
    /// `client`: what the official SDKs parse without error (a named deviation from the spec is
    /// printed, and passes); `spec`: the published spec (every deviation is a violation).
    #[arg(long, default_value = "client", value_parser = ["client", "spec"])]
    level: String,
    /// Directory of contracts (your schemas are read from its schemas/).
    #[arg(long, default_value = "contracts")]
    contracts: PathBuf,
    /// Directory of your own JSON Schemas, added to the built-in ones (default:
    /// <contracts>/schemas, which may be absent).
    #[arg(long)]
    schemas: Option<PathBuf>,
}

#[derive(Args)]
struct LintArgs {
    #[command(flatten)]
    suite: SuiteArgs,
}

#[derive(Args)]
struct ListArgs {
    /// Target to list (repeatable). Default: every target a plain offline run replays.
    #[arg(long)]
    target: Vec<String>,
    #[command(flatten)]
    select: SelectArgs,
    #[command(flatten)]
    suite: SuiteArgs,
}

pub(crate) fn config_exit(e: impl std::fmt::Display) -> ExitCode {
    errln!("{e}");
    ExitCode::from(2)
}

/// The command line: parses the arguments, reads the environment once, runs the command and
/// returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = Context::from_process();
    match cli.command {
        Command::Run(args) => run(args, &ctx),
        Command::Validate(args) => validate(args),
        Command::List(args) => list(args),
        Command::Record(args) => commands::record(args, &ctx),
        Command::Review(args) => commands::review(args),
        Command::Accept(args) => commands::bulk(args, true),
        Command::Reject(args) => commands::bulk(args, false),
        Command::Scan(args) => commands::scan(args, &ctx),
        Command::Lint(args) => lint(args),
        Command::Matrix(args) => matrix::matrix(args),
        Command::Init(args) => init::init(args),
    }
}

fn lint(args: LintArgs) -> ExitCode {
    let paths = args.suite.paths();
    let problems = match Suite::load(&paths) {
        Ok(suite) => {
            for o in suite.schemas.overrides() {
                outln!("{o}");
            }
            let found = crate::contract::lint::check(&suite);
            // Cases not recorded yet are notes: a recorded run skips them; so are pending
            // fixtures (drift awaiting review).
            for n in &found.not_recorded {
                outln!("{n}");
            }
            for n in pending::lint_notes(&paths.fixtures) {
                outln!("{n}");
            }
            if found.problems.is_empty() {
                let notes = match found.not_recorded.len() {
                    0 => String::new(),
                    n => format!("; {n} case(s) not recorded"),
                };
                outln!("lint: no problems: {}{notes}", found.counts);
                return ExitCode::SUCCESS;
            }
            found.problems
        }
        Err(e) => e.0,
    };
    for p in &problems {
        outln!("{p}");
    }
    outln!("lint: {} problem(s)", problems.len());
    ExitCode::from(2)
}

fn list(args: ListArgs) -> ExitCode {
    let suite = match Suite::load(&args.suite.paths()) {
        Ok(s) => s,
        Err(e) => return config_exit(e),
    };
    let targets = match suite.recorded_targets(&args.target) {
        Ok(t) => t,
        Err(e) => return config_exit(e),
    };
    match suite.plans(&targets, Some(&args.select.filter())) {
        Ok(plans) => {
            for p in plans {
                outln!("{}  {}", p.id, p.case.description);
            }
            ExitCode::SUCCESS
        }
        Err(e) => config_exit(e),
    }
}

fn validate(args: ValidateArgs) -> ExitCode {
    let dir = args
        .schemas
        .clone()
        .unwrap_or_else(|| args.contracts.join("schemas"));
    let schemas = match SchemaRegistry::load(&dir) {
        Ok(s) => s,
        Err(e) => return config_exit(e),
    };
    if !schemas.contains(&args.schema) {
        return config_exit(schemas.unknown(&args.schema));
    }
    let (name, text) = if args.file.as_os_str() == "-" {
        let mut s = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut s) {
            return config_exit(format!("error: cannot read standard input: {e}"));
        }
        ("<stdin>".to_string(), s)
    } else {
        match std::fs::read_to_string(&args.file) {
            Ok(s) => (args.file.display().to_string(), s),
            Err(e) => {
                return config_exit(format!("error: cannot read {}: {e}", args.file.display()))
            }
        }
    };
    let doc: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            outln!("{name}:{}:{}: not valid JSON: {e}", e.line(), e.column());
            return ExitCode::from(1);
        }
    };
    let level = Level::parse(&args.level).unwrap_or_default();
    let violations = match schemas.validate_all(&args.schema, &doc) {
        Ok(v) => v,
        Err(e) => return config_exit(e),
    };
    let (violations, deviations) = levels::split(&args.schema, &doc, violations, "");
    let failed = !violations.is_empty() || (level == Level::Spec && !deviations.is_empty());
    if violations.is_empty() {
        outln!(
            "{name}: {} against {} at the {level} level",
            if failed { "not valid" } else { "valid" },
            args.schema
        );
    } else {
        let total = violations.len();
        outln!(
            "{name}: {total} violation(s) of schema {} at the {level} level",
            args.schema
        );
        for v in violations.iter().take(MAX_VIOLATIONS) {
            outln!("  {v}");
        }
        if total > MAX_VIOLATIONS {
            outln!("  … and {} more", total - MAX_VIOLATIONS);
        }
    }
    if !deviations.is_empty() {
        outln!(
            "{} deviation(s) from the spec ({}):",
            deviations.len(),
            match level {
                Level::Client => "clients survive them: listed, not failed",
                Level::Spec => "each fails at the spec level",
            }
        );
        for d in &deviations {
            outln!("  deviation: {d}");
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run(args: RunArgs, ctx: &Context) -> ExitCode {
    let suite = match Suite::load(&args.suite.paths()) {
        Ok(s) => s,
        Err(e) => return config_exit(e),
    };
    if args.live && args.target.len() > 1 {
        return config_exit("error: a live run takes one --target");
    }
    if args.dry_run {
        return budget::dry_run(&args, &suite, ctx);
    }
    let selection = Selection {
        live: args.live.then(|| LiveOptions {
            target: args.target.first().cloned(),
            base_url: args.base_url.clone(),
            api_key_env: args.api_key_env.clone(),
            model: args.model.clone(),
        }),
        targets: args.target.clone(),
        filter: args.select.filter(),
    };
    if args.model.is_some() && !args.live {
        errln!(
            "note: --model is a live override: offline, each case replays the model its fixture recorded"
        );
    }
    let mut planned = match Planned::new(&suite, ctx, &selection) {
        Ok(p) => p,
        Err(e) => return config_exit(e),
    };
    planned.alias_base_url();
    if let Some(var) = planned.missing_key() {
        return config_exit(format!(
            "error: {var} is not set: a live run needs the target's API key (or --api-key-env VAR)"
        ));
    }
    let start = Start {
        options: RunOptions {
            time_scale: args.time_scale,
            retries: args.retries,
            quota_is_skip: args.quota_is_skip,
            max_requests: args.max_requests,
            strict: args.strict,
            warn_fixture_age_days: args.warn_fixture_age,
            max_fixture_age_days: args.max_fixture_age,
            require: args.require.clone(),
            require_fixtures: args.require_fixtures,
        },
        // Offline, one recorded endpoint on 127.0.0.1 serves every case; it stops when dropped.
        replay: Some(args.time_scale),
        ..Start::default()
    };
    let started = match planned.start(start) {
        Ok(s) => s,
        Err(e @ StartError::Server(_)) => {
            errln!("error: {e}");
            return ExitCode::from(3);
        }
        Err(e) => return config_exit(format!("error: {e}")),
    };
    let sanitizer = planned.sanitizer.clone();
    let runner = started.runner.clone();
    let terminal = std::io::stdout().is_terminal();
    let color = color::enabled(args.color, terminal, ctx);
    // A progress bar with counts on a terminal outside CI; plain lines otherwise.
    let progress = (terminal && !ctx.is_ci()).then(|| progress::Progress::new(planned.plans.len()));
    let live_target = planned.plans.first().map(|p| p.target.clone());
    let (mut not_passed, mut unpinned) = (Vec::new(), Vec::new());
    let work = started.work(std::mem::take(&mut planned.plans));
    let rendered = started.rt.block_on(async {
        let where_ = if args.live {
            format!("live, {}", sanitizer.text(&started.place()))
        } else {
            format!("recorded endpoint {}", started.place())
        };
        outln!(
            "llm-contract {}: {} case(s), {where_}",
            env!("CARGO_PKG_VERSION"),
            work.len()
        );
        if let Some(p) = &progress {
            p.start();
        }
        // Plain lines are written in batches, at least every 100 ms: one write per line would
        // cost a thousand system calls on a thousand cases.
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, out::Stdout);
        let mut flushed = std::time::Instant::now();
        // Each case is shown, then rendered for the reports, as it ends: while the other cases'
        // requests are out, not after the last answer.
        let cases = crate::run::lanes::run_all(
            runner.clone(),
            work,
            args.jobs,
            || (),
            |o, (), _| {
                let line = report::line(&o);
                let line = if color {
                    color::paint(o.verdict, &line)
                } else {
                    line
                };
                not_passed.extend(report::not_passed::NotPassed::of(&o));
                if o.unpinned {
                    unpinned.push(o.case.clone());
                }
                if let Some(p) = &progress {
                    p.done(&o, &line);
                } else {
                    let _ = writeln!(out, "{line}");
                    let _ = write!(out, "{}", report::details(&o));
                    if flushed.elapsed() >= Duration::from_millis(100) {
                        let _ = out.flush();
                        flushed = std::time::Instant::now();
                    }
                }
                // Once more through the sanitizer before anything is stored (the runner's pass already ran).
                report::RenderedCase::new(sanitizer.outcome(o))
            },
        )
        .await;
        let _ = out.flush();
        if let Some(p) = &progress {
            p.finish();
        }
        cases
    });
    let cases = rendered;
    started.finish();
    let summary = Summary::of_briefs(cases.iter().map(|c| &c.brief));
    // After the last case: every case that did not pass, grouped by class, with its reason.
    let list = report::not_passed::render(&not_passed);
    if !list.is_empty() {
        out!("\n{list}");
    }
    outln!("\n{}", summary.line());
    if let (true, Some(target)) = (!unpinned.is_empty(), &live_target) {
        unpinned.sort();
        let names: Vec<&str> = unpinned.iter().map(String::as_str).collect();
        let key = ctx.secret(&target.api_key_env);
        let set_first = if hints::hides_base_url(target) {
            format!(
                " (set {} to the base URL first: one with a query is never printed)",
                hints::BASE_URL_VAR
            )
        } else {
            String::new()
        };
        outln!(
            "no recorded baseline for {} case(s) of this live run; pin them with{set_first}:\n  {}",
            names.len(),
            hints::pin_command(
                target,
                &args.suite,
                &args.select,
                &names,
                names.len() == cases.len(),
                key.as_ref()
            )
        );
    }
    if let Some((used, limit)) = runner.budget() {
        outln!("requests: {used} of the budget of {limit}");
        if used >= limit {
            outln!("the request budget is spent: cases after it were not sent");
        }
    }
    // The runner's run id: in every client request id, and the reports' directory.
    let info = report::RunInfo {
        run_id: runner.run_id().clone(),
        mode: if args.live {
            Mode::Live
        } else {
            Mode::Recorded
        },
    };
    let mut code = summary.exit_code();
    let reports = report::Reports::from_rendered(info, cases);
    match reports.write(&args.reports) {
        Ok(w) => outln!(
            "reports: {} (junit.xml, report.json, summary.md, index.html), copied to {}",
            w.dir.display(),
            w.latest.display()
        ),
        Err(e) => {
            errln!("error: {e}");
            // Unwritten reports are an infrastructure failure even when every case passed.
            if code == 0 {
                code = 3;
            }
        }
    }
    // The process ends here, with everything written and flushed: the system takes the memory
    // back whole, which is cheaper than freeing a large suite's plans and reports piece by piece
    // (measured: about 5 % of a thousand-case run).
    let _ = std::io::stdout().flush();
    std::process::exit(i32::from(code))
}
