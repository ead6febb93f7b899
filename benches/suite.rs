//! The end-to-end benchmark: `cargo bench --bench suite` (or `scripts/bench.sh`).
//!
//! Everything a user pays is inside each figure: every measurement starts the `llm-contract`
//! release binary as a fresh process (start-up, suite loading, the run, the reports written at
//! the end) and times it from spawn to exit; its peak memory is the child's own (`wait4`'s
//! `ru_maxrss`). The server is this benchmark's own loopback server on 127.0.0.1
//! ([`llm_contract::exchange::server`], answers precomputed), started and stopped here.
//!
//! Figures, each beside its baseline:
//! - 1,000 full-checked cases (schema, classification, drift against a recorded fixture,
//!   per-frame stream checks, reports) at latency 0, against a bare reqwest loop sending the same
//!   1,000 requests with no checks (a child process of this benchmark, same concurrency);
//! - the same with 100 ms server latency and 64 cases in flight, against ceil(1000/64) × 100 ms;
//! - one stream of 10,000 and one of 1,000,000 frames, every frame checked, against a process
//!   that only reads the bytes;
//! - the recorded endpoint replaying the repository's suite and the 1,000-case suite;
//! - process start to the first request the server sees.
//!
//! Hurl's and the Python checker's figures are the issue's, quoted as targets (not measured here).
//!
//! Options (after `--`): `--runs N` (repeats per figure, median shown; default 3), `--quick`
//! (one run, 200,000-frame stream instead of 1,000,000), `--guard` (the CI regression guard:
//! quick, and exits 1 on a gross regression only: memory growing with the stream's size, or a
//! ratio to the baseline far beyond the measured one; never a wall-clock threshold).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Value};

use llm_contract::exchange::server::{Reply, Request, Server};
use llm_contract::model::plan::INVALID_TOKEN;

const CASES: usize = 1000;
const MODEL: &str = "bench-model";
const KEY_VAR: &str = "LLM_CONTRACT_BENCH_KEY";
const TARGET: &str = "openai_compatible";

// ---------------------------------------------------------------------------------------------
// The server

/// Precomputed answers: the server spends its time on HTTP, not on building bodies.
struct Canned {
    completion: Bytes,
    stream: Bytes,
    stream_usage: Bytes,
    no_key: Bytes,
    bad_key: Bytes,
    bad_role: Bytes,
    no_model: Bytes,
    role_frame: Bytes,
    token_frame: Bytes,
    tail: Bytes,
}

fn chunk(delta: Value, finish: Value) -> String {
    let c = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": MODEL, "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
    format!("data: {c}\n\n")
}

fn error_body(message: &str, kind: &str, code: Option<&str>) -> Bytes {
    Bytes::from(
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
            .to_string(),
    )
}

