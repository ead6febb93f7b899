//! Issue 19, hardening: what a hostile or broken server, file or command line must not be able
//! to do to a run. Each test runs the real binary (or the library, where that is enough) against
//! a server on 127.0.0.1 or files in a temporary directory.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use serde_json::json;

use common::{llm_contract, root, text};
use llm_contract::exchange::server::{Reply, Request, Server, StreamClose};

/// Text a server might send to forge lines in a log: a fake verdict line, GitHub workflow
/// commands, a carriage return, terminal escapes, a NUL, a right-to-left override and a
/// character XML forbids.
const HOSTILE: &str = "bad request\n::add-mask::s3cr3t\nPASS  openai_compatible::forged  200  ok\r::error title=forged::forged\u{1b}[2J\u{1b}[31mred\u{0}nul\u{202e}rtl\u{fffe}end";

/// A server whose every answer carries [`HOSTILE`]: `/error/...` a 400 JSON error with it as
/// the message, code and type; `/html/...` a 200 HTML page made of it; `/stream/...` a stream
/// with it in a frame that is not JSON.
fn hostile(req: Request) -> Reply {
    if req.target.starts_with("/stream/") {
        let frame = format!("data: {}\n\n", HOSTILE.replace(['\n', '\r'], " "));
        return Reply::Stream {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            chunks: [frame.as_str(), "data: [DONE]\n\n"]
                .into_iter()
                .map(|f| (Duration::ZERO, Bytes::from(f.to_string())))
                .collect(),
            close: StreamClose::Clean,
        };
    }
    if req.target.starts_with("/html/") {
        return Reply::text(
            200,
            "text/html",
            format!("<html>\n{HOSTILE}\n</html>").into_bytes(),
        );
    }
    Reply::json(
        400,
        &json!({"error": {"message": HOSTILE, "type": HOSTILE, "code": HOSTILE, "param": null}}),
    )
}

struct Hostile {
    server: Server,
    _rt: tokio::runtime::Runtime,
}

impl Hostile {
    fn start() -> Hostile {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(Server::start(Arc::new(hostile), 0.0)).unwrap();
        Hostile { server, _rt: rt }
    }
}

/// The lines of `text` a log reader would take for something the harness did not write.
fn forged_lines(text: &str) -> Vec<String> {
    text.split(['\n', '\r'])
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("::") || t.starts_with("PASS  openai_compatible::forged")
        })
        .map(str::to_string)
        .collect()
}

fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| {
            (c.is_control() && *c != '\n' && *c != '\t')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{fffe}' | '\u{ffff}')
        })
        .collect()
}

#[test]
fn server_text_cannot_forge_lines_or_reach_the_terminal_raw() {
    let server = Hostile::start();
    for (behaviour, case) in [
        ("error", "happy_path"),
        ("html", "happy_path"),
        ("stream", "::streaming"),
    ] {
        let reports = tempfile::tempdir().unwrap();
        let base = format!("{}/{behaviour}/v1", server.server.url());
        let out = llm_contract(
            &[
                "run",
                "--live",
                "--base-url",
                &base,
                "--api-key-env",
                "LLMC_TEST_KEY",
                "--case",
                case,
                "--retries",
                "0",
                "--reports",
                reports.path().to_str().unwrap(),
                "--time-scale",
                "0",
            ],
            &[("LLMC_TEST_KEY", "test-key-hostile-0001")],
            &root(),
        );
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stdout.contains("::add-mask::"),
            "the text is shown, escaped: {stdout}"
        );
        let latest = reports.path().join("latest");
        let outputs = [
            ("stdout", stdout.clone()),
            ("stderr", stderr),
            (
                "summary.md",
                std::fs::read_to_string(latest.join("summary.md")).unwrap(),
            ),
            (
                "junit.xml",
                std::fs::read_to_string(latest.join("junit.xml")).unwrap(),
            ),
            (
                "index.html",
                std::fs::read_to_string(latest.join("index.html")).unwrap(),
            ),
        ];
        for (name, text) in &outputs {
            assert_eq!(
                forged_lines(text),
                Vec::<String>::new(),
                "{behaviour}: {name} has lines the server wrote:\n{text}"
            );
            assert_eq!(
                raw_controls(text),
                Vec::<char>::new(),
                "{behaviour}: {name} has raw control characters:\n{text}"
            );
        }
        // report.json stays valid JSON; JUnit stays readable XML.
        common::report(reports.path());
        let xml = std::fs::read_to_string(latest.join("junit.xml")).unwrap();
        quick_junit::Report::deserialize_from_str(&xml).expect("junit.xml parses");
    }
}
