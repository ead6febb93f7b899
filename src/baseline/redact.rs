//! The one redaction table: the JSON keys whose values are volatile (ids, timestamps,
//! fingerprints, account names, generated text), the placeholder each becomes, and when.
//!
//! Two passes use it, each with its own column: storing a fixture
//! ([`Sanitizer::fixture_json`](crate::baseline::sanitize::Sanitizer::fixture_json)) and comparing
//! a response with its fixture ([`drift::mask`](crate::baseline::drift::mask)). The columns differ
//! on purpose where a row says so: a fixture keeps the generated text and the model, and the kind
//! of an id (`chatcmpl-[ID]`), which the comparison masks; it stores timestamps as placeholder
//! strings (the recorded endpoint turns them back into numbers, see
//! [`rehydrate`](crate::baseline::sanitize::rehydrate)), which the comparison masks only where
//! they are numbers; and it replaces account names, which the comparison leaves as they are.
//! Besides the table, the comparison masks every number below a `usage` key and sanitizes a
//! `message` string (see [`drift::mask`](crate::baseline::drift::mask)).

use serde_json::Value;

pub const ID: &str = "[ID]";
pub const CREATED: &str = "[CREATED]";
pub const TIMESTAMP: &str = "[TIMESTAMP]";
pub const FINGERPRINT: &str = "[FINGERPRINT]";
pub const ORGANIZATION: &str = "[ORGANIZATION]";
pub const PROJECT: &str = "[PROJECT]";
pub const USER: &str = "[USER]";
pub const MODEL: &str = "[MODEL]";
pub const TEXT: &str = "[TEXT]";
pub const OBFUSCATION: &str = "[OBFUSCATION]";

/// Which values under a key a pass replaces by the key's placeholder. Other values (`null`,
/// booleans, arrays, objects, and the types not named) are kept, and objects and arrays are
/// looked into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// None: the value is kept.
    No,
    Strings,
    Numbers,
    /// Strings and numbers (a number becomes a placeholder string).
    Scalars,
    /// Strings, keeping the kind of id in front of the placeholder: `chatcmpl-[ID]` (see
    /// [`id_placeholder`](crate::baseline::sanitize::id_placeholder)).
    IdKind,
    /// Strings kept, but each id they quote keeps only its kind ("Response with id
    /// 'resp_67cc…' not found." becomes "… 'resp_[ID]' …"; see [`ids_in_text`]).
    IdsInText,
}

impl Mask {
    /// Whether a string value is replaced.
    pub const fn strings(self) -> bool {
        matches!(self, Mask::Strings | Mask::Scalars | Mask::IdKind)
    }

    /// Whether a number value is replaced.
    pub const fn numbers(self) -> bool {
        matches!(self, Mask::Numbers | Mask::Scalars)
    }

    /// Whether `value` is replaced.
    pub fn covers(self, value: &Value) -> bool {
        match value {
            Value::String(_) => self.strings(),
            Value::Number(_) => self.numbers(),
            _ => false,
        }
    }
}

/// One row of [`VOLATILE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Volatile {
    pub key: &'static str,
    pub placeholder: &'static str,
    /// Storing a fixture.
    pub stored: Mask,
    /// Comparing a response with its fixture.
    pub compared: Mask,
}

const fn row(
    key: &'static str,
    placeholder: &'static str,
    stored: Mask,
    compared: Mask,
) -> Volatile {
    Volatile {
        key,
        placeholder,
        stored,
        compared,
    }
}

/// The volatile keys, found at any depth. The order of the stored rows is part of the
/// sanitizer's rules digest ([`Sanitizer::rules_hash`](crate::baseline::sanitize::Sanitizer::rules_hash)),
/// which every recorded fixture carries: append, do not reorder.
#[rustfmt::skip]
pub const VOLATILE: &[Volatile] = &[
    //   key                   placeholder   stored         compared
    row("created",            CREATED,      Mask::Scalars, Mask::Numbers),
    row("created_at",         TIMESTAMP,    Mask::Scalars, Mask::Numbers),
    row("completed_at",       TIMESTAMP,    Mask::Scalars, Mask::Numbers),
    row("expires_at",         TIMESTAMP,    Mask::Scalars, Mask::Numbers),
    row("system_fingerprint", FINGERPRINT,  Mask::Scalars, Mask::Strings),
    row("organization",       ORGANIZATION, Mask::Scalars, Mask::No),
    row("organization_id",    ORGANIZATION, Mask::Scalars, Mask::No),
    row("project",            PROJECT,      Mask::Scalars, Mask::No),
    row("project_id",         PROJECT,      Mask::Scalars, Mask::No),
    row("user",               USER,         Mask::Scalars, Mask::No),
    row("id",                 ID,           Mask::IdKind,  Mask::Strings),
    row("model",              MODEL,        Mask::No,      Mask::Strings),
    row("content",            TEXT,         Mask::No,      Mask::Strings),
    row("refusal",            TEXT,         Mask::No,      Mask::Strings),
    row("reasoning_content",  TEXT,         Mask::No,      Mask::Strings),
    row("arguments",          TEXT,         Mask::No,      Mask::Strings),
    row("obfuscation",        OBFUSCATION,  Mask::No,      Mask::Strings),
    // Ids that name another object (a step sends them back): kept with their kind, as `id` is.
    row("previous_response_id", ID,         Mask::IdKind,  Mask::Strings),
    row("tool_call_id",       ID,           Mask::IdKind,  Mask::Strings),
    row("call_id",            ID,           Mask::IdKind,  Mask::Strings),
    row("item_id",            ID,           Mask::IdKind,  Mask::Strings),
    // An error message that names the object it did not find (a step's 404 after a delete).
    row("message",            ID,           Mask::IdsInText, Mask::IdsInText),
];

