//! Issue 19, hardening: what a hostile or broken server, file or command line must not be able
//! to do to a run. Each test runs the real binary (or the library, where that is enough) against
//! a server on 127.0.0.1 or files in a temporary directory.

mod common;

use std::path::Path;
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
        Hostile::with(hostile)
    }

    /// A server on 127.0.0.1 answering every request with `handler`, without waiting.
    fn with(handler: impl Fn(Request) -> Reply + Send + Sync + 'static) -> Hostile {
        Hostile::paced(handler, 0.0)
    }

    /// The same, waiting each stream chunk's delay times `scale`.
    fn paced(handler: impl Fn(Request) -> Reply + Send + Sync + 'static, scale: f64) -> Hostile {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = rt
            .block_on(Server::start(Arc::new(handler), scale))
            .unwrap();
        Hostile { server, _rt: rt }
    }
}

/// `run --live` of the cases `case` selects against `base` (the generic target, key
/// `LLMC_TEST_KEY`), with `extra` arguments: the exit code, stdout and stderr, and report.json.
fn live(
    base: &str,
    case: &str,
    extra: &[&str],
) -> (Option<i32>, String, String, serde_json::Value) {
    let reports = tempfile::tempdir().unwrap();
    let mut args = vec!["--case", case];
    args.extend_from_slice(extra);
    let out = common::live_run(
        base,
        "LLMC_TEST_KEY",
        "test-key-hostile-0001",
        &args,
        reports.path(),
        &root(),
    );
    let (stdout, stderr) = text(&out);
    let report = serde_json::from_str(
        &std::fs::read_to_string(reports.path().join("latest/report.json")).unwrap_or_default(),
    )
    .unwrap_or(serde_json::Value::Null);
    (out.status.code(), stdout, stderr, report)
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
        let out = common::live_run(
            &base,
            "LLMC_TEST_KEY",
            "test-key-hostile-0001",
            &["--case", case, "--retries", "0"],
            reports.path(),
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

/// Runs the binary, killing it if it has not finished within `secs`.
fn bounded(args: &[&str], cwd: &Path, secs: u64) -> (Option<i32>, String, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_llm-contract"))
        .args(args)
        .current_dir(cwd)
        .env_remove("CI")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(secs) {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{args:?} still running after {secs} s; stdout: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    (out.status.code(), stdout, stderr)
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

#[test]
fn loaders_read_only_regular_files_of_bounded_size() {
    use std::os::unix::fs::symlink;
    let dir = common::suite_copy();
    let contracts = dir.path().join("contracts");
    // Two symbolic links that make a directory loop; a case linked to /dev/zero; a FIFO; an
    // oversized case; a loop of two file links.
    std::fs::create_dir(contracts.join("a")).unwrap();
    std::fs::create_dir(contracts.join("b")).unwrap();
    symlink("../b", contracts.join("a/to_b")).unwrap();
    symlink("../a", contracts.join("b/to_a")).unwrap();
    symlink("/dev/zero", contracts.join("chat_completions/zero.yaml")).unwrap();
    mkfifo(&contracts.join("chat_completions/fifo.yaml"));
    std::fs::write(
        contracts.join("chat_completions/huge.yaml"),
        "#".repeat(5 * 1024 * 1024),
    )
    .unwrap();
    symlink("loop_y.yaml", contracts.join("loop_x.yaml")).unwrap();
    symlink("loop_x.yaml", contracts.join("loop_y.yaml")).unwrap();
    // A fixture that is a FIFO, and a target folder of fixtures that is a link.
    let fixtures = dir.path().join("fixtures");
    let some_target = std::fs::read_dir(&fixtures)
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .path();
    mkfifo(&some_target.join("fifo_case.json"));
    symlink(&some_target, fixtures.join("linked_target")).unwrap();

    let (code, stdout, stderr) = bounded(&["lint"], dir.path(), 60);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    // Each problem is printed as `error: <message>` and `  --> <file>` on the next line.
    let lines: Vec<&str> = stdout.lines().collect();
    let named = |file: &str, message: &str| {
        lines
            .windows(2)
            .any(|w| w[0].contains(message) && w[1].trim_end().ends_with(file))
    };
    for (file, message) in [
        ("a/to_b", "a symbolic link to a directory: not followed"),
        ("b/to_a", "a symbolic link to a directory: not followed"),
        (
            "zero.yaml",
            "cannot read file: not a regular file (a character device)",
        ),
        ("fifo.yaml", "cannot read file: not a regular file (a FIFO)"),
        (
            "huge.yaml",
            "cannot read file: 5242880 bytes, over the limit of 4194304 bytes",
        ),
        (
            "loop_x.yaml",
            "cannot read file: a symbolic link that leads nowhere or in a loop",
        ),
        (
            "fifo_case.json",
            "cannot read fixture: not a regular file (a FIFO)",
        ),
        (
            "linked_target",
            "a symbolic link to a directory: not followed",
        ),
    ] {
        assert!(
            named(file, message),
            "missing {file}: {message:?} in:\n{stdout}"
        );
    }

    // scan walks the same kind of tree and finishes, saying what it did not read.
    let (code, stdout, stderr) = bounded(
        &[
            "scan",
            contracts.to_str().unwrap(),
            fixtures.to_str().unwrap(),
        ],
        dir.path(),
        60,
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for expected in [
        "a/to_b: a symbolic link to a directory: not followed",
        "zero.yaml: not a regular file (a character device)",
        "fifo.yaml: not a regular file (a FIFO)",
        "loop_x.yaml: a symbolic link that leads nowhere or in a loop",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

/// Item 6: nesting is refused before serde_yaml sees it (100k nested flow mappings took 104 s
/// before an error), at the file, line and column where the limit was passed.
#[test]
fn deeply_nested_yaml_is_refused_quickly_at_its_place() {
    let dir = common::suite_copy();
    let cases = dir.path().join("contracts/chat_completions");
    let n = 100_000;
    let flow = format!(
        "id: deep_flow\ndescription: d\nauth: valid\nrequest:\n  body: {}1{}\nexpect:\n  status: 200\n  class: ok\n",
        "{a: ".repeat(n),
        "}".repeat(n)
    );
    std::fs::write(cases.join("deep_flow.yaml"), flow).unwrap();
    // Block sequences nested on one line, and a staircase of indentation.
    let dashes = format!(
        "id: deep_dash\ndescription: d\nauth: valid\nrequest:\n  body:\n    x: \n      {}1\nexpect:\n  status: 200\n  class: ok\n",
        "- ".repeat(n)
    );
    std::fs::write(cases.join("deep_dash.yaml"), dashes).unwrap();
    let mut stairs =
        String::from("id: deep_stairs\ndescription: d\nauth: valid\nrequest:\n  body:\n");
    for i in 0..200 {
        stairs.push_str(&format!("{}k{i}:\n", " ".repeat(4 + i)));
    }
    stairs.push_str(&format!(
        "{}v: 1\nexpect:\n  status: 200\n  class: ok\n",
        " ".repeat(204)
    ));
    std::fs::write(cases.join("deep_stairs.yaml"), stairs).unwrap();
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = bounded(&["lint"], dir.path(), 30);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    for at in [
        "deep_flow.yaml:5:",
        "deep_dash.yaml:7:",
        "deep_stairs.yaml:",
    ] {
        assert!(
            lines
                .windows(2)
                .any(|w| w[0].contains("nested deeper than 64 levels") && w[1].contains(at)),
            "missing {at} in:\n{stdout}"
        );
    }
}

/// A 200 stream of one good chat chunk, then `bad` as raw bytes, then `data: [DONE]`.
fn stream_with(bad: Bytes) -> Reply {
    let good = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"po\"},\"finish_reason\":null}]}\n\n";
    Reply::Stream {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks: [Bytes::from(good), bad, Bytes::from("data: [DONE]\n\n")]
            .into_iter()
            .map(|f| (Duration::ZERO, f))
            .collect(),
        close: StreamClose::Clean,
    }
}

/// Item 7: a stream frame with a byte that is not UTF-8, or one event over the size limit, is a
/// malformed stream (contract_drift, never retried), as a frame that is not JSON is; not a cut.
#[test]
fn a_frame_that_is_not_utf8_or_too_large_is_a_malformed_stream_not_a_cut() {
    let limit = llm_contract::exchange::transport::MAX_EVENT;
    let server = Hostile::with(move |req: Request| {
        if req.target.starts_with("/utf8/") {
            stream_with(Bytes::from_static(b"data: {\"x\": \"\xff\xfe\"}\n\n"))
        } else {
            let mut big = b"data: \"".to_vec();
            big.resize(limit + 64, b'a');
            big.extend_from_slice(b"\"\n\n");
            stream_with(Bytes::from(big))
        }
    });
    for (behaviour, says) in [
        ("utf8", "is not valid UTF-8"),
        ("huge", "larger than the 16777216-byte limit"),
    ] {
        let base = format!("{}/{behaviour}/v1", server.server.url());
        let (code, stdout, stderr, report) = live(&base, "::streaming", &["--retries", "2"]);
        assert_eq!(code, Some(1), "{behaviour}: {stdout}{stderr}");
        let case = common::case(&report, "openai_compatible::streaming");
        assert_eq!(case["class"], "contract_drift", "{behaviour}: {case:#}");
        assert_eq!(case["retries"], 0, "{behaviour}: {case:#}");
        assert_eq!(case["verdict"], "fail", "{behaviour}: {case:#}");
        assert!(stdout.contains(says), "{behaviour}: {stdout}");
        assert!(!stdout.contains("truncated"), "{behaviour}: {stdout}");
    }
}

/// Item 8: every numeric flag is checked by its parser: out of range, not finite or not a
/// number is exit 2 with the allowed range, before anything runs.
#[test]
fn numeric_flags_out_of_range_are_refused_with_the_range() {
    for (args, range) in [
        (&["run", "--time-scale", "inf"][..], "from 0 to 1000"),
        (&["run", "--time-scale", "NaN"], "from 0 to 1000"),
        (&["run", "--time-scale", "-1"], "from 0 to 1000"),
        (&["run", "--time-scale", "1000.5"], "from 0 to 1000"),
        (&["run", "--jobs", "0"], "from 1 to 1024"),
        (&["run", "--jobs", "2305843009213693952"], "from 1 to 1024"),
        (&["run", "--retries", "1000"], "from 0 to 100"),
        (&["run", "--max-requests", "0"], "from 1 to 1000000000"),
        (&["run", "--warn-fixture-age", "-5"], "from 0 to 36500"),
        (
            &["run", "--max-fixture-age", "9223372036854775807"],
            "from 0 to 36500",
        ),
        (&["record", "--jobs", "0"], "from 1 to 1024"),
        (&["record", "--time-scale", "nan"], "from 0 to 1000"),
        (&["record", "--retries", "-1"], "from 0 to 100"),
    ] {
        let (code, stdout, stderr) = bounded(args, &root(), 30);
        assert_eq!(code, Some(2), "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(range), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// Item 8: a retry's wait as it will be slept (scaled by `--time-scale`) must fit in the case's
/// deadline: with 1000, a 1 s Retry-After is 1000 s, and is not waited for.
#[test]
fn a_scaled_retry_wait_is_checked_against_the_deadline() {
    let server = Hostile::with(|_req: Request| Reply::Full {
        status: 503,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("retry-after".into(), "1".into()),
        ],
        body: Bytes::from_static(b"{\"error\":{\"message\":\"busy\",\"type\":\"server_error\"}}"),
    });
    let base = format!("{}/v1", server.server.url());
    let started = std::time::Instant::now();
    let reports = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_llm-contract"))
        .args([
            "run",
            "--live",
            "--base-url",
            &base,
            "--api-key-env",
            "LLMC_TEST_KEY",
            "--case",
            "happy_path",
            "--retries",
            "2",
            "--time-scale",
            "1000",
            "--reports",
            reports.path().to_str().unwrap(),
        ])
        .current_dir(root())
        .env("LLMC_TEST_KEY", "test-key-scale-0001")
        .env_remove("CI")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("--time-scale 1000 slept a 1 s Retry-After for 1000 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("past the case's remaining deadline"),
        "{stdout}"
    );
}

/// Item 9: names that become paths (targets; case ids already were) are held to a safe set:
/// a target named `..` passed lint, and `record` wrote its fixtures outside fixtures/.
#[test]
fn names_that_become_paths_are_refused_at_their_place() {
    let dir = common::suite_copy();
    let targets = dir.path().join("contracts/targets");
    let generic = std::fs::read_to_string(targets.join("openai_compatible.yaml")).unwrap();
    for (file, name) in [("...yaml", ".."), ("-x.yaml", "-x"), ("A b.yaml", "A b")] {
        std::fs::write(
            targets.join(file),
            generic
                .replace("name: openai_compatible", &format!("name: \"{name}\""))
                .replace("default: true", "default: false"),
        )
        .unwrap();
    }
    let long = "a".repeat(65);
    let cases = dir.path().join("contracts/chat_completions");
    let happy = std::fs::read_to_string(cases.join("happy_path.yaml")).unwrap();
    std::fs::write(
        cases.join(format!("{long}.yaml")),
        happy.replace("id: happy_path", &format!("id: {long}")),
    )
    .unwrap();
    let (code, stdout, stderr) = bounded(&["lint"], dir.path(), 60);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    for (at, says) in [
        ("targets/...yaml:3:1", "target name `..`"),
        ("-x.yaml:", "target name `-x`"),
        ("A b.yaml:", "target name `A b`"),
        (&format!("{long}.yaml:"), "case id"),
    ] {
        assert!(
            lines
                .windows(2)
                .any(|w| w[0].contains(says) && w[0].contains("[a-z0-9_") && w[1].contains(at)),
            "missing {at} {says} in:\n{stdout}"
        );
    }

    // record --target .. writes nothing anywhere (nothing loads).
    std::fs::remove_file(cases.join(format!("{long}.yaml"))).unwrap();
    let server = Hostile::start();
    let base = format!("{}/error/v1", server.server.url());
    let out = llm_contract(
        &[
            "record",
            "--target",
            "..",
            "--base-url",
            &base,
            "--api-key-env",
            "LLMC_TEST_KEY",
            "--case",
            "happy_path",
            "--time-scale",
            "0",
        ],
        &[("LLMC_TEST_KEY", "test-key-names-0001")],
        dir.path(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(!dir.path().join("happy_path.json").exists());
    assert!(!dir.path().join("happy_path.json.new").exists());
}

/// Item 10: a base URL's query (Azure's `?api-version=`) stays on every request, after the
/// path; credentials in a base URL (`user:pass@`) are refused, never sent in place of the key.
#[test]
fn a_base_url_keeps_its_query_after_the_path_and_may_not_carry_credentials() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<(String, Option<String>)>::new()));
    let log = seen.clone();
    let server = Hostile::with(move |req: Request| {
        log.lock().unwrap().push((
            req.target.clone(),
            req.header("authorization").map(str::to_string),
        ));
        common::openai_mock(req)
    });
    let base = format!("{}/conform/v1/?api-version=2024-10-21", server.server.url());
    let (code, stdout, stderr, _) = live(&base, "happy_path", &["--retries", "0"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        seen.lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>(),
        ["/conform/v1/chat/completions?api-version=2024-10-21"]
    );
    assert!(
        !stdout.contains("api-version"),
        "the query is aliased: {stdout}"
    );

    seen.lock().unwrap().clear();
    let with_user = format!(
        "http://someone:pa55word-in-url@{}/conform/v1",
        server.server.url().trim_start_matches("http://")
    );
    let (code, stdout, stderr, _) = live(&with_user, "happy_path", &["--retries", "0"]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("credentials"), "{stderr}");
    assert!(
        !stderr.contains("pa55word") && !stdout.contains("pa55word"),
        "{stderr}"
    );
    assert!(seen.lock().unwrap().is_empty(), "nothing is sent");
}

/// Item 11: `record` exits as `run` would for the cases it ran (1 on a failure, 3 on errors
/// only), not 0 when nothing it recorded passed.
#[test]
fn record_exits_as_run_does_when_cases_fail_or_error() {
    let server = Hostile::start();
    // A port nobody listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    for (base, expected) in [
        (format!("{}/error/v1", server.server.url()), 1),
        (format!("http://{closed}/v1"), 3),
    ] {
        let dir = common::suite_copy();
        let out = llm_contract(
            &[
                "record",
                "--base-url",
                &base,
                "--api-key-env",
                "LLMC_TEST_KEY",
                "--case",
                "happy_path",
                "--retries",
                "0",
                "--time-scale",
                "0",
            ],
            &[("LLMC_TEST_KEY", "test-key-record-0001")],
            dir.path(),
        );
        let (stdout, stderr) = text(&out);
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{base}: {stdout}{stderr}"
        );
        assert!(stdout.contains("1 cases)"), "a summary line: {stdout}");
    }
}

/// Item 12: a fixture's entries are capped while it is read (a million `responses` entries
/// took 1.55 GB in lint and run), with an error naming the file.
#[test]
fn fixture_entries_are_capped_while_read() {
    let dir = common::suite_copy();
    let target = dir.path().join("fixtures/cometapi");
    let pinned = std::fs::read_to_string(target.join("happy_path.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&pinned).unwrap();
    let mut many = String::from("[");
    let one = serde_json::to_string(&json!({"status": 200})).unwrap();
    for i in 0..1_000_000 {
        if i > 0 {
            many.push(',');
        }
        many.push_str(&one);
    }
    many.push(']');
    let mut doc = doc.as_object().unwrap().clone();
    doc.remove("response");
    doc.remove("responses");
    let head = serde_json::to_string(&doc).unwrap();
    let text = format!("{},\"responses\":{many}}}", &head[..head.len() - 1]);
    std::fs::write(target.join("happy_path.json"), text).unwrap();
    // A stream of a million tiny chunks, and one chunk repeated past any sensible count.
    let chunks = format!(
        "{{\"provenance\":{},\"request\":{},\"response\":{{\"status\":200,\"headers\":{{\"content-type\":\"text/event-stream\"}},\"chunks\":[{}]}}}}",
        doc["provenance"],
        doc["request"],
        vec!["{\"data\":\"\"}"; 1_000_000].join(",")
    );
    std::fs::write(target.join("streaming.json"), chunks).unwrap();
    let repeat = format!(
        "{{\"provenance\":{},\"request\":{},\"response\":{{\"status\":200,\"headers\":{{\"content-type\":\"text/event-stream\"}},\"chunks\":[{{\"data\":\"data: x\\n\\n\",\"repeat\":1000000000000}}]}}}}",
        doc["provenance"], doc["request"]
    );
    std::fs::write(target.join("streaming_with_usage.json"), repeat).unwrap();

    let (code, stdout, stderr) = bounded(&["lint"], dir.path(), 60);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    for (file, says) in [
        ("happy_path.json:", "more than 256 responses"),
        ("streaming.json:", "more than 100000 chunks"),
        ("streaming_with_usage.json", "more than 1000000 frames"),
    ] {
        assert!(
            lines
                .windows(2)
                .any(|w| w[0].contains(says) && w[1].contains(file)),
            "missing {file}: {says} in:\n{stdout}"
        );
    }
}

/// A 200 chat stream whose content deltas are `pieces`, then a stop and `[DONE]`.
fn chat_stream(pieces: &[&str]) -> Reply {
    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
        let c = json!({"id": "chatcmpl-split", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
        Bytes::from(format!("data: {c}\n\n"))
    };
    let mut frames = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        json!(null),
    )];
    frames.extend(
        pieces
            .iter()
            .map(|p| chunk(json!({"content": p}), json!(null))),
    );
    frames.push(chunk(json!({}), json!("stop")));
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    Reply::Stream {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks: frames.into_iter().map(|f| (Duration::ZERO, f)).collect(),
        close: StreamClose::Clean,
    }
}

/// Item 13: a key split across two stream deltas is found in the reassembled text, and the
/// fixture is not written: neither the known key nor a key-shaped secret is pinned in halves.
#[test]
fn a_key_split_across_stream_deltas_is_never_pinned() {
    const CANARY: &str = "canary-split-key-0123456789abcdef";
    let sk = format!("sk-{}", "splitsplitsplit0123456789");
    for pieces in [
        vec!["your key is ", &CANARY[..12], &CANARY[12..], " ok"],
        vec!["shape ", &sk[..7], &sk[7..]],
    ] {
        let pieces: Vec<String> = pieces.iter().map(|s| s.to_string()).collect();
        let server = Hostile::with(move |req: Request| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            if body["stream"] == true {
                chat_stream(&pieces.iter().map(String::as_str).collect::<Vec<_>>())
            } else {
                common::openai_mock(req)
            }
        });
        let dir = tempfile::tempdir().unwrap();
        common::copy_dir(&root().join("contracts"), &dir.path().join("contracts"));
        let base = format!("{}/conform/v1", server.server.url());
        let out = llm_contract(
            &[
                "record",
                "--base-url",
                &base,
                "--api-key-env",
                "LLMC_TEST_KEY",
                "--case",
                "streaming",
                "--retries",
                "0",
                "--time-scale",
                "0",
            ],
            &[("LLMC_TEST_KEY", CANARY)],
            dir.path(),
        );
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(stdout.contains("split across stream frames"), "{stdout}");
        assert!(
            !stdout.contains(CANARY) && !stdout.contains(&sk),
            "{stdout}"
        );
        let written = common::files(&dir.path().join("fixtures"));
        assert!(
            !written.iter().any(|f| f.ends_with("streaming.json")),
            "{written:?}"
        );
    }
}

/// A raw HTTP/1.1 server on 127.0.0.1 that answers every request with `head` and `body`
/// verbatim (a Content-Length that lies, say); the address.
fn raw_server(head: String, body: Vec<u8>) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (head, body) = (head.clone(), body.clone());
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut seen = Vec::new();
                let mut buf = [0u8; 65536];
                // The request's head, then its body by its Content-Length.
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let end = seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                let text = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                let len: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap_or(0));
                while seen.len() < end + len {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
                std::thread::sleep(Duration::from_millis(300));
            });
        }
    });
    addr
}

/// Item 14: a stream whose body runs past its own Content-Length (its `[DONE]` sent, but past
/// the declared length) is a malformed stream, said so; not a cut with "no terminal event".
#[test]
fn a_stream_past_its_content_length_is_malformed_not_cut() {
    let Reply::Stream { chunks, .. } = chat_stream(&["po", "ng"]) else {
        unreachable!()
    };
    let body: Vec<u8> = chunks.iter().flat_map(|(_, b)| b.to_vec()).collect();
    let declared = body.len() - 8; // inside `data: [DONE]`
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {declared}\r\n\r\n"
    );
    let addr = raw_server(head, body);
    let (code, stdout, stderr, report) = live(
        &format!("http://{addr}/v1"),
        "::streaming",
        &["--retries", "2"],
    );
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let case = common::case(&report, "openai_compatible::streaming");
    assert_eq!(case["class"], "contract_drift", "{case:#}");
    assert_eq!(case["retries"], 0, "{case:#}");
    assert!(
        stdout.contains(&format!("Content-Length of {declared} bytes")),
        "{stdout}"
    );
    assert!(!stdout.contains("truncated"), "{stdout}");
}

