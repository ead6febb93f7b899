//! A case's steps as written (`steps:` and `capture:`), checked and turned into
//! [`CaseStep`]s: each a request with its own expectations, and the values it captures for the
//! steps after it. What cannot apply to a step is refused here, with the line it is on.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use crate::model::assertion::pointer_error;
use crate::model::error::{ConfigError, Location};
use crate::model::family::Family;
use crate::model::plan::{BodyTemplate, CaseStep, ExpectDoc};

/// A step's request: the family's method and path unless it names its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepRequestDoc {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    raw_body: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepDoc {
    name: String,
    request: StepRequestDoc,
    expect: ExpectDoc,
    #[serde(default)]
    capture: BTreeMap<String, String>,
}

/// The methods a step may use.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The most steps a case may have.
pub const MAX_STEPS: usize = 20;

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks a `capture:` map: names, and the pointers they take.
pub(crate) fn check_capture(
    capture: &BTreeMap<String, String>,
    at: &dyn Fn(&str) -> Location,
    errors: &mut Vec<ConfigError>,
) {
    for (name, pointer) in capture {
        if !is_name(name) {
            errors.push(ConfigError::new(
                at(&format!("{name}:")),
                format!("capture `{name}`: a name is lowercase letters, digits and `_`"),
            ));
        }
        if let Some(e) = pointer_error(pointer) {
            errors.push(ConfigError::new(
                at(&format!("{name}:")),
                format!("capture `{name}`: {e}"),
            ));
        }
    }
}

/// Checks a request's own method (one of [`METHODS`]) and path (after the base URL: it starts
/// with `/`).
pub(crate) fn check_method_path(
    method: Option<&str>,
    path: Option<&str>,
    whose: &str,
    at: &dyn Fn(&str) -> Location,
    errors: &mut Vec<ConfigError>,
) {
    if let Some(m) = method {
        if !METHODS.contains(&m) {
            errors.push(ConfigError::new(
                at(&format!("method: {m}")),
                format!("{whose}: method `{m}` is not one of {}", METHODS.join(", ")),
            ));
        }
    }
    if let Some(p) = path {
        if !p.starts_with('/') || p.contains("://") {
            errors.push(ConfigError::new(
                at(&format!("path: {p}")),
                format!("{whose}: path `{p}` must start with `/` (it follows the base URL)"),
            ));
        }
    }
}

/// The steps of a case of `family`.
pub(crate) fn steps(
    docs: Vec<StepDoc>,
    family: &Family,
    at: &dyn Fn(&str) -> Location,
    errors: &mut Vec<ConfigError>,
) -> Vec<CaseStep> {
    if docs.len() > MAX_STEPS {
        errors.push(ConfigError::new(
            at("steps:"),
            format!("{} steps: a case has at most {MAX_STEPS}", docs.len()),
        ));
    }
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for d in docs {
        let here = |key: &str| at(key);
        let name_at = here(&format!("name: {}", d.name));
        if !is_name(&d.name) {
            errors.push(ConfigError::new(
                name_at.clone(),
                format!("step `{}`: a name is lowercase letters, digits and `_`", d.name),
            ));
        }
        if !names.insert(d.name.clone()) {
            errors.push(ConfigError::new(
                name_at.clone(),
                format!("a second step named `{}`", d.name),
            ));
        }
        let whose = format!("step `{}`", d.name);
        check_method_path(
            d.request.method.as_deref(),
            d.request.path.as_deref(),
            &whose,
            &here,
            errors,
        );
        let body = match (d.request.body, d.request.raw_body) {
            (Some(_), Some(_)) => {
                errors.push(ConfigError::new(
                    name_at.clone(),
                    format!("{whose}: a request has either `body` or `raw_body`, not both"),
                ));
                BodyTemplate::None
            }
            (Some(b), None) => BodyTemplate::Json(b),
            (None, Some(r)) => BodyTemplate::Raw(r),
            (None, None) => BodyTemplate::None,
        };
        if d.expect.status.is_none() || d.expect.class.is_none() {
            errors.push(ConfigError::new(
                name_at.clone(),
                format!("{whose}: `expect.status` and `expect.class` are required"),
            ));
        }
        let streams =
            matches!(&body, BodyTemplate::Json(b) if b.get("stream") == Some(&Value::Bool(true)));
        if streams != d.expect.stream.is_some() {
            errors.push(ConfigError::new(
                name_at.clone(),
                if streams {
                    format!("{whose}: request.body.stream is true but `expect.stream` is missing")
                } else {
                    format!("{whose}: `expect.stream` is set but request.body.stream is not true")
                },
            ));
        }
        for header in d.request.headers.keys() {
            if header.eq_ignore_ascii_case("authorization")
                || header.to_ascii_lowercase().contains("api-key")
            {
                errors.push(ConfigError::new(
                    here(header),
                    format!("{whose}: credentials do not belong in a case file"),
                ));
            }
        }
        errors.extend(crate::contract::applies::refusals(
            &d.expect, family, streams, &whose, at,
        ));
        check_capture(&d.capture, at, errors);
        out.push(CaseStep {
            name: d.name,
            method: d.request.method,
            path: d.request.path,
            body,
            headers: d.request.headers,
            expect: d.expect,
            capture: d.capture,
        });
    }
    out
}
