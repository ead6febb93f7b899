//! Server-sent events, parsed as bytes arrive.
//!
//! The parser follows the WHATWG event-stream rules: lines end in CRLF, LF or CR (a CR at the end
//! of one read and an LF at the start of the next are one line end); `data:` lines of one event
//! are joined with `\n`; one space after the colon is dropped; lines starting with `:` are
//! comments (keep-alives); `event:`, `id:` and `retry:` are fields; a blank line dispatches the
//! event. It keeps only the current line and event in memory, never the stream, and refuses an
//! event larger than its limit instead of growing without bound.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// 0-based index among dispatched events.
    pub index: usize,
    /// The `event:` field, when one was sent.
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
    /// Byte offset in the stream where the event's first line started.
    pub offset: u64,
}

/// What the parser hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    Event(SseEvent),
    /// A comment line (`: ping`), without the colon.
    Comment(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("event {index} at byte {offset} is larger than the {limit}-byte limit")]
    TooLarge {
        index: usize,
        offset: u64,
        limit: usize,
    },
    #[error("event {index} at byte {offset} is not valid UTF-8")]
    NotUtf8 { index: usize, offset: u64 },
}

/// The UTF-8 byte-order mark a stream may start with.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// An incremental event-stream parser.
#[derive(Debug)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Start of the unprocessed part of `buf`.
    start: usize,
    /// Where the search for the next line end resumes.
    scan: usize,
    /// The last read ended in CR: an LF at the start of the next read belongs to it.
    pending_cr: bool,
    /// Stream offset of `buf[0]`.
    base: u64,
    limit: usize,
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
    event_offset: Option<u64>,
    dispatched: usize,
    first_bytes: bool,
    /// The stream's first bytes while they may still be a byte-order mark split over reads.
    bom: Vec<u8>,
}

