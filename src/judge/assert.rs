//! Assertions and invariants checked on an answer: a non-streamed body, the last poll of a task,
//! or the answer a stream's frames add up to. The same function judges all three, so an
//! assertion means the same wherever it is written. Failures come back as data.

use serde_json::Value;

use crate::contract::schema::SchemaRegistry;
use crate::model::assertion::{Assertion, Decode, Invariant, JsonType, Predicate, SchemaRef};
use crate::model::assertion::AssertFault;
use crate::model::failure::Failure;
use crate::model::plan::Plan;

/// The largest string parsed by `json:`.
pub const MAX_JSON_TEXT: usize = 1 << 20;

/// Characters of a value shown in a failure.
const SHOWN: usize = 120;

/// A short, single-line rendering of a value.
fn show(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > SHOWN {
        let cut: String = text.chars().take(SHOWN).collect();
        format!("{cut}… ({} characters)", text.chars().count())
    } else {
        text
    }
}

fn show_all(vs: &[Value]) -> String {
    let items: Vec<String> = vs.iter().map(show).collect();
    format!("[{}]", items.join(", "))
}

fn type_name(v: &Value) -> &'static str {
    JsonType::of(v).as_str()
}

/// Escapes one reference token for a JSON pointer.
fn token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// The values a pointer names, with their concrete pointers: `*` expands to every element (or
/// every value of an object). A path that leads nowhere gives one `None`, named by the part of
/// the pointer that was found.
pub fn resolve<'v>(doc: &'v Value, pointer: &str) -> Vec<(String, Option<&'v Value>)> {
    if pointer.is_empty() {
        return vec![(String::new(), Some(doc))];
    }
    let tokens: Vec<String> = pointer[1..]
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut out = Vec::new();
    walk(doc, String::new(), &tokens, &mut out);
    out
}

fn walk<'v>(
    at: &'v Value,
    path: String,
    rest: &[String],
    out: &mut Vec<(String, Option<&'v Value>)>,
) {
    let Some((first, rest)) = rest.split_first() else {
        out.push((path, Some(at)));
        return;
    };
    if first == "*" {
        let children: Vec<(String, &Value)> = match at {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            Value::Object(map) => map.iter().map(|(k, v)| (token(k), v)).collect(),
            _ => Vec::new(),
        };
        if children.is_empty() {
            out.push((format!("{path}/*"), None));
        }
        for (t, v) in children {
            walk(v, format!("{path}/{t}"), rest, out);
        }
        return;
    }
    let next = match at {
        Value::Object(map) => map.get(first.as_str()),
        Value::Array(items) => first.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    };
    let path = format!("{path}/{}", token(first));
    match next {
        Some(v) => walk(v, path, rest, out),
        None => {
            // The rest of the pointer, as written, so the failure names what was asked.
            let mut named = path;
            for t in rest {
                named.push('/');
                named.push_str(&token(t));
            }
            out.push((named, None));
        }
    }
}

/// Checks every assertion on `doc`; failures are appended.
pub fn check(schemas: &SchemaRegistry, assertions: &[Assertion], doc: &Value, out: &mut Vec<Failure>) {
    for a in assertions {
        for (at, value) in resolve(doc, &a.at) {
            if let Some(d) = a.decode {
                match decoded(d, value) {
                    Ok(v) => {
                        let named = format!("{at} (decoded as {})", d.as_str());
                        predicates(schemas, a, named, Some(&v), out);
                    }
                    Err(None) => fail(out, &at, AssertFault::Missing),
                    Err(Some(why)) => fail(
                        out,
                        &at,
                        AssertFault::NotDecodable {
                            decode: d.as_str(),
                            why,
                        },
                    ),
                }
                continue;
            }
            match &a.json {
                None => predicates(schemas, a, at, value, out),
                Some(inner) => {
                    let parsed = match value {
                        None | Some(Value::Null) => {
                            fail(out, &at, AssertFault::Missing);
                            continue;
                        }
                        Some(Value::String(s)) if s.len() > MAX_JSON_TEXT => {
                            fail(
                                out,
                                &at,
                                AssertFault::NotJson {
                                    why: format!(
                                        "{} bytes, over the {MAX_JSON_TEXT}-byte limit",
                                        s.len()
                                    ),
                                },
                            );
                            continue;
                        }
                        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                            Ok(v) => v,
                            Err(e) => {
                                fail(
                                    out,
                                    &at,
                                    AssertFault::NotJson {
                                        why: format!("{e}: {}", show(&Value::String(s.clone()))),
                                    },
                                );
                                continue;
                            }
                        },
                        Some(other) => {
                            fail(
                                out,
                                &at,
                                AssertFault::NotJson {
                                    why: format!("found {}", type_name(other)),
                                },
                            );
                            continue;
                        }
                    };
                    for (inner_at, v) in resolve(&parsed, inner) {
                        let named = format!("{at} (parsed as JSON) {}", inner_at_or_root(&inner_at));
                        predicates(schemas, a, named, v, out);
                    }
                }
            }
        }
    }
}

