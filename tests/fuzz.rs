//! Property-based fuzzing of what reads outside input: the contract loader, the SSE parser, the
//! tape scanner, the fixture loader and the sanitizer. Each target is one test with a small
//! number of generated inputs, so `cargo test` stays quick; `LLM_CONTRACT_FUZZ_CASES=1000000`
//! runs that many per target (best with `--release`; docs/performance.md#fuzzing has the
//! figures of the long runs).
//!
//! The properties: nothing panics or hangs on any input; the SSE parser hands out the same
//! events however the bytes are split; the tape accepts exactly what serde_json accepts and
//! reads the same values; a fixture that loads can be replayed (no body is `null` by accident);
//! and no input makes a known key survive into a written fixture.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use llm_contract::baseline::record::{response_of, write_fixture, Written};
use llm_contract::baseline::sanitize::Sanitizer;
use llm_contract::context::Secret;
use llm_contract::contract::load::{parse_case, parse_target};
use llm_contract::exchange::sse::{SseItem, SseParser};
use llm_contract::exchange::transport::{Received, ReceivedBody, StreamRead, StreamStop};
use llm_contract::model::fixture::{Fixture, FixtureRequest, Provenance};
use llm_contract::util::tape::Tape;

/// Generated inputs per target: `LLM_CONTRACT_FUZZ_CASES`, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("LLM_CONTRACT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `test` on `cases` inputs from `strategy`; a failure is shrunk and reported with its input.
fn fuzz<S: Strategy>(
    name: &str,
    default: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let config = Config {
        cases: cases(default),
        failure_persistence: None,
        // Shrinking a long run's failure must not take longer than the run.
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let n = config.cases;
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name}: {e}");
    }
    eprintln!("{name}: {n} inputs in {:.1?}", started.elapsed());
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The text of every file below `dir` with this extension, sorted by path.
fn texts(dir: &Path, ext: &str) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push((p.clone(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Edits that keep most of a real file and break it somewhere: a token inserted, a range
/// removed or doubled, a byte replaced.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    Remove(usize, usize),
    Double(usize, usize),
    Byte(usize, u8),
}

fn edits(tokens: &'static [&'static str]) -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), prop::sample::select(tokens))
            .prop_map(|(at, t)| Edit::Insert(at, t.to_string())),
        (any::<usize>(), 0usize..64).prop_map(|(at, n)| Edit::Remove(at, n)),
        (any::<usize>(), 0usize..64).prop_map(|(at, n)| Edit::Double(at, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Byte(at, b)),
    ];
    prop::collection::vec(edit, 0..8)
}

/// `text` with `edits` applied, on char boundaries; a replaced byte that breaks UTF-8 is made
/// valid again (the loaders read UTF-8 text, and refuse other bytes before parsing).
fn apply(text: &str, edits: &[Edit]) -> String {
    let mut s = text.to_string();
    let at = |s: &str, i: usize| {
        let mut i = if s.is_empty() { 0 } else { i % (s.len() + 1) };
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    for e in edits {
        match e {
            Edit::Insert(i, t) => {
                let i = at(&s, *i);
                s.insert_str(i, t);
            }
            Edit::Remove(i, n) => {
                let i = at(&s, *i);
                let j = at(&s, i + n);
                if j >= i {
                    s.replace_range(i..j, "");
                }
            }
            Edit::Double(i, n) => {
                let i = at(&s, *i);
                let j = at(&s, i + n);
                if j >= i {
                    let piece = s[i..j].to_string();
                    s.insert_str(j, &piece);
                }
            }
            Edit::Byte(i, b) => {
                let i = at(&s, *i);
                let mut bytes = s.into_bytes();
                if i < bytes.len() {
                    bytes[i] = *b;
                }
                s = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
    }
    s
}

const YAML_TOKENS: &[&str] = &[
    "\n",
    " ",
    "  ",
    "- ",
    ": ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "#",
    "|",
    ">",
    "&a ",
    "*a",
    "!!str ",
    "? ",
    "---\n",
    "...\n",
    "\t",
    "${model}",
    "${",
    "\\",
    "\u{0}",
    "é",
    "status: ",
    "stream: true",
    "id: ",
    "\r\n",
    "~",
    "1e400",
    "-0",
    "0x1F",
    ".inf",
];

/// Nesting generated straight: flow and block collections, up to a few hundred levels.
fn nested_yaml() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(&["{a: ", "[", "- ", "\n  ", "? ", "'", "\"", "|\n"][..]),
        0..400,
    )
    .prop_map(|parts| format!("id: x\ndescription: {}\n", parts.concat()))
}

/// The contract loader: a case or target, real files edited at random or nesting generated,
/// is parsed or refused with an error; never a panic, never a long wait.
#[test]
fn fuzz_contract_loader() {
    let files: Vec<(PathBuf, String)> = texts(&root().join("contracts"), "yaml")
        .into_iter()
        .chain(texts(&root().join("tests/faults/contracts"), "yaml"))
        .collect();
    assert!(files.len() > 20);
    let n = files.len();
    let input = prop_oneof![
        3 => (0..n, edits(YAML_TOKENS)).prop_map(move |(i, e)| (i, Some(e), None)),
        1 => (0..n, nested_yaml()).prop_map(|(i, y)| (i, None, Some(y))),
    ];
    fuzz("contract loader", 1024, input, |(i, edits, generated)| {
        let (path, text) = &files[i];
        let text = match (edits, generated) {
            (Some(e), _) => apply(text, &e),
            (None, Some(y)) => y,
            (None, None) => text.clone(),
        };
        let started = std::time::Instant::now();
        let _ = if path.starts_with(root().join("contracts/targets"))
            || path.starts_with(root().join("tests/faults/contracts/targets"))
        {
            parse_target(path, &text).map(|_| ())
        } else {
            parse_case(path, &text).map(|_| ())
        };
        prop_assert!(
            started.elapsed() < Duration::from_secs(2),
            "slow: {:?}",
            started.elapsed()
        );
        Ok(())
    });
}

/// Pieces of an event stream, hostile ones among them.
const SSE_TOKENS: &[&[u8]] = &[
    b"data: ",
    b"data:",
    b"event: ",
    b"id: ",
    b"retry: 5",
    b": ping",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"{\"a\":1}",
    b"[DONE]",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc3",
    b"\xa9",
    b"\0",
    b"x",
    b" ",
];

/// Bytes that look like an event stream, with hostile pieces among them.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::sample::select(SSE_TOKENS).prop_map(<[u8]>::to_vec),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(piece, 0..64).prop_map(|p| p.concat())
}

