//! The one place where llm-contract reads its environment.
//!
//! Every environment variable the tool looks at is read here, once, into a [`Context`]; the rest
//! of the code receives the context and never calls `std::env` itself. Tests build a context from
//! a map, which is how the canary-key tests inject a key without touching the process environment.

use std::collections::BTreeMap;
use std::fmt;

/// Set to `1`/`true` to make the `contracts` test harness run against live endpoints.
pub const LIVE_VAR: &str = "LLM_CONTRACT_LIVE";
/// Which target the test harness runs in live mode (default: the default target).
pub const TARGET_VAR: &str = "LLM_CONTRACT_TARGET";
/// The model the `cargo test` harness substitutes for `${model}` in live mode (as `run --live
/// --model`); offline each case replays the model its fixture recorded.
pub const MODEL_VAR: &str = "LLM_CONTRACT_MODEL";
/// The `cargo test` harness runs only cases with one of these tags (comma- or space-separated):
/// libtest's own filter has no `--tag`.
pub const TAG_VAR: &str = "LLM_CONTRACT_TAG";
/// Set to `1`/`true` to make the `cargo test` harness fail a case with no fixture offline (as
/// `run --require-fixtures`) instead of skipping it as not recorded.
pub const REQUIRE_FIXTURES_VAR: &str = "LLM_CONTRACT_REQUIRE_FIXTURES";
/// Set to `1`/`true` to make the `contracts` test harness strict: every named deviation from the
/// spec, and every kind of drift, fails (what `run --strict` does).
pub const STRICT_VAR: &str = "LLM_CONTRACT_STRICT";
/// Capabilities the test harness requires (comma-separated), as `run --require` does.
pub const REQUIRE_VAR: &str = "LLM_CONTRACT_REQUIRE";
/// Set by CI systems; llm-contract never writes fixtures when it is set.
pub const CI_VAR: &str = "CI";
/// Any non-empty value turns colour off (<https://no-color.org>) unless `--color always` asks
/// for it.
pub const NO_COLOR_VAR: &str = "NO_COLOR";

/// A secret value. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value, for the one place that must send it (the Authorization header) and for the
    /// sanitizer that removes it from everything else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([API_KEY])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[API_KEY]")
    }
}

/// A snapshot of the process environment, taken once at start-up.
#[derive(Clone, Default)]
pub struct Context {
    vars: BTreeMap<String, String>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: values may be secrets.
        f.debug_struct("Context")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Context {
    /// Reads the process environment. This is the only call to `std::env` in the crate.
    pub fn from_process() -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Context { vars }
    }

    /// A context from explicit values, for tests and embedding.
    pub fn from_map<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Context {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    fn non_empty(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// A plain (non-secret) setting such as a base-URL override.
    pub fn setting(&self, name: &str) -> Option<String> {
        self.non_empty(name).map(|v| v.trim().to_string())
    }

    /// A secret, such as an API key, by the name of the variable that holds it.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.non_empty(name).map(|v| Secret::new(v.trim()))
    }

    fn flag(&self, name: &str) -> bool {
        matches!(
            self.non_empty(name).map(|v| v.trim().to_ascii_lowercase()),
            Some(v) if v != "0" && v != "false" && v != "no"
        )
    }

    /// True when running under CI (the `CI` variable is set and not false).
    pub fn is_ci(&self) -> bool {
        self.flag(CI_VAR)
    }

    /// True when `NO_COLOR` holds any non-empty value (a blank one included, as the convention
    /// says).
    pub fn no_color(&self) -> bool {
        self.vars.get(NO_COLOR_VAR).is_some_and(|v| !v.is_empty())
    }

    /// True when the test harness should talk to live endpoints.
    pub fn live_tests(&self) -> bool {
        self.flag(LIVE_VAR)
    }

    /// True when the test harness should be strict (`LLM_CONTRACT_STRICT`).
    pub fn strict_tests(&self) -> bool {
        self.flag(STRICT_VAR)
    }

    /// The target the test harness uses in live mode, when chosen.
    pub fn live_target(&self) -> Option<String> {
        self.setting(TARGET_VAR)
    }

    /// The model the test harness uses in live mode, when chosen.
    pub fn live_model(&self) -> Option<String> {
        self.setting(MODEL_VAR)
    }

    /// True when the test harness fails offline cases that have no fixture.
    pub fn require_fixtures(&self) -> bool {
        self.flag(REQUIRE_FIXTURES_VAR)
    }

    /// The capabilities the test harness requires (`LLM_CONTRACT_REQUIRE=tools,n`): a clean
    /// refusal of one fails its case instead of being `unsupported`.
    pub fn required_capabilities(&self) -> Vec<String> {
        self.non_empty(REQUIRE_VAR)
            .map(|v| {
                v.split([',', ' '])
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The tags the test harness selects by (`LLM_CONTRACT_TAG=smoke,video`); empty: all cases.
    pub fn tags(&self) -> Vec<String> {
        self.non_empty(TAG_VAR)
            .map(|v| {
                v.split([',', ' '])
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("sk-canary-1234567890");
        assert_eq!(format!("{s}"), "[API_KEY]");
        assert!(!format!("{s:?}").contains("canary"));
        let ctx = Context::from_map([("KEY", "sk-canary-1234567890")]);
        assert!(!format!("{ctx:?}").contains("canary"));
        assert_eq!(ctx.secret("KEY").unwrap().expose(), "sk-canary-1234567890");
    }

    #[test]
    fn flags_and_blank_values() {
        let ctx = Context::from_map([("CI", "true"), ("LLM_CONTRACT_LIVE", "0"), ("X", "  ")]);
        assert!(ctx.is_ci());
        assert!(!ctx.live_tests());
        assert!(!ctx.strict_tests());
        assert!(Context::from_map([("LLM_CONTRACT_STRICT", "1")]).strict_tests());
        assert!(ctx.setting("X").is_none());
        assert!(ctx.secret("X").is_none());
        assert!(ctx.tags().is_empty());
        assert!(!ctx.require_fixtures());
        assert!(Context::from_map([("LLM_CONTRACT_REQUIRE_FIXTURES", "1")]).require_fixtures());
    }

    #[test]
    fn no_color_is_any_non_empty_value() {
        assert!(Context::from_map([("NO_COLOR", "1")]).no_color());
        assert!(Context::from_map([("NO_COLOR", "0")]).no_color());
        assert!(Context::from_map([("NO_COLOR", " ")]).no_color());
        assert!(!Context::from_map([("NO_COLOR", "")]).no_color());
        assert!(!Context::default().no_color());
    }

    #[test]
    fn tags_are_a_list() {
        let ctx = Context::from_map([("LLM_CONTRACT_REQUIRE", "tools, n")]);
        assert_eq!(ctx.required_capabilities(), ["tools", "n"]);
        let ctx = Context::from_map([("LLM_CONTRACT_TAG", " smoke, video  images ")]);
        assert_eq!(ctx.tags(), ["smoke", "video", "images"]);
    }
}
