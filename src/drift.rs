//! Canonical forms and diffs: what a response looks like once volatile values are masked, and how
//! it differs from the pinned fixture.
//!
//! Canonical JSON has sorted keys and two-space indentation, so a diff shows changed fields, not
//! reordered ones. Masking keeps a value's type visible (a masked string is still a string, a
//! `null` stays `null`), so a field that changes type still shows up as drift.

use serde_json::{Map, Value};
use similar::TextDiff;

use crate::sanitize::Sanitizer;

/// Most distinct stream frame shapes kept for the drift comparison.
pub const MAX_SHAPES: usize = 64;

/// Writes `value` as canonical JSON: sorted keys, two-space indent, a final newline.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, 0, &mut out);
    out.push('\n');
    out
}

fn write_canonical(value: &Value, depth: usize, out: &mut String) {
    let pad = |d: usize, out: &mut String| out.extend(std::iter::repeat_n("  ", d));
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                pad(depth + 1, out);
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(": ");
                write_canonical(&map[k.as_str()], depth + 1, out);
                if i + 1 < keys.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            pad(depth, out);
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                pad(depth + 1, out);
                write_canonical(v, depth + 1, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            pad(depth, out);
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Masks volatile values in a response body, in place: ids, timestamps, fingerprints, the echoed
/// model, generated text, token counts and request ids inside messages.
pub fn mask(value: &mut Value) {
    mask_in(value, false);
}

fn mask_in(value: &mut Value, in_usage: bool) {
    match value {
        Value::Object(map) => mask_object(map, in_usage),
        Value::Array(items) => items.iter_mut().for_each(|v| mask_in(v, in_usage)),
        Value::Number(_) if in_usage => *value = Value::String("[N]".into()),
        _ => {}
    }
}

fn mask_object(map: &mut Map<String, Value>, in_usage: bool) {
    for (key, v) in map.iter_mut() {
        let placeholder = match (key.as_str(), &*v) {
            ("id", Value::String(_)) => Some("[ID]"),
            ("created", Value::Number(_)) => Some("[CREATED]"),
            ("system_fingerprint", Value::String(_)) => Some("[FINGERPRINT]"),
            ("model", Value::String(_)) => Some("[MODEL]"),
            ("content" | "refusal" | "reasoning_content" | "arguments", Value::String(_)) => {
                Some("[TEXT]")
            }
            ("obfuscation", Value::String(_)) => Some("[OBFUSCATION]"),
            _ => None,
        };
        if let Some(p) = placeholder {
            *v = Value::String(p.into());
            continue;
        }
        if key == "message" {
            if let Value::String(s) = v {
                *s = Sanitizer::new().text(s);
                continue;
            }
        }
        mask_in(v, in_usage || key == "usage");
    }
}

/// Collects a stream's frames in a canonical, bounded form: each frame masked, consecutive frames
/// of the same shape collapsed into one.
#[derive(Debug, Clone, Default)]
pub struct StreamShape {
    shapes: Vec<Value>,
    /// The last frame's masked form, compared with the next one.
    last: Option<Value>,
    dropped: usize,
}

impl StreamShape {
    /// Adds a frame from its event name (if any) and raw data.
    pub fn push(&mut self, event: Option<&str>, data: &str) {
        match serde_json::from_str::<Value>(data) {
            Ok(json) => self.push_json(event, json),
            Err(_) => self.push_masked(event, Value::String(Sanitizer::new().text(data))),
        }
    }

    /// Adds a frame whose data already parsed; masks it in place (no copy, no re-parse).
    pub fn push_json(&mut self, event: Option<&str>, mut json: Value) {
        mask(&mut json);
        self.push_masked(event, json);
    }

    fn push_masked(&mut self, event: Option<&str>, mut v: Value) {
        if let Some(e) = event {
            v = serde_json::json!({ "event": e, "data": v });
        }
        if self.last.as_ref() == Some(&v) {
            return;
        }
        if self.shapes.len() < MAX_SHAPES {
            self.shapes.push(v.clone());
        } else {
            self.dropped += 1;
        }
        self.last = Some(v);
    }

    pub fn into_value(self) -> Value {
        let mut frames = self.shapes;
        if self.dropped > 0 {
            frames.push(Value::String(format!(
                "[{} more frame shapes]",
                self.dropped
            )));
        }
        Value::Array(frames)
    }
}

/// The canonical document compared for drift.
pub fn exchange_document(status: u16, content_type: Option<&str>, body: Value) -> Value {
    let essence =
        content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_ascii_lowercase());
    serde_json::json!({
        "status": status,
        "content_type": essence,
        "body": body,
    })
}

/// A unified diff of two canonical texts, or `None` when they are equal.
pub fn diff(
    pinned: &str,
    received: &str,
    pinned_name: &str,
    received_name: &str,
) -> Option<String> {
    if pinned == received {
        return None;
    }
    let diff = TextDiff::from_lines(pinned, received);
    Some(
        diff.unified_diff()
            .context_radius(3)
            .header(pinned_name, received_name)
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys() {
        let a = canonical(&json!({"b":1,"a":{"d":[1,{"z":0,"y":1}],"c":null}}));
        let b = canonical(&json!({"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}));
        assert_eq!(a, b);
        assert!(a.starts_with("{\n  \"a\""), "{a}");
    }

    #[test]
    fn masking_keeps_types() {
        let mut v = json!({"id":"chatcmpl-1","created":1,"model":"m-2026","choices":[{"message":{"content":"hi","role":"assistant"}}],
            "usage":{"prompt_tokens":3,"prompt_tokens_details":{"cached_tokens":0}},
            "error":{"message":"bad (request id: 123)"}});
        mask(&mut v);
        assert_eq!(v["id"], "[ID]");
        assert_eq!(v["choices"][0]["message"]["content"], "[TEXT]");
        assert_eq!(v["choices"][0]["message"]["role"], "assistant");
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], "[N]");
        assert_eq!(v["error"]["message"], "bad (request id: [REQUEST_ID])");
        let mut n = json!({"choices":[{"message":{"content":null}}]});
        mask(&mut n);
        assert_eq!(n["choices"][0]["message"]["content"], Value::Null);
    }

    #[test]
    fn stream_shapes_collapse_repeats() {
        let mut s = StreamShape::default();
        s.push(
            None,
            r#"{"id":"a","choices":[{"delta":{"role":"assistant"}}]}"#,
        );
        for t in ["He", "llo", "!"] {
            s.push(
                None,
                &format!(r#"{{"id":"a","choices":[{{"delta":{{"content":"{t}"}}}}]}}"#),
            );
        }
        s.push(None, "[DONE]");
        let v = s.into_value();
        assert_eq!(v.as_array().unwrap().len(), 3, "{v}");
    }

    #[test]
    fn diff_shows_changes() {
        assert!(diff("a\n", "a\n", "p", "r").is_none());
        let d = diff("a\nb\n", "a\nc\n", "pinned", "received").unwrap();
        assert!(
            d.contains("-b") && d.contains("+c") && d.contains("@@"),
            "{d}"
        );
    }
}
