//! OpenAI-style Responses streams:
//!
//! ```text
//! response.created (response.queued / response.in_progress may come first or next)
//!   response.output_item.added(i) … deltas of item i … response.output_item.done(i)
//! response.completed | response.incomplete                      terminal, last
//! [data: [DONE]]                                                 a gateway's addition, optional
//! ```
//!
//! `sequence_number` must increase; a delta must belong to an output item that was added and not
//! yet done. An `error` event, or `response.failed`, ends the stream as an error frame (gateways
//! send `error`, then `response.failed`, then `[DONE]`). Unknown event types are accepted.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::failure::{At, Failure};
use crate::util::tape::JsonRef;

use super::{
    event_type, finish_failures, Assembled, EndContext, Findings, Frame, Grammar, Signals,
};
use crate::model::observation::ApiError;

#[derive(Debug, Default)]
struct Item {
    kind: String,
    open: bool,
    arguments: Assembled,
    name: String,
}

#[derive(Debug, Default)]
pub struct Responses {
    signals: Signals,
    created: bool,
    last_sequence: Option<u64>,
    items: BTreeMap<u64, Item>,
    terminal: usize,
    after_terminal: usize,
    done_marker: usize,
    /// The final response object (of response.completed or response.incomplete).
    last: Option<Value>,
}

pub fn new() -> Box<dyn Grammar> {
    Box::<Responses>::default()
}

fn is_terminal(ty: &str) -> bool {
    matches!(ty, "response.completed" | "response.incomplete")
}

impl Responses {
    /// The output item an item-scoped event names, by `output_index` (or `item_id`).
    fn item_event(&mut self, ty: &str, at: At, doc: JsonRef<'_>, out: &mut Findings) {
        let Some(index) = doc.get("output_index").and_then(JsonRef::as_u64) else {
            return;
        };
        match ty {
            "response.output_item.added" => {
                if self.items.contains_key(&index) {
                    out.violation(Failure::stream(
                        at,
                        format!("output item {index} added a second time"),
                    ));
                    return;
                }
                let item = doc.get("item");
                let kind = item
                    .and_then(|i| i.get("type"))
                    .and_then(JsonRef::as_str)
                    .unwrap_or("")
                    .to_string();
                if kind == "function_call" {
                    self.signals.tool_calls = true;
                }
                let name = item
                    .and_then(|i| i.get("name"))
                    .and_then(JsonRef::as_str)
                    .unwrap_or("")
                    .to_string();
                self.items.insert(
                    index,
                    Item {
                        kind,
                        open: true,
                        name,
                        ..Item::default()
                    },
                );
            }
            "response.output_item.done" => match self.items.get_mut(&index) {
                Some(i) if i.open => {
                    i.open = false;
                    let done = doc.get("item").and_then(|it| it.get("arguments"));
                    agree(i, index, "response.output_item.done", done, at, out);
                }
                Some(_) => out.violation(Failure::stream(
                    at,
                    format!("output item {index} done a second time"),
                )),
                None => out.violation(Failure::stream(
                    at,
                    format!("{ty} for output item {index}, which was never added"),
                )),
            },
            _ => {
                let Some(item) = self.items.get_mut(&index) else {
                    out.violation(Failure::stream(
                        at,
                        format!("{ty} for output item {index}, which was never added"),
                    ));
                    return;
                };
                if !item.open {
                    out.violation(Failure::stream(
                        at,
                        format!("{ty} for output item {index} after its response.output_item.done"),
                    ));
                    return;
                }
                match ty {
                    "response.output_text.delta" => {
                        if let Some(d) = doc.get("delta").and_then(JsonRef::as_str) {
                            self.signals.content_chars += d.chars().count();
                        }
                    }
                    "response.function_call_arguments.delta" => {
                        if let Some(d) = doc.get("delta").and_then(JsonRef::as_str) {
                            item.arguments.push(d);
                        }
                    }
                    // A server that sends no deltas gives the arguments whole here (LM Studio).
                    "response.function_call_arguments.done" if item.arguments.text.is_empty() => {
                        if let Some(a) = doc.get("arguments").and_then(JsonRef::as_str) {
                            item.arguments.push(a);
                        }
                    }
                    // After deltas, the done event repeats what they add up to.
                    "response.function_call_arguments.done" => {
                        agree(item, index, ty, doc.get("arguments"), at, out);
                    }
                    _ => {}
                }
            }
        }
    }
}

