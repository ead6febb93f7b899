//! Planning: one case resolved for one target. The variables (`${name}`) are filled into the body
//! (written once as the compact bytes sent) and the target's overrides applied to the
//! expectations.
//!
//! Where a variable's value comes from, the first that has it:
//!
//! 1. offline, the model a case's fixture recorded, for the variable the case's `model` is
//!    (`model: ${name}`; [`plan_recorded`]): a fixture replays with the model it was recorded with;
//! 2. the case's own `vars:`, whose values may name the target's variables (`${model}`), filled in
//!    once from the target's;
//! 3. the target's `vars:` (live, `--model` has replaced its `model`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::model::assertion::{Assertion, Predicate};
use crate::model::class::Class;
use crate::model::error::{did_you_mean, ConfigError};
use crate::model::plan::{
    BodyTemplate, Case, CaseStep, Expect, ExpectDoc, Limits, Plan, PlanBody, StatusSet, Target,
};

/// A case's plan for a target.
pub fn plan(case: &Arc<Case>, target: &Arc<Target>) -> Result<Plan, ConfigError> {
    plan_recorded(case, target, None)
}

/// A case's plan for a target, with the model its fixture recorded (offline) standing for the
/// variable the case's `model` is.
pub(crate) fn plan_recorded(
    case: &Arc<Case>,
    target: &Arc<Target>,
    recorded_model: Option<&str>,
) -> Result<Plan, ConfigError> {
    let mut vars = vars(case, target)?;
    let name = model_var(case).or_else(|| path_model_var(case).map(|(name, _, _)| name));
    if let (Some(m), Some(name)) = (recorded_model, name) {
        if vars.get(name).map(String::as_str) != Some(m) {
            vars.to_mut().insert(name.to_string(), m.to_string());
        }
    }
    let scope = Scope {
        case,
        target,
        vars: &vars,
        captured: None,
    };
    let body = match &case.body {
        BodyTemplate::Json(v) => {
            let mut text = Vec::with_capacity(256);
            scope.write(v, &mut text)?;
            let model = match v.get("model") {
                Some(Value::String(m)) => Some(scope.fill(m)?),
                _ => None,
            };
            PlanBody::Json {
                text: text.into(),
                model,
                tools: v.get("tools").is_some() || v.get("functions").is_some(),
            }
        }
        BodyTemplate::Raw(s) => PlanBody::Raw(scope.fill(s)?),
        BodyTemplate::None => PlanBody::None,
    };
    let mut expect = expect_of(target.expect.get(&case.id), &case.expect);
    scope.fill_assertions(&mut expect)?;
    let skip = target.skip.get(&case.id).cloned();
    let plan = Plan {
        id: format!("{}::{}", target.name, case.id),
        case: case.clone(),
        target: target.clone(),
        body,
        expect,
        skip,
        step: None,
        method: case.method.clone(),
        path: case.path.as_deref().map(|p| scope.fill(p)).transpose()?,
        headers: None,
        capture: case.capture.clone(),
    };
    if !case.steps.is_empty() {
        check_steps(&plan)?;
    }
    Ok(plan)
}

/// A case's expectations with a target's override of them applied (each key the override sets
/// replaces the case's).
fn expect_of(over: Option<&ExpectDoc>, doc: &ExpectDoc) -> Expect {
    let pick = |f: fn(&ExpectDoc) -> Option<&StatusSet>| over.and_then(f).or_else(|| f(doc));
    let status = pick(|e| e.status.as_ref())
        .map(StatusSet::to_vec)
        .unwrap_or_default();
    Expect {
        status,
        class: over.and_then(|o| o.class).or(doc.class).unwrap_or(Class::Ok),
        schema: over
            .and_then(|o| o.schema.clone())
            .or_else(|| doc.schema.clone()),
        error_code: over
            .and_then(|o| o.error_code.clone())
            .or_else(|| doc.error_code.clone()),
        finish_reason: over
            .and_then(|o| o.finish_reason.clone())
            .or_else(|| doc.finish_reason.clone()),
        stream: over
            .and_then(|o| o.stream.clone())
            .or_else(|| doc.stream.clone()),
        limits: over
            .map_or(Limits::default(), ExpectDoc::limits)
            .or(doc.limits()),
        assert: assertions(over, doc),
        invariants: over
            .and_then(|o| o.invariants.clone())
            .or_else(|| doc.invariants.clone())
            .unwrap_or_default(),
    }
}

