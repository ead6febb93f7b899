//! The checks: each looks at part of an exchange and returns failures as data, never prints.

use std::time::Duration;

use serde_json::Value;

use crate::classify::{ApiError, BodyKind, StreamEnd};
use crate::contract::{Expect, StreamExpect};
use crate::drift::StreamShape;
use crate::schema::SchemaRegistry;
use crate::sse::SseEvent;
use crate::transport::{Deadline, FrameSink, StreamRead, StreamStop};

/// Largest tool-call arguments string kept for the JSON check.
pub const MAX_ARGUMENTS: usize = 1 << 20;

/// One tool call reassembled from its deltas.
#[derive(Debug, Clone, Default)]
struct ToolCall {
    id: Option<String>,
    kind: Option<String>,
    name: String,
    arguments: String,
    truncated: bool,
}

/// Most failures reported per check; the rest are counted.
pub const MAX_FAILURES: usize = 10;
/// Characters of a body shown in an excerpt.
pub const EXCERPT: usize = 300;

/// A short, single-line excerpt of a body.
pub fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > EXCERPT {
        let cut: String = flat.chars().take(EXCERPT).collect();
        format!("{cut}… ({} bytes)", bytes.len())
    } else {
        flat
    }
}

/// What a non-streamed body is.
pub fn body_kind(content_type: Option<&str>, bytes: &[u8]) -> (BodyKind, Option<Value>) {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return (BodyKind::Empty, None);
    }
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return (BodyKind::Json, Some(v));
    }
    let ct_html = content_type.is_some_and(|c| c.to_ascii_lowercase().contains("html"));
    let head: String = String::from_utf8_lossy(&bytes[..bytes.len().min(512)])
        .trim_start()
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    if ct_html
        || head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || head.starts_with("<head")
    {
        (BodyKind::Html, None)
    } else {
        (BodyKind::OtherText, None)
    }
}

/// Checks a JSON body against a schema; failures name the JSON pointer.
pub fn schema_failures(
    schemas: &SchemaRegistry,
    name: &str,
    doc: &Value,
    failures: &mut Vec<String>,
) -> bool {
    match schemas.validate(name, doc) {
        Ok((violations, total)) => {
            for v in &violations {
                failures.push(format!("schema {name}: {v}"));
            }
            if total > violations.len() {
                failures.push(format!(
                    "schema {name}: … and {} more violations",
                    total - violations.len()
                ));
            }
            total == 0
        }
        Err(e) => {
            failures.push(format!("schema: {}", e.message));
            false
        }
    }
}

