//! Planning: one case resolved for one target. The target's `${var}`s are filled into the body
//! (written once as the compact bytes sent) and its overrides applied to the expectations.

use std::sync::Arc;

use serde_json::Value;

use crate::model::assertion::Assertion;
use crate::model::class::Class;
use crate::model::error::{did_you_mean, ConfigError};
use crate::model::plan::{
    BodyTemplate, Case, Expect, ExpectDoc, Limits, Plan, PlanBody, StatusSet, Target,
};

pub(crate) fn plan(case: &Arc<Case>, target: &Arc<Target>) -> Result<Plan, ConfigError> {
    let body = match &case.body {
        BodyTemplate::Json(v) => {
            let mut text = Vec::with_capacity(256);
            write_substituted(v, case, target, &mut text)?;
            let model = match v.get("model") {
                Some(Value::String(m)) => Some(substitute_str(m, case, target)?),
                _ => None,
            };
            PlanBody::Json {
                text: text.into(),
                model,
                tools: v.get("tools").is_some() || v.get("functions").is_some(),
            }
        }
        BodyTemplate::Raw(s) => PlanBody::Raw(substitute_str(s, case, target)?),
        BodyTemplate::None => PlanBody::None,
    };
    let over = target.expect.get(&case.id);
    let pick =
        |f: fn(&ExpectDoc) -> Option<&StatusSet>| over.and_then(f).or_else(|| f(&case.expect));
    let status = pick(|e| e.status.as_ref())
        .map(StatusSet::to_vec)
        .unwrap_or_default();
    let expect = Expect {
        status,
        class: over
            .and_then(|o| o.class)
            .or(case.expect.class)
            .unwrap_or(Class::Ok),
        schema: over
            .and_then(|o| o.schema.clone())
            .or_else(|| case.expect.schema.clone()),
        error_code: over
            .and_then(|o| o.error_code.clone())
            .or_else(|| case.expect.error_code.clone()),
        finish_reason: over
            .and_then(|o| o.finish_reason.clone())
            .or_else(|| case.expect.finish_reason.clone()),
        stream: over
            .and_then(|o| o.stream.clone())
            .or_else(|| case.expect.stream.clone()),
        limits: over
            .map_or(Limits::default(), ExpectDoc::limits)
            .or(case.expect.limits()),
        assert: assertions(over, &case.expect),
        invariants: over
            .and_then(|o| o.invariants.clone())
            .or_else(|| case.expect.invariants.clone())
            .unwrap_or_default(),
    };
    let skip = target.skip.get(&case.id).cloned();
    Ok(Plan {
        id: format!("{}::{}", target.name, case.id),
        case: case.clone(),
        target: target.clone(),
        body,
        expect,
        skip,
    })
}

/// The assertions of a plan: `present` and `absent` (as `exists`), then `assert`; each of the
/// three keys a target's override sets replaces the case's.
fn assertions(over: Option<&ExpectDoc>, case: &ExpectDoc) -> Vec<Assertion> {
    let pick = |f: fn(&ExpectDoc) -> Option<&Vec<String>>| over.and_then(f).or_else(|| f(case));
    let mut out: Vec<Assertion> = Vec::new();
    for p in pick(|e| e.present.as_ref()).into_iter().flatten() {
        out.push(Assertion::exists(p, true));
    }
    for p in pick(|e| e.absent.as_ref()).into_iter().flatten() {
        out.push(Assertion::exists(p, false));
    }
    let written = over
        .and_then(|o| o.assert.as_ref())
        .or(case.assert.as_ref());
    out.extend(written.into_iter().flatten().cloned());
    out
}

/// Writes `v` as compact JSON with every string's `${var}`s filled in: the bytes
/// `serde_json::to_vec` gives for the filled-in tree, without building that tree.
pub(crate) fn write_substituted(
    v: &Value,
    case: &Case,
    target: &Target,
    out: &mut Vec<u8>,
) -> Result<(), ConfigError> {
    match v {
        Value::String(s) if has_placeholder(s) => put_json(out, &substitute_str(s, case, target)?),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_substituted(item, case, target, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                put_json(out, k);
                out.push(b':');
                write_substituted(item, case, target, out)?;
            }
            out.push(b'}');
        }
        other => put_json(out, other),
    }
    Ok(())
}

/// Writes a string, number, boolean or null (or a key) as compact JSON; into a `Vec` serde_json
/// has no error to give.
fn put_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(out, v);
}

/// Whether `s` holds a `${`: a byte scan, cheaper on a short string than a substring search's
/// set-up (a thousand plans check every string of their bodies).
fn has_placeholder(s: &str) -> bool {
    s.as_bytes().windows(2).any(|w| w == b"${")
}

/// Replaces `${name}` with the target's `vars.name`.
fn substitute_str(s: &str, case: &Case, target: &Target) -> Result<String, ConfigError> {
    if !has_placeholder(s) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(ConfigError::new(
                case.locate("${"),
                "unclosed `${` in a request value",
            ));
        };
        let name = &after[..end];
        match target.vars.get(name) {
            Some(v) => out.push_str(v),
            None => {
                let mut e = ConfigError::new(
                    case.locate(&format!("${{{name}}}")),
                    format!("`${{{name}}}` is not defined by target `{}`", target.name),
                );
                if let Some(s) = did_you_mean(name, target.vars.keys().map(String::as_str)) {
                    e = e.with_hint(format!("did you mean `${{{s}}}`?"));
                } else {
                    e = e.with_hint(format!(
                        "define it under `vars:` in {}",
                        target.file.display()
                    ));
                }
                return Err(e);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
