//! Assertions on an answer, as a case writes them: a JSON pointer into the answer (a non-streamed
//! body, or the answer a stream's frames add up to), optionally a string there parsed as JSON
//! first, and predicates on the value found. Built-in invariants are named checks every answer
//! of a family can be held to. The checks themselves are in the judge (`judge::assert`); this is the data.

use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use crate::util::text::Visible as V;
use serde_json::Value;

/// One assertion: where, and what must hold there.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "AssertionDoc")]
pub struct Assertion {
    /// A JSON pointer into the answer; `""` is the whole answer, a `*` segment every element of
    /// an array (or every value of an object).
    pub at: String,
    /// The value at `at` is a string holding JSON: it is parsed, and the predicates apply to the
    /// value at this pointer inside it (`""`: the parsed value itself).
    pub json: Option<String>,
    /// The value at `at` is a string holding encoded numbers: it is decoded, and the predicates
    /// apply to the array of numbers it holds.
    pub decode: Option<Decode>,
    pub predicates: Vec<Predicate>,
}

/// How `decode:` reads a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decode {
    /// Base64 (standard alphabet, padded) of little-endian IEEE 754 single-precision floats: an
    /// embedding asked for with `encoding_format: base64`.
    Base64F32le,
}

impl Decode {
    pub fn as_str(self) -> &'static str {
        match self {
            Decode::Base64F32le => "base64_f32le",
        }
    }
}

/// What must hold of a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `exists: true`: a value other than `null` is there; `exists: false`: none is (or `null`).
    Exists(bool),
    Equals(Value),
    OneOf(Vec<Value>),
    /// The value is a string matching this regular expression (anywhere in it; anchor with `^…$`).
    Matches(Pattern),
    /// A string containing this text, or an array containing this element.
    Contains(Value),
    Type(Vec<JsonType>),
    /// The length of a string (characters), an array (elements) or an object (keys).
    Length(Bound),
    /// A number within bounds.
    Number(Bound),
    /// The value matches a JSON Schema (a named one, or one written in the case).
    Schema(SchemaRef),
    /// A number within `tolerance` of `value`, or an array of numbers as long as `value`'s, each
    /// within `tolerance` of its counterpart.
    CloseTo {
        value: Value,
        tolerance: f64,
    },
}

impl Predicate {
    /// The key a case writes it under.
    pub fn key(&self) -> &'static str {
        match self {
            Predicate::Exists(_) => "exists",
            Predicate::Equals(_) => "equals",
            Predicate::OneOf(_) => "one_of",
            Predicate::Matches(_) => "matches",
            Predicate::Contains(_) => "contains",
            Predicate::Type(_) => "type",
            Predicate::Length(_) => "length",
            Predicate::Number(_) => "min/max",
            Predicate::Schema(_) => "schema",
            Predicate::CloseTo { .. } => "close_to",
        }
    }
}

/// A compiled regular expression, compared by its text.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// JSON's types, as a case names them (`integer` is a number without a fraction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
    Null,
}

impl JsonType {
    pub const ALL: [JsonType; 7] = [
        JsonType::String,
        JsonType::Number,
        JsonType::Integer,
        JsonType::Boolean,
        JsonType::Array,
        JsonType::Object,
        JsonType::Null,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Integer => "integer",
            JsonType::Boolean => "boolean",
            JsonType::Array => "array",
            JsonType::Object => "object",
            JsonType::Null => "null",
        }
    }

    /// The type of a value (`integer` for a whole number).
    pub fn of(v: &Value) -> JsonType {
        match v {
            Value::String(_) => JsonType::String,
            Value::Number(n) if n.is_i64() || n.is_u64() => JsonType::Integer,
            Value::Number(_) => JsonType::Number,
            Value::Bool(_) => JsonType::Boolean,
            Value::Array(_) => JsonType::Array,
            Value::Object(_) => JsonType::Object,
            Value::Null => JsonType::Null,
        }
    }

    /// Whether a value of type `got` is one of this type (an integer is a number).
    pub fn admits(self, got: JsonType) -> bool {
        self == got || (self == JsonType::Number && got == JsonType::Integer)
    }
}

