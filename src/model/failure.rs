//! Why a case failed, as data: each failure a typed value with what was expected, what came and
//! where. [`Failure`]'s `Display` is the one place a failure becomes text; the terminal, JUnit,
//! Markdown, HTML and `report.json` all print it, and no decision ever reads that text.

use std::fmt;

use crate::model::assertion::AssertFault;
use crate::model::class::Class;
use crate::model::drift::Label;
use crate::model::observation::{ApiError, BodyKind, Soft};
use crate::util::text::{Visible as V, VisibleLines};

pub use crate::model::violation::Violation;

/// Where in a stream a stream failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The stream as a whole (how it ended, what it added up to).
    Stream,
    /// A frame, by its index among the stream's events.
    Frame(usize),
    /// A frame, by its index and the byte offset of its event in the body.
    Byte(usize, u64),
}

/// What the end reasons of an answer broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishFault {
    /// No choice carried an end reason.
    NoneCarried,
    /// A choice's end reason is not an allowed one.
    Wrong { choice: usize, got: String },
    /// A choice carried no end reason.
    Missing { choice: usize },
}

/// What a body was, where another kind was due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyFault {
    /// A stream came where a JSON body was due.
    StreamWhereJson,
    /// A body came where a stream was due.
    NotAStream { content_type: Option<String> },
    /// Not JSON where JSON (checked against `schema`) was due.
    NotJson {
        schema: String,
        kind: BodyKind,
        content_type: Option<String>,
        excerpt: String,
    },
    /// A 200 whose answer says it failed (a Responses object with `status: failed`).
    FailedAnswer { error: ApiError },
    /// Over the harness's size limit.
    TooLarge { limit: usize, excerpt: String },
    /// The connection failed after the head, before the body was whole.
    CutAfterHead {
        status: u16,
        message: String,
        excerpt: String,
    },
}

/// How a polled task is named in its failures: `task <id> after <n> polls (<trail>)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polled {
    pub id: String,
    pub polls: u32,
    /// Each poll's status, repeats collapsed.
    pub trail: String,
}

impl fmt::Display for Polled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} after {} poll{}",
            V(&self.id),
            self.polls,
            if self.polls == 1 { "" } else { "s" }
        )?;
        if !self.trail.is_empty() {
            write!(f, " ({})", V(&self.trail))?;
        }
        Ok(())
    }
}

/// What went wrong with an asynchronous task.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskFault {
    /// The submit answer named no task (the pointers looked at).
    NoId {
        looked_at: String,
    },
    /// A poll got no answer.
    PollFailed {
        poll: u32,
        id: String,
    },
    /// A poll answered with a failing status.
    PollAnswered {
        poll: u32,
        id: String,
        status: u16,
        trail: String,
    },
    /// The task failed, with its error (or none).
    Failed {
        polled: Polled,
        error: Option<ApiError>,
    },
    FailedNoDetail {
        polled: Polled,
    },
    Cancelled {
        polled: Polled,
    },
    /// Still pending when the polls ran out.
    Stuck {
        polled: Polled,
        last_status: Option<String>,
        counted_ms: u128,
        deadline_ms: u64,
        max_polls: u32,
        progress: Option<f64>,
    },
    /// A status the family does not know, and the ones it does.
    UnknownStatus {
        polled: Polled,
        status: Option<String>,
        known: String,
    },
}

/// A pinned fixture that cannot serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixtureFault {
    /// None is pinned; `hint` is the command that pins one.
    Missing { path: String, hint: String },
    /// Older than `--max-fixture-age`.
    TooOld {
        path: String,
        age_days: i64,
        max_days: i64,
        hint: String,
    },
}

