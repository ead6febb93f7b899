//! A loaded suite (contracts, schemas, fixtures) and the choice of where its plans run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::context::Context;
use crate::context::Secret;
use crate::contract::{Contracts, Plan, Target};
use crate::error::{ConfigError, ConfigErrors, Location};
use crate::family;
use crate::fixture::FixtureStore;
use crate::outcome::Mode;
use crate::runner::Endpoint;
use crate::sanitize::{Sanitizer, REPLAY_KEY};
use crate::schema::SchemaRegistry;

/// The name of the generic target that `--base-url` fills.
pub const GENERIC_TARGET: &str = "openai_compatible";

/// Where a suite lives on disk.
#[derive(Debug, Clone)]
pub struct Paths {
    pub contracts: PathBuf,
    pub fixtures: PathBuf,
    /// Usually `<contracts>/schemas`.
    pub schemas: PathBuf,
}

impl Paths {
    /// `contracts/`, `fixtures/` and `contracts/schemas/` below `root`.
    pub fn under(root: &Path) -> Paths {
        Paths {
            contracts: root.join("contracts"),
            fixtures: root.join("fixtures"),
            schemas: root.join("contracts").join("schemas"),
        }
    }
}

pub struct Suite {
    pub contracts: Contracts,
    pub schemas: Arc<SchemaRegistry>,
    pub fixtures: Arc<FixtureStore>,
}

