//! What the conforming mock server answers for the Responses API (create, stream, store, read
//! back, delete, continue by `previous_response_id`, function calls, `text.format`, reasoning) and
//! for image generation (dall-e-3 and GPT Image models), as OpenAI's OpenAPI spec describes them:
//! components.schemas Response, OutputMessage, FunctionToolCall, ReasoningItem, the
//! ResponseStreamEvent family, CreateImageRequest and ImagesResponse.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use llm_contract::exchange::server::{Reply, StreamClose};

use super::error;

/// A one-pixel PNG, base64: what the mock draws for every prompt.
const PIXEL_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";

/// A stored response and the text of the input it answered (what a later turn may recall).
struct Stored {
    doc: Value,
    input: String,
}

fn store() -> &'static Mutex<HashMap<String, Stored>> {
    static STORE: OnceLock<Mutex<HashMap<String, Stored>>> = OnceLock::new();
    STORE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A fresh number for ids: every test of a binary shares the store, so ids never repeat.
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An id of `kind` as OpenAI spells them (`resp_…`), long enough to read as an id.
fn id(kind: &str, n: u64) -> String {
    format!("{kind}_mock{n:08}")
}

fn not_found(id: &str) -> Reply {
    error(
        404,
        &format!("Response with id '{id}' not found."),
        "invalid_request_error",
        None,
    )
}

/// GET or DELETE /responses/{id}.
pub fn stored_response(method: &str, id: &str) -> Reply {
    let mut stored = store().lock().unwrap();
    match method {
        "DELETE" => match stored.remove(id) {
            Some(_) => Reply::json(
                200,
                &json!({"id": id, "object": "response", "deleted": true}),
            ),
            None => not_found(id),
        },
        _ => match stored.get(id) {
            Some(s) => Reply::json(200, &s.doc),
            None => not_found(id),
        },
    }
}

