//! The levels on real answers: `tests/corpus/` holds responses recorded by public repositories'
//! test suites (bodies, stream frames, error envelopes; each file names its repository, path,
//! commit and licence; `tests/corpus/SOURCES.md`). Each is judged at the client level by the
//! same checks a run uses (a body's schema through `judge::levels`; a stream frame by frame
//! through `StreamCheck` and its family's grammar) and must come out as
//! `tests/corpus/expected.tsv` says: accepted, with exactly the named deviations listed there, or
//! rejected with the written reason why it really breaks clients. Then every accepted answer is
//! mutated (a required field removed, a type changed, `choices` emptied, the terminal event
//! removed) and each mutant must be rejected.
//!
//! vercel/ai's streams keep only each event's data payload (no `event:` lines, no comments, no
//! `[DONE]`): their framing is not judged (a chat stream there is not expected to end in
//! `[DONE]`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use llm_contract::contract::schema::SchemaRegistry;
use llm_contract::exchange::sse::{SseItem, SseParser};
use llm_contract::exchange::transport::{FrameSink, StreamRead, StreamStop};
use llm_contract::judge::family::grammar as family_grammar;
use llm_contract::judge::levels;
use llm_contract::judge::stream::StreamCheck;
use llm_contract::model::class::Class;
use llm_contract::model::family::{self, Family};
use llm_contract::model::observation::StreamEnd;
use llm_contract::model::plan::{Expect, Limits, StreamExpect};
use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schemas() -> SchemaRegistry {
    let s = SchemaRegistry::load(&root().join("contracts/schemas")).unwrap();
    s.compile_all().unwrap();
    s
}

/// One corpus file.
#[derive(Debug, Clone)]
struct Entry {
    /// `<provider>/<name>` (the path below tests/corpus without `.json`).
    name: String,
    provider: String,
    family: String,
    /// The body, or the stream's events (each its lines joined by `\n`).
    body: Option<Value>,
    frames: Vec<String>,
    /// vercel/ai keeps data payloads only: the stream's framing is not judged.
    payload_only: bool,
}

