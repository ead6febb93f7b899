//! Stream frames are validated on a tape, not a `serde_json::Value` (src/tape.rs). The verdict
//! must be the one the `Value` gets from the same schema: checked here on every data frame of the
//! repository's stream fixtures, against every stream schema (a frame of one family is invalid
//! for another's), and on mutants of each frame (a key removed, a value replaced by another type).

use std::path::PathBuf;

use llm_contract::contract::schema::SchemaRegistry;
use llm_contract::exchange::sse::{SseItem, SseParser};
use llm_contract::util::tape::{JsonRef, Tape};
use serde_json::{json, Value};

const STREAM_SCHEMAS: [&str; 3] = ["chat_completion_chunk", "messages_event", "responses_event"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every JSON data frame of every stream fixture in the repository.
fn fixture_frames() -> Vec<Value> {
    let mut frames = Vec::new();
    let mut dirs = vec![root().join("fixtures")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let responses: Vec<&Value> = match doc.get("responses").and_then(Value::as_array) {
                Some(all) => all.iter().collect(),
                None => doc.get("response").into_iter().collect(),
            };
            for r in responses {
                let Some(chunks) = r.get("chunks").and_then(Value::as_array) else {
                    continue;
                };
                let mut parser = SseParser::new(1 << 20);
                for c in chunks {
                    let data = c["data"].as_str().unwrap_or_default();
                    let _ = parser.push(data.as_bytes(), &mut |item| {
                        if let SseItem::Event(ev) = item {
                            if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                                frames.push(v);
                            }
                        }
                        true
                    });
                }
            }
        }
    }
    frames
}

/// The frame with each top-level key removed, and each top-level value replaced.
fn mutants(frame: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(map) = frame.as_object() {
        for key in map.keys() {
            let mut m = frame.clone();
            m.as_object_mut().unwrap().remove(key);
            out.push(m);
            for replacement in [
                json!(null),
                json!(7),
                json!(-1.5),
                json!("x"),
                json!([]),
                json!({}),
            ] {
                let mut m = frame.clone();
                m[key.as_str()] = replacement;
                out.push(m);
            }
        }
    }
    out
}

#[test]
fn tape_and_value_get_the_same_verdict_on_every_fixture_frame_and_its_mutants() {
    let schemas = SchemaRegistry::load(&root().join("contracts/schemas")).unwrap();
    let frames = fixture_frames();
    assert!(frames.len() >= 30, "only {} frames found", frames.len());
    let mut tape = Tape::default();
    let (mut valid, mut invalid) = (0, 0);
    for frame in &frames {
        for doc in std::iter::once(frame.clone()).chain(mutants(frame)) {
            tape.parse(&doc.to_string()).unwrap();
            for name in STREAM_SCHEMAS {
                let by_value = schemas.is_valid(name, &doc).unwrap();
                let by_tape = schemas.frame_is_valid(name, tape.root());
                assert_eq!(by_tape, Some(by_value), "{name} on {doc}");
                if by_value {
                    valid += 1;
                } else {
                    invalid += 1;
                }
            }
        }
    }
    // Both verdicts occur often enough for the comparison to mean something.
    assert!(
        valid > 50 && invalid > 500,
        "valid {valid}, invalid {invalid}"
    );
}

#[test]
fn a_repeated_key_is_read_as_the_value_reads_it() {
    // `Value` keeps the last `object`; the driver rebuilds such a tape from the `Value`.
    let text = r#"{"id":"a","object":"wrong","object":"chat.completion.chunk","created":1,"model":"m","choices":[]}"#;
    let mut tape = Tape::default();
    tape.parse(text).unwrap();
    assert!(tape.has_duplicate_keys());
    let v: Value = serde_json::from_str(text).unwrap();
    tape.load_value(&v);
    let schemas = SchemaRegistry::load(&root().join("contracts/schemas")).unwrap();
    assert_eq!(
        schemas.frame_is_valid("chat_completion_chunk", tape.root()),
        Some(schemas.is_valid("chat_completion_chunk", &v).unwrap())
    );
}

