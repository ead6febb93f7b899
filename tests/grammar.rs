//! The stream grammars, family by family: each accepts a well-formed stream with pings and event
//! types it does not know, and rejects events out of order, a missing terminal event and
//! anything after it. Frames go through the same driver the runner uses (schema per frame,
//! error frames, end checks), with the repository's schemas.

use std::path::PathBuf;
use std::time::Duration;

use llm_contract::contract::schema::SchemaRegistry;
use llm_contract::exchange::sse::SseEvent;
use llm_contract::exchange::transport::{FrameSink, StreamRead, StreamStop};
use llm_contract::judge::family::grammar as family_grammar;
use llm_contract::judge::stream::StreamCheck;
use llm_contract::model::class::Class;
use llm_contract::model::family;
use llm_contract::model::family::Family;
use llm_contract::model::observation::StreamEnd;
use llm_contract::model::plan::{Expect, Limits, StreamExpect};
use serde_json::{json, Value};

fn schemas() -> SchemaRegistry {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contracts/schemas");
    SchemaRegistry::load(&dir).expect("the repository's schemas load")
}

fn expect(finish: Option<&[&str]>) -> Expect {
    Expect {
        status: vec![200],
        class: Class::Ok,
        schema: None,
        error_code: None,
        finish_reason: finish.map(|f| f.iter().map(|s| s.to_string()).collect()),
        stream: None,
        limits: Limits::default(),
        assert: Vec::new(),
        invariants: Vec::new(),
    }
}

fn stream_expect() -> StreamExpect {
    StreamExpect {
        done: true,
        usage_chunk: false,
        chunk_schema: None,
        idle_ms: None,
        incremental: false,
    }
}

