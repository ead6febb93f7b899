//! A stream checked frame by frame as it arrives; failures come back as data, never printed.

use std::time::Duration;

use serde_json::Value;

use crate::contract::schema::SchemaRegistry;
use crate::exchange::sse::SseEvent;
use crate::exchange::transport::{Deadline, FrameSink, StreamRead, StreamStop};
use crate::judge::body::excerpt;
use crate::judge::levels;
use crate::model::deviation::Deviation;
use crate::judge::grammar::{EndContext, Findings, Frame, Grammar, Signals};
use crate::model::failure::{At, Failure};
use crate::model::observation::{ApiError, StreamEnd};
use crate::model::plan::{Expect, Plan, StreamExpect};
use crate::util::tape::JsonRef;
use crate::util::tape::Tape;


/// Something that sees each frame once the check has read it: a frame that parsed, as JSON, or
/// one that did not, as its text. The drift comparison's stream shape is one.
pub trait FrameWatch: Send {
    fn json(&mut self, event: Option<&str>, doc: JsonRef<'_>);
    fn text(&mut self, event: Option<&str>, data: &str);
}

/// Checks a stream frame by frame, as it arrives: what every family shares (framing, JSON, the
/// frame schema, error frames, gaps, the drift shape, how the body ended), with the family's
/// [`Grammar`] for the order of its events and what they add up to.
pub struct StreamCheck<'a> {
    schemas: &'a SchemaRegistry,
    chunk_schema: String,
    response_schema: String,
    grammar: Box<dyn Grammar>,
    findings: Findings,
    pub failures: Vec<Failure>,
    /// Named deviations from the spec that clients survive (`judge::levels`), once finished.
    pub deviations: Vec<Deviation>,
    /// The deviation rows a valid frame of the chunk schema may carry.
    frame_rows: levels::FrameRows,
    pub frames: usize,
    pub error_frame: Option<(usize, ApiError)>,
    /// Sees every frame after it was checked (the drift comparison keeps their shapes); none
    /// when there is no baseline to compare with.
    watch: Option<&'a mut dyn FrameWatch>,
    pub first_content: Option<Duration>,
    pub last_frame: Option<Duration>,
    pub max_gap: Duration,
    /// A data frame was not valid JSON.
    pub invalid_json: bool,
    /// A data frame broke the frame schema.
    pub schema_failed: bool,
    /// The frame being checked, parsed; reused from frame to frame.
    tape: Tape,
}

impl<'a> StreamCheck<'a> {
    pub fn new(
        schemas: &'a SchemaRegistry,
        chunk_schema: &str,
        response_schema: &str,
        grammar: Box<dyn Grammar>,
    ) -> Self {
        StreamCheck {
            schemas,
            chunk_schema: chunk_schema.to_string(),
            response_schema: response_schema.to_string(),
            grammar,
            findings: Findings::default(),
            failures: Vec::new(),
            deviations: Vec::new(),
            frame_rows: levels::FrameRows::for_schema(chunk_schema),
            frames: 0,
            error_frame: None,
            watch: None,
            first_content: None,
            last_frame: None,
            max_gap: Duration::ZERO,
            invalid_json: false,
            schema_failed: false,
            tape: Tape::default(),
        }
    }

    /// The check a plan's stream gets: the case's chunk schema (or the family's), the case's
    /// schema for the reassembled answer (or the family's response schema), the family's
    /// grammar, keeping the answer's text when the case reads it.
    pub fn for_plan(schemas: &'a SchemaRegistry, plan: &Plan) -> Self {
        let family = plan.case.family;
        let expect = &plan.expect;
        let chunk_schema = expect
            .stream
            .as_ref()
            .and_then(|s| s.chunk_schema.as_deref())
            .unwrap_or(family.chunk_schema);
        let response_schema = expect.schema.as_deref().unwrap_or(family.response_schema);
        let mut grammar = crate::judge::family::grammar(family);
        if expect.reads_answer() || !plan.capture.is_empty() {
            grammar.keep_text();
        }
        StreamCheck::new(schemas, chunk_schema, response_schema, grammar)
    }

