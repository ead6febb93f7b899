//! Stream grammars: what a family's stream must look like, frame by frame.
//!
//! The stream driver ([`crate::judge::stream::StreamCheck`]) does what every family shares: SSE framing as
//! bytes arrive, JSON parsing, the frame schema, error frames, gaps, the drift shape and how the
//! connection ended. A grammar adds what is particular to one family: the order of its events,
//! its terminal event, its end reason, and the answer its frames add up to. Each grammar is a
//! small state machine fed one parsed frame at a time; none keeps the stream.

pub mod chat;
pub mod messages;
pub mod responses;

use serde_json::Value;

use crate::util::tape::JsonRef;

use crate::contract::schema::SchemaRegistry;
use crate::judge::body::excerpt;
use crate::model::failure::{At, Failure};
use crate::model::observation::ApiError;
use crate::model::plan::{Expect, StreamExpect};

/// Most failures reported per stream; the rest are counted.
pub const MAX_FAILURES: usize = 10;

/// One data frame's place in the stream.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Position among the stream's events, from 0.
    pub index: usize,
    /// Byte offset of the event in the body.
    pub offset: u64,
    /// The SSE `event:` name, when the frame had one.
    pub event: Option<&'a str>,
}

/// Failures a stream check found, capped at [`MAX_FAILURES`].
#[derive(Debug, Default)]
pub struct Findings {
    pub failures: Vec<Failure>,
    pub suppressed: usize,
    /// The stream broke its grammar (as opposed to ending early).
    pub malformed: bool,
    /// Named deviations from the spec that clients survive (`judge::levels`).
    pub deviations: Vec<crate::model::deviation::Deviation>,
}

impl Findings {
    pub fn fail(&mut self, failure: Failure) {
        if self.failures.len() < MAX_FAILURES {
            self.failures.push(failure);
        } else {
            self.suppressed += 1;
        }
    }

    /// A grammar violation: the frame arrived, but not where or how the grammar allows.
    pub fn violation(&mut self, failure: Failure) {
        self.malformed = true;
        self.fail(failure);
    }
}

/// What a stream said about its answer.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// The end reasons in the family's own words (`stop`, `end_turn`, `completed`), per choice.
    pub finish: Vec<(usize, Option<String>)>,
    /// Characters of answer text.
    pub content_chars: usize,
    /// Whether a tool call (a function call, a tool_use block) arrived.
    pub tool_calls: bool,
    /// The last usage object a frame carried.
    pub usage: Option<Value>,
}

/// What a grammar's end checks may look at.
pub struct EndContext<'a> {
    pub schemas: &'a SchemaRegistry,
    /// Schema of the family's non-streamed answer, for the reassembled message.
    pub response_schema: &'a str,
    pub expect: &'a StreamExpect,
    pub allowed: &'a Expect,
    /// The terminal event never arrived (the driver has said so already).
    pub cut: bool,
}

/// A family's stream grammar.
pub trait Grammar: Send {
    /// How failures name the stream's terminal event: "`data: [DONE]`", "`message_stop`".
    fn terminal(&self) -> &'static str;

    /// A data frame that is not JSON. True when the grammar knows it (a `[DONE]` marker);
    /// anything else is reported as invalid JSON.
    fn marker(&mut self, _frame: &Frame, _data: &str, _out: &mut Findings) -> bool {
        false
    }

    /// The error this frame carries, if it is an error frame. Processing stops at the first one.
    fn error(&self, frame: &Frame, doc: JsonRef<'_>) -> Option<ApiError> {
        if frame.event == Some("error") || doc.get("error").is_some() {
            Some(error_of(doc))
        } else {
            None
        }
    }

