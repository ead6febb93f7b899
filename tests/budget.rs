//! `run --dry-run`: every request a live run would send, counted, and nothing sent: a loopback
//! listener given as the base URL sees no connection. Works without the key, never prints it.

mod common;

use std::io::ErrorKind;
use std::net::TcpListener;

use common::{llm_contract, root, text};

const CANARY: &str = "llmc-canary-dry-run-not-a-key";

fn dry_run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = llm_contract(&[&["run", "--dry-run"], args].concat(), env, &root());
    let (stdout, stderr) = text(&out);
    assert!(stderr.is_empty() || out.status.success(), "{stderr}");
    (out.status.code(), stdout)
}

/// Whether anything connected to the listener (it is non-blocking: no pending connection is
/// `WouldBlock`).
fn connected(l: &TcpListener) -> bool {
    match l.accept() {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => panic!("accept: {e}"),
    }
}

#[test]
fn a_dry_run_sends_nothing_needs_no_key_and_never_shows_one() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!(
        "http://127.0.0.1:{}/v1",
        listener.local_addr().unwrap().port()
    );
    for env in [vec![("LLMC_DRY_RUN_KEY", CANARY)], vec![]] {
        let (code, out) = dry_run(
            &[
                "--live",
                "--base-url",
                &base,
                "--api-key-env",
                "LLMC_DRY_RUN_KEY",
            ],
            &env,
        );
        assert_eq!(code, Some(0), "{out}");
        assert!(
            out.contains(&format!("POST   {base}/chat/completions  happy_path  key")),
            "{out}"
        );
        assert!(out.contains("missing_auth  no key"), "{out}");
        assert!(!out.contains(CANARY) && !out.contains("canary"), "{out}");
        assert!(out.starts_with("dry run: nothing is sent."), "{out}");
    }
    // Give a stray connection time to arrive, then look: none came.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        !connected(&listener),
        "the dry run connected to the endpoint"
    );
    // The check can fail: a real connection is seen.
    let _c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let seen = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        connected(&listener)
    });
    assert!(seen, "the listener did not see a connection made to it");
}

#[test]
fn requests_and_output_tokens_are_counted_with_every_retry() {
    // happy_path caps max_tokens at 16; 4 retries are 5 attempts.
    let (code, out) = dry_run(
        &[
            "--case",
            "happy_path",
            "--target",
            "cometapi",
            "--retries",
            "4",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("happy_path  key  1 run(s) × 5 attempt(s) = at most 5  max_tokens 16"),
        "{out}"
    );
    assert!(
        out.contains("total: 1 case(s), 1 request(s) at first try (polls aside), at most 5 with every retry and poll; output tokens at most 16 at first try, 80 if every attempt is answered in full"),
        "{out}"
    );
    // The whole default selection: one line per request, the cometapi target's live URL.
    let (code, out) = dry_run(&["--retries", "0"], &[]);
    assert_eq!(code, Some(0));
    let lines = out
        .lines()
        .filter(|l| {
            ["  POST ", "  GET ", "  DELETE "]
                .iter()
                .any(|m| l.starts_with(m))
        })
        .count();
    // Every case is listed, and a case with steps has a line per step: the request lines are
    // the first-try requests the total counts.
    let listed = llm_contract(&["list"], &[], &root());
    let cases = text(&listed).0.lines().count();
    let total = out
        .lines()
        .find(|l| l.starts_with("total: "))
        .expect("a total line");
    assert!(
        total.starts_with(&format!(
            "total: {cases} case(s), {lines} request(s) at first try"
        )),
        "{total}"
    );
    assert!(lines > cases, "the catalogue has cases with steps: {out}");
    assert!(out.contains("https://api.cometapi.com/v1/chat/completions"));
    assert!(
        out.contains("video_missing_prompt  key  1 run(s) × 1 attempt(s) + 60 polls = at most 61"),
        "{out}"
    );
}

#[test]
fn repeats_steps_and_capabilities_not_offered_are_accounted_for() {
    let faults = root().join("tests/faults");
    let (c, f, s) = (
        faults.join("contracts").display().to_string(),
        faults.join("fixtures").display().to_string(),
        root().join("contracts/schemas").display().to_string(),
    );
    let (code, out) = dry_run(
        &[
            "--contracts",
            &c,
            "--fixtures",
            &f,
            "--schemas",
            &s,
            "--retries",
            "1",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("repeat_all_passes  key  3 run(s) × 2 attempt(s) = at most 6"),
        "{out}"
    );
    assert!(
        out.contains("tool_round_trip step answer  key  1 run(s) × 2 attempt(s)"),
        "{out}"
    );
    assert!(
        out.contains("not sent: not_offered_seed: the target does not offer `seed`"),
        "{out}"
    );
}