/// One way a case failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The status is not one the case expects.
    Status {
        expected: Vec<u16>,
        got: u16,
    },
    /// The answer asks an operator for another class than the case expects.
    Class {
        expected: Class,
        /// The case's own class (the one its verdict line shows).
        got: Class,
        /// Why that class (the case's `why`; not repeated when shown).
        reason: String,
    },
    /// The body breaks a schema.
    Schema {
        schema: String,
        violation: Violation,
    },
    /// More violations than the ones listed.
    SchemaMore {
        schema: String,
        more: usize,
    },
    /// The schema itself could not be used.
    SchemaUnusable {
        message: String,
    },
    /// The end reasons are not the allowed ones.
    FinishReason {
        allowed: Vec<String>,
        fault: FinishFault,
    },
    /// The error code (or type) is not an allowed one; `None` when the body carries none.
    ErrorCode {
        allowed: Vec<String>,
        got: Option<String>,
    },
    Body(BodyFault),
    /// A redirect where an answer was due.
    Redirect {
        status: u16,
        location: String,
    },
    /// A 200 that is no success: blocked, truncated, empty.
    Soft(Soft),
    /// A timing limit of the case was exceeded.
    Timing {
        what: &'static str,
        got_ms: f64,
        limit_ms: u64,
    },
    /// A stream broke its contract at `at`; `what` in the grammar's words.
    Stream {
        at: At,
        what: String,
    },
    /// More stream failures than the ones listed.
    StreamMore(usize),
    /// A failure found inside a stream: in one of its frames (a frame that breaks its schema), or
    /// in what the stream added up to (its end reasons).
    Within {
        at: At,
        inner: Box<Failure>,
    },
    /// The reassembled answer of a stream breaks the non-streamed shape.
    Reassembled(Box<Failure>),
    /// An assertion of the case does not hold at `at` (a concrete pointer, `*` expanded).
    Assert {
        at: String,
        fault: AssertFault,
    },
    /// A value a later step needs is not in the answer (`capture:`).
    Capture {
        name: String,
        pointer: String,
    },
    /// A built-in invariant the case names does not hold.
    Invariant {
        name: &'static str,
        detail: String,
    },
    /// The response differs from the pinned fixture in a way the drift policy fails.
    Drift {
        fixture: String,
        /// The first labels (`baseline::drift::MAX_LABELS`).
        labels: Vec<Label>,
        /// How many more changes there were, not listed.
        more_labels: usize,
        /// A unified diff, capped; or why it is left out.
        diff: String,
    },
    Fixture(FixtureFault),
    /// The case could not be sent as configured (no key).
    Config {
        message: String,
    },
    /// No (complete) response: `deadline` names the deadline that passed, if one did.
    Transport {
        deadline: Option<&'static str>,
        message: String,
    },
    /// The recorded endpoint's own verdict, with what it answered.
    Replay {
        reason: String,
        answer: String,
    },
    /// The run's request budget was spent before this case was sent.
    Budget {
        limit: usize,
    },
    Task(TaskFault),
    /// The harness itself failed while running the case.
    Harness {
        message: String,
    },
}

impl Failure {
    /// A stream failure at `at`.
    pub fn stream(at: At, what: impl Into<String>) -> Failure {
        Failure::Stream {
            at,
            what: what.into(),
        }
    }

    /// Calls `fix` on every text the failure carries from outside (what a sanitizer must see).
    pub fn texts_mut(&mut self, fix: &mut dyn FnMut(&mut String)) {
        match self {
            Failure::Status { .. }
            | Failure::SchemaMore { .. }
            | Failure::Soft(_)
            | Failure::Timing { .. }
            | Failure::StreamMore(_)
            | Failure::Budget { .. } => {}
            Failure::Class { reason, .. } => fix(reason),
            Failure::Schema { violation, .. } => {
                fix(&mut violation.pointer);
                fix(&mut violation.message);
            }
            Failure::SchemaUnusable { message }
            | Failure::Config { message }
            | Failure::Harness { message }
            | Failure::Transport { message, .. } => fix(message),
            Failure::FinishReason { fault, .. } => {
                if let FinishFault::Wrong { got, .. } = fault {
                    fix(got);
                }
            }
            Failure::ErrorCode { got, .. } => {
                if let Some(g) = got {
                    fix(g);
                }
            }
            Failure::Body(b) => match b {
                BodyFault::StreamWhereJson => {}
                BodyFault::NotAStream { content_type } => {
                    if let Some(c) = content_type {
                        fix(c);
                    }
                }
                BodyFault::NotJson {
                    content_type,
                    excerpt,
                    ..
                } => {
                    if let Some(c) = content_type {
                        fix(c);
                    }
                    fix(excerpt);
                }
                BodyFault::FailedAnswer { error: e } => e.texts_mut(fix),
                BodyFault::TooLarge { excerpt, .. } => fix(excerpt),
                BodyFault::CutAfterHead {
                    message, excerpt, ..
                } => {
                    fix(message);
                    fix(excerpt);
                }
            },
            Failure::Redirect { location, .. } => fix(location),
            Failure::Stream { what, .. } => fix(what),
            Failure::Within { inner, .. } | Failure::Reassembled(inner) => inner.texts_mut(fix),
            Failure::Assert { at, fault } => {
                fix(at);
                fault.texts_mut(fix);
            }
            Failure::Invariant { detail, .. } => fix(detail),
            Failure::Capture { name, pointer } => {
                fix(name);
                fix(pointer);
            }
            Failure::Drift { labels, diff, .. } => {
                for l in labels {
                    fix(&mut l.path);
                    for v in [&mut l.from, &mut l.to].into_iter().flatten() {
                        fix(v);
                    }
                }
                fix(diff);
            }
            Failure::Fixture(_) => {}
            Failure::Replay { reason, answer } => {
                fix(reason);
                fix(answer);
            }
            Failure::Task(t) => {
                let polled = |p: &mut Polled, fix: &mut dyn FnMut(&mut String)| {
                    fix(&mut p.id);
                    fix(&mut p.trail);
                };
                match t {
                    TaskFault::NoId { .. } => {}
                    TaskFault::PollFailed { id, .. } => fix(id),
                    TaskFault::PollAnswered { id, trail, .. } => {
                        fix(id);
                        fix(trail);
                    }
                    TaskFault::Failed {
                        polled: p,
                        error: e,
                    } => {
                        polled(p, fix);
                        if let Some(e) = e {
                            e.texts_mut(fix);
                        }
                    }
                    TaskFault::FailedNoDetail { polled: p }
                    | TaskFault::Cancelled { polled: p } => polled(p, fix),
                    TaskFault::Stuck {
                        polled: p,
                        last_status,
                        ..
                    } => {
                        polled(p, fix);
                        if let Some(s) = last_status {
                            fix(s);
                        }
                    }
                    TaskFault::UnknownStatus {
                        polled: p, status, ..
                    } => {
                        polled(p, fix);
                        if let Some(s) = status {
                            fix(s);
                        }
                    }
                }
            }
        }
    }
}

