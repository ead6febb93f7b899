//! Table tests of the assertion and invariant checks.

use std::path::Path;

use serde_json::{json, Value};

use super::*;
use crate::model::assertion::Assertion;

fn schemas() -> SchemaRegistry {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts/schemas");
    SchemaRegistry::load(&dir).unwrap()
}

fn assertion(yaml: &str) -> Assertion {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
}

fn answer() -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [
            {"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "PONG {\"a\": 1}",
                "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "weather", "arguments": "{\"city\": \"Paris\", \"days\": 3}"}}]
            }},
            {"index": 1, "finish_reason": "stop", "message": {"role": "assistant", "content": null}}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    })
}

/// Each assertion, and the failures (rendered) it gives on `answer()`: none when it holds.
#[test]
fn each_predicate_holds_or_fails_with_its_pointer() {
    let table: &[(&str, &[&str])] = &[
        ("at: /model\nexists: true", &[]),
        ("at: /nope\nexists: true", &["assert /nope: expected a value, found none"]),
        ("at: /choices/1/message/content\nexists: true", &["assert /choices/1/message/content: expected a value, found none"]),
        ("at: /choices/1/message/content\nexists: false", &[]),
        ("at: /choices/1/message/content\ntype: null", &[]),
        ("at: /model\nexists: false", &["assert /model: expected nothing, found \"m\""]),
        ("at: /model\nequals: m", &[]),
        ("at: /usage/total_tokens\nequals: 12.0", &[]),
        ("at: /model\nequals: x", &["assert /model: expected \"x\", found \"m\""]),
        ("at: /choices/0/finish_reason\none_of: [stop, tool_calls]", &[]),
        ("at: /choices/1/finish_reason\none_of: [length]", &["assert /choices/1/finish_reason: expected one of [\"length\"], found \"stop\""]),
        ("at: /choices/0/message/content\nmatches: (?i)^pong", &[]),
        ("at: /choices/0/message/content\nmatches: ^ping", &["assert /choices/0/message/content: expected a string matching /^ping/, found \"PONG {\\\"a\\\": 1}\""]),
        ("at: /choices/0/message/content\ncontains: PONG", &[]),
        ("at: /choices/0/message/tool_calls/0/type\ntype: string", &[]),
        ("at: /usage/total_tokens\ntype: number", &[]),
        ("at: /usage\ntype: [array, string]", &["assert /usage: expected type array or string, found object"]),
        ("at: /choices\nlength: 2", &[]),
        ("at: /choices\nlength: {min: 3}", &["assert /choices: expected length at least 3, found 2"]),
        ("at: /model\nlength: 1", &[]),
        ("at: /usage/total_tokens\nlength: 1", &["assert /usage/total_tokens: expected a string, array or object for `length`, found integer"]),
        ("at: /usage/total_tokens\nmin: 12\nmax: 12", &[]),
        ("at: /usage/total_tokens\nmax: 11", &["assert /usage/total_tokens: expected at most 11, found 12"]),
        ("at: /model\nmin: 1", &["assert /model: expected a number, found string"]),
        ("at: /choices/*/index\ntype: integer", &[]),
        ("at: /choices/*/message/content\ntype: string", &["assert /choices/1/message/content: expected a value, found none"]),
        ("at: /choices/*/finish_reason\nequals: stop", &["assert /choices/0/finish_reason: expected \"stop\", found \"tool_calls\""]),
        ("at: /nothing/*/x\nexists: false", &[]),
        ("at: /nothing/*/x\nexists: true", &["assert /nothing/*/x: expected a value, found none"]),
        ("at: /choices/0/message/tool_calls/0/function/arguments\njson: /city\nequals: Paris", &[]),
        ("at: /choices/0/message/tool_calls/0/function/arguments\njson: true\nschema: {type: object, required: [city, days], properties: {days: {type: integer}}}", &[]),
        ("at: /choices/0/message/tool_calls/0/function/arguments\njson: true\nschema: {type: object, required: [country]}", &["assert /choices/0/message/tool_calls/0/function/arguments (parsed as JSON) /: breaks schema (written in the case): /: \"country\" is a required property (schema /required)"]),
        ("at: /choices/0/message/content\njson: true\nexists: true", &["assert /choices/0/message/content: expected a string holding JSON: expected value at line 1 column 1: \"PONG {\\\"a\\\": 1}\""]),
        ("at: /usage\njson: true\nexists: true", &["assert /usage: expected a string holding JSON: found object"]),
        ("at: \"\"\nschema: chat_completion", &[]),
        ("at: /choices/0\nschema: error", &["assert /choices/0: breaks schema error: /: \"error\" is a required property (schema /required)"]),
    ];
    let schemas = schemas();
    let doc = answer();
    for (yaml, want) in table {
        let mut out = Vec::new();
        check(&schemas, &[assertion(yaml)], &doc, &mut out);
        let got: Vec<String> = out.iter().map(ToString::to_string).collect();
        assert_eq!(got, *want, "{yaml}");
    }
}

