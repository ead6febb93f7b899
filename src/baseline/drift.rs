//! Canonical forms and diffs: what a response looks like once volatile values are masked, and how
//! it differs from the pinned fixture.
//!
//! Canonical JSON has sorted keys and two-space indentation, so a diff shows changed fields, not
//! reordered ones. Masking keeps a value's type visible (a masked string is still a string, a
//! `null` stays `null`), so a field that changes type still shows up as drift.

use serde_json::{Map, Value};
use similar::TextDiff;

use crate::baseline::redact;
use crate::baseline::sanitize::Sanitizer;
use crate::exchange::sse::{SseItem, SseParser};
use crate::exchange::transport;
use crate::judge::stream::FrameWatch;
use crate::model::drift::{DriftPolicy, Label, LabelKind};
use crate::model::fixture::FixtureResponse;
use crate::util::tape::{JsonRef, Tape};

/// Most distinct stream frame shapes kept for the drift comparison.
pub const MAX_SHAPES: usize = 64;

/// Writes `value` as canonical JSON: sorted keys, two-space indent, a final newline.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, 0, &mut out, usize::MAX);
    out.push('\n');
    out
}

/// [`canonical`], or `None` as soon as the text grows past `limit` bytes (it is never written
/// whole: a huge document costs no more than the limit).
pub fn canonical_within(value: &Value, limit: usize) -> Option<String> {
    let mut out = String::new();
    write_canonical(value, 0, &mut out, limit);
    (out.len() < limit).then(|| {
        out.push('\n');
        out
    })
}

/// Writes `value` at `depth`; stops early once `out` is `limit` bytes or more.
fn write_canonical(value: &Value, depth: usize, out: &mut String, limit: usize) {
    let pad = |d: usize, out: &mut String| out.extend(std::iter::repeat_n("  ", d));
    if out.len() >= limit {
        return;
    }
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                if out.len() >= limit {
                    return;
                }
                pad(depth + 1, out);
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(": ");
                write_canonical(&map[k.as_str()], depth + 1, out, limit);
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
                if out.len() >= limit {
                    return;
                }
                pad(depth + 1, out);
                write_canonical(v, depth + 1, out, limit);
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

/// Masks volatile values in a response body, in place: the compared column of the redaction table
/// ([`redact::VOLATILE`]: ids, timestamps, fingerprints, the echoed model, generated text), token
/// counts (every number below `usage`) and request ids inside messages.
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

/// The placeholder a masked value of `key` becomes, when it is one of the volatile ones (the
/// compared column of [`redact::VOLATILE`]).
fn placeholder(key: &str, v: &Value) -> Option<&'static str> {
    redact::rule(key)
        .filter(|r| r.compared.covers(v))
        .map(|r| r.placeholder)
}

fn mask_object(map: &mut Map<String, Value>, in_usage: bool) {
    for (key, v) in map.iter_mut() {
        if let Some(p) = placeholder(key, v) {
            *v = Value::String(p.into());
            continue;
        }
        if key == "message" {
            if let Value::String(s) = v {
                let clean = Sanitizer::new().text(s);
                *s = redact::ids_in_text(&clean).into_owned();
                continue;
            }
        }
        mask_in(v, in_usage || key == "usage");
    }
}

/// Whether two frames would be equal once masked, without masking them (no copy, no
/// allocation). `false` also where it cannot tell cheaply: a `message` string (masking sanitizes
/// it), keys in another order, a value whose type changed.
fn same_masked(a: JsonRef<'_>, b: JsonRef<'_>, in_usage: bool) -> bool {
    if a.is_object() {
        return b.is_object()
            && a.len() == b.len()
            && a.members().zip(b.members()).all(|((k, x), (kb, y))| {
                k == kb
                    && match (x.as_str(), y.as_str()) {
                        // Equal values mask alike (a `message` too); unequal ones only under a
                        // key that masks them to a placeholder.
                        (Some(x), Some(y)) => x == y || redact::compared_string(k).is_some(),
                        _ if x.is_number() && y.is_number() => {
                            x.scalar_eq(y)
                                || redact::compared_number(k).is_some()
                                || in_usage
                                || k == "usage"
                        }
                        _ if x.is_object() || x.is_array() => {
                            same_masked(x, y, in_usage || k == "usage")
                        }
                        _ => x.scalar_eq(y),
                    }
            });
    }
    if let Some(x) = a.as_array() {
        return b.as_array().is_some_and(|y| {
            x.len() == y.len() && x.zip(y).all(|(p, q)| same_masked(p, q, in_usage))
        });
    }
    if in_usage && a.is_number() && b.is_number() {
        return true;
    }
    a.scalar_eq(b)
}