impl Canned {
    fn new() -> Canned {
        let completion = json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1_700_000_000, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong", "refusal": null},
                "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
            "system_fingerprint": "fp_bench"
        });
        let role = chunk(json!({"role": "assistant", "content": ""}), Value::Null);
        let fin = chunk(json!({}), json!("stop"));
        let small = [
            role.clone(),
            chunk(json!({"content": "po"}), Value::Null),
            chunk(json!({"content": "ng"}), Value::Null),
            fin.clone(),
        ]
        .concat();
        let usage = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": MODEL, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}});
        Canned {
            completion: Bytes::from(completion.to_string()),
            stream: Bytes::from(format!("{small}data: [DONE]\n\n")),
            stream_usage: Bytes::from(format!("{small}data: {usage}\n\ndata: [DONE]\n\n")),
            no_key: error_body(
                "You didn't provide an API key.",
                "invalid_request_error",
                None,
            ),
            bad_key: error_body(
                "Incorrect API key provided.",
                "invalid_request_error",
                Some("invalid_api_key"),
            ),
            bad_role: error_body(
                "Invalid value for 'messages[0].role'.",
                "invalid_request_error",
                None,
            ),
            no_model: error_body(
                "The model `llm-contract-no-such-model` does not exist.",
                "invalid_request_error",
                Some("model_not_found"),
            ),
            role_frame: Bytes::from(role),
            token_frame: Bytes::from(chunk(json!({"content": "token "}), Value::Null)),
            tail: Bytes::from(format!("{fin}data: [DONE]\n\n")),
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn full(status: u16, content_type: &str, body: &Bytes) -> Reply {
    Reply::Full {
        status,
        headers: vec![("content-type".into(), content_type.into())],
        body: body.clone(),
    }
}

/// Answers `/l<ms>/f<frames>/v1/chat/completions`: `l` delays every answer, `f` makes a stream
/// request get `f` content frames (between a role frame and a finish frame) instead of two.
fn answer(c: &Canned, req: &Request) -> Reply {
    let mut latency = 0u64;
    let mut frames = None;
    for seg in req.target.trim_start_matches('/').split('/') {
        if let Some(v) = seg.strip_prefix('l').and_then(|v| v.parse().ok()) {
            latency = v;
        } else if let Some(v) = seg.strip_prefix('f').and_then(|v| v.parse().ok()) {
            frames = Some(v);
        } else {
            break;
        }
    }
    let json = "application/json";
    let body = &req.body[..];
    let reply = match req.header("authorization") {
        None => full(401, json, &c.no_key),
        Some(a) if a.ends_with(INVALID_TOKEN) => full(401, json, &c.bad_key),
        Some(_) if contains(body, b"\"role\":\"wizard\"") => full(400, json, &c.bad_role),
        Some(_) if contains(body, b"no-such-model") => full(404, json, &c.no_model),
        Some(_) if contains(body, b"\"stream\":true") => match frames {
            Some(count) => Reply::Repeat {
                status: 200,
                headers: vec![("content-type".into(), "text/event-stream".into())],
                prefix: c.role_frame.clone(),
                frame: c.token_frame.clone(),
                count,
                suffix: c.tail.clone(),
            },
            None if contains(body, b"\"include_usage\":true") => {
                full(200, "text/event-stream", &c.stream_usage)
            }
            None => full(200, "text/event-stream", &c.stream),
        },
        Some(_) => full(200, json, &c.completion),
    };
    if latency > 0 {
        Reply::After(Duration::from_millis(latency), Box::new(reply))
    } else {
        reply
    }
}

/// The benchmark's server on its own runtime, and when it first saw a request.
struct BenchServer {
    server: Option<Server>,
    rt: tokio::runtime::Runtime,
    first: Arc<Mutex<Option<Instant>>>,
    requests: Arc<AtomicUsize>,
}

impl BenchServer {
    fn start() -> BenchServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let first = Arc::new(Mutex::new(None));
        let requests = Arc::new(AtomicUsize::new(0));
        let canned = Canned::new();
        let (f, n) = (first.clone(), requests.clone());
        let server = rt
            .block_on(Server::start(
                Arc::new(move |req: Request| {
                    if n.fetch_add(1, Ordering::Relaxed) == 0 {
                        *f.lock().unwrap() = Some(Instant::now());
                    }
                    answer(&canned, &req)
                }),
                1.0,
            ))
            .unwrap();
        BenchServer {
            server: Some(server),
            rt,
            first,
            requests,
        }
    }

    fn base(&self, latency_ms: u64, frames: Option<usize>) -> String {
        let url = self.server.as_ref().unwrap().url();
        match frames {
            Some(f) => format!("{url}/l{latency_ms}/f{f}/v1"),
            None => format!("{url}/l{latency_ms}/v1"),
        }
    }

    /// Forgets the first request, before the next measurement.
    fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        *self.first.lock().unwrap() = None;
    }

    fn first_request(&self) -> Option<Instant> {
        *self.first.lock().unwrap()
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        let _guard = self.rt.enter();
        drop(self.server.take());
    }
}

// ---------------------------------------------------------------------------------------------
// The generated suites

struct Template {
    kind: &'static str,
    auth: &'static str,
    body: Value,
    expect: Value,
}

/// One case of each kind, in the proportions of the 1,000-case suite (per ten cases: four
/// completions, three streams, three error answers).
fn templates() -> Vec<Template> {
    let msgs = json!([{"role": "system", "content": "Reply with one word."}, {"role": "user", "content": "Say pong."}]);
    let ok = json!({"status": 200, "class": "ok", "schema": "chat_completion", "finish_reason": ["stop", "length"]});
    let stream_ok = json!({"status": 200, "class": "ok", "finish_reason": ["stop", "length"], "stream": {"done": true}});
    let err =
        |status: u16, class: &str| json!({"status": status, "class": class, "schema": "error"});
    let chat = json!({"model": "${model}", "messages": msgs, "max_tokens": 16, "temperature": 0});
    let mut stream = chat.clone();
    stream["stream"] = json!(true);
    let mut usage = stream.clone();
    usage["stream_options"] = json!({"include_usage": true});
    let mut usage_ok = stream_ok.clone();
    usage_ok["stream"]["usage_chunk"] = json!(true);
    let mut bad_role = chat.clone();
    bad_role["messages"] = json!([{"role": "wizard", "content": "Say pong."}]);
    let mut no_model = chat.clone();
    no_model["model"] = json!("llm-contract-no-such-model");
    let t = |kind, auth, body: &Value, expect: &Value| Template {
        kind,
        auth,
        body: body.clone(),
        expect: expect.clone(),
    };
    vec![
        t("completion", "valid", &chat, &ok),
        t("stream", "valid", &stream, &stream_ok),
        t(
            "missing_auth",
            "missing",
            &chat,
            &err(401, "refresh_credentials"),
        ),
        t("completion", "valid", &chat, &ok),
        t("stream_usage", "valid", &usage, &usage_ok),
        t("invalid_role", "valid", &bad_role, &err(400, "fix_request")),
        t("completion", "valid", &chat, &ok),
        t("stream", "valid", &stream, &stream_ok),
        t(
            "unknown_model",
            "valid",
            &no_model,
            &err(404, "configuration_drift"),
        ),
        t("completion", "valid", &chat, &ok),
    ]
}

