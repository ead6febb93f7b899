//! Live mode, end to end: the real binary against an OpenAI-compatible server on 127.0.0.1 that
//! conforms or misbehaves; and the canary key that must never reach any output or file.

mod common;

use common::{case, llm_contract, report, text, Mock};

const KEY_ENV: &str = "LLMC_TEST_KEY";

fn live(
    mock: &Mock,
    behaviour: &str,
    extra: &[&str],
    key: &str,
) -> (std::process::Output, tempfile::TempDir) {
    live_at(&mock.base(behaviour), extra, key)
}

/// A live run of the repository's suite against `base`, reports in a temporary folder.
fn live_at(base: &str, extra: &[&str], key: &str) -> (std::process::Output, tempfile::TempDir) {
    let reports = tempfile::tempdir().unwrap();
    let mut args = vec![
        "run",
        "--live",
        "--base-url",
        base,
        "--api-key-env",
        KEY_ENV,
        "--model",
        "mock-model-1",
        "--reports",
        reports.path().to_str().unwrap(),
        "--time-scale",
        "0",
    ];
    args.extend_from_slice(extra);
    let out = llm_contract(&args, &[(KEY_ENV, key)], &common::root());
    (out, reports)
}

#[test]
fn a_conforming_server_passes_every_case() {
    let mock = Mock::start();
    let (out, reports) = live(&mock, "conform", &[], "test-key-conform-0001");
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let r = report(reports.path());
    let cases = r["cases"].as_array().unwrap();
    let n = common::generic_cases(&common::root());
    assert_eq!(cases.len(), n, "{r}");
    for c in cases {
        assert_eq!(c["verdict"], "pass", "{c}");
        assert!(c["id"].as_str().unwrap().starts_with("openai_compatible::"));
        assert!(c["latency_ms"].as_f64().unwrap() >= 0.0);
    }
    assert_eq!(
        case(&r, "openai_compatible::unknown_model")["class"],
        "configuration_drift"
    );
    assert_eq!(
        case(&r, "openai_compatible::missing_auth")["class"],
        "refresh_credentials"
    );
    assert_eq!(case(&r, "openai_compatible::streaming")["frames"], 5);
    // No recorded baseline for this target: drift is reported as not run, naming the command.
    let drift = &case(&r, "openai_compatible::happy_path")["drift"];
    assert_eq!(drift["state"], "not_run", "{drift}");
    assert!(drift["reason"]
        .as_str()
        .unwrap()
        .contains("llm-contract record --target openai_compatible --base-url [BASE_URL:openai_compatible] --api-key-env LLMC_TEST_KEY --model mock-model-1 --case happy_path"));
    assert!(
        stdout.contains(&format!("{n} passed, 0 failed")),
        "{stdout}"
    );
}

#[test]
fn a_wrong_status_fails_with_the_class_of_what_came_back() {
    let mock = Mock::start();
    let (out, reports) = live(
        &mock,
        "wrong-status",
        &["--case", "happy_path", "--retries", "0"],
        "test-key-0002",
    );
    assert_eq!(out.status.code(), Some(1));
    let r = report(reports.path());
    let c = case(&r, "openai_compatible::happy_path");
    assert_eq!(c["verdict"], "fail");
    assert_eq!(c["status"], 503);
    assert_eq!(c["class"], "retry");
    assert_eq!(c["retries"], 0);
    let failures = c["failures"].to_string();
    assert!(
        failures.contains("status: expected 200, got 503"),
        "{failures}"
    );
    assert!(
        failures.contains("class: expected ok, got retry"),
        "{failures}"
    );
}

#[test]
fn a_transient_failure_that_outlives_its_retries_is_fall_back() {
    let mock = Mock::start();
    let (out, reports) = live(
        &mock,
        "wrong-status",
        &["--case", "happy_path"],
        "test-key-0012",
    );
    assert_eq!(out.status.code(), Some(1));
    let c = case(&report(reports.path()), "openai_compatible::happy_path").clone();
    assert_eq!(c["class"], "fall_back", "{c}");
    assert_eq!(c["retries"], 2, "the default policy makes 3 attempts: {c}");
    assert_eq!(c["attempt_statuses"], serde_json::json!([503, 503, 503]));
    assert_eq!(c["retry_waits_ms"].as_array().unwrap().len(), 2);
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("still transient after 3 attempts"),
        "{c}"
    );
}