fn entries() -> Vec<Entry> {
    let dir = root().join("tests/corpus");
    let mut out = Vec::new();
    let mut providers: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    providers.sort();
    for p in providers {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|f| f.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for f in files {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let source = &doc["source"];
            for k in ["repo", "path", "commit", "licence", "provider"] {
                assert!(
                    source[k].as_str().is_some_and(|v| !v.is_empty()),
                    "{}: source.{k} is missing",
                    f.display()
                );
            }
            let name = format!(
                "{}/{}",
                p.file_name().unwrap().to_string_lossy(),
                f.file_stem().unwrap().to_string_lossy()
            );
            out.push(Entry {
                name,
                provider: source["provider"].as_str().unwrap().to_string(),
                family: doc["family"].as_str().unwrap().to_string(),
                body: doc.get("body").cloned(),
                frames: doc["frames"]
                    .as_array()
                    .map(|a| a.iter().map(|f| f.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default(),
                payload_only: source["repo"] == "vercel/ai",
            });
        }
    }
    out
}

/// What judging an answer at the client level came to.
#[derive(Debug, Clone, PartialEq)]
enum Judged {
    /// No failure; the deviations listed.
    Accepted(BTreeSet<&'static str>),
    /// A well-formed error frame inside the stream (an error answer, classified as such).
    ErrorFrame(BTreeSet<&'static str>),
    /// Failures (the first few, as text).
    Rejected(Vec<String>),
    /// The corpus has it, the harness has no schema for it (embeddings, model lists).
    NoSchema,
}

fn stream_family(family: &str) -> Option<&'static Family> {
    match family {
        "chat_completions_stream" => Some(&family::CHAT_COMPLETIONS),
        "messages_stream" => Some(&family::MESSAGES),
        "responses_stream" => Some(&family::RESPONSES),
        _ => None,
    }
}

fn body_schema(family: &str, body: &Value) -> Option<&'static str> {
    Some(match family {
        "chat_completions" => "chat_completion",
        "messages" => "messages_response",
        "responses" => "responses_response",
        "images" => "images_response",
        "error" if body.get("type").and_then(Value::as_str) == Some("error") => "anthropic_error",
        "error" => "error",
        _ => return None,
    })
}

fn expect() -> Expect {
    Expect {
        status: vec![200],
        class: Class::Ok,
        schema: None,
        error_code: None,
        finish_reason: None,
        stream: None,
        limits: Limits::default(),
        assert: Vec::new(),
        invariants: Vec::new(),
    }
}

/// vercel/ai's multi-step fixtures hold one stream per step, one after the other: split before
/// each `message_start` / `response.created` after the first, each part judged as the stream it
/// was.
fn steps(e: &Entry) -> Vec<Entry> {
    let start = match e.family.as_str() {
        "messages_stream" => "message_start",
        "responses_stream" => "response.created",
        _ => return vec![e.clone()],
    };
    let mut parts: Vec<Vec<String>> = vec![Vec::new()];
    for f in &e.frames {
        let begins =
            event_data(f).is_some_and(|d| d.get("type").and_then(Value::as_str) == Some(start));
        if begins && !parts.last().unwrap().is_empty() {
            parts.push(Vec::new());
        }
        parts.last_mut().unwrap().push(f.clone());
    }
    parts
        .into_iter()
        .map(|frames| Entry {
            frames,
            ..e.clone()
        })
        .collect()
}

fn judge(s: &SchemaRegistry, e: &Entry) -> Judged {
    if let Some(fam) = stream_family(&e.family) {
        let parts = if e.payload_only {
            steps(e)
        } else {
            vec![e.clone()]
        };
        let mut all = BTreeSet::new();
        let mut error_frame = false;
        for part in &parts {
            match judge_stream(s, fam, part) {
                Judged::Accepted(d) => all.extend(d),
                Judged::ErrorFrame(d) => {
                    error_frame = true;
                    all.extend(d);
                }
                other => return other,
            }
        }
        return if error_frame {
            Judged::ErrorFrame(all)
        } else {
            Judged::Accepted(all)
        };
    }
    let body = e.body.as_ref().expect("a body entry has a body");
    let Some(schema) = body_schema(&e.family, body) else {
        return Judged::NoSchema;
    };
    let mut failures = Vec::new();
    let mut deviations = Vec::new();
    levels::schema_check(s, schema, body, "", &mut failures, &mut deviations);
    if failures.is_empty() {
        Judged::Accepted(deviations.iter().map(|d| d.name).collect())
    } else {
        Judged::Rejected(failures.iter().take(3).map(ToString::to_string).collect())
    }
}

fn judge_stream(s: &SchemaRegistry, fam: &'static Family, e: &Entry) -> Judged {
    let mut check = StreamCheck::new(
        s,
        fam.chunk_schema,
        fam.response_schema,
        family_grammar(fam),
    );
    let mut text = String::new();
    for f in &e.frames {
        text.push_str(f);
        text.push_str("\n\n");
    }
    let mut parser = SseParser::new(16 << 20);
    let mut events = 0;
    let mut comments = 0;
    let mut stopped = false;
    parser
        .push(text.as_bytes(), &mut |item| match item {
            SseItem::Event(ev) => {
                events += 1;
                let go = check.frame(ev, Duration::from_millis(events as u64));
                stopped |= !go;
                go
            }
            SseItem::Comment(_) => {
                comments += 1;
                true
            }
        })
        .expect("the corpus parses as an event stream");
    let read = StreamRead {
        stop: if stopped {
            StreamStop::Stopped
        } else {
            StreamStop::Eof {
                partial: parser.has_partial(),
            }
        },
        events,
        bytes: text.len() as u64,
        comments,
        first_byte: Some(Duration::ZERO),
        event_reads: events,
    };
    // vercel/ai dropped `[DONE]` from its chat streams: their framing is not judged.
    let done = !(e.payload_only && fam.name == family::CHAT_COMPLETIONS.name);
    let stream_expect = StreamExpect {
        done,
        usage_chunk: false,
        chunk_schema: None,
        idle_ms: None,
        incremental: false,
    };
    let end = check.finish(&read, &stream_expect, &expect());
    let names = check.deviations.iter().map(|d| d.name).collect();
    match end {
        StreamEnd::ErrorFrame if check.error_frame.is_some() && !check.schema_failed => {
            Judged::ErrorFrame(names)
        }
        _ if check.failures.is_empty() => Judged::Accepted(names),
        _ => Judged::Rejected(
            check
                .failures
                .iter()
                .take(3)
                .map(ToString::to_string)
                .collect(),
        ),
    }
}

/// One row of tests/corpus/expected.tsv.
#[derive(Debug)]
struct Row {
    verdict: String,
    deviations: BTreeSet<String>,
    reason: String,
}

fn expected() -> BTreeMap<String, Row> {
    let path = root().join("tests/corpus/expected.tsv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut rows = BTreeMap::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 4, "expected.tsv:{}: four columns", n + 1);
        let row = Row {
            verdict: cols[1].to_string(),
            deviations: cols[2]
                .split(',')
                .filter(|s| !s.is_empty() && *s != "-")
                .map(str::to_string)
                .collect(),
            reason: cols[3].to_string(),
        };
        assert!(
            row.verdict == "accept" || !row.reason.is_empty(),
            "expected.tsv:{}: a {} needs its reason",
            n + 1,
            row.verdict
        );
        assert!(
            rows.insert(cols[0].to_string(), row).is_none(),
            "{} twice",
            cols[0]
        );
    }
    rows
}

fn row_of(name: &str, j: &Judged, reason: &str) -> String {
    let (verdict, devs) = match j {
        Judged::Accepted(d) => ("accept", d.iter().copied().collect::<Vec<_>>().join(",")),
        Judged::ErrorFrame(d) => (
            "error_frame",
            d.iter().copied().collect::<Vec<_>>().join(","),
        ),
        Judged::Rejected(_) => ("reject", String::new()),
        Judged::NoSchema => ("no_schema", String::new()),
    };
    let devs = if devs.is_empty() {
        "-".to_string()
    } else {
        devs
    };
    format!("{name}\t{verdict}\t{devs}\t{reason}\n")
}

#[test]
fn every_real_answer_is_accepted_at_the_client_level_or_has_a_written_reason() {
    let s = schemas();
    let all = entries();
    let want = expected();
    let mut actual = String::from("entry\tverdict\tdeviations\treason\n");
    let mut problems = Vec::new();
    let mut accepted = 0;
    let mut providers = BTreeSet::new();
    let mut per_name: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &all {
        let j = judge(&s, e);
        let row = want.get(&e.name);
        actual.push_str(&row_of(&e.name, &j, row.map_or("", |r| r.reason.as_str())));
        let (verdict, devs): (&str, BTreeSet<String>) = match &j {
            Judged::Accepted(d) => ("accept", d.iter().map(|s| s.to_string()).collect()),
            Judged::ErrorFrame(d) => ("error_frame", d.iter().map(|s| s.to_string()).collect()),
            Judged::Rejected(_) => ("reject", BTreeSet::new()),
            Judged::NoSchema => ("no_schema", BTreeSet::new()),
        };
        if matches!(j, Judged::Accepted(_) | Judged::ErrorFrame(_)) {
            accepted += 1;
            providers.insert(e.provider.clone());
            for d in &devs {
                *per_name.entry(levels_name(d)).or_default() += 1;
            }
        }
        match row {
            None => problems.push(format!("{}: no row in expected.tsv ({j:?})", e.name)),
            Some(r) if r.verdict != verdict || r.deviations != devs => problems.push(format!(
                "{}: expected {} {:?}, got {verdict} {devs:?} {j:?}",
                e.name, r.verdict, r.deviations
            )),
            Some(_) => {}
        }
    }
    for name in want.keys() {
        if !all.iter().any(|e| &e.name == name) {
            problems.push(format!("{name}: a row in expected.tsv but no such entry"));
        }
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-actual.tsv");
    std::fs::write(&out, &actual).unwrap();
    assert!(
        problems.is_empty(),
        "{} problem(s) (the judged table is in {}):\n{}",
        problems.len(),
        out.display(),
        problems.join("\n")
    );
    assert!(accepted >= 150, "only {accepted} accepted");
    assert!(
        providers.len() >= 10,
        "only {} providers: {providers:?}",
        providers.len()
    );
    println!(
        "{} entries, {accepted} accepted at the client level from {} providers; deviations (entries): {per_name:?}",
        all.len(),
        providers.len()
    );
}

/// The row name as a `'static` (every name the table gives is one of its rows').
fn levels_name(name: &str) -> &'static str {
    levels::DEVIATIONS
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.name)
        .unwrap_or_else(|| panic!("{name} is not a deviation row"))
}

// ---- Mutants ----------------------------------------------------------------------------------

/// Splits an event into its lines, the data's JSON, and puts it back.
fn event_data(frame: &str) -> Option<Value> {
    let data: Vec<&str> = frame
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect();
    serde_json::from_str(&data.join("\n")).ok()
}

fn with_data(frame: &str, v: &Value) -> String {
    let mut out: Vec<String> = frame
        .lines()
        .filter(|l| !l.starts_with("data:"))
        .map(str::to_string)
        .collect();
    out.push(format!("data: {v}"));
    out.join("\n")
}

/// A mutant: what was done, and the mutated entry.
type Mutant = (String, Entry);

/// One edit of a frame's data.
type Edit = Box<dyn Fn(&mut Value)>;

fn body_mutants(e: &Entry) -> Vec<Mutant> {
    let body = e.body.as_ref().unwrap();
    let mut out = Vec::new();
    let mut put = |what: String, f: &dyn Fn(&mut Value)| {
        let mut b = body.clone();
        f(&mut b);
        if &b != body {
            out.push((
                what,
                Entry {
                    body: Some(b),
                    ..e.clone()
                },
            ));
        }
    };
    let remove = |ptr: &'static str, key: &'static str| {
        move |b: &mut Value| {
            if let Some(Value::Object(m)) = b.pointer_mut(ptr) {
                m.remove(key);
            }
        }
    };
    let set = |ptr: &'static str, v: Value| {
        move |b: &mut Value| {
            if let Some(x) = b.pointer_mut(ptr) {
                *x = v.clone();
            }
        }
    };
    let required: &[(&str, &str)] = match e.family.as_str() {
        "chat_completions" => &[
            ("", "id"),
            ("", "object"),
            ("", "created"),
            ("", "model"),
            ("", "choices"),
            ("/choices/0", "message"),
            ("/choices/0", "finish_reason"),
            ("/choices/0", "index"),
            ("/choices/0/message", "role"),
        ],
        "messages" => &[
            ("", "id"),
            ("", "type"),
            ("", "role"),
            ("", "content"),
            ("", "model"),
            ("", "stop_reason"),
            ("", "usage"),
        ],
        "responses" => &[
            ("", "id"),
            ("", "object"),
            ("", "created_at"),
            ("", "status"),
            ("", "output"),
        ],
        "images" => &[("", "created"), ("", "data")],
        "error" => &[("", "error"), ("/error", "message")],
        _ => &[],
    };
    for (ptr, key) in required {
        put(format!("{ptr}/{key} removed"), &remove(ptr, key));
    }
    let retyped: &[(&str, Value)] = match e.family.as_str() {
        "chat_completions" => &[
            ("/choices", json!({})),
            ("/created", json!("yesterday")),
            ("/choices/0/message", json!("text")),
            ("/choices/0/index", json!("0")),
        ],
        "messages" => &[("/content", json!("text")), ("/usage", json!(1))],
        "responses" => &[("/output", json!({})), ("/status", json!(7))],
        "images" => &[("/data", json!("x"))],
        "error" => &[("/error/message", json!(1))],
        _ => &[],
    };
    for (ptr, v) in retyped {
        put(format!("{ptr} retyped"), &set(ptr, v.clone()));
    }
    if e.family == "chat_completions" {
        put("choices emptied".into(), &set("/choices", json!([])));
    }
    out
}