/// Case `i` of the suite: its id, auth mode and request body (`${model}` left in place).
fn case(i: usize, all: &[Template]) -> (String, &'static str, Value, &Value) {
    let t = &all[i % all.len()];
    let mut body = t.body.clone();
    // Each case asks something of its own, as a real suite's cases do.
    if let Some(m) = body["messages"].as_array_mut().and_then(|m| m.last_mut()) {
        m["content"] = json!(format!("{} ({i})", m["content"].as_str().unwrap_or("")));
    }
    (format!("{}_{i:04}", t.kind), t.auth, body, &t.expect)
}

/// Writes a suite of `n` cases (contracts/, the repository's schemas, an empty fixtures/) into
/// `dir`; with `only`, every case is of that template kind.
fn write_suite(dir: &Path, n: usize, only: Option<&str>) {
    let all: Vec<Template> = templates()
        .into_iter()
        .filter(|t| only.is_none_or(|k| t.kind == k))
        .collect();
    let cases = dir.join("contracts/chat_completions");
    std::fs::create_dir_all(&cases).unwrap();
    std::fs::create_dir_all(dir.join("contracts/targets")).unwrap();
    std::fs::create_dir_all(dir.join("fixtures")).unwrap();
    copy_dir(
        &repo().join("contracts/schemas"),
        &dir.join("contracts/schemas"),
    );
    std::fs::write(
        dir.join("contracts/targets/openai_compatible.yaml"),
        format!(
            "name: {TARGET}\ndescription: The benchmark's loopback server\n\
             base_url: http://127.0.0.1:9/v1\napi_key_env: {KEY_VAR}\ndialect: openai\n\
             vars:\n  model: {MODEL}\n"
        ),
    )
    .unwrap();
    for i in 0..n {
        let (id, auth, body, expect) = case(i, &all);
        let doc = json!({
            "id": id,
            "description": format!("generated benchmark case {i}"),
            "auth": auth,
            "request": {"body": body},
            "expect": expect,
        });
        std::fs::write(
            cases.join(format!("{id}.yaml")),
            serde_yaml::to_string(&doc).unwrap(),
        )
        .unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// Child processes

/// The llm-contract binary cargo built for this benchmark (the release profile).
fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_llm-contract"))
}

fn key() -> String {
    // Not key-shaped: the bench server accepts any key but the invalid one.
    ["bench", "key", "0000"].join("-")
}

#[derive(Debug, Clone, Copy)]
struct Measured {
    secs: f64,
    peak_kib: u64,
    /// Spawn to the first request the server saw.
    first_request: Option<f64>,
    code: i32,
}

/// Runs a command to its end; wall time from spawn to exit, the child's own peak memory.
fn measure(cmd: &mut Command, server: Option<&BenchServer>, log: &Path) -> Measured {
    if let Some(s) = server {
        s.reset();
    }
    let out = std::fs::File::create(log).unwrap();
    cmd.stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null());
    let start = Instant::now();
    // Reaped by wait4 below, which also reports its peak memory.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("the child starts");
    let mut status = 0i32;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: waits for our own child (never waited elsewhere), with valid out-pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(r, pid, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Measured {
        secs,
        peak_kib: usage.ru_maxrss as u64,
        first_request: server
            .and_then(BenchServer::first_request)
            .map(|t| t.duration_since(start).as_secs_f64()),
        code,
    }
}

fn llm_contract(args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env(KEY_VAR, key())
        .env_remove("CI")
        .env("NO_COLOR", "1");
    cmd
}

fn suite_args(dir: &Path) -> Vec<String> {
    let s = |p: PathBuf| p.display().to_string();
    vec![
        "--contracts".into(),
        s(dir.join("contracts")),
        "--fixtures".into(),
        s(dir.join("fixtures")),
        "--reports".into(),
        s(dir.join("reports")),
    ]
}

fn live_args(dir: &Path, base: &str, jobs: usize) -> Vec<String> {
    let mut a: Vec<String> = [
        "run",
        "--live",
        "--base-url",
        base,
        "--api-key-env",
        KEY_VAR,
        "--model",
        MODEL,
        "--jobs",
        &jobs.to_string(),
    ]
    .map(String::from)
    .to_vec();
    a.extend(suite_args(dir));
    a
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Pins a fixture for every case of a generated suite: `llm-contract record` against the server.
fn record(dir: &Path, base: &str) {
    let mut a: Vec<String> = [
        "record",
        "--base-url",
        base,
        "--api-key-env",
        KEY_VAR,
        "--model",
        MODEL,
        "--overwrite",
        "--jobs",
        "16",
    ]
    .map(String::from)
    .to_vec();
    a.extend(suite_args(dir).into_iter().take(4));
    let out = llm_contract(&strs(&a)).output().unwrap();
    assert!(
        out.status.success(),
        "record failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Checks the run's own verdicts: every case passed, streams had every frame checked.
fn check_report(dir: &Path, cases: usize, frames: Option<usize>) {
    let text = std::fs::read_to_string(dir.join("reports/latest/report.json"))
        .expect("report.json written");
    let report: Value = serde_json::from_str(&text).unwrap();
    let all = report["cases"].as_array().expect("cases");
    assert_eq!(all.len(), cases, "every case reported");
    for c in all {
        assert_eq!(c["verdict"], "pass", "case failed: {c}");
    }
    if let Some(f) = frames {
        let seen = all[0]["frames"].as_u64().unwrap_or(0) as usize;
        assert_eq!(seen, f, "every frame went through the checks");
        assert_eq!(
            all[0]["drift"]["state"], "match",
            "drift compared: {}",
            all[0]
        );
    }
}

fn median(mut v: Vec<Measured>) -> Measured {
    v.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    let mut m = v[v.len() / 2];
    // Peak memory is the largest seen, start-up the median.
    m.peak_kib = v.iter().map(|x| x.peak_kib).max().unwrap();
    let mut firsts: Vec<f64> = v.iter().filter_map(|x| x.first_request).collect();
    firsts.sort_by(f64::total_cmp);
    m.first_request = firsts.get(firsts.len() / 2).copied();
    m
}

fn repeat(runs: usize, mut f: impl FnMut() -> Measured) -> Measured {
    median((0..runs).map(|_| f()).collect())
}

// ---------------------------------------------------------------------------------------------
// The baselines, run as child processes of this benchmark (`--baseline ...`)

/// A bare reqwest loop: the same requests as the generated suite, `jobs` at a time, each body
/// read whole, nothing checked.
fn baseline_http(base: &str, n: usize, jobs: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let all = templates();
        let url = format!("{base}/chat/completions");
        let permits = Arc::new(tokio::sync::Semaphore::new(jobs));
        let mut set = tokio::task::JoinSet::new();
        let bearer = format!("Bearer {}", key());
        let invalid = format!("Bearer {INVALID_TOKEN}");
        for i in 0..n {
            let (_, auth, body, _) = case(i, &all);
            let text = serde_json::to_string(&body)
                .unwrap()
                .replace("${model}", MODEL);
            let mut req = client
                .post(&url)
                .header("content-type", "application/json")
                .body(text);
            match auth {
                "valid" => req = req.header("authorization", &bearer),
                "invalid" => req = req.header("authorization", &invalid),
                _ => {}
            }
            let permits = permits.clone();
            set.spawn(async move {
                let _p = permits.acquire_owned().await;
                let r = req.send().await.unwrap();
                r.bytes().await.unwrap().len()
            });
        }
        let mut total = 0;
        while let Some(r) = set.join_next().await {
            total += r.unwrap();
        }
        assert!(total > 0);
    });
}

/// One stream request, its bytes counted as they arrive and nothing else.
fn baseline_stream(base: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let body = json!({"model": MODEL, "messages": [{"role": "user", "content": "Say pong."}], "stream": true});
        let resp = client
            .post(format!("{base}/chat/completions"))
            .header("authorization", format!("Bearer {}", key()))
            .json_body(&body)
            .send()
            .await
            .unwrap();
        let mut stream = resp.bytes_stream();
        let mut n = 0u64;
        while let Some(piece) = stream.next().await {
            n += piece.unwrap().len() as u64;
        }
        println!("{n}");
    });
}