impl Suite {
    /// Loads everything and checks that every schema a case or target names exists.
    pub fn load(paths: &Paths) -> Result<Suite, ConfigErrors> {
        // Contracts (YAML, the slowest to read) on this thread, schemas and fixtures beside them.
        let (contracts, (schemas, fixtures)) = std::thread::scope(|scope| {
            let other = scope.spawn(|| {
                (
                    SchemaRegistry::load(&paths.schemas),
                    FixtureStore::load(&paths.fixtures),
                )
            });
            let contracts = Contracts::load(&paths.contracts);
            let rest = other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (contracts, rest)
        });
        let mut errors = Vec::new();
        let (contracts, schemas, fixtures) = match (contracts, schemas, fixtures) {
            (Ok(c), Ok(s), Ok(f)) => (c, s, f),
            (c, s, f) => {
                for e in [c.err(), s.err(), f.err()].into_iter().flatten() {
                    errors.extend(e.0);
                }
                return Err(ConfigErrors(errors));
            }
        };
        for fam in family::FAMILIES {
            for name in fam.schemas() {
                if !schemas.contains(name) {
                    errors.push(schemas.unknown(name));
                }
            }
        }
        for case in &contracts.cases {
            let named = [
                case.expect.schema.as_deref(),
                case.expect
                    .stream
                    .as_ref()
                    .and_then(|s| s.chunk_schema.as_deref()),
            ];
            for name in named.into_iter().flatten() {
                if !schemas.contains(name) {
                    let mut e = schemas.unknown(name);
                    e.location = Location::file(&case.file);
                    errors.push(e);
                }
            }
        }
        for target in &contracts.targets {
            let dialect = target.dialect.error_schema();
            if !schemas.contains(dialect) {
                let mut e = schemas.unknown(dialect);
                e.location = Location::file(&target.file);
                errors.push(e);
            }
            for over in target.expect.values() {
                if let Some(name) = &over.schema {
                    if !schemas.contains(name) {
                        let mut e = schemas.unknown(name);
                        e.location = Location::file(&target.file);
                        errors.push(e);
                    }
                }
            }
        }
        if errors.is_empty() {
            // Compiled now: the schemas this suite's cases and targets use (an invalid one stops
            // the run before its first request); the rest only when `lint` or `validate` asks.
            let mut used: Vec<&str> = Vec::new();
            for case in &contracts.cases {
                used.extend(case.family.schemas());
                used.extend(case.expect.schema.as_deref());
                used.extend(
                    case.expect
                        .stream
                        .as_ref()
                        .and_then(|s| s.chunk_schema.as_deref()),
                );
            }
            for target in &contracts.targets {
                used.push(target.dialect.error_schema());
                used.extend(target.expect.values().filter_map(|o| o.schema.as_deref()));
            }
            used.sort_unstable();
            used.dedup();
            if let Err(e) = schemas.compile(used) {
                errors.extend(e.0);
            }
        }
        if errors.is_empty() {
            Ok(Suite {
                contracts,
                schemas: Arc::new(schemas),
                fixtures: Arc::new(fixtures),
            })
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Targets a recorded run covers: the named ones, else every target with fixtures.
    pub fn recorded_targets(&self, names: &[String]) -> Result<Vec<Arc<Target>>, ConfigErrors> {
        if names.is_empty() {
            let found: Vec<_> = self
                .contracts
                .targets
                .iter()
                .filter(|t| t.replay_by_default && self.fixtures.has_target(&t.name))
                .cloned()
                .collect();
            if found.is_empty() {
                return Err(ConfigError::new(
                    Location::file(&self.fixtures.dir),
                    "no target has fixtures to replay",
                )
                .with_hint("record fixtures, or run against a live endpoint with --live")
                .into());
            }
            return Ok(found);
        }
        names
            .iter()
            .map(|n| self.contracts.target(n).map_err(ConfigErrors::from))
            .collect()
    }

    /// Plans for the targets, filtered by a case pattern (a substring of the case id or of
    /// `<target>::<case>`). No match is an error: a typo must not pass as an empty green run.
    pub fn plans(
        &self,
        targets: &[Arc<Target>],
        pattern: Option<&str>,
    ) -> Result<Vec<Plan>, ConfigErrors> {
        let mut plans = Vec::new();
        for t in targets {
            plans.extend(self.contracts.plans(t)?);
        }
        if let Some(p) = pattern {
            plans.retain(|plan| plan.id.contains(p));
            if plans.is_empty() {
                return Err(ConfigError::new(
                    Location::file(&self.contracts.dir),
                    format!("no case matches `{p}`"),
                )
                .with_hint(format!(
                    "cases: {}",
                    self.contracts
                        .cases
                        .iter()
                        .map(|c| c.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .into());
            }
        }
        Ok(plans)
    }
}

/// Whether a directory entry is a directory, symbolic links followed; without a `stat` call where
/// the directory listing already says.
pub fn is_dir(entry: &std::fs::DirEntry) -> bool {
    match entry.file_type() {
        Ok(t) if !t.is_symlink() => t.is_dir(),
        _ => entry.path().is_dir(),
    }
}

/// `f` over `items` on up to as many threads as there are cores (a few hundred items a thread at
/// least), results in the items' order. Loading a large suite is CPU bound (YAML, JSON).
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const PER_THREAD: usize = 128;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(items.len() / PER_THREAD).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(chunk)
            .skip(1)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = items[..chunk.min(items.len())].iter().map(f).collect();
        for h in handles {
            out.extend(
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        out
    })
}

/// The targets with `${model}` set to `model`, when one is given.
pub fn with_model(targets: Vec<Arc<Target>>, model: Option<&str>) -> Vec<Arc<Target>> {
    let Some(m) = model else { return targets };
    targets
        .into_iter()
        .map(|t| {
            let mut t = (*t).clone();
            t.vars.insert("model".into(), m.to_string());
            Arc::new(t)
        })
        .collect()
}

/// Endpoint overrides from the command line.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    pub target: Option<String>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub model: Option<String>,
}

/// The target a live run uses, with the command line's overrides applied, and its endpoint.
///
/// Precedence for the base URL: `--base-url`, then the target's `base_url_env` variable, then the
/// target file. The key comes from `--api-key-env` or the target's `api_key_env`.
pub fn live_target(
    suite: &Suite,
    ctx: &Context,
    opts: &LiveOptions,
) -> Result<(Arc<Target>, Endpoint), ConfigError> {
    let name = match (&opts.target, &opts.base_url) {
        (Some(t), _) => t.clone(),
        (None, Some(_)) => GENERIC_TARGET.to_string(),
        (None, None) => suite.contracts.default_target().name.clone(),
    };
    let mut target = (*suite.contracts.target(&name)?).clone();
    if let Some(m) = &opts.model {
        target.vars.insert("model".into(), m.clone());
    }
    if let Some(k) = &opts.api_key_env {
        target.api_key_env = k.clone();
    }
    let base_url = opts
        .base_url
        .clone()
        .or_else(|| target.base_url_env.as_deref().and_then(|v| ctx.setting(v)))
        .unwrap_or_else(|| target.base_url.clone());
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(ConfigError::new(
            Location::file(&target.file),
            format!(
                "base URL `{}` is not an http(s) URL",
                Sanitizer::new().text(&base_url)
            ),
        ));
    }
    target.base_url = base_url.clone();
    let endpoint = Endpoint {
        base_url,
        key: ctx.secret(&target.api_key_env),
        key_env: target.api_key_env.clone(),
        mode: Mode::Live,
    };
    Ok((Arc::new(target), endpoint))
}

/// The endpoint of one plan on the recorded server.
pub fn recorded_endpoint(server_url: &str, plan: &Plan) -> Endpoint {
    Endpoint {
        base_url: crate::recorded::case_base_url(server_url, &plan.target.name, &plan.case.id),
        key: Some(Secret::new(REPLAY_KEY)),
        key_env: plan.target.api_key_env.clone(),
        mode: Mode::Recorded,
    }
}