    /// A JSON frame (already checked against the frame schema).
    fn frame(&mut self, frame: &Frame, doc: JsonRef<'_>, out: &mut Findings);

    /// Whether the terminal event arrived.
    fn terminated(&self) -> bool;

    /// Whether the answer is whole without its terminal event: every choice finished (and the
    /// usage chunk came, where one is due). A body that then ended cleanly left out only the
    /// terminator — a deviation (`missing_done_after_finish`), not a cut. Default: never.
    fn whole(&self, _expect: &StreamExpect) -> bool {
        false
    }

    /// The body ended: the checks that need the whole stream.
    fn end(&mut self, cx: &EndContext, out: &mut Findings);

    fn signals(&self) -> &Signals;

    /// Keep the answer's text (bounded), so [`Grammar::answer`] carries it: asked for when a
    /// case asserts on the answer. Without, the grammar keeps counts only.
    fn keep_text(&mut self);

    /// The answer the frames added up to, in the family's non-streamed shape (after
    /// [`Grammar::end`]; `None` when the stream never said enough to build one). Its text is
    /// `"[TEXT]"` unless [`Grammar::keep_text`] was asked.
    fn answer(&self) -> Option<&Value>;
}

/// The error envelope of an error frame, or its excerpt when it has none.
pub fn error_of(doc: JsonRef<'_>) -> ApiError {
    let doc = doc.to_value();
    ApiError::from_body(&doc).unwrap_or_else(|| ApiError {
        message: Some(excerpt(doc.to_string().as_bytes())),
        ..ApiError::default()
    })
}

/// The `type` of an event's data, checked against its SSE `event:` name when it has one.
/// Messages and Responses streams name each event twice; the two must agree.
pub fn event_type<'a>(frame: &Frame, doc: JsonRef<'a>, out: &mut Findings) -> Option<&'a str> {
    let ty = doc.get("type").and_then(JsonRef::as_str);
    if let (Some(name), Some(ty)) = (frame.event, ty) {
        if name != ty {
            out.violation(Failure::stream(
                At::Byte(frame.index, frame.offset),
                format!("`event: {name}` but its data says type \"{ty}\""),
            ));
        }
    }
    ty
}

/// Checks end reasons against the allowed set, prefixing each failure with `stream: `.
pub fn finish_failures(finish: &[(usize, Option<String>)], allowed: &Expect, out: &mut Findings) {
    let mut f = Vec::new();
    crate::judge::body::finish_reason_failures(finish, allowed, &mut f);
    for m in f {
        out.fail(Failure::Within {
            at: At::Stream,
            inner: Box::new(m),
        });
    }
}

/// Text kept from deltas when a case reads the answer: bounded like tool-call arguments.
#[derive(Debug, Clone, Default)]
pub struct Text {
    keep: bool,
    text: Assembled,
    bytes: usize,
}

impl Text {
    pub fn kept() -> Text {
        Text {
            keep: true,
            ..Text::default()
        }
    }

    pub fn push(&mut self, piece: &str) {
        // Bytes, not characters: only whether any arrived is asked.
        self.bytes += piece.len();
        if self.keep {
            self.text.push(piece);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// The text as the answer shows it: itself when kept, `"[TEXT]"` otherwise.
    pub fn value(&self) -> Value {
        if self.keep {
            Value::String(self.text.text.clone())
        } else {
            Value::String("[TEXT]".into())
        }
    }

    /// Reports text that arrived beyond what is kept: assertions read only part of it, so the
    /// case cannot pass on them.
    pub fn check_kept(&self, what: &str, out: &mut Findings) {
        if self.text.truncated {
            out.fail(Failure::stream(
                At::Stream,
                format!("{what}: over {MAX_ARGUMENTS} bytes, only part of it kept for the assertions"),
            ));
        }
    }
}

/// Checks a reassembled answer against the family's non-streamed schema.
pub fn reassembled_failures(cx: &EndContext, doc: &Value, out: &mut Findings) {
    let mut f = Vec::new();
    let mut found = Vec::new();
    let (schemas, schema) = (cx.schemas, cx.response_schema);
    if !crate::judge::levels::schema_check(schemas, schema, doc, "reassembled ", &mut f, &mut found) {
        for v in f.into_iter().take(3) {
            out.fail(Failure::Reassembled(Box::new(v)));
        }
    }
    // What the frames showed already is listed once, where the frames showed it.
    for d in found {
        if !out.deviations.iter().any(|o| o.name == d.name) {
            out.deviations.push(d);
        }
    }
}

/// Arguments of tool calls are kept up to this many bytes for the JSON check.
pub const MAX_ARGUMENTS: usize = 1 << 20;

/// A JSON text assembled from deltas (tool-call arguments, tool_use input), bounded.
#[derive(Debug, Clone, Default)]
pub struct Assembled {
    pub text: String,
    pub truncated: bool,
}

impl Assembled {
    pub fn push(&mut self, piece: &str) {
        if self.text.len() + piece.len() > MAX_ARGUMENTS {
            self.truncated = true;
        } else {
            self.text.push_str(piece);
        }
    }

    /// Reports arguments that are not JSON; `what` names them in the failure.
    pub fn check(&self, what: &str, out: &mut Findings) {
        if self.truncated {
            out.fail(Failure::stream(
                At::Stream,
                format!("{what}: arguments over {MAX_ARGUMENTS} bytes, not checked"),
            ));
        } else if serde_json::from_str::<Value>(&self.text).is_err() {
            out.fail(Failure::stream(
                At::Stream,
                format!(
                    "{what}: the reassembled arguments are not valid JSON: {}",
                    excerpt(self.text.as_bytes())
                ),
            ));
        }
    }
}