#[test]
fn a_missing_required_field_is_contract_drift_naming_the_pointer() {
    let mock = Mock::start();
    let (out, reports) = live(
        &mock,
        "missing-field",
        &["--case", "happy_path"],
        "test-key-0003",
    );
    assert_eq!(out.status.code(), Some(1));
    let r = report(reports.path());
    let c = case(&r, "openai_compatible::happy_path");
    assert_eq!(c["verdict"], "fail");
    assert_eq!(c["class"], "contract_drift");
    let failures = c["failures"].to_string();
    assert!(
        failures.contains("schema chat_completion: /: \\\"choices\\\" is a required property"),
        "{failures}"
    );
}

#[test]
fn an_html_page_is_configuration_drift_with_an_excerpt() {
    let mock = Mock::start();
    let (out, reports) = live(&mock, "html", &["--case", "happy_path"], "test-key-0004");
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    let c = case(&report(reports.path()), "openai_compatible::happy_path").clone();
    assert_eq!(c["class"], "configuration_drift");
    let failures = c["failures"].to_string();
    assert!(
        failures.contains("got an HTML page (text/html; charset=utf-8)"),
        "{failures}"
    );
    assert!(failures.contains("<title>Welcome</title>"), "{failures}");
    assert!(stdout.contains("configuration_drift"), "{stdout}");
}

#[test]
fn a_redirect_is_seen_not_followed() {
    let mock = Mock::start();
    let (out, reports) = live(
        &mock,
        "redirect",
        &["--case", "happy_path"],
        "test-key-0005",
    );
    assert_eq!(out.status.code(), Some(1));
    let c = case(&report(reports.path()), "openai_compatible::happy_path").clone();
    assert_eq!(c["status"], 301);
    assert_eq!(c["class"], "configuration_drift");
    assert!(c["failures"]
        .to_string()
        .contains("redirect: 301 to https://example.invalid/v1/chat/completions"));
}

#[test]
fn a_500_with_invalid_request_is_fix_request_not_retry() {
    let mock = Mock::start();
    let (out, reports) = live(
        &mock,
        "invalid-request-500",
        &["--case", "missing_messages"],
        "test-key-0006",
    );
    assert_eq!(out.status.code(), Some(1));
    let c = case(
        &report(reports.path()),
        "openai_compatible::missing_messages",
    )
    .clone();
    assert_eq!(c["status"], 500);
    assert_eq!(c["class"], "fix_request", "{c}");
    let failures = c["failures"].to_string();
    assert!(
        failures.contains("status: expected 400, got 500"),
        "{failures}"
    );
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("code=invalid_request"),
        "{c}"
    );
    // The request id inside the message never reaches the report.
    assert!(!c.to_string().contains("request id: 99"));
}