/// What a parser makes of `bytes` pushed in the given pieces: its items, then how it ended.
fn parse_sse(bytes: &[u8], cuts: &[usize], limit: usize) -> (Vec<SseItem>, Result<bool, String>) {
    let mut p = SseParser::new(limit);
    let mut items = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    points.dedup();
    for w in points.windows(2) {
        let r = p.push(&bytes[w[0]..w[1]], &mut |i| {
            items.push(i);
            true
        });
        if let Err(e) = r {
            return (items, Err(e.to_string()));
        }
    }
    (items, Ok(p.has_partial()))
}

/// The SSE parser: any bytes, split anywhere, give the same events, comments and error as the
/// whole; no event is over the limit; offsets only grow.
#[test]
fn fuzz_sse_parser() {
    let input = (
        stream_bytes(),
        prop::collection::vec(any::<usize>(), 0..12),
        prop::sample::select(&[8usize, 64, 1 << 20][..]),
    );
    fuzz("sse parser", 2048, input, |(bytes, cuts, limit)| {
        let whole = parse_sse(&bytes, &[], limit);
        let split = parse_sse(&bytes, &cuts, limit);
        prop_assert_eq!(&whole, &split);
        let mut last = 0;
        for item in &whole.0 {
            if let SseItem::Event(e) = item {
                prop_assert!(e.data.len() <= limit, "{} > {limit}", e.data.len());
                prop_assert!(e.offset >= last && e.offset <= bytes.len() as u64);
                last = e.offset;
            }
        }
        Ok(())
    });
}

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\"a\"",
    "\"\\u00e9\"",
    "\"\\ud83d\\ude00\"",
    "\"\\ud800\"",
    "\"\\\"\"",
    "\"\\n\"",
    "1",
    "-0.5e3",
    "1e400",
    "-",
    "0",
    "01",
    "1.",
    "true",
    "null",
    "fals",
    "\"",
    "\\",
    "\u{0}",
    "é",
    "\t",
    "\n",
    "123456789012345678901234567890",
    "\"k\":",
    "{\"a\":1,\"a\":2}",
];

fn json_like() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(JSON_TOKENS), 0..48).prop_map(|t| t.concat()),
        (0usize..300, prop::sample::select(&["[", "{\"a\":"][..])).prop_map(|(n, open)| {
            let close = if open == "[" { "]" } else { "}" };
            format!("{}1{}", open.repeat(n), close.repeat(n))
        }),
    ]
}

