//! Stream checks against just reading the bytes: `cargo bench --bench stream`.
//!
//! A loopback server generates an OpenAI-style stream of N chunk frames (≈226 bytes each) and
//! `data: [DONE]`. Each measurement runs in a fresh child process so its peak memory (VmHWM) is
//! its own: `bytes` reads the body and counts it (the baseline); `checks` runs the whole
//! llm-contract pipeline on the same stream: SSE parsing as bytes arrive, JSON and chunk-schema
//! validation of every frame, role / finish_reason / [DONE] checks, reassembly, drift shape.
//! It prints time, frames per second, peak memory and each figure's ratio to the baseline.
//!
//! Options (after `--`): `--frames N[,N...]` (default 10000,450000: 2 MB and 100 MB streams),
//! `--quick` (10000 and 100000 frames).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use llm_contract::baseline::sanitize::Sanitizer;
use llm_contract::context::Context;
use llm_contract::contract::suite::{Paths, Suite};
use llm_contract::exchange::server::{Reply, Request, Server};
use llm_contract::model::outcome::Verdict;
use llm_contract::run::build::LiveOptions;
use llm_contract::run::runner::{RunOptions, Runner};

const FRAME: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{"content":"token "},"logprobs":null,"finish_reason":null}]}"#;

fn sse(json: &str) -> String {
    format!("data: {json}\n\n")
}