/// The text of a Responses `input`: the string, or the text of its messages' contents.
fn input_text(input: &Value) -> String {
    match input {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| match i.get("content") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Array(parts)) => Some(
                    parts
                        .iter()
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The word after "Remember the word" in an earlier turn's input.
fn remembered(earlier: &str) -> Option<String> {
    let (_, rest) = earlier.split_once("Remember the word ")?;
    let word: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
    (!word.is_empty()).then_some(word)
}

/// "What is A times B" answered with the product.
fn product(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("What is ")?;
    let (a, rest) = rest.split_once(" times ")?;
    let b: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((a.trim().parse::<u64>().ok()? * b.parse::<u64>().ok()?).to_string())
}

fn message(n: u64, text: &str) -> Value {
    json!({"type": "message", "id": id("msg", n), "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

/// The output items the request calls for.
fn output(n: u64, body: &Value, earlier: Option<&str>) -> (Vec<Value>, u64) {
    let input = body.get("input").unwrap_or(&Value::Null);
    let text = input_text(input);
    let items = input.as_array().map(Vec::as_slice).unwrap_or_default();
    let tool_result = items
        .iter()
        .find(|i| i["type"] == "function_call_output")
        .and_then(|i| i["output"].as_str());
    let tool = body
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|t| t.first());
    if let (Some(tool), None) = (tool, tool_result) {
        if body.get("tool_choice") != Some(&json!("none")) {
            let takes_args = tool
                .pointer("/parameters/properties")
                .and_then(Value::as_object)
                .is_some_and(|p| !p.is_empty());
            let args = if takes_args {
                json!({"city": "Paris"}).to_string()
            } else {
                "{}".to_string()
            };
            let call = json!({"type": "function_call", "id": id("fc", n),
                "call_id": id("call", n), "name": tool["name"], "arguments": args,
                "status": "completed"});
            return (vec![call], 0);
        }
    }
    let json_schema = body.pointer("/text/format/type") == Some(&json!("json_schema"));
    let answer = if let Some(result) = tool_result {
        format!("In Paris it is {result}.")
    } else if json_schema {
        json!({"country": "France", "capital": "Paris"}).to_string()
    } else if let Some(word) = earlier.and_then(remembered) {
        word
    } else if let Some(p) = product(&text) {
        p
    } else if text.contains("Remember the word") {
        "OK".to_string()
    } else {
        "Pong.".to_string()
    };
    if body.get("reasoning").is_some() {
        let summary =
            json!([{"type": "summary_text", "text": format!("Working it out: {answer}.")}]);
        let reasoning = json!({"type": "reasoning", "id": id("rs", n), "summary": summary});
        return (vec![reasoning, message(n, &answer)], 16);
    }
    (vec![message(n, &answer)], 0)
}

/// POST /responses: a completed response (stored unless `store: false`), or its event stream.
pub fn create(body: &Value, request_error: impl Fn(&str) -> Reply) -> Reply {
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return request_error("Missing required parameter: 'model'.");
    };
    let Some(input) = body.get("input") else {
        return request_error("Missing required parameter: 'input'.");
    };
    let previous = body.get("previous_response_id").and_then(Value::as_str);
    let earlier = match previous {
        Some(id) => match store().lock().unwrap().get(id) {
            Some(s) => Some(s.input.clone()),
            None => return not_found(id),
        },
        None => None,
    };
    let n = next_id();
    let (items, reasoning_tokens) = output(n, body, earlier.as_deref());
    let output_tokens = 3 + reasoning_tokens;
    let id = id("resp", n);
    let doc = json!({
        "id": id, "object": "response", "created_at": 1_700_000_000, "status": "completed",
        "model": model, "output": items, "error": null, "incomplete_details": null,
        "previous_response_id": previous,
        "usage": {"input_tokens": 9, "output_tokens": output_tokens, "total_tokens": 9 + output_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens}},
        "store": body.get("store") != Some(&json!(false)),
    });
    if doc["store"] == json!(true) {
        let input = input_text(input);
        let stored = Stored {
            doc: doc.clone(),
            input,
        };
        store().lock().unwrap().insert(id, stored);
    }
    if body.get("stream") == Some(&json!(true)) {
        stream(&doc)
    } else {
        Reply::json(200, &doc)
    }
}

/// The events of a streamed response: created, in_progress, each item added, its deltas and
/// dones, completed; every event with its sequence_number.
fn stream(doc: &Value) -> Reply {
    let mut events: Vec<Value> = Vec::new();
    let mut pending = doc.clone();
    pending["status"] = json!("in_progress");
    pending["output"] = json!([]);
    pending["usage"] = Value::Null;
    events.push(json!({"type": "response.created", "response": pending}));
    events.push(json!({"type": "response.in_progress", "response": pending}));
    for (i, item) in doc["output"].as_array().into_iter().flatten().enumerate() {
        let id = &item["id"];
        let mut added = item.clone();
        match item["type"].as_str() {
            Some("message") => {
                added["status"] = json!("in_progress");
                added["content"] = json!([]);
                events.push(
                    json!({"type": "response.output_item.added", "output_index": i, "item": added}),
                );
                let text = item["content"][0]["text"].as_str().unwrap_or("");
                let at = text.char_indices().nth(2).map_or(text.len(), |(k, _)| k);
                let empty = json!({"type": "output_text", "text": "", "annotations": []});
                events.push(json!({"type": "response.content_part.added", "item_id": id, "output_index": i, "content_index": 0, "part": empty}));
                for delta in [&text[..at], &text[at..]] {
                    events.push(json!({"type": "response.output_text.delta", "item_id": id, "output_index": i, "content_index": 0, "delta": delta}));
                }
                events.push(json!({"type": "response.output_text.done", "item_id": id, "output_index": i, "content_index": 0, "text": text}));
                events.push(json!({"type": "response.content_part.done", "item_id": id, "output_index": i, "content_index": 0, "part": item["content"][0]}));
            }
            Some("function_call") => {
                added["status"] = json!("in_progress");
                added["arguments"] = json!("");
                events.push(
                    json!({"type": "response.output_item.added", "output_index": i, "item": added}),
                );
                let args = item["arguments"].as_str().unwrap_or("");
                let at = args.len() / 2;
                for delta in [&args[..at], &args[at..]] {
                    events.push(json!({"type": "response.function_call_arguments.delta", "item_id": id, "output_index": i, "delta": delta}));
                }
                events.push(json!({"type": "response.function_call_arguments.done", "item_id": id, "name": item["name"], "output_index": i, "arguments": args}));
            }
            _ => {
                events.push(
                    json!({"type": "response.output_item.added", "output_index": i, "item": added}),
                );
            }
        }
        events.push(json!({"type": "response.output_item.done", "output_index": i, "item": item}));
    }
    events.push(json!({"type": "response.completed", "response": doc}));
    let chunks = events
        .into_iter()
        .enumerate()
        .map(|(k, mut e)| {
            e["sequence_number"] = json!(k);
            let frame = format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or(""));
            (Duration::from_millis(2), Bytes::from(frame))
        })
        .collect();
    Reply::Stream {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks,
        close: StreamClose::Clean,
    }
}

fn invalid(message: &str, param: &str, code: &str) -> Reply {
    Reply::json(
        400,
        &json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}),
    )
}