/// Collects a stream's frames in a canonical, bounded form: each frame masked, consecutive frames
/// of the same shape collapsed into one.
#[derive(Debug, Clone, Default)]
pub struct StreamShape {
    shapes: Vec<Value>,
    /// The last frame's masked form.
    last: Option<Value>,
    dropped: usize,
    /// The frame `last` was masked from, unmasked, and its event name: the next frame is compared
    /// with it as it is (most frames of a long stream have the last one's shape).
    prev: Option<(Tape, Option<String>)>,
    /// Where [`StreamShape::push`] parses a frame.
    scratch: Tape,
}

impl StreamShape {
    /// Adds a frame from its event name (if any) and raw data.
    pub fn push(&mut self, event: Option<&str>, data: &str) {
        let mut tape = std::mem::take(&mut self.scratch);
        match tape.parse(data) {
            Ok(()) => {
                if tape.has_duplicate_keys() {
                    if let Ok(v) = serde_json::from_str::<Value>(data) {
                        tape.load_value(&v);
                    }
                }
                self.push_ref(event, tape.root());
            }
            Err(_) => {
                self.prev = None;
                self.push_masked(event, Value::String(Sanitizer::new().text(data)));
            }
        }
        self.scratch = tape;
    }

    /// Adds a parsed frame (with no repeated keys).
    pub fn push_ref(&mut self, event: Option<&str>, json: JsonRef<'_>) {
        if let Some((prev, prev_event)) = &self.prev {
            if prev_event.as_deref() == event && same_masked(prev.root(), json, false) {
                return;
            }
        }
        let mut v = json.to_value();
        mask(&mut v);
        self.push_masked(event, v);
        let (mut tape, mut name) = self.prev.take().unwrap_or_default();
        tape.copy_of(json);
        name.clone_from(&event.map(str::to_string));
        self.prev = Some((tape, name));
    }

    fn push_masked(&mut self, event: Option<&str>, mut v: Value) {
        if let Some(e) = event {
            let mut wrapped = Map::new();
            wrapped.insert("event".into(), Value::String(e.into()));
            wrapped.insert("data".into(), v);
            v = Value::Object(wrapped);
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

impl FrameWatch for StreamShape {
    fn json(&mut self, event: Option<&str>, doc: JsonRef<'_>) {
        self.push_ref(event, doc);
    }

    fn text(&mut self, event: Option<&str>, data: &str) {
        self.push(event, data);
    }
}

/// The canonical document compared for drift: status, content type (its essence), the names of
/// the allow-listed headers present, and the masked body.
pub fn exchange_document<'a>(
    status: u16,
    content_type: Option<&str>,
    headers: impl IntoIterator<Item = &'a str>,
    body: Value,
) -> Value {
    let essence =
        content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_ascii_lowercase());
    let mut names: Vec<String> = headers
        .into_iter()
        .map(str::to_ascii_lowercase)
        .filter(|h| {
            h != "content-type"
                && crate::baseline::sanitize::HEADER_RULES
                    .iter()
                    .any(|(n, _)| n == h)
        })
        .collect();
    names.sort();
    names.dedup();
    // Built by hand: `json!` would serialize `body` into a copy (and drop the original).
    let mut doc = Map::new();
    doc.insert("status".into(), Value::from(status));
    doc.insert(
        "content_type".into(),
        essence.map_or(Value::Null, Value::String),
    );
    doc.insert(
        "headers".into(),
        Value::Array(names.into_iter().map(Value::String).collect()),
    );
    doc.insert("body".into(), body);
    Value::Object(doc)
}

/// Most labels kept for one exchange.
pub const MAX_LABELS: usize = 50;

/// Most lines of a drift diff; the rest are counted, not shown.
pub const MAX_DIFF_LINES: usize = 200;

/// The largest canonical document a diff is made of (bytes). A larger one is labelled, not
/// diffed: a diff of two huge documents costs memory and time the labels already spent.
pub const MAX_DIFF_INPUT: usize = 1 << 20;

/// The labelled changes of an exchange: the first [`MAX_LABELS`], how many more there were, and
/// whether any change, kept or not, fails the policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labelled {
    pub labels: Vec<Label>,
    pub more: usize,
    pub fails: bool,
}

