//! Building a run once for every caller: the suite's plans for a live or a recorded endpoint,
//! the runtime, the client and the runner.

use std::sync::Arc;
use std::time::Duration;

use crate::baseline::replay;
use crate::baseline::sanitize::{Sanitizer, REPLAY_KEY};
use crate::context::{Context, Secret};
use crate::contract::select::Filter;
use crate::contract::suite::{Suite, GENERIC_TARGET};
use crate::exchange::endpoint::Endpoint;
use crate::exchange::server::Server;
use crate::exchange::transport::Client;
use crate::model::error::{ConfigError, Location};
use crate::model::outcome::Mode;
use crate::model::plan::AuthMode;
use crate::model::plan::{Plan, Target};
use crate::model::runid::RunId;
use crate::run::runner::{RunOptions, Runner};

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
    if let Some(u) = &opts.base_url {
        target.endpoint_flags.push(("--base-url", u.clone()));
    }
    if let Some(k) = &opts.api_key_env {
        target.api_key_env = k.clone();
        target.endpoint_flags.push(("--api-key-env", k.clone()));
    }
    if let Some(m) = &opts.model {
        target.vars.insert("model".into(), m.clone());
        target.endpoint_flags.push(("--model", m.clone()));
    }
    let base_url = opts
        .base_url
        .clone()
        .or_else(|| target.base_url_env.as_deref().and_then(|v| ctx.setting(v)))
        .unwrap_or_else(|| target.base_url.clone());
    if let Err(e) = crate::exchange::endpoint::check_base_url(&base_url) {
        return Err(ConfigError::new(
            Location::file(&target.file),
            format!(
                "base URL `{}` {e}",
                Sanitizer::new().text(&crate::exchange::endpoint::shown(&base_url))
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
        base_url: replay::case_base_url(server_url, &plan.target.name, &plan.case.id),
        key: Some(Secret::new(REPLAY_KEY)),
        key_env: plan.target.api_key_env.clone(),
        mode: Mode::Recorded,
    }
}

/// What a run covers: live or offline, which targets and cases, the command line's overrides.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Live, with these endpoint overrides; `None`: offline, against the recorded endpoint.
    pub live: Option<LiveOptions>,
    /// Offline: the targets to replay (empty: every target with fixtures that replays by
    /// default).
    pub targets: Vec<String>,
    /// Which cases: `--case` patterns and `--tag`s (empty: every case).
    pub filter: Filter,
}

/// A run's plans and where they go, before anything is started: what `record`, `run`, the
/// `cargo test` harness and the fault trials share.
pub struct Planned {
    pub plans: Vec<Plan>,
    /// The live endpoint; `None` offline.
    pub live: Option<Endpoint>,
    /// Knows the live key, so nothing printed or stored shows it.
    pub sanitizer: Sanitizer,
    schemas: Arc<crate::contract::schema::SchemaRegistry>,
    fixtures: Arc<crate::contract::fixtures::FixtureStore>,
}

impl Planned {
    /// Resolves the selection against a loaded suite.
    pub fn new(
        suite: &Suite,
        ctx: &Context,
        sel: &Selection,
    ) -> Result<Planned, crate::model::error::ConfigErrors> {
        let mut sanitizer = Sanitizer::new();
        let (plans, live) = match &sel.live {
            Some(opts) => {
                let (target, endpoint) = live_target(suite, ctx, opts)?;
                if let Some(k) = &endpoint.key {
                    sanitizer.add_secret(k);
                }
                (suite.plans(&[target], Some(&sel.filter))?, Some(endpoint))
            }
            None => {
                // Each case replays the model its fixture recorded: `--model` is live only.
                let targets = suite.recorded_targets(&sel.targets)?;
                (suite.recorded_plans(&targets, Some(&sel.filter))?, None)
            }
        };
        Ok(Planned {
            plans,
            live,
            sanitizer,
            schemas: suite.schemas.clone(),
            fixtures: suite.fixtures.clone(),
        })
    }

    /// Whether a fixture is pinned for the plan's case on its target.
    pub fn recorded(&self, plan: &Plan) -> bool {
        self.fixtures
            .get(&plan.target.name, &plan.case.id)
            .is_some()
    }

    /// Names the live base URL by its target's name wherever a text would show it.
    pub fn alias_base_url(&mut self) {
        if let (Some(ep), Some(p)) = (&self.live, self.plans.first()) {
            self.sanitizer.add_alias(&ep.base_url, &p.target.name);
        }
    }

    /// The variable a live run needs and lacks: a case authenticates with the target's key and
    /// none is set.
    pub fn missing_key(&self) -> Option<&str> {
        let ep = self.live.as_ref()?;
        let needs = self
            .plans
            .iter()
            .any(|p| p.case.auth == AuthMode::Valid && p.skip.is_none());
        (needs && ep.key.is_none()).then_some(ep.key_env.as_str())
    }

    /// Starts the run: a multi-thread runtime, the HTTP client (certificates loaded only for a
    /// live https endpoint), the runner and, offline, the recorded endpoint on 127.0.0.1.
    pub fn start(&self, how: Start) -> Result<Started, StartError> {
        let mut rt = tokio::runtime::Builder::new_multi_thread();
        if let Some(n) = how.worker_threads {
            rt.worker_threads(n);
        }
        let rt = rt
            .enable_all()
            .build()
            .map_err(|e| StartError::Runtime(e.to_string()))?;
        let connect = self
            .plans
            .iter()
            .map(|p| p.target.timeouts.connect_ms)
            .max()
            .unwrap_or(10_000);
        let tls = self
            .live
            .as_ref()
            .is_some_and(|e| !e.base_url.starts_with("http://"));
        let client =
            Client::with_tls(Duration::from_millis(connect), tls).map_err(StartError::Client)?;
        let mut runner = Runner::with_options(
            client,
            self.schemas.clone(),
            self.fixtures.clone(),
            self.sanitizer.clone(),
            how.options,
        );
        if let Some(id) = how.run_id {
            runner = runner.with_run_id(id);
        }
        let server = match (&self.live, how.replay) {
            (None, Some(time_scale)) => Some(
                rt.block_on(replay::start(self.fixtures.clone(), time_scale))
                    .map_err(|e| StartError::Server(e.to_string()))?,
            ),
            _ => None,
        };
        Ok(Started {
            rt,
            runner: Arc::new(runner),
            live: self.live.clone(),
            server,
        })
    }
}

/// Why a run could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the runtime: {0}")]
    Runtime(String),
    #[error("{0}")]
    Client(String),
    #[error("cannot start the recorded endpoint on 127.0.0.1: {0}")]
    Server(String),
}

