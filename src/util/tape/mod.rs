//! One JSON document as a flat tape, for stream frames: parsed without a heap allocation per
//! node, reused frame after frame, read through [`JsonRef`] and validated in place.
//!
//! A `serde_json::Value` costs a `BTreeMap` node, a `String` per key and per string value, and
//! their frees: measured, building and dropping it was more than half of all the work per frame.
//! The tape is a `Vec` of fixed-size slots in document order (a container's slot records where
//! its contents end) and one `String` holding the text its strings point into; both keep their
//! capacity between frames. A strict scanner takes ordinary frames (structure and plain strings
//! read in place, escaped strings and unusual numbers decoded by serde_json one token at a time);
//! whatever it does not take goes through serde_json's own parser, which decides and words the
//! error. So exactly the texts serde_json accepts parse, into the same tree.
//!
//! Where a tape could tell a different story from a `Value`, the driver does not use it alone:
//! an object with a duplicate key (a `Value` keeps the last) is rebuilt from the `Value`
//! ([`Tape::load_value`]), and a failed validation is reported from the `Value`, so violations
//! read exactly as they did.

use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

mod json_ref;
mod schema;

pub use json_ref::{Elements, JsonRef, Members};
pub use schema::TapeJson;

#[derive(Debug, Clone)]
enum Slot {
    Null,
    Bool(bool),
    Num(Number),
    /// A byte range of [`Tape::text`].
    Str(u32, u32),
    /// `end` is the slot after the container's last descendant.
    Arr {
        len: u32,
        end: u32,
    },
    /// Members are a key (`Str`) followed by its value, in document order.
    Obj {
        len: u32,
        end: u32,
    },
}

/// A parsed document; [`Tape::parse`] reuses its buffers.
#[derive(Debug, Default, Clone)]
pub struct Tape {
    slots: Vec<Slot>,
    text: String,
    duplicate_keys: bool,
}

impl Tape {
    /// Parses `json`, replacing what the tape held. On error the tape is empty.
    ///
    /// A direct scanner ([`Scan`]) takes the common frame; anything it does not take (any error,
    /// deep nesting) goes through serde_json's parser ([`Tape::parse_serde`]), which decides and
    /// words the error. The scanner accepts only what serde_json accepts and builds the same tape
    /// (`tests/tape.rs` checks both on fixture frames and their mutants).
    pub fn parse(&mut self, json: &str) -> Result<(), serde_json::Error> {
        if self.scan(json) {
            return Ok(());
        }
        self.parse_serde(json)
    }

    /// Parses `json` through serde_json's parser only (a `DeserializeSeed` writing slots).
    pub fn parse_serde(&mut self, json: &str) -> Result<(), serde_json::Error> {
        self.clear();
        let mut de = serde_json::Deserializer::from_str(json);
        let parsed = Seed(self).deserialize(&mut de).and_then(|()| de.end());
        if parsed.is_err() {
            self.clear();
        }
        parsed
    }

    /// The direct scanner; `false` (tape cleared) for anything it does not take. The frame is
    /// copied into `text` once and strings without escapes point into that copy.
    fn scan(&mut self, json: &str) -> bool {
        self.clear();
        self.text.push_str(json);
        let mut scan = Scan {
            text: json,
            bytes: json.as_bytes(),
            at: 0,
            tape: self,
            depth: 0,
        };
        scan.ws();
        let ok = scan.value() && {
            scan.ws();
            scan.at == scan.bytes.len()
        };
        if !ok {
            self.clear();
        }
        ok
    }

    /// Replaces the tape with `value` (keys in the value's order, no duplicates).
    pub fn load_value(&mut self, value: &Value) {
        self.clear();
        self.push_value(value);
    }

    /// Makes the tape a copy of `v`'s document (of `v` alone when it is not a root).
    pub fn copy_of(&mut self, v: JsonRef<'_>) {
        if v.at == 0 {
            self.slots.clone_from(&v.tape.slots);
            self.text.clone_from(&v.tape.text);
            self.duplicate_keys = v.tape.duplicate_keys;
        } else {
            self.load_value(&v.to_value());
        }
    }

