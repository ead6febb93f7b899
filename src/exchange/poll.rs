//! The poll loop of asynchronous tasks (video generation): after a successful submit, `GET` the
//! task until it is done, failed or cancelled, with a bounded number of polls and a deadline.
//!
//! Live, the loop sleeps the case's interval between polls (scaled by `--time-scale`). Offline the
//! recorded endpoint answers each poll at once from the fixture's ordered responses, so the
//! interval is counted toward the deadline but not slept: a task that stayed queued for ten
//! minutes when it was recorded is stuck offline too, in milliseconds.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::exchange::sse::SseEvent;
use crate::exchange::transport::{
    Client, FrameSink, Outgoing, Received, ReceivedBody, TransportError,
};
use crate::model::family::PollSpec;
use crate::model::observation::{ApiError, TaskEnd};
use crate::model::plan::PollSettings;

/// A poll never streams; events, if any, are ignored.
struct NoFrames;

impl FrameSink for NoFrames {
    fn frame(&mut self, _event: SseEvent, _at: Duration) -> bool {
        true
    }
}

/// How the loop ended.
#[derive(Debug)]
pub enum PollEnd {
    /// The task reached a terminal status, or its polls ran out (`Stuck`).
    Task(TaskEnd),
    /// A poll answered something other than a task (an HTTP error, HTML): judged as a response.
    Http(Box<Received>),
    Transport(TransportError),
    /// The submit answer carries no task id.
    NoId,
}

/// What the polls showed.
#[derive(Debug)]
pub struct PollReport {
    pub task_id: Option<String>,
    pub end: PollEnd,
    pub polls: u32,
    /// Each poll's status, in order (`?` where a poll carried none).
    pub statuses: Vec<String>,
    pub progress: Option<f64>,
    /// The error detail of a failed task.
    pub error: Option<ApiError>,
    /// Early polls that said the task does not exist yet.
    pub not_yet: u32,
    /// Time counted toward the deadline: requests plus the intervals between them.
    pub counted: Duration,
    /// The last poll's answer as received, when it was a task.
    pub last: Option<Received>,
    /// The last poll's JSON document.
    pub last_doc: Option<Value>,
    /// Every poll's exchange, for `record`: the request path and the answer.
    pub exchanges: Vec<(String, Received)>,
}

impl PollReport {
    /// Nothing polled yet.
    pub fn new(task_id: Option<String>) -> PollReport {
        PollReport {
            task_id,
            end: PollEnd::NoId,
            polls: 0,
            statuses: Vec::new(),
            progress: None,
            error: None,
            not_yet: 0,
            counted: Duration::ZERO,
            last: None,
            last_doc: None,
            exchanges: Vec::new(),
        }
    }

