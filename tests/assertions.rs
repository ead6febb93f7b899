//! Assertions mean the same on a body and on a stream: for each streaming family, the same
//! assertions are judged on a non-streamed answer and on the frames of the equivalent stream
//! (reassembled by the family's grammar as they arrive), and give the same failures, the
//! passing ones none. A stream's answer carries its text, tool calls with their arguments, end
//! reason and usage, as the body does.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use llm_contract::contract::load::{parse_case, parse_target};
use llm_contract::contract::plan::plan;
use llm_contract::contract::schema::SchemaRegistry;
use llm_contract::exchange::sse::SseEvent;
use llm_contract::exchange::transport::{FrameSink, StreamRead, StreamStop};
use llm_contract::judge::assert::on_answer;
use llm_contract::judge::stream::StreamCheck;
use llm_contract::model::observation::StreamEnd;
use llm_contract::model::plan::Plan;
use serde_json::{json, Value};

fn schemas() -> SchemaRegistry {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contracts/schemas");
    SchemaRegistry::load(&dir).unwrap()
}

const TARGET: &str =
    "name: t\ndescription: d\nbase_url: http://x/v1\napi_key_env: K\nvars:\n  model: m\n";

/// The case's plan, streamed or not, holding `assertions` (YAML list items, indented by 2).
fn plan_of(family: &str, stream: bool, body: &str, assertions: &str) -> Plan {
    let stream_body = if stream { "    stream: true\n" } else { "" };
    let stream_expect = if stream {
        "  stream:\n    done: true\n"
    } else {
        ""
    };
    let case = format!(
        "id: c\ndescription: d\nfamily: {family}\nauth: valid\nrequest:\n  body:\n    model: ${{model}}\n{body}{stream_body}expect:\n  status: 200\n  class: ok\n{stream_expect}  invariants: [usage_arithmetic]\n  assert:\n{assertions}"
    );
    let case =
        Arc::new(parse_case(Path::new("c.yaml"), &case).unwrap_or_else(|e| panic!("{e}\n{case}")));
    let target = Arc::new(parse_target(Path::new("t.yaml"), TARGET).unwrap());
    plan(&case, &target).unwrap()
}

/// The failures the plan's assertions give on an answer, rendered.
fn judged(schemas: &SchemaRegistry, plan: &Plan, answer: &Value) -> Vec<String> {
    let mut out = Vec::new();
    on_answer(schemas, plan, answer, &mut out);
    out.iter().map(ToString::to_string).collect()
}

/// The answer a stream's frames add up to (`(event name, data)` each).
fn reassembled(schemas: &SchemaRegistry, plan: &Plan, frames: &[(Option<&str>, String)]) -> Value {
    let mut check = StreamCheck::for_plan(schemas, plan);
    for (index, (event, data)) in frames.iter().enumerate() {
        check.frame(
            SseEvent {
                index,
                event: event.map(str::to_string),
                data: data.clone(),
                id: None,
                offset: 0,
            },
            Duration::from_millis(index as u64),
        );
    }
    let read = StreamRead {
        stop: StreamStop::Eof { partial: false },
        events: frames.len(),
        bytes: 0,
        comments: 0,
        first_byte: Some(Duration::ZERO),
        event_reads: frames.len(),
    };
    let expect = plan.expect.stream.clone().unwrap();
    let end = check.finish(&read, &expect, &plan.expect);
    let failures: Vec<String> = check.failures.iter().map(ToString::to_string).collect();
    assert_eq!(end, StreamEnd::Complete, "{failures:?}");
    assert!(
        failures.is_empty(),
        "the stream itself is well formed: {failures:?}"
    );
    check.answer().cloned().expect("a reassembled answer")
}

fn data(v: Value) -> (Option<&'static str>, String) {
    (None, v.to_string())
}

fn event(name: &'static str, v: Value) -> (Option<&'static str>, String) {
    (Some(name), v.to_string())
}

/// Assertions that hold on each family's answer, and ones that do not (each with the start of
/// the failure it gives).
struct Table {
    family: &'static str,
    body_yaml: &'static str,
    answer: Value,
    frames: Vec<(Option<&'static str>, String)>,
    hold: &'static str,
    fail: &'static [(&'static str, &'static str)],
}

fn chat() -> Table {
    let chunk = |delta: Value, finish: Value| {
        data(
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
        )
    };
    Table {
        family: "chat_completions",
        body_yaml: "    messages: [{role: user, content: Weather?}]\n    tools: [{type: function, function: {name: weather, parameters: {type: object}}}]\n    stream_options: {include_usage: true}\n",
        answer: json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Checking Paris.",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Paris\", \"days\": 2}"}}]}}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16}}),
        frames: vec![
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": "Checking "}), Value::Null),
            chunk(json!({"content": "Paris."}), Value::Null),
            chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "weather", "arguments": ""}}]}), Value::Null),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": \"Par"}}]}), Value::Null),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "is\", \"days\": 2}"}}]}), Value::Null),
            chunk(json!({}), json!("tool_calls")),
            data(json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
                "usage": {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16}})),
            (None, "[DONE]".to_string()),
        ],
        hold: "  - {at: /choices/0/message/content, matches: '^Checking Paris\\.$'}\n  - {at: /choices/0/message/tool_calls/0/function/arguments, json: /city, equals: Paris}\n  - {at: /choices/0/message/tool_calls/0/function/arguments, json: true, schema: {type: object, required: [city, days]}}\n  - {at: /choices/*/finish_reason, one_of: [tool_calls]}\n  - {at: /choices, length: 1}\n  - {at: /usage/total_tokens, min: 1}\n",
        fail: &[
            ("  - {at: /choices/0/message/content, contains: London}\n", "assert /choices/0/message/content: expected it to contain \"London\""),
            ("  - {at: /choices/0/message/tool_calls/0/function/arguments, json: /days, equals: 3}\n", "assert /choices/0/message/tool_calls/0/function/arguments (parsed as JSON) /days: expected 3, found 2"),
            ("  - {at: /choices/0/message/refusal, exists: true}\n", "assert /choices/0/message/refusal: expected a value, found none"),
            ("  - {at: /usage/total_tokens, max: 10}\n", "assert /usage/total_tokens: expected at most 10, found 16"),
        ],
    }
}