/// The finish reasons of a non-streamed body, per choice.
pub fn finish_reasons(doc: &Value, choices_pointer: &str) -> Vec<(usize, Option<String>)> {
    doc.pointer(choices_pointer)
        .and_then(Value::as_array)
        .map(|choices| {
            choices
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    (
                        i,
                        c.get("finish_reason")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Checks finish reasons against the allowed set.
pub fn finish_reason_failures(
    got: &[(usize, Option<String>)],
    expect: &Expect,
    failures: &mut Vec<String>,
) {
    let Some(allowed) = &expect.finish_reason else {
        return;
    };
    if got.is_empty() {
        failures.push(format!(
            "finish_reason: expected one of [{}], but no choice carried one",
            allowed.join(", ")
        ));
    }
    for (i, reason) in got {
        match reason {
            Some(r) if allowed.iter().any(|a| a == r) => {}
            Some(r) => failures.push(format!(
                "finish_reason: choice {i}: expected one of [{}], got \"{r}\"",
                allowed.join(", ")
            )),
            None => failures.push(format!(
                "finish_reason: choice {i}: missing (expected one of [{}])",
                allowed.join(", ")
            )),
        }
    }
}

/// Checks the error code against the allowed set.
pub fn error_code_failures(error: Option<&ApiError>, expect: &Expect, failures: &mut Vec<String>) {
    let Some(allowed) = &expect.error_code else {
        return;
    };
    let got = error.and_then(|e| e.code.clone().or_else(|| e.r#type.clone()));
    match got {
        Some(code) if allowed.contains(&code) => {}
        Some(code) => failures.push(format!(
            "error_code: expected one of [{}], got \"{code}\"",
            allowed.join(", ")
        )),
        None => failures.push(format!(
            "error_code: expected one of [{}], but the body carries no error code",
            allowed.join(", ")
        )),
    }
}

/// Checks a stream frame by frame, as it arrives.
pub struct StreamCheck<'a> {
    schemas: &'a SchemaRegistry,
    chunk_schema: String,
    response_schema: String,
    head: Option<(Value, Value, Value)>,
    role: Option<String>,
    tool_calls: std::collections::BTreeMap<(usize, usize), ToolCall>,
    done_marker: &'static str,
    pub failures: Vec<String>,
    suppressed: usize,
    pub frames: usize,
    pub done: usize,
    after_done: usize,
    malformed: bool,
    saw_choice: bool,
    pub finish: Vec<(usize, Option<String>)>,
    pub usage_chunk: bool,
    /// A frame that carried usage next to a non-empty `choices` (frame index, choices).
    usage_beside_choices: Option<(usize, usize)>,
    pub error_frame: Option<(usize, ApiError)>,
    pub content_chars: usize,
    pub shape: StreamShape,
    /// Whether frames are kept (masked, collapsed) for a drift comparison; off when there is no
    /// baseline to compare with.
    pub collect_shape: bool,
    /// Raw stream pieces with their arrival times, kept only while recording.
    pub raw: Option<Vec<(Duration, bytes::Bytes)>>,
    raw_bytes: usize,
    pub first_content: Option<Duration>,
    pub last_frame: Option<Duration>,
    pub max_gap: Duration,
    /// The last `usage` object a frame carried (the include_usage chunk, normally).
    pub usage: Option<Value>,
    /// A data frame was not valid JSON.
    pub invalid_json: bool,
    /// A data frame broke the chunk schema.
    pub schema_failed: bool,
}

impl<'a> StreamCheck<'a> {
    pub fn new(
        schemas: &'a SchemaRegistry,
        chunk_schema: &str,
        response_schema: &str,
        done_marker: &'static str,
    ) -> Self {
        StreamCheck {
            schemas,
            chunk_schema: chunk_schema.to_string(),
            response_schema: response_schema.to_string(),
            head: None,
            role: None,
            tool_calls: std::collections::BTreeMap::new(),
            done_marker,
            failures: Vec::new(),
            suppressed: 0,
            frames: 0,
            done: 0,
            after_done: 0,
            malformed: false,
            saw_choice: false,
            finish: Vec::new(),
            usage_chunk: false,
            usage_beside_choices: None,
            error_frame: None,
            content_chars: 0,
            shape: StreamShape::default(),
            collect_shape: true,
            raw: None,
            raw_bytes: 0,
            first_content: None,
            last_frame: None,
            max_gap: Duration::ZERO,
            usage: None,
            invalid_json: false,
            schema_failed: false,
        }
    }

    fn fail(&mut self, message: String) {
        if self.failures.len() < MAX_FAILURES {
            self.failures.push(message);
        } else {
            self.suppressed += 1;
        }
    }

    fn chunk(&mut self, index: usize, offset: u64, doc: &Value, at: Duration) {
        if !self
            .schemas
            .is_valid(&self.chunk_schema, doc)
            .unwrap_or(false)
        {
            self.malformed = true;
            self.schema_failed = true;
            let mut f = Vec::new();
            schema_failures(self.schemas, &self.chunk_schema, doc, &mut f);
            for v in f.into_iter().take(3) {
                self.fail(format!("stream: frame {index} (byte {offset}): {v}"));
            }
        }
        if self.head.is_none() {
            let field = |k: &str| doc.get(k).cloned().unwrap_or(Value::Null);
            self.head = Some((field("id"), field("created"), field("model")));
        }
        if let Some(usage) = doc.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        let Some(choices) = doc.get("choices").and_then(Value::as_array) else {
            return;
        };
        let has_usage = doc.get("usage").is_some_and(Value::is_object);
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
                .and_then(Value::as_u64)
                .map_or(i, |n| n as usize);
            if !self.saw_choice {
                self.saw_choice = true;
                if delta.and_then(|d| d.get("role")).is_none() {
                    self.fail(format!(
                        "stream: frame {index}: the first choice delta carries no role"
                    ));
                }
            }
            if let Some(role) = delta.and_then(|d| d.get("role")).and_then(Value::as_str) {
                self.role.get_or_insert_with(|| role.to_string());
            }
            if let Some(text) = delta.and_then(|d| d.get("content")).and_then(Value::as_str) {
                if !text.is_empty() {
                    self.first_content.get_or_insert(at);
                    self.content_chars += text.chars().count();
                }
            }
            let calls = delta
                .and_then(|d| d.get("tool_calls"))
                .and_then(Value::as_array);
            for call in calls.into_iter().flatten() {
                self.tool_call_delta(choice_index, call);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                if self.finish.iter().any(|(c, _)| *c == choice_index) {
                    self.malformed = true;
                    self.fail(format!(
                        "stream: frame {index}: choice {choice_index} finished a second time (\"{reason}\")"
                    ));
                } else {
                    self.finish.push((choice_index, Some(reason.to_string())));
                }
            }
        }
    }

    /// Adds one tool-call delta to the call it continues.
    fn tool_call_delta(&mut self, choice: usize, call: &Value) {
        let slot = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
        let tc = self.tool_calls.entry((choice, slot)).or_default();
        if let Some(id) = call.get("id").and_then(Value::as_str) {
            tc.id.get_or_insert_with(|| id.to_string());
        }
        if let Some(t) = call.get("type").and_then(Value::as_str) {
            tc.kind.get_or_insert_with(|| t.to_string());
        }
        let Some(f) = call.get("function") else {
            return;
        };
        if let Some(n) = f.get("name").and_then(Value::as_str) {
            tc.name.push_str(n);
        }
        if let Some(a) = f.get("arguments").and_then(Value::as_str) {
            if tc.arguments.len() + a.len() > MAX_ARGUMENTS {
                tc.truncated = true;
            } else {
                tc.arguments.push_str(a);
            }
        }
    }

    /// Closes the check once the body ended; returns how the stream ended.
    pub fn finish(
        &mut self,
        read: &StreamRead,
        expect: &StreamExpect,
        allowed_finish: &Expect,
    ) -> StreamEnd {
        let summary = |s: &Self| {
            format!(
                "after {} frames and {} characters of content",
                s.frames, s.content_chars
            )
        };
        match &read.stop {
            StreamStop::Parse(e) => {
                self.malformed = true;
                self.fail(format!("stream: {e}"));
            }
            StreamStop::Failed(kind, message) => {
                self.fail(format!(
                    "stream: connection failed ({kind:?}) {}: {message}",
                    summary(self)
                ));
            }
            StreamStop::Eof { partial: true } => {
                self.fail(format!("stream: ended inside an event {}", summary(self)));
            }
            StreamStop::Deadline(Deadline::Idle, limit) => {
                self.fail(format!(
                    "stream: stalled: nothing arrived for {} ms (the idle limit) {}",
                    limit.as_millis(),
                    summary(self)
                ));
                return StreamEnd::Stalled;
            }
            StreamStop::Deadline(which, limit) => {
                self.fail(format!(
                    "stream: the {} deadline of {} ms passed {}",
                    which.name(),
                    limit.as_millis(),
                    summary(self)
                ));
            }
            _ => {}
        }
        if let Some((index, err)) = self.error_frame.clone() {
            self.fail(format!(
                "stream: error frame at frame {index}, after {index} frames and {} characters of content: {} — {}",
                self.content_chars,
                err.describe(),
                err.message.as_deref().unwrap_or("(no message)")
            ));
            return StreamEnd::ErrorFrame;
        }
        let cut = expect.done && self.done == 0;
        if cut {
            self.fail(format!(
                "stream: truncated: no `data: {}` {}",
                self.done_marker,
                summary(self)
            ));
        }
        if self.done > 1 {
            self.malformed = true;
            self.fail(format!(
                "stream: `data: {}` arrived {} times",
                self.done_marker, self.done
            ));
        }
        if self.after_done > 0 {
            self.malformed = true;
            self.fail(format!(
                "stream: {} frames arrived after `data: {}`",
                self.after_done, self.done_marker
            ));
        }
        if expect.usage_chunk && !self.usage_chunk {
            self.fail(match self.usage_beside_choices {
                Some((frame, n)) => format!(
                    "stream: frame {frame} carries usage but its choices has {n} entr{} (include_usage promises a final chunk with `choices: []`)",
                    if n == 1 { "y" } else { "ies" }
                ),
                None => "stream: no final usage chunk (`choices: []` with `usage`) although include_usage was asked".into(),
            });
        }
        if cut {
            // Truncation is the failure; a missing finish_reason follows from it.
        } else if self.finish.is_empty() {
            self.fail("stream: no choice carried a finish_reason".into());
        } else {
            let finish = self.finish.clone();
            let mut f = Vec::new();
            finish_reason_failures(&finish, allowed_finish, &mut f);
            for m in f {
                self.fail(format!("stream: {m}"));
            }
        }
        if expect.incremental && self.frames >= 2 && read.event_reads <= 1 {
            self.fail(format!(
                "stream: the whole answer ({} frames, {} bytes) arrived in one burst: a buffering gateway",
                self.frames, read.bytes
            ));
        }
        if !cut {
            self.reassembled();
        }
        if self.suppressed > 0 {
            self.failures.push(format!(
                "stream: … and {} more stream failures",
                self.suppressed
            ));
        }
        if cut || matches!(read.stop, StreamStop::Failed(..) | StreamStop::Deadline(..)) {
            StreamEnd::Cut
        } else if self.malformed {
            StreamEnd::Malformed
        } else {
            StreamEnd::Complete
        }
    }
}

impl StreamCheck<'_> {
    /// Whether any tool-call delta arrived.
    pub fn has_tool_calls(&self) -> bool {
        !self.tool_calls.is_empty()
    }

    /// Checks the tool calls' arguments and the message the deltas add up to, against the shape
    /// a non-streamed answer must have.
    fn reassembled(&mut self) {
        let calls: Vec<((usize, usize), ToolCall)> = self
            .tool_calls
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for ((choice, slot), tc) in &calls {
            if tc.truncated {
                self.fail(format!(
                    "stream: tool call {slot} of choice {choice}: arguments over {MAX_ARGUMENTS} bytes, not checked"
                ));
            } else if serde_json::from_str::<Value>(&tc.arguments).is_err() {
                self.fail(format!(
                    "stream: tool call {slot} of choice {choice} ({}): the reassembled arguments are not valid JSON: {}",
                    tc.name,
                    excerpt(tc.arguments.as_bytes())
                ));
            }
        }
        let Some((id, created, model)) = self.head.clone() else {
            return;
        };
        if self.finish.is_empty() {
            return;
        }
        let choices: Vec<Value> = self
            .finish
            .iter()
            .map(|(index, reason)| {
                let tool_calls: Vec<Value> = calls
                    .iter()
                    .filter(|((c, _), _)| c == index)
                    .map(|(_, tc)| {
                        serde_json::json!({
                            "id": tc.id, "type": tc.kind,
                            "function": {"name": tc.name, "arguments": tc.arguments}
                        })
                    })
                    .collect();
                let mut message = serde_json::json!({
                    "role": self.role.as_deref().unwrap_or("assistant"),
                    "content": if self.content_chars > 0 { Value::String("[TEXT]".into()) } else { Value::Null },
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
        let mut f = Vec::new();
        let schema = self.response_schema.clone();
        if !schema_failures(self.schemas, &schema, &doc, &mut f) {
            for v in f.into_iter().take(3) {
                self.fail(format!(
                    "stream: the reassembled message breaks the non-streamed shape: {v}"
                ));
            }
        }
    }
}

/// Most stream bytes kept for one recording.
pub const MAX_RECORDED: usize = 32 * 1024 * 1024;

impl FrameSink for StreamCheck<'_> {
    fn raw(&mut self, piece: &bytes::Bytes, at: Duration) {
        if let Some(raw) = &mut self.raw {
            self.raw_bytes += piece.len();
            if self.raw_bytes <= MAX_RECORDED {
                raw.push((at, piece.clone()));
            }
        }
    }

    fn frame(&mut self, ev: SseEvent, at: Duration) -> bool {
        if let Some(last) = self.last_frame {
            self.max_gap = self.max_gap.max(at.saturating_sub(last));
        }
        self.last_frame = Some(at);
        self.frames += 1;
        if ev.data.trim() == self.done_marker {
            if self.collect_shape {
                self.shape.push(ev.event.as_deref(), &ev.data);
            }
            self.done += 1;
            return true;
        }
        if self.done > 0 {
            self.after_done += 1;
        }
        let doc: Value = match serde_json::from_str(&ev.data) {
            Ok(v) => v,
            Err(e) => {
                self.malformed = true;
                self.invalid_json = true;
                self.fail(format!(
                    "stream: frame {} (byte {}): not valid JSON ({e}): {}",
                    ev.index,
                    ev.offset,
                    excerpt(ev.data.as_bytes())
                ));
                if self.collect_shape {
                    self.shape.push(ev.event.as_deref(), &ev.data);
                }
                return true;
            }
        };
        let is_error_event = ev.event.as_deref() == Some("error");
        if is_error_event || doc.get("error").is_some() {
            let err = ApiError::from_body(&doc).unwrap_or_else(|| ApiError {
                message: Some(excerpt(ev.data.as_bytes())),
                ..ApiError::default()
            });
            self.error_frame = Some((ev.index, err));
            if self.collect_shape {
                self.shape.push_json(ev.event.as_deref(), doc);
            }
            // Processing stops at the first error frame.
            return false;
        }
        self.chunk(ev.index, ev.offset, &doc, at);
        // The frame is checked; masking it in place feeds the drift comparison without a copy.
        if self.collect_shape {
            self.shape.push_json(ev.event.as_deref(), doc);
        }
        true
    }
}
