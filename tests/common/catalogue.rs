//! What the conforming mock server answers for the chat catalogue's features (tools,
//! `tool_choice`, parallel calls, `response_format`, `n`, log probabilities, `max_tokens` cuts,
//! out-of-range parameters, an over-long context), as OpenAI's API reference describes them.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use llm_contract::exchange::server::{Reply, StreamClose};

/// Characters of message text past which the mock's context window is exceeded.
const CONTEXT_CHARS: usize = 400_000;

fn bad(message: &str, param: &str, code: Option<&str>) -> Reply {
    Reply::json(
        400,
        &json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}),
    )
}

/// A request error for an out-of-range or ill-typed parameter, an inconsistent tool_choice, an
/// invalid JSON Schema or a context too long; `None` when the request is valid.
pub fn invalid(body: &Value) -> Option<Reply> {
    let num = |k: &str| body.get(k).and_then(Value::as_f64);
    let ranges = [
        ("temperature", 0.0, 2.0),
        ("top_p", 0.0, 1.0),
        ("presence_penalty", -2.0, 2.0),
        ("frequency_penalty", -2.0, 2.0),
    ];
    for (k, lo, hi) in ranges {
        if num(k).is_some_and(|v| v < lo || v > hi) {
            return Some(bad(
                &format!("Invalid '{k}': out of range."),
                k,
                Some("invalid_value"),
            ));
        }
    }
    if body
        .get("n")
        .is_some_and(|n| n.as_u64().is_none_or(|n| n < 1))
    {
        return Some(bad(
            "Invalid 'n': below 1.",
            "n",
            Some("integer_below_min_value"),
        ));
    }
    if body.get("logprobs").is_some_and(|l| !l.is_boolean()) {
        return Some(bad(
            "Invalid type for 'logprobs'.",
            "logprobs",
            Some("invalid_type"),
        ));
    }
    if let Some(name) = body
        .pointer("/tool_choice/function/name")
        .and_then(Value::as_str)
    {
        if !tool_names(body).contains(&name.to_string()) {
            return Some(bad(
                "tool_choice names no tool of 'tools'.",
                "tool_choice",
                None,
            ));
        }
    }
    if let Some(schema) = body.pointer("/response_format/json_schema/schema") {
        let types = [
            "object", "array", "string", "number", "integer", "boolean", "null",
        ];
        let props = schema.get("properties").and_then(Value::as_object);
        let broken = props.into_iter().flatten().any(|(_, p)| {
            p.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| !types.contains(&t))
        });
        if broken {
            return Some(bad(
                "Invalid schema for response_format.",
                "response_format",
                None,
            ));
        }
    }
    if body.to_string().len() > CONTEXT_CHARS {
        return Some(bad(
            "This model's maximum context length is exceeded.",
            "messages",
            Some("context_length_exceeded"),
        ));
    }
    None
}

fn tool_names(body: &Value) -> Vec<String> {
    body.get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// Whether the request uses a feature the plain answer does not cover.
pub fn wants_more(body: &Value) -> bool {
    ["tools", "response_format", "logprobs", "n"]
        .iter()
        .any(|k| body.get(*k).is_some())
        || body
            .get("max_tokens")
            .and_then(Value::as_u64)
            .is_some_and(|m| m <= 5)
}

/// The tool calls the request calls for (none with tool_choice none, or once a tool answered).
fn calls(body: &Value) -> Vec<Value> {
    let names = tool_names(body);
    let answered = body
        .get("messages")
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().any(|m| m["role"] == "tool"));
    if names.is_empty() || answered || body.get("tool_choice") == Some(&json!("none")) {
        return Vec::new();
    }
    let name = body
        .pointer("/tool_choice/function/name")
        .and_then(Value::as_str)
        .map_or(names[0].clone(), str::to_string);
    let takes_args = body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|t| t.pointer("/function/name").and_then(Value::as_str) == Some(name.as_str()))
        .and_then(|t| t.pointer("/function/parameters/properties"))
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    let cities: &[&str] = if body.get("parallel_tool_calls") == Some(&json!(true)) {
        &["Paris", "Tokyo"]
    } else {
        &["Paris"]
    };
    cities
        .iter()
        .enumerate()
        .map(|(i, city)| {
            let args = if takes_args {
                json!({ "city": city }).to_string()
            } else {
                "{}".to_string()
            };
            json!({"id": format!("call_mock{i}"), "type": "function", "function": {"name": name, "arguments": args}})
        })
        .collect()
}