const ENUM_KEYS: &[&str] = &[
    "finish_reason",
    "object",
    "role",
    "type",
    "code",
    "event",
    "stop_reason",
    "status",
];

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

type Push<'a> = dyn FnMut(LabelKind, String, Option<String>, Option<String>) + 'a;

/// Labels every change from `pinned` to `received` (both from [`exchange_document`]); at most
/// [`MAX_LABELS`] of them.
#[cfg(test)]
pub fn labels(pinned: &Value, received: &Value, policy: &DriftPolicy) -> Vec<Label> {
    labelled(pinned, received, policy).labels
}

/// [`labels`], with the count of the changes left out and whether any change fails.
pub fn labelled(pinned: &Value, received: &Value, policy: &DriftPolicy) -> Labelled {
    let mut out = Labelled::default();
    let mut push = |kind: LabelKind, path: String, from: Option<String>, to: Option<String>| {
        let fails = policy.fail_on.contains(&kind);
        out.fails |= fails;
        if out.labels.len() < MAX_LABELS {
            out.labels.push(Label {
                kind,
                path,
                from,
                to,
                fails,
            });
        } else {
            out.more += 1;
        }
    };
    if pinned.get("status") != received.get("status") {
        push(
            LabelKind::StatusChanged,
            "/status".into(),
            pinned.get("status").map(short),
            received.get("status").map(short),
        );
    }
    if pinned.get("content_type") != received.get("content_type") {
        push(
            LabelKind::ContentTypeChanged,
            "/content_type".into(),
            pinned.get("content_type").map(short),
            received.get("content_type").map(short),
        );
    }
    let names = |d: &Value| -> Vec<String> {
        d.get("headers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (was, now) = (names(pinned), names(received));
    for h in now.iter().filter(|h| !was.contains(h)) {
        push(LabelKind::HeaderAdded, format!("/headers/{h}"), None, None);
    }
    for h in was.iter().filter(|h| !now.contains(h)) {
        push(
            LabelKind::HeaderRemoved,
            format!("/headers/{h}"),
            None,
            None,
        );
    }
    let null = Value::Null;
    let mut path = String::from("/body");
    walk(
        pinned.get("body").unwrap_or(&null),
        received.get("body").unwrap_or(&null),
        &mut path,
        "",
        &mut push,
    );
    out
}

/// Appends `/<k>` to a JSON pointer, escaping `~` and `/`.
fn push_segment(path: &mut String, k: &str) {
    path.push('/');
    if k.contains(['~', '/']) {
        path.push_str(&k.replace('~', "~0").replace('/', "~1"));
    } else {
        path.push_str(k);
    }
}

/// Compares two documents node by node. `path` is the pointer to the node (a buffer shared by the
/// whole walk, extended and cut back as it goes: equal nodes cost no allocation).
fn walk(a: &Value, b: &Value, path: &mut String, key: &str, push: &mut Push<'_>) {
    let len = path.len();
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                push_segment(path, k);
                match y.get(k) {
                    Some(vb) => walk(va, vb, path, k, push),
                    None => push(LabelKind::FieldRemoved, path.clone(), Some(short(va)), None),
                }
                path.truncate(len);
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    push_segment(path, k);
                    push(LabelKind::FieldAdded, path.clone(), None, Some(short(vb)));
                    path.truncate(len);
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            use std::fmt::Write;
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                let _ = write!(path, "/{i}");
                walk(va, vb, path, key, push);
                path.truncate(len);
            }
            for (i, vb) in y.iter().enumerate().skip(x.len()) {
                push(
                    LabelKind::FieldAdded,
                    format!("{path}/{i}"),
                    None,
                    Some(short(vb)),
                );
            }
            for (i, va) in x.iter().enumerate().skip(y.len()) {
                push(
                    LabelKind::FieldRemoved,
                    format!("{path}/{i}"),
                    Some(short(va)),
                    None,
                );
            }
        }
        _ if type_name(a) != type_name(b) => push(
            LabelKind::TypeChanged,
            path.clone(),
            Some(type_name(a).to_string()),
            Some(type_name(b).to_string()),
        ),
        _ if a != b => {
            let kind = if a.is_string() && ENUM_KEYS.contains(&key) {
                LabelKind::EnumChanged
            } else {
                LabelKind::ValueChanged
            };
            push(kind, path.clone(), Some(short(a)), Some(short(b)));
        }
        _ => {}
    }
}