/// Inclusive bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Bound {
    pub fn holds(&self, x: f64) -> bool {
        self.min.is_none_or(|m| x >= m) && self.max.is_none_or(|m| x <= m)
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.min, self.max) {
            (Some(a), Some(b)) if a == b => write!(f, "exactly {a}"),
            (Some(a), Some(b)) => write!(f, "between {a} and {b}"),
            (Some(a), None) => write!(f, "at least {a}"),
            (None, Some(b)) => write!(f, "at most {b}"),
            (None, None) => write!(f, "any"),
        }
    }
}

/// A schema an assertion names, or writes in place.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaRef {
    /// A schema of the schemas folder, by name.
    Named(String),
    Inline(Arc<InlineSchema>),
}

/// A schema written in a case; compiled once, when first used (it may `$ref` the folder's).
#[derive(Debug)]
pub struct InlineSchema {
    pub doc: Value,
    /// Filled in by the judge (the compiled validator, or why it cannot be).
    pub compiled: OnceLock<Result<jsonschema::Validator, String>>,
}

impl PartialEq for InlineSchema {
    fn eq(&self, other: &Self) -> bool {
        self.doc == other.doc
    }
}

/// A length or count: a number, or `{min, max}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
enum LengthDoc {
    Exactly(u64),
    Range {
        #[serde(default)]
        min: Option<u64>,
        #[serde(default)]
        max: Option<u64>,
    },
}

#[derive(Debug, Clone)]
enum TypesDoc {
    One(JsonType),
    Many(Vec<JsonType>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum SchemaDoc {
    Named(String),
    Inline(serde_json::Map<String, Value>),
}

/// An assertion as written: every predicate a key, at least one of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssertionDoc {
    #[serde(default)]
    at: String,
    #[serde(default)]
    json: Option<JsonDoc>,
    #[serde(default)]
    exists: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    equals: Option<Value>,
    #[serde(default)]
    one_of: Option<Vec<Value>>,
    #[serde(default)]
    matches: Option<String>,
    #[serde(default, deserialize_with = "present")]
    contains: Option<Value>,
    #[serde(default, rename = "type", deserialize_with = "types")]
    kind: Option<TypesDoc>,
    #[serde(default)]
    length: Option<LengthDoc>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    schema: Option<SchemaDoc>,
    #[serde(default)]
    decode: Option<Decode>,
    #[serde(default)]
    close_to: Option<CloseToDoc>,
}

/// `close_to: {value: V, tolerance: T}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseToDoc {
    value: Value,
    tolerance: f64,
}

/// A key that is there, even as `null` (`equals: null` asserts null; leaving it out asserts nothing).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// `type: string` or `type: [string, null]`; YAML's `null` names JSON's null type.
fn types<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<TypesDoc>, D::Error> {
    let one = |v: &Value| -> Result<JsonType, D::Error> {
        let name = match v {
            Value::Null => "null",
            Value::String(s) => s.as_str(),
            _ => "",
        };
        JsonType::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`type`: {v} is not a JSON type (one of: {})",
                    JsonType::ALL.map(JsonType::as_str).join(", ")
                ))
            })
    };
    Ok(Some(match Value::deserialize(d)? {
        Value::Array(items) => TypesDoc::Many(items.iter().map(one).collect::<Result<_, _>>()?),
        v => TypesDoc::One(one(&v)?),
    }))
}

/// `json: true` (the parsed value itself) or `json: /pointer` (a value inside it).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum JsonDoc {
    Root(bool),
    At(String),
}

/// Checks a JSON pointer's syntax (`""`, or `/` segments with `~0`/`~1` escapes only).
pub fn pointer_error(p: &str) -> Option<String> {
    if p.is_empty() {
        return None;
    }
    if !p.starts_with('/') {
        return Some(format!(
            "`{p}` is not a JSON pointer: it must start with `/` (or be \"\" for the whole answer)"
        ));
    }
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Some(format!(
                "`{p}`: `~` in a JSON pointer must be `~0` (for ~) or `~1` (for /)"
            ));
        }
    }
    None
}

