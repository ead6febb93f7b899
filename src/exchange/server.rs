//! A small HTTP/1.1 server on 127.0.0.1, for the recorded endpoint and for tests.
//!
//! It is written on tokio and `httparse` rather than a full framework because a contract
//! harness must be able to misbehave on purpose: send SSE frames with their original boundaries
//! and spacing, stop a stream without its terminal chunk, or reset a connection before the
//! headers. It binds only to 127.0.0.1, bounds every read (head size, body size, idle time) and
//! stops when its [`Server`] handle is dropped or shut down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Largest request head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted.
pub const MAX_BODY: usize = 32 * 1024 * 1024;
/// How long an idle keep-alive connection is kept.
pub const IDLE: Duration = Duration::from_secs(30);

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How a streamed reply ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamClose {
    /// The terminating zero-length chunk is sent: a clean end of body.
    Clean,
    /// The connection is reset (RST) without the terminating chunk.
    Reset,
    /// The server stops sending and holds the connection open for this long, then resets.
    Stall(Duration),
}

/// What the server sends back.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete body with a Content-Length.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Bytes,
    },
    /// A chunked body written piece by piece; each piece waits its delay first.
    Stream {
        status: u16,
        headers: Vec<(String, String)>,
        chunks: Vec<(Duration, Bytes)>,
        close: StreamClose,
    },
    /// A generated stream: `prefix`, then `frame` repeated `count` times, then `suffix`, written
    /// in large batches without holding the body in memory (benchmarks only).
    #[cfg(feature = "testkit")]
    Repeat {
        status: u16,
        headers: Vec<(String, String)>,
        prefix: Bytes,
        frame: Bytes,
        count: usize,
        suffix: Bytes,
    },
    /// The connection is reset before any response byte.
    Reset,
    /// The inner reply, sent after a delay (a slow first byte).
    After(Duration, Box<Reply>),
}

impl Reply {
    #[cfg(any(test, feature = "testkit"))]
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply::Full {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
        }
    }
    pub fn text(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
        Reply::Full {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }
}

/// Turns requests into replies.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: Request) -> Reply;
}

impl<F> Handler for F
where
    F: Fn(Request) -> Reply + Send + Sync + 'static,
{
    fn handle(&self, request: Request) -> Reply {
        self(request)
    }
}

/// A running server. Dropping it stops the accept loop.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl Server {
    /// Binds 127.0.0.1 on an ephemeral port and serves on the current tokio runtime.
    /// `time_scale` multiplies every chunk delay (0 replays without waiting).
    pub async fn start(handler: Arc<dyn Handler>, time_scale: f64) -> std::io::Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept_loop(listener, handler, time_scale.max(0.0), stopped));
        Ok(Server { addr, stop })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    scale: f64,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                let stopped = stopped.clone();
                tokio::spawn(async move {
                    let _ = serve_connection(stream, handler, scale, stopped).await;
                });
            }
        }
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    handler: Arc<dyn Handler>,
    scale: f64,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(8 * 1024);
    loop {
        let request = tokio::select! {
            _ = stopped.changed() => return Ok(()),
            r = tokio::time::timeout(IDLE, read_request(&mut stream, &mut buf)) => match r {
                Ok(Ok(Some(req))) => req,
                Ok(Ok(None)) | Err(_) => return Ok(()),
                Ok(Err(e)) => {
                    let reply = Reply::text(400, "text/plain", format!("bad request: {e}"));
                    write_reply(&mut stream, reply, false, scale).await?;
                    return Ok(());
                }
            },
        };
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let reply = handler.handle(request);
        if !write_reply(&mut stream, reply, close, scale).await? || close {
            return Ok(());
        }
    }
}

