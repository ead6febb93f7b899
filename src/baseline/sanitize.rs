//! Secrets and per-request identifiers become named placeholders before anything is printed or
//! persisted.
//!
//! Every outcome the runner produces passes through one [`Sanitizer`], so the terminal, the
//! reports and (later) the fixtures show `[API_KEY]` where a key was and `[REQUEST_ID]` where a
//! gateway put a request id. Known key values are removed by value wherever they appear; shapes
//! that look like credentials (bearer tokens, `sk-` keys) are removed by pattern.

use std::sync::OnceLock;

use regex::Regex;

use crate::baseline::redact::{self, Mask, VOLATILE};
use crate::context::Secret;
use crate::model::outcome::CaseOutcome;
use crate::model::plan::ExtraRule;
use crate::model::plan::INVALID_TOKEN;

/// The key sent to the recorded endpoint for `auth: valid` cases; no real key is ever needed
/// offline.
pub const REPLAY_KEY: &str = "llm-contract-replay-key";

/// Shorter secrets are not removed by value (removing every "abc" would wreck a report); the
/// scanner still looks for them, so a fixture carrying one is refused (recording fails closed).
pub const MIN_SECRET: usize = 8;
/// The scanner looks for known secrets from this length on.
pub const MIN_SCANNED_SECRET: usize = 4;

pub const API_KEY: &str = "[API_KEY]";
pub const INVALID_KEY: &str = "[INVALID_KEY]";
pub const REQUEST_ID: &str = "[REQUEST_ID]";

struct Patterns {
    request_id: Regex,
    bearer: Regex,
    sk_key: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        // CometAPI (and one-api derived gateways) put "(request id: XXXX)" into error.message.
        request_id: Regex::new(r"(?i)\(request id: [^)]*\)").expect("valid regex"),
        bearer: Regex::new(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]{8,}").expect("valid regex"),
        sk_key: Regex::new(r"\bsk-[A-Za-z0-9_\-]{16,}").expect("valid regex"),
    })
}

/// Removes secrets and per-request identifiers from text.
#[derive(Clone, Default)]
pub struct Sanitizer {
    /// Known secret values, longest first so a key that contains another is removed whole.
    secrets: Vec<String>,
    /// Base URLs and the placeholder that stands for each (`[BASE_URL:<target>]`).
    aliases: Vec<(String, String)>,
}

impl std::fmt::Debug for Sanitizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sanitizer({} secrets)", self.secrets.len())
    }
}

impl Sanitizer {
    pub fn new() -> Self {
        Sanitizer::default()
    }

 #[cfg(test)]
    /// Adds a secret to remove by value. Very short values are ignored: removing every "a" from
    /// a report would destroy it and protect nothing.
    pub fn with_secret(mut self, secret: &Secret) -> Self {
        self.add_secret(secret);
        self
    }

    pub fn add_secret(&mut self, secret: &Secret) {
        let value = secret.expose();
        if value.len() >= MIN_SECRET && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_string());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Replaces a live base URL by its target's name wherever it appears (a transport error
    /// names the URL it could not reach): a base URL may carry a tenant, a deployment or a key,
    /// and reports refer to it by its alias only.
    ///
    /// A base URL with a query (`?api-version=…`, a tenant, even a key) is sent as its path, the
    /// request's own, then the query: the part before the query and the query are replaced
    /// each on their own too.
    pub fn add_alias(&mut self, base_url: &str, target: &str) {
        let url = base_url.split('#').next().unwrap_or("").trim_end_matches('/');
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        for (text, alias) in [
            (url, format!("[BASE_URL:{target}]")),
            (base.trim_end_matches('/'), format!("[BASE_URL:{target}]")),
            (query, format!("[BASE_URL_QUERY:{target}]")),
        ] {
            if text.len() >= MIN_SECRET && !self.aliases.iter().any(|(u, _)| u == text) {
                self.aliases.push((text.to_string(), alias));
            }
        }
        self.aliases
            .sort_by_key(|(u, _)| std::cmp::Reverse(u.len()));
    }

