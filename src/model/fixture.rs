//! Pinned, sanitized exchanges: `fixtures/<target>/<case>.json`.
//!
//! A fixture holds the request as it was sent (sanitized), the response (status, selected
//! headers, and a JSON body, a text body, or the stream's wire chunks with their delays) and a
//! provenance block that says where it came from.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::error::{ConfigError, Location};
use crate::util::bounded;

/// The most answers a fixture holds (retries, then a task's polls).
pub const MAX_RESPONSES: usize = 256;
/// The most stream chunks a fixture holds, over all its answers.
pub const MAX_CHUNKS: usize = 100_000;
/// The most frames one answer's chunks make once `repeat` is expanded.
pub const MAX_WIRE_FRAMES: usize = 1_000_000;
/// The most headers an answer holds.
pub const MAX_HEADERS: usize = 256;
/// The most documents a constructed fixture names as its basis.
pub const MAX_BASIS: usize = 64;

thread_local! {
    /// The chunks a fixture being read may still hold (see [`bounded::Budget`]).
    static CHUNKS_LEFT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn responses<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<FixtureResponse>>, D::Error> {
    bounded::seq(d, MAX_RESPONSES, "responses").map(Some)
}

fn chunks<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<WireChunk>>, D::Error> {
    bounded::shared_seq(d, &CHUNKS_LEFT, MAX_CHUNKS, "chunks").map(Some)
}

fn headers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    bounded::map(d, MAX_HEADERS, "headers")
}

fn basis<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    bounded::seq(d, MAX_BASIS, "basis documents")
}

/// Where a fixture came from. Nothing in this repository was recorded from CometAPI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Provenance {
    /// Captured from a running server by `llm-contract record`.
    Recorded {
        /// The server's product name, e.g. "LiteLLM proxy".
        server: String,
        version: String,
        /// RFC 3339 date or time of the recording.
        date: String,
        /// The base URL alias (never a secret-bearing URL).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        harness: Option<String>,
        /// The target it was recorded for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        /// The model the request asked for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        /// The digest of the sanitizing rules that were applied.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sanitizer: Option<String>,
    },
    /// Transcribed from an example in public documentation.
    Documented {
        /// The document (title and address) whose example this transcribes.
        source: String,
        /// When it was transcribed.
        date: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Written by hand from documented facts where no example body exists; says which facts.
    Constructed {
        /// The documents whose facts (status, envelope, fields) it follows.
        #[serde(deserialize_with = "basis")]
        basis: Vec<String>,
        date: String,
        note: String,
    },
}

impl Provenance {
    /// The date it was recorded or transcribed.
    pub fn date(&self) -> &str {
        match self {
            Provenance::Recorded { date, .. }
            | Provenance::Documented { date, .. }
            | Provenance::Constructed { date, .. } => date,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Provenance::Recorded { .. } => "recorded",
            Provenance::Documented { .. } => "documented",
            Provenance::Constructed { .. } => "constructed",
        }
    }
}

/// A JSON body as a fixture holds it: its text, checked to be JSON when the fixture is read and
/// made a tree only when a case compares with it or the recorded endpoint sends it. A thousand
/// fixtures held as trees cost megabytes and most of the time it took to read them.
#[derive(Clone)]
pub struct JsonText(Box<serde_json::value::RawValue>);

impl JsonText {
    /// The body as a tree.
    pub fn value(&self) -> Value {
        // Checked when it was read (or made from a tree): it parses.
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }

    /// The body's text, as it was in the fixture.
    pub fn text(&self) -> &str {
        self.0.get()
    }
}

/// The deepest a fixture's JSON body may nest: what serde_json reads (its recursion limit of
/// 128 stops a 128th level), so every body a fixture holds can be made a tree when it is
/// compared or replayed.
pub const MAX_BODY_DEPTH: usize = 127;

/// How deep a JSON text nests (`[` and `{` outside strings); read on its bytes, without a tree.
pub fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Reads a JSON document the way a `Value` does (numbers in range, every level), holding
/// nothing of it: what a fixture's body must pass to be made a tree later.
struct Readable;

impl<'de> Deserialize<'de> for Readable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Readable, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Readable;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Readable, E> {
                Ok(Readable)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Readable, E> {
                Ok(Readable)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Readable, E> {
                Ok(Readable)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Readable, E> {
                Ok(Readable)
            }
            fn visit_str<E>(self, _: &str) -> Result<Readable, E> {
                Ok(Readable)
            }
            fn visit_unit<E>(self) -> Result<Readable, E> {
                Ok(Readable)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Readable, A::Error> {
                while a.next_element::<Readable>()?.is_some() {}
                Ok(Readable)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Readable, A::Error> {
                while a.next_entry::<Readable, Readable>()?.is_some() {}
                Ok(Readable)
            }
        }
        d.deserialize_any(V)
    }
}

impl From<&Value> for JsonText {
    fn from(v: &Value) -> JsonText {
        let raw = serde_json::value::to_raw_value(v)
            .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned());
        JsonText(raw)
    }
}

impl std::fmt::Debug for JsonText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.get())
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &JsonText) -> bool {
        self.0.get() == other.0.get() || self.value() == other.value()
    }
}