/// `200`, or `one of 200, 201`.
pub fn statuses(s: &[u16]) -> String {
    match s {
        [one] => one.to_string(),
        many => format!(
            "one of {}",
            many.iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn describe_kind(kind: BodyKind) -> &'static str {
    match kind {
        BodyKind::Html => "an HTML page",
        BodyKind::Empty => "an empty body",
        BodyKind::OtherText => "text that is not JSON",
        BodyKind::TooLarge => "an oversized body",
        BodyKind::Json => "JSON",
        BodyKind::Stream => "a stream",
    }
}

/// An error envelope in a failure: `code=… type=… — message`, shown as outside text.
fn envelope(e: &ApiError) -> String {
    format!(
        "{} — {}",
        V(&e.describe()),
        V(e.message.as_deref().unwrap_or("(no message)"))
    )
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Stream => f.write_str("stream"),
            At::Frame(i) => write!(f, "stream: frame {i}"),
            At::Byte(i, b) => write!(f, "stream: frame {i} (byte {b})"),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status { expected, got } => {
                write!(f, "status: expected {}, got {got}", statuses(expected))
            }
            // The reason is the case's `why`, shown once beside it.
            Failure::Class { expected, got, .. } => {
                write!(f, "class: expected {expected}, got {got}")
            }
            Failure::Schema { schema, violation } => write!(f, "schema {schema}: {violation}"),
            Failure::SchemaMore { schema, more } => {
                write!(f, "schema {schema}: … and {more} more violations")
            }
            Failure::SchemaUnusable { message } => write!(f, "schema: {}", V(message)),
            Failure::FinishReason { allowed, fault } => {
                let allowed = allowed.join(", ");
                match fault {
                    FinishFault::NoneCarried => write!(
                        f,
                        "finish_reason: expected one of [{allowed}], but no choice carried one"
                    ),
                    FinishFault::Wrong { choice, got } => write!(
                        f,
                        "finish_reason: choice {choice}: expected one of [{allowed}], got \"{}\"",
                        V(got)
                    ),
                    FinishFault::Missing { choice } => write!(
                        f,
                        "finish_reason: choice {choice}: missing (expected one of [{allowed}])"
                    ),
                }
            }
            Failure::ErrorCode { allowed, got } => {
                let allowed = allowed.join(", ");
                match got {
                    Some(code) => write!(
                        f,
                        "error_code: expected one of [{allowed}], got \"{}\"",
                        V(code)
                    ),
                    None => write!(
                        f,
                        "error_code: expected one of [{allowed}], but the body carries no error code"
                    ),
                }
            }
            Failure::Body(b) => match b {
                BodyFault::StreamWhereJson => {
                    f.write_str("body: expected a JSON body, got a text/event-stream")
                }
                BodyFault::NotAStream { content_type } => write!(
                    f,
                    "stream: expected content-type text/event-stream, got {}",
                    V(content_type.as_deref().unwrap_or("none"))
                ),
                BodyFault::NotJson {
                    schema,
                    kind,
                    content_type,
                    excerpt,
                } => write!(
                    f,
                    "body: expected JSON (schema {schema}), got {} ({}): {}",
                    describe_kind(*kind),
                    V(content_type.as_deref().unwrap_or("no content-type")),
                    V(excerpt)
                ),
                BodyFault::FailedAnswer { error } => write!(
                    f,
                    "body: a 200 whose answer says it failed: {}",
                    envelope(error)
                ),
                BodyFault::TooLarge { limit, excerpt } => write!(
                    f,
                    "body: larger than the {limit}-byte limit; it starts: {}",
                    V(excerpt)
                ),
                BodyFault::CutAfterHead {
                    status,
                    message,
                    excerpt,
                } => write!(
                    f,
                    "body: the connection failed after the {status} head: {}; received: {}",
                    V(message),
                    V(excerpt)
                ),
            },
            Failure::Redirect { status, location } => {
                write!(f, "redirect: {status} to {}", V(location))
            }
            Failure::Soft(soft) => write!(f, "soft failure: {}", soft.describe()),
            Failure::Timing {
                what,
                got_ms,
                limit_ms,
            } => write!(
                f,
                "timing: {what} {got_ms:.1} ms is over the limit of {limit_ms} ms"
            ),
            Failure::Stream { at, what } => write!(f, "{at}: {}", V(what)),
            Failure::StreamMore(n) => write!(f, "stream: … and {n} more stream failures"),
            Failure::Within { at, inner } => write!(f, "{at}: {inner}"),
            Failure::Reassembled(inner) => write!(
                f,
                "stream: the reassembled message breaks the non-streamed shape: {inner}"
            ),
            Failure::Assert { at, fault } => write!(f, "assert {}: {fault}", V(at)),
            Failure::Invariant { name, detail } => write!(f, "invariant {name}: {}", V(detail)),
            Failure::Capture { name, pointer } => write!(
                f,
                "capture {}: nothing at {} for the steps after it",
                V(name),
                V(pointer)
            ),
            Failure::Drift {
                fixture,
                labels,
                more_labels,
                diff,
            } => {
                write!(
                    f,
                    "drift: the response differs from the pinned fixture {fixture} (✗ fails the drift policy, · reported):"
                )?;
                for l in labels {
                    write!(f, "\n  {} {l}", if l.fails { "✗" } else { "·" })?;
                }
                if *more_labels > 0 {
                    write!(f, "\n  … {more_labels} more changes left out")?;
                }
                write!(f, "\n{}", VisibleLines(diff))
            }
            Failure::Fixture(FixtureFault::Missing { path, hint }) => {
                write!(f, "fixture: {path} does not exist; {hint}")
            }
            Failure::Fixture(FixtureFault::TooOld {
                path,
                age_days,
                max_days,
                hint,
            }) => write!(
                f,
                "fixture: {path} is {age_days} days old, past --max-fixture-age {max_days}; {hint}"
            ),
            Failure::Config { message } => write!(f, "config: {}", V(message)),
            Failure::Transport { deadline, message } => match deadline {
                Some(d) => write!(f, "deadline ({d}): {}", V(message)),
                None => write!(f, "transport: {}", V(message)),
            },
            Failure::Replay { reason, answer } => {
                write!(f, "replay: {}\n{}", V(reason), VisibleLines(answer))
            }
            Failure::Budget { limit } => write!(
                f,
                "budget: the request budget (--max-requests {limit}) is spent; this case was not sent"
            ),
            Failure::Task(t) => match t {
                TaskFault::NoId { looked_at } => write!(
                    f,
                    "task: the submit answer carries no task id (looked at {looked_at})"
                ),
                TaskFault::PollFailed { poll, id } => {
                    write!(f, "task: poll {poll} of task {} failed", V(id))
                }
                TaskFault::PollAnswered {
                    poll,
                    id,
                    status,
                    trail,
                } => {
                    write!(f, "task: poll {poll} of task {} answered {status}", V(id))?;
                    if !trail.is_empty() {
                        write!(f, " (earlier polls: {})", V(trail))?;
                    }
                    Ok(())
                }
                TaskFault::Failed { polled, error } => write!(
                    f,
                    "task: failed: {polled}: {}",
                    error.as_ref().map(envelope).unwrap_or_default()
                ),
                TaskFault::FailedNoDetail { polled } => {
                    write!(f, "task: failed with no error detail: {polled}")
                }
                TaskFault::Cancelled { polled } => write!(f, "task: cancelled: {polled}"),
                TaskFault::Stuck {
                    polled,
                    last_status,
                    counted_ms,
                    deadline_ms,
                    max_polls,
                    progress,
                } => write!(
                    f,
                    "task: timed out: {polled}, still {} with {counted_ms} ms counted (poll deadline {deadline_ms} ms, at most {max_polls} polls); last progress {}",
                    V(last_status.as_deref().unwrap_or("without a status")),
                    progress.map_or("not reported".to_string(), |p| format!("{p}%"))
                ),
                TaskFault::UnknownStatus {
                    polled,
                    status,
                    known,
                } => write!(
                    f,
                    "task: unknown status \"{}\": {polled} ({known})",
                    V(status.as_deref().unwrap_or("?"))
                ),
            },
            Failure::Harness { message } => write!(f, "harness: {}", V(message)),
        }
    }
}

/// `report.json` lists each failure as its text.
impl serde::Serialize for Failure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