#[test]
fn the_cometapi_target_accepts_that_same_500_as_documented() {
    let mock = Mock::start();
    let (out, reports) = live(
        &mock,
        "invalid-request-500",
        &["--target", "cometapi", "--case", "missing_messages"],
        "test-key-0007",
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let c = case(&report(reports.path()), "cometapi::missing_messages").clone();
    assert_eq!(
        (c["verdict"].as_str(), c["class"].as_str()),
        (Some("pass"), Some("fix_request"))
    );
}

#[test]
fn a_stream_cut_mid_answer_fails_as_truncated() {
    let mock = Mock::start();
    let (out, reports) = live(
        &mock,
        "cut-stream",
        &["--case", "streaming", "--retries", "0"],
        "test-key-0008",
    );
    assert_eq!(out.status.code(), Some(1));
    let r = report(reports.path());
    let c = case(&r, "openai_compatible::streaming");
    assert_eq!(c["verdict"], "fail", "{c}");
    assert_eq!(c["class"], "retry", "{c}");
    let failures = c["failures"].to_string();
    assert!(
        failures.contains("after 2 frames and 2 characters of content"),
        "{failures}"
    );
}

#[test]
fn a_live_answer_is_diffed_against_a_recorded_baseline() {
    let mock = Mock::start();
    let fixtures = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(fixtures.path().join("openai_compatible")).unwrap();
    let body = serde_json::json!({
        "id": "chatcmpl-recorded", "object": "chat.completion", "created": 1_600_000_000, "model": "mock-model-1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "a different answer", "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
        "system_fingerprint": "fp_recorded"
    });
    let fixture = serde_json::json!({
        "provenance": {"kind": "recorded", "server": "llm-contract test mock", "version": "test", "date": "2026-11-21"},
        "request": {"method": "POST", "path": "/chat/completions", "authorization": "[API_KEY]"},
        "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": body}
    });
    std::fs::write(
        fixtures.path().join("openai_compatible/happy_path.json"),
        serde_json::to_string_pretty(&fixture).unwrap(),
    )
    .unwrap();
    let dir = fixtures.path().to_str().unwrap();
    // Same shape, other volatile values (ids, text, token counts): no drift.
    let (out, reports) = live(
        &mock,
        "conform",
        &["--case", "happy_path", "--fixtures", dir],
        "test-key-0010",
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(
        case(&report(reports.path()), "openai_compatible::happy_path")["drift"]["state"],
        "match"
    );
    // A new field: drift, shown as a unified diff of the canonical bodies.
    // A new field: labelled drift, reported and passing under the default policy...
    let (out, reports) = live(
        &mock,
        "extra-field",
        &["--case", "happy_path", "--fixtures", dir],
        "test-key-0011",
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let c = case(&report(reports.path()), "openai_compatible::happy_path").clone();
    assert_eq!(c["drift"]["state"], "changed", "{c}");
    assert_eq!(c["drift"]["labels"][0]["kind"], "field_added");
    assert_eq!(c["drift"]["labels"][0]["path"], "/body/service_tier");
    assert_eq!(c["drift"]["labels"][0]["fails"], false);
    assert!(
        stdout.contains("drift (reported, passes): field added /body/service_tier"),
        "{stdout}"
    );
    // ...and failing under --strict, shown as a unified diff of the canonical bodies.
    let (out, reports) = live(
        &mock,
        "extra-field",
        &["--case", "happy_path", "--fixtures", dir, "--strict"],
        "test-key-0011",
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let c = case(&report(reports.path()), "openai_compatible::happy_path").clone();
    assert_eq!(
        (c["drift"]["state"].as_str(), c["class"].as_str()),
        (Some("changed"), Some("contract_drift"))
    );
    assert!(
        stdout.contains("+    \"service_tier\": \"priority\","),
        "{stdout}"
    );
    assert!(
        stdout.contains("✗ field added /body/service_tier"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("chatcmpl-other-id"),
        "volatile values are masked: {stdout}"
    );
}

#[test]
fn nothing_listening_is_an_error_not_a_failure() {
    // Bind and drop a listener to get a loopback port that refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reports = tempfile::tempdir().unwrap();
    let base = format!("http://127.0.0.1:{port}/v1");
    let out = llm_contract(
        &[
            "run",
            "--live",
            "--base-url",
            &base,
            "--api-key-env",
            KEY_ENV,
            "--case",
            "happy_path",
            "--reports",
            reports.path().to_str().unwrap(),
        ],
        &[(KEY_ENV, "test-key-0009")],
        &common::root(),
    );
    assert_eq!(out.status.code(), Some(3), "{:?}", text(&out));
    let c = case(&report(reports.path()), "openai_compatible::happy_path").clone();
    // Connection refused is transient: retried, then fall back; nothing was judged.
    assert_eq!(
        (c["verdict"].as_str(), c["class"].as_str()),
        (Some("error"), Some("fall_back"))
    );
    assert_eq!(c["retries"], 2);
    assert!(c["status"].is_null());
}

#[test]
fn a_live_run_without_its_key_is_a_configuration_error() {
    let out = llm_contract(
        &["run", "--live", "--target", "cometapi"],
        &[],
        &common::root(),
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("COMETAPI_API_KEY is not set"), "{stderr}");
}

#[test]
fn a_canary_key_never_reaches_output_reports_or_fixtures() {
    // Made at run time so no literal key exists anywhere in the repository.
    let canary = format!(
        "lcc-canary-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let mock = Mock::start();
    let fixtures_before = {
        common::files(&common::root().join("fixtures"))
            .into_iter()
            .map(|p| (std::fs::read(&p).unwrap(), p))
            .collect::<Vec<_>>()
    };
    // The echo server puts the Authorization header into the error message, a JSON field and a
    // response header; a conforming server sees it on every request.
    for behaviour in ["echo", "conform", "html"] {
        let (out, reports) = live(&mock, behaviour, &[], &canary);
        let (stdout, stderr) = text(&out);
        assert!(
            !stdout.contains(&canary),
            "{behaviour}: canary in stdout:\n{stdout}"
        );
        assert!(
            !stderr.contains(&canary),
            "{behaviour}: canary in stderr:\n{stderr}"
        );
        let written = common::files(reports.path());
        assert!(!written.is_empty());
        for f in written {
            let content = std::fs::read_to_string(&f).unwrap();
            assert!(
                !content.contains(&canary),
                "{behaviour}: canary in {}",
                f.display()
            );
        }
        if behaviour == "echo" {
            // The echoed key was replaced by a placeholder, so the echo really was exercised.
            assert!(stdout.contains("[API_KEY]"), "{stdout}");
        }
    }
    for (content, path) in fixtures_before {
        assert_eq!(
            std::fs::read(&path).unwrap(),
            content,
            "{} changed",
            path.display()
        );
        assert!(!String::from_utf8_lossy(&content).contains(&canary));
    }
}

/// `--jobs N` is the number of requests out at once: a case holds its leave to send from before
/// its request until its answer is read, and judges it after giving the leave back. The server
/// answers each request `D` after it arrives, so no window shorter than `D` can see more than `N`
/// arrivals, however loaded the machine; and a case's time does not count its wait in the queue.
///
/// No bound here is a wall-clock window that load can push a correct run past: the arrivals
/// bound follows from the gate, the queue check compares each case's time with its own request's
/// time (both measured by the run, on the same machine, at the same moment), and the requests'
/// total is bounded by the run's duration measured around it.
#[test]
fn jobs_bounds_the_requests_out_at_once_not_the_cases_alive() {
    const D: std::time::Duration = std::time::Duration::from_millis(300);
    const JOBS: usize = 2;
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let seen = arrivals.clone();
    let handler = move |req: llm_contract::exchange::server::Request| {
        seen.lock().unwrap().push(std::time::Instant::now());
        llm_contract::exchange::server::Reply::After(D, Box::new(common::openai_mock(req)))
    };
    let server = rt
        .block_on(llm_contract::exchange::server::Server::start(
            std::sync::Arc::new(handler),
            1.0,
        ))
        .unwrap();
    let base = format!("{}/conform/v1", server.url());
    let jobs = JOBS.to_string();
    let began = std::time::Instant::now();
    let (out, reports) = live_at(
        &base,
        &["--jobs", &jobs, "--retries", "0"],
        "test-key-jobs-0001",
    );
    let wall_ms = began.elapsed().as_secs_f64() * 1e3;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let mut at = arrivals.lock().unwrap().clone();
    at.sort();
    let cases = common::generic_cases(&common::root());
    assert!(at.len() >= cases, "{} requests for {cases} cases", at.len());
    // At most JOBS: every request that arrived in a window shorter than D still held its leave at
    // the window's end (its answer left D after it arrived), whatever the load. At least JOBS: a
    // run that ignored --jobs and sent one at a time would space every arrival D apart; a loaded
    // machine would have to hold back one request of every pair sent together by more than D.
    let most = (0..at.len())
        .map(|i| at[i..].iter().take_while(|t| **t - at[i] < D).count())
        .max()
        .unwrap();
    assert_eq!(most, JOBS, "arrivals within {D:?} of each other");
    let d_ms = D.as_secs_f64() * 1e3;
    let r = report(reports.path());
    let cases = r["cases"].as_array().unwrap();
    for c in cases {
        // The case's time beyond its request's: building the request and judging the answer, a
        // few milliseconds. Counting the wait for a free job adds about D to it for every case
        // that queued (all but the first JOBS, with twice JOBS cases alive: each waits for an
        // answer the server holds for D). The request's own time, which is what a loaded machine
        // stretches (timers, the server's and the client's scheduling), is taken out, so D/2
        // separates the two however slow the round trips get.
        // A case with steps sends one request per step, each waiting for its own leave: its
        // time is theirs together, not its first request's.
        if c["steps"].as_array().is_some_and(|s| !s.is_empty()) {
            continue;
        }
        let case_ms = c["case_ms"].as_f64().unwrap();
        // A case with steps sends one request after another: its requests' time is their sum.
        let latency_ms = match c["steps"].as_array() {
            Some(steps) => steps
                .iter()
                .map(|s| s["latency_ms"].as_f64().unwrap())
                .sum(),
            None => c["latency_ms"].as_f64().unwrap(),
        };
        // The request's time is its round trip, measured from before it was sent: it covers the
        // D the server held it (a timer never fires early).
        assert!(
            latency_ms >= d_ms,
            "{}: {latency_ms} ms < {d_ms} ms",
            c["id"]
        );
        assert!(
            case_ms - latency_ms < d_ms / 2.0,
            "{}: {case_ms} ms for a {latency_ms} ms request, its wait for a free job counted",
            c["id"]
        );
    }
    // And the request's time does not hide the wait either: each request's time lies inside the
    // holding of a leave, and at most JOBS are held at once, so together they fit JOBS times in
    // the run (measured around the process, so load only loosens this). Had each request's time
    // counted its wait, every queued one would add about D and the sum overrun this by several D
    // (a correct run comes within its start-up of the bound: both leaves are busy throughout).
    let requests_ms: f64 = cases
        .iter()
        .map(|c| c["latency_ms"].as_f64().unwrap())
        .sum();
    assert!(
        requests_ms <= JOBS as f64 * wall_ms,
        "{requests_ms} ms of requests in a {wall_ms} ms run with {JOBS} out at once"
    );
}