/// POST /images/generations. GPT Image models answer base64 only (and refuse
/// `response_format`), take n 1-10 and report their size; dall-e-3 takes only n 1 and answers a
/// URL or base64 as asked, with the prompt it revised.
pub fn images(body: &Value, request_error: impl Fn(&str) -> Reply) -> Reply {
    let Some(prompt) = body.get("prompt").and_then(Value::as_str) else {
        return request_error("Missing required parameter: 'prompt'.");
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("dall-e-2");
    let gpt_image = model.starts_with("gpt-image");
    let n = body.get("n").and_then(Value::as_u64).unwrap_or(1);
    let sizes: &[&str] = if gpt_image {
        &["auto", "1024x1024", "1024x1536", "1536x1024"]
    } else if model == "dall-e-3" {
        &["1024x1024", "1792x1024", "1024x1792"]
    } else {
        &["256x256", "512x512", "1024x1024"]
    };
    let size = body
        .get("size")
        .and_then(Value::as_str)
        .unwrap_or("1024x1024");
    if !sizes.contains(&size) {
        let message = format!(
            "Invalid value: '{size}'. Supported sizes for {model} are {}.",
            sizes.join(", ")
        );
        return invalid(&message, "size", "invalid_value");
    }
    if gpt_image && body.get("response_format").is_some() {
        return invalid(
            "Unknown parameter: 'response_format'.",
            "response_format",
            "unknown_parameter",
        );
    }
    let most = if model == "dall-e-3" { 1 } else { 10 };
    if !(1..=most).contains(&n) {
        let message = format!("Invalid value for n: {model} supports n from 1 to {most}.");
        return invalid(&message, "n", "invalid_value");
    }
    let b64 = gpt_image || body.get("response_format") == Some(&json!("b64_json"));
    let data: Vec<Value> = (0..n)
        .map(|i| {
            let mut image = if b64 {
                json!({"b64_json": PIXEL_PNG})
            } else {
                json!({"url": format!("https://example.invalid/images/img_mock{i}.png")})
            };
            if model == "dall-e-3" {
                image["revised_prompt"] = json!(format!("{prompt}, as drawn"));
            }
            image
        })
        .collect();
    let mut doc = json!({"created": 1_700_000_000, "data": data});
    if gpt_image {
        let shown = if size == "auto" { "1024x1024" } else { size };
        doc["size"] = json!(shown);
        doc["output_format"] = json!("png");
        doc["usage"] = json!({"input_tokens": 14, "output_tokens": 1056, "total_tokens": 1070,
            "input_tokens_details": {"text_tokens": 14, "image_tokens": 0}});
    }
    Reply::json(200, &doc)
}