/// The numbers a string holds, decoded as `d` says, as a JSON array; `Err(None)` when nothing
/// is there, `Err(Some(why))` when it does not decode.
fn decoded(d: Decode, value: Option<&Value>) -> Result<Value, Option<String>> {
    let text = match value {
        None | Some(Value::Null) => return Err(None),
        Some(Value::String(s)) if s.len() > MAX_JSON_TEXT => {
            return Err(Some(format!(
                "{} bytes, over the {MAX_JSON_TEXT}-byte limit",
                s.len()
            )))
        }
        Some(Value::String(s)) => s,
        Some(other) => return Err(Some(format!("found {}", type_name(other)))),
    };
    match d {
        Decode::Base64F32le => {
            let floats = crate::util::codec::base64(text)
                .and_then(|b| crate::util::codec::f32le(&b))
                .map_err(Some)?;
            Ok(Value::Array(
                floats
                    .into_iter()
                    .map(|f| {
                        serde_json::Number::from_f64(f64::from(f))
                            .map_or(Value::Null, Value::Number)
                    })
                    .collect(),
            ))
        }
    }
}

/// `close_to`: a number within `tolerance` of `want`, or an array of as many numbers, each
/// within `tolerance` of its counterpart; the first that is not is the fault.
fn close_to(want: &Value, tolerance: f64, v: &Value) -> Option<AssertFault> {
    let far = |index, e: f64, g: f64| {
        // A NaN is near nothing.
        let near = (e - g).abs() <= tolerance;
        (!near).then(|| AssertFault::NotClose {
            index,
            expected: e.to_string(),
            got: g.to_string(),
            tolerance: tolerance.to_string(),
        })
    };
    match (want, v) {
        (Value::Number(e), Value::Number(g)) => far(None, e.as_f64()?, g.as_f64()?),
        (Value::Array(es), Value::Array(gs)) => {
            if es.len() != gs.len() {
                return Some(AssertFault::LengthDiffers {
                    expected: es.len(),
                    got: gs.len(),
                });
            }
            for (i, (e, g)) in es.iter().zip(gs).enumerate() {
                let (Some(e), Some(g)) = (e.as_f64(), g.as_f64()) else {
                    return Some(AssertFault::NotNumbers {
                        got: type_name(if g.is_number() { e } else { g }),
                    });
                };
                if let Some(f) = far(Some(i), e, g) {
                    return Some(f);
                }
            }
            None
        }
        (Value::Array(_), other) | (Value::Number(_), other) => Some(AssertFault::NotNumbers {
            got: type_name(other),
        }),
        // A value the case could not fill in (a placeholder no step captured): never close.
        (other, _) => Some(AssertFault::NotNumbers {
            got: type_name(other),
        }),
    }
}

fn inner_at_or_root(p: &str) -> &str {
    if p.is_empty() {
        "/"
    } else {
        p
    }
}

fn fail(out: &mut Vec<Failure>, at: &str, fault: AssertFault) {
    out.push(Failure::Assert {
        at: if at.is_empty() { "/".into() } else { at.to_string() },
        fault,
    });
}

fn predicates(
    schemas: &SchemaRegistry,
    a: &Assertion,
    at: String,
    value: Option<&Value>,
    out: &mut Vec<Failure>,
) {
    let value = value.filter(|v| !v.is_null() || wants_null(a));
    for p in &a.predicates {
        if let Predicate::Exists(yes) = p {
            match (yes, value.filter(|v| !v.is_null())) {
                (true, None) => fail(out, &at, AssertFault::Missing),
                (false, Some(v)) => fail(out, &at, AssertFault::Present { got: show(v) }),
                _ => {}
            }
        }
    }
    if a.predicates.iter().all(|p| matches!(p, Predicate::Exists(_))) {
        return;
    }
    let Some(v) = value else {
        // Once per place, however many predicates wanted a value there.
        fail(out, &at, AssertFault::Missing);
        return;
    };
    for p in &a.predicates {
        if let Some(fault) = predicate(schemas, p, v, out, &at) {
            fail(out, &at, fault);
        }
    }
}

/// Whether the assertion can hold of `null` (it names the type or the value).
fn wants_null(a: &Assertion) -> bool {
    a.predicates.iter().any(|p| match p {
        Predicate::Type(ts) => ts.contains(&JsonType::Null),
        Predicate::Equals(v) => v.is_null(),
        Predicate::OneOf(vs) => vs.iter().any(Value::is_null),
        Predicate::Schema(_) => true,
        _ => false,
    })
}