impl Serialize for JsonText {
    /// As a tree, so a pretty-printed fixture is indented throughout.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<JsonText, D::Error> {
        Box::<serde_json::value::RawValue>::deserialize(d).map(JsonText)
    }
}

/// The request as it was sent, sanitized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureRequest {
    pub method: String,
    /// Below the base URL, e.g. `/chat/completions`.
    pub path: String,
    /// `[API_KEY]`, `[INVALID_KEY]`, or null when no Authorization header was sent.
    pub authorization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<JsonText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_body: Option<String>,
}

/// One piece of a stream as it went over the wire, after waiting `delay_ms` since the previous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireChunk {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delay_ms: u64,
    pub data: String,
    /// Send `data` this many times in a row (for large synthetic frames); default once.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub repeat: usize,
}

fn one() -> usize {
    1
}
fn is_one(n: &usize) -> bool {
    *n == 1
}
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How a response ended on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WireEnd {
    /// The body ended normally.
    #[default]
    Clean,
    /// The connection was reset after the last chunk, without the end of the body.
    Reset,
    /// The server went silent for `ms` after the last chunk, then reset.
    Stall { ms: u64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureResponse {
    /// The HTTP status (ignored when `reset_before_headers`).
    #[serde(default)]
    pub status: u16,
    /// Selected headers, names in lower case.
    #[serde(default, deserialize_with = "headers")]
    pub headers: BTreeMap<String, String>,
    /// A JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<JsonText>,
    /// A body that is not JSON (an HTML page, say), as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    /// A streamed body, chunk by chunk.
    #[serde(
        default,
        deserialize_with = "chunks",
        skip_serializing_if = "Option::is_none"
    )]
    pub chunks: Option<Vec<WireChunk>>,
    #[serde(default, skip_serializing_if = "is_clean")]
    pub end: WireEnd,
    /// Time before the response head was sent.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub head_delay_ms: u64,
    /// No response at all: the connection was reset before any header.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset_before_headers: bool,
    /// The request this response answers, when it is not the fixture's own `request`: a step
    /// that follows it (a task's poll, `GET /videos/<id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<FixtureRequest>,
    /// The case's step this response answers (`steps:`), by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

fn is_clean(e: &WireEnd) -> bool {
    *e == WireEnd::Clean
}

impl FixtureResponse {
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get("content-type").map(String::as_str)
    }

    /// The chunks with their delays, repeats expanded.
    pub fn wire(&self) -> Vec<(Duration, bytes::Bytes)> {
        let mut out = Vec::new();
        for c in self.chunks.iter().flatten() {
            let data = bytes::Bytes::from(c.data.clone());
            for i in 0..c.repeat.max(1) {
                let delay = if i == 0 { c.delay_ms } else { 0 };
                out.push((Duration::from_millis(delay), data.clone()));
            }
        }
        out
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let bodies = [
            self.body.is_some(),
            self.body_text.is_some(),
            self.chunks.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if bodies > 1 {
            return Err(ConfigError::new(
                Location::file(path),
                "a fixture response has one of `body`, `body_text` or `chunks`",
            ));
        }
        let frames = self
            .chunks
            .iter()
            .flatten()
            .fold(0usize, |n, c| n.saturating_add(c.repeat.max(1)));
        if frames > MAX_WIRE_FRAMES {
            return Err(ConfigError::new(
                Location::file(path),
                format!(
                    "a response's chunks make more than {MAX_WIRE_FRAMES} frames once `repeat` is expanded (the limit): {frames}"
                ),
            ));
        }
        if !self.reset_before_headers && !(100..600).contains(&self.status) {
            return Err(ConfigError::new(
                Location::file(path),
                format!("response status {} is not an HTTP status", self.status),
            ));
        }
        Ok(())
    }
}

/// A pinned exchange: one request and the answer to each attempt at it (one answer, or a
/// sequence when retries were part of the exchange: 503 then 200, say).
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    pub provenance: Provenance,
    pub request: FixtureRequest,
    /// The answers in the order they were given; later attempts get the last one.
    pub responses: Vec<FixtureResponse>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureDoc {
    provenance: Provenance,
    request: FixtureRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<FixtureResponse>,
    #[serde(
        default,
        deserialize_with = "responses",
        skip_serializing_if = "Option::is_none"
    )]
    responses: Option<Vec<FixtureResponse>>,
}

impl Serialize for Fixture {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (response, responses) = match self.responses.as_slice() {
            [one] => (Some(one.clone()), None),
            many => (None, Some(many.to_vec())),
        };
        FixtureDoc {
            provenance: self.provenance.clone(),
            request: self.request.clone(),
            response,
            responses,
        }
        .serialize(s)
    }
}

