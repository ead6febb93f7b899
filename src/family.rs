//! Contract families: the kinds of endpoint a case can call.
//!
//! A family is data: the HTTP method and path below the target's base URL, the schemas that a
//! success body, a stream frame and an error body must match, and the stream's terminal marker.
//! Adding a family (Messages, Responses, images, video tasks) adds a row here plus its schemas and
//! stream grammar; the runner, the reports and the drift code do not change.

/// How a family's streams end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamGrammar {
    /// OpenAI chat-completions style: `data: {chunk}` frames ending with `data: [DONE]`.
    DoneMarker(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    pub method: &'static str,
    /// Appended to the target's base URL.
    pub path: &'static str,
    /// Schema of a successful non-streamed body.
    pub response_schema: &'static str,
    /// Schema of each streamed data frame.
    pub chunk_schema: &'static str,
    /// Schema of an error body.
    pub error_schema: &'static str,
    pub stream: StreamGrammar,
    /// Where the finish reason of a non-streamed body lives (a JSON pointer per choice).
    pub choices_pointer: &'static str,
}

pub const CHAT_COMPLETIONS: Family = Family {
    name: "chat_completions",
    method: "POST",
    path: "/chat/completions",
    response_schema: "chat_completion",
    chunk_schema: "chat_completion_chunk",
    error_schema: "error",
    stream: StreamGrammar::DoneMarker("[DONE]"),
    choices_pointer: "/choices",
};

/// Every family the harness knows.
pub const FAMILIES: &[Family] = &[CHAT_COMPLETIONS];

pub fn by_name(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    FAMILIES.iter().map(|f| f.name)
}