    /// Sanitizes a piece of text.
    pub fn text(&self, input: &str) -> String {
        self.clean(input).into_owned()
    }

    /// [`Sanitizer::text`] without a copy of text it leaves as it is (most of what a run
    /// produces): `Cow::Owned` only where something was replaced.
    /// Runs every text an outcome carries through [`Sanitizer::clean`]. The runner calls this
    /// before an outcome leaves it, so nothing downstream can print or persist a secret; only a
    /// text that changes is replaced.
    pub fn outcome(&self, mut o: CaseOutcome) -> CaseOutcome {
        o.texts_mut(&mut |v: &mut String| {
            if let std::borrow::Cow::Owned(clean) = self.clean(v) {
                *v = clean;
            }
        });
        o
    }

    pub fn clean<'a>(&self, input: &'a str) -> std::borrow::Cow<'a, str> {
        use std::borrow::Cow;
        // Every secret and base URL has at least MIN_SECRET bytes, and each pattern needs more:
        // nothing shorter can change.
        if input.len() < MIN_SECRET {
            return Cow::Borrowed(input);
        }
        let mut out = Cow::Borrowed(input);
        for (url, alias) in &self.aliases {
            if out.contains(url.as_str()) {
                out = Cow::Owned(out.replace(url.as_str(), alias));
            }
        }
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), API_KEY));
            }
        }
        let p = patterns();
        if p.request_id.is_match(&out) {
            out = Cow::Owned(
                p.request_id
                    .replace_all(&out, format!("(request id: {REQUEST_ID})").as_str())
                    .into_owned(),
            );
        }
        if p.bearer.is_match(&out) {
            out = Cow::Owned(
                p.bearer
                    .replace_all(&out, format!("Bearer {API_KEY}").as_str())
                    .into_owned(),
            );
        }
        if p.sk_key.is_match(&out) {
            out = Cow::Owned(p.sk_key.replace_all(&out, API_KEY).into_owned());
        }
        out
    }

    /// A value taken from an answer at `pointer`, as the answer's fixture holds it: masked as a
    /// field of that name would be (a tool call's `id` as `call_[ID]`), so a step that sends it
    /// back records (and replays) the same text.
    pub fn value_at(
        &self,
        pointer: &str,
        value: &serde_json::Value,
        extra: &[ExtraRule],
    ) -> serde_json::Value {
        let key = pointer.rsplit('/').next().unwrap_or("");
        let key = key.replace("~1", "/").replace("~0", "~");
        let mut doc = serde_json::json!({});
        doc[key.as_str()] = value.clone();
        self.fixture_json(&mut doc, extra);
        doc.get(key.as_str()).cloned().unwrap_or_default()
    }

    /// Sanitizes every string (keys and values) inside a JSON value, in place.
    pub fn json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        use std::borrow::Cow;
        match value {
            Value::String(s) => {
                if let Cow::Owned(clean) = self.clean(s) {
                    if clean != *s {
                        *s = clean;
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            Value::Object(map) => {
                let needs_key_fix = map
                    .keys()
                    .any(|k| matches!(self.clean(k), Cow::Owned(c) if c != *k));
                if needs_key_fix {
                    let old = std::mem::take(map);
                    for (k, v) in old {
                        map.insert(self.text(&k), v);
                    }
                }
                map.values_mut().for_each(|v| self.json(v));
            }
            _ => {}
        }
    }

    /// What an Authorization header value stands for, as a fixture records it.
    pub fn auth_placeholder(header: Option<&str>) -> Option<&'static str> {
        let value = header?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim();
        Some(if token == INVALID_TOKEN {
            INVALID_KEY
        } else {
            API_KEY
        })
    }
}