impl Fixture {
    /// The model the recorded request asked for: its JSON body's top-level `model`, when that is
    /// a string. Read without building the body's tree.
    pub fn recorded_model(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct Model {
            model: Option<Value>,
        }
        let body = self.request.body.as_ref()?;
        match serde_json::from_str::<Model>(body.text()).ok()?.model? {
            Value::String(m) => Some(m),
            _ => None,
        }
    }

    /// The answer to a case's `n`-th request (from 0): retries, then a task's polls, in order;
    /// past the last, the last. The one rule replay and drift both follow.
    pub fn nth(&self, n: usize) -> &FixtureResponse {
        &self.responses[n.min(self.responses.len() - 1)]
    }

    /// The answer to the final attempt: what drift is compared with.
    pub fn last(&self) -> &FixtureResponse {
        self.responses
            .last()
            .expect("a fixture has at least one response")
    }

    pub fn parse(path: &Path, text: &str) -> Result<Fixture, ConfigError> {
        // Entries are capped as they are read: a file under its size limit can hold millions.
        let budget = bounded::Budget::open(&CHUNKS_LEFT, MAX_CHUNKS);
        let doc: Result<FixtureDoc, _> = serde_json::from_str(text);
        drop(budget);
        let doc: FixtureDoc = doc.map_err(|e| {
            ConfigError::new(
                Location::at(path, e.line(), e.column()),
                format!("invalid fixture: {e}"),
            )
        })?;
        let responses = match (doc.response, doc.responses) {
            (Some(r), None) => vec![r],
            (None, Some(rs)) if !rs.is_empty() => rs,
            _ => {
                return Err(ConfigError::new(
                    Location::file(path),
                    "a fixture has either `response` or a non-empty `responses` list",
                ))
            }
        };
        for r in &responses {
            r.check(path)?;
        }
        // A body serde_json cannot make a tree of would be replayed and compared as `null`.
        let bodies = std::iter::once(&doc.request)
            .chain(responses.iter().filter_map(|r| r.request.as_ref()))
            .filter_map(|r| r.body.as_ref())
            .chain(responses.iter().filter_map(|r| r.body.as_ref()));
        for body in bodies {
            // Kept as text, a body is only skimmed when the fixture is read (a number past
            // what a float holds passes): read it as a tree would be, holding nothing. A body
            // that reads nests at most MAX_BODY_DEPTH levels (serde_json's recursion limit);
            // one that does not is measured, to say which of the two it is.
            if let Err(e) = serde_json::from_str::<Readable>(body.text()) {
                let depth = json_depth(body.text());
                let message = if depth > MAX_BODY_DEPTH {
                    format!(
                        "a body nests deeper than {MAX_BODY_DEPTH} levels ({depth}): it could not be replayed or compared"
                    )
                } else {
                    format!("a body could not be made a tree ({e}): it could not be replayed or compared")
                };
                return Err(ConfigError::new(Location::file(path), message));
            }
        }
        Ok(Fixture {
            provenance: doc.provenance,
            request: doc.request,
            responses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_at_the_depth_limit_makes_a_tree_and_one_past_it_is_refused() {
        let nested = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(json_depth(&nested(MAX_BODY_DEPTH)), MAX_BODY_DEPTH);
        assert_eq!(json_depth(r#"{"a":"[[[{{\"]]","b":[{}]}"#), 3);
        let at: JsonText = serde_json::from_str(&nested(MAX_BODY_DEPTH)).unwrap();
        assert_ne!(
            at.value(),
            Value::Null,
            "serde_json reads {MAX_BODY_DEPTH} levels"
        );
        let past: JsonText = serde_json::from_str(&nested(MAX_BODY_DEPTH + 1)).unwrap();
        assert_eq!(
            past.value(),
            Value::Null,
            "and not one more: the check is needed"
        );
        let fixture = |body: &str| {
            format!(
                r#"{{"provenance":{{"kind":"constructed","basis":[],"date":"d","note":"n"}},"request":{{"method":"POST","path":"/x","authorization":null}},"response":{{"status":200,"body":{body}}}}}"#
            )
        };
        assert!(Fixture::parse(Path::new("f.json"), &fixture(&nested(MAX_BODY_DEPTH))).is_ok());
        let e =
            Fixture::parse(Path::new("f.json"), &fixture(&nested(MAX_BODY_DEPTH + 1))).unwrap_err();
        assert!(e.message.contains("nests deeper than 127 levels"), "{e}");
        // A number past what a float holds passes the skim of a raw body, not a tree's reading.
        let e = Fixture::parse(Path::new("f.json"), &fixture(r#"{"n":[1e400]}"#)).unwrap_err();
        assert!(e.message.contains("number out of range"), "{e}");
        assert!(Fixture::parse(
            Path::new("f.json"),
            &fixture(r#"{"n":[1e300,-0,"\u00e9"]}"#)
        )
        .is_ok());
    }
}
