//! Stream frames are validated on a tape, not a `serde_json::Value` (src/tape.rs). The verdict
//! must be the one the `Value` gets from the same schema: checked here on every data frame of the
//! repository's stream fixtures, against every stream schema (a frame of one family is invalid
//! for another's), and on mutants of each frame (a key removed, a value replaced by another type).

use std::path::PathBuf;

use llm_contract::schema::SchemaRegistry;
use llm_contract::sse::{SseItem, SseParser};
use llm_contract::tape::Tape;
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