/// `text` with each id it quotes reduced to its kind: `resp_67ccd2bed1ec8190` becomes
/// `resp_[ID]`. An id here is a lower-case kind of up to 12 letters or digits, `_`, then 8 or
/// more letters and digits with at least one digit (so `max_completion_tokens` and tool names
/// stay as they are).
pub fn ids_in_text(text: &str) -> std::borrow::Cow<'_, str> {
    use std::sync::OnceLock;
    static ID_IN_TEXT: OnceLock<regex::Regex> = OnceLock::new();
    let re = ID_IN_TEXT.get_or_init(|| {
        regex::Regex::new(r"\b([a-z][a-z0-9]{0,11})_([A-Za-z0-9]{8,})\b").expect("valid regex")
    });
    if !text.contains('_') {
        return std::borrow::Cow::Borrowed(text);
    }
    re.replace_all(text, |c: &regex::Captures<'_>| {
        if c[2].bytes().any(|b| b.is_ascii_digit()) {
            format!("{}_{ID}", &c[1])
        } else {
            c[0].to_string()
        }
    })
}

/// The row of `key`, when it is a volatile one.
pub fn rule(key: &str) -> Option<&'static Volatile> {
    VOLATILE.iter().find(|r| r.key == key)
}

/// The placeholder a compared string under `key` becomes, when it is masked.
pub fn compared_string(key: &str) -> Option<&'static str> {
    rule(key)
        .filter(|r| r.compared.strings())
        .map(|r| r.placeholder)
}

/// The placeholder a compared number under `key` becomes, when it is masked.
pub fn compared_number(key: &str) -> Option<&'static str> {
    rule(key)
        .filter(|r| r.compared.numbers())
        .map(|r| r.placeholder)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_quoted_in_a_message_keep_their_kind() {
        let cases = [
            (
                "Response with id 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b' not found.",
                "Response with id 'resp_[ID]' not found.",
            ),
            ("No tool output found for call_aBc123XyZ9.", "No tool output found for call_[ID]."),
            // Not ids: no digit, too short, a parameter or a tool name.
            ("Unknown parameter: 'max_completion_tokens'.", "Unknown parameter: 'max_completion_tokens'."),
            ("call_mock9 and get_weather", "call_mock9 and get_weather"),
            ("model gpt-4o-2024-08-06", "model gpt-4o-2024-08-06"),
        ];
        for (text, want) in cases {
            assert_eq!(super::ids_in_text(text), want, "{text}");
        }
    }

    use super::*;

    #[test]
    fn one_row_a_key() {
        for (i, r) in VOLATILE.iter().enumerate() {
            assert!(
                VOLATILE[..i].iter().all(|p| p.key != r.key),
                "`{}` twice",
                r.key
            );
            assert_ne!(
                (r.stored, r.compared),
                (Mask::No, Mask::No),
                "`{}` is never masked",
                r.key
            );
        }
    }

    #[test]
    fn the_columns_say_what_each_pass_masks() {
        assert_eq!(compared_number("created"), Some(CREATED));
        assert_eq!(compared_string("created"), None);
        assert_eq!(compared_string("id"), Some(ID));
        assert_eq!(compared_number("id"), None);
        assert_eq!(compared_string("content"), Some(TEXT));
        assert_eq!(compared_string("organization"), None);
        assert_eq!(compared_string("message"), None);
        assert!(rule("user").is_some_and(|r| r.stored.covers(&Value::from(7))));
        assert!(rule("model").is_some_and(|r| !r.stored.covers(&Value::from("m"))));
        assert!(!Mask::Scalars.covers(&Value::Null));
        assert!(!Mask::Strings.covers(&serde_json::json!(["x"])));
    }
}
