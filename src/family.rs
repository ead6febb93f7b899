//! Contract families: the kinds of endpoint a case can call.
//!
//! A family is data plus a little code: the method and path below the target's base URL, how the
//! key is sent, the schemas a success body, a stream frame and an error body must match, the
//! stream grammar (src/grammar/), what a success body says about its answer (end reason, text,
//! tool calls, a filtered result), how its end reasons read as soft failures and, for
//! asynchronous tasks, how to poll them (src/poll.rs). Adding a family adds a row to
//! [`FAMILIES`], its schemas and its cases; the runner, the reports and the drift code do not
//! change.

use serde_json::Value;

use crate::grammar::{self, Grammar};

/// How a family sends the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The key alone in this header (Anthropic's `x-api-key`).
    Plain(&'static str),
}

/// What a successful non-streamed body says about its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// End reasons in the family's own words, per choice.
    pub finish: Vec<(usize, Option<String>)>,
    /// The answer carries text (or, for images, at least one image).
    pub has_content: bool,
    pub has_tool_calls: bool,
    /// The provider filtered the prompt and answered with nothing (an image request's empty
    /// `data`): a soft failure.
    pub filtered: bool,
    /// Facts worth reporting (an image's revised prompt).
    pub notes: Vec<String>,
    /// The body is a success envelope that says the answer failed (a Responses object with
    /// `status: failed`), with its error.
    pub failure: Option<crate::classify::ApiError>,
}

/// How an asynchronous task is polled after it was submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSpec {
    /// Below the base URL; `{id}` is replaced by the task id.
    pub path: &'static str,
    /// Where the submit answer and each poll keep the task id, tried in order.
    pub id: &'static [&'static str],
    /// Where each poll keeps the status, tried in order.
    pub status: &'static [&'static str],
    /// Where each poll keeps the progress (a percentage), tried in order.
    pub progress: &'static [&'static str],
    /// Where a failed task keeps its error detail, tried in order.
    pub error: &'static [&'static str],
    /// Statuses that mean done (`succeed` is Kling's spelling).
    pub done: &'static [&'static str],
    pub failed: &'static [&'static str],
    pub cancelled: &'static [&'static str],
    /// Statuses that mean keep polling; any other status is reported as unknown drift.
    pub pending: &'static [&'static str],
    /// Error codes on an early poll that mean the task is not visible yet (`task_not_exist`).
    pub not_yet: &'static [&'static str],
    /// Schema of each poll's answer.
    pub schema: &'static str,
}

#[derive(Clone, Copy)]
pub struct Family {
    pub name: &'static str,
    pub method: &'static str,
    /// Appended to the target's base URL.
    pub path: &'static str,
    pub key: KeyHeader,
    /// Headers every request of the family carries (a case's own headers win).
    pub headers: &'static [(&'static str, &'static str)],
    /// Schema of a successful non-streamed body.
    pub response_schema: &'static str,
    /// Schema of each streamed data frame.
    pub chunk_schema: &'static str,
    /// Schema of an error body when the family has its own envelope; the target's dialect
    /// decides otherwise.
    pub error_schema: Option<&'static str>,
    /// A new stream grammar for one stream.
    pub grammar: fn() -> Box<dyn Grammar>,
    /// Reads a successful body (already checked against its schema).
    pub answer: fn(&Value) -> Answer,
    /// An end reason in chat-completions words (`stop`, `length`, `content_filter`,
    /// `tool_calls`), for the soft-failure table.
    pub soft_reason: fn(&str) -> Option<&'static str>,
    pub poll: Option<PollSpec>,
}

impl std::fmt::Debug for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family").field("name", &self.name).finish()
    }
}

impl PartialEq for Family {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Family {
    /// Every schema the family names.
    pub fn schemas(&self) -> Vec<&'static str> {
        let mut v = vec![self.response_schema, self.chunk_schema];
        v.extend(self.error_schema);
        v.extend(self.poll.map(|p| p.schema));
        v
    }
}

fn text_of(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty())
}