/// Response headers a fixture keeps, and what their values become. Everything else is dropped.
pub const HEADER_RULES: &[(&str, Option<&str>)] = &[
    ("content-type", None),
    ("retry-after", None),
    ("retry-after-ms", None),
    ("x-request-id", Some(REQUEST_ID)),
    ("request-id", Some(REQUEST_ID)),
    ("x-amzn-requestid", Some(REQUEST_ID)),
    ("cf-ray", Some(REQUEST_ID)),
    ("openai-organization", Some("[ORGANIZATION]")),
    ("openai-project", Some("[PROJECT]")),
    ("openai-processing-ms", Some("[N]")),
    ("openai-version", None),
    ("x-ratelimit-limit-requests", Some("[N]")),
    ("x-ratelimit-remaining-requests", Some("[N]")),
    ("x-ratelimit-reset-requests", Some("[DURATION]")),
    ("x-ratelimit-limit-tokens", Some("[N]")),
    ("x-ratelimit-remaining-tokens", Some("[N]")),
    ("x-ratelimit-reset-tokens", Some("[DURATION]")),
    ("x-litellm-version", None),
    ("server", None),
    ("set-cookie", Some("[COOKIE]")),
];

/// Placeholder for an `id` value: `chatcmpl-[ID]` keeps the kind of id, drops the id.
pub fn id_placeholder(value: &str) -> String {
    let prefix_len = value
        .find(['-', '_'])
        .filter(|i| *i > 0 && *i <= 12 && value[..*i].chars().all(|c| c.is_ascii_alphanumeric()))
        .map_or(0, |i| i + 1);
    format!("{}{}", &value[..prefix_len], redact::ID)
}

impl Sanitizer {
    /// Sanitizes a body or frame for a fixture: secrets and request ids (as [`Sanitizer::json`]),
    /// then the volatile keys' stored placeholders ([`redact::VOLATILE`]: ids, timestamps,
    /// fingerprints, organisation and project ids), then the target's own rules.
    pub fn fixture_json(&self, value: &mut serde_json::Value, extra: &[ExtraRule]) {
        self.json(value);
        placeholders(value);
        for rule in extra {
            if let Some(p) = &rule.pointer {
                if let Some(v) = value.pointer_mut(p) {
                    *v = serde_json::Value::String(rule.placeholder.clone());
                }
            }
        }
        if extra.iter().any(|r| r.regex.is_some()) {
            self.json_with(value, &|t| apply_regex_rules(t, extra));
        }
    }

    /// Sanitizes text for a fixture: [`Sanitizer::text`] plus the target's regex rules.
    pub fn fixture_text(&self, text: &str, extra: &[ExtraRule]) -> String {
        apply_regex_rules(&self.text(text), extra)
    }

    fn json_with(&self, value: &mut serde_json::Value, f: &dyn Fn(&str) -> String) {
        use serde_json::Value;
        match value {
            Value::String(s) => *s = f(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.json_with(v, f)),
            Value::Object(map) => map.values_mut().for_each(|v| self.json_with(v, f)),
            _ => {}
        }
    }

    /// A fixture's header value, or `None` when the header is not kept.
    pub fn header(&self, name: &str, value: &str) -> Option<String> {
        let lower = name.to_ascii_lowercase();
        let (_, rule) = HEADER_RULES.iter().find(|(n, _)| *n == lower)?;
        Some(match rule {
            Some(placeholder) => (*placeholder).to_string(),
            None => self.text(value),
        })
    }

    /// A stable digest of the sanitizing rules in force (built-in and the target's), for a
    /// fixture's provenance: a changed digest means fixtures were sanitized differently.
    pub fn rules_hash(extra: &[ExtraRule]) -> String {
        let mut text = String::from("llm-contract-sanitizer-v1\n");
        for (h, r) in HEADER_RULES {
            text.push_str(&format!("header {h} {r:?}\n"));
        }
        // The stored column of the redaction table: placeholders first, then the id kinds.
        let stored = |m: Mask| VOLATILE.iter().filter(move |r| r.stored == m);
        for r in stored(Mask::Scalars) {
            text.push_str(&format!("key {} {}\n", r.key, r.placeholder));
        }
        for m in [Mask::Strings, Mask::Numbers] {
            for r in stored(m) {
                text.push_str(&format!("key {} {} {m:?}\n", r.key, r.placeholder));
            }
        }
        for r in stored(Mask::IdKind) {
            text.push_str(&format!("key {} [prefix]{}\n", r.key, r.placeholder));
        }
        for r in stored(Mask::IdsInText) {
            text.push_str(&format!("key {} ids [prefix]{}\n", r.key, r.placeholder));
        }
        text.push_str("pattern request-id bearer sk-key\n");
        for r in extra {
            text.push_str(&format!(
                "extra {:?} {:?} {}\n",
                r.regex, r.pointer, r.placeholder
            ));
        }
        // FNV-1a, 64 bits: a fingerprint, not a security measure.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("fnv1a64:{h:016x}")
    }
}