/// Item 14: a deadline passed mid-body names the limit, not the time that was left at the last
/// read ("total deadline of 492 ms").
#[test]
fn a_passed_total_deadline_names_the_limit() {
    let dir = common::suite_copy();
    common::edit(
        &dir.path().join("contracts/targets/openai_compatible.yaml"),
        "vars:\n",
        "timeouts:\n  total_ms: 600\n  idle_ms: 5000\nvars:\n",
    );
    let server = Hostile::paced(
        |_req: Request| {
            let Reply::Stream {
                status,
                headers,
                chunks,
                close,
            } = chat_stream(&["x"; 40])
            else {
                unreachable!()
            };
            Reply::Stream {
                status,
                headers,
                chunks: chunks
                    .into_iter()
                    .map(|(_, b)| (Duration::from_millis(70), b))
                    .collect(),
                close,
            }
        },
        1.0,
    );
    let reports = tempfile::tempdir().unwrap();
    let base = format!("{}/v1", server.server.url());
    let out = llm_contract(
        &[
            "run",
            "--live",
            "--base-url",
            &base,
            "--api-key-env",
            "LLMC_TEST_KEY",
            "--case",
            "openai_compatible::streaming",
            "--retries",
            "0",
            "--reports",
            reports.path().to_str().unwrap(),
        ],
        &[("LLMC_TEST_KEY", "test-key-deadline-01")],
        dir.path(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("the total deadline of 600 ms passed"),
        "{stdout}"
    );
}

/// Item 14: a fixture body nested deeper than serde_json reads is an error naming the file, not
/// a body replayed as `null` without a word.
#[test]
fn a_too_deep_fixture_body_is_refused_not_replayed_as_null() {
    let dir = common::suite_copy();
    let file = dir.path().join("fixtures/cometapi/happy_path.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let text = serde_json::to_string(&doc).unwrap();
    doc["response"]["body"] = json!("DEEP");
    let text = serde_json::to_string(&doc)
        .unwrap_or(text)
        .replace("\"DEEP\"", &deep);
    std::fs::write(&file, text).unwrap();
    let (code, stdout, stderr) = bounded(&["lint"], dir.path(), 60);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stdout
            .lines()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w[0].contains("nests deeper than 127 levels")
                && w[1].contains("happy_path.json")),
        "{stdout}"
    );
}

/// Item 15: `run | head -2` panicked with "Broken pipe" (exit 101). A closed standard output
/// stops the printing, not the run: its reports are written and its exit code is the run's.
#[test]
fn a_closed_stdout_ends_the_printing_quietly_not_the_run() {
    use std::io::Read;
    for (args, code) in [(&["run"][..], 0), (&["lint"][..], 0), (&["list"][..], 0)] {
        let reports = tempfile::tempdir().unwrap();
        let mut all: Vec<&str> = args.to_vec();
        if args[0] == "run" {
            all.extend([
                "--reports",
                reports.path().to_str().unwrap(),
                "--time-scale",
                "0",
            ]);
        }
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_llm-contract"))
            .args(&all)
            .current_dir(root())
            .env_remove("CI")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Read one line, then close the pipe, as `head -1` does.
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 1];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        if args[0] == "run" {
            common::report(reports.path());
        }
    }
}
