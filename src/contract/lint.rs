//! `llm-contract lint`: everything `run` would load, checked without sending a request.
//!
//! [`Suite::load`](crate::contract::suite::Suite::load) already parses every case, target, schema and
//! fixture and checks the schema names; on top of that every case is planned for every target
//! (which resolves each `${var}`), and fixtures are matched with what they pin: a fixture whose
//! target or case does not exist is stale (a problem), and a case a target with fixtures would
//! replay without one is noted as not recorded (a recorded run skips it, or fails it with
//! `--require-fixtures`): a suite grows before its fixtures do.

use std::path::PathBuf;

use crate::contract::fixtures::FixtureStore;
use crate::contract::load::Contracts;
use crate::contract::suite::Suite;
use crate::model::error::{did_you_mean, ConfigError, Location};

/// What was checked, for the closing line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub cases: usize,
    pub targets: usize,
    pub schemas: usize,
    pub fixtures: usize,
    pub plans: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} cases, {} targets ({} plans), {} schemas, {} fixtures",
            self.cases, self.targets, self.plans, self.schemas, self.fixtures
        )
    }
}

/// A case a target with fixtures would replay, with no fixture for it: not a problem, a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRecorded {
    pub target: String,
    pub case: String,
    /// Where its fixture would be.
    pub path: PathBuf,
}

impl std::fmt::Display for NotRecorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "note: {}::{} is not recorded (no {}): a recorded run skips it, --require-fixtures fails it",
            self.target,
            self.case,
            self.path.display()
        )
    }
}

/// What `lint` found: problems (exit 2), notes, and what was checked.
#[derive(Debug)]
pub struct Findings {
    pub problems: Vec<ConfigError>,
    pub not_recorded: Vec<NotRecorded>,
    pub counts: Counts,
}

/// What an orphaned fixture's target or case is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No such target (whatever its case).
    Target,
    /// The target exists, the case does not.
    Case,
}

/// A fixture whose target or case no longer exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan<'a> {
    pub target: &'a str,
    pub case: &'a str,
    pub missing: Missing,
    /// Where the fixture is (`<fixtures>/<target>/<case>.json`).
    pub path: PathBuf,
}

/// The fixtures in `store` whose target or case `contracts` does not have, in the store's order
/// (by target, then case). `lint` reports them as problems; `review`, `accept` and `reject` list
/// them.
pub fn orphans<'a>(contracts: &Contracts, store: &'a FixtureStore) -> Vec<Orphan<'a>> {
    store
        .keys()
        .filter_map(|(target, case)| {
            let missing = if !contracts.targets.iter().any(|t| t.name == target) {
                Missing::Target
            } else if !contracts.cases.iter().any(|c| c.id == case) {
                Missing::Case
            } else {
                return None;
            };
            Some(Orphan {
                target,
                case,
                missing,
                path: store.path(target, case),
            })
        })
        .collect()
}

/// The problems of a loaded suite (empty when there are none), its cases not recorded, and what
/// was checked.
pub fn check(suite: &Suite) -> Findings {
    let contracts = &suite.contracts;
    let mut problems = Vec::new();
    // Every schema in the folder, used by this suite or not.
    if let Err(e) = suite.schemas.compile_all() {
        problems.extend(e.0);
    }
    let mut plans = 0;
    for target in &contracts.targets {
        match contracts.plans(target) {
            Ok(p) => plans += p.len(),
            Err(e) => problems.extend(e.0),
        }
    }
    for o in orphans(contracts, &suite.fixtures) {
        let at = Location::file(&o.path);
        problems.push(match o.missing {
            Missing::Target => {
                let e = ConfigError::new(
                    at,
                    format!("fixture for target `{}`, which does not exist", o.target),
                );
                let names = contracts.targets.iter().map(|t| t.name.as_str());
                match did_you_mean(o.target, names) {
                    Some(s) => e.with_hint(format!("did you mean `{s}`?")),
                    None => e,
                }
            }
            Missing::Case => {
                let e = ConfigError::new(
                    at,
                    format!("fixture for case `{}`, which does not exist", o.case),
                );
                match did_you_mean(o.case, contracts.cases.iter().map(|c| c.id.as_str())) {
                    Some(s) => e.with_hint(format!(
                        "did you mean `{s}`? (rename the fixture with the case)"
                    )),
                    None => e,
                }
            }
        });
    }
    let mut not_recorded = Vec::new();
    for target in &contracts.targets {
        if !suite.fixtures.has_target(&target.name) {
            continue;
        }
        for case in &contracts.cases {
            // A case needing a capability the target declares not offered is never sent.
            let offered = case.requires.iter().all(|c| target.offers(c.name) != Some(false));
            let replayed = !case.live_only
                && !target.skip.contains_key(&case.id)
                && target.serves(case.family)
                && offered;
            if replayed && suite.fixtures.get(&target.name, &case.id).is_none() {
                not_recorded.push(NotRecorded {
                    target: target.name.clone(),
                    case: case.id.clone(),
                    path: suite.fixtures.path(&target.name, &case.id),
                });
            }
        }
    }
    let counts = Counts {
        cases: contracts.cases.len(),
        targets: contracts.targets.len(),
        schemas: suite.schemas.names().count(),
        fixtures: suite.fixtures.keys().count(),
        plans,
    };
    Findings {
        problems,
        not_recorded,
        counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixture::Fixture;
    use std::path::Path;

    #[test]
    fn orphans_say_what_they_are_missing() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let contracts = Contracts::load(&root.join("contracts")).unwrap();
        let path = root.join("fixtures/cometapi/happy_path.json");
        let fixture = Fixture::parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut store = FixtureStore::default();
        store.dir = PathBuf::from("fx");
        for (target, case) in [
            ("cometapi", "happy_path"),
            ("cometapi", "happy_pat"),
            ("cometap", "happy_path"),
            ("nowhere", "nothing"),
        ] {
            store.insert(target, case, fixture.clone());
        }
        let got: Vec<(&str, &str, Missing, PathBuf)> = orphans(&contracts, &store)
            .into_iter()
            .map(|o| (o.target, o.case, o.missing, o.path))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "cometap",
                    "happy_path",
                    Missing::Target,
                    "fx/cometap/happy_path.json".into()
                ),
                (
                    "cometapi",
                    "happy_pat",
                    Missing::Case,
                    "fx/cometapi/happy_pat.json".into()
                ),
                (
                    "nowhere",
                    "nothing",
                    Missing::Target,
                    "fx/nowhere/nothing.json".into()
                ),
            ]
        );
    }
}
