//! Anthropic-style Messages streams:
//!
//! ```text
//! message_start
//!   (content_block_start(i) content_block_delta(i)* content_block_stop(i))*   blocks in order
//! message_delta                                                               stop_reason, usage
//! message_stop                                                                terminal, last
//! ```
//!
//! `ping` may arrive anywhere before `message_stop`; an `error` event (after a 200) ends the
//! stream as an error frame; event types the grammar does not know are accepted and skipped, as
//! Anthropic asks of clients. A stream without `message_stop` is cut.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::failure::{At, Failure};
use crate::util::tape::JsonRef;

use super::{
    event_type, finish_failures, reassembled_failures, Assembled, EndContext, Findings, Frame,
    Grammar, Signals, Text,
};
use crate::model::observation::ApiError;

#[derive(Debug, Default)]
struct Block {
    kind: String,
    open: bool,
    /// A tool_use block's input, reassembled from `input_json_delta` pieces.
    input: Assembled,
    name: String,
    id: Option<String>,
    /// A text block's text (a thinking block's thinking).
    text: Text,
    /// A thinking block's signature.
    signature: Option<String>,
}

#[derive(Debug, Default)]
pub struct Messages {
    signals: Signals,
    /// The message of `message_start` (id, model, role, usage).
    head: Option<Value>,
    blocks: BTreeMap<usize, Block>,
    message_delta: bool,
    stop_sequence: Option<Value>,
    stop: usize,
    after_stop: usize,
    unknown: usize,
    keep: bool,
    answer: Option<Value>,
}

pub fn new() -> Box<dyn Grammar> {
    Box::<Messages>::default()
}

fn index_of(doc: JsonRef<'_>) -> Option<usize> {
    doc.get("index")
        .and_then(JsonRef::as_u64)
        .map(|n| n as usize)
}

impl Messages {
    fn open_block(&self) -> Option<usize> {
        self.blocks.iter().find(|(_, b)| b.open).map(|(i, _)| *i)
    }

    fn content_event(&mut self, ty: &str, frame: &Frame, doc: JsonRef<'_>, out: &mut Findings) {
        let at = At::Byte(frame.index, frame.offset);
        if self.message_delta {
            out.violation(Failure::stream(at, format!("{ty} after message_delta")));
        }
        let Some(index) = index_of(doc) else {
            return; // the event schema names the missing index
        };
        match ty {
            "content_block_start" => {
                if self.blocks.contains_key(&index) {
                    out.violation(Failure::stream(
                        at,
                        format!("content block {index} started a second time"),
                    ));
                    return;
                }
                if let Some(open) = self.open_block() {
                    out.violation(Failure::stream(
                        at,
                        format!("content block {index} started while block {open} is still open"),
                    ));
                }
                if index != self.blocks.len() {
                    out.violation(Failure::stream(
                        at,
                        format!(
                            "content block {index} started out of order (expected block {})",
                            self.blocks.len()
                        ),
                    ));
                }
                let cb = doc.get("content_block");
                let kind = cb
                    .and_then(|b| b.get("type"))
                    .and_then(JsonRef::as_str)
                    .unwrap_or("")
                    .to_string();
                let text_of = |k: &str| {
                    cb.and_then(|b| b.get(k))
                        .and_then(JsonRef::as_str)
                        .map(str::to_string)
                };
                let mut block = Block {
                    kind,
                    open: true,
                    name: text_of("name").unwrap_or_default(),
                    id: text_of("id"),
                    text: if self.keep { Text::kept() } else { Text::default() },
                    ..Block::default()
                };
                if block.kind == "tool_use" {
                    self.signals.tool_calls = true;
                }
                if let Some(text) = cb.and_then(|b| b.get("text")).and_then(JsonRef::as_str) {
                    block.text.push(text);
                    self.signals.content_chars += text.chars().count();
                }
                if let Some(text) = cb.and_then(|b| b.get("thinking")).and_then(JsonRef::as_str) {
                    block.text.push(text);
                }
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let Some(block) = self.blocks.get_mut(&index) else {
                    out.violation(Failure::stream(
                        at,
                        format!("content_block_delta for block {index}, which never started"),
                    ));
                    return;
                };
                if !block.open {
                    out.violation(Failure::stream(
                        at,
                        format!(
                            "content_block_delta for block {index} after its content_block_stop"
                        ),
                    ));
                    return;
                }
                let delta = doc.get("delta");
                let dtype = delta
                    .and_then(|d| d.get("type"))
                    .and_then(JsonRef::as_str)
                    .unwrap_or("");
                match dtype {
                    "text_delta" => {
                        if let Some(t) = delta.and_then(|d| d.get("text")).and_then(JsonRef::as_str)
                        {
                            block.text.push(t);
                            self.signals.content_chars += t.chars().count();
                        }
                    }
                    "thinking_delta" => {
                        if let Some(t) = delta
                            .and_then(|d| d.get("thinking"))
                            .and_then(JsonRef::as_str)
                        {
                            block.text.push(t);
                        }
                    }
                    "signature_delta" => {
                        if let Some(t) = delta
                            .and_then(|d| d.get("signature"))
                            .and_then(JsonRef::as_str)
                        {
                            block.signature.get_or_insert_with(String::new).push_str(t);
                        }
                    }
                    "input_json_delta" => {
                        if let Some(p) = delta
                            .and_then(|d| d.get("partial_json"))
                            .and_then(JsonRef::as_str)
                        {
                            block.input.push(p);
                        }
                    }
                    _ => {}
                }
            }
            _ => {
                // content_block_stop
                match self.blocks.get_mut(&index) {
                    Some(b) if b.open => b.open = false,
                    Some(_) => out.violation(Failure::stream(
                        at,
                        format!("content_block_stop for block {index} a second time"),
                    )),
                    None => out.violation(Failure::stream(
                        at,
                        format!("content_block_stop for block {index}, which never started"),
                    )),
                }
            }
        }
    }