/// How to start a run.
#[derive(Debug, Clone, Default)]
pub struct Start {
    pub options: RunOptions,
    /// The runtime's worker threads (default: one per core).
    pub worker_threads: Option<usize>,
    /// Offline: start the recorded endpoint, its recorded delays scaled by this factor. `None`:
    /// start none (a run whose endpoints come from elsewhere).
    pub replay: Option<f64>,
    /// The run id for client request ids and the reports (default: a new one).
    pub run_id: Option<RunId>,
}

/// A started run: its runtime, its runner and where its plans go.
pub struct Started {
    pub rt: tokio::runtime::Runtime,
    pub runner: Arc<Runner>,
    live: Option<Endpoint>,
    server: Option<Server>,
}

impl Started {
    /// The endpoint a plan's request goes to: the live one, or the plan's path on the recorded
    /// endpoint; `None` offline while the recorded endpoint is not started.
    pub fn endpoint(&self, plan: &Plan) -> Option<Endpoint> {
        match (&self.live, &self.server) {
            (Some(ep), _) => Some(ep.clone()),
            (None, Some(s)) => Some(recorded_endpoint(&s.url(), plan)),
            (None, None) => None,
        }
    }

    /// Where the plans go, for the first line of a run: the live base URL or the recorded
    /// endpoint's.
    pub fn place(&self) -> String {
        match (&self.live, &self.server) {
            (Some(ep), _) => ep.base_url.clone(),
            (None, Some(s)) => s.url(),
            (None, None) => String::new(),
        }
    }

    /// Ends the run without waiting for its tasks (the recorded endpoint's accept loop, idle
    /// connections) to wind down: for a process about to exit, whose memory the system takes
    /// back whole.
    pub fn finish(self) {
        drop(self.server);
        self.rt.shutdown_background();
    }

    /// Each plan with its endpoint (offline, once the recorded endpoint is started).
    pub fn work(&self, plans: Vec<Plan>) -> Vec<(Plan, Endpoint)> {
        plans
            .into_iter()
            .filter_map(|p| {
                let ep = self.endpoint(&p)?;
                Some((p, ep))
            })
            .collect()
    }
}
