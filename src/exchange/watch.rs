//! Watching a case's exchanges. The runner shows every answer it gets to a [`Watch`]; recording
//! is one watcher (`baseline::record::Recorder`), and a plain run watches with `()`. The runner
//! itself knows nothing of recording.

use std::time::Duration;

use bytes::Bytes;

use crate::exchange::sse::SseEvent;
use crate::exchange::transport::{FrameSink, Received};

/// Which request an answer answered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Asked<'a> {
    /// The case's own request (one attempt of it).
    Case,
    /// A poll of the case's task: the poll's path, and the task id it names.
    Poll {
        path: &'a str,
        task_id: Option<&'a str>,
    },
    /// A step of the case after its request: its name, and its request as a fixture records it
    /// (captured values in their sanitized form, as the recorded answers hold them).
    Step {
        name: &'a str,
        request: Option<&'a crate::model::fixture::FixtureRequest>,
    },
}

/// Sees a case's answers as they come.
pub trait Watch: Send {
    /// Whether to keep each stream's raw pieces, with their arrival times, for [`Watch::answer`].
    fn wants_raw(&self) -> bool {
        false
    }

    /// An answer, with the stream's raw pieces when [`Watch::wants_raw`] asked for them.
    fn answer(
        &mut self,
        asked: Asked<'_>,
        received: &Received,
        raw: Option<Vec<(Duration, Bytes)>>,
    );
}

/// Watching nothing: a plain run.
impl Watch for () {
    fn answer(&mut self, _: Asked<'_>, _: &Received, _: Option<Vec<(Duration, Bytes)>>) {}
}

/// Most stream bytes kept for one watcher.
pub const MAX_RAW: usize = 32 * 1024 * 1024;

/// A frame sink that keeps a stream's raw pieces (up to [`MAX_RAW`] bytes) on their way to the
/// sink that checks them.
pub struct RawTap<'a, S: FrameSink> {
    inner: &'a mut S,
    pieces: Option<Vec<(Duration, Bytes)>>,
    bytes: usize,
}

impl<'a, S: FrameSink> RawTap<'a, S> {
    /// Keeps the pieces only when `keep`.
    pub fn new(inner: &'a mut S, keep: bool) -> Self {
        RawTap {
            inner,
            pieces: keep.then(Vec::new),
            bytes: 0,
        }
    }

    /// The pieces kept, when they were.
    pub fn into_pieces(self) -> Option<Vec<(Duration, Bytes)>> {
        self.pieces
    }
}

impl<S: FrameSink> FrameSink for RawTap<'_, S> {
    fn frame(&mut self, event: SseEvent, at: Duration) -> bool {
        self.inner.frame(event, at)
    }

    fn comment(&mut self, text: &str, at: Duration) {
        self.inner.comment(text, at);
    }

    fn raw(&mut self, piece: &Bytes, at: Duration) {
        if let Some(pieces) = &mut self.pieces {
            self.bytes += piece.len();
            if self.bytes <= MAX_RAW {
                pieces.push((at, piece.clone()));
            }
        }
        self.inner.raw(piece, at);
    }
}