/// A unified diff of two canonical texts, or `None` when they are equal: at most
/// [`MAX_DIFF_LINES`] lines, then a line saying how many were left out.
pub fn diff(
    pinned: &str,
    received: &str,
    pinned_name: &str,
    received_name: &str,
) -> Option<String> {
    use std::fmt::Write;
    if pinned == received {
        return None;
    }
    let diff = TextDiff::configure()
        .timeout(std::time::Duration::from_secs(2))
        .diff_lines(pinned, received);
    let mut unified = diff.unified_diff();
    unified.context_radius(3).header(pinned_name, received_name);
    let mut out = String::new();
    let (mut shown, mut left_out) = (0, 0usize);
    for (i, hunk) in unified.iter_hunks().enumerate() {
        if i == 0 {
            let _ = write!(out, "--- {pinned_name}\n+++ {received_name}\n");
            shown = 2;
        }
        if shown >= MAX_DIFF_LINES {
            left_out += 1 + hunk.iter_changes().count();
            continue;
        }
        for line in hunk.to_string().split_inclusive('\n') {
            if shown < MAX_DIFF_LINES {
                out.push_str(line);
                shown += 1;
            } else {
                left_out += 1;
            }
        }
    }
    if left_out > 0 {
        let _ = writeln!(
            out,
            "… {left_out} more diff lines left out (at most {MAX_DIFF_LINES} are shown)"
        );
    }
    Some(out)
}

/// A body as the drift document holds it: masked JSON, or sanitized text.
pub fn body_value(bytes: &[u8], sanitizer: &Sanitizer) -> Value {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut v) => {
            sanitizer.json(&mut v);
            mask(&mut v);
            v
        }
        Err(_) => {
            Value::String(sanitizer.text(&String::from_utf8_lossy(&bytes[..bytes.len().min(4096)])))
        }
    }
}