trait JsonBody {
    fn json_body(self, v: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, v: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(v.to_string())
    }
}

fn this(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(args);
    cmd
}

// ---------------------------------------------------------------------------------------------
// The figures

struct Row {
    figure: String,
    ours: String,
    baseline: String,
    ratio: String,
    hurl: String,
    target: String,
}

fn row(figure: &str, ours: String, baseline: String, ratio: f64, target: &str) -> Row {
    Row {
        figure: figure.into(),
        ours,
        baseline,
        ratio: format!("{ratio:.2}×"),
        hurl: "-".into(),
        target: target.into(),
    }
}

impl Row {
    /// Hurl's figure for the same work, when Hurl is installed.
    fn hurl(mut self, figure: Option<String>) -> Row {
        if let Some(f) = figure {
            self.hurl = f;
        }
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Hurl, measured beside when it is installed (`HURL=/path/to/hurl`, or `hurl` on PATH)

fn hurl_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HURL") {
        return Some(PathBuf::from(p));
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join("hurl"))
        .find(|p| p.is_file())
}

/// The suite's requests as `parts` Hurl files (Hurl runs files in parallel, each in order), each
/// request with one simple assert: the status, and a finish reason, `[DONE]` or an error message.
fn write_hurl(dir: &Path, base: &str, n: usize, parts: usize) -> Vec<PathBuf> {
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir).unwrap();
    let all = templates();
    let mut texts = vec![String::new(); parts.min(n).max(1)];
    let count = texts.len();
    for i in 0..n {
        let (_, auth, body, expect) = case(i, &all);
        let body = body.to_string().replace("${model}", MODEL);
        let status = expect["status"].as_u64().unwrap_or(200);
        let t = &mut texts[i % count];
        let _ = writeln!(t, "POST {base}/chat/completions");
        match auth {
            "valid" => {
                let _ = writeln!(t, "Authorization: Bearer {}", key());
            }
            "invalid" => {
                let _ = writeln!(t, "Authorization: Bearer {INVALID_TOKEN}");
            }
            _ => {}
        }
        let assert = if expect.get("stream").is_some() {
            r#"body contains "data: [DONE]""#
        } else if status == 200 {
            r#"jsonpath "$.choices[0].finish_reason" == "stop""#
        } else {
            r#"jsonpath "$.error.message" exists"#
        };
        let _ = writeln!(
            t,
            "Content-Type: application/json\n{body}\nHTTP {status}\n[Asserts]\n{assert}\n"
        );
    }
    texts
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let f = dir.join(format!("part_{i:03}.hurl"));
            std::fs::write(&f, t).unwrap();
            f
        })
        .collect()
}

