//! HTTP: the same client code for live endpoints and the recorded one.
//!
//! One `reqwest` client (rustls, no redirects followed, connect timeout) is shared by the whole
//! run. Bodies are read in pieces and refused past a size limit. A `text/event-stream` body is
//! never buffered: its bytes go through the [`SseParser`] as they arrive, and each event is handed
//! to a [`FrameSink`] (the stream checks) with its arrival time.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::exchange::sse::{SseError, SseEvent, SseItem, SseParser};
use crate::model::observation::TransportFailure;

/// Largest non-streamed body read.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// Largest single stream event.
pub const MAX_EVENT: usize = 16 * 1024 * 1024;

/// Receives stream events as they arrive.
pub trait FrameSink {
    /// An event arrived `at` after the request was sent. Return `false` to stop reading.
    fn frame(&mut self, event: SseEvent, at: Duration) -> bool;
    /// A comment (keep-alive) line arrived.
    fn comment(&mut self, _text: &str, _at: Duration) {}
    /// Raw body bytes arrived (before parsing); the recorder keeps them.
    fn raw(&mut self, _piece: &Bytes, _at: Duration) {}
}

/// How long each part of an exchange may take. Each one, when hit, is its own named failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// From sending to the response head.
    pub first_byte: Duration,
    /// Between two reads of the body (a stalled stream).
    pub idle: Duration,
    /// The whole exchange.
    pub total: Duration,
}

/// Which deadline was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    FirstByte,
    Idle,
    Total,
}

impl Deadline {
    pub fn name(self) -> &'static str {
        match self {
            Deadline::FirstByte => "first-byte",
            Deadline::Idle => "idle",
            Deadline::Total => "total",
        }
    }
}

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: reqwest::Method,
    pub url: String,
    /// The credential header's value (`Bearer <key>`, or the key alone), if any. Never logged.
    pub authorization: Option<String>,
    /// The header that carries it: `authorization`, or a family's own (`x-api-key`).
    pub auth_header: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Option<Bytes>,
    pub deadlines: Deadlines,
}

/// How reading a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStop {
    /// The body ended cleanly; `partial` when an event was left half-sent.
    Eof { partial: bool },
    /// The sink asked to stop (an error frame, for instance).
    Stopped,
    /// The connection failed mid-stream.
    Failed(TransportFailure, String),
    /// A deadline passed mid-stream: idle (no byte for that long) or total.
    Deadline(Deadline, Duration),
    /// The bytes broke the event-stream format.
    Parse(SseError),
    /// The body ended at its declared Content-Length inside an event: the server sent a stream
    /// longer than the length it declared (the rest, its terminal event perhaps, is not part of
    /// the response). Its own framing is wrong; nothing was cut on the way.
    PastLength { declared: u64 },
}

/// What a streamed body produced (the events themselves went to the sink).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRead {
    pub stop: StreamStop,
    pub events: usize,
    pub bytes: u64,
    pub comments: usize,
    /// Time of the first body byte.
    pub first_byte: Option<Duration>,
    /// Body reads that delivered at least one event: 1 for a stream sent in one burst.
    pub event_reads: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceivedBody {
    Bytes(Bytes),
    /// The body passed the limit; `prefix` holds its start for an excerpt.
    TooLarge {
        limit: usize,
        prefix: Bytes,
    },
    /// A non-streamed body failed mid-read.
    Failed {
        kind: TransportFailure,
        message: String,
        prefix: Bytes,
    },
    Stream(StreamRead),
}

/// A response as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: ReceivedBody,
    /// Time to the response head.
    pub ttfb: Duration,
    /// Time to the end of the body.
    pub total: Duration,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }
}

/// A request that got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    pub kind: TransportFailure,
    pub message: String,
    pub after: Duration,
    /// The deadline that was hit, when one was.
    pub deadline: Option<Deadline>,
}

/// Whether a content type is an event stream.
pub fn is_event_stream(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| {
        c.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
    })
}

/// The shared HTTP client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
}