/// The tape scanner: it accepts exactly what serde_json accepts, and reads the same value.
#[test]
fn fuzz_tape_scanner() {
    let frames: Vec<String> = texts(&root().join("fixtures"), "json")
        .into_iter()
        .flat_map(|(_, t)| {
            let doc: Value = serde_json::from_str(&t).unwrap();
            let mut out = Vec::new();
            let responses = match doc.get("responses") {
                Some(Value::Array(a)) => a.clone(),
                _ => doc.get("response").cloned().into_iter().collect(),
            };
            for r in responses {
                for c in r["chunks"].as_array().into_iter().flatten() {
                    for line in c["data"].as_str().unwrap_or("").lines() {
                        if let Some(d) = line.strip_prefix("data: ") {
                            out.push(d.to_string());
                        }
                    }
                }
            }
            out
        })
        .collect();
    assert!(!frames.is_empty());
    let n = frames.len();
    let input = prop_oneof![
        1 => json_like(),
        2 => (0..n, edits(JSON_TOKENS)).prop_map(move |(i, e)| apply(&frames[i], &e)),
    ];
    let mut tape = Tape::default();
    let tape = std::cell::RefCell::new(&mut tape);
    fuzz("tape scanner", 4096, input, |text| {
        let mut tape = tape.borrow_mut();
        let ours = tape.parse(&text);
        let theirs = serde_json::from_str::<Value>(&text);
        prop_assert_eq!(
            ours.is_ok(),
            theirs.is_ok(),
            "{:?}: {:?} / {:?}",
            text,
            ours,
            theirs
        );
        if let Ok(v) = theirs {
            if !tape.has_duplicate_keys() {
                prop_assert_eq!(tape.root().to_value(), v);
            }
        }
        Ok(())
    });
}

/// The fixture loader: a real fixture edited at random loads or is refused with an error; one
/// that loads can be replayed (each body makes the tree its text says, none `null` by accident).
#[test]
fn fuzz_fixture_loader() {
    let files: Vec<(PathBuf, String)> = texts(&root().join("fixtures"), "json")
        .into_iter()
        .chain(texts(&root().join("tests/faults/fixtures"), "json"))
        .collect();
    let n = files.len();
    let input = (0..n, edits(JSON_TOKENS));
    fuzz("fixture loader", 2048, input, |(i, e)| {
        let (path, text) = &files[i];
        let text = apply(text, &e);
        if let Ok(f) = Fixture::parse(path, &text) {
            for (k, r) in f.responses.iter().enumerate() {
                prop_assert!(std::ptr::eq(f.nth(k), r));
                prop_assert!(r.wire().len() <= 1_000_000);
                for body in r
                    .body
                    .iter()
                    .chain(r.request.iter().flat_map(|q| q.body.iter()))
                {
                    let tree: Value = serde_json::from_str(body.text()).unwrap();
                    prop_assert_eq!(body.value(), tree);
                }
            }
            let _ = f.last();
            let _ = serde_json::to_string_pretty(&f).unwrap();
        }
        Ok(())
    });
}

/// Where the key (or a piece of it) goes in a generated answer.
#[derive(Debug, Clone)]
enum Place {
    /// In one content delta, whole.
    Whole,
    /// Split over content deltas at these points (in characters of the key).
    Split(Vec<usize>),
    /// In a response header.
    Header,
    /// In a JSON error body's message, and in a field name.
    Body,
    /// In a comment line and an `event:` line of the stream.
    Comment,
    /// Escaped as JSON (`\u0041…`) inside a frame.
    Escaped,
}

fn key_and_places() -> impl Strategy<Value = (String, Vec<Place>, Vec<usize>)> {
    let key = "[A-Za-z0-9_\\-]{8,40}".prop_map(|k| format!("k{k}"));
    let place = prop_oneof![
        Just(Place::Whole),
        prop::collection::vec(any::<usize>(), 1..4).prop_map(Place::Split),
        Just(Place::Header),
        Just(Place::Body),
        Just(Place::Comment),
        Just(Place::Escaped),
    ];
    (
        key,
        prop::collection::vec(place, 1..4),
        prop::collection::vec(any::<usize>(), 0..6),
    )
}

fn chunk_frame(content: &str) -> String {
    let c = json!({"id": "chatcmpl-f", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]});
    format!("data: {c}\n\n")
}

