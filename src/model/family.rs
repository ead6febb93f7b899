//! Contract families: the kinds of endpoint a case can call, as data.
//!
//! A family is data plus a little code. The data is here: the method and path below the target's
//! base URL, how the key is sent, the schemas a success body, a stream frame and an error body
//! must match and, for asynchronous tasks, how to poll them. The code (the stream grammar, what a
//! success body says about its answer, how end reasons read as soft failures) is in
//! `judge::family`, chosen by [`Family::kind`]. Adding a family adds a row to [`FAMILIES`], a
//! [`FamilyKind`] and its arms there, its schemas and its cases; the runner, the reports and the
//! drift code do not change.

/// Which family's code judges an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyKind {
    ChatCompletions,
    Messages,
    Responses,
    Images,
    VideoTasks,
    Models,
    Embeddings,
    Moderations,
}

/// How a family sends the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The key alone in this header (Anthropic's `x-api-key`).
    Plain(&'static str),
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
    /// Whose stream grammar and answer reader judge it (`judge::family`).
    pub kind: FamilyKind,
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

pub const CHAT_COMPLETIONS: Family = Family {
    name: "chat_completions",
    method: "POST",
    path: "/chat/completions",
    key: KeyHeader::Bearer,
    headers: &[],
    response_schema: "chat_completion",
    chunk_schema: "chat_completion_chunk",
    error_schema: None,
    kind: FamilyKind::ChatCompletions,
    poll: None,
};

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
    kind: FamilyKind::Messages,
    poll: None,
};

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
    kind: FamilyKind::Responses,
    poll: None,
};

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
    kind: FamilyKind::Images,
    poll: None,
};

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
    kind: FamilyKind::VideoTasks,
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

/// The models a key can use (`GET /v1/models`): a listing, no stream, no end reason. A case
/// retrieves one model with `request.path: /models/${model}` and `expect.schema: model`.
pub const MODELS: Family = Family {
    name: "models",
    method: "GET",
    path: "/models",
    key: KeyHeader::Bearer,
    headers: &[],
    response_schema: "models_list",
    chunk_schema: "models_list",
    error_schema: None,
    kind: FamilyKind::Models,
    poll: None,
};

/// Embeddings (`POST /v1/embeddings`): no stream, no end reason; usage without a completion.
pub const EMBEDDINGS: Family = Family {
    name: "embeddings",
    method: "POST",
    path: "/embeddings",
    key: KeyHeader::Bearer,
    headers: &[],
    response_schema: "embeddings_response",
    chunk_schema: "embeddings_response",
    error_schema: None,
    kind: FamilyKind::Embeddings,
    poll: None,
};

/// Moderations (`POST /v1/moderations`): one result per input, each with `flagged`, its
/// categories and their scores; no stream, no end reason.
pub const MODERATIONS: Family = Family {
    name: "moderations",
    method: "POST",
    path: "/moderations",
    key: KeyHeader::Bearer,
    headers: &[],
    response_schema: "moderation_response",
    chunk_schema: "moderation_response",
    error_schema: None,
    kind: FamilyKind::Moderations,
    poll: None,
};

/// Every family the harness knows.
pub const FAMILIES: &[Family] = &[
    CHAT_COMPLETIONS,
    MESSAGES,
    RESPONSES,
    IMAGES,
    VIDEO_TASKS,
    MODELS,
    EMBEDDINGS,
    MODERATIONS,
];

pub fn by_name(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    FAMILIES.iter().map(|f| f.name)
}
