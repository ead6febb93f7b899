//! Chat completions streams: `data: {chunk}` frames, the first choice delta carrying the role,
//! one finish_reason per choice, an optional usage chunk with `choices: []`, and exactly one
//! `data: [DONE]` with nothing after it. Tool calls are reassembled from their deltas.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::failure::{At, Failure};
use crate::util::tape::JsonRef;

use super::{
    finish_failures, reassembled_failures, Assembled, EndContext, Findings, Frame, Grammar, Signals,
};

const DONE: &str = "[DONE]";

/// One tool call reassembled from its deltas.
#[derive(Debug, Clone, Default)]
struct ToolCall {
    id: Option<String>,
    kind: Option<String>,
    name: String,
    arguments: Assembled,
}

#[derive(Debug, Default)]
pub struct Chat {
    signals: Signals,
    /// id, created and model of the first chunk, for the reassembled message.
    head: Option<(Value, Value, Value)>,
    role: Option<String>,
    tool_calls: BTreeMap<(usize, usize), ToolCall>,
    done: usize,
    after_done: usize,
    saw_choice: bool,
    usage_chunk: bool,
    /// A frame that carried usage next to a non-empty `choices` (frame index, choices).
    usage_beside_choices: Option<(usize, usize)>,
}

pub fn new() -> Box<dyn Grammar> {
    Box::<Chat>::default()
}

impl Chat {
    /// Adds one tool-call delta to the call it continues.
    fn tool_call_delta(&mut self, choice: usize, call: JsonRef<'_>) {
        let slot = call.get("index").and_then(JsonRef::as_u64).unwrap_or(0) as usize;
        let tc = self.tool_calls.entry((choice, slot)).or_default();
        if let Some(id) = call.get("id").and_then(JsonRef::as_str) {
            tc.id.get_or_insert_with(|| id.to_string());
        }
        if let Some(t) = call.get("type").and_then(JsonRef::as_str) {
            tc.kind.get_or_insert_with(|| t.to_string());
        }
        let Some(f) = call.get("function") else {
            return;
        };
        if let Some(n) = f.get("name").and_then(JsonRef::as_str) {
            tc.name.push_str(n);
        }
        if let Some(a) = f.get("arguments").and_then(JsonRef::as_str) {
            tc.arguments.push(a);
        }
    }

    /// The message the deltas add up to, checked against the non-streamed shape.
    fn reassembled(&self, cx: &EndContext, out: &mut Findings) {
        for ((choice, slot), tc) in &self.tool_calls {
            tc.arguments.check(
                &format!("tool call {slot} of choice {choice} ({})", tc.name),
                out,
            );
        }
        let Some((id, created, model)) = self.head.clone() else {
            return;
        };
        if self.signals.finish.is_empty() {
            return;
        }
        let choices: Vec<Value> = self
            .signals
            .finish
            .iter()
            .map(|(index, reason)| {
                let tool_calls: Vec<Value> = self
                    .tool_calls
                    .iter()
                    .filter(|((c, _), _)| c == index)
                    .map(|(_, tc)| {
                        serde_json::json!({
                            "id": tc.id, "type": tc.kind,
                            "function": {"name": tc.name, "arguments": tc.arguments.text}
                        })
                    })
                    .collect();
                let mut message = serde_json::json!({
                    "role": self.role.as_deref().unwrap_or("assistant"),
                    "content": if self.signals.content_chars > 0 { Value::String("[TEXT]".into()) } else { Value::Null },
                });
                if !tool_calls.is_empty() {
                    message["tool_calls"] = Value::Array(tool_calls);
                }
                serde_json::json!({"index": index, "message": message, "finish_reason": reason})
            })
            .collect();
        let doc = serde_json::json!({
            "id": id, "object": "chat.completion", "created": created, "model": model, "choices": choices,
        });
        reassembled_failures(cx, &doc, out);
    }
}

