//! Chat completions streams: `data: {chunk}` frames, the first choice delta carrying the role,
//! one finish_reason per choice, an optional usage chunk with `choices: []`, and exactly one
//! `data: [DONE]` with nothing after it. Tool calls are reassembled from their deltas.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::failure::{At, Failure};
use crate::util::tape::JsonRef;

use super::{
    finish_failures, reassembled_failures, Assembled, EndContext, Findings, Frame, Grammar, Signals,
    Text,
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

/// What one choice's deltas said (text only when kept).
#[derive(Debug, Default)]
struct ChoiceText {
    content: Text,
    refusal: Text,
    /// `reasoning_content` or `reasoning`, under the name the stream used.
    reasoning: Text,
    reasoning_field: Option<String>,
    /// Each chunk's `logprobs.content` entries, concatenated (kept with the text).
    logprobs: Option<Vec<Value>>,
}

impl ChoiceText {
    fn new(keep: bool) -> ChoiceText {
        let text = || if keep { Text::kept() } else { Text::default() };
        ChoiceText {
            content: text(),
            refusal: text(),
            reasoning: text(),
            ..ChoiceText::default()
        }
    }
}

#[derive(Debug, Default)]
pub struct Chat {
    signals: Signals,
    /// The first chunk's id, created, model and system_fingerprint, for the reassembled message.
    head: Option<serde_json::Map<String, Value>>,
    role: Option<String>,
    keep: bool,
    choices: BTreeMap<usize, ChoiceText>,
    tool_calls: BTreeMap<(usize, usize), ToolCall>,
    done: usize,
    after_done: usize,
    saw_choice: bool,
    usage_chunk: bool,
    /// A frame that carried usage next to a non-empty `choices` (frame index, choices).
    usage_beside_choices: Option<(usize, usize)>,
    answer: Option<Value>,
}

pub fn new() -> Box<dyn Grammar> {
    Box::<Chat>::default()
}

impl Chat {
    fn choice(&mut self, index: usize) -> &mut ChoiceText {
        let keep = self.keep;
        self.choices
            .entry(index)
            .or_insert_with(|| ChoiceText::new(keep))
    }

    /// Adds one tool-call delta to the call it continues. A call's first delta must carry its
    /// `id` and `function.name` (OpenAI's ChatCompletionMessageToolCallChunk: they come on the
    /// first fragment, the arguments after): clients that key a call by the id or dispatch on the
    /// name as it starts lose a call whose name or id comes late or never. (A delta without
    /// `index` breaks the chunk schema, which requires it.)
    fn tool_call_delta(&mut self, frame: usize, choice: usize, call: JsonRef<'_>, out: &mut Findings) {
        let slot = call.get("index").and_then(JsonRef::as_u64).unwrap_or(0) as usize;
        if !self.tool_calls.contains_key(&(choice, slot)) {
            let named = |v: Option<JsonRef<'_>>| v.and_then(JsonRef::as_str).is_some_and(|t| !t.is_empty());
            let id = named(call.get("id"));
            let name = named(call.get("function").and_then(|f| f.get("name")));
            let missing = match (id, name) {
                (true, true) => None,
                (false, true) => Some("no id"),
                (true, false) => Some("no function name"),
                (false, false) => Some("no id and no function name"),
            };
            if let Some(missing) = missing {
                out.fail(Failure::stream(
                    At::Frame(frame),
                    format!("tool call {slot} of choice {choice}: its first delta carries {missing}"),
                ));
            }
        }
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

    /// One choice's delta: its text, reasoning, refusal and log probabilities (its members read
    /// in one pass: this runs on every frame).
    fn delta(&mut self, index: usize, choice: JsonRef<'_>) {
        let (mut content, mut refusal, mut reasoning) = (None, None, None);
        if let Some(delta) = choice.get("delta") {
            for (k, v) in delta.members() {
                match k {
                    "content" => content = v.as_str(),
                    "refusal" => refusal = v.as_str(),
                    "reasoning_content" | "reasoning" if reasoning.is_none() => {
                        let field = if k == "reasoning" {
                            "reasoning"
                        } else {
                            "reasoning_content"
                        };
                        reasoning = v.as_str().map(|t| (field, t));
                    }
                    _ => {}
                }
            }
        }
        if let Some(t) = content {
            self.signals.content_chars += t.chars().count();
        }
        let keep = self.keep;
        let c = self.choice(index);
        if let Some(t) = content {
            c.content.push(t);
        }
        if let Some(t) = refusal {
            c.refusal.push(t);
        }
        if let Some((field, t)) = reasoning {
            c.reasoning_field.get_or_insert_with(|| field.to_string());
            c.reasoning.push(t);
        }
        if keep {
            if let Some(lp) = choice.get("logprobs").filter(|l| l.is_object()) {
                let entries = c.logprobs.get_or_insert_with(Vec::new);
                if let Some(items) = lp.get("content").and_then(JsonRef::as_array) {
                    if entries.len() < MAX_LOGPROBS {
                        entries.extend(items.iter().map(JsonRef::to_value));
                    }
                }
            }
        }
    }

    /// The message the deltas add up to, checked against the non-streamed shape.
    fn reassembled(&mut self, cx: &EndContext, out: &mut Findings) {
        for ((choice, slot), tc) in &self.tool_calls {
            tc.arguments.check(
                &format!("tool call {slot} of choice {choice} ({})", tc.name),
                out,
            );
        }
        for (i, c) in &self.choices {
            for (what, t) in [("content", &c.content), ("refusal", &c.refusal), ("reasoning", &c.reasoning)] {
                t.check_kept(&format!("choice {i}'s {what}"), out);
            }
        }
        let Some(head) = self.head.clone() else {
            return;
        };
        if self.signals.finish.is_empty() {
            return;
        }
        let mut indices: Vec<usize> = self.choices.keys().copied().collect();
        indices.extend(self.signals.finish.iter().map(|(i, _)| *i));
        indices.extend(self.tool_calls.keys().map(|(c, _)| *c));
        indices.sort_unstable();
        indices.dedup();
        let empty = ChoiceText::default();
        let choices: Vec<Value> = indices
            .iter()
            .map(|index| {
                let text = self.choices.get(index).unwrap_or(&empty);
                let tool_calls: Vec<Value> = self
                    .tool_calls
                    .iter()
                    .filter(|((c, _), _)| c == index)
                    .map(|(_, tc)| {
                        let mut call = serde_json::json!({
                            "id": tc.id,
                            "function": {"name": tc.name, "arguments": tc.arguments.text}
                        });
                        // A call whose deltas never named its type has none (not `null`).
                        if let Some(kind) = &tc.kind {
                            call["type"] = Value::String(kind.clone());
                        }
                        call
                    })
                    .collect();
                let mut message = serde_json::json!({
                    "role": self.role.as_deref().unwrap_or("assistant"),
                    "content": if text.content.is_empty() { Value::Null } else { text.content.value() },
                });
                if !text.refusal.is_empty() {
                    message["refusal"] = text.refusal.value();
                }
                if let Some(field) = &text.reasoning_field {
                    message[field.as_str()] = text.reasoning.value();
                }
                if !tool_calls.is_empty() {
                    message["tool_calls"] = Value::Array(tool_calls);
                }
                let reason = self
                    .signals
                    .finish
                    .iter()
                    .find(|(c, _)| c == index)
                    .and_then(|(_, r)| r.clone());
                let mut choice =
                    serde_json::json!({"index": index, "message": message, "finish_reason": reason});
                if let Some(lp) = &text.logprobs {
                    choice["logprobs"] = serde_json::json!({ "content": lp });
                }
                choice
            })
            .collect();
        let mut doc = head;
        doc.insert("object".into(), Value::String("chat.completion".into()));
        doc.insert("choices".into(), Value::Array(choices));
        if let Some(u) = &self.signals.usage {
            doc.insert("usage".into(), u.clone());
        }
        let doc = Value::Object(doc);
        reassembled_failures(cx, &doc, out);
        self.answer = Some(doc);
    }
}

/// Log-probability entries kept per choice.
const MAX_LOGPROBS: usize = 100_000;

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
            let mut head = serde_json::Map::new();
            for k in ["id", "created", "model"] {
                head.insert(k.into(), doc.get(k).map_or(Value::Null, JsonRef::to_value));
            }
            for k in ["system_fingerprint", "service_tier"] {
                if let Some(v) = doc.get(k) {
                    head.insert(k.into(), v.to_value());
                }
            }
            self.head = Some(head);
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
            self.delta(choice_index, choice);
            let calls = delta
                .and_then(|d| d.get("tool_calls"))
                .and_then(JsonRef::as_array);
            for call in calls.into_iter().flatten() {
                self.signals.tool_calls = true;
                self.tool_call_delta(index, choice_index, call, out);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(JsonRef::as_str) {
                let before = self.signals.finish.iter().find(|(c, _)| *c == choice_index);
                if before.is_some_and(|(_, r)| r.as_deref() == Some(reason)) {
                    // The same reason again: clients keep the last one, and it is the same.
                    let row = crate::judge::levels::stream_row("finish_reason_repeated");
                    let d = row.at(format!("frame {index} /choices/{i}/finish_reason"));
                    crate::model::deviation::note(&mut out.deviations, d);
                } else if before.is_some() {
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

    fn whole(&self, expect: &crate::model::plan::StreamExpect) -> bool {
        let finished = |i: &usize| self.signals.finish.iter().any(|(c, _)| c == i);
        self.saw_choice
            && self.choices.keys().all(finished)
            && self.tool_calls.keys().all(|(c, _)| finished(c))
            && (!expect.usage_chunk || self.usage_chunk)
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

    fn keep_text(&mut self) {
        self.keep = true;
    }

    fn answer(&self) -> Option<&Value> {
        self.answer.as_ref()
    }
}