fn logprobs(text: &str) -> Value {
    json!({"content": [{"token": text, "logprob": -0.01, "bytes": text.as_bytes(),
        "top_logprobs": [{"token": text, "logprob": -0.01, "bytes": text.as_bytes()}]}]})
}

/// The non-streamed completion for the request.
pub fn completion(model: &str, body: &Value) -> Value {
    let n = body.get("n").and_then(Value::as_u64).unwrap_or(1);
    let calls = calls(body);
    let json_answer = body.get("response_format").is_some();
    let cut = body
        .get("max_tokens")
        .and_then(Value::as_u64)
        .filter(|m| *m <= 5);
    let choices: Vec<Value> = (0..n)
        .map(|i| {
            let (content, finish) = if !calls.is_empty() {
                (Value::Null, "tool_calls")
            } else if json_answer {
                (json!("{\"city\":\"Paris\",\"population\":2102650}"), "stop")
            } else if cut.is_some() {
                (json!("The old keeper"), "length")
            } else {
                (json!("pong"), "stop")
            };
            let mut message = json!({"role": "assistant", "content": content, "refusal": null});
            if !calls.is_empty() {
                message["tool_calls"] = json!(calls);
            }
            let lp = if body.get("logprobs") == Some(&json!(true)) {
                logprobs(content.as_str().unwrap_or(""))
            } else {
                Value::Null
            };
            json!({"index": i, "message": message, "logprobs": lp, "finish_reason": finish})
        })
        .collect();
    let completion_tokens = cut.unwrap_or(2);
    json!({
        "id": "chatcmpl-mock1", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": choices,
        "usage": {"prompt_tokens": 5, "completion_tokens": completion_tokens, "total_tokens": 5 + completion_tokens},
        "system_fingerprint": "fp_mock"
    })
}

/// The same completion as a stream: per choice the role, the content, each tool call (id and
/// name first, then its arguments), the finish; then the usage chunk when asked, and `[DONE]`.
pub fn stream(model: &str, body: &Value) -> Reply {
    let doc = completion(model, body);
    let frame = |choices: Value, usage: Option<&Value>| {
        let mut c = json!({"id": "chatcmpl-mock1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model, "choices": choices});
        if let Some(u) = usage {
            c["usage"] = u.clone();
        }
        format!("data: {c}\n\n")
    };
    let mut frames = Vec::new();
    for choice in doc["choices"].as_array().into_iter().flatten() {
        let i = &choice["index"];
        let m = &choice["message"];
        frames.push(frame(
            json!([{"index": i, "delta": {"role": "assistant", "content": ""}}]),
            None,
        ));
        if let Some(text) = m["content"].as_str() {
            frames.push(frame(
                json!([{"index": i, "delta": {"content": text}, "logprobs": choice["logprobs"]}]),
                None,
            ));
        }
        for (k, call) in m["tool_calls"].as_array().into_iter().flatten().enumerate() {
            let first = json!([{"index": k, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": ""}}]);
            frames.push(frame(
                json!([{"index": i, "delta": {"tool_calls": first}}]),
                None,
            ));
            let args =
                json!([{"index": k, "function": {"arguments": call["function"]["arguments"]}}]);
            frames.push(frame(
                json!([{"index": i, "delta": {"tool_calls": args}}]),
                None,
            ));
        }
        frames.push(frame(
            json!([{"index": i, "delta": {}, "finish_reason": choice["finish_reason"]}]),
            None,
        ));
    }
    if body.pointer("/stream_options/include_usage") == Some(&json!(true)) {
        frames.push(frame(json!([]), Some(&doc["usage"])));
    }
    frames.push("data: [DONE]\n\n".into());
    Reply::Stream {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks: frames
            .into_iter()
            .map(|f| (Duration::from_millis(2), Bytes::from(f)))
            .collect(),
        close: StreamClose::Clean,
    }
}