    /// `queued ×3 → in_progress → succeeded`.
    pub fn trail(&self) -> String {
        let mut parts: Vec<(String, usize)> = Vec::new();
        for s in &self.statuses {
            match parts.last_mut() {
                Some((last, n)) if last == s => *n += 1,
                _ => parts.push((s.clone(), 1)),
            }
        }
        parts
            .iter()
            .map(|(s, n)| {
                if *n > 1 {
                    format!("{s} ×{n}")
                } else {
                    s.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

/// The first string (or number) found at any of the pointers.
pub fn first_text(doc: &Value, pointers: &[&str]) -> Option<String> {
    pointers.iter().find_map(|p| match doc.pointer(p)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn progress_of(doc: &Value, pointers: &[&str]) -> Option<f64> {
    pointers.iter().find_map(|p| match doc.pointer(p)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim_end_matches('%').trim().parse().ok(),
        _ => None,
    })
}

/// The error detail of a failed task: an error object, or a failure text.
fn error_of(doc: &Value, pointers: &[&str]) -> Option<ApiError> {
    for p in pointers {
        match doc.pointer(p) {
            Some(Value::Object(_)) => {
                let wrapped = serde_json::json!({ "error": doc.pointer(p) });
                if let Some(e) = ApiError::from_body(&wrapped) {
                    if e.code.is_some() || e.message.is_some() || e.r#type.is_some() {
                        return Some(e);
                    }
                }
            }
            Some(Value::String(s)) if !s.trim().is_empty() => {
                return Some(ApiError {
                    message: Some(s.clone()),
                    ..ApiError::default()
                })
            }
            _ => {}
        }
    }
    None
}

/// Whether an answer says the task does not exist yet (`task_not_exist` on a first poll).
fn not_yet(doc: &Value, spec: &PollSpec) -> bool {
    let code = ApiError::from_body(doc)
        .and_then(|e| e.code.or(e.r#type))
        .or_else(|| first_text(doc, &["/code"]));
    code.is_some_and(|c| spec.not_yet.contains(&c.as_str()))
}

/// Everything the loop needs from the runner.
pub struct PollRequest<'a> {
    pub client: &'a Client,
    /// Each poll takes a pass for its request, like any other.
    pub gate: &'a crate::exchange::gate::Gate,
    pub spec: &'a PollSpec,
    pub settings: PollSettings,
    /// The submit request: its credential and deadlines are reused, with `GET` and no body.
    pub submit: &'a Outgoing,
    pub base_url: &'a str,
    /// Multiplies the waits that are slept; 0 sleeps none.
    pub sleep_scale: f64,
}

/// Polls the task the submit answer names, until it ends or the polls run out.
pub async fn run(req: PollRequest<'_>, submitted: &Value) -> PollReport {
    let spec = req.spec;
    let mut report = PollReport::new(first_text(submitted, spec.id));
    let Some(id) = report.task_id.clone() else {
        return report;
    };
    let interval = Duration::from_millis(req.settings.interval_ms);
    let deadline = Duration::from_millis(req.settings.deadline_ms);
    let path = spec.path.replace("{id}", &id);
    loop {
        if report.polls >= req.settings.max_polls || report.counted >= deadline {
            report.end = PollEnd::Task(TaskEnd::Stuck);
            return report;
        }
        if report.polls > 0 {
            report.counted += interval;
            let sleep = crate::util::time::scaled(interval, req.sleep_scale);
            if !sleep.is_zero() {
                tokio::time::sleep(sleep).await;
            }
        }
        let out = Outgoing {
            method: reqwest::Method::GET,
            url: crate::exchange::endpoint::join(req.base_url, &path),
            body: None,
            ..req.submit.clone()
        };
        let pass = req.gate.pass().await;
        let started = Instant::now();
        let sent = req.client.send(out, &mut NoFrames).await;
        req.gate.give_back(pass).await;
        let received = match sent {
            Ok(r) => r,
            Err(e) => {
                report.end = PollEnd::Transport(e);
                return report;
            }
        };
        report.counted += started.elapsed();
        report.polls += 1;
        report.exchanges.push((path.clone(), received.clone()));
        let doc = match &received.body {
            ReceivedBody::Bytes(b) => serde_json::from_slice::<Value>(b).ok(),
            _ => None,
        };
        let success = (200..300).contains(&received.status);
        if let Some(doc) = &doc {
            if not_yet(doc, spec) && report.not_yet < req.settings.not_yet_retries {
                report.not_yet += 1;
                report.statuses.push("not yet visible".into());
                continue;
            }
        }
        let Some(doc) = doc.filter(|_| success) else {
            report.end = PollEnd::Http(Box::new(received));
            return report;
        };
        let status = first_text(&doc, spec.status);
        report
            .statuses
            .push(status.clone().unwrap_or_else(|| "?".into()));
        if let Some(p) = progress_of(&doc, spec.progress) {
            report.progress = Some(p);
        }
        let end = match status.as_deref() {
            Some(s) if spec.done.contains(&s) => Some(TaskEnd::Done),
            Some(s) if spec.failed.contains(&s) => {
                report.error = error_of(&doc, spec.error);
                Some(if report.error.is_some() {
                    TaskEnd::Failed
                } else {
                    TaskEnd::FailedNoDetail
                })
            }
            Some(s) if spec.cancelled.contains(&s) => Some(TaskEnd::Cancelled),
            Some(s) if spec.pending.contains(&s) => None,
            _ => Some(TaskEnd::UnknownStatus),
        };
        report.last = Some(received);
        report.last_doc = Some(doc);
        if let Some(end) = end {
            report.end = PollEnd::Task(end);
            return report;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trail_collapses_repeats() {
        let mut r = PollReport::new(None);
        r.statuses = vec![
            "queued".into(),
            "queued".into(),
            "in_progress".into(),
            "succeeded".into(),
        ];
        assert_eq!(r.trail(), "queued ×2 → in_progress → succeeded");
    }

    #[test]
    fn error_details_and_not_yet() {
        let spec = crate::model::family::VIDEO_TASKS.poll.unwrap();
        let failed = json!({"status": "failed", "error": {"code": "content_policy_violation", "message": "unsafe"}});
        let e = error_of(&failed, spec.error).unwrap();
        assert_eq!(e.code.as_deref(), Some("content_policy_violation"));
        assert!(error_of(&json!({"status": "failed", "error": null}), spec.error).is_none());
        assert!(error_of(
            &json!({"status": "failed", "fail_reason": "blocked"}),
            spec.error
        )
        .is_some());
        assert!(not_yet(
            &json!({"code": "task_not_exist", "message": "x"}),
            &spec
        ));
        assert!(not_yet(
            &json!({"error": {"code": "task_not_exist"}}),
            &spec
        ));
        assert!(!not_yet(&json!({"status": "queued"}), &spec));
        assert_eq!(
            progress_of(&json!({"progress": "45%"}), spec.progress),
            Some(45.0)
        );
    }
}
