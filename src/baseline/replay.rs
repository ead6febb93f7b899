//! The recorded endpoint: a real HTTP server on 127.0.0.1 that serves the pinned fixtures.
//!
//! Each case gets its own base URL, `http://127.0.0.1:PORT/<target>/<case>`, so the harness
//! talks to it with exactly the client code and request paths it uses live. Before replaying, the
//! server compares the request it received (method, path, whether and which kind of
//! Authorization was sent, body after sanitizing) with the one the fixture recorded; on a
//! mismatch it answers with a diff instead of the fixture, flagged by the
//! [`REPLAY_HEADER`] header, so an edited case that was not re-recorded is caught.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::baseline::drift;
use crate::baseline::sanitize::{self, Sanitizer};
use crate::contract::fixtures::FixtureStore;
use crate::exchange::server::{Handler, Reply, Request, Server, StreamClose};
use crate::exchange::transport::{Received, ReceivedBody};
use crate::judge::verdict::Settled;
use crate::model::failure::Failure;
use crate::model::fixture::{FixtureRequest, FixtureResponse, JsonText, WireEnd};
use crate::model::outcome::{ms, CaseOutcome, Drift};

/// Set on replies that are the recorded endpoint's own verdicts, not fixtures.
pub const REPLAY_HEADER: &str = "x-llm-contract-replay";
pub const MISMATCH: &str = "request-mismatch";
pub const NO_FIXTURE: &str = "no-fixture";

pub struct ReplayHandler {
    fixtures: Arc<FixtureStore>,
    /// Requests served so far per (target, case): the n-th attempt gets the n-th response.
    attempts: Mutex<HashMap<(String, String), usize>>,
}

impl ReplayHandler {
    pub fn new(fixtures: Arc<FixtureStore>) -> Self {
        ReplayHandler {
            fixtures,
            attempts: Mutex::new(HashMap::new()),
        }
    }
}

/// The reply that replays one recorded response, faults included.
pub fn replay(resp: &FixtureResponse) -> Reply {
    if resp.reset_before_headers {
        return wrap_delay(resp, Reply::Reset);
    }
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let reply = if resp.chunks.is_some() {
        Reply::Stream {
            status: resp.status,
            headers,
            chunks: resp
                .wire()
                .into_iter()
                .map(|(d, b)| match std::str::from_utf8(&b) {
                    Ok(t) if t.contains("\"[CREATED]\"") || t.contains("\"[TIMESTAMP]\"") => {
                        (d, Bytes::from(sanitize::rehydrate_text(t)))
                    }
                    _ => (d, b),
                })
                .collect(),
            close: match resp.end {
                WireEnd::Clean => StreamClose::Clean,
                WireEnd::Reset => StreamClose::Reset,
                WireEnd::Stall { ms } => StreamClose::Stall(Duration::from_millis(ms)),
            },
        }
    } else {
        let body = match (&resp.body, &resp.body_text) {
            (Some(v), _) => {
                let mut v = v.value();
                sanitize::rehydrate(&mut v);
                Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
            }
            (None, Some(t)) => Bytes::from(t.clone()),
            (None, None) => Bytes::new(),
        };
        Reply::Full {
            status: resp.status,
            headers,
            body,
        }
    };
    wrap_delay(resp, reply)
}

fn wrap_delay(resp: &FixtureResponse, reply: Reply) -> Reply {
    if resp.head_delay_ms > 0 {
        Reply::After(Duration::from_millis(resp.head_delay_ms), Box::new(reply))
    } else {
        reply
    }
}

/// The base URL under which the recorded endpoint serves one case.
pub fn case_base_url(server_url: &str, target: &str, case: &str) -> String {
    format!("{}/{target}/{case}", server_url.trim_end_matches('/'))
}

/// Starts the recorded endpoint on an ephemeral loopback port.
pub async fn start(fixtures: Arc<FixtureStore>, time_scale: f64) -> std::io::Result<Server> {
    Server::start(Arc::new(ReplayHandler::new(fixtures)), time_scale).await
}