impl Grammar for Chat {
    fn terminal(&self) -> &'static str {
        "`data: [DONE]`"
    }

    fn marker(&mut self, _frame: &Frame, data: &str, _out: &mut Findings) -> bool {
        if data.trim() == DONE {
            self.done += 1;
            true
        } else {
            false
        }
    }

    fn frame(&mut self, frame: &Frame, doc: JsonRef<'_>, out: &mut Findings) {
        let index = frame.index;
        if self.done > 0 {
            self.after_done += 1;
        }
        if self.head.is_none() {
            let field = |k: &str| doc.get(k).map_or(Value::Null, JsonRef::to_value);
            self.head = Some((field("id"), field("created"), field("model")));
        }
        let has_usage = doc.get("usage").is_some_and(JsonRef::is_object);
        if has_usage {
            self.signals.usage = doc.get("usage").map(JsonRef::to_value);
        }
        let Some(choices) = doc.get("choices").and_then(JsonRef::as_array) else {
            return;
        };
        if choices.is_empty() {
            self.usage_chunk |= has_usage;
            return;
        }
        if has_usage && self.usage_beside_choices.is_none() {
            self.usage_beside_choices = Some((index, choices.len()));
        }
        for (i, choice) in choices.iter().enumerate() {
            let delta = choice.get("delta");
            let choice_index = choice
                .get("index")
                .and_then(JsonRef::as_u64)
                .map_or(i, |n| n as usize);
            if !self.saw_choice {
                self.saw_choice = true;
                if delta.and_then(|d| d.get("role")).is_none() {
                    out.fail(Failure::stream(
                        At::Frame(index),
                        "the first choice delta carries no role",
                    ));
                }
            }
            if let Some(role) = delta.and_then(|d| d.get("role")).and_then(JsonRef::as_str) {
                self.role.get_or_insert_with(|| role.to_string());
            }
            if let Some(text) = delta
                .and_then(|d| d.get("content"))
                .and_then(JsonRef::as_str)
            {
                self.signals.content_chars += text.chars().count();
            }
            let calls = delta
                .and_then(|d| d.get("tool_calls"))
                .and_then(JsonRef::as_array);
            for call in calls.into_iter().flatten() {
                self.signals.tool_calls = true;
                self.tool_call_delta(choice_index, call);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(JsonRef::as_str) {
                if self.signals.finish.iter().any(|(c, _)| *c == choice_index) {
                    out.violation(Failure::stream(
                        At::Frame(index),
                        format!("choice {choice_index} finished a second time (\"{reason}\")"),
                    ));
                } else {
                    self.signals
                        .finish
                        .push((choice_index, Some(reason.to_string())));
                }
            }
        }
    }

    fn terminated(&self) -> bool {
        self.done > 0
    }

    fn end(&mut self, cx: &EndContext, out: &mut Findings) {
        if self.done > 1 {
            out.violation(Failure::stream(
                At::Stream,
                format!("`data: {DONE}` arrived {} times", self.done),
            ));
        }
        if self.after_done > 0 {
            out.violation(Failure::stream(
                At::Stream,
                format!("{} frames arrived after `data: {DONE}`", self.after_done),
            ));
        }
        if cx.expect.usage_chunk && !self.usage_chunk {
            out.fail(match self.usage_beside_choices {
                Some((frame, n)) => Failure::stream(
                    At::Stream,
                    format!(
                        "frame {frame} carries usage but its choices has {n} entr{} (include_usage promises a final chunk with `choices: []`)",
                        if n == 1 { "y" } else { "ies" }
                    ),
                ),
                None => Failure::stream(
                    At::Stream,
                    "no final usage chunk (`choices: []` with `usage`) although include_usage was asked",
                ),
            });
        }
        if cx.cut {
            // Truncation is the failure; a missing finish_reason follows from it.
            return;
        }
        if self.signals.finish.is_empty() {
            out.fail(Failure::stream(
                At::Stream,
                "no choice carried a finish_reason",
            ));
        } else {
            finish_failures(&self.signals.finish, cx.allowed, out);
        }
        self.reassembled(cx, out);
    }

    fn signals(&self) -> &Signals {
        &self.signals
    }
}