impl SseParser {
    /// A parser that refuses any single event (or line) larger than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        SseParser {
            buf: Vec::new(),
            start: 0,
            scan: 0,
            pending_cr: false,
            base: 0,
            limit,
            event: None,
            data: String::new(),
            has_data: false,
            id: None,
            event_offset: None,
            dispatched: 0,
            first_bytes: true,
            bom: Vec::new(),
        }
    }

    /// Number of events dispatched so far.
    pub fn dispatched(&self) -> usize {
        self.dispatched
    }

    /// True when a partial line or event is buffered: the stream stopped mid-event.
    pub fn has_partial(&self) -> bool {
        self.start < self.buf.len() || self.has_data || self.event.is_some() || !self.bom.is_empty()
    }

    /// Feeds bytes; calls `out` for every complete item. `out` returns `false` to stop early.
    /// Returns `Ok(false)` when `out` asked to stop. However the bytes are split into reads, the
    /// items and the error are the same.
    pub fn push(
        &mut self,
        mut chunk: &[u8],
        out: &mut dyn FnMut(SseItem) -> bool,
    ) -> Result<bool, SseError> {
        // An empty read changes nothing (a CR pending from the last read stays pending).
        if chunk.is_empty() {
            return Ok(true);
        }
        if self.first_bytes {
            // A UTF-8 byte-order mark at the very start is ignored, even when it arrives over
            // several reads: until it is whole or ruled out, the first bytes wait.
            let mut head = std::mem::take(&mut self.bom);
            let take = (BOM.len() - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            if head.len() < BOM.len() && BOM.starts_with(&head) {
                self.bom = head;
                return Ok(true);
            }
            self.first_bytes = false;
            chunk = &chunk[take..];
            if head == BOM {
                self.base += BOM.len() as u64;
            } else if !self.feed(&head, out)? {
                return Ok(false);
            }
        }
        self.feed(chunk, out)
    }

    /// [`SseParser::push`] past the byte-order mark.
    fn feed(
        &mut self,
        mut chunk: &[u8],
        out: &mut dyn FnMut(SseItem) -> bool,
    ) -> Result<bool, SseError> {
        if chunk.is_empty() {
            return Ok(true);
        }
        if self.pending_cr && chunk.first() == Some(&b'\n') {
            chunk = &chunk[1..];
            self.base += 1;
        }
        self.pending_cr = false;
        self.buf.extend_from_slice(chunk);
        loop {
            let rel = memchr::memchr2(b'\n', b'\r', &self.buf[self.scan..]);
            let Some(rel) = rel else {
                self.scan = self.buf.len();
                if self.buf.len() - self.start > self.limit {
                    return Err(self.too_large());
                }
                break;
            };
            let end = self.scan + rel;
            let terminator_len = if self.buf[end] == b'\r' {
                if end + 1 < self.buf.len() {
                    if self.buf[end + 1] == b'\n' {
                        2
                    } else {
                        1
                    }
                } else {
                    // CR at the end of this read: the next read may start with its LF.
                    self.pending_cr = true;
                    1
                }
            } else {
                1
            };
            let line_start = self.start;
            let line_offset = self.base + line_start as u64;
            self.start = end + terminator_len;
            self.scan = self.start;
            let line = std::mem::take(&mut self.buf);
            let keep_going = self.line(&line[line_start..end], line_offset, out);
            self.buf = line;
            match keep_going {
                Ok(true) => {}
                Ok(false) => {
                    self.compact();
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        self.compact();
        Ok(true)
    }

    fn compact(&mut self) {
        if self.start == self.buf.len() {
            self.base += self.buf.len() as u64;
            self.buf.clear();
            self.start = 0;
            self.scan = 0;
        } else if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.base += self.start as u64;
            self.buf.drain(..self.start);
            self.scan -= self.start;
            self.start = 0;
        }
    }

    fn too_large(&self) -> SseError {
        self.too_large_at(self.base + self.start as u64)
    }

    /// The error for an event (or a line, starting at `line`) over the limit.
    fn too_large_at(&self, line: u64) -> SseError {
        SseError::TooLarge {
            index: self.dispatched,
            offset: self.event_offset.unwrap_or(line),
            limit: self.limit,
        }
    }

    fn line(
        &mut self,
        line: &[u8],
        offset: u64,
        out: &mut dyn FnMut(SseItem) -> bool,
    ) -> Result<bool, SseError> {
        if line.is_empty() {
            return Ok(self.dispatch(out));
        }
        // A line over the limit is refused as it is when it arrives in pieces (before its end
        // is seen), whatever its bytes.
        if line.len() > self.limit {
            return Err(self.too_large_at(offset));
        }
        let text = std::str::from_utf8(line).map_err(|_| SseError::NotUtf8 {
            index: self.dispatched,
            offset,
        })?;
        if let Some(comment) = text.strip_prefix(':') {
            return Ok(out(SseItem::Comment(comment.trim_start().to_string())));
        }
        self.event_offset.get_or_insert(offset);
        let (field, value) = match text.find(':') {
            Some(i) => {
                let v = &text[i + 1..];
                (&text[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (text, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
                if self.data.len() > self.limit {
                    return Err(self.too_large());
                }
            }
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            // `retry:` and unknown fields are ignored, as the standard says.
            _ => {}
        }
        Ok(true)
    }

    fn dispatch(&mut self, out: &mut dyn FnMut(SseItem) -> bool) -> bool {
        let offset = self.event_offset.take();
        if !self.has_data {
            // An event with no data is not dispatched; its `event:` name is dropped.
            self.event = None;
            return true;
        }
        let ev = SseEvent {
            index: self.dispatched,
            event: self.event.take(),
            data: std::mem::take(&mut self.data),
            id: self.id.clone(),
            offset: offset.unwrap_or(0),
        };
        self.has_data = false;
        self.dispatched += 1;
        out(SseItem::Event(ev))
    }
}

/// The byte ranges of a whole event stream's blocks, verbatim: each runs through the blank line
/// that ends it (CRLF, LF or CR line ends, as the parser reads them), and a last unterminated
/// block runs to the end. Unlike [`SseParser`], nothing is interpreted: a block of comments or a
/// blank line is a block too. Recording keeps a stream's framing and spacing with these.
pub fn blocks(all: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut line_empty = true;
    while i < all.len() {
        let b = all[i];
        if b == b'\n' || b == b'\r' {
            i += if b == b'\r' && all.get(i + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
            if line_empty {
                out.push(start..i);
                start = i;
            }
            line_empty = true;
        } else {
            line_empty = false;
            i += 1;
        }
    }
    if start < all.len() {
        out.push(start..all.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &[u8], piece: usize) -> Vec<SseItem> {
        let mut p = SseParser::new(1 << 20);
        let mut items = Vec::new();
        for chunk in input.chunks(piece) {
            p.push(chunk, &mut |i| {
                items.push(i);
                true
            })
            .unwrap();
        }
        items
    }

    fn events(items: &[SseItem]) -> Vec<(Option<String>, String)> {
        items
            .iter()
            .filter_map(|i| match i {
                SseItem::Event(e) => Some((e.event.clone(), e.data.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn lf_crlf_cr_and_any_split_give_the_same_events() {
        let base = "data: {\"a\":1}\n\n: ping\n\nevent: error\ndata: line1\ndata: line2\n\ndata:[DONE]\n\n";
        let want = vec![
            (None, "{\"a\":1}".to_string()),
            (Some("error".to_string()), "line1\nline2".to_string()),
            (None, "[DONE]".to_string()),
        ];
        for text in [
            base.to_string(),
            base.replace('\n', "\r\n"),
            base.replace('\n', "\r"),
        ] {
            for piece in [1, 2, 3, 7, 64, 4096] {
                let items = parse_in_pieces(text.as_bytes(), piece);
                assert_eq!(events(&items), want, "piece {piece} text {text:?}");
                assert!(items.contains(&SseItem::Comment("ping".into())));
            }
        }
    }

    #[test]
    fn offsets_and_partial_state() {
        let mut p = SseParser::new(1024);
        let mut got = Vec::new();
        p.push(b"data: a\n\ndata: b", &mut |i| {
            got.push(i);
            true
        })
        .unwrap();
        assert_eq!(got.len(), 1);
        assert!(p.has_partial());
        match &got[0] {
            SseItem::Event(e) => assert_eq!((e.index, e.offset), (0, 0)),
            _ => panic!("expected an event"),
        }
        p.push(b"\n\n", &mut |i| {
            got.push(i);
            true
        })
        .unwrap();
        match &got[1] {
            SseItem::Event(e) => assert_eq!((e.index, e.offset, e.data.as_str()), (1, 9, "b")),
            _ => panic!("expected an event"),
        }
        assert!(!p.has_partial());
    }

    #[test]
    fn oversized_event_is_refused() {
        let mut p = SseParser::new(16);
        let err = p
            .push(b"data: 0123456789abcdefghij\n\n", &mut |_| true)
            .unwrap_err();
        assert!(matches!(err, SseError::TooLarge { index: 0, .. }));
        let mut p = SseParser::new(16);
        let err = p.push(&[b'x'; 64], &mut |_| true).unwrap_err();
        assert!(matches!(err, SseError::TooLarge { .. }));
    }

    #[test]
    fn any_split_gives_the_same_items_and_error() {
        let parse = |pieces: &[&[u8]], limit: usize| {
            let mut p = SseParser::new(limit);
            let mut items = Vec::new();
            for piece in pieces {
                if let Err(e) = p.push(piece, &mut |i| {
                    items.push(i);
                    true
                }) {
                    return (items, Some(e));
                }
            }
            (items, None)
        };
        // A byte-order mark over two reads is still one; an empty read keeps a pending CR.
        let bom = b"\xef\xbb\xbfdata: a\r\n\r\n";
        let whole = parse(&[bom], 64);
        assert_eq!(events(&whole.0), [(None, "a".to_string())]);
        assert_eq!(parse(&[&bom[..1], &bom[1..2], &bom[2..]], 64), whole);
        assert_eq!(parse(&[&bom[..11], b"", &bom[11..]], 64), whole);
        // A line over the limit that is not UTF-8 either: the same error whole or in pieces.
        let bad = b"data: \xff\xff\xff\xff\xff\xff\xff\xff\xff\n\n";
        let whole = parse(&[bad], 8);
        assert!(matches!(whole.1, Some(SseError::TooLarge { .. })), "{whole:?}");
        assert_eq!(parse(&[&bad[..9], &bad[9..]], 8), whole);
    }

    #[test]
    fn stop_early() {
        let mut p = SseParser::new(1024);
        let mut n = 0;
        let cont = p
            .push(b"data: 1\n\ndata: 2\n\n", &mut |_| {
                n += 1;
                false
            })
            .unwrap();
        assert!(!cont);
        assert_eq!(n, 1);
    }

    #[test]
    fn blocks_keep_framing_verbatim() {
        let text = b"data: a\n\n: ping\r\n\r\ndata: b\r\rdata: c";
        let got: Vec<&[u8]> = blocks(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(
            got,
            [
                &b"data: a\n\n"[..],
                b": ping\r\n\r\n",
                b"data: b\r\r",
                b"data: c"
            ]
        );
        assert!(blocks(b"").is_empty());
    }
}
