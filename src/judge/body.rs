//! Checks on a whole body: what kind it is, its schema, its end reasons, its JSON pointers, its
//! error code. Each returns failures as data, never prints.

use serde_json::Value;

use crate::contract::schema::SchemaRegistry;
use crate::model::failure::{Failure, FinishFault};
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
    failures: &mut Vec<Failure>,
) -> bool {
    match schemas.validate(name, doc) {
        Ok((violations, total)) => {
            let listed = violations.len();
            for violation in violations {
                failures.push(Failure::Schema {
                    schema: name.to_string(),
                    violation,
                });
            }
            if total > listed {
                failures.push(Failure::SchemaMore {
                    schema: name.to_string(),
                    more: total - listed,
                });
            }
            total == 0
        }
        Err(e) => {
            failures.push(Failure::SchemaUnusable { message: e.message });
            false
        }
    }
}

/// Checks finish reasons against the allowed set.
pub fn finish_reason_failures(
    got: &[(usize, Option<String>)],
    expect: &Expect,
    failures: &mut Vec<Failure>,
) {
    let Some(allowed) = &expect.finish_reason else {
        return;
    };
    let fail = |fault| Failure::FinishReason {
        allowed: allowed.clone(),
        fault,
    };
    if got.is_empty() {
        failures.push(fail(FinishFault::NoneCarried));
    }
    for (i, reason) in got {
        match reason {
            Some(r) if allowed.iter().any(|a| a == r) => {}
            Some(r) => failures.push(fail(FinishFault::Wrong {
                choice: *i,
                got: r.clone(),
            })),
            None => failures.push(fail(FinishFault::Missing { choice: *i })),
        }
    }
}

/// Checks the error code against the allowed set.
pub fn error_code_failures(error: Option<&ApiError>, expect: &Expect, failures: &mut Vec<Failure>) {
    let Some(allowed) = &expect.error_code else {
        return;
    };
    let got = error.and_then(|e| e.code.clone().or_else(|| e.r#type.clone()));
    if got.as_ref().is_some_and(|code| allowed.contains(code)) {
        return;
    }
    failures.push(Failure::ErrorCode {
        allowed: allowed.clone(),
        got,
    });
}
