//! Secrets and per-request identifiers become named placeholders before anything is printed or
//! persisted.
//!
//! Every outcome the runner produces passes through one [`Sanitizer`], so the terminal, the
//! reports and (later) the fixtures show `[API_KEY]` where a key was and `[REQUEST_ID]` where a
//! gateway put a request id. Known key values are removed by value wherever they appear; shapes
//! that look like credentials (bearer tokens, `sk-` keys) are removed by pattern.

use std::sync::OnceLock;

use regex::Regex;

use crate::context::Secret;

/// The token sent by `auth: invalid` cases. It is deliberately not a secret.
pub const INVALID_TOKEN: &str = "llm-contract-invalid-token";
/// The key sent to the recorded endpoint for `auth: valid` cases; no real key is ever needed
/// offline.
pub const REPLAY_KEY: &str = "llm-contract-replay-key";

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

    /// Adds a secret to remove by value. Very short values are ignored: removing every "a" from
    /// a report would destroy it and protect nothing.
    pub fn with_secret(mut self, secret: &Secret) -> Self {
        self.add_secret(secret);
        self
    }

    pub fn add_secret(&mut self, secret: &Secret) {
        let value = secret.expose();
        if value.len() >= 6 && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_string());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Replaces a live base URL by its target's name wherever it appears (a transport error
    /// names the URL it could not reach): a base URL may carry a tenant, a deployment or a key,
    /// and reports refer to it by its alias only.
    pub fn add_alias(&mut self, base_url: &str, target: &str) {
        let url = base_url.trim_end_matches('/');
        if url.len() >= 8 && !self.aliases.iter().any(|(u, _)| u == url) {
            self.aliases
                .push((url.to_string(), format!("[BASE_URL:{target}]")));
            self.aliases
                .sort_by_key(|(u, _)| std::cmp::Reverse(u.len()));
        }
    }

    /// Sanitizes a piece of text.
    pub fn text(&self, input: &str) -> String {
        let mut out = input.to_string();
        for (url, alias) in &self.aliases {
            if out.contains(url.as_str()) {
                out = out.replace(url.as_str(), alias);
            }
        }
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), API_KEY);
            }
        }
        let p = patterns();
        if p.request_id.is_match(&out) {
            out = p
                .request_id
                .replace_all(&out, format!("(request id: {REQUEST_ID})").as_str())
                .into_owned();
        }
        if p.bearer.is_match(&out) {
            out = p
                .bearer
                .replace_all(&out, format!("Bearer {API_KEY}").as_str())
                .into_owned();
        }
        if p.sk_key.is_match(&out) {
            out = p.sk_key.replace_all(&out, API_KEY).into_owned();
        }
        out
    }

    /// Sanitizes every string (keys and values) inside a JSON value, in place.
    pub fn json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                let clean = self.text(s);
                if clean != *s {
                    *s = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            Value::Object(map) => {
                let needs_key_fix = map.keys().any(|k| self.text(k) != *k);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_known_key_request_ids_and_key_shapes() {
        let s = Sanitizer::new().with_secret(&Secret::new("canary-key-0123456789"));
        let out = s.text(
            "bad key canary-key-0123456789 (request id: 2026112112345) Authorization: Bearer abcdefghijkl sk-abcdefghijklmnopqrstu",
        );
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
}