/// Reads one request; `Ok(None)` on a clean close between requests.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> std::io::Result<Option<Request>> {
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let method = req.method.unwrap_or("GET").to_string();
                    let target = req.path.unwrap_or("/").to_string();
                    let headers: Vec<(String, String)> = req
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect();
                    if headers.iter().any(|(k, v)| {
                        k == "transfer-encoding" && !v.eq_ignore_ascii_case("identity")
                    }) {
                        return Err(invalid("chunked request bodies are not supported".into()));
                    }
                    let len = match headers.iter().find(|(k, _)| k == "content-length") {
                        Some((_, v)) => v
                            .trim()
                            .parse::<usize>()
                            .map_err(|_| invalid(format!("bad content-length {v:?}")))?,
                        None => 0,
                    };
                    if len > MAX_BODY {
                        return Err(invalid(format!(
                            "body of {len} bytes is over the {MAX_BODY}-byte limit"
                        )));
                    }
                    buf.advance(head_len);
                    while buf.len() < len {
                        if stream.read_buf(buf).await? == 0 {
                            return Err(invalid(
                                "connection closed inside the request body".into(),
                            ));
                        }
                    }
                    let body = buf.split_to(len).freeze();
                    return Ok(Some(Request {
                        method,
                        target,
                        headers,
                        body,
                    }));
                }
                Ok(httparse::Status::Partial) => {
                    if buf.len() > MAX_HEAD {
                        return Err(invalid(format!("request head over {MAX_HEAD} bytes")));
                    }
                }
                Err(e) => return Err(invalid(format!("malformed request head: {e}"))),
            }
        }
        if stream.read_buf(buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(invalid("connection closed inside the request head".into()))
            };
        }
    }
}