#[test]
fn malformed_assertions_are_refused_with_a_reason() {
    let table: &[(&str, &str)] = &[
        ("at: model\nexists: true", "must start with `/`"),
        ("at: /a~2\nexists: true", "`~0`"),
        ("at: /a", "needs a predicate"),
        ("at: /a\nmatches: '('", "not a valid regular expression"),
        ("at: /a\nlength: {}", "needs a number"),
        ("at: /a\nmin: 3\nmax: 2", "above max"),
        ("at: /a\none_of: []", "at least one value"),
        ("at: /a\nexist: true", "unknown field `exist`"),
        ("at: /a\ntype: text", "\"text\" is not a JSON type (one of: string, number"),
    ];
    for (yaml, want) in table {
        let err = serde_yaml::from_str::<Assertion>(yaml).unwrap_err().to_string();
        assert!(err.contains(want), "{yaml}: {err}");
    }
}

#[test]
fn invariants_hold_or_say_what_broke() {
    let table: &[(Invariant, Value, Option<u64>, Option<&str>)] = &[
        (Invariant::UsageArithmetic, answer(), None, None),
        (Invariant::UsageArithmetic, json!({"usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 13}}), None, Some("total_tokens 13 ≠ prompt_tokens 5 + completion_tokens 7")),
        (Invariant::UsageArithmetic, json!({"usage": {"prompt_tokens": 5, "total_tokens": 5}}), None, None),
        (Invariant::UsageArithmetic, json!({"usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}}), None, None),
        (Invariant::UsageArithmetic, json!({"usage": {"input_tokens": 5, "output_tokens": 2}}), None, None),
        (Invariant::UsageArithmetic, json!({"usage": {"input_tokens": -1, "output_tokens": 2}}), None, Some("`input_tokens` is -1, not a whole number ≥ 0")),
        (Invariant::UsageArithmetic, json!({}), None, Some("the answer carries no `usage` object")),
        (Invariant::ChoicesMatchN, answer(), Some(2), None),
        (Invariant::ChoicesMatchN, answer(), None, Some("the request asked for n = 1 choices, the answer has 2")),
        (Invariant::DistinctChoiceIndices, answer(), None, None),
        (Invariant::DistinctChoiceIndices, json!({"choices": [{"index": 0}, {"index": 0}]}), None, Some("two choices have index 0")),
        (Invariant::DistinctChoiceIndices, json!({"choices": [{"index": 1}]}), None, Some("the indices are [1], not 0..1")),
        (Invariant::UsageArithmetic, json!({"object": "list", "usage": {"prompt_tokens": 8, "total_tokens": 8}}), None, None),
        (Invariant::UsageArithmetic, json!({"usage": {"prompt_tokens": 8, "total_tokens": 9}}), None, Some("total_tokens 9 ≠ prompt_tokens 8 + completion_tokens 0")),
        (Invariant::UsageArithmetic, json!({"usage": {"prompt_tokens": 8}}), None, Some("`usage` has neither `total_tokens` nor `input_tokens` and `output_tokens`")),
        (Invariant::UsageArithmetic, json!({"usage": {"total_tokens": 8}}), None, Some("`total_tokens` without `prompt_tokens` (or `input_tokens`)")),
        (Invariant::ModelListed, json!({"object": "list", "data": [{"id": "m-0"}, {"id": "m-1"}]}), None, None),
        (Invariant::ModelListed, json!({"object": "list", "data": [{"id": "m-0"}, {"id": "m-2"}]}), None, Some("\"m-1\" is not among the 2 models listed (\"m-0\", \"m-2\")")),
        (Invariant::ModelListed, json!({"object": "list", "data": []}), None, Some("\"m-1\" is not among the 0 models listed")),
        (Invariant::ModelListed, json!({"error": {"code": "model_not_found"}}), None, Some("the answer has no `data` array")),
    ];
    for (name, doc, n, want) in table {
        let mut out = Vec::new();
        invariants(&[*name], doc, Asked { n: *n, model: Some("m-1") }, &mut out);
        let got = out.first().map(ToString::to_string);
        let want = want.map(|w| format!("invariant {}: {w}", name.as_str()));
        assert_eq!(got, want, "{name:?} on {doc}");
    }
}

#[test]
fn decoded_base64_floats_are_compared_with_a_tolerance() {
    // 1.0 and -2.5 as little-endian f32, base64: "AACAPwAAIMA=".
    let doc = json!({"data": [{"embedding": "AACAPwAAIMA="}]});
    let close = |value: Value, tolerance: f64| -> Assertion {
        serde_yaml::from_str(&format!(
            "at: /data/0/embedding\ndecode: base64_f32le\nclose_to: {{value: {value}, tolerance: {tolerance}}}"
        ))
        .unwrap()
    };
    let table: &[(Value, Assertion, Option<&str>)] = &[
        (doc.clone(), close(json!([1.0, -2.5]), 0.0), None),
        (doc.clone(), close(json!([1.0005, -2.5]), 0.001), None),
        (doc.clone(), close(json!([1.0, -2.4]), 0.001), Some("assert /data/0/embedding (decoded as base64_f32le): element 1: expected -2.4 ± 0.001, found -2.5")),
        (doc.clone(), close(json!([1.0]), 0.001), Some("expected 1 numbers, found 2")),
        // Big-endian bytes of the same numbers decode to others: the byte order is checked.
        (json!({"data": [{"embedding": "P4AAAMAgAAA="}]}), close(json!([1.0, -2.5]), 0.001), Some("element 0: expected 1 ± 0.001")),
        (json!({"data": [{"embedding": [1.0, -2.5]}]}), close(json!([1.0, -2.5]), 0.001), Some("expected a string holding base64_f32le: found array")),
        (json!({"data": [{"embedding": "AACAPwAAIM"}]}), close(json!([1.0, -2.5]), 0.001), Some("expected a string holding base64_f32le: 7 bytes are not a whole number of 4-byte floats")),
        (json!({"data": [{"embedding": "not base64!"}]}), close(json!([1.0]), 0.001), Some("is not base64")),
        (json!({"data": [{}]}), close(json!([1.0]), 0.001), Some("expected a value, found none")),
    ];
    for (doc, a, want) in table {
        let mut out = Vec::new();
        check(&schemas(), std::slice::from_ref(a), doc, &mut out);
        let got = out.first().map(ToString::to_string);
        match (got, want) {
            (None, None) => {}
            (Some(g), Some(w)) => assert!(g.contains(w), "{doc}: {g}"),
            (g, w) => panic!("{doc}: got {g:?}, want {w:?}"),
        }
    }
    // Plain numbers, and arrays, without decoding.
    let a: Assertion = serde_yaml::from_str("at: /x\nclose_to: {value: 0.5, tolerance: 0.1}").unwrap();
    let mut out = Vec::new();
    check(&schemas(), std::slice::from_ref(&a), &json!({"x": 0.55}), &mut out);
    check(&schemas(), std::slice::from_ref(&a), &json!({"x": "0.5"}), &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].to_string().contains("expected a number or an array of numbers, found string"));
}

#[test]
fn decode_and_close_to_are_checked_when_written() {
    let table: &[(&str, &str)] = &[
        ("at: /a\njson: true\ndecode: base64_f32le", "`json` and `decode` read the string two ways"),
        ("at: /a\ndecode: base64", "unknown variant `base64`"),
        ("at: /a\nclose_to: {value: [1, x], tolerance: 0.1}", "`value` must be a number, an array of numbers"),
        ("at: /a\nclose_to: {value: 1, tolerance: -1}", "`tolerance` must be a finite number ≥ 0"),
        ("at: /a\nclose_to: {value: 1}", "missing field `tolerance`"),
    ];
    for (yaml, want) in table {
        let err = serde_yaml::from_str::<Assertion>(yaml).unwrap_err().to_string();
        assert!(err.contains(want), "{yaml}: {err}");
    }
    let a: Assertion = serde_yaml::from_str("at: /a\ndecode: base64_f32le").unwrap();
    assert_eq!(a.describe_at(), "/a (decoded as base64_f32le)");
}