fn messages() -> Table {
    let ev = |name: &'static str, v: Value| event(name, v);
    Table {
        family: "messages",
        body_yaml: "    max_tokens: 64\n    messages: [{role: user, content: Weather?}]\n",
        answer: json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "Checking Paris."}, {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}],
            "stop_reason": "tool_use", "stop_sequence": null, "usage": {"input_tokens": 7, "output_tokens": 9}}),
        frames: vec![
            ev("message_start", json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 7, "output_tokens": 1}}})),
            ev("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
            ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking "}})),
            ev("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Paris."}})),
            ev("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            ev("content_block_start", json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}})),
            ev("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}})),
            ev("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}})),
            ev("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
            ev("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 9}})),
            ev("message_stop", json!({"type": "message_stop"})),
        ],
        hold: "  - {at: /content/0/text, equals: Checking Paris.}\n  - {at: /content/1/input/city, equals: Paris}\n  - {at: /content/1/id, matches: ^toolu_}\n  - {at: /stop_reason, equals: tool_use}\n  - {at: /usage/output_tokens, equals: 9}\n  - {at: /content/*/type, one_of: [text, tool_use]}\n",
        fail: &[
            ("  - {at: /content/0/text, matches: London}\n", "assert /content/0/text: expected a string matching /London/"),
            ("  - {at: /content/1/input/days, exists: true}\n", "assert /content/1/input/days: expected a value, found none"),
            ("  - {at: /stop_reason, equals: end_turn}\n", "assert /stop_reason: expected \"end_turn\", found \"tool_use\""),
            ("  - {at: /content, length: 3}\n", "assert /content: expected length exactly 3, found 2"),
        ],
    }
}

fn responses() -> Table {
    let resp = json!({"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": "m", "error": null, "incomplete_details": null,
        "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": "Paris.", "annotations": []}]}],
        "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}});
    let mut created = resp.clone();
    created["status"] = json!("in_progress");
    created["output"] = json!([]);
    Table {
        family: "responses",
        body_yaml: "    input: Capital of France?\n",
        answer: resp.clone(),
        frames: vec![
            event("response.created", json!({"type": "response.created", "sequence_number": 0, "response": created})),
            event("response.output_item.added", json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": {"type": "message", "id": "msg_1", "status": "in_progress", "role": "assistant", "content": []}})),
            event("response.output_text.delta", json!({"type": "response.output_text.delta", "sequence_number": 2, "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Paris."})),
            event("response.output_item.done", json!({"type": "response.output_item.done", "sequence_number": 3, "output_index": 0, "item": resp["output"][0]})),
            event("response.completed", json!({"type": "response.completed", "sequence_number": 4, "response": resp})),
        ],
        hold: "  - {at: /output/0/content/0/text, equals: Paris.}\n  - {at: /status, equals: completed}\n  - {at: /usage/total_tokens, equals: 7}\n",
        fail: &[
            ("  - {at: /output/0/content/0/text, equals: Lyon.}\n", "assert /output/0/content/0/text: expected \"Lyon.\", found \"Paris.\""),
            ("  - {at: /output, length: {min: 2}}\n", "assert /output: expected length at least 2, found 1"),
        ],
    }
}

#[test]
fn the_same_assertions_give_the_same_failures_on_a_body_and_on_its_stream() {
    let schemas = schemas();
    for t in [chat(), messages(), responses()] {
        let mut all = t.hold.to_string();
        for (a, _) in t.fail {
            all.push_str(a);
        }
        // What holds holds on both.
        let body_plan = plan_of(t.family, false, t.body_yaml, t.hold);
        let stream_plan = plan_of(t.family, true, t.body_yaml, t.hold);
        let answer = reassembled(&schemas, &stream_plan, &t.frames);
        assert_eq!(
            judged(&schemas, &body_plan, &t.answer),
            Vec::<String>::new(),
            "{}: body",
            t.family
        );
        assert_eq!(
            judged(&schemas, &stream_plan, &answer),
            Vec::<String>::new(),
            "{}: stream\n{answer:#}",
            t.family
        );
        // What fails fails on both, with the same words.
        let body_plan = plan_of(t.family, false, t.body_yaml, &all);
        let stream_plan = plan_of(t.family, true, t.body_yaml, &all);
        let answer = reassembled(&schemas, &stream_plan, &t.frames);
        let on_body = judged(&schemas, &body_plan, &t.answer);
        let on_stream = judged(&schemas, &stream_plan, &answer);
        assert_eq!(on_body, on_stream, "{}", t.family);
        assert_eq!(on_body.len(), t.fail.len(), "{}: {on_body:#?}", t.family);
        for ((_, want), got) in t.fail.iter().zip(&on_body) {
            assert!(
                got.starts_with(want),
                "{}: {got} does not start with {want}",
                t.family
            );
        }
    }
}