fn head(status: u16, headers: &[(String, String)], framing: &str, close: bool) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (k, v) in headers {
        let lk = k.to_ascii_lowercase();
        if matches!(
            lk.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(framing);
    if close {
        out.push_str("connection: close\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Waits `d`, to within a fraction of a millisecond.
///
/// tokio's timer rounds a sleep up to its next millisecond tick and its driver's wait up again:
/// measured here, a 100 ms sleep took 101–102 ms, which put 2 % on every delayed answer (the
/// benchmark's latency figure, a replay's timing). Delays go to one timer thread instead, which
/// waits on a condition variable (the kernel's high-resolution timers) and wakes the task.
pub async fn sleep_exact(d: Duration) {
    if d.is_zero() {
        return;
    }
    let deadline = std::time::Instant::now() + d;
    let (tx, rx) = tokio::sync::oneshot::channel();
    timer::add(deadline, tx);
    // The sender is dropped only after it fired (or with the process).
    let _ = rx.await;
}

mod timer {
    use std::collections::BinaryHeap;
    use std::sync::{Condvar, Mutex, OnceLock};
    use std::time::Instant;

    use tokio::sync::oneshot::Sender;

    struct Entry {
        at: Instant,
        seq: u64,
        wake: Sender<()>,
    }

    impl PartialEq for Entry {
        fn eq(&self, other: &Self) -> bool {
            (self.at, self.seq) == (other.at, other.seq)
        }
    }
    impl Eq for Entry {}
    impl PartialOrd for Entry {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Entry {
        // Reversed: the heap's top is the earliest deadline.
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            (other.at, other.seq).cmp(&(self.at, self.seq))
        }
    }

    #[derive(Default)]
    struct Timer {
        queue: Mutex<(BinaryHeap<Entry>, u64)>,
        changed: Condvar,
    }

    fn timer() -> &'static Timer {
        static T: OnceLock<&'static Timer> = OnceLock::new();
        T.get_or_init(|| {
            let t: &'static Timer = Box::leak(Box::default());
            std::thread::Builder::new()
                .name("llm-contract-timer".into())
                .spawn(move || run(t))
                .expect("spawn the timer thread");
            t
        })
    }

    pub fn add(at: Instant, wake: Sender<()>) {
        let t = timer();
        let mut q = t.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.1 += 1;
        let seq = q.1;
        let earliest = q.0.peek().is_none_or(|e| at < e.at);
        q.0.push(Entry { at, seq, wake });
        drop(q);
        if earliest {
            t.changed.notify_one();
        }
    }

    /// Fires each deadline as it passes; sleeps until the earliest one, or until a new one.
    fn run(t: &'static Timer) {
        let mut q = t.queue.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            while q.0.peek().is_some_and(|e| e.at <= now) {
                if let Some(e) = q.0.pop() {
                    let _ = e.wake.send(());
                }
            }
            q = match q.0.peek().map(|e| e.at - now) {
                Some(wait) => match t.changed.wait_timeout(q, wait) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                },
                None => t.changed.wait(q).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }
}

/// Makes the coming close send RST instead of FIN.
fn reset(stream: &mut TcpStream) {
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(Duration::ZERO));
}

/// Writes a reply; returns whether the connection may serve another request.
async fn write_reply(
    stream: &mut TcpStream,
    mut reply: Reply,
    close: bool,
    scale: f64,
) -> std::io::Result<bool> {
    while let Reply::After(delay, inner) = reply {
        if scale > 0.0 {
            sleep_exact(crate::util::time::scaled(delay, scale)).await;
        }
        reply = *inner;
    }
    match reply {
        Reply::After(..) => unreachable!("unwrapped above"),
        Reply::Reset => {
            reset(stream);
            Ok(false)
        }
        #[cfg(feature = "testkit")]
        Reply::Repeat {
            status,
            headers,
            prefix,
            frame,
            count,
            suffix,
        } => {
            stream
                .write_all(&head(
                    status,
                    &headers,
                    "transfer-encoding: chunked\r\n",
                    close,
                ))
                .await?;
            let per_batch = (64 * 1024 / frame.len().max(1)).max(1);
            let mut batch = Vec::with_capacity(per_batch * frame.len() + 16);
            let mut left = count;
            let write_chunk = |data: &[u8], out: &mut Vec<u8>| {
                out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            };
            let mut piece = Vec::new();
            write_chunk(&prefix, &mut piece);
            stream.write_all(&piece).await?;
            while left > 0 {
                let n = left.min(per_batch);
                batch.clear();
                for _ in 0..n {
                    batch.extend_from_slice(&frame);
                }
                piece.clear();
                write_chunk(&batch, &mut piece);
                stream.write_all(&piece).await?;
                left -= n;
            }
            piece.clear();
            write_chunk(&suffix, &mut piece);
            piece.extend_from_slice(b"0\r\n\r\n");
            stream.write_all(&piece).await?;
            stream.flush().await?;
            Ok(!close)
        }
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut out = head(
                status,
                &headers,
                &format!("content-length: {}\r\n", body.len()),
                close,
            );
            out.extend_from_slice(&body);
            stream.write_all(&out).await?;
            stream.flush().await?;
            Ok(!close)
        }
        Reply::Stream {
            status,
            headers,
            chunks,
            close: how,
        } => {
            stream
                .write_all(&head(
                    status,
                    &headers,
                    "transfer-encoding: chunked\r\n",
                    close,
                ))
                .await?;
            stream.flush().await?;
            for (delay, data) in chunks {
                if !delay.is_zero() && scale > 0.0 {
                    sleep_exact(crate::util::time::scaled(delay, scale)).await;
                }
                if data.is_empty() {
                    continue;
                }
                let mut piece = format!("{:x}\r\n", data.len()).into_bytes();
                piece.extend_from_slice(&data);
                piece.extend_from_slice(b"\r\n");
                stream.write_all(&piece).await?;
                stream.flush().await?;
            }
            match how {
                StreamClose::Clean => {
                    stream.write_all(b"0\r\n\r\n").await?;
                    stream.flush().await?;
                    Ok(!close)
                }
                StreamClose::Reset => {
                    reset(stream);
                    Ok(false)
                }
                StreamClose::Stall(d) => {
                    sleep_exact(crate::util::time::scaled(d, if scale > 0.0 { scale } else { 1.0 })).await;
                    reset(stream);
                    Ok(false)
                }
            }
        }
    }
}