/// The plan of a case's step, after the steps before it captured `captured`: its body, path
/// and assertion values filled in from the variables the case's own request used (its model
/// included) and from the captured values. A captured value that is not a string replaces a
/// JSON string that is exactly its placeholder (`"${tool_call}"` becomes the object); inside a
/// longer string it is written as compact JSON.
pub(crate) fn plan_step(
    base: &Plan,
    step: &CaseStep,
    captured: &BTreeMap<String, Value>,
) -> Result<Plan, ConfigError> {
    let (case, target) = (&base.case, &base.target);
    let mut vars = vars(case, target)?.into_owned();
    if let (Some(m), Some(name)) = (base.model(), model_var(case)) {
        vars.insert(name.to_string(), m.to_string());
    }
    for (name, v) in captured {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        vars.insert(name.clone(), text);
    }
    let scope = Scope {
        case,
        target,
        vars: &vars,
        captured: Some(captured),
    };
    let body = match &step.body {
        BodyTemplate::Json(v) => {
            let mut text = Vec::with_capacity(256);
            scope.write(v, &mut text)?;
            let model = match v.get("model") {
                Some(Value::String(m)) => Some(scope.fill(m)?),
                _ => None,
            };
            PlanBody::Json {
                text: text.into(),
                model,
                tools: v.get("tools").is_some() || v.get("functions").is_some(),
            }
        }
        BodyTemplate::Raw(s) => PlanBody::Raw(scope.fill(s)?),
        BodyTemplate::None => PlanBody::None,
    };
    let mut expect = expect_of(None, &step.expect);
    scope.fill_assertions(&mut expect)?;
    Ok(Plan {
        id: base.id.clone(),
        case: case.clone(),
        target: target.clone(),
        body,
        expect,
        skip: None,
        step: Some(step.name.clone()),
        method: step.method.clone(),
        path: step.path.as_deref().map(|p| scope.fill(p)).transpose()?,
        // The case's headers, with the step's own over them (names compared without case).
        headers: (!step.headers.is_empty()).then(|| {
            let mut h: BTreeMap<String, String> = case
                .headers
                .iter()
                .filter(|(k, _)| !step.headers.keys().any(|s| s.eq_ignore_ascii_case(k)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            h.extend(step.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
            h
        }),
        capture: step.capture.clone(),
    })
}

/// Checks every step's templates before anything is sent: each `${name}` must be a variable or
/// a value an earlier step (or the case's request) captures.
pub(crate) fn check_steps(base: &Plan) -> Result<(), ConfigError> {
    let mut captured: BTreeMap<String, Value> = base
        .case
        .capture
        .keys()
        .map(|k| (k.clone(), Value::String(String::new())))
        .collect();
    for step in &base.case.steps {
        plan_step(base, step, &captured)?;
        captured.extend(
            step.capture
                .keys()
                .map(|k| (k.clone(), Value::String(String::new()))),
        );
    }
    Ok(())
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

/// The variable a case's body names as its whole `model` (`model: ${name}`), if it does.
pub(crate) fn model_var(case: &Case) -> Option<&str> {
    let BodyTemplate::Json(v) = &case.body else {
        return None;
    };
    let name = v.get("model")?.as_str()?.strip_prefix("${")?.strip_suffix('}')?;
    (!name.is_empty() && !name.contains(['$', '{', '}'])).then_some(name)
}

/// The model variable a case without a body's `model` names in its own path
/// (`GET /models/${model}`): the one `${name}` there, when its name has `model` in it, with the
/// path's text before and after it.
pub(crate) fn path_model_var(case: &Case) -> Option<(&str, &str, &str)> {
    let path = case.path.as_deref()?;
    let start = path.find("${")?;
    let rest = &path[start + 2..];
    let end = rest.find('}')?;
    let (name, after) = (&rest[..end], &rest[end + 1..]);
    let single = !after.contains("${") && !name.is_empty() && !name.contains(['$', '{']);
    (single && name.contains("model")).then_some((name, &path[..start], after))
}

/// The model a recorded request's path names where the case's path has its model variable
/// (`/models/${model}` recorded as `/models/gpt-4o-mini`).
pub(crate) fn recorded_path_model(case: &Case, recorded_path: &str) -> Option<String> {
    let (_, before, after) = path_model_var(case)?;
    let m = recorded_path.strip_prefix(before)?.strip_suffix(after)?;
    (!m.is_empty() && !m.contains(['/', '?', '#'])).then(|| m.to_string())
}

/// The value of variable `name` for a case on a target (the case's own `vars:` over the
/// target's), if either defines it.
pub(crate) fn variable(case: &Case, target: &Target, name: &str) -> Option<String> {
    vars(case, target).ok()?.get(name).cloned()
}

/// The variables of a case on a target: the target's, with the case's own over them (each of
/// their values filled in once from the target's).
fn vars<'a>(case: &Case, target: &'a Target) -> Result<Cow<'a, BTreeMap<String, String>>, ConfigError> {
    if case.vars.is_empty() {
        return Ok(Cow::Borrowed(&target.vars));
    }
    let of_target = Scope {
        case,
        target,
        vars: &target.vars,
        captured: None,
    };
    let mut vars = target.vars.clone();
    for (name, value) in &case.vars {
        vars.insert(name.clone(), of_target.fill(value)?);
    }
    Ok(Cow::Owned(vars))
}

/// Writes `v` as compact JSON with every string's `${var}`s filled in from the case's variables
/// on the target: the bytes `serde_json::to_vec` gives for the filled-in tree, without building
/// that tree.
#[cfg(test)]
pub(crate) fn write_substituted(
    v: &Value,
    case: &Case,
    target: &Target,
    out: &mut Vec<u8>,
) -> Result<(), ConfigError> {
    let vars = vars(case, target)?;
    Scope {
        case,
        target,
        vars: &vars,
        captured: None,
    }
    .write(v, out)
}

/// What `${name}` is filled in from, and the case and target an error names.
struct Scope<'a> {
    case: &'a Case,
    target: &'a Target,
    vars: &'a BTreeMap<String, String>,
    /// Values earlier steps captured: one that is not a string replaces a JSON string that is
    /// exactly its placeholder.
    captured: Option<&'a BTreeMap<String, Value>>,
}

impl Scope<'_> {
    /// Fills in the `${name}`s of the assertions' values (`equals`, `one_of`, `contains`,
    /// `close_to`).
    fn fill_assertions(&self, expect: &mut Expect) -> Result<(), ConfigError> {
        for a in &mut expect.assert {
            for p in &mut a.predicates {
                match p {
                    Predicate::Equals(v)
                    | Predicate::Contains(v)
                    | Predicate::CloseTo { value: v, .. } => *v = self.tree(v)?,
                    Predicate::OneOf(vs) => {
                        for v in vs {
                            *v = self.tree(v)?;
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// A captured value that is not a string, when `s` is exactly its placeholder.
    fn whole(&self, s: &str) -> Option<&Value> {
        let name = s.strip_prefix("${")?.strip_suffix('}')?;
        self.captured?.get(name).filter(|v| !v.is_string())
    }

    /// `v` with every string's `${var}`s filled in, as a tree.
    fn tree(&self, v: &Value) -> Result<Value, ConfigError> {
        Ok(match v {
            Value::String(s) => match self.whole(s) {
                Some(w) => w.clone(),
                None => Value::String(self.fill(s)?),
            },
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.tree(i))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, i)| Ok((k.clone(), self.tree(i)?)))
                    .collect::<Result<_, ConfigError>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Writes `v` as compact JSON with every string's `${var}`s filled in.
    fn write(&self, v: &Value, out: &mut Vec<u8>) -> Result<(), ConfigError> {
        match v {
            Value::String(s) if self.whole(s).is_some() => {
                put_json(out, self.whole(s).unwrap_or(&Value::Null))
            }
            Value::String(s) if has_placeholder(s) => put_json(out, &self.fill(s)?),
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write(item, out)?;
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
                    self.write(item, out)?;
                }
                out.push(b'}');
            }
            other => put_json(out, other),
        }
        Ok(())
    }

    /// Replaces each `${name}` in `s` with the variable's value.
    fn fill(&self, s: &str) -> Result<String, ConfigError> {
        if !has_placeholder(s) {
            return Ok(s.to_string());
        }
        let (case, target) = (self.case, self.target);
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
            match self.vars.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    let mut e = ConfigError::new(
                        case.locate(&format!("${{{name}}}")),
                        format!("`${{{name}}}` is not defined by target `{}`", target.name),
                    );
                    if let Some(s) = did_you_mean(name, self.vars.keys().map(String::as_str)) {
                        e = e.with_hint(format!("did you mean `${{{s}}}`?"));
                    } else {
                        e = e.with_hint(format!(
                            "define it under `vars:` in {} (or in the case's own `vars:`)",
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