    fn clear(&mut self) {
        self.slots.clear();
        self.text.clear();
        self.duplicate_keys = false;
    }

    /// Whether an object repeated a key. A `Value` keeps the last of them; the tape keeps all.
    pub fn has_duplicate_keys(&self) -> bool {
        self.duplicate_keys
    }

    /// The document's root. Panics-free: an empty tape reads as `null`.
    pub fn root(&self) -> JsonRef<'_> {
        JsonRef { tape: self, at: 0 }
    }

    fn push_str(&mut self, s: &str) {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        self.slots.push(Slot::Str(start, self.text.len() as u32));
    }

    fn push_value(&mut self, value: &Value) {
        match value {
            Value::Null => self.slots.push(Slot::Null),
            Value::Bool(b) => self.slots.push(Slot::Bool(*b)),
            Value::Number(n) => self.slots.push(Slot::Num(n.clone())),
            Value::String(s) => self.push_str(s),
            Value::Array(items) => {
                let at = self.open();
                for item in items {
                    self.push_value(item);
                }
                self.slots[at] = Slot::Arr {
                    len: items.len() as u32,
                    end: self.slots.len() as u32,
                };
            }
            Value::Object(map) => {
                let at = self.open();
                for (k, v) in map {
                    self.push_str(k);
                    self.push_value(v);
                }
                self.slots[at] = Slot::Obj {
                    len: map.len() as u32,
                    end: self.slots.len() as u32,
                };
            }
        }
    }

    fn open(&mut self) -> usize {
        self.slots.push(Slot::Null);
        self.slots.len() - 1
    }

    fn slot(&self, at: u32) -> &Slot {
        static NULL: Slot = Slot::Null;
        self.slots.get(at as usize).unwrap_or(&NULL)
    }

    fn str_at(&self, start: u32, end: u32) -> &str {
        &self.text[start as usize..end as usize]
    }

    /// The slot after the value at `at` and all its descendants.
    fn after(&self, at: u32) -> u32 {
        match self.slot(at) {
            Slot::Arr { end, .. } | Slot::Obj { end, .. } => *end,
            _ => at + 1,
        }
    }

    /// Whether the object at `at` (with `len` members) names a key twice.
    fn repeats_a_key(&self, at: u32, len: u32) -> bool {
        if len < 2 {
            return false;
        }
        let object = JsonRef { tape: self, at };
        if len <= 16 {
            // Pairwise over the keys' byte ranges, without allocating: objects in frames are small.
            let mut keys = [(0u32, 0u32); 16];
            let mut n = 0;
            let mut k = at + 1;
            for _ in 0..len {
                if let Slot::Str(s, e) = self.slot(k) {
                    keys[n] = (*s, *e);
                    n += 1;
                }
                k = self.after(k + 1);
            }
            return repeats(self.text.as_bytes(), &keys[..n]);
        }
        let mut keys: Vec<&str> = object.members().map(|(k, _)| k).collect();
        keys.sort_unstable();
        keys.windows(2).any(|w| w[0] == w[1])
    }
}

/// Whether two of these byte ranges of `text` (an object's keys) hold the same key: pairwise,
/// without allocating, for the small objects of a frame.
fn repeats(text: &[u8], keys: &[(u32, u32)]) -> bool {
    let bytes = |(s, e): (u32, u32)| &text[s as usize..e as usize];
    (1..keys.len()).any(|i| keys[..i].iter().any(|&k| bytes(k) == bytes(keys[i])))
}