fn stream_reply(frames: usize) -> Reply {
    let role = FRAME.replace(
        r#""delta":{"content":"token "}"#,
        r#""delta":{"role":"assistant","content":""}"#,
    );
    let fin = FRAME
        .replace(r#""delta":{"content":"token "}"#, r#""delta":{}"#)
        .replace(r#""finish_reason":null"#, r#""finish_reason":"stop""#);
    Reply::Repeat {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        prefix: Bytes::from(sse(&role)),
        frame: Bytes::from(sse(FRAME)),
        count: frames,
        suffix: Bytes::from(format!("{}data: [DONE]\n\n", sse(&fin))),
    }
}

fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Runs one measurement in this process; prints `seconds frames bytes peak_kib`.
fn measure(what: &str, frames: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(Server::start(
            Arc::new(move |_r: Request| stream_reply(frames)),
            0.0,
        ))
        .unwrap();
    let base = format!("{}/v1", server.url());
    let (secs, seen_frames, bytes) = match what {
        "bytes" => rt.block_on(async {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::new();
            let start = Instant::now();
            let resp = client
                .post(format!("{base}/chat/completions"))
                .body("{}")
                .send()
                .await
                .unwrap();
            let mut body = resp.bytes_stream();
            let mut n = 0u64;
            while let Some(piece) = body.next().await {
                n += piece.unwrap().len() as u64;
            }
            (start.elapsed().as_secs_f64(), 0usize, n)
        }),
        "checks" => {
            // The stream's own cost: a suite of the one case (its target, its pinned fixture
            // and the schemas), not the whole catalogue's loading, which grows with it.
            let suite_dir = one_case_suite("chat_completions/streaming", "openai_compatible");
            let suite = Suite::load(&Paths::under(suite_dir.path())).expect("suite");
            let ctx = Context::from_map([("BENCH_KEY", "bench-key-0000")]);
            let opts = LiveOptions {
                base_url: Some(base.clone()),
                api_key_env: Some("BENCH_KEY".into()),
                model: Some("bench-model".into()),
                ..LiveOptions::default()
            };
            let (target, endpoint) =
                llm_contract::run::build::live_target(&suite, &ctx, &opts).unwrap();
            let plan = suite
                .plans(&[target], None)
                .unwrap()
                .into_iter()
                .find(|p| p.case.id == "streaming")
                .expect("the streaming case");
            let client =
                llm_contract::exchange::transport::Client::new(Duration::from_secs(5)).unwrap();
            let runner = Runner::with_options(
                client,
                suite.schemas.clone(),
                suite.fixtures.clone(),
                Sanitizer::new(),
                RunOptions {
                    retries: Some(0),
                    ..RunOptions::default()
                },
            );
            let start = Instant::now();
            let outcome = rt.block_on(runner.run(&plan, &endpoint));
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(
                outcome.verdict,
                Verdict::Pass,
                "every frame must pass its checks: {:?}",
                outcome.failures
            );
            (secs, outcome.frames.unwrap_or(0), 0)
        }
        other => panic!("unknown measurement {other}"),
    };
    drop(server);
    println!("{secs} {seen_frames} {bytes} {}", peak_kib());
}

struct Figures {
    secs: f64,
    frames: usize,
    bytes: u64,
    peak_kib: u64,
}

fn child(what: &str, frames: usize) -> Figures {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--measure", what, &frames.to_string()])
        .output()
        .expect("child runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<&str> = text.split_whitespace().collect();
    Figures {
        secs: v[0].parse().unwrap(),
        frames: v[1].parse().unwrap(),
        bytes: v[2].parse().unwrap(),
        peak_kib: v[3].parse().unwrap(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--measure") {
        measure(&args[i + 1], args[i + 2].parse().unwrap());
        return;
    }
    let mut sizes = vec![10_000usize, 450_000];
    if args.iter().any(|a| a == "--quick") {
        sizes = vec![10_000, 100_000];
    }
    if let Some(i) = args.iter().position(|a| a == "--frames") {
        sizes = args[i + 1].split(',').map(|n| n.parse().unwrap()).collect();
    }
    println!("stream checks vs reading the bytes (each figure from a fresh process; ratio = checks / bytes)");
    println!(
        "{:>9} {:>9} | {:>9} {:>10} {:>9} | {:>9} {:>10} {:>9} | {:>7} {:>7}",
        "frames",
        "MB",
        "read s",
        "frames/s",
        "peak MiB",
        "check s",
        "frames/s",
        "peak MiB",
        "time ×",
        "mem ×"
    );
    for frames in sizes {
        let base = child("bytes", frames);
        let chk = child("checks", frames);
        let total_frames = frames + 3;
        assert_eq!(
            chk.frames, total_frames,
            "every frame went through the checks"
        );
        let mb = base.bytes as f64 / 1e6;
        println!(
            "{:>9} {:>9.1} | {:>9.3} {:>10.0} {:>9.1} | {:>9.3} {:>10.0} {:>9.1} | {:>7.2} {:>7.2}",
            total_frames,
            mb,
            base.secs,
            total_frames as f64 / base.secs,
            base.peak_kib as f64 / 1024.0,
            chk.secs,
            total_frames as f64 / chk.secs,
            chk.peak_kib as f64 / 1024.0,
            chk.secs / base.secs,
            chk.peak_kib as f64 / base.peak_kib.max(1) as f64,
        );
        println!(
            "{:>9} per frame: read {:.2} µs, checks {:.2} µs",
            "",
            base.secs * 1e6 / total_frames as f64,
            chk.secs * 1e6 / total_frames as f64
        );
    }
}

/// A copy of the repository's suite holding only the case `family/id`, the target `target` and
/// that target's fixture of the case, with the repository's schemas.
fn one_case_suite(case: &str, target: &str) -> tempfile::TempDir {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let id = case.rsplit('/').next().unwrap_or(case);
    let copy = |from: std::path::PathBuf, to: std::path::PathBuf| {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    };
    let (from, to) = (root.join("contracts"), dir.path().join("contracts"));
    copy(
        from.join(format!("{case}.yaml")),
        to.join(format!("{case}.yaml")),
    );
    let t = format!("targets/{target}.yaml");
    copy(from.join(&t), to.join(&t));
    for e in std::fs::read_dir(from.join("schemas")).unwrap() {
        let e = e.unwrap();
        copy(e.path(), to.join("schemas").join(e.file_name()));
    }
    let f = format!("fixtures/{target}/{id}.json");
    copy(root.join(&f), dir.path().join(&f));
    dir
}
