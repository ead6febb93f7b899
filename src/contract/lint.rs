//! `llm-contract lint`: everything `run` would load, checked without sending a request.
//!
//! [`Suite::load`](crate::contract::suite::Suite::load) already parses every case, target, schema and
//! fixture and checks the schema names; on top of that every case is planned for every target
//! (which resolves each `${var}`), and fixtures are matched with what they pin: a fixture whose
//! target or case does not exist is stale, and a case a target with fixtures would replay without
//! one would end a recorded run in an error.

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

/// The problems of a loaded suite (empty when there are none), and what was checked.
pub fn check(suite: &Suite) -> (Vec<ConfigError>, Counts) {
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
    let fixtures: Vec<(String, String)> = suite
        .fixtures
        .keys()
        .map(|(t, c)| (t.to_string(), c.to_string()))
        .collect();
    for (target, case) in &fixtures {
        let path = suite.fixtures.path(target, case);
        if !contracts.targets.iter().any(|t| &t.name == target) {
            let mut e = ConfigError::new(
                Location::file(&path),
                format!("fixture for target `{target}`, which does not exist"),
            );
            if let Some(s) = did_you_mean(target, contracts.targets.iter().map(|t| t.name.as_str()))
            {
                e = e.with_hint(format!("did you mean `{s}`?"));
            }
            problems.push(e);
        } else if !contracts.cases.iter().any(|c| &c.id == case) {
            let mut e = ConfigError::new(
                Location::file(&path),
                format!("fixture for case `{case}`, which does not exist"),
            );
            if let Some(s) = did_you_mean(case, contracts.cases.iter().map(|c| c.id.as_str())) {
                e = e.with_hint(format!(
                    "did you mean `{s}`? (rename the fixture with the case)"
                ));
            }
            problems.push(e);
        }
    }
    for target in &contracts.targets {
        if !suite.fixtures.has_target(&target.name) {
            continue;
        }
        for case in &contracts.cases {
            let replayed = !case.live_only
                && !target.skip.contains_key(&case.id)
                && target.serves(case.family);
            if replayed && suite.fixtures.get(&target.name, &case.id).is_none() {
                problems.push(
                    ConfigError::new(
                        Location::file(&case.file),
                        format!(
                            "no fixture {} for target `{}`: a recorded run would end this case in an error",
                            suite.fixtures.path(&target.name, &case.id).display(),
                            target.name
                        ),
                    )
                    .with_hint("record one, mark the case `live_only: true`, or skip it in the target"),
                );
            }
        }
    }
    let counts = Counts {
        cases: contracts.cases.len(),
        targets: contracts.targets.len(),
        schemas: suite.schemas.names().count(),
        fixtures: fixtures.len(),
        plans,
    };
    (problems, counts)
}