impl TryFrom<AssertionDoc> for Assertion {
    type Error = String;

    fn try_from(d: AssertionDoc) -> Result<Self, String> {
        if let Some(e) = pointer_error(&d.at) {
            return Err(e);
        }
        let json = match d.json {
            None | Some(JsonDoc::Root(false)) => None,
            Some(JsonDoc::Root(true)) => Some(String::new()),
            Some(JsonDoc::At(p)) => {
                if let Some(e) = pointer_error(&p) {
                    return Err(format!("json: {e}"));
                }
                Some(p)
            }
        };
        if d.decode.is_some() && json.is_some() {
            return Err("`json` and `decode` read the string two ways: use one".into());
        }
        let mut predicates = Vec::new();
        if let Some(e) = d.exists {
            predicates.push(Predicate::Exists(e));
        }
        if let Some(v) = d.equals {
            predicates.push(Predicate::Equals(v));
        }
        if let Some(v) = d.one_of {
            if v.is_empty() {
                return Err("`one_of` needs at least one value".into());
            }
            predicates.push(Predicate::OneOf(v));
        }
        if let Some(p) = d.matches {
            let re = regex::RegexBuilder::new(&p)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("`matches`: not a valid regular expression: {e}"))?;
            predicates.push(Predicate::Matches(Pattern(re)));
        }
        if let Some(v) = d.contains {
            predicates.push(Predicate::Contains(v));
        }
        if let Some(t) = d.kind {
            predicates.push(Predicate::Type(match t {
                TypesDoc::One(t) => vec![t],
                TypesDoc::Many(ts) if ts.is_empty() => {
                    return Err("`type` needs at least one type".into())
                }
                TypesDoc::Many(ts) => ts,
            }));
        }
        if let Some(l) = d.length {
            let bound = match l {
                LengthDoc::Exactly(n) => Bound {
                    min: Some(n as f64),
                    max: Some(n as f64),
                },
                LengthDoc::Range { min, max } => {
                    if min.is_none() && max.is_none() {
                        return Err("`length` needs a number, or `min` and/or `max`".into());
                    }
                    Bound {
                        min: min.map(|n| n as f64),
                        max: max.map(|n| n as f64),
                    }
                }
            };
            if let (Some(a), Some(b)) = (bound.min, bound.max) {
                if a > b {
                    return Err(format!("`length`: min {a} is above max {b}"));
                }
            }
            predicates.push(Predicate::Length(bound));
        }
        if d.min.is_some() || d.max.is_some() {
            for x in [d.min, d.max].into_iter().flatten() {
                if !x.is_finite() {
                    return Err("`min` and `max` must be finite numbers".into());
                }
            }
            if let (Some(a), Some(b)) = (d.min, d.max) {
                if a > b {
                    return Err(format!("min {a} is above max {b}"));
                }
            }
            predicates.push(Predicate::Number(Bound {
                min: d.min,
                max: d.max,
            }));
        }
        if let Some(s) = d.schema {
            predicates.push(Predicate::Schema(match s {
                SchemaDoc::Named(n) => SchemaRef::Named(n),
                SchemaDoc::Inline(doc) => SchemaRef::Inline(Arc::new(InlineSchema {
                    doc: Value::Object(doc),
                    compiled: OnceLock::new(),
                })),
            }));
        }
        if let Some(c) = d.close_to {
            if !c.tolerance.is_finite() || c.tolerance < 0.0 {
                return Err("`close_to`: `tolerance` must be a finite number ≥ 0".into());
            }
            let numbers = match &c.value {
                Value::Number(_) => true,
                Value::Array(items) => items.iter().all(Value::is_number),
                // A placeholder (`${vector}`) a step fills in with a captured value.
                Value::String(s) => s.starts_with("${") && s.ends_with('}'),
                _ => false,
            };
            if !numbers {
                return Err(
                    "`close_to`: `value` must be a number, an array of numbers or a `${name}`"
                        .into(),
                );
            }
            predicates.push(Predicate::CloseTo {
                value: c.value,
                tolerance: c.tolerance,
            });
        }
        if predicates.is_empty() && json.is_none() && d.decode.is_none() {
            return Err("an assertion needs a predicate: exists, equals, one_of, matches, contains, type, length, min, max, schema or close_to".into());
        }
        Ok(Assertion {
            at: d.at,
            json,
            decode: d.decode,
            predicates,
        })
    }
}

