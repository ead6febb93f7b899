//! A loaded suite (contracts, schemas, fixtures) and the choice of where its plans run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::contract::fixtures::FixtureStore;
use crate::contract::load::Contracts;
use crate::contract::plan;
use crate::contract::schema::SchemaRegistry;
use crate::model::assertion::{Assertion, Predicate, SchemaRef};
use crate::contract::select::Filter;
use crate::model::error::{ConfigError, ConfigErrors, Location};
use crate::model::family;
use crate::model::plan::{Plan, Target};

/// The name of the generic target that `--base-url` fills.
pub const GENERIC_TARGET: &str = "openai_compatible";

/// Where a suite lives on disk.
#[derive(Debug, Clone)]
pub struct Paths {
    pub contracts: PathBuf,
    pub fixtures: PathBuf,
    /// The suite's own JSON Schemas, added to the built-in ones (a file named like a built-in
    /// schema replaces it); usually `<contracts>/schemas`, which may be absent.
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
            // The case's expectations and each step's.
            let expects = std::iter::once(&case.expect).chain(case.steps.iter().map(|s| &s.expect));
            let named: Vec<&str> = expects
                .flat_map(|e| {
                    let chunk = e.stream.as_ref().and_then(|s| s.chunk_schema.as_deref());
                    let asserted = e.assert.iter().flatten().flat_map(|a| a.schema_names());
                    e.schema.as_deref().into_iter().chain(chunk).chain(asserted)
                })
                .collect();
            for name in named {
                if !schemas.contains(name) {
                    let mut e = schemas.unknown(name);
                    e.location = Location::file(&case.file);
                    errors.push(e);
                }
            }
        }
        for target in &contracts.targets {
            for name in target
                .expect
                .values()
                .flat_map(|o| o.assert.iter().flatten())
                .flat_map(|a| a.schema_names())
            {
                if !schemas.contains(name) {
                    let mut e = schemas.unknown(name);
                    e.location = Location::file(&target.file);
                    errors.push(e);
                }
            }
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
                for step in &case.steps {
                    used.extend(step.expect.schema.as_deref());
                    used.extend(
                        step.expect
                            .stream
                            .as_ref()
                            .and_then(|s| s.chunk_schema.as_deref()),
                    );
                }
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
            for (_, a) in assertions(&contracts) {
                used.extend(a.schema_names());
            }
            used.sort_unstable();
            used.dedup();
            if let Err(e) = schemas.compile(used) {
                errors.extend(e.0);
            }
            // A schema written in an assertion is compiled now too: an invalid one names its file.
            for (file, a) in assertions(&contracts) {
                for p in &a.predicates {
                    if let Predicate::Schema(SchemaRef::Inline(inline)) = p {
                        if let Err(e) = schemas.inline(inline) {
                            errors.push(ConfigError::new(
                                locate(file, "schema:"),
                                format!("the schema of assertion at `{}`: {e}", a.describe_at()),
                            ));
                        }
                    }
                }
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

    /// Plans for the targets, narrowed by a filter (`--case`, `--tag`; see
    /// [`crate::contract::select`]). A pattern or tag that selects nothing is an error: a typo must
    /// not pass as an empty green run.
    pub fn plans(
        &self,
        targets: &[Arc<Target>],
        filter: Option<&Filter>,
    ) -> Result<Vec<Plan>, ConfigErrors> {
        let mut plans = Vec::new();
        for t in targets {
            plans.extend(self.contracts.plans(t)?);
        }
        match filter {
            Some(f) => f.apply(&self.contracts, plans),
            None => Ok(plans),
        }
    }

    /// Plans for a run against the recorded endpoint: [`Suite::plans`], each replaying the model
    /// its fixture recorded (for the variable its case's `model` is), so a fixture recorded with
    /// `record --model M` replays as it was recorded, whatever the target's `vars.model` says.
    pub fn recorded_plans(
        &self,
        targets: &[Arc<Target>],
        filter: Option<&Filter>,
    ) -> Result<Vec<Plan>, ConfigErrors> {
        let mut errors = Vec::new();
        let plans: Vec<Plan> = self
            .plans(targets, filter)?
            .into_iter()
            .filter_map(|p| match self.as_recorded(p) {
                Ok(p) => Some(p),
                Err(e) => {
                    errors.push(e);
                    None
                }
            })
            .collect();
        if errors.is_empty() {
            Ok(plans)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The plan with its fixture's recorded model, when that differs from the planned one.
    /// A case without a body (`GET /models/${model}`) takes the model its recorded path names.
    fn as_recorded(&self, p: Plan) -> Result<Plan, ConfigError> {
        let Some(fixture) = self.fixtures.get(&p.target.name, &p.case.id) else {
            return Ok(p);
        };
        let (recorded, planned) = if plan::model_var(&p.case).is_some() {
            (fixture.recorded_model(), p.model().map(str::to_string))
        } else if let Some((name, _, _)) = plan::path_model_var(&p.case) {
            (
                plan::recorded_path_model(&p.case, &fixture.request.path),
                plan::variable(&p.case, &p.target, name),
            )
        } else {
            return Ok(p);
        };
        match recorded {
            Some(m) if planned.as_deref() != Some(m.as_str()) => {
                plan::plan_recorded(&p.case, &p.target, Some(&m))
            }
            _ => Ok(p),
        }
    }
}

/// Every assertion of a suite's cases and targets' overrides, with the file it is written in.
fn assertions(contracts: &Contracts) -> impl Iterator<Item = (&Path, &Assertion)> {
    let cases = contracts.cases.iter().flat_map(|c| {
        let steps = c.steps.iter().map(|s| &s.expect);
        std::iter::once(&c.expect)
            .chain(steps)
            .flat_map(|e| e.assert.iter().flatten())
            .map(move |a| (c.file.as_path(), a))
    });
    let targets = contracts.targets.iter().flat_map(|t| {
        t.expect
            .values()
            .flat_map(|o| o.assert.iter().flatten())
            .map(move |a| (t.file.as_path(), a))
    });
    cases.chain(targets)
}

/// The first line of `file` containing `needle`.
fn locate(file: &Path, needle: &str) -> Location {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    for (i, line) in text.lines().enumerate() {
        if let Some(col) = line.find(needle) {
            return Location::at(file, i + 1, col + 1);
        }
    }
    Location::file(file)
}