/// A deterministic generator for mutants (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `parse` takes most frames with its own scanner and hands the rest to serde_json; whatever it
/// takes must be what serde_json takes, into the same tape.
fn assert_same_parse(text: &str, fast: &mut Tape, slow: &mut Tape) {
    let a = fast.parse(text).map_err(|e| e.to_string());
    let b = slow.parse_serde(text).map_err(|e| e.to_string());
    assert_eq!(a, b, "verdicts differ on {text:?}");
    assert_eq!(
        fast.has_duplicate_keys(),
        slow.has_duplicate_keys(),
        "{text:?}"
    );
    assert!(same(fast.root(), slow.root()), "tapes differ on {text:?}");
}

/// The same tree: kinds, values, keys in the same order (repeats included).
fn same(a: JsonRef<'_>, b: JsonRef<'_>) -> bool {
    if a.is_object() || b.is_object() {
        return a.is_object()
            && b.is_object()
            && a.len() == b.len()
            && a.members()
                .zip(b.members())
                .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb));
    }
    match (a.as_array(), b.as_array()) {
        (Some(x), Some(y)) => x.len() == y.len() && x.zip(y).all(|(p, q)| same(p, q)),
        (None, None) => {
            a.as_str() == b.as_str()
                && a.as_number() == b.as_number()
                && a.as_bool() == b.as_bool()
                && a.is_null() == b.is_null()
        }
        _ => false,
    }
}

#[test]
fn the_scanner_accepts_only_what_serde_json_accepts_and_builds_the_same_tape() {
    let (mut fast, mut slow) = (Tape::default(), Tape::default());
    let tricky = [
        "-0",
        "0",
        "-1",
        "1e400",
        "-1e400",
        "1.5e-3",
        "1E+2",
        "01",
        "1.",
        ".5",
        "-",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "999999999999999999",
        "1000000000000000000",
        r#""\ud800""#,
        r#""\ud83d\ude00""#,
        r#""\u00e9\n\t\"\\\/""#,
        r#""\x""#,
        "\"a\u{1}b\"",
        "\"é😀\"",
        r#"{"a":1,"a":2}"#,
        r#"{"a" : [ 1 , { } , [ ] , "" ] }"#,
        "[1,]",
        "{,}",
        r#"{"a":1,}"#,
        "tru",
        "nul",
        "true false",
        " \n\t\r[]\r\n ",
        "",
        "   ",
        "\u{feff}{}",
        r#"{"k":"v"}x"#,
    ];
    for t in tricky {
        assert_same_parse(t, &mut fast, &mut slow);
    }
    // Nesting past the scanner's depth goes to serde_json, which has its own limit.
    for depth in [63, 64, 65, 127, 128, 129, 200] {
        let t = "[".repeat(depth) + &"]".repeat(depth);
        assert_same_parse(&t, &mut fast, &mut slow);
    }
    // Every fixture frame, and mutants of it: a character deleted, inserted or replaced.
    let alphabet: Vec<char> = "\"\\{}[],:0-9.eE+ a\n\u{1}é".chars().collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut mutants = 0;
    for frame in fixture_frames() {
        let text = frame.to_string();
        assert_same_parse(&text, &mut fast, &mut slow);
        let chars: Vec<char> = text.chars().collect();
        for _ in 0..300 {
            let mut m = chars.clone();
            let at = rng.below(m.len());
            match rng.below(3) {
                0 => {
                    m.remove(at);
                }
                1 => m.insert(at, alphabet[rng.below(alphabet.len())]),
                _ => m[at] = alphabet[rng.below(alphabet.len())],
            }
            let m: String = m.into_iter().collect();
            assert_same_parse(&m, &mut fast, &mut slow);
            mutants += 1;
        }
    }
    assert!(mutants > 5_000, "{mutants}");
}
