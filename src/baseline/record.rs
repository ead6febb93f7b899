//! Recording: a live exchange becomes a sanitized fixture, written atomically, never over a
//! pinned one unless asked; pending changes wait as `<case>.json.new` for review.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::baseline::drift;
use crate::baseline::drift::pinned_document;
use crate::baseline::replay;
use crate::baseline::sanitize::{self, Sanitizer, API_KEY, INVALID_KEY};
use crate::context::Secret;
use crate::exchange::sse;
use crate::exchange::transport::{Received, ReceivedBody, StreamStop};
use crate::exchange::watch::{Asked, Watch};
use crate::model::fixture::{
    Fixture, FixtureRequest, FixtureResponse, JsonText, WireChunk, WireEnd,
};
use crate::model::plan::ExtraRule;
use crate::model::plan::{AuthMode, Plan, PlanBody};
use crate::util::fs::{set_mode, write_atomic, Atomic};

/// What one recorded case produced, before it is written.
#[derive(Debug, Clone)]
pub struct Capture {
    pub request: FixtureRequest,
    pub responses: Vec<FixtureResponse>,
    /// The server's version, from the target's `version_header`.
    pub version: Option<String>,
    /// The server as its answers name it: their `Server` header (bounded).
    pub server: Option<String>,
}

/// Records a case's exchanges as they are made: a [`Watch`] the runner shows every answer to.
/// Nothing is sanitized or written until [`Recorder::capture`].
#[derive(Debug, Default)]
pub struct Recorder {
    seen: Vec<Seen>,
}

#[derive(Debug)]
struct Seen {
    /// For a poll: its path, and the task id the path names.
    poll: Option<(String, Option<String>)>,
    /// For a step: its name and request.
    step: Option<(String, Option<FixtureRequest>)>,
    received: Received,
    raw: Option<Vec<(Duration, Bytes)>>,
}

impl Watch for Recorder {
    fn wants_raw(&self) -> bool {
        true
    }

    fn answer(
        &mut self,
        asked: Asked<'_>,
        received: &Received,
        raw: Option<Vec<(Duration, Bytes)>>,
    ) {
        self.seen.push(Seen {
            poll: match asked {
                Asked::Case | Asked::Step { .. } => None,
                Asked::Poll { path, task_id } => {
                    Some((path.to_string(), task_id.map(str::to_string)))
                }
            },
            step: match asked {
                Asked::Step { name, request } => Some((name.to_string(), request.cloned())),
                _ => None,
            },
            received: received.clone(),
            raw,
        });
    }
}

impl Recorder {
    /// The case's exchange as a fixture holds it, sanitized: the request and every answer in the
    /// order they came (attempts, then polls); `None` when nothing was answered.
    pub fn capture(self, plan: &Plan, sanitizer: &Sanitizer) -> Option<Capture> {
        if self.seen.is_empty() {
            return None;
        }
        let request = request_of(plan, sanitizer);
        let responses: Vec<FixtureResponse> = self
            .seen
            .into_iter()
            .map(|seen| {
                let mut resp = response_of(
                    &seen.received,
                    seen.raw.as_deref(),
                    sanitizer,
                    &plan.target.sanitize,
                );
                if let Some((name, request)) = seen.step {
                    resp.step = Some(name);
                    resp.request = request;
                }
                if let Some((path, task_id)) = seen.poll {
                    resp.request = Some(FixtureRequest {
                        method: "GET".into(),
                        // The submit's `id` is pinned as `<prefix>_[ID]`: the poll path names it so.
                        path: sanitizer.text(&match &task_id {
                            Some(id) => path.replace(id.as_str(), &sanitize::id_placeholder(id)),
                            None => path,
                        }),
                        authorization: request.authorization.clone(),
                        body: None,
                        raw_body: None,
                    });
                }
                resp
            })
            .collect();
        let version = plan
            .target
            .version_header
            .as_ref()
            .and_then(|h| header(&responses, h));
        let server = header(&responses, "server");
        Some(Capture {
            request,
            responses,
            version,
            server,
        })
    }
}

/// The longest header value a provenance repeats, in characters.
const MAX_PROVENANCE_HEADER: usize = 120;

/// A header of the last answer that carried it (already sanitized), cut to
/// [`MAX_PROVENANCE_HEADER`] characters; `None` when none did or it is blank.
pub fn header(responses: &[FixtureResponse], name: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    responses
        .iter()
        .rev()
        .find_map(|r| r.headers.get(&name))
        .map(|v| v.trim().chars().take(MAX_PROVENANCE_HEADER).collect::<String>())
        .filter(|v| !v.is_empty())
}