/// How many bytes at the start of `b` need no attention inside a string: not `"`, not `\\`, not
/// a control character. Eight bytes at a time (the usual bit tricks: a byte below `n` borrows
/// into its high bit; the lowest flagged byte is exact).
fn plain_run(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let mut i = 0;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let flagged = below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1)
            | below(x, 0x20);
        if flagged != 0 {
            return i + (flagged.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// Nesting the direct scanner takes; deeper documents go through serde_json (whose limit is 128).
const SCAN_DEPTH: usize = 64;

/// A strict JSON scanner writing the tape directly: RFC 8259 structure and literals, strings
/// without escapes copied as they are, integers that fit a `u64` or a negative `i64` converted
/// here. Strings with escapes and every other number are handed to serde_json one token at a
/// time, so their values are exactly serde_json's. It never accepts more than serde_json does:
/// anything unexpected returns `false` and the whole text goes to serde_json.
struct Scan<'s, 't> {
    text: &'s str,
    bytes: &'s [u8],
    at: usize,
    tape: &'t mut Tape,
    depth: usize,
}

impl Scan<'_, '_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn value(&mut self) -> bool {
        match self.peek() {
            Some(b'{') => self.container(b'}'),
            Some(b'[') => self.container(b']'),
            Some(b'"') => self.string(),
            Some(b't') => self.literal("true", Slot::Bool(true)),
            Some(b'f') => self.literal("false", Slot::Bool(false)),
            Some(b'n') => self.literal("null", Slot::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn literal(&mut self, word: &str, slot: Slot) -> bool {
        if !self.bytes[self.at..].starts_with(word.as_bytes()) {
            return false;
        }
        self.at += word.len();
        self.tape.slots.push(slot);
        true
    }

    /// An object (`close` is `}`: members are a string key, `:`, a value) or an array.
    fn container(&mut self, close: u8) -> bool {
        if self.depth >= SCAN_DEPTH {
            return false;
        }
        self.depth += 1;
        self.at += 1;
        let open = self.tape.open();
        let object = close == b'}';
        let mut len = 0u32;
        // The first keys' byte ranges, for the repeated-key check at the close.
        let mut keys = [(0u32, 0u32); 16];
        self.ws();
        if self.peek() == Some(close) {
            self.at += 1;
        } else {
            loop {
                if object {
                    if self.peek() != Some(b'"') || !self.string() {
                        return false;
                    }
                    if let (Some(k), Some(Slot::Str(s, e))) =
                        (keys.get_mut(len as usize), self.tape.slots.last())
                    {
                        *k = (*s, *e);
                    }
                    self.ws();
                    if self.peek() != Some(b':') {
                        return false;
                    }
                    self.at += 1;
                    self.ws();
                }
                if !self.value() {
                    return false;
                }
                len += 1;
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.at += 1;
                        self.ws();
                    }
                    Some(c) if c == close => {
                        self.at += 1;
                        break;
                    }
                    _ => return false,
                }
            }
        }
        let end = self.tape.slots.len() as u32;
        self.tape.slots[open] = if object {
            Slot::Obj { len, end }
        } else {
            Slot::Arr { len, end }
        };
        if object {
            let repeated = if len as usize <= keys.len() {
                repeats(self.tape.text.as_bytes(), &keys[..len as usize])
            } else {
                self.tape.repeats_a_key(open as u32, len)
            };
            self.tape.duplicate_keys |= repeated;
        }
        self.depth -= 1;
        true
    }

    /// A string at `"`: its slot points into the copy of the frame the tape starts with; one with
    /// escapes is decoded by serde_json and appended.
    fn string(&mut self) -> bool {
        let b = self.bytes;
        let open = self.at;
        let mut i = open + 1;
        let mut escaped = false;
        loop {
            i += plain_run(&b[i.min(b.len())..]);
            match b.get(i) {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    i += 2;
                }
                // Control characters must be escaped.
                Some(&c) if c < 0x20 => return false,
                Some(_) => i += 1,
                None => return false,
            }
        }
        self.at = i + 1;
        if !escaped {
            self.tape.slots.push(Slot::Str(open as u32 + 1, i as u32));
            return true;
        }
        match serde_json::from_str::<String>(&self.text[open..=i]) {
            Ok(s) => {
                self.tape.push_str(&s);
                true
            }
            Err(_) => false,
        }
    }

    fn number(&mut self) -> bool {
        let start = self.at;
        let b = self.bytes;
        let mut i = start;
        let negative = b[i] == b'-';
        if negative {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = b.get(i) {
                    i += 1;
                }
            }
            _ => return false,
        }
        let digits_end = i;
        let mut plain = true;
        if b.get(i) == Some(&b'.') {
            plain = false;
            i += 1;
            let from = i;
            while let Some(b'0'..=b'9') = b.get(i) {
                i += 1;
            }
            if i == from {
                return false;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            plain = false;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let from = i;
            while let Some(b'0'..=b'9') = b.get(i) {
                i += 1;
            }
            if i == from {
                return false;
            }
        }
        self.at = i;
        let digits = &self.text[if negative { start + 1 } else { start }..digits_end];
        // Integers of up to 18 digits fit both u64 and i64; serde_json keeps them as integers
        // (`-0` excepted: it becomes the float -0.0, so it is handed over below).
        if plain && digits.len() <= 18 {
            if let Ok(n) = digits.parse::<u64>() {
                if !negative {
                    self.tape.slots.push(Slot::Num(n.into()));
                    return true;
                }
                if n != 0 {
                    self.tape.slots.push(Slot::Num((-(n as i64)).into()));
                    return true;
                }
            }
        }
        match serde_json::from_str::<Value>(&self.text[start..i]) {
            Ok(Value::Number(n)) => self.tape.slots.push(Slot::Num(n)),
            Ok(Value::Null) => self.tape.slots.push(Slot::Null),
            _ => return false,
        }
        true
    }
}

/// Builds the tape from serde_json's parser: a seed for a value.
struct Seed<'t>(&'t mut Tape);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.slots.push(Slot::Bool(v));
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.slots.push(Slot::Num(v.into()));
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.slots.push(Slot::Num(v.into()));
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        // As `Value` does: a float with no JSON form is null.
        self.0
            .slots
            .push(Number::from_f64(v).map_or(Slot::Null, Slot::Num));
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.slots.push(Slot::Null);
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.0.slots.push(Slot::Null);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let tape = self.0;
        let at = tape.open();
        let mut len = 0u32;
        while seq.next_element_seed(Seed(tape))?.is_some() {
            len += 1;
        }
        tape.slots[at] = Slot::Arr {
            len,
            end: tape.slots.len() as u32,
        };
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let tape = self.0;
        let at = tape.open();
        let mut len = 0u32;
        while map.next_key_seed(Key(tape))?.is_some() {
            map.next_value_seed(Seed(tape))?;
            len += 1;
        }
        tape.slots[at] = Slot::Obj {
            len,
            end: tape.slots.len() as u32,
        };
        if tape.repeats_a_key(at as u32, len) {
            tape.duplicate_keys = true;
        }
        Ok(())
    }
}