fn describe(err: &reqwest::Error) -> (TransportFailure, String) {
    let kind = if err.is_connect() {
        TransportFailure::Connect
    } else if err.is_timeout() {
        TransportFailure::Timeout
    } else if err.is_body() || err.is_decode() || err.is_request() {
        TransportFailure::Reset
    } else {
        TransportFailure::Other
    };
    // The chain of causes says what actually happened ("connection refused", "reset by peer").
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    // A timeout can surface as a plain I/O error from deep inside; name it for what it is.
    let kind = if kind != TransportFailure::Timeout
        && message.to_ascii_lowercase().contains("timed out")
    {
        TransportFailure::Timeout
    } else {
        kind
    };
    (kind, message)
}

/// A request built by [`Client::prepare`], or why it could not be (an invalid URL or header, said
/// when it is sent, as a transport failure).
#[derive(Debug)]
pub struct Prepared {
    request: Result<reqwest::Request, reqwest::Error>,
    deadlines: Deadlines,
}

impl Client {
    #[cfg(feature = "testkit")]
    /// A client with the given connect timeout. Redirects are never followed: a 301 from a wrong
    /// base URL must be seen, not hidden.
    pub fn new(connect_timeout: Duration) -> Result<Client, String> {
        Client::with_tls(connect_timeout, true)
    }

    /// A client for a run that talks plain HTTP only (`tls` false: the recorded endpoint, a
    /// local gateway): it trusts no certificate at all, so an `https://` URL fails its handshake,
    /// and it skips loading the platform's certificate store, a few milliseconds of every start.
    pub fn with_tls(connect_timeout: Duration, tls: bool) -> Result<Client, String> {
        // rustls needs one process-wide crypto provider; a second install is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("llm-contract/", env!("CARGO_PKG_VERSION")));
        if !tls {
            builder = builder.tls_certs_only([]);
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Client { http })
    }

    /// Builds the request (its URL parsed, its headers checked) without sending it, so a run can
    /// have it ready before its turn to send comes.
    pub fn prepare(&self, out: Outgoing) -> Prepared {
        let d = out.deadlines;
        // The client's own timer is a backstop; the deadlines below name what was hit.
        let mut req = self
            .http
            .request(out.method, &out.url)
            .timeout(d.total + Duration::from_secs(1));
        if let Some(auth) = &out.authorization {
            req = req.header(out.auth_header, auth);
        }
        for (k, v) in &out.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(body) = out.body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        Prepared {
            request: req.build(),
            deadlines: d,
        }
    }

    /// Sends a request and reads its response; stream events go to `sink` as they arrive.
    pub async fn send(
        &self,
        out: Outgoing,
        sink: &mut (dyn FrameSink + Send),
    ) -> Result<Received, TransportError> {
        self.send_prepared(self.prepare(out), sink).await
    }

    /// [`Client::send`] for a request already built; its times count from here.
    pub async fn send_prepared(
        &self,
        prepared: Prepared,
        sink: &mut (dyn FrameSink + Send),
    ) -> Result<Received, TransportError> {
        let start = Instant::now();
        let d = prepared.deadlines;
        let head_limit = d.first_byte.min(d.total);
        let sent = async {
            match prepared.request {
                Ok(req) => self.http.execute(req).await,
                Err(e) => Err(e),
            }
        };
        let response = match tokio::time::timeout(head_limit, sent).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                let (kind, message) = describe(&e);
                return Err(TransportError {
                    kind,
                    message,
                    after: start.elapsed(),
                    deadline: None,
                });
            }
            Err(_) => {
                let which = if d.first_byte <= d.total {
                    Deadline::FirstByte
                } else {
                    Deadline::Total
                };
                return Err(TransportError {
                    kind: TransportFailure::Timeout,
                    message: format!(
                        "no response head within the {} deadline of {} ms",
                        which.name(),
                        head_limit.as_millis()
                    ),
                    after: start.elapsed(),
                    deadline: Some(which),
                });
            }
        };
        let ttfb = start.elapsed();
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let streaming = is_event_stream(
            headers
                .iter()
                .find(|(k, _)| k == "content-type")
                .map(|(_, v)| v.as_str()),
        );
        let body = if streaming {
            ReceivedBody::Stream(read_stream(response, start, d, sink).await)
        } else {
            read_body(response, start, d).await
        };
        Ok(Received {
            status,
            headers,
            body,
            ttfb,
            total: start.elapsed(),
        })
    }
}