/// The request of a plan as a fixture records it.
pub fn request_of(plan: &Plan, sanitizer: &Sanitizer) -> FixtureRequest {
    let (body, raw_body) = match &plan.body {
        PlanBody::Json { .. } => {
            let mut v = plan.body.json().unwrap_or_default();
            sanitizer.json(&mut v);
            (Some(JsonText::from(&v)), None)
        }
        PlanBody::Raw(r) => (None, Some(sanitizer.text(r))),
        PlanBody::None => (None, None),
    };
    FixtureRequest {
        method: plan
            .method
            .as_deref()
            .unwrap_or(plan.case.family.method)
            .to_string(),
        path: plan
            .path
            .as_deref()
            .unwrap_or(plan.case.family.path)
            .to_string(),
        authorization: match plan.case.auth {
            AuthMode::Valid => Some(API_KEY.to_string()),
            AuthMode::Invalid => Some(INVALID_KEY.to_string()),
            AuthMode::Missing => None,
        },
        body,
        raw_body,
    }
}

/// A received response as a sanitized fixture response. `raw` holds the stream's pieces with
/// their arrival times, when it was a stream.
pub fn response_of(
    r: &Received,
    raw: Option<&[(Duration, Bytes)]>,
    sanitizer: &Sanitizer,
    extra: &[ExtraRule],
) -> FixtureResponse {
    let headers = r
        .headers
        .iter()
        .filter_map(|(k, v)| sanitizer.header(k, v).map(|v| (k.to_ascii_lowercase(), v)))
        .collect();
    let mut resp = FixtureResponse {
        status: r.status,
        headers,
        body: None,
        body_text: None,
        chunks: None,
        end: WireEnd::Clean,
        head_delay_ms: 0,
        reset_before_headers: false,
        request: None,
        step: None,
    };
    match &r.body {
        ReceivedBody::Bytes(b)
        | ReceivedBody::TooLarge { prefix: b, .. }
        | ReceivedBody::Failed { prefix: b, .. } => match serde_json::from_slice::<Value>(b) {
            Ok(mut v) => {
                sanitizer.fixture_json(&mut v, extra);
                resp.body = Some(JsonText::from(&v));
            }
            Err(_) if b.is_empty() => {}
            Err(_) => {
                resp.body_text = Some(sanitizer.fixture_text(&String::from_utf8_lossy(b), extra))
            }
        },
        ReceivedBody::Stream(read) => {
            resp.chunks = Some(events_from_wire(
                raw.unwrap_or_default(),
                r.ttfb,
                sanitizer,
                extra,
            ));
            resp.end = match &read.stop {
                StreamStop::Failed(..) | StreamStop::Parse(_) => WireEnd::Reset,
                StreamStop::Deadline(_, limit) => WireEnd::Stall {
                    ms: limit.as_millis() as u64 + 1,
                },
                StreamStop::Eof { .. } | StreamStop::Stopped | StreamStop::PastLength { .. } => {
                    WireEnd::Clean
                }
            };
        }
    }
    resp
}

/// Splits a stream into its events (at blank lines, whatever the line endings), each with the
/// delay since the previous one, and sanitizes each event: JSON `data:` payloads as bodies,
/// other lines as text. The event boundaries, the field formatting and the spacing survive.
pub fn events_from_wire(
    pieces: &[(Duration, Bytes)],
    head_at: Duration,
    sanitizer: &Sanitizer,
    extra: &[ExtraRule],
) -> Vec<WireChunk> {
    let mut all = Vec::new();
    let mut ends = Vec::new(); // (end offset of each piece, arrival)
    for (at, p) in pieces {
        all.extend_from_slice(p);
        ends.push((all.len(), *at));
    }
    let arrival = |offset: usize| -> Duration {
        ends.iter()
            .find(|(end, _)| *end >= offset)
            .map_or(head_at, |(_, at)| *at)
    };
    let mut chunks = Vec::new();
    let mut last = head_at;
    for block in sse::blocks(&all) {
        let at = arrival(block.end);
        let text = String::from_utf8_lossy(&all[block]);
        chunks.push(WireChunk {
            delay_ms: at.saturating_sub(last).as_millis() as u64,
            data: sanitize_event(&text, sanitizer, extra),
            repeat: 1,
        });
        last = at;
    }
    chunks
}