/// The sanitizer: whatever the answer does with the key (whole, split over deltas, in headers,
/// bodies, comments, escaped), the fixture `record` would write never holds it: the write is
/// refused, or the written file has it nowhere, not even in the stream's reassembled text.
#[test]
fn fuzz_sanitizer_never_writes_a_known_key() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::cell::Cell::new(0usize);
    fuzz(
        "sanitizer",
        1024,
        key_and_places(),
        |(key, places, cuts)| {
            let secret = Secret::new(&key);
            let mut sanitizer = Sanitizer::new();
            sanitizer.add_secret(&secret);
            let mut frames = vec![chunk_frame("")];
            let mut headers = vec![("content-type".to_string(), "text/event-stream".to_string())];
            for place in &places {
                match place {
                    Place::Whole => frames.push(chunk_frame(&format!("here {key} there"))),
                    Place::Split(points) => {
                        let chars: Vec<char> = key.chars().collect();
                        let mut at: Vec<usize> = points.iter().map(|p| p % chars.len()).collect();
                        at.push(0);
                        at.push(chars.len());
                        at.sort_unstable();
                        at.dedup();
                        for w in at.windows(2) {
                            frames.push(chunk_frame(&chars[w[0]..w[1]].iter().collect::<String>()));
                        }
                    }
                    Place::Header => headers.push(("x-echo".into(), format!("key={key}"))),
                    Place::Body => {
                        let mut doc = json!({"error": {"message": format!("bad key {key}")}});
                        doc[key.as_str()] = json!(1);
                        frames.push(format!("data: {doc}\n\n"));
                    }
                    Place::Comment => frames.push(format!(": {key}\nevent: {key}\ndata: {{}}\n\n")),
                    Place::Escaped => {
                        let escaped: String = key
                            .chars()
                            .map(|c| format!("\\u{:04x}", c as u32))
                            .collect();
                        frames.push(format!(
                        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{escaped}\"}}}}]}}\n\n"
                    ));
                    }
                }
            }
            frames.push("data: [DONE]\n\n".into());
            // The wire pieces: the frames' bytes cut at generated points.
            let all: Vec<u8> = frames.concat().into_bytes();
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (all.len() + 1)).collect();
            points.extend([0, all.len()]);
            points.sort_unstable();
            points.dedup();
            let raw: Vec<(Duration, Bytes)> = points
                .windows(2)
                .map(|w| {
                    (
                        Duration::from_millis(1),
                        Bytes::copy_from_slice(&all[w[0]..w[1]]),
                    )
                })
                .collect();
            let received = Received {
                status: 200,
                headers,
                body: ReceivedBody::Stream(StreamRead {
                    stop: StreamStop::Eof { partial: false },
                    events: frames.len(),
                    bytes: all.len() as u64,
                    comments: 0,
                    first_byte: Some(Duration::ZERO),
                    event_reads: raw.len(),
                }),
                ttfb: Duration::ZERO,
                total: Duration::from_millis(5),
            };
            let response = response_of(&received, Some(&raw), &sanitizer, &[]);
            let fixture = Fixture {
                provenance: Provenance::Constructed {
                    basis: vec!["fuzz".into()],
                    date: "2026-01-01".into(),
                    note: "generated".into(),
                },
                request: FixtureRequest {
                    method: "POST".into(),
                    path: "/chat/completions".into(),
                    authorization: Some("[API_KEY]".into()),
                    body: None,
                    raw_body: None,
                },
                responses: vec![response],
            };
            counter.set(counter.get() + 1);
            let path = dir.path().join(format!("case_{}.json", counter.get()));
            // One input in 16 is written to disk (each write is synced: most of the run's time);
            // the others go the same way with CI set, which scans, then withholds the text it would
            // write (serde_json's pretty text of the fixture, as the written one).
            let ci = counter.get() % 16 != 0;
            let written =
                write_fixture(&path, &fixture, None, false, ci, &[secret], Duration::ZERO)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let text = match &written {
                Written::Refused { .. } => return Ok(()),
                Written::Created(p) => std::fs::read_to_string(p).unwrap(),
                Written::Withheld { change: false, .. } => {
                    serde_json::to_string_pretty(&fixture).unwrap() + "\n"
                }
                other => return Err(TestCaseError::fail(format!("unexpected {other:?}"))),
            };
            let _ = std::fs::remove_file(&path);
            prop_assert!(!text.contains(&key), "the key is in the fixture:\n{text}");
            // Every delta's content joined: the key is not in the stream's text either.
            let doc = Fixture::parse(&path, &text).unwrap();
            let mut content = String::new();
            for c in doc.last().chunks.iter().flatten() {
                for line in c.data.lines() {
                    let frame = line
                        .strip_prefix("data:")
                        .and_then(|d| serde_json::from_str::<Value>(d.trim_start()).ok());
                    if let Some(s) = frame
                        .as_ref()
                        .and_then(|v| v.pointer("/choices/0/delta/content"))
                        .and_then(Value::as_str)
                    {
                        content.push_str(s);
                    }
                }
            }
            prop_assert!(
                !content.contains(&key),
                "the key is in the reassembled content"
            );
            Ok(())
        },
    );
}