/// A seed for an object key.
struct Key<'t>(&'t mut Tape);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> Value {
        let mut t = Tape::default();
        t.parse(text).expect("parses");
        t.root().to_value()
    }

    #[test]
    fn reads_like_a_value() {
        let texts = [
            r#"{"a":1,"b":[true,false,null,{"c":"d\u00e9\n"}],"e":-2,"f":1.5,"g":{}}"#,
            r#"[]"#,
            r#""just a string""#,
            r#"18446744073709551615"#,
            r#"{"choices":[{"delta":{"content":"tok"},"index":0}],"id":"x"}"#,
        ];
        for text in texts {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(round_trip(text), v, "{text}");
            let mut t = Tape::default();
            t.parse(text).unwrap();
            assert_eq!(t.root().to_value(), v);
        }
    }

    #[test]
    fn the_scanner_takes_ordinary_frames_and_leaves_the_rest_to_serde_json() {
        let mut t = Tape::default();
        for taken in [
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":{"content":"tok\n\u00e9"},"logprobs":null,"finish_reason":null}]}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#,
            r#"[1,-2,3.5,true,false,null,"x",{}]"#,
            "-0",
        ] {
            assert!(t.scan(taken), "{taken}");
            let v: Value = serde_json::from_str(taken).unwrap();
            assert_eq!(t.root().to_value(), v);
        }
        for left in [
            r#"{"a":}"#,
            "[1,]",
            "01",
            r#""\ud800""#,
            &"[".repeat(65),
            "",
        ] {
            assert!(!t.scan(left), "{left}");
        }
    }

    #[test]
    fn accessors_and_pointer() {
        let mut t = Tape::default();
        t.parse(r#"{"choices":[{"delta":{"content":"hi","a/b":2}}],"n":3}"#)
            .unwrap();
        let root = t.root();
        assert_eq!(root.get("n").and_then(JsonRef::as_u64), Some(3));
        let choices = root.get("choices").and_then(JsonRef::as_array).unwrap();
        assert_eq!(choices.len(), 1);
        let first = choices.iter().next().unwrap();
        assert_eq!(
            first.pointer("/delta/content").and_then(JsonRef::as_str),
            Some("hi")
        );
        assert_eq!(
            root.pointer("/choices/0/delta/a~1b")
                .and_then(JsonRef::as_u64),
            Some(2)
        );
        assert!(root.pointer("/choices/1").is_none());
        assert!(root.get("missing").is_none());
    }

    #[test]
    fn rejects_what_serde_json_rejects_with_its_message() {
        for bad in [r#"{"a":}"#, r#"{"a":1} x"#, "[1,2", "", "nul"] {
            let mut t = Tape::default();
            let ours = t.parse(bad).unwrap_err().to_string();
            let theirs = serde_json::from_str::<Value>(bad).unwrap_err().to_string();
            assert_eq!(ours, theirs, "{bad}");
            assert!(t.root().is_null());
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(Tape::default().parse(&deep).is_err());
    }

    #[test]
    fn duplicate_keys_are_flagged_and_loading_the_value_removes_them() {
        let text = r#"{"a":1,"b":{"x":1,"x":2}}"#;
        let mut t = Tape::default();
        t.parse(text).unwrap();
        assert!(t.has_duplicate_keys());
        let v: Value = serde_json::from_str(text).unwrap();
        t.load_value(&v);
        assert!(!t.has_duplicate_keys());
        assert_eq!(t.root().pointer("/b/x").and_then(JsonRef::as_u64), Some(2));
        t.parse(r#"{"x":1,"y":{"x":2}}"#).unwrap();
        assert!(!t.has_duplicate_keys(), "the flag resets per parse");
    }

    #[test]
    fn the_same_schema_gives_the_same_verdict_on_both_representations() {
        let schema = serde_json::json!({
            "type": "object",
            "required": ["id", "choices"],
            "properties": {
                "id": {"type": "string", "minLength": 2},
                "object": {"const": "chat.completion.chunk"},
                "choices": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer", "minimum": 0},
                        "finish_reason": {"enum": ["stop", "length", null]}
                    }
                }}
            },
            "additionalProperties": {"type": ["string", "integer", "null"]}
        });
        let by_value = jsonschema::options().build(&schema).unwrap();
        let by_tape = jsonschema::options_for::<TapeJson>()
            .build(&schema)
            .unwrap();
        let docs = [
            r#"{"id":"ab","choices":[]}"#,
            r#"{"id":"a","choices":[]}"#,
            r#"{"choices":[]}"#,
            r#"{"id":"ab","object":"chat.completion.chunk","choices":[{"index":0,"finish_reason":"stop"}]}"#,
            r#"{"id":"ab","object":"chat.completion","choices":[]}"#,
            r#"{"id":"ab","choices":[{"index":-1}]}"#,
            r#"{"id":"ab","choices":[{"index":1.5}]}"#,
            r#"{"id":"ab","choices":[{"finish_reason":"eos"}]}"#,
            r#"{"id":"ab","choices":[],"extra":1,"more":null}"#,
            r#"{"id":"ab","choices":[],"extra":[1]}"#,
            r#"[]"#,
        ];
        let mut t = Tape::default();
        for d in docs {
            let v: Value = serde_json::from_str(d).unwrap();
            t.parse(d).unwrap();
            assert_eq!(
                by_tape.is_valid(t.root()),
                by_value.is_valid(&v),
                "verdicts differ on {d}"
            );
        }
    }
}