fn predicate(
    schemas: &SchemaRegistry,
    p: &Predicate,
    v: &Value,
    out: &mut Vec<Failure>,
    at: &str,
) -> Option<AssertFault> {
    match p {
        Predicate::Exists(_) => None,
        Predicate::Equals(want) => (!same(want, v)).then(|| AssertFault::NotEqual {
            expected: show(want),
            got: show(v),
        }),
        Predicate::OneOf(allowed) => {
            (!allowed.iter().any(|w| same(w, v))).then(|| AssertFault::NotOneOf {
                allowed: show_all(allowed),
                got: show(v),
            })
        }
        Predicate::Matches(re) => match v {
            Value::String(s) if re.0.is_match(s) => None,
            _ => Some(AssertFault::NoMatch {
                pattern: re.0.as_str().to_string(),
                got: show(v),
            }),
        },
        Predicate::Contains(needle) => {
            let holds = match (v, needle) {
                (Value::String(s), Value::String(n)) => s.contains(n.as_str()),
                (Value::Array(items), n) => items.iter().any(|i| same(n, i)),
                _ => false,
            };
            (!holds).then(|| AssertFault::NotContained {
                needle: show(needle),
                got: show(v),
            })
        }
        Predicate::Type(types) => {
            let got = JsonType::of(v);
            (!types.iter().any(|t| t.admits(got))).then(|| AssertFault::WrongType {
                expected: types
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
                got: got.as_str(),
            })
        }
        Predicate::Length(bound) => {
            let n = match v {
                Value::String(s) => s.chars().count(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                other => {
                    return Some(AssertFault::NoLength {
                        got: type_name(other),
                    })
                }
            };
            (!bound.holds(n as f64)).then(|| AssertFault::Length {
                bound: bound.to_string(),
                got: n,
            })
        }
        Predicate::Number(bound) => match v.as_f64() {
            Some(x) if bound.holds(x) => None,
            Some(_) => Some(AssertFault::Number {
                bound: bound.to_string(),
                got: show(v),
            }),
            None => Some(AssertFault::NotNumber { got: type_name(v) }),
        },
        Predicate::Schema(s) => {
            let (name, result) = match s {
                SchemaRef::Named(n) => (
                    n.clone(),
                    schemas.validate(n, v).map_err(|e| e.message.clone()),
                ),
                SchemaRef::Inline(inline) => {
                    ("(written in the case)".to_string(), schemas.validate_inline(inline, v))
                }
            };
            match result {
                Ok((violations, total)) => {
                    let listed = violations.len();
                    for violation in violations {
                        fail(
                            out,
                            at,
                            AssertFault::Schema {
                                schema: name.clone(),
                                violation,
                            },
                        );
                    }
                    (total > listed).then(|| AssertFault::SchemaMore {
                        schema: name,
                        more: total - listed,
                    })
                }
                Err(message) => Some(AssertFault::SchemaUnusable { message }),
            }
        }
        Predicate::CloseTo { value, tolerance } => close_to(value, *tolerance, v),
    }
}

/// Equality as JSON means it: numbers by value (`1` equals `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// What an invariant reads besides the answer: the request's `n`, and the case's `${model}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked<'a> {
    pub n: Option<u64>,
    pub model: Option<&'a str>,
}

/// Checks the built-in invariants a case names on its answer.
pub fn invariants(names: &[Invariant], doc: &Value, asked: Asked<'_>, out: &mut Vec<Failure>) {
    for &name in names {
        if let Some(detail) = invariant(name, doc, asked) {
            out.push(Failure::Invariant {
                name: name.as_str(),
                detail,
            });
        }
    }
}

fn invariant(name: Invariant, doc: &Value, asked: Asked<'_>) -> Option<String> {
    match name {
        Invariant::UsageArithmetic => usage_arithmetic(doc.get("usage")),
        Invariant::ChoicesMatchN => {
            let want = asked.n.unwrap_or(1);
            let got = doc.get("choices").and_then(Value::as_array).map(Vec::len);
            match got {
                Some(g) if g as u64 == want => None,
                Some(g) => Some(format!(
                    "the request asked for n = {want} choices, the answer has {g}"
                )),
                None => Some("the answer has no `choices` array".into()),
            }
        }
        Invariant::DistinctChoiceIndices => {
            let choices = doc.get("choices").and_then(Value::as_array)?;
            let mut seen = std::collections::BTreeSet::new();
            for (i, c) in choices.iter().enumerate() {
                let Some(index) = c.get("index").and_then(Value::as_u64) else {
                    return Some(format!("choice {i} has no integer `index`"));
                };
                if !seen.insert(index) {
                    return Some(format!("two choices have index {index}"));
                }
            }
            let expected: std::collections::BTreeSet<u64> = (0..choices.len() as u64).collect();
            (seen != expected).then(|| {
                format!(
                    "the indices are {:?}, not 0..{}",
                    seen.iter().collect::<Vec<_>>(),
                    choices.len()
                )
            })
        }
        Invariant::ModelListed => model_listed(doc, asked.model),
    }
}