fn verdict(kind: &str, status: u16, text: String) -> Reply {
    Reply::Full {
        status,
        headers: vec![
            ("content-type".into(), "text/plain; charset=utf-8".into()),
            (REPLAY_HEADER.into(), kind.into()),
        ],
        body: Bytes::from(text),
    }
}

/// The canonical text of a request, as compared with the fixture's.
pub fn request_text(req: &FixtureRequest) -> String {
    let body = match (&req.body, &req.raw_body) {
        (Some(b), _) => drift::canonical(&b.value()),
        (None, Some(r)) => format!("(raw) {r}"),
        (None, None) => "(no body)".to_string(),
    };
    format!(
        "{} {}\nauthorization: {}\nbody:\n{}\n",
        req.method,
        req.path,
        req.authorization.as_deref().unwrap_or("(none)"),
        body
    )
}

/// What the fixture format records of a request the server received.
pub fn received_request(req: &Request, path: &str) -> FixtureRequest {
    let sanitizer = Sanitizer::new();
    let (body, raw_body) = if req.body.is_empty() {
        (None, None)
    } else {
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(mut v) => {
                sanitizer.json(&mut v);
                (Some(JsonText::from(&v)), None)
            }
            Err(_) => (
                None,
                Some(sanitizer.text(&String::from_utf8_lossy(&req.body))),
            ),
        }
    };
    FixtureRequest {
        method: req.method.clone(),
        path: path.to_string(),
        authorization: Sanitizer::auth_placeholder(
            req.header("authorization")
                .or_else(|| req.header("x-api-key")),
        )
        .map(str::to_string),
        body,
        raw_body,
    }
}

impl Handler for ReplayHandler {
    fn handle(&self, req: Request) -> Reply {
        let path_only = req.target.split('?').next().unwrap_or("").to_string();
        let mut parts = path_only.trim_start_matches('/').splitn(3, '/');
        let (Some(target), Some(case)) = (parts.next(), parts.next()) else {
            return verdict(
                NO_FIXTURE,
                404,
                format!("no fixture route for {path_only}: expected /<target>/<case>/<path>"),
            );
        };
        let rest = format!("/{}", parts.next().unwrap_or(""));
        let Some(fixture) = self.fixtures.get(target, case) else {
            return verdict(
                NO_FIXTURE,
                404,
                format!("no fixture {}", self.fixtures.path(target, case).display()),
            );
        };
        let got = received_request(&req, &rest);
        // The n-th request of a case gets the n-th response: retries, then a task's polls, in
        // order. A response that answers a later step names its own request.
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let n = attempts
            .entry((target.to_string(), case.to_string()))
            .or_insert(0);
        let response = fixture.nth(*n);
        let want_text = request_text(response.request.as_ref().unwrap_or(&fixture.request));
        let got_text = request_text(&got);
        if let Some(d) = drift::diff(&want_text, &got_text, "recorded request", "sent request") {
            return verdict(MISMATCH, 400, d);
        }
        *n += 1;
        replay(response)
    }
}

/// The recorded endpoint's own verdict on a request, when it gave one (it answered with
/// [`REPLAY_HEADER`]: the request no longer matches the recorded one, or no fixture exists): the
/// answer is not the API's, so nothing of it is judged. Its facts and failure go into `out`; the
/// verdict is decided from the returned [`Settled`].
pub fn settle(out: &mut CaseOutcome, r: &Received, fixture_path: &Path) -> Option<Settled> {
    let kind = r.header(REPLAY_HEADER)?;
    let text = match &r.body {
        ReceivedBody::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    out.ttfb_ms = Some(ms(r.ttfb));
    out.latency_ms = ms(r.total);
    // The status is the recorded endpoint's own, not the API's: do not report it.
    out.status = None;
    let reason = match kind {
        MISMATCH => format!(
            "the request no longer matches the recorded one: re-record {}",
            fixture_path.display()
        ),
        NO_FIXTURE => "the recorded endpoint has no fixture for this case".into(),
        other => format!("recorded endpoint answered {other}"),
    };
    out.failures.push(Failure::Replay {
        reason: reason.clone(),
        answer: text,
    });
    out.drift = Drift::NotRun {
        reason: "request mismatch".into(),
    };
    Some(Settled::Replay {
        mismatch: kind == MISMATCH,
        reason,
    })
}