impl Assertion {
    /// `exists: true` at a pointer (what `present:` says).
    pub fn exists(at: &str, yes: bool) -> Assertion {
        Assertion {
            at: at.to_string(),
            json: None,
            decode: None,
            predicates: vec![Predicate::Exists(yes)],
        }
    }

    /// Where it points, for its failures: `/a/b`, or `/a/b (as JSON) /c`.
    pub fn describe_at(&self) -> String {
        let at = if self.at.is_empty() { "/" } else { &self.at };
        if let Some(d) = self.decode {
            return format!("{at} (decoded as {})", d.as_str());
        }
        match &self.json {
            None => at.to_string(),
            Some(inner) if inner.is_empty() => format!("{at} (parsed as JSON)"),
            Some(inner) => format!("{at} (parsed as JSON) {inner}"),
        }
    }

    /// The named schemas it uses.
    pub fn schema_names(&self) -> impl Iterator<Item = &str> {
        self.predicates.iter().filter_map(|p| match p {
            Predicate::Schema(SchemaRef::Named(n)) => Some(n.as_str()),
            _ => None,
        })
    }
}

/// A check built in: a rule every answer of a family can be held to, named in `invariants:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Invariant {
    /// Usage adds up: `total_tokens = prompt_tokens + completion_tokens` (chat completions,
    /// embeddings: `total_tokens >= prompt_tokens`; Responses: `total = input + output`), and no
    /// count is negative. Messages has no total: its counts must be whole and non-negative.
    UsageArithmetic,
    /// As many choices as the request's `n` asked (1 when it did not).
    ChoicesMatchN,
    /// No two choices share an `index`, and the indices are 0..n.
    DistinctChoiceIndices,
    /// A models listing has an entry whose `id` is the case's `${model}` (the target's `model`
    /// variable, or the case's own `vars.model`).
    ModelListed,
}

impl Invariant {
    pub fn as_str(self) -> &'static str {
        match self {
            Invariant::UsageArithmetic => "usage_arithmetic",
            Invariant::ChoicesMatchN => "choices_match_n",
            Invariant::DistinctChoiceIndices => "distinct_choice_indices",
            Invariant::ModelListed => "model_listed",
        }
    }
}

/// How an assertion failed at one place; `got` texts are short excerpts of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssertFault {
    /// Nothing (or `null`) where a value was due.
    Missing,
    /// `exists: false`, but a value is there.
    Present {
        got: String,
    },
    NotEqual {
        expected: String,
        got: String,
    },
    NotOneOf {
        allowed: String,
        got: String,
    },
    NoMatch {
        pattern: String,
        got: String,
    },
    NotContained {
        needle: String,
        got: String,
    },
    WrongType {
        expected: String,
        got: &'static str,
    },
    /// `length` on a value that has none (a number, a boolean).
    NoLength {
        got: &'static str,
    },
    Length {
        bound: String,
        got: usize,
    },
    NotNumber {
        got: &'static str,
    },
    Number {
        bound: String,
        got: String,
    },
    /// `json:` on a value that is not a string, or a string that is not JSON.
    NotJson {
        why: String,
    },
    /// A schema violation inside the value (`pointer` relative to it).
    Schema {
        schema: String,
        violation: crate::model::violation::Violation,
    },
    /// More violations than listed.
    SchemaMore {
        schema: String,
        more: usize,
    },
    /// The schema could not be used.
    SchemaUnusable {
        message: String,
    },
    /// `decode:` on a value that is not a string, or a string that does not decode.
    NotDecodable {
        decode: &'static str,
        why: String,
    },
    /// `close_to` on a value that is not a number or an array of numbers.
    NotNumbers {
        got: &'static str,
    },
    /// An array of another length than the value it is compared with.
    LengthDiffers {
        expected: usize,
        got: usize,
    },
    /// A number (the `index`-th element of an array, when `index` is set) too far from its
    /// counterpart.
    NotClose {
        index: Option<usize>,
        expected: String,
        got: String,
        tolerance: String,
    },
}