    /// The answer the frames added up to (once the stream ended; see [`Grammar::answer`]).
    pub fn answer(&self) -> Option<&Value> {
        self.grammar.answer()
    }

    /// Shows every checked frame to `watch` too.
    pub fn watching(mut self, watch: Option<&'a mut dyn FrameWatch>) -> Self {
        self.watch = watch;
        self
    }

    /// What the stream said about its answer (end reasons, content, tool calls, usage).
    pub fn signals(&self) -> &Signals {
        self.grammar.signals()
    }

    /// Closes the check once the body ended; returns how the stream ended.
    pub fn finish(
        &mut self,
        read: &StreamRead,
        expect: &StreamExpect,
        allowed_finish: &Expect,
    ) -> StreamEnd {
        let end = self.close(read, expect, allowed_finish);
        if self.findings.suppressed > 0 {
            let n = self.findings.suppressed;
            self.findings.failures.push(Failure::StreamMore(n));
        }
        self.failures = std::mem::take(&mut self.findings.failures);
        self.deviations = std::mem::take(&mut self.findings.deviations);
        end
    }

    fn close(&mut self, read: &StreamRead, expect: &StreamExpect, allowed: &Expect) -> StreamEnd {
        let summary = format!(
            "after {} frames and {} characters of content",
            self.frames,
            self.grammar.signals().content_chars
        );
        let out = &mut self.findings;
        match &read.stop {
            StreamStop::Parse(e) => {
                // Bytes that break the event-stream format (not UTF-8, an event over the size
                // limit) are what the server sent, as a frame that is not JSON is: a malformed
                // stream, not a cut that a retry might mend. Nothing past them was read.
                out.violation(Failure::stream(
                    At::Stream,
                    format!("{e}; the stream was not read past it"),
                ));
                self.invalid_json = true;
                return StreamEnd::Malformed;
            }
            StreamStop::PastLength { declared } => {
                // The server's own framing is wrong: a retry gets the same length.
                out.violation(Failure::stream(
                    At::Stream,
                    format!(
                        "the body ended at its Content-Length of {declared} bytes inside an event {summary}: the server sent a longer stream than it declared (whatever followed, its terminal event perhaps, is not part of the response)"
                    ),
                ));
                self.invalid_json = true;
                return StreamEnd::Malformed;
            }
            StreamStop::Failed(kind, message) => out.fail(Failure::stream(
                At::Stream,
                format!("connection failed ({kind:?}) {summary}: {message}"),
            )),
            StreamStop::Eof { partial: true } => {
                out.fail(Failure::stream(
                    At::Stream,
                    format!("ended inside an event {summary}"),
                ));
            }
            StreamStop::Deadline(Deadline::Idle, limit) => {
                out.fail(Failure::stream(
                    At::Stream,
                    format!(
                        "stalled: nothing arrived for {} ms (the idle limit) {summary}",
                        limit.as_millis()
                    ),
                ));
                return StreamEnd::Stalled;
            }
            StreamStop::Deadline(which, limit) => out.fail(Failure::stream(
                At::Stream,
                format!(
                    "the {} deadline of {} ms passed {summary}",
                    which.name(),
                    limit.as_millis()
                ),
            )),
            _ => {}
        }
        if let Some((index, err)) = &self.error_frame {
            out.fail(Failure::stream(At::Stream, format!("error frame at frame {index}, after {index} frames and {} characters of content: {} — {}",
                self.grammar.signals().content_chars,
                err.describe(),
                err.message.as_deref().unwrap_or("(no message)")
            )));
            return StreamEnd::ErrorFrame;
        }
        // A clean end after a whole answer left out only the terminator: a deviation the
        // clients survive, not a cut to retry.
        let unterminated = expect.done && !self.grammar.terminated();
        let clean = matches!(read.stop, StreamStop::Eof { partial: false });
        let cut = unterminated && !(clean && self.grammar.whole(expect));
        if unterminated && !cut {
            let row = levels::stream_row("missing_done_after_finish");
            out.deviations.push(row.at("stream".into()));
        }
        if cut {
            out.fail(Failure::stream(
                At::Stream,
                format!("truncated: no {} {summary}", self.grammar.terminal()),
            ));
        }
        let cx = EndContext {
            schemas: self.schemas,
            response_schema: &self.response_schema,
            expect,
            allowed,
            cut,
        };
        self.grammar.end(&cx, out);
        if expect.incremental && self.frames >= 2 && read.event_reads <= 1 {
            out.fail(Failure::stream(At::Stream, format!("the whole answer ({} frames, {} bytes) arrived in one burst: a buffering gateway",
                self.frames, read.bytes
            )));
        }
        if cut || matches!(read.stop, StreamStop::Failed(..) | StreamStop::Deadline(..)) {
            StreamEnd::Cut
        } else if out.malformed {
            StreamEnd::Malformed
        } else {
            StreamEnd::Complete
        }
    }
}