/// The case's model is among the listing's `data[].id`.
fn model_listed(doc: &Value, model: Option<&str>) -> Option<String> {
    let Some(model) = model else {
        return Some("the case has no `${model}` to look for".into());
    };
    let Some(data) = doc.get("data").and_then(Value::as_array) else {
        return Some("the answer has no `data` array".into());
    };
    let ids: Vec<&str> = data
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_str))
        .collect();
    if ids.contains(&model) {
        return None;
    }
    let shown: Vec<String> = ids.iter().take(5).map(|i| show(&Value::from(*i))).collect();
    Some(format!(
        "{} is not among the {} models listed{}",
        show(&Value::from(model)),
        data.len(),
        if shown.is_empty() {
            String::new()
        } else {
            format!(
                " ({}{})",
                shown.join(", "),
                if ids.len() > shown.len() { ", …" } else { "" }
            )
        }
    ))
}

fn usage_arithmetic(usage: Option<&Value>) -> Option<String> {
    let Some(usage) = usage.filter(|u| u.is_object()) else {
        return Some("the answer carries no `usage` object".into());
    };
    let count = |k: &str| usage.get(k);
    for (k, v) in usage.as_object().into_iter().flatten() {
        if k.ends_with("_tokens") && !v.is_null() && v.as_u64().is_none() {
            return Some(format!("`{k}` is {}, not a whole number ≥ 0", show(v)));
        }
    }
    let n = |k: &str| count(k).and_then(Value::as_u64);
    if let Some(total) = n("total_tokens") {
        let (a, b, names) = if count("prompt_tokens").is_some() {
            (n("prompt_tokens"), n("completion_tokens"), ("prompt_tokens", "completion_tokens"))
        } else if count("input_tokens").is_some() {
            (n("input_tokens"), n("output_tokens"), ("input_tokens", "output_tokens"))
        } else {
            return Some("`total_tokens` without `prompt_tokens` (or `input_tokens`)".into());
        };
        let Some(a) = a else {
            return Some(format!("`total_tokens` without `{}`", names.0));
        };
        // Embeddings have no completion: their total is the prompt.
        let b = b.unwrap_or(0);
        if a + b != total {
            return Some(format!(
                "total_tokens {total} ≠ {} {a} + {} {b}",
                names.0, names.1
            ));
        }
        return None;
    }
    if n("input_tokens").is_some() && n("output_tokens").is_some() {
        // Messages: no total to add up; the counts are whole and non-negative (checked above).
        return None;
    }
    Some("`usage` has neither `total_tokens` nor `input_tokens` and `output_tokens`".into())
}

/// Checks a plan's assertions and invariants on its answer.
pub fn on_answer(schemas: &SchemaRegistry, plan: &Plan, doc: &Value, out: &mut Vec<Failure>) {
    let expect = &plan.expect;
    check(schemas, &expect.assert, doc, out);
    if !expect.invariants.is_empty() {
        let n = plan
            .body
            .json()
            .and_then(|b| b.get("n").and_then(Value::as_u64));
        let model = expect
            .invariants
            .contains(&Invariant::ModelListed)
            .then(|| crate::contract::plan::variable(&plan.case, &plan.target, "model"))
            .flatten();
        let asked = Asked {
            n,
            model: model.as_deref(),
        };
        invariants(&expect.invariants, doc, asked, out);
    }
}

/// The values a plan captures from its answer for later steps; a pointer with nothing (or
/// `null`) there is a failure: the steps after it could not be sent as written.
pub fn capture(
    plan: &Plan,
    doc: &Value,
    out: &mut Vec<Failure>,
) -> std::collections::BTreeMap<String, Value> {
    let mut got = std::collections::BTreeMap::new();
    for (name, pointer) in &plan.capture {
        match doc.pointer(pointer).filter(|v| !v.is_null()) {
            Some(v) => {
                got.insert(name.clone(), v.clone());
            }
            None => out.push(Failure::Capture {
                name: name.clone(),
                pointer: pointer.clone(),
            }),
        }
    }
    got
}

/// The note an answer's unchecked assertions leave, when there are any: `why` says why the
/// answer could not be judged (the case fails for that reason already).
pub fn unchecked(plan: &Plan, why: &str) -> Option<String> {
    let n = plan.expect.assert.len() + plan.expect.invariants.len() + plan.capture.len();
    (n > 0).then(|| {
        format!(
            "{n} assertion{} not checked: {why}",
            if n == 1 { "" } else { "s" }
        )
    })
}

#[cfg(test)]
mod tests;