    /// The message the events add up to, checked against the non-streamed shape.
    fn reassembled(&mut self, cx: &EndContext, out: &mut Findings) {
        for (i, b) in &self.blocks {
            b.text.check_kept(&format!("content block {i}'s text"), out);
            if b.kind == "tool_use" && !b.input.text.is_empty() {
                b.input
                    .check(&format!("tool_use block {i} ({})", b.name), out);
            }
        }
        let Some(head) = &self.head else {
            return;
        };
        let mut doc = head.clone();
        let content: Vec<Value> = self
            .blocks
            .values()
            .map(|b| match b.kind.as_str() {
                "text" => serde_json::json!({"type": "text", "text": b.text.value()}),
                "thinking" => serde_json::json!({
                    "type": "thinking", "thinking": b.text.value(),
                    "signature": b.signature.clone().unwrap_or_default()
                }),
                "tool_use" => serde_json::json!({
                    "type": "tool_use", "id": b.id.clone().unwrap_or_else(|| "toolu_[ID]".into()),
                    "name": b.name,
                    "input": serde_json::from_str::<Value>(&b.input.text).unwrap_or(serde_json::json!({}))
                }),
                other => serde_json::json!({ "type": other }),
            })
            .collect();
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("content".into(), Value::Array(content));
            obj.insert(
                "stop_reason".into(),
                self.signals
                    .finish
                    .first()
                    .and_then(|(_, r)| r.clone())
                    .map_or(Value::Null, Value::String),
            );
            obj.insert(
                "stop_sequence".into(),
                self.stop_sequence.clone().unwrap_or(Value::Null),
            );
            if let Some(u) = &self.signals.usage {
                obj.insert("usage".into(), u.clone());
            }
        }
        reassembled_failures(cx, &doc, out);
        self.answer = Some(doc);
    }
}