fn chat_answer(doc: &Value) -> Answer {
    let choices = doc.get("choices").and_then(Value::as_array);
    let finish = choices
        .map(|cs| {
            cs.iter()
                .enumerate()
                .map(|(i, c)| {
                    let r = c.get("finish_reason").and_then(Value::as_str);
                    (i, r.map(str::to_string))
                })
                .collect()
        })
        .unwrap_or_default();
    let message = doc.pointer("/choices/0/message");
    Answer {
        finish,
        has_content: text_of(message.and_then(|m| m.get("content"))),
        has_tool_calls: message
            .and_then(|m| m.get("tool_calls"))
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty()),
        ..Answer::default()
    }
}

fn chat_soft(reason: &str) -> Option<&'static str> {
    match reason {
        "stop" => Some("stop"),
        "length" => Some("length"),
        "content_filter" => Some("content_filter"),
        "tool_calls" | "function_call" => Some("tool_calls"),
        _ => None,
    }
}

pub const CHAT_COMPLETIONS: Family = Family {
    name: "chat_completions",
    method: "POST",
    path: "/chat/completions",
    key: KeyHeader::Bearer,
    headers: &[],
    response_schema: "chat_completion",
    chunk_schema: "chat_completion_chunk",
    error_schema: None,
    grammar: grammar::chat::new,
    answer: chat_answer,
    soft_reason: chat_soft,
    poll: None,
};

fn messages_answer(doc: &Value) -> Answer {
    let blocks = doc.get("content").and_then(Value::as_array);
    let of_type = |t: &str| {
        blocks.is_some_and(|bs| {
            bs.iter()
                .any(|b| b.get("type").and_then(Value::as_str) == Some(t))
        })
    };
    Answer {
        finish: vec![(
            0,
            doc.get("stop_reason")
                .and_then(Value::as_str)
                .map(str::to_string),
        )],
        has_content: blocks.is_some_and(|bs| bs.iter().any(|b| text_of(b.get("text")))),
        has_tool_calls: of_type("tool_use"),
        ..Answer::default()
    }
}

/// Anthropic's stop reasons in chat-completions words.
fn messages_soft(reason: &str) -> Option<&'static str> {
    match reason {
        "end_turn" | "stop_sequence" => Some("stop"),
        "max_tokens" | "model_context_window_exceeded" => Some("length"),
        "refusal" => Some("content_filter"),
        "tool_use" => Some("tool_calls"),
        _ => None,
    }
}

/// Anthropic-style Messages (`/v1/messages`), as CometAPI and LiteLLM serve it natively.
pub const MESSAGES: Family = Family {
    name: "messages",
    method: "POST",
    path: "/messages",
    key: KeyHeader::Plain("x-api-key"),
    headers: &[("anthropic-version", "2023-06-01")],
    response_schema: "messages_response",
    chunk_schema: "messages_event",
    error_schema: Some("anthropic_error"),
    grammar: grammar::messages::new,
    answer: messages_answer,
    soft_reason: messages_soft,
    poll: None,
};

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

fn responses_answer(doc: &Value) -> Answer {
    let output = doc.get("output").and_then(Value::as_array);
    let items = || output.into_iter().flatten();
    let has_content = items().any(|item| {
        item.get("content")
            .and_then(Value::as_array)
            .is_some_and(|parts| parts.iter().any(|p| text_of(p.get("text"))))
    });
    let failure = (doc.get("status").and_then(Value::as_str) == Some("failed")).then(|| {
        let err = doc.get("error").filter(|e| e.is_object());
        let text = |k: &str| {
            err.and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        crate::classify::ApiError {
            r#type: Some("response.failed".into()),
            code: text("code"),
            message: text("message")
                .or_else(|| Some("status failed without an error object".into())),
            ..crate::classify::ApiError::default()
        }
    });
    Answer {
        finish: vec![(0, responses_reason(doc))],
        failure,
        has_content,
        has_tool_calls: items()
            .any(|i| i.get("type").and_then(Value::as_str) == Some("function_call")),
        ..Answer::default()
    }
}

fn responses_soft(reason: &str) -> Option<&'static str> {
    match reason {
        "completed" => Some("stop"),
        "max_output_tokens" => Some("length"),
        "content_filter" => Some("content_filter"),
        _ => None,
    }
}

/// OpenAI-style Responses (`/v1/responses`).
pub const RESPONSES: Family = Family {
    name: "responses",
    method: "POST",
    path: "/responses",
    key: KeyHeader::Bearer,
    headers: &[],
    response_schema: "responses_response",
    chunk_schema: "responses_event",
    error_schema: None,
    grammar: grammar::responses::new,
    answer: responses_answer,
    soft_reason: responses_soft,
    poll: None,
};