fn hurl_cmd(bin: &Path, files: &[PathBuf], jobs: usize) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["--test", "--jobs", &jobs.to_string()])
        .args(files);
    cmd
}

/// Runs Hurl `runs` times on the files; `None` when it is not installed.
fn hurl_run(
    bin: Option<&Path>,
    files: &[PathBuf],
    jobs: usize,
    runs: usize,
    server: &BenchServer,
    log: &Path,
) -> Option<Measured> {
    let bin = bin?;
    Some(repeat(runs, || {
        let m = measure(&mut hurl_cmd(bin, files, jobs), Some(server), log);
        assert_eq!(m.code, 0, "hurl: {}", std::fs::read_to_string(log).unwrap());
        m
    }))
}

fn s(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.3} s")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--baseline") {
        match args[i + 1].as_str() {
            "http" => baseline_http(
                &args[i + 2],
                args[i + 3].parse().unwrap(),
                args[i + 4].parse().unwrap(),
            ),
            "stream" => baseline_stream(&args[i + 2]),
            other => panic!("unknown baseline {other}"),
        }
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        let secs = args.get(i + 2).and_then(|s| s.parse().ok()).unwrap_or(600);
        serve(Path::new(&args[i + 1]), secs.min(7200));
        return;
    }
    let guard = args.iter().any(|a| a == "--guard");
    let quick = guard || args.iter().any(|a| a == "--quick");
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .map(|i| args[i + 1].parse().unwrap())
        .unwrap_or(if quick { 1 } else { 3 });
    let big_stream = if quick { 200_000 } else { 1_000_000 };
    let small_stream = 10_000;

    let bin = binary();
    let hurl = hurl_bin();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("child.log");
    let server = BenchServer::start();
    println!(
        "llm-contract benchmark: {} ({} run(s) per figure, median; {} cores); Hurl: {}",
        bin.display(),
        runs,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        hurl.as_ref().map_or(
            "not installed (HURL=/path/to/hurl measures it beside)".into(),
            |h| h.display().to_string()
        )
    );
    let mut rows = Vec::new();
    let mut problems = Vec::new();

    // 1,000 full-checked cases.
    let suite = tmp.path().join("suite1000");
    write_suite(&suite, CASES, None);
    record(&suite, &server.base(0, None));
    let base0 = server.base(0, None);
    let jobs0 = 16;
    let ours = repeat(runs, || {
        let m = measure(
            &mut llm_contract(&strs(&live_args(&suite, &base0, jobs0))),
            Some(&server),
            &log,
        );
        assert_eq!(m.code, 0, "{}", std::fs::read_to_string(&log).unwrap());
        m
    });
    check_report(&suite, CASES, None);
    let bare = repeat(runs, || {
        let m = measure(
            &mut this(&[
                "--baseline",
                "http",
                &base0,
                &CASES.to_string(),
                &jobs0.to_string(),
            ]),
            Some(&server),
            &log,
        );
        assert_eq!(m.code, 0, "{}", std::fs::read_to_string(&log).unwrap());
        m
    });
    let hurl_files = write_hurl(&tmp.path().join("hurl0"), &base0, CASES, jobs0);
    let hurl0 = hurl_run(hurl.as_deref(), &hurl_files, jobs0, runs, &server, &log);
    rows.push(
        row(
            "1,000 cases, latency 0: wall time",
            s(ours.secs),
            s(bare.secs),
            ours.secs / bare.secs,
            "≤ 0.13 s (Hurl 8, quoted); Python 1.5 s (quoted)",
        )
        .hurl(hurl0.map(|h| s(h.secs))),
    );
    rows.push(
        row(
            "1,000 cases, latency 0: cases/s",
            format!("{:.0}", CASES as f64 / ours.secs),
            format!("{:.0}", CASES as f64 / bare.secs),
            bare.secs / ours.secs,
            "≥ 7,700/s (Hurl 8, quoted)",
        )
        .hurl(hurl0.map(|h| format!("{:.0}", CASES as f64 / h.secs))),
    );
    rows.push(
        row(
            "1,000 cases, latency 0: peak memory",
            mib(ours.peak_kib),
            mib(bare.peak_kib),
            ours.peak_kib as f64 / bare.peak_kib as f64,
            "≤ 32 MiB",
        )
        .hurl(hurl0.map(|h| mib(h.peak_kib))),
    );

    // The same at 100 ms latency, 64 in flight.
    let base100 = server.base(100, None);
    let ideal = CASES.div_ceil(64) as f64 * 0.1;
    let slow = repeat(runs.min(2), || {
        let m = measure(
            &mut llm_contract(&strs(&live_args(&suite, &base100, 64))),
            Some(&server),
            &log,
        );
        assert_eq!(m.code, 0, "{}", std::fs::read_to_string(&log).unwrap());
        m
    });
    let slow_bare = repeat(runs.min(2), || {
        measure(
            &mut this(&["--baseline", "http", &base100, &CASES.to_string(), "64"]),
            Some(&server),
            &log,
        )
    });
    let hurl_files = write_hurl(&tmp.path().join("hurl100"), &base100, CASES, 64);
    let hurl100 = hurl_run(hurl.as_deref(), &hurl_files, 64, runs.min(2), &server, &log);
    rows.push(
        row(
            "1,000 cases, 100 ms latency, 64 jobs: wall",
            s(slow.secs),
            format!("ideal {} (bare loop {})", s(ideal), s(slow_bare.secs)),
            slow.secs / ideal,
            "≤ 1.05 × ideal (Hurl 8: within 4 %, quoted)",
        )
        .hurl(hurl100.map(|h| format!("{} ({:.3}× ideal)", s(h.secs), h.secs / ideal))),
    );

    // Streams: every frame checked against reading the bytes.
    let stream_suite = tmp.path().join("stream");
    write_suite(&stream_suite, 1, Some("stream"));
    record(&stream_suite, &server.base(0, Some(2)));
    let mut stream_peaks = Vec::new();
    for (frames, target) in [
        (small_stream, "≤ 30 ms, ≤ 32 MiB"),
        (big_stream, "≤ 2 s, ≤ 32 MiB (1,000,000 frames)"),
    ] {
        let base = server.base(0, Some(frames));
        let n = if frames > 100_000 { runs.min(2) } else { runs };
        let ours = repeat(n, || {
            let m = measure(
                &mut llm_contract(&strs(&live_args(&stream_suite, &base, 1))),
                Some(&server),
                &log,
            );
            assert_eq!(m.code, 0, "{}", std::fs::read_to_string(&log).unwrap());
            m
        });
        check_report(&stream_suite, 1, Some(frames + 3));
        let bare = repeat(n, || {
            measure(
                &mut this(&["--baseline", "stream", &base]),
                Some(&server),
                &log,
            )
        });
        // Hurl: the stream request with `body contains "data: [DONE]"` (it checks no frame).
        let hurl_file = tmp.path().join(format!("stream_{frames}.hurl"));
        std::fs::write(
            &hurl_file,
            format!(
                "POST {base}/chat/completions\nAuthorization: Bearer {}\nContent-Type: application/json\n\
                 {{\"model\":\"{MODEL}\",\"messages\":[{{\"role\":\"user\",\"content\":\"Say pong.\"}}],\"stream\":true}}\n\
                 HTTP 200\n[Asserts]\nbody contains \"data: [DONE]\"\n",
                key()
            ),
        )
        .unwrap();
        let hurl_stream = hurl_run(hurl.as_deref(), &[hurl_file], 1, n, &server, &log);
        let mb = (frames as f64 * server_frame_len() as f64) / 1e6;
        let label = format!("stream of {frames} frames ({mb:.0} MB), every frame checked");
        rows.push(
            row(
                &format!("{label}: time"),
                s(ours.secs),
                format!("read only {}", s(bare.secs)),
                ours.secs / bare.secs,
                target,
            )
            .hurl(hurl_stream.map(|h| s(h.secs))),
        );
        rows.push(
            row(
                &format!("{label}: peak memory"),
                mib(ours.peak_kib),
                format!("read only {}", mib(bare.peak_kib)),
                ours.peak_kib as f64 / bare.peak_kib as f64,
                "flat: ≤ 32 MiB whatever the size",
            )
            .hurl(hurl_stream.map(|h| mib(h.peak_kib))),
        );
        rows.push(row(
            &format!("{label}: per frame"),
            format!("{:.2} µs", ours.secs * 1e6 / frames as f64),
            format!("{:.2} µs", bare.secs * 1e6 / frames as f64),
            ours.secs / bare.secs,
            "Python ≈ 40 µs/frame (quoted)",
        ));
        stream_peaks.push((frames, ours.peak_kib, ours.secs / bare.secs));
    }

    // The recorded endpoint: the repository's suite, then the 1,000-case suite.
    let reports = tmp.path().join("recorded-reports");
    let rec = repeat(runs, || {
        let r = reports.display().to_string();
        let m = measure(
            llm_contract(&["run", "--time-scale", "0", "--reports", &r]).current_dir(repo()),
            None,
            &log,
        );
        assert_eq!(m.code, 0, "{}", std::fs::read_to_string(&log).unwrap());
        m
    });
    let repo_cases = count_cases(&reports);
    let rec1000 = repeat(runs, || {
        let mut a = vec!["run".to_string(), "--target".into(), TARGET.into()];
        a.extend(suite_args(&suite));
        let m = measure(&mut llm_contract(&strs(&a)), None, &log);
        assert_eq!(m.code, 0, "{}", std::fs::read_to_string(&log).unwrap());
        m
    });
    rows.push(row(
        &format!("recorded endpoint, the repository's suite ({repo_cases} cases, --time-scale 0)"),
        s(rec.secs),
        format!("live 1,000 cases {}", s(ours.secs)),
        rec.secs / ours.secs,
        "-",
    ));
    rows.push(row(
        "recorded endpoint, the 1,000-case suite",
        s(rec1000.secs),
        format!("live {}", s(ours.secs)),
        rec1000.secs / ours.secs,
        "-",
    ));

    // Process start to the first request: a one-case suite, and the 1,000-case suite.
    let one = tmp.path().join("one");
    write_suite(&one, 1, Some("completion"));
    let start_one = repeat(runs.max(5), || {
        measure(
            &mut llm_contract(&strs(&live_args(&one, &base0, 1))),
            Some(&server),
            &log,
        )
    });
    let start_bare = repeat(runs.max(5), || {
        measure(
            &mut this(&["--baseline", "http", &base0, "1", "1"]),
            Some(&server),
            &log,
        )
    });
    let hurl_one = write_hurl(&tmp.path().join("hurl1"), &base0, 1, 1);
    let hurl_start = hurl_run(hurl.as_deref(), &hurl_one, 1, runs.max(5), &server, &log);
    let first = |m: &Measured| m.first_request.unwrap_or(f64::NAN);
    rows.push(
        row(
            "process start to first request (1-case suite)",
            s(first(&start_one)),
            format!("bare reqwest {}", s(first(&start_bare))),
            first(&start_one) / first(&start_bare),
            "≤ 10 ms",
        )
        .hurl(hurl_start.map(|h| s(first(&h)))),
    );
    rows.push(
        row(
            "process start to first request (1,000-case suite)",
            s(first(&ours)),
            format!("bare reqwest {}", s(first(&bare))),
            first(&ours) / first(&bare),
            "-",
        )
        .hurl(hurl0.map(|h| s(first(&h)))),
    );

    print_table(&rows);
    println!(
        "ratio = llm-contract / baseline. Baselines: `bare` is a reqwest loop (this benchmark's child \
         process) sending the same requests with no checks; `read only` reads the stream's bytes and \
         nothing else. The Hurl column is Hurl run here on the same requests (one simple assert each; \
         `--test --jobs` as many as llm-contract's), when installed. The target column's Hurl and \
         Python figures are the issue's, quoted, not measured."
    );

    if guard {
        // Gross regressions only: memory that grows with the stream, or ratios far past today's.
        let (small, big) = (stream_peaks[0], stream_peaks[1]);
        if big.1 > small.1 + 16 * 1024 || big.1 > 64 * 1024 {
            problems.push(format!(
                "stream memory grows with its size: {} at {} frames, {} at {} frames",
                mib(small.1),
                small.0,
                mib(big.1),
                big.0
            ));
        }
        if big.2 > 100.0 {
            problems.push(format!(
                "checking a {}-frame stream takes {:.0}× reading it (guard: 100×)",
                big.0, big.2
            ));
        }
        if ours.secs / bare.secs > 20.0 {
            problems.push(format!(
                "1,000 cases take {:.1}× the bare loop (guard: 20×)",
                ours.secs / bare.secs
            ));
        }
        if ours.peak_kib > 256 * 1024 {
            problems.push(format!("1,000 cases peak at {}", mib(ours.peak_kib)));
        }
        if problems.is_empty() {
            println!("guard: no gross regression");
        } else {
            for p in &problems {
                println!("guard: {p}");
            }
            std::process::exit(1);
        }
    }
    drop(server);
}