fn apply_regex_rules(text: &str, extra: &[ExtraRule]) -> String {
    let mut out = text.to_string();
    for r in extra {
        if let Some(re) = r.regex.as_deref().and_then(|p| Regex::new(p).ok()) {
            out = re.replace_all(&out, r.placeholder.as_str()).into_owned();
        }
    }
    out
}

/// Replaces the values of the volatile keys by their stored placeholders ([`redact::VOLATILE`]),
/// at any depth.
fn placeholders(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Array(items) => items.iter_mut().for_each(placeholders),
        Value::Object(map) => {
            // A model object's `id` is the model's name (GET /models), not a volatile id.
            let a_model = map.get("object").and_then(Value::as_str) == Some("model");
            for (k, v) in map.iter_mut() {
                if a_model && k == "id" {
                    continue;
                }
                match (redact::rule(k), &mut *v) {
                    (Some(r), Value::String(s)) if r.stored == Mask::IdsInText => {
                        if let std::borrow::Cow::Owned(o) = redact::ids_in_text(s) {
                            *s = o;
                        }
                    }
                    (Some(r), v) if r.stored.covers(v) => {
                        *v = Value::String(match (r.stored, &*v) {
                            (Mask::IdKind, Value::String(s)) => id_placeholder(s),
                            _ => r.placeholder.to_string(),
                        });
                    }
                    (_, v) => placeholders(v),
                }
            }
        }
        _ => {}
    }
}

/// Turns the numeric placeholders of a sanitized body back into numbers, for replay.
pub fn rehydrate(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) if s == redact::CREATED || s == redact::TIMESTAMP => {
            *value = Value::from(1_700_000_000u64)
        }
        Value::Array(items) => items.iter_mut().for_each(rehydrate),
        Value::Object(map) => map.values_mut().for_each(rehydrate),
        _ => {}
    }
}

/// The same for raw stream text ([`redact::CREATED`] and [`redact::TIMESTAMP`], quoted).
pub fn rehydrate_text(text: &str) -> String {
    text.replace("\"[CREATED]\"", "1700000000")
        .replace("\"[TIMESTAMP]\"", "1700000000")
}

/// Something that looks like a secret, found by [`scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// 1-based line.
    pub line: usize,
    /// What kind of secret: "known key", "bearer token", "sk- key", "cookie".
    pub kind: &'static str,
    /// The match with its middle masked, safe to print.
    pub masked: String,
}

fn mask_middle(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}…{tail} ({} chars)", chars.len())
}

struct ScanPatterns {
    bearer: Regex,
    sk: Regex,
    cookie: Regex,
}

fn scan_patterns() -> &'static ScanPatterns {
    static P: OnceLock<ScanPatterns> = OnceLock::new();
    P.get_or_init(|| ScanPatterns {
        bearer: Regex::new(r"(?i)\bbearer\s+([A-Za-z0-9._~+/=\-]{16,})").expect("valid regex"),
        sk: Regex::new(r"\bsk-[A-Za-z0-9_\-]{16,}").expect("valid regex"),
        cookie: Regex::new(r#"(?i)\b(set-cookie|cookie)"?\s*[:=]\s*"?([^"\s;,]{8,})"#)
            .expect("valid regex"),
    })
}