fn images_answer(doc: &Value) -> Answer {
    let data = doc.get("data").and_then(Value::as_array);
    let mut notes = Vec::new();
    for (i, item) in data.into_iter().flatten().enumerate() {
        if let Some(p) = item.get("revised_prompt").and_then(Value::as_str) {
            notes.push(format!(
                "image {i}: the provider revised the prompt to: {p}"
            ));
        }
    }
    let images = data.map_or(0, Vec::len);
    Answer {
        has_content: images > 0,
        filtered: images == 0,
        notes,
        ..Answer::default()
    }
}

fn no_soft_reason(_: &str) -> Option<&'static str> {
    None
}

/// Image generation (`/v1/images/generations`): no stream, no end reason; an empty `data` is a
/// filtered prompt.
pub const IMAGES: Family = Family {
    name: "images",
    method: "POST",
    path: "/images/generations",
    key: KeyHeader::Bearer,
    headers: &[],
    response_schema: "images_response",
    chunk_schema: "images_response",
    error_schema: None,
    grammar: grammar::chat::new,
    answer: images_answer,
    soft_reason: no_soft_reason,
    poll: None,
};

fn task_answer(_doc: &Value) -> Answer {
    // A submitted task has no answer yet; the poll loop judges the result.
    Answer {
        has_content: true,
        ..Answer::default()
    }
}

/// Asynchronous video tasks: submit (`POST /v1/videos`), then poll `GET /v1/videos/{id}` until
/// the task is done, failed or cancelled.
pub const VIDEO_TASKS: Family = Family {
    name: "video_tasks",
    method: "POST",
    path: "/videos",
    key: KeyHeader::Bearer,
    headers: &[],
    response_schema: "video_task",
    chunk_schema: "video_task",
    error_schema: None,
    grammar: grammar::chat::new,
    answer: task_answer,
    soft_reason: no_soft_reason,
    poll: Some(PollSpec {
        path: "/videos/{id}",
        id: &["/id", "/task_id", "/data/task_id"],
        status: &["/status", "/data/status", "/data/task_status"],
        progress: &["/progress", "/data/progress"],
        error: &[
            "/error",
            "/fail_reason",
            "/data/fail_reason",
            "/data/task_status_msg",
        ],
        done: &["succeeded", "succeed", "completed", "success"],
        failed: &["failed", "failure", "error"],
        cancelled: &["cancelled", "canceled"],
        pending: &[
            "queued",
            "in_progress",
            "processing",
            "submitted",
            "pending",
            "running",
            "not_start",
        ],
        not_yet: &["task_not_exist", "task_not_found"],
        schema: "video_task",
    }),
};

/// Every family the harness knows.
pub const FAMILIES: &[Family] = &[CHAT_COMPLETIONS, MESSAGES, RESPONSES, IMAGES, VIDEO_TASKS];

pub fn by_name(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    FAMILIES.iter().map(|f| f.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn end_reasons_read_as_chat_words() {
        assert_eq!((MESSAGES.soft_reason)("max_tokens"), Some("length"));
        assert_eq!((MESSAGES.soft_reason)("refusal"), Some("content_filter"));
        assert_eq!((MESSAGES.soft_reason)("tool_use"), Some("tool_calls"));
        assert_eq!((MESSAGES.soft_reason)("end_turn"), Some("stop"));
        assert_eq!((RESPONSES.soft_reason)("max_output_tokens"), Some("length"));
    }

    #[test]
    fn answers() {
        let img = (IMAGES.answer)(&json!({"created": 1, "data": []}));
        assert!(img.filtered && !img.has_content);
        let img = (IMAGES.answer)(
            &json!({"created": 1, "data": [{"url": "https://x/y.png", "revised_prompt": "a cat"}]}),
        );
        assert!(!img.filtered && img.notes[0].contains("a cat"));
        let m = (MESSAGES.answer)(
            &json!({"content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn"}),
        );
        assert_eq!(m.finish, vec![(0, Some("end_turn".into()))]);
        assert!(m.has_content);
        let r = (RESPONSES.answer)(
            &json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []}),
        );
        assert_eq!(r.finish, vec![(0, Some("max_output_tokens".into()))]);
    }
}