fn stream_mutants(e: &Entry) -> Vec<Mutant> {
    let mut out = Vec::new();
    let datas: Vec<Option<Value>> = e.frames.iter().map(|f| event_data(f)).collect();
    let mut frames_with = |what: String, frames: Vec<String>| {
        if frames != e.frames {
            out.push((
                what,
                Entry {
                    frames,
                    ..e.clone()
                },
            ));
        }
    };
    let ty = |d: &Option<Value>| {
        d.as_ref()
            .and_then(|v| v.get("type"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    match e.family.as_str() {
        "chat_completions_stream" => {
            // The terminal removed: cut before the first finish (and no [DONE]).
            let first_finish = datas.iter().position(|d| {
                d.as_ref()
                    .and_then(|v| v.get("choices"))
                    .and_then(Value::as_array)
                    .is_some_and(|cs| cs.iter().any(|c| c["finish_reason"].is_string()))
            });
            if let Some(i) = first_finish {
                frames_with("cut before the finish".into(), e.frames[..i].to_vec());
            }
            // A content frame: choices removed or retyped, its delta removed or retyped, its id removed.
            let content = datas.iter().position(|d| {
                d.as_ref()
                    .and_then(|v| v.get("choices"))
                    .and_then(Value::as_array)
                    .is_some_and(|cs| !cs.is_empty())
            });
            if let Some(i) = content {
                let d = datas[i].clone().unwrap();
                let edits: Vec<(&str, Edit)> = vec![
                    (
                        "choices removed",
                        Box::new(|v| {
                            v.as_object_mut().unwrap().remove("choices");
                        }),
                    ),
                    ("choices retyped", Box::new(|v| v["choices"] = json!({}))),
                    (
                        "delta removed",
                        Box::new(|v| {
                            v["choices"][0].as_object_mut().unwrap().remove("delta");
                        }),
                    ),
                    (
                        "delta retyped",
                        Box::new(|v| v["choices"][0]["delta"] = json!("text")),
                    ),
                    (
                        "id removed",
                        Box::new(|v| {
                            v.as_object_mut().unwrap().remove("id");
                        }),
                    ),
                ];
                for (what, f) in edits {
                    let mut v = d.clone();
                    f(&mut v);
                    let mut frames = e.frames.clone();
                    frames[i] = with_data(&e.frames[i], &v);
                    frames_with(format!("frame {i}: {what}"), frames);
                }
            }
        }
        "messages_stream" | "responses_stream" => {
            let terminal: &[&str] = if e.family == "messages_stream" {
                &["message_stop"]
            } else {
                &[
                    "response.completed",
                    "response.incomplete",
                    "response.failed",
                ]
            };
            let keep: Vec<String> = e
                .frames
                .iter()
                .zip(&datas)
                .filter(|(_, d)| !ty(d).is_some_and(|t| terminal.contains(&t.as_str())))
                .map(|(f, _)| f.clone())
                .collect();
            frames_with("terminal event removed".into(), keep);
            // The first frame of a kind the schema says much about: a required field removed.
            let pick: &[(&str, &str)] = if e.family == "messages_stream" {
                &[
                    ("message_start", "message"),
                    ("content_block_delta", "index"),
                    ("content_block_delta", "delta"),
                    ("content_block_start", "content_block"),
                ]
            } else {
                &[
                    ("response.created", "response"),
                    ("response.output_item.added", "item"),
                    ("response.output_text.delta", "delta"),
                    ("response.completed", "sequence_number"),
                ]
            };
            for (kind, key) in pick {
                if let Some(i) = datas.iter().position(|d| ty(d).as_deref() == Some(kind)) {
                    let mut v = datas[i].clone().unwrap();
                    v.as_object_mut().unwrap().remove(*key);
                    let mut frames = e.frames.clone();
                    frames[i] = with_data(&e.frames[i], &v);
                    frames_with(format!("frame {i} ({kind}): {key} removed"), frames);
                }
            }
        }
        _ => {}
    }
    out
}

#[test]
fn every_mutant_of_an_accepted_answer_is_rejected_at_the_client_level() {
    let s = schemas();
    let want = expected();
    let mut made = 0;
    let mut survivors = Vec::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for e in entries() {
        if want.get(&e.name).is_none_or(|r| r.verdict != "accept") {
            continue;
        }
        let mutants = if stream_family(&e.family).is_some() {
            stream_mutants(&e)
        } else {
            body_mutants(&e)
        };
        for (what, m) in mutants {
            made += 1;
            let kind = what.split(": ").last().unwrap_or(&what).to_string();
            *kinds.entry(kind).or_default() += 1;
            let j = judge(&s, &m);
            if !matches!(j, Judged::Rejected(_)) {
                survivors.push(format!("{} ({what}): {j:?}", e.name));
            }
        }
    }
    assert!(
        survivors.is_empty(),
        "{} of {made} mutants accepted:\n{}",
        survivors.len(),
        survivors.join("\n")
    );
    assert!(made >= 1000, "only {made} mutants");
    println!("{made} mutants, every one rejected at the client level: {kinds:?}");
}

#[test]
fn a_missing_done_after_every_finish_is_a_deviation_on_every_raw_chat_stream() {
    // Of the recordings that keep their framing, each chat stream that ends in `[DONE]` after
    // its finish keeps its verdict without it, and lists `missing_done_after_finish`.
    let s = schemas();
    let want = expected();
    let mut tried = 0;
    for e in entries() {
        let raw_chat = e.family == "chat_completions_stream" && !e.payload_only;
        let ends_done = e.frames.last().is_some_and(|f| f.trim() == "data: [DONE]");
        if !raw_chat || !ends_done || want.get(&e.name).is_none_or(|r| r.verdict != "accept") {
            continue;
        }
        let mut m = e.clone();
        m.frames.pop();
        match judge(&s, &m) {
            Judged::Accepted(d) => {
                assert!(d.contains("missing_done_after_finish"), "{}: {d:?}", e.name)
            }
            other => panic!("{}: {other:?}", e.name),
        }
        tried += 1;
    }
    assert!(tried >= 10, "only {tried} raw chat streams");
}