impl AssertFault {
    /// Calls `fix` on every text taken from the answer.
    pub fn texts_mut(&mut self, fix: &mut dyn FnMut(&mut String)) {
        match self {
            AssertFault::Present { got }
            | AssertFault::NotEqual { got, .. }
            | AssertFault::NotOneOf { got, .. }
            | AssertFault::NoMatch { got, .. }
            | AssertFault::NotContained { got, .. }
            | AssertFault::Number { got, .. } => fix(got),
            AssertFault::NotJson { why } | AssertFault::NotDecodable { why, .. } => fix(why),
            AssertFault::Schema { violation, .. } => {
                fix(&mut violation.pointer);
                fix(&mut violation.message);
            }
            AssertFault::SchemaUnusable { message } => fix(message),
            AssertFault::Missing
            | AssertFault::WrongType { .. }
            | AssertFault::NoLength { .. }
            | AssertFault::Length { .. }
            | AssertFault::NotNumber { .. }
            | AssertFault::SchemaMore { .. }
            | AssertFault::NotNumbers { .. }
            | AssertFault::LengthDiffers { .. }
            | AssertFault::NotClose { .. } => {}
        }
    }
}

impl std::fmt::Display for AssertFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AssertFault::Missing => write!(f, "expected a value, found none"),
            AssertFault::Present { got } => write!(f, "expected nothing, found {}", V(got)),
            AssertFault::NotEqual { expected, got } => {
                write!(f, "expected {}, found {}", V(expected), V(got))
            }
            AssertFault::NotOneOf { allowed, got } => {
                write!(f, "expected one of {}, found {}", V(allowed), V(got))
            }
            AssertFault::NoMatch { pattern, got } => {
                write!(
                    f,
                    "expected a string matching /{}/, found {}",
                    V(pattern),
                    V(got)
                )
            }
            AssertFault::NotContained { needle, got } => {
                write!(f, "expected it to contain {}, found {}", V(needle), V(got))
            }
            AssertFault::WrongType { expected, got } => {
                write!(f, "expected type {expected}, found {got}")
            }
            AssertFault::NoLength { got } => {
                write!(
                    f,
                    "expected a string, array or object for `length`, found {got}"
                )
            }
            AssertFault::Length { bound, got } => write!(f, "expected length {bound}, found {got}"),
            AssertFault::NotNumber { got } => write!(f, "expected a number, found {got}"),
            AssertFault::Number { bound, got } => write!(f, "expected {bound}, found {}", V(got)),
            AssertFault::NotJson { why } => write!(f, "expected a string holding JSON: {}", V(why)),
            AssertFault::Schema { schema, violation } => {
                write!(f, "breaks schema {schema}: {violation}")
            }
            AssertFault::SchemaMore { schema, more } => {
                write!(f, "… and {more} more violations of schema {schema}")
            }
            AssertFault::SchemaUnusable { message } => {
                write!(f, "schema unusable: {}", V(message))
            }
            AssertFault::NotDecodable { decode, why } => {
                write!(f, "expected a string holding {decode}: {}", V(why))
            }
            AssertFault::NotNumbers { got } => {
                write!(f, "expected a number or an array of numbers, found {got}")
            }
            AssertFault::LengthDiffers { expected, got } => {
                write!(f, "expected {expected} numbers, found {got}")
            }
            AssertFault::NotClose {
                index,
                expected,
                got,
                tolerance,
            } => {
                if let Some(i) = index {
                    write!(f, "element {i}: ")?;
                }
                write!(f, "expected {expected} ± {tolerance}, found {got}")
            }
        }
    }
}