fn sanitize_event(text: &str, sanitizer: &Sanitizer, extra: &[ExtraRule]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        let term_len = if rest[end..].starts_with("\r\n") {
            2
        } else {
            usize::from(end < rest.len())
        };
        let (line, term) = (&rest[..end], &rest[end..end + term_len]);
        let payload = line.strip_prefix("data:");
        match payload.map(|p| (p, serde_json::from_str::<Value>(p.trim_start()))) {
            Some((p, Ok(mut v))) => {
                sanitizer.fixture_json(&mut v, extra);
                let space = &p[..p.len() - p.trim_start().len()];
                out.push_str("data:");
                out.push_str(space);
                out.push_str(&v.to_string());
            }
            _ => out.push_str(&sanitizer.fixture_text(line, extra)),
        }
        out.push_str(term);
        rest = &rest[end + term_len..];
    }
    out
}

/// A URL without credentials, query or fragment: what provenance may name.
pub fn url_alias(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit('@').next().unwrap_or(authority);
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

/// What writing one fixture did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// No fixture was pinned: the new one is.
    Created(PathBuf),
    /// The pinned fixture already says the same.
    Unchanged(PathBuf),
    /// The pinned fixture differs: the new one waits beside it; the diff says how.
    Pending { path: PathBuf, diff: String },
    /// `--overwrite`: the pinned fixture was replaced.
    Overwritten { path: PathBuf, diff: String },
    /// `CI` is set: nothing is written.
    Withheld { path: PathBuf, change: bool },
    /// Something that looks like a secret survived sanitizing: nothing is written.
    Refused {
        path: PathBuf,
        hits: Vec<sanitize::Hit>,
    },
}

/// How a fixture compares with another, as the canonical text diff of the request and every
/// response (volatile values masked), or `None` when they are the same.
pub fn fixture_diff(pinned: &Fixture, new: &Fixture, pinned_name: &str) -> Option<String> {
    let text = |f: &Fixture| {
        let mut s = replay::request_text(&f.request);
        for (i, r) in f.responses.iter().enumerate() {
            s.push_str(&format!("response {i}:\n"));
            s.push_str(&drift::canonical(&pinned_document(r)));
        }
        s
    };
    drift::diff(&text(pinned), &text(new), pinned_name, "recorded now")
}

/// Writes a fixture's bytes atomically, synced, with its mode; `pause` is for the test that
/// kills the writer between the written file and its rename.
fn write_synced(path: &Path, bytes: &[u8], mode: u32, pause: Duration) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let how = Atomic {
        mode: Some(mode),
        sync: true,
        pause,
    };
    write_atomic(path, how, |out| out.write_all(bytes))
}

/// Mode of a pending fixture: private until reviewed.
pub const PENDING_MODE: u32 = 0o600;
/// Mode of a pinned fixture.
pub const PINNED_MODE: u32 = 0o644;

/// The pending file beside a pinned fixture.
pub fn pending_path(pinned: &Path) -> PathBuf {
    let mut s = pinned.as_os_str().to_owned();
    s.push(".new");
    PathBuf::from(s)
}

/// Writes a recorded fixture under the rules: scan first (fail closed), never over a pinned one
/// unless `overwrite`, nothing at all when `ci`.
pub fn write_fixture(
    pinned: &Path,
    fixture: &Fixture,
    existing: Option<&Fixture>,
    overwrite: bool,
    ci: bool,
    known: &[Secret],
    pause: Duration,
) -> std::io::Result<Written> {
    let mut text = serde_json::to_string_pretty(fixture).map_err(std::io::Error::other)?;
    text.push('\n');
    let mut hits = sanitize::scan(&text, known);
    if hits.is_empty() {
        // A secret sent in pieces over a stream's frames is in no one line of the file.
        for r in &fixture.responses {
            hits.extend(sanitize::scan_reassembled(
                r.chunks.as_deref().unwrap_or_default(),
                known,
            ));
        }
    }
    if !hits.is_empty() {
        return Ok(Written::Refused {
            path: pinned.to_path_buf(),
            hits,
        });
    }
    let diff = existing.and_then(|e| fixture_diff(e, fixture, &pinned.display().to_string()));
    if existing.is_some() && diff.is_none() {
        return Ok(Written::Unchanged(pinned.to_path_buf()));
    }
    if ci {
        return Ok(Written::Withheld {
            path: pinned.to_path_buf(),
            change: existing.is_some(),
        });
    }
    match (existing, diff) {
        (None, _) => {
            write_synced(pinned, text.as_bytes(), PINNED_MODE, pause)?;
            Ok(Written::Created(pinned.to_path_buf()))
        }
        (Some(_), Some(diff)) if overwrite => {
            write_synced(pinned, text.as_bytes(), PINNED_MODE, pause)?;
            let _ = std::fs::remove_file(pending_path(pinned));
            Ok(Written::Overwritten {
                path: pinned.to_path_buf(),
                diff,
            })
        }
        (Some(_), diff) => {
            let path = pending_path(pinned);
            write_synced(&path, text.as_bytes(), PENDING_MODE, pause)?;
            Ok(Written::Pending {
                path,
                diff: diff.unwrap_or_default(),
            })
        }
    }
}