/// The pinned fixture's response in the same canonical form as a received one.
pub fn pinned_document(resp: &FixtureResponse) -> Value {
    let body = if let Some(chunks) = &resp.chunks {
        let mut parser = SseParser::new(transport::MAX_EVENT);
        let mut shape = StreamShape::default();
        for c in chunks {
            let _ = parser.push(c.data.as_bytes(), &mut |item| {
                if let SseItem::Event(ev) = item {
                    shape.push(ev.event.as_deref(), &ev.data);
                }
                true
            });
        }
        shape.into_value()
    } else if let Some(v) = &resp.body {
        let mut v = v.value();
        mask(&mut v);
        v
    } else {
        body_value(
            resp.body_text.as_deref().unwrap_or("").as_bytes(),
            &Sanitizer::new(),
        )
    };
    exchange_document(
        resp.status,
        resp.content_type(),
        resp.headers.keys().map(String::as_str),
        body,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn comparing_unmasked_frames_agrees_with_masking_them() {
        use serde_json::json;
        let frames = [
            json!({"id": "a", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": null}]}),
            json!({"id": "b", "created": 2, "model": "n", "choices": [{"index": 0, "delta": {"content": "yz"}, "finish_reason": null}]}),
            json!({"id": "b", "created": 2, "model": "n", "choices": [{"index": 0, "delta": {"content": 5}, "finish_reason": null}]}),
            json!({"id": "b", "created": 2, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}),
            json!({"id": "d", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 1}}),
            json!({"id": "d", "choices": [], "usage": {"prompt_tokens": "9", "completion_tokens": 1}}),
            json!({"error": {"message": "key rejected", "type": "x"}}),
            json!({"error": {"message": "key rejected", "type": "x"}}),
            json!({"event": "e", "data": {"id": "q"}}),
            json!({"id": "r", "object": "response", "created_at": 1, "completed_at": null}),
            json!({"id": "s", "object": "response", "created_at": 2, "completed_at": null}),
            json!({"id": "s", "object": "response", "created_at": "2", "completed_at": 3}),
            json!([1, 2]),
        ];
        for a in &frames {
            let mut masked = a.clone();
            super::mask(&mut masked);
            for b in &frames {
                let mut mb = b.clone();
                super::mask(&mut mb);
                let (mut ta, mut tb) = (Tape::default(), Tape::default());
                ta.load_value(a);
                tb.load_value(b);
                if super::same_masked(ta.root(), tb.root(), false) {
                    assert_eq!(masked, mb, "{a} vs {b}");
                } else if !b.to_string().contains("message") {
                    assert_ne!(masked, mb, "{a} vs {b}");
                }
            }
        }
        // Whole streams: the fast path keeps the same shapes as masking every frame.
        for event in [None, Some("e")] {
            let mut fast = super::StreamShape::default();
            let mut slow = super::StreamShape::default();
            for f in frames.iter().chain(frames.iter().rev()) {
                fast.push(event, &f.to_string());
                let mut m = f.clone();
                super::mask(&mut m);
                slow.push_masked(event, m);
            }
            assert_eq!(fast.into_value(), slow.into_value());
        }
    }

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

    fn doc(status: u16, ct: &str, headers: &[&str], body: Value) -> Value {
        exchange_document(status, Some(ct), headers.iter().copied(), body)
    }

    fn kinds(
        pinned: &Value,
        received: &Value,
        policy: &DriftPolicy,
    ) -> Vec<(LabelKind, String, bool)> {
        labels(pinned, received, policy)
            .into_iter()
            .map(|l| (l.kind, l.path, l.fails))
            .collect()
    }

    #[test]
    fn drift_scenarios_are_labelled_and_judged_by_policy() {
        use LabelKind::*;
        let base = json!({"object":"chat.completion","choices":[{"finish_reason":"stop","message":{"content":"[TEXT]","role":"assistant"}}],
            "usage":{"total_tokens":"[N]"}});
        let pinned = doc(200, "application/json", &["x-request-id"], base.clone());
        let default = DriftPolicy::default();
        let strict = DriftPolicy::strict();
        // Added field: reported, passes by default, fails when strict.
        let mut added = base.clone();
        added["service_tier"] = json!("default");
        let r = doc(200, "application/json", &["x-request-id"], added);
        assert_eq!(
            kinds(&pinned, &r, &default),
            vec![(FieldAdded, "/body/service_tier".into(), false)]
        );
        assert_eq!(
            kinds(&pinned, &r, &strict),
            vec![(FieldAdded, "/body/service_tier".into(), true)]
        );
        // Removed field fails.
        let mut removed = base.clone();
        removed.as_object_mut().unwrap().remove("usage");
        let r = doc(200, "application/json", &["x-request-id"], removed);
        assert_eq!(
            kinds(&pinned, &r, &default),
            vec![(FieldRemoved, "/body/usage".into(), true)]
        );
        // Type change fails.
        let mut typed = base.clone();
        typed["choices"][0]["message"]["content"] = Value::Null;
        let r = doc(200, "application/json", &["x-request-id"], typed);
        assert_eq!(
            kinds(&pinned, &r, &default),
            vec![(TypeChanged, "/body/choices/0/message/content".into(), true)]
        );
        // New finish_reason fails.
        let mut fr = base.clone();
        fr["choices"][0]["finish_reason"] = json!("content_filter");
        let r = doc(200, "application/json", &["x-request-id"], fr);
        let l = labels(&pinned, &r, &default);
        assert_eq!((l[0].kind, l[0].fails), (EnumChanged, true));
        assert_eq!(
            l[0].to_string(),
            "new enum value /body/choices/0/finish_reason: \"stop\" → \"content_filter\""
        );
        // 200 → 400 with an error body: status change fails (and the body changes are labelled).
        let r = doc(
            400,
            "application/json",
            &["x-request-id"],
            json!({"error":{"code":"invalid_request","message":"bad"}}),
        );
        let k = kinds(&pinned, &r, &default);
        assert_eq!(k[0], (StatusChanged, "/status".into(), true));
        // New error code fails.
        let e1 = doc(
            400,
            "application/json",
            &[],
            json!({"error":{"code":"invalid_request","type":"comet_api_error","message":"m"}}),
        );
        let e2 = doc(
            400,
            "application/json",
            &[],
            json!({"error":{"code":"bad_request","type":"comet_api_error","message":"m"}}),
        );
        assert_eq!(
            kinds(&e1, &e2, &default),
            vec![(EnumChanged, "/body/error/code".into(), true)]
        );
        // Content type change fails; a header removed is reported.
        let r = doc(200, "text/plain", &[], base.clone());
        assert_eq!(
            kinds(&pinned, &r, &default),
            vec![
                (ContentTypeChanged, "/content_type".into(), true),
                (HeaderRemoved, "/headers/x-request-id".into(), false)
            ]
        );
        // Nothing changed: no labels.
        assert!(labels(&pinned, &pinned, &strict).is_empty());
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
