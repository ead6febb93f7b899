//! Checks on a whole body: what kind it is, its schema, its end reasons, its JSON pointers, its
//! error code. Each returns failures as data, never prints.

use serde_json::Value;

use crate::contract::schema::SchemaRegistry;
use crate::model::observation::{ApiError, BodyKind};
use crate::model::plan::Expect;

/// Characters of a body shown in an excerpt.
pub const EXCERPT: usize = 300;

/// A short, single-line excerpt of a body.
pub fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > EXCERPT {
        let cut: String = flat.chars().take(EXCERPT).collect();
        format!("{cut}… ({} bytes)", bytes.len())
    } else {
        flat
    }
}

/// What a non-streamed body is.
pub fn body_kind(content_type: Option<&str>, bytes: &[u8]) -> (BodyKind, Option<Value>) {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return (BodyKind::Empty, None);
    }
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return (BodyKind::Json, Some(v));
    }
    let ct_html = content_type.is_some_and(|c| c.to_ascii_lowercase().contains("html"));
    let head: String = String::from_utf8_lossy(&bytes[..bytes.len().min(512)])
        .trim_start()
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    if ct_html
        || head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || head.starts_with("<head")
    {
        (BodyKind::Html, None)
    } else {
        (BodyKind::OtherText, None)
    }
}

/// Checks a JSON body against a schema; failures name the JSON pointer.
pub fn schema_failures(
    schemas: &SchemaRegistry,
    name: &str,
    doc: &Value,
    failures: &mut Vec<String>,
) -> bool {
    match schemas.validate(name, doc) {
        Ok((violations, total)) => {
            for v in &violations {
                failures.push(format!("schema {name}: {v}"));
            }
            if total > violations.len() {
                failures.push(format!(
                    "schema {name}: … and {} more violations",
                    total - violations.len()
                ));
            }
            total == 0
        }
        Err(e) => {
            failures.push(format!("schema: {}", e.message));
            false
        }
    }
}

/// Checks finish reasons against the allowed set.
pub fn finish_reason_failures(
    got: &[(usize, Option<String>)],
    expect: &Expect,
    failures: &mut Vec<String>,
) {
    let Some(allowed) = &expect.finish_reason else {
        return;
    };
    if got.is_empty() {
        failures.push(format!(
            "finish_reason: expected one of [{}], but no choice carried one",
            allowed.join(", ")
        ));
    }
    for (i, reason) in got {
        match reason {
            Some(r) if allowed.iter().any(|a| a == r) => {}
            Some(r) => failures.push(format!(
                "finish_reason: choice {i}: expected one of [{}], got \"{r}\"",
                allowed.join(", ")
            )),
            None => failures.push(format!(
                "finish_reason: choice {i}: missing (expected one of [{}])",
                allowed.join(", ")
            )),
        }
    }
}

/// Checks the JSON pointers a successful body must have, and those it must not.
pub fn pointer_failures(doc: &Value, expect: &Expect, failures: &mut Vec<String>) {
    for p in &expect.present {
        if doc.pointer(p).is_none_or(Value::is_null) {
            failures.push(format!("body: expected {p} to be present, but it is not"));
        }
    }
    for p in &expect.absent {
        if doc.pointer(p).is_some_and(|v| !v.is_null()) {
            failures.push(format!("body: expected no {p}, but the body has one"));
        }
    }
}

/// Checks the error code against the allowed set.
pub fn error_code_failures(error: Option<&ApiError>, expect: &Expect, failures: &mut Vec<String>) {
    let Some(allowed) = &expect.error_code else {
        return;
    };
    let got = error.and_then(|e| e.code.clone().or_else(|| e.r#type.clone()));
    match got {
        Some(code) if allowed.contains(&code) => {}
        Some(code) => failures.push(format!(
            "error_code: expected one of [{}], got \"{code}\"",
            allowed.join(", ")
        )),
        None => failures.push(format!(
            "error_code: expected one of [{}], but the body carries no error code",
            allowed.join(", ")
        )),
    }
}