impl Grammar for Responses {
    fn terminal(&self) -> &'static str {
        "`response.completed` event"
    }

    fn marker(&mut self, _frame: &Frame, data: &str, _out: &mut Findings) -> bool {
        if data.trim() == "[DONE]" {
            self.done_marker += 1;
            true
        } else {
            false
        }
    }

    fn error(&self, frame: &Frame, doc: JsonRef<'_>) -> Option<ApiError> {
        let ty = doc.get("type").and_then(JsonRef::as_str);
        let text = |v: Option<JsonRef<'_>>| {
            v.and_then(JsonRef::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
        };
        if frame.event == Some("error") || ty == Some("error") {
            // The Responses error event keeps code and message at the top level; a gateway may
            // send the chat-style envelope instead.
            if doc.get("error").is_some() {
                return Some(super::error_of(doc));
            }
            return Some(ApiError {
                r#type: Some("error".into()),
                code: text(doc.get("code")),
                message: text(doc.get("message")),
                param: text(doc.get("param")),
                doc_url: None,
            });
        }
        if ty == Some("response.failed") {
            let err = doc.pointer("/response/error");
            return Some(ApiError {
                r#type: Some("response.failed".into()),
                code: text(err.and_then(|e| e.get("code"))),
                message: text(err.and_then(|e| e.get("message")))
                    .or_else(|| Some("response.failed without an error object".into())),
                ..ApiError::default()
            });
        }
        if doc.get("error").is_some_and(JsonRef::is_object) && ty.is_none() {
            return Some(super::error_of(doc));
        }
        None
    }

    fn frame(&mut self, frame: &Frame, doc: JsonRef<'_>, out: &mut Findings) {
        let Some(ty) = event_type(frame, doc, out) else {
            return;
        };
        let at = At::Byte(frame.index, frame.offset);
        if let Some(n) = doc.get("sequence_number").and_then(JsonRef::as_u64) {
            if let Some(last) = self.last_sequence {
                if n <= last {
                    out.violation(Failure::stream(
                        at,
                        format!("sequence_number {n} after {last} (out of order)"),
                    ));
                }
            }
            self.last_sequence = Some(n);
        }
        if self.terminal > 0 {
            self.after_terminal += 1;
            return;
        }
        match ty {
            "response.created" => {
                if self.created {
                    out.violation(Failure::stream(at, "a second response.created"));
                }
                self.created = true;
                return;
            }
            "response.queued" | "response.in_progress" => return,
            _ if !self.created && ty.starts_with("response.") => {
                out.violation(Failure::stream(at, format!("{ty} before response.created")));
            }
            _ => {}
        }
        if is_terminal(ty) {
            self.terminal += 1;
            if let Some(open) = self.items.iter().find(|(_, i)| i.open).map(|(k, _)| *k) {
                out.violation(Failure::stream(
                    at,
                    format!("{ty} while output item {open} is still open"),
                ));
            }
            if let Some(resp) = doc.get("response") {
                for (i, item) in &self.items {
                    let repeated = resp.pointer(&format!("/output/{i}/arguments"));
                    agree(item, *i, ty, repeated, at, out);
                }
                let resp = resp.to_value();
                self.signals.finish = vec![(0, responses_reason(&resp))];
                if let Some(u) = resp.get("usage").filter(|u| u.is_object()) {
                    self.signals.usage = Some(u.clone());
                }
                self.last = Some(resp);
            }
            return;
        }
        if doc.get("output_index").is_some() {
            self.item_event(ty, at, doc, out);
        }
    }

    fn terminated(&self) -> bool {
        self.terminal > 0
    }

    fn end(&mut self, cx: &EndContext, out: &mut Findings) {
        if self.terminal > 1 {
            out.violation(Failure::stream(
                At::Stream,
                format!("the terminal event arrived {} times", self.terminal),
            ));
        }
        if self.after_terminal > 0 {
            out.violation(Failure::stream(
                At::Stream,
                format!(
                    "{} events arrived after the terminal event",
                    self.after_terminal
                ),
            ));
        }
        if self.done_marker > 1 {
            out.violation(Failure::stream(
                At::Stream,
                format!("`data: [DONE]` arrived {} times", self.done_marker),
            ));
        }
        if cx.cut {
            return;
        }
        if !self.created {
            out.violation(Failure::stream(At::Stream, "no response.created event"));
        }
        for (i, item) in &self.items {
            if item.kind == "function_call" {
                item.arguments
                    .check(&format!("function call {i} ({})", item.name), out);
            }
        }
        finish_failures(&self.signals.finish, cx.allowed, out);
        if let Some(resp) = &self.last {
            super::reassembled_failures(cx, resp, out);
        }
    }

    fn signals(&self) -> &Signals {
        &self.signals
    }

    /// The final response object carries the whole answer, text included.
    fn keep_text(&mut self) {}

    fn answer(&self) -> Option<&Value> {
        self.last.as_ref()
    }
}

/// A function call's arguments as a later event repeats them (the `.done` event, the item's
/// `output_item.done`, the terminal response) must be what its deltas added up to: a gateway
/// that empties or rewrites them there hands clients reading only the final object another call.
/// Nothing is compared when no deltas came, the item is not a function call, or the event does
/// not repeat them.
fn agree(item: &Item, index: u64, event: &str, repeated: Option<JsonRef<'_>>, at: At, out: &mut Findings) {
    if item.kind != "function_call" || item.arguments.text.is_empty() || item.arguments.truncated {
        return;
    }
    let Some(repeated) = repeated else {
        return;
    };
    let text = repeated.as_str();
    if text != Some(item.arguments.text.as_str()) {
        let found = match text {
            Some(t) => crate::judge::body::excerpt(t.as_bytes()),
            None => crate::judge::body::excerpt(repeated.to_value().to_string().as_bytes()),
        };
        out.violation(Failure::stream(
            at,
            format!(
                "function call {index} ({}): {event} carries the arguments `{found}`, not `{}` as its deltas added up to",
                item.name,
                crate::judge::body::excerpt(item.arguments.text.as_bytes())
            ),
        ));
    }
}

/// A Responses answer's end reason: its status, or why it is incomplete.
pub fn responses_reason(response: &Value) -> Option<String> {
    let status = response.get("status").and_then(Value::as_str)?;
    if status == "incomplete" {
        if let Some(r) = response
            .pointer("/incomplete_details/reason")
            .and_then(Value::as_str)
        {
            return Some(r.to_string());
        }
    }
    Some(status.to_string())
}