/// A frame as the wire sends it: `event:` name (when given) and JSON data or a marker.
enum F {
    Named(&'static str, Value),
    Data(Value),
    Marker(&'static str),
}

struct Verdict {
    end: StreamEnd,
    failures: Vec<String>,
    finish: Option<String>,
    content_chars: usize,
    tool_calls: bool,
    error_code: Option<String>,
    deviations: Vec<&'static str>,
}

fn run(family: &Family, frames: Vec<F>, finish: Option<&[&str]>) -> Verdict {
    let schemas = schemas();
    let mut check = StreamCheck::new(
        &schemas,
        family.chunk_schema,
        family.response_schema,
        family_grammar(family),
    );
    let mut offset = 0u64;
    let mut events = 0;
    for (index, f) in frames.into_iter().enumerate() {
        let (event, data) = match f {
            F::Named(name, v) => (Some(name.to_string()), v.to_string()),
            F::Data(v) => (None, v.to_string()),
            F::Marker(m) => (None, m.to_string()),
        };
        let len = data.len() as u64 + 8;
        let go = check.frame(
            SseEvent {
                index,
                event,
                data,
                id: None,
                offset,
            },
            Duration::from_millis(index as u64),
        );
        offset += len;
        events += 1;
        if !go {
            break;
        }
    }
    let read = StreamRead {
        stop: StreamStop::Eof { partial: false },
        events,
        bytes: offset,
        comments: 0,
        first_byte: Some(Duration::ZERO),
        event_reads: events,
    };
    let end = check.finish(&read, &stream_expect(), &expect(finish));
    let signals = check.signals().clone();
    Verdict {
        end,
        failures: check.failures.iter().map(ToString::to_string).collect(),
        finish: signals.finish.first().and_then(|(_, r)| r.clone()),
        content_chars: signals.content_chars,
        tool_calls: signals.tool_calls,
        error_code: check
            .error_frame
            .as_ref()
            .and_then(|(_, e)| e.code.clone().or(e.r#type.clone())),
        deviations: check.deviations.iter().map(|d| d.name).collect(),
    }
}

fn has(v: &Verdict, needle: &str) -> bool {
    v.failures.iter().any(|f| f.contains(needle))
}

// ---- Messages -------------------------------------------------------------------------------

fn m(ty: &'static str, mut v: Value) -> F {
    v["type"] = json!(ty);
    F::Named(ty, v)
}

fn message_start() -> F {
    m(
        "message_start",
        json!({"message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [],
            "model": "claude-haiku-4-5", "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 1}}}),
    )
}

fn text_block(i: usize, text: &str) -> Vec<F> {
    vec![
        m(
            "content_block_start",
            json!({"index": i, "content_block": {"type": "text", "text": ""}}),
        ),
        m(
            "content_block_delta",
            json!({"index": i, "delta": {"type": "text_delta", "text": text}}),
        ),
        m("content_block_stop", json!({"index": i})),
    ]
}

fn message_end(reason: &str) -> Vec<F> {
    vec![
        m(
            "message_delta",
            json!({"delta": {"stop_reason": reason, "stop_sequence": null}, "usage": {"output_tokens": 5}}),
        ),
        m("message_stop", json!({})),
    ]
}

fn messages_stream(middle: Vec<F>) -> Vec<F> {
    let mut v = vec![message_start()];
    v.extend(middle);
    v.extend(message_end("end_turn"));
    v
}

#[test]
fn messages_accepts_pings_anywhere_and_unknown_events() {
    let mut frames = vec![m("ping", json!({})), message_start(), m("ping", json!({}))];
    let mut block = text_block(0, "Pong.");
    block.insert(2, m("ping", json!({})));
    frames.extend(block);
    frames.push(m("future_event", json!({"anything": true})));
    frames.extend(text_block(1, " Again."));
    frames.push(m("ping", json!({})));
    frames.extend(message_end("end_turn"));
    let v = run(&family::MESSAGES, frames, Some(&["end_turn"]));
    assert_eq!(v.end, StreamEnd::Complete, "{:?}", v.failures);
    assert!(v.failures.is_empty(), "{:?}", v.failures);
    assert_eq!(v.finish.as_deref(), Some("end_turn"));
    assert_eq!(v.content_chars, "Pong. Again.".len());
}

#[test]
fn messages_reassembles_tool_use_input() {
    let frames = messages_stream(vec![
        m(
            "content_block_start",
            json!({"index": 0, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}),
        ),
        m(
            "content_block_delta",
            json!({"index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}}),
        ),
        m(
            "content_block_delta",
            json!({"index": 0, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}}),
        ),
        m("content_block_stop", json!({"index": 0})),
    ]);
    let v = run(&family::MESSAGES, frames, None);
    assert!(v.failures.is_empty(), "{:?}", v.failures);
    assert!(v.tool_calls);

    let broken = messages_stream(vec![
        m(
            "content_block_start",
            json!({"index": 0, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}),
        ),
        m(
            "content_block_delta",
            json!({"index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}}),
        ),
        m("content_block_stop", json!({"index": 0})),
    ]);
    let v = run(&family::MESSAGES, broken, None);
    assert!(has(&v, "not valid JSON"), "{:?}", v.failures);
}

#[test]
fn messages_rejects_events_out_of_order() {
    // A delta before its block started.
    let v = run(
        &family::MESSAGES,
        messages_stream(vec![m(
            "content_block_delta",
            json!({"index": 0, "delta": {"type": "text_delta", "text": "x"}}),
        )]),
        None,
    );
    assert_eq!(v.end, StreamEnd::Malformed);
    assert!(
        has(&v, "content_block_delta for block 0, which never started"),
        "{:?}",
        v.failures
    );

    // A delta after its block stopped.
    let mut middle = text_block(0, "a");
    middle.push(m(
        "content_block_delta",
        json!({"index": 0, "delta": {"type": "text_delta", "text": "b"}}),
    ));
    let v = run(&family::MESSAGES, messages_stream(middle), None);
    assert!(has(&v, "after its content_block_stop"), "{:?}", v.failures);

    // Content before message_start.
    let mut frames = text_block(0, "a");
    frames.insert(0, message_start());
    frames.swap(0, 1);
    frames.extend(message_end("end_turn"));
    let v = run(&family::MESSAGES, frames, None);
    assert!(
        has(&v, "content_block_start before message_start"),
        "{:?}",
        v.failures
    );

    // message_delta while a block is still open, and a block after message_delta.
    let frames = vec![
        message_start(),
        m(
            "content_block_start",
            json!({"index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        m(
            "message_delta",
            json!({"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}),
        ),
        m("content_block_stop", json!({"index": 0})),
        m("message_stop", json!({})),
    ];
    let v = run(&family::MESSAGES, frames, None);
    assert!(
        has(&v, "message_delta while content block 0 is still open"),
        "{:?}",
        v.failures
    );
    assert!(
        has(&v, "content_block_stop after message_delta"),
        "{:?}",
        v.failures
    );

    // Blocks out of order.
    let mut middle = text_block(1, "b");
    middle.extend(text_block(0, "a"));
    let v = run(&family::MESSAGES, messages_stream(middle), None);
    assert!(
        has(
            &v,
            "content block 1 started out of order (expected block 0)"
        ),
        "{:?}",
        v.failures
    );

    // The SSE event name and the data's type disagree.
    let mut frames = messages_stream(text_block(0, "a"));
    frames[1] = F::Named(
        "content_block_delta",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    );
    let v = run(&family::MESSAGES, frames, None);
    assert!(
        has(
            &v,
            "`event: content_block_delta` but its data says type \"content_block_start\""
        ),
        "{:?}",
        v.failures
    );
}

#[test]
fn messages_without_message_stop_is_cut_and_events_after_it_are_malformed() {
    let mut frames = messages_stream(text_block(0, "Po"));
    frames.pop(); // message_stop
    let v = run(&family::MESSAGES, frames, None);
    assert_eq!(v.end, StreamEnd::Cut);
    assert!(
        has(
            &v,
            "truncated: no `message_stop` event after 5 frames and 2 characters"
        ),
        "{:?}",
        v.failures
    );

    let mut frames = messages_stream(text_block(0, "Pong"));
    frames.push(m("ping", json!({})));
    let v = run(&family::MESSAGES, frames, None);
    assert_eq!(v.end, StreamEnd::Malformed);
    assert!(
        has(&v, "1 events arrived after message_stop"),
        "{:?}",
        v.failures
    );
}

#[test]
fn messages_error_event_after_200_is_an_error_frame() {
    let mut frames = vec![message_start()];
    frames.extend(text_block(0, "Po"));
    frames.push(m(
        "error",
        json!({"error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    let v = run(&family::MESSAGES, frames, None);
    assert_eq!(v.end, StreamEnd::ErrorFrame);
    assert_eq!(v.error_code.as_deref(), Some("overloaded_error"));
}

#[test]
fn messages_stop_reasons_are_checked() {
    let mut frames = vec![message_start()];
    frames.extend(text_block(0, "Po"));
    frames.extend(message_end("max_tokens"));
    let v = run(&family::MESSAGES, frames, Some(&["end_turn"]));
    assert_eq!(v.finish.as_deref(), Some("max_tokens"));
    assert!(
        has(&v, "expected one of [end_turn], got \"max_tokens\""),
        "{:?}",
        v.failures
    );
}

// ---- Responses ------------------------------------------------------------------------------

fn response(status: &str) -> Value {
    json!({"id": "resp_1", "object": "response", "created_at": 1740855869, "status": status,
        "model": "gpt-5.4-mini", "output": [], "error": null, "incomplete_details": null})
}

fn r(seq: u64, ty: &'static str, mut v: Value) -> F {
    v["type"] = json!(ty);
    v["sequence_number"] = json!(seq);
    F::Named(ty, v)
}

fn responses_stream(extra: Vec<(usize, F)>) -> Vec<F> {
    let mut done = response("completed");
    done["output"] = json!([{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": "Pong.", "annotations": []}]}]);
    let mut v = vec![
        r(
            0,
            "response.created",
            json!({"response": response("in_progress")}),
        ),
        r(
            1,
            "response.in_progress",
            json!({"response": response("in_progress")}),
        ),
        r(
            2,
            "response.output_item.added",
            json!({"output_index": 0, "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
        ),
        r(
            3,
            "response.output_text.delta",
            json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Pong."}),
        ),
        r(
            4,
            "response.output_item.done",
            json!({"output_index": 0, "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}),
        ),
        r(5, "response.completed", json!({"response": done})),
    ];
    for (at, f) in extra.into_iter().rev() {
        v.insert(at, f);
    }
    v
}

#[test]
fn responses_accepts_the_documented_sequence_unknown_events_and_a_trailing_done() {
    let mut frames = responses_stream(vec![(
        3,
        r(3, "response.some_future_event", json!({"anything": 1})),
    )]);
    // Renumber: sequence numbers must keep increasing.
    for (i, f) in frames.iter_mut().enumerate() {
        if let F::Named(_, v) = f {
            v["sequence_number"] = json!(i);
        }
    }
    frames.push(F::Marker("[DONE]"));
    let v = run(&family::RESPONSES, frames, Some(&["completed"]));
    assert_eq!(v.end, StreamEnd::Complete, "{:?}", v.failures);
    assert!(v.failures.is_empty(), "{:?}", v.failures);
    assert_eq!(v.finish.as_deref(), Some("completed"));
    assert_eq!(v.content_chars, 5);
}

#[test]
fn responses_rejects_out_of_order_events() {
    // A text delta for an item never added.
    let mut frames = responses_stream(vec![]);
    frames.remove(2);
    let v = run(&family::RESPONSES, frames, None);
    assert_eq!(v.end, StreamEnd::Malformed);
    assert!(
        has(&v, "for output item 0, which was never added"),
        "{:?}",
        v.failures
    );

    // Sequence numbers going backwards.
    let mut frames = responses_stream(vec![]);
    if let F::Named(_, v) = &mut frames[3] {
        v["sequence_number"] = json!(1);
    }
    let v = run(&family::RESPONSES, frames, None);
    assert!(
        has(&v, "sequence_number 1 after 2 (out of order)"),
        "{:?}",
        v.failures
    );

    // An event before response.created.
    let mut frames = responses_stream(vec![]);
    frames.swap(0, 2);
    let v = run(&family::RESPONSES, frames, None);
    assert!(
        has(&v, "response.output_item.added before response.created"),
        "{:?}",
        v.failures
    );

    // Events after the terminal event.
    let mut frames = responses_stream(vec![]);
    frames.push(r(
        6,
        "response.output_text.delta",
        json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "x"}),
    ));
    let v = run(&family::RESPONSES, frames, None);
    assert!(
        has(&v, "1 events arrived after the terminal event"),
        "{:?}",
        v.failures
    );
}

#[test]
fn responses_without_completed_is_cut() {
    let mut frames = responses_stream(vec![]);
    frames.pop();
    frames.push(F::Marker("[DONE]"));
    let v = run(&family::RESPONSES, frames, None);
    assert_eq!(v.end, StreamEnd::Cut);
    assert!(
        has(&v, "truncated: no `response.completed` event"),
        "{:?}",
        v.failures
    );
}

#[test]
fn responses_error_event_and_response_failed_are_error_frames() {
    let mut frames = responses_stream(vec![]);
    frames.truncate(4);
    frames.push(r(
        4,
        "error",
        json!({"code": "server_error", "message": "The model failed to generate a response.", "param": null}),
    ));
    let mut failed = response("failed");
    failed["error"] =
        json!({"code": "server_error", "message": "The model failed to generate a response."});
    frames.push(r(5, "response.failed", json!({"response": failed.clone()})));
    frames.push(F::Marker("[DONE]"));
    let v = run(&family::RESPONSES, frames, None);
    assert_eq!(v.end, StreamEnd::ErrorFrame);
    assert_eq!(v.error_code.as_deref(), Some("server_error"));

    // response.failed alone.
    let mut frames = responses_stream(vec![]);
    frames.truncate(2);
    frames.push(r(2, "response.failed", json!({"response": failed})));
    let v = run(&family::RESPONSES, frames, None);
    assert_eq!(v.end, StreamEnd::ErrorFrame);
    assert_eq!(v.error_code.as_deref(), Some("server_error"));
}

/// A streamed function call: added, two argument deltas, done, item done, completed; `done`
/// (the `.done` event's arguments), `item` (output_item.done's) and `last` (the completed
/// response's) as given.
fn function_call_stream(done: &str, item: &str, last: &str) -> Vec<F> {
    let call = |args: &str| {
        json!({"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
            "arguments": args, "status": "completed"})
    };
    let mut completed = response("completed");
    completed["output"] = json!([call(last)]);
    vec![
        r(
            0,
            "response.created",
            json!({"response": response("in_progress")}),
        ),
        r(
            1,
            "response.output_item.added",
            json!({"output_index": 0, "item": call("")}),
        ),
        r(
            2,
            "response.function_call_arguments.delta",
            json!({"item_id": "fc_1", "output_index": 0, "delta": "{\"city\":"}),
        ),
        r(
            3,
            "response.function_call_arguments.delta",
            json!({"item_id": "fc_1", "output_index": 0, "delta": "\"Paris\"}"}),
        ),
        r(
            4,
            "response.function_call_arguments.done",
            json!({"item_id": "fc_1", "name": "get_weather", "output_index": 0, "arguments": done}),
        ),
        r(
            5,
            "response.output_item.done",
            json!({"output_index": 0, "item": call(item)}),
        ),
        r(6, "response.completed", json!({"response": completed})),
    ]
}

#[test]
fn responses_function_call_arguments_repeat_what_the_deltas_added_up_to() {
    let args = r#"{"city":"Paris"}"#;
    let v = run(
        &family::RESPONSES,
        function_call_stream(args, args, args),
        Some(&["completed"]),
    );
    assert_eq!(v.end, StreamEnd::Complete, "{:?}", v.failures);
    assert!(v.failures.is_empty(), "{:?}", v.failures);
    assert!(v.tool_calls);

    // The done event empties them (a gateway that forwards deltas but not the final text).
    let v = run(
        &family::RESPONSES,
        function_call_stream("", args, args),
        Some(&["completed"]),
    );
    assert_eq!(v.end, StreamEnd::Malformed);
    assert!(
        has(
            &v,
            "function call 0 (get_weather): response.function_call_arguments.done carries the arguments ``"
        ),
        "{:?}",
        v.failures
    );

    // The item or the completed response says something else.
    for (item, last, event) in [
        ("{}", args, "response.output_item.done"),
        (args, "{}", "response.completed"),
    ] {
        let v = run(
            &family::RESPONSES,
            function_call_stream(args, item, last),
            Some(&["completed"]),
        );
        assert_eq!(v.end, StreamEnd::Malformed, "{event}");
        assert!(
            has(&v, &format!("{event} carries the arguments `{{}}`")),
            "{:?}",
            v.failures
        );
    }
}

// ---- Chat completions -----------------------------------------------------------------------

fn chunk(delta: Value, finish: Option<&str>) -> F {
    F::Data(
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
    )
}

#[test]
fn chat_accepts_keep_alive_style_extras_and_rejects_frames_after_done() {
    let ok = vec![
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"content": "Pong."}), None),
        chunk(json!({}), Some("stop")),
        F::Marker("[DONE]"),
    ];
    let v = run(&family::CHAT_COMPLETIONS, ok, Some(&["stop"]));
    assert!(v.failures.is_empty(), "{:?}", v.failures);
    assert_eq!(v.end, StreamEnd::Complete);

    let late = vec![
        chunk(json!({"role": "assistant", "content": "Po"}), None),
        F::Marker("[DONE]"),
        chunk(json!({"content": "ng"}), Some("stop")),
    ];
    let v = run(&family::CHAT_COMPLETIONS, late, None);
    assert_eq!(v.end, StreamEnd::Malformed);
    assert!(
        has(&v, "1 frames arrived after `data: [DONE]`"),
        "{:?}",
        v.failures
    );

    let first_without_role = vec![
        chunk(json!({"content": "Pong."}), Some("stop")),
        F::Marker("[DONE]"),
    ];
    let v = run(&family::CHAT_COMPLETIONS, first_without_role, None);
    assert!(
        has(&v, "the first choice delta carries no role"),
        "{:?}",
        v.failures
    );
}

#[test]
fn chat_without_done_after_every_finish_is_a_deviation_and_before_a_finish_a_cut() {
    // Every choice finished, then the body ended cleanly: only the terminator is missing.
    let whole = vec![
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"content": "Pong."}), None),
        chunk(json!({}), Some("stop")),
    ];
    let v = run(&family::CHAT_COMPLETIONS, whole, Some(&["stop"]));
    assert_eq!(v.end, StreamEnd::Complete, "{:?}", v.failures);
    assert!(v.failures.is_empty(), "{:?}", v.failures);
    assert_eq!(v.deviations, ["missing_done_after_finish"]);

    // No finish yet: a cut, as before.
    let cut = vec![
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"content": "Pong."}), None),
    ];
    let v = run(&family::CHAT_COMPLETIONS, cut, Some(&["stop"]));
    assert_eq!(v.end, StreamEnd::Cut);
    assert!(has(&v, "truncated: no `data: [DONE]`"), "{:?}", v.failures);
    assert!(v.deviations.is_empty());

    // With [DONE], nothing to list.
    let done = vec![
        chunk(
            json!({"role": "assistant", "content": "Pong."}),
            Some("stop"),
        ),
        F::Marker("[DONE]"),
    ];
    let v = run(&family::CHAT_COMPLETIONS, done, Some(&["stop"]));
    assert!(
        v.deviations.is_empty() && v.failures.is_empty(),
        "{:?}",
        v.failures
    );
}

#[test]
fn chat_frames_list_named_deviations_once_with_their_count() {
    let frames = vec![
        chunk(
            json!({"role": "assistant", "reasoning_content": "hm", "tool_calls": null}),
            None,
        ),
        chunk(json!({"reasoning_content": "m", "tool_calls": null}), None),
        chunk(json!({"content": "Pong."}), Some("stop")),
        F::Marker("[DONE]"),
    ];
    let schemas = schemas();
    let mut check = StreamCheck::new(
        &schemas,
        family::CHAT_COMPLETIONS.chunk_schema,
        family::CHAT_COMPLETIONS.response_schema,
        family_grammar(&family::CHAT_COMPLETIONS),
    );
    for (index, f) in frames.into_iter().enumerate() {
        let data = match f {
            F::Data(v) => v.to_string(),
            F::Marker(m) => m.to_string(),
            F::Named(..) => unreachable!(),
        };
        check.frame(
            SseEvent {
                index,
                event: None,
                data,
                id: None,
                offset: 0,
            },
            Duration::ZERO,
        );
    }
    let read = StreamRead {
        stop: StreamStop::Eof { partial: false },
        events: 4,
        bytes: 0,
        comments: 0,
        first_byte: Some(Duration::ZERO),
        event_reads: 4,
    };
    check.finish(&read, &stream_expect(), &expect(Some(&["stop"])));
    assert!(check.failures.is_empty(), "{:?}", check.failures);
    let got: Vec<(&str, &str, usize)> = check
        .deviations
        .iter()
        .map(|d| (d.name, d.pointer.as_str(), d.count))
        .collect();
    assert_eq!(
        got,
        [
            ("tool_calls_null", "frame 0 /choices/0/delta/tool_calls", 2),
            (
                "reasoning_content_field",
                "frame 0 /choices/0/delta/reasoning_content",
                2
            ),
        ]
    );
}

fn tool_delta(call: Value) -> F {
    chunk(json!({"tool_calls": [call]}), None)
}

#[test]
fn chat_tool_call_deltas_carry_their_index_and_start_with_id_and_name() {
    let start = || chunk(json!({"role": "assistant", "content": null}), None);
    let args = |i: u64, a: &str| tool_delta(json!({"index": i, "function": {"arguments": a}}));
    let first = |i: u64, id: &str| {
        tool_delta(json!({"index": i, "id": id, "type": "function",
            "function": {"name": "get_weather", "arguments": ""}}))
    };
    let end = || vec![chunk(json!({}), Some("tool_calls")), F::Marker("[DONE]")];
    let table: Vec<(&str, Vec<F>, Option<&str>)> = vec![
        (
            "two calls, each opened with id and name, told apart by index",
            vec![
                start(),
                first(0, "call_a"),
                args(0, "{\"city\":"),
                first(1, "call_b"),
                args(1, "{\"city\":\"Tokyo\"}"),
                args(0, "\"Paris\"}"),
            ],
            None,
        ),
        (
            "a first delta without its name",
            vec![
                start(),
                tool_delta(
                    json!({"index": 0, "id": "call_a", "type": "function", "function": {"arguments": ""}}),
                ),
                tool_delta(
                    json!({"index": 0, "function": {"name": "get_weather", "arguments": "{}"}}),
                ),
            ],
            Some("tool call 0 of choice 0: its first delta carries no function name"),
        ),
        (
            "a first delta without its id",
            vec![
                start(),
                tool_delta(
                    json!({"index": 0, "function": {"name": "get_weather", "arguments": "{}"}}),
                ),
            ],
            Some("tool call 0 of choice 0: its first delta carries no id"),
        ),
        (
            "a first delta with neither",
            vec![start(), args(0, "{}")],
            Some("its first delta carries no id and no function name"),
        ),
        (
            "an argument delta without index breaks the chunk schema",
            vec![
                start(),
                first(0, "call_a"),
                tool_delta(json!({"function": {"arguments": "{}"}})),
            ],
            Some("\"index\" is a required property"),
        ),
    ];
    for (what, mut frames, failure) in table {
        frames.extend(end());
        let v = run(&family::CHAT_COMPLETIONS, frames, Some(&["tool_calls"]));
        match failure {
            None => assert!(v.failures.is_empty(), "{what}: {:?}", v.failures),
            Some(needle) => assert!(has(&v, needle), "{what}: {:?}", v.failures),
        }
        assert!(v.tool_calls, "{what}");
    }
}
