//! What judging an exchange observed: the error envelope, the kind of body, how the transport,
//! a stream or a task ended, soft failures. The classification table reads these.

use serde::Serialize;
use serde_json::Value;

/// The fields of an error envelope, whichever dialect sent it: OpenAI / CometAPI
/// `{"error":{"message","type","param","code"}}`, Anthropic `{"type":"error","error":{"type","message"}}`,
/// or an envelope with a `doc_url`. Empty strings are kept as `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApiError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// A link to documentation about the error, when the dialect sends one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc_url: Option<String>,
}

impl ApiError {
    /// Extracts the envelope from a JSON body, or `None` when the body is not an error envelope.
    pub fn from_body(body: &Value) -> Option<ApiError> {
        let err = body.get("error")?;
        let text = |v: Option<&Value>| -> Option<String> {
            match v? {
                Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        match err {
            Value::Object(_) => Some(ApiError {
                r#type: text(err.get("type")),
                code: text(err.get("code")),
                message: text(err.get("message")),
                param: text(err.get("param")),
                doc_url: text(err.get("doc_url")),
            }),
            Value::String(s) => Some(ApiError {
                message: Some(s.clone()),
                ..ApiError::default()
            }),
            _ => None,
        }
    }

    pub fn code_is(&self, wanted: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| wanted.contains(&c))
            || self.r#type.as_deref().is_some_and(|t| wanted.contains(&t))
    }

    pub fn message_has(&self, needles: &[&str]) -> bool {
        self.message.as_deref().is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            needles.iter().any(|n| m.contains(n))
        })
    }

    /// Calls `fix` on every text of the envelope (what a sanitizer must see).
    pub fn texts_mut(&mut self, fix: &mut dyn FnMut(&mut String)) {
        for field in [
            &mut self.r#type,
            &mut self.code,
            &mut self.message,
            &mut self.param,
            &mut self.doc_url,
        ]
        .into_iter()
        .flatten()
        {
            fix(field);
        }
    }

    /// A short description for reasons: `code=model_not_found type=comet_api_error`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = &self.code {
            parts.push(format!("code={c}"));
        }
        if let Some(t) = &self.r#type {
            parts.push(format!("type={t}"));
        }
        if parts.is_empty() {
            parts.push("no code or type".to_string());
        }
        parts.join(" ")
    }
}

/// What kind of body arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Html,
    /// Text that is neither JSON nor HTML (including invalid JSON).
    OtherText,
    Empty,
    /// Larger than the harness accepts.
    TooLarge,
    /// A `text/event-stream` body.
    Stream,
}

/// Why no (complete) response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// DNS or TCP connect failed, or the connect timeout was hit.
    Connect,
    /// The deadline passed before the response (or its body) completed.
    Timeout,
    /// The connection was reset or closed mid-response.
    Reset,
    /// Anything else the HTTP client reported.
    Other,
}

/// How a stream ended, as far as classification cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The terminal event arrived and nothing was wrong with the frames.
    Complete,
    /// An in-band error frame arrived (after the 200).
    ErrorFrame,
    /// The stream ended without its terminal event.
    Cut,
    /// The stream went silent past its idle limit.
    Stalled,
    /// A frame was not valid JSON or broke the chunk schema, or frames followed the terminal event.
    Malformed,
}

/// How an asynchronous task (a video generation) ended, as its polls showed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskEnd {
    /// `succeeded` (or Kling's `succeed`, or `completed`).
    Done,
    /// `failed` with an error detail (in [`Observation::error`]).
    Failed,
    /// `failed` with no error detail.
    FailedNoDetail,
    Cancelled,
    /// Still queued or in progress when the poll deadline or the poll count ran out.
    Stuck,
    /// A status the family does not know.
    UnknownStatus,
}

/// A 200 that is not a success: the answer is blocked, truncated, or empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Soft {
    /// finish_reason content_filter: the generation was blocked.
    ContentFilter,
    /// finish_reason length: the answer was cut at the token limit.
    Length,
    /// finish_reason tool_calls although the request offered no tools.
    UnexpectedToolCalls,
    /// finish_reason stop with null or empty content and no tool calls.
    Empty,
    /// A 200 with an empty result (an image request's empty `data`): the prompt was filtered.
    Filtered,
}

impl Soft {
    /// Reads the soft-failure signal of a finished answer.
    pub fn detect(
        finish_reason: Option<&str>,
        has_content: bool,
        has_tool_calls: bool,
        tools_offered: bool,
    ) -> Option<Soft> {
        match finish_reason? {
            "content_filter" => Some(Soft::ContentFilter),
            "length" => Some(Soft::Length),
            "tool_calls" | "function_call" if !tools_offered => Some(Soft::UnexpectedToolCalls),
            "stop" if !has_content && !has_tool_calls => Some(Soft::Empty),
            _ => None,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Soft::ContentFilter => "blocked: finish_reason content_filter",
            Soft::Length => "truncated: finish_reason length",
            Soft::UnexpectedToolCalls => {
                "finish_reason tool_calls although the request offered no tools"
            }
            Soft::Empty => "empty content with finish_reason stop",
            Soft::Filtered => "filtered: a 200 with an empty result (the prompt was filtered)",
        }
    }
}

/// Everything the table looks at.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub status: Option<u16>,
    pub body: Option<BodyKind>,
    pub error: Option<ApiError>,
    pub transport: Option<TransportFailure>,
    /// `Some(false)` when the body broke the schema it was checked against.
    pub schema_ok: Option<bool>,
    pub stream: Option<StreamEnd>,
    pub soft: Option<Soft>,
    /// How a polled task ended.
    pub task: Option<TaskEnd>,
    /// A 200 whose body says the answer failed (a Responses object with `status: failed`); the
    /// error is in `error`.
    pub failed_answer: bool,
    /// A timing limit of the case was exceeded.
    pub too_slow: bool,
}