/// Looks through text for anything that looks like a secret: the known key values (by value),
/// bearer tokens, `sk-` style keys, cookies. Placeholders such as `[API_KEY]` never match.
pub fn scan(text: &str, known: &[Secret]) -> Vec<Hit> {
    let p = scan_patterns();
    let mut hits = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for k in known {
            let v = k.expose();
            if v.len() >= MIN_SCANNED_SECRET && line.contains(v) {
                hits.push(Hit {
                    line: i + 1,
                    kind: "known key",
                    masked: mask_middle(v),
                });
            }
        }
        for m in p.bearer.captures_iter(line) {
            let token = &m[1];
            if !token.starts_with('[') {
                hits.push(Hit {
                    line: i + 1,
                    kind: "bearer token",
                    masked: mask_middle(token),
                });
            }
        }
        for m in p.sk.find_iter(line) {
            hits.push(Hit {
                line: i + 1,
                kind: "sk- key",
                masked: mask_middle(m.as_str()),
            });
        }
        for m in p.cookie.captures_iter(line) {
            let value = &m[2];
            if !value.starts_with('[') {
                hits.push(Hit {
                    line: i + 1,
                    kind: "cookie",
                    masked: mask_middle(value),
                });
            }
        }
    }
    hits
}

/// Secrets no single stream frame holds but the stream's text does: a key sent in two deltas
/// (`sk-ab` then `cdef…`) passes the sanitizer and [`scan`] frame by frame. Every string a frame's
/// JSON holds is appended to the text of its place (`/choices/0/delta/content`, `/delta/text`,
/// …) over the whole stream, frames that are not JSON to one text of their own, and each text
/// is scanned whole. A hit's `line` is 0: it is in no one line of the file.
pub fn scan_reassembled(chunks: &[crate::model::fixture::WireChunk], known: &[Secret]) -> Vec<Hit> {
    type Texts = std::collections::HashMap<String, String>;
    fn leaves(v: &serde_json::Value, path: &mut String, texts: &mut Texts) {
        match v {
            serde_json::Value::String(s) => match texts.get_mut(path.as_str()) {
                Some(t) => t.push_str(s),
                None => {
                    texts.insert(path.clone(), s.clone());
                }
            },
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    leaves(item, path, texts);
                    path.truncate(len);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    let len = path.len();
                    path.push('/');
                    path.push_str(k);
                    leaves(item, path, texts);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    // The text of each place; frames that are not JSON under a name no pointer can have.
    let mut texts = Texts::new();
    for chunk in chunks {
        for line in chunk.data.split(['\n', '\r']) {
            let Some(payload) = line.strip_prefix("data:").map(str::trim_start) else {
                continue;
            };
            match serde_json::from_str::<serde_json::Value>(payload) {
                Ok(v) => leaves(&v, &mut String::new(), &mut texts),
                Err(_) => leaves(
                    &serde_json::Value::String(payload.to_string()),
                    &mut "#text".to_string(),
                    &mut texts,
                ),
            }
        }
    }
    let mut hits = Vec::new();
    for text in texts.values() {
        for h in scan(text, known) {
            hits.push(Hit {
                line: 0,
                kind: match h.kind {
                    "known key" => "known key, split across stream frames",
                    "bearer token" => "bearer token, split across stream frames",
                    "sk- key" => "sk- key, split across stream frames",
                    _ => "cookie, split across stream frames",
                },
                masked: h.masked,
            });
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_in_two_deltas_is_found_in_the_reassembled_text() {
        use crate::model::fixture::WireChunk;
        let key = "canary-split-0123456789";
        let frame = |text: &str| WireChunk {
            delay_ms: 0,
            data: format!(
                "data: {}\n\n",
                serde_json::json!({"choices": [{"delta": {"content": text}}], "id": "x"})
            ),
            repeat: 1,
        };
        let known = [Secret::new(key)];
        let chunks = [frame("key: canary-spl"), frame("it-0123456789 ok"), frame("")];
        assert!(scan(&serde_json::to_string(&chunks).unwrap(), &known).is_empty());
        let hits = scan_reassembled(&chunks, &known);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].kind, "known key, split across stream frames");
        assert!(!hits[0].masked.contains("0123456789"), "{hits:?}");
        // Frames that are not JSON are joined too; other places are not joined with content.
        let sk = format!("sk-{}", "abcdefghijklmnopqrstu");
        let raw = [
            WireChunk { delay_ms: 0, data: format!("data: {}\n\n", &sk[..5]), repeat: 1 },
            WireChunk { delay_ms: 0, data: format!("data: {}\n\n", &sk[5..]), repeat: 1 },
        ];
        assert_eq!(scan_reassembled(&raw, &[])[0].kind, "sk- key, split across stream frames");
        let apart = [frame("sk-abcdefgh"), WireChunk { delay_ms: 0, data: "data: {\"id\":\"ijklmnopqrstu\"}\n\n".into(), repeat: 1 }];
        assert!(scan_reassembled(&apart, &[]).is_empty());
    }

    #[test]
    fn removes_known_key_request_ids_and_key_shapes() {
        let s = Sanitizer::new().with_secret(&Secret::new("canary-key-0123456789"));
        // Key-shaped test values are built at run time: no literal key sits in the source.
        let sk = format!("sk-{}", "abcdefghijklmnopqrstu");
        let bearer = format!("Bearer {}", "abcdefghijkl");
        let out = s.text(&format!(
            "bad key canary-key-0123456789 (request id: 2026112112345) Authorization: {bearer} {sk}"
        ));
        assert!(!out.contains("canary"), "{out}");
        assert!(out.contains("(request id: [REQUEST_ID])"), "{out}");
        assert!(out.contains("Bearer [API_KEY]"), "{out}");
        assert!(!out.contains("sk-abcdefghijklmnop"), "{out}");
    }

    #[test]
    fn sanitizes_json_keys_and_values() {
        let s = Sanitizer::new().with_secret(&Secret::new("canary-key-0123456789"));
        let mut v = serde_json::json!({"canary-key-0123456789": ["x canary-key-0123456789"]});
        s.json(&mut v);
        assert_eq!(v, serde_json::json!({"[API_KEY]": ["x [API_KEY]"]}));
    }

    #[test]
    fn fixture_placeholders_keep_id_kinds_and_types_for_replay() {
        let s = Sanitizer::new();
        let mut v = serde_json::json!({"id":"chatcmpl-AbC123","created":1774412483,"system_fingerprint":"fp_1",
            "choices":[{"message":{"tool_calls":[{"id":"call_xyz"}]}}],"usage":{"latency_checkpoint":3}});
        let extra = [ExtraRule {
            regex: None,
            pointer: Some("/usage/latency_checkpoint".into()),
            placeholder: "[N]".into(),
        }];
        s.fixture_json(&mut v, &extra);
        assert_eq!(v["id"], "chatcmpl-[ID]");
        assert_eq!(
            v["choices"][0]["message"]["tool_calls"][0]["id"],
            "call_[ID]"
        );
        assert_eq!(v["created"], "[CREATED]");
        assert_eq!(v["system_fingerprint"], "[FINGERPRINT]");
        assert_eq!(v["usage"]["latency_checkpoint"], "[N]");
        rehydrate(&mut v);
        assert_eq!(v["created"], 1_700_000_000u64);
        assert_eq!(
            s.header("X-Request-Id", "abc"),
            Some(REQUEST_ID.to_string())
        );
        assert_eq!(s.header("date", "today"), None);
        assert_ne!(Sanitizer::rules_hash(&[]), Sanitizer::rules_hash(&extra));
        let by_regex = [ExtraRule {
            regex: Some(r"tenant-[0-9]+".into()),
            pointer: None,
            placeholder: "[TENANT]".into(),
        }];
        let mut t = serde_json::json!({"error": {"message": "quota of tenant-4711 exceeded"}});
        s.fixture_json(&mut t, &by_regex);
        assert_eq!(t["error"]["message"], "quota of [TENANT] exceeded");
        assert_eq!(s.fixture_text("see tenant-9", &by_regex), "see [TENANT]");
    }

    #[test]
    fn the_rules_digest_is_the_one_recorded_fixtures_carry() {
        // fixtures/*/*.json record this digest in their provenance: a change to the stored column
        // of the redaction table (or to the header rules) must change it, a refactoring must not.
        assert_eq!(Sanitizer::rules_hash(&[]), "fnv1a64:6a033238fb5ede64");
        let extra = [ExtraRule {
            regex: Some("x".into()),
            pointer: Some("/a".into()),
            placeholder: "[X]".into(),
        }];
        assert_eq!(Sanitizer::rules_hash(&extra), "fnv1a64:0bae2122a0b61b98");
    }

    #[test]
    fn fixture_placeholders_follow_the_stored_column() {
        let mut v = serde_json::json!({"id": 7, "user": 42, "project": null, "model": "m-1",
            "created_at": "2026", "organization": {"id": "org-abc", "name": "n"},
            "choices": [{"message": {"content": "hi", "id": "msg_01"}}], "expires_at": true});
        Sanitizer::new().fixture_json(&mut v, &[]);
        assert_eq!(
            v,
            serde_json::json!({"id": 7, "user": "[USER]", "project": null, "model": "m-1",
                "created_at": "[TIMESTAMP]", "organization": {"id": "org-[ID]", "name": "n"},
                "choices": [{"message": {"content": "hi", "id": "msg_[ID]"}}], "expires_at": true})
        );
    }

    #[test]
    fn the_scanner_finds_secrets_but_not_placeholders() {
        let known = [Secret::new("abc12")];
        // Key-shaped test values are built at run time: no literal key sits in the source.
        let (bearer, sk) = (
            format!("Bearer {}", "abcdefghijklmnopqrstuvwxyz"),
            format!("sk-{}", "abcdefghijklmnopqrstuv"),
        );
        let text = format!("ok [API_KEY]\nAuthorization: Bearer [API_KEY]\nkey abc12 here\n{bearer}\nx {sk}\nset-cookie: session=0123456789abcdef\nset-cookie: [COOKIE]");
        let hits = scan(&text, &known);
        let kinds: Vec<(usize, &str)> = hits.iter().map(|h| (h.line, h.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                (3, "known key"),
                (4, "bearer token"),
                (5, "sk- key"),
                (6, "cookie")
            ]
        );
        assert!(hits.iter().all(|h| !h.masked.contains("abcdefghijklmnop")));
    }

    #[test]
    fn base_urls_become_their_alias() {
        let mut s = Sanitizer::new();
        s.add_alias("https://tenant-7.example.invalid/v1/", "gw");
        assert_eq!(
            s.text("error sending request for url (https://tenant-7.example.invalid/v1/chat/completions)"),
            "error sending request for url ([BASE_URL:gw]/chat/completions)"
        );
    }

    #[test]
    fn short_secrets_are_not_used_as_patterns() {
        let s = Sanitizer::new().with_secret(&Secret::new("a"));
        assert_eq!(s.text("banana"), "banana");
    }

    #[test]
    fn auth_placeholders() {
        assert_eq!(Sanitizer::auth_placeholder(None), None);
        assert_eq!(
            Sanitizer::auth_placeholder(Some("Bearer llm-contract-invalid-token")),
            Some(INVALID_KEY)
        );
        assert_eq!(
            Sanitizer::auth_placeholder(Some("Bearer whatever")),
            Some(API_KEY)
        );
    }

    #[test]
    fn a_model_keeps_its_id() {
        // GET /models: a model's id is its name; the listing's other ids are still masked.
        let mut v = serde_json::json!({"object": "list", "id": "list_1", "data": [
            {"id": "gpt-4o-mini", "object": "model", "created": 1, "owned_by": "openai"},
            {"id": "emb-1", "object": "embedding"}]});
        Sanitizer::new().fixture_json(&mut v, &[]);
        assert_eq!(v["data"][0]["id"], "gpt-4o-mini");
        assert_eq!(v["data"][0]["created"], "[CREATED]");
        assert_eq!(v["data"][1]["id"], "emb-[ID]");
        assert_eq!(v["id"], "list_[ID]");
    }
}