impl FrameSink for StreamCheck<'_> {
    fn frame(&mut self, ev: SseEvent, at: Duration) -> bool {
        if let Some(last) = self.last_frame {
            self.max_gap = self.max_gap.max(at.saturating_sub(last));
        }
        self.last_frame = Some(at);
        self.frames += 1;
        let frame = Frame {
            index: ev.index,
            offset: ev.offset,
            event: ev.event.as_deref(),
        };
        // Parsed into the check's tape (no allocation per frame once it has grown); a repeated
        // key goes through a `Value` first, so the last one wins as everywhere else.
        if let Err(e) = self.tape.parse(&ev.data) {
            if !self.grammar.marker(&frame, &ev.data, &mut self.findings) {
                self.invalid_json = true;
                self.findings.violation(Failure::stream(
                    At::Byte(ev.index, ev.offset),
                    format!("not valid JSON ({e}): {}", excerpt(ev.data.as_bytes())),
                ));
            }
            if let Some(w) = self.watch.as_deref_mut() {
                w.text(ev.event.as_deref(), &ev.data);
            }
            return true;
        }
        if self.tape.has_duplicate_keys() {
            if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                self.tape.load_value(&v);
            }
        }
        let doc = self.tape.root();
        if let Some(err) = self.grammar.error(&frame, doc) {
            self.error_frame = Some((ev.index, err));
            if let Some(w) = self.watch.as_deref_mut() {
                w.json(ev.event.as_deref(), doc);
            }
            // Processing stops at the first error frame.
            return false;
        }
        // `None` (no tape validator): the `Value` check below decides.
        let valid = self.schemas.frame_is_valid(&self.chunk_schema, doc);
        if valid != Some(true) {
            // Reported from a `Value`, as every other schema failure is (same messages); what
            // the deviation table names is a deviation, not a failure.
            let mut f = Vec::new();
            let at = format!("frame {} ", ev.index);
            let (v, out) = (doc.to_value(), &mut self.findings.deviations);
            if !levels::schema_check(self.schemas, &self.chunk_schema, &v, &at, &mut f, out) {
                self.schema_failed = true;
            }
            for v in f.into_iter().take(3) {
                self.findings.violation(Failure::Within {
                    at: At::Byte(ev.index, ev.offset),
                    inner: Box::new(v),
                });
            }
        } else {
            let out = &mut self.findings.deviations;
            self.frame_rows.check(&ev.data, doc, ev.index, out);
        }
        let before = self.grammar.signals().content_chars;
        self.grammar.frame(&frame, doc, &mut self.findings);
        if self.first_content.is_none() && self.grammar.signals().content_chars > before {
            self.first_content = Some(at);
        }
        // The frame is checked; its shape is compared with the previous frame's (a copy is made
        // only when the shape changed).
        if let Some(w) = self.watch.as_deref_mut() {
            w.json(ev.event.as_deref(), doc);
        }
        true
    }
}