/// Every pending fixture (`*.json.new`) below the fixtures directory, sorted.
pub fn pending(fixtures: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(targets) = std::fs::read_dir(fixtures) else {
        return out;
    };
    for t in targets.flatten() {
        if let Ok(files) = std::fs::read_dir(t.path()) {
            out.extend(
                files
                    .flatten()
                    .map(|f| f.path())
                    .filter(|p| p.to_string_lossy().ends_with(".json.new")),
            );
        }
    }
    out.sort();
    out
}

/// The pinned fixture a pending one would replace.
pub fn pinned_of(pending: &Path) -> PathBuf {
    PathBuf::from(
        pending
            .to_string_lossy()
            .trim_end_matches(".new")
            .to_string(),
    )
}

/// Promotes a pending fixture over its pinned one (atomically) and makes it readable.
pub fn accept(pending: &Path) -> std::io::Result<PathBuf> {
    let pinned = pinned_of(pending);
    set_mode(pending, PINNED_MODE)?;
    std::fs::rename(pending, &pinned)?;
    if let Some(d) = pinned.parent().and_then(|d| std::fs::File::open(d).ok()) {
        let _ = d.sync_all();
    }
    Ok(pinned)
}

/// Discards a pending fixture.
pub fn reject(pending: &Path) -> std::io::Result<()> {
    std::fs::remove_file(pending)
}

/// The diff a pending fixture would make to its pinned one.
pub fn pending_diff(pending: &Path) -> Result<String, String> {
    let read = |p: &Path| -> Result<Fixture, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        Fixture::parse(p, &text).map_err(|e| e.to_string())
    };
    let new = read(pending)?;
    let pinned_path = pinned_of(pending);
    match read(&pinned_path) {
        Ok(old) => Ok(fixture_diff(&old, &new, &pinned_path.display().to_string())
            .unwrap_or_else(|| "(no difference once volatile values are masked)".into())),
        Err(_) => Ok(format!(
            "(new fixture: nothing pinned at {})",
            pinned_path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_aliases_drop_credentials_and_queries() {
        assert_eq!(
            url_alias("https://user:pw@api.example.com/v1?key=abc"),
            "https://api.example.com/v1"
        );
        assert_eq!(
            url_alias("http://127.0.0.1:4000/v1"),
            "http://127.0.0.1:4000/v1"
        );
    }

    #[test]
    fn streams_split_into_sanitized_events_keeping_format_and_timing() {
        let s = Sanitizer::new();
        let pieces = vec![
            (
                Duration::from_millis(10),
                Bytes::from_static(b": ping\r\n\r\ndata: {\"id\":\"chatcmpl-abc\",\"created\":17"),
            ),
            (
                Duration::from_millis(30),
                Bytes::from_static(b"00000000}\r\n\r\ndata:[DONE]\r\n\r\n"),
            ),
        ];
        let chunks = events_from_wire(&pieces, Duration::from_millis(5), &s, &[]);
        let data: Vec<&str> = chunks.iter().map(|c| c.data.as_str()).collect();
        assert_eq!(
            data,
            vec![
                ": ping\r\n\r\n",
                "data: {\"created\":\"[CREATED]\",\"id\":\"chatcmpl-[ID]\"}\r\n\r\n",
                "data:[DONE]\r\n\r\n"
            ]
        );
        let delays: Vec<u64> = chunks.iter().map(|c| c.delay_ms).collect();
        assert_eq!(delays, vec![5, 20, 0]);
    }
}