impl Grammar for Messages {
    fn terminal(&self) -> &'static str {
        "`message_stop` event"
    }

    fn error(&self, frame: &Frame, doc: JsonRef<'_>) -> Option<ApiError> {
        let is_error = frame.event == Some("error")
            || doc.get("type").and_then(JsonRef::as_str) == Some("error");
        is_error.then(|| super::error_of(doc))
    }

    fn frame(&mut self, frame: &Frame, doc: JsonRef<'_>, out: &mut Findings) {
        let Some(ty) = event_type(frame, doc, out) else {
            return; // the event schema names the missing type
        };
        let at = At::Byte(frame.index, frame.offset);
        if self.stop > 0 {
            self.after_stop += 1;
            if ty != "message_stop" {
                return;
            }
        }
        match ty {
            "ping" => {}
            "message_start" => {
                if self.head.is_some() {
                    out.violation(Failure::stream(at, "a second message_start"));
                } else {
                    self.head = doc.get("message").map(JsonRef::to_value);
                    if let Some(u) = doc.pointer("/message/usage") {
                        self.signals.usage = Some(u.to_value());
                    }
                }
            }
            _ if self.head.is_none() && !is_known(ty) => {}
            _ if self.head.is_none() => {
                out.violation(Failure::stream(at, format!("{ty} before message_start")));
            }
            "content_block_start" | "content_block_delta" | "content_block_stop" => {
                self.content_event(ty, frame, doc, out);
            }
            "message_delta" => {
                if self.message_delta {
                    out.violation(Failure::stream(at, "a second message_delta"));
                }
                if let Some(open) = self.open_block() {
                    out.violation(Failure::stream(
                        at,
                        format!("message_delta while content block {open} is still open"),
                    ));
                }
                self.message_delta = true;
                let reason = doc
                    .pointer("/delta/stop_reason")
                    .and_then(JsonRef::as_str)
                    .map(str::to_string);
                self.signals.finish = vec![(0, reason)];
                self.stop_sequence = doc.pointer("/delta/stop_sequence").map(JsonRef::to_value);
                if let Some(u) = doc.get("usage") {
                    // message_delta's usage is cumulative: it completes message_start's.
                    let mut usage = self.signals.usage.take().unwrap_or(Value::Null);
                    match (&mut usage, u.to_value()) {
                        (Value::Object(a), Value::Object(b)) => {
                            a.extend(b);
                        }
                        (_, u) => usage = u,
                    }
                    self.signals.usage = Some(usage);
                }
            }
            "message_stop" => {
                self.stop += 1;
                if !self.message_delta {
                    out.violation(Failure::stream(at, "message_stop without a message_delta"));
                }
                if let Some(open) = self.open_block() {
                    out.violation(Failure::stream(
                        at,
                        format!("message_stop while content block {open} is still open"),
                    ));
                }
            }
            _ => self.unknown += 1,
        }
    }

    fn terminated(&self) -> bool {
        self.stop > 0
    }

    fn end(&mut self, cx: &EndContext, out: &mut Findings) {
        if self.stop > 1 {
            out.violation(Failure::stream(
                At::Stream,
                format!("message_stop arrived {} times", self.stop),
            ));
        }
        let after = self.after_stop.saturating_sub(self.stop.saturating_sub(1));
        if after > 0 {
            out.violation(Failure::stream(
                At::Stream,
                format!("{after} events arrived after message_stop"),
            ));
        }
        if cx.cut {
            return;
        }
        if self.head.is_none() {
            out.violation(Failure::stream(At::Stream, "no message_start event"));
            return;
        }
        match self.signals.finish.first() {
            Some((_, Some(_))) => finish_failures(&self.signals.finish, cx.allowed, out),
            _ => out.fail(Failure::stream(
                At::Stream,
                "no message_delta carried a stop_reason",
            )),
        }
        self.reassembled(cx, out);
    }

    fn signals(&self) -> &Signals {
        &self.signals
    }

    fn keep_text(&mut self) {
        self.keep = true;
    }

    fn answer(&self) -> Option<&Value> {
        self.answer.as_ref()
    }
}

/// Event types of the Messages grammar; others are accepted as extensions.
fn is_known(ty: &str) -> bool {
    matches!(
        ty,
        "content_block_start"
            | "content_block_delta"
            | "content_block_stop"
            | "message_delta"
            | "message_stop"
    )
}
