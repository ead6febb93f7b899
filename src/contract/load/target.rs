//! A target file: where an endpoint is, its key's variable, its model ids, and what it serves,
//! offers and answers differently.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::model::drift::DriftPolicy;
use crate::model::error::{did_you_mean, ConfigError, ConfigErrors, Location};
use crate::model::family;
use crate::model::plan::{Dialect, ExpectDoc, ExtraRule, RetryPolicy, Target, Timeouts};

use super::{capability, locate_in_file_text, parse_yaml};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetDoc {
    name: String,
    description: String,
    base_url: String,
    #[serde(default)]
    base_url_env: Option<String>,
    api_key_env: String,
    #[serde(default = "default_dialect")]
    dialect: Dialect,
    #[serde(default)]
    default: bool,
    vars: BTreeMap<String, String>,
    #[serde(default)]
    expect: BTreeMap<String, ExpectDoc>,
    #[serde(default)]
    skip: BTreeMap<String, String>,
    #[serde(default)]
    timeouts: Timeouts,
    #[serde(default)]
    retry: RetryPolicy,
    /// Which kinds of drift fail this target's cases (default: removals, type, status, enum and
    /// content-type changes).
    #[serde(default)]
    drift: Option<DriftPolicy>,
    /// Extra sanitizing rules for fixtures recorded from this target.
    #[serde(default)]
    sanitize: Vec<ExtraRule>,
    /// Whether a plain offline `run` replays this target's fixtures (false: only with --target).
    #[serde(default = "crate::model::plan::yes")]
    replay_by_default: bool,
    /// Named deviations from the spec fail this target's cases instead of being listed.
    #[serde(default)]
    strict: bool,
    /// What recorded fixtures name as their server (default: the description).
    #[serde(default)]
    server: Option<String>,
    /// A response header that carries the server's version, for recorded provenance.
    #[serde(default)]
    version_header: Option<String>,
    /// The families this target serves (default: all); cases of other families are not planned.
    #[serde(default)]
    families: Option<Vec<String>>,
    /// What the target offers (true) or does not (false), by capability.
    #[serde(default)]
    capabilities: BTreeMap<String, bool>,
    /// Capabilities whose absence fails a case on this target.
    #[serde(default)]
    required: Vec<String>,
}

fn default_dialect() -> Dialect {
    Dialect::Openai
}

/// Parses one target file.
pub fn parse_target(file: &Path, text: &str) -> Result<Target, ConfigErrors> {
    let doc: TargetDoc = parse_yaml(file, text)?;
    if !crate::contract::names::is_safe(&doc.name) {
        return Err(ConfigError::new(
            locate_in_file_text(file, text, "name:"),
            format!(
                "target name `{}` must be {}",
                crate::util::text::Visible(&doc.name),
                crate::contract::names::RULE
            ),
        )
        .into());
    }
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if doc.name != stem {
        return Err(ConfigError::new(
            Location::file(file),
            format!(
                "target name `{}` differs from its file name `{stem}`",
                doc.name
            ),
        )
        .into());
    }
    if !doc.vars.contains_key("model") {
        return Err(
            ConfigError::new(Location::file(file), "`vars.model` is required")
                .with_hint("the model id cases use as ${model}")
                .into(),
        );
    }
    let families = match &doc.families {
        None => None,
        Some(names) => {
            let mut fs = Vec::new();
            for n in names {
                match family::by_name(n) {
                    Some(f) => fs.push(f),
                    None => {
                        let mut e = ConfigError::new(
                            locate_in_file_text(file, text, n),
                            format!("unknown family `{n}` in `families`"),
                        );
                        if let Some(s) = did_you_mean(n, family::names()) {
                            e = e.with_hint(format!("did you mean `{s}`?"));
                        }
                        return Err(e.into());
                    }
                }
            }
            Some(fs)
        }
    };
    let at = |needle: &str| locate_in_file_text(file, text, needle);
    for name in doc.capabilities.keys().chain(&doc.required) {
        capability(name, &at)?;
    }
    Ok(Target {
        name: doc.name,
        description: doc.description,
        base_url: doc.base_url,
        base_url_env: doc.base_url_env,
        api_key_env: doc.api_key_env,
        dialect: doc.dialect,
        default: doc.default,
        vars: doc.vars,
        expect: doc.expect,
        skip: doc.skip,
        timeouts: doc.timeouts,
        retry: doc.retry,
        drift: doc.drift,
        sanitize: doc.sanitize,
        replay_by_default: doc.replay_by_default,
        strict: doc.strict,
        server: doc.server,
        version_header: doc.version_header,
        families,
        capabilities: doc.capabilities,
        required: doc.required,
        file: file.to_path_buf(),
        endpoint_flags: Vec::new(),
    })
}
