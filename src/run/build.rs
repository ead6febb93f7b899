//! Building a run once for every caller: the suite's plans for a live or a recorded endpoint,
//! the runtime, the client and the runner.

use std::sync::Arc;

use crate::baseline::replay;
use crate::baseline::sanitize::{Sanitizer, REPLAY_KEY};
use crate::context::{Context, Secret};
use crate::contract::suite::{Suite, GENERIC_TARGET};
use crate::exchange::endpoint::Endpoint;
use crate::model::error::{ConfigError, Location};
use crate::model::outcome::Mode;
use crate::model::plan::{Plan, Target};

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
        base_url: replay::case_base_url(server_url, &plan.target.name, &plan.case.id),
        key: Some(Secret::new(REPLAY_KEY)),
        key_env: plan.target.api_key_env.clone(),
        mode: Mode::Recorded,
    }
}