/// `--serve DIR [SECONDS]`: writes and records the 1,000-case suite into DIR, prints the base
/// URLs, and serves for SECONDS (default 600, at most 7200), for profiling a run by hand.
fn serve(dir: &Path, secs: u64) {
    let server = BenchServer::start();
    write_suite(dir, CASES, None);
    record(dir, &server.base(0, None));
    let stream = dir.join("stream");
    write_suite(&stream, 1, Some("stream"));
    record(&stream, &server.base(0, Some(2)));
    println!("suite: {} (and {})", dir.display(), stream.display());
    println!("key: {KEY_VAR}={}", key());
    println!("latency 0: {}", server.base(0, None));
    println!("latency 100 ms: {}", server.base(100, None));
    println!(
        "stream of N frames: {}",
        server.base(0, Some(1_000_000)).replace("1000000", "N")
    );
    std::thread::sleep(Duration::from_secs(secs));
}

fn server_frame_len() -> usize {
    Canned::new().token_frame.len()
}

fn count_cases(reports: &Path) -> usize {
    let text = std::fs::read_to_string(reports.join("latest/report.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().map_or(0, Vec::len)
}

fn print_table(rows: &[Row]) {
    let w = |f: fn(&Row) -> &str| rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0);
    let widths = [
        w(|r| &r.figure),
        w(|r| &r.ours),
        w(|r| &r.baseline),
        w(|r| &r.ratio),
        w(|r| &r.hurl).max("Hurl (measured)".len()),
    ];
    let pad = |s: &str, n: usize| format!("{s}{}", " ".repeat(n.saturating_sub(s.chars().count())));
    println!(
        "\n{} | {} | {} | {} | {} | target",
        pad("figure", widths[0]),
        pad("llm-contract", widths[1]),
        pad("baseline", widths[2]),
        pad("ratio", widths[3]),
        pad("Hurl (measured)", widths[4]),
    );
    for r in rows {
        println!(
            "{} | {} | {} | {} | {} | {}",
            pad(&r.figure, widths[0]),
            pad(&r.ours, widths[1]),
            pad(&r.baseline, widths[2]),
            pad(&r.ratio, widths[3]),
            pad(&r.hurl, widths[4]),
            r.target
        );
    }
}