/// Waits for the next body piece within the idle and total deadlines. A deadline that passes
/// comes back with its limit (the total's whole length, not the time that was left of it).
async fn next_piece(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<Bytes>> + Unpin),
    start: Instant,
    d: Deadlines,
) -> Result<Option<reqwest::Result<Bytes>>, (Deadline, Duration)> {
    let remaining = d.total.saturating_sub(start.elapsed());
    let (wait, which, limit) = if d.idle < remaining {
        (d.idle, Deadline::Idle, d.idle)
    } else {
        (remaining, Deadline::Total, d.total)
    };
    tokio::time::timeout(wait, stream.next())
        .await
        .map_err(|_| (which, limit))
}

async fn read_body(response: reqwest::Response, start: Instant, d: Deadlines) -> ReceivedBody {
    let mut buf = BytesMut::new();
    let mut stream = response.bytes_stream();
    loop {
        let piece = match next_piece(&mut stream, start, d).await {
            Err((which, limit)) => {
                buf.truncate(4096);
                return ReceivedBody::Failed {
                    kind: TransportFailure::Timeout,
                    message: format!(
                        "the {} deadline of {} ms passed while reading the body",
                        which.name(),
                        limit.as_millis()
                    ),
                    prefix: buf.freeze(),
                };
            }
            Ok(None) => return ReceivedBody::Bytes(buf.freeze()),
            Ok(Some(p)) => p,
        };
        match piece {
            Ok(bytes) => {
                if buf.len() + bytes.len() > MAX_BODY {
                    let room = MAX_BODY.saturating_sub(buf.len()).min(4096);
                    buf.extend_from_slice(&bytes[..room.min(bytes.len())]);
                    buf.truncate(4096);
                    return ReceivedBody::TooLarge {
                        limit: MAX_BODY,
                        prefix: buf.freeze(),
                    };
                }
                buf.extend_from_slice(&bytes);
            }
            Err(e) => {
                let (kind, message) = describe(&e);
                buf.truncate(4096);
                return ReceivedBody::Failed {
                    kind,
                    message,
                    prefix: buf.freeze(),
                };
            }
        }
    }
}

async fn read_stream(
    response: reqwest::Response,
    start: Instant,
    d: Deadlines,
    sink: &mut (dyn FrameSink + Send),
) -> StreamRead {
    let mut parser = SseParser::new(MAX_EVENT);
    let declared = response.content_length();
    let mut stream = response.bytes_stream();
    let mut read = StreamRead {
        stop: StreamStop::Eof { partial: false },
        events: 0,
        bytes: 0,
        comments: 0,
        first_byte: None,
        event_reads: 0,
    };
    loop {
        let piece = match next_piece(&mut stream, start, d).await {
            Err((which, limit)) => {
                read.stop = StreamStop::Deadline(which, limit);
                read.events = parser.dispatched();
                return read;
            }
            Ok(None) => {
                let partial = parser.has_partial();
                read.stop = match declared {
                    Some(n) if partial && n == read.bytes => StreamStop::PastLength { declared: n },
                    _ => StreamStop::Eof { partial },
                };
                read.events = parser.dispatched();
                return read;
            }
            Ok(Some(Err(e))) => {
                let (kind, message) = describe(&e);
                let kind = if kind == TransportFailure::Other {
                    TransportFailure::Reset
                } else {
                    kind
                };
                read.stop = StreamStop::Failed(kind, message);
                read.events = parser.dispatched();
                return read;
            }
            Ok(Some(Ok(piece))) => piece,
        };
        let at = start.elapsed();
        read.first_byte.get_or_insert(at);
        read.bytes += piece.len() as u64;
        sink.raw(&piece, at);
        let before = parser.dispatched();
        let mut stop = false;
        let comments = &mut read.comments;
        let result = parser.push(&piece, &mut |item| match item {
            SseItem::Event(ev) => {
                let go = sink.frame(ev, at);
                stop = !go;
                go
            }
            SseItem::Comment(c) => {
                *comments += 1;
                sink.comment(&c, at);
                true
            }
        });
        if parser.dispatched() > before {
            read.event_reads += 1;
        }
        let stop_reason = match result {
            Err(e) => Some(StreamStop::Parse(e)),
            Ok(_) if stop => Some(StreamStop::Stopped),
            Ok(_) => None,
        };
        if let Some(stop) = stop_reason {
            read.stop = stop;
            read.events = parser.dispatched();
            return read;
        }
    }
}
