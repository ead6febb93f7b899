//! A new user's first hour (issue 20): the hint after a live run is a command that works as
//! pasted, the run ends with the cases that did not pass, colour follows `--color` and
//! `NO_COLOR`, and the `cargo test` harness ends with the same list.

mod common;

use common::{llm_contract, text, Mock};

const KEY_ENV: &str = "LLMC_TEST_KEY";
const CANARY: &str = "llmc-canary-first-hour-not-a-key";

/// The line after "pin them with:".
fn pin_command(stdout: &str) -> Option<String> {
    let mut lines = stdout.lines();
    lines.find(|l| l.contains("pin them with:"))?;
    lines.next().map(|l| l.trim().to_string())
}

#[test]
fn the_pin_hint_after_a_live_run_is_a_command_that_works_as_printed() {
    let mock = Mock::start();
    let suite = common::suite_copy();
    // A target not pinned yet: the live run ends with the command that pins it.
    std::fs::remove_dir_all(suite.path().join("fixtures/openai_compatible")).unwrap();
    let base = mock.base("conform");
    let reports = tempfile::tempdir().unwrap();
    let out = common::live_run(
        &base,
        KEY_ENV,
        CANARY,
        &[
            "--model",
            "mock-model-1",
            "--case",
            "happy_path",
            "--case",
            "streaming",
        ],
        reports.path(),
        suite.path(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY));
    let cmd = pin_command(&stdout).unwrap_or_else(|| panic!("no pin command:\n{stdout}"));
    assert_eq!(
        cmd,
        format!(
            "llm-contract record --target openai_compatible --base-url {base} \
             --api-key-env {KEY_ENV} --model mock-model-1 --case happy_path --case streaming"
        )
    );
    // Each case's own hint names every flag too (the URL by its alias there).
    let r = common::report(reports.path());
    let drift = &common::case(&r, "openai_compatible::happy_path")["drift"];
    assert!(
        drift["reason"].as_str().unwrap().contains(&format!(
            "`llm-contract record --target openai_compatible --base-url [BASE_URL:openai_compatible] \
             --api-key-env {KEY_ENV} --model mock-model-1 --case happy_path`"
        )),
        "{drift}"
    );
    // Pasted as printed (no quoting was needed), it records against the same endpoint.
    let words: Vec<&str> = cmd.split_whitespace().skip(1).collect();
    let rec = llm_contract(&words, &[(KEY_ENV, CANARY)], suite.path());
    let (rec_out, rec_err) = text(&rec);
    assert_eq!(rec.status.code(), Some(0), "{rec_out}{rec_err}");
    let pinned = suite
        .path()
        .join("fixtures/openai_compatible/happy_path.json");
    let fixture = std::fs::read_to_string(&pinned).unwrap();
    assert!(fixture.contains("mock-model-1"), "{fixture}");
    assert!(!fixture.contains(CANARY));
    assert!(suite
        .path()
        .join("fixtures/openai_compatible/streaming.json")
        .exists());
}

#[test]
fn a_run_ends_with_the_cases_that_did_not_pass_grouped_by_class() {
    let mock = Mock::start();
    let reports = tempfile::tempdir().unwrap();
    let base = mock.base("wrong-status");
    let out = common::live_run(
        &base,
        KEY_ENV,
        CANARY,
        &[
            "--model",
            "mock-model-1",
            "--case",
            "happy_path",
            "--case",
            "missing_auth",
            "--retries",
            "1",
        ],
        reports.path(),
        &common::root(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let tail = stdout
        .split("did not pass:")
        .nth(1)
        .unwrap_or_else(|| panic!("no list:\n{stdout}"));
    assert!(
        tail.starts_with("\n  fall_back (1):\n    FAIL  openai_compatible::happy_path — still transient after 2 attempts"),
        "{stdout}"
    );
    // The retried case's line shows its attempts and its whole time.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("FAIL  openai_compatible::happy_path"))
        .unwrap();
    assert!(line.contains("(2 attempts, "), "{line}");
    assert!(line.ends_with(" total)"), "{line}");
}

#[test]
fn color_always_colours_lines_and_never_or_a_pipe_does_not() {
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let reports = tempfile::tempdir().unwrap();
        let mut args = vec![
            "run",
            "--case",
            "happy_path",
            "--time-scale",
            "0",
            "--reports",
            reports.path().to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = llm_contract(&args, env, &common::root());
        assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
        text(&out).0
    };
    assert!(run(&["--color", "always"], &[]).contains("\x1b[32mPASS"));
    assert!(run(&["--color", "always"], &[("NO_COLOR", "1")]).contains("\x1b[32mPASS"));
    assert!(!run(&["--color", "never"], &[]).contains('\x1b'));
    assert!(!run(&[], &[]).contains('\x1b'));
}

/// Set for the child process of the test below: the suite's directory.
const CHILD: &str = "LLM_CONTRACT_FIRST_HOUR_CHILD";

#[test]
fn the_harness_ends_with_the_cases_that_did_not_pass() {
    let dir = common::suite_copy();
    std::fs::write(
        dir.path().join("contracts/chat_completions/brand_new.yaml"),
        "id: brand_new\ndescription: A case added after the fixtures were recorded.\nauth: valid\ntags: [fresh]\nrequest:\n  body:\n    model: ${model}\n    messages: [{role: user, content: Say pong.}]\nexpect:\n  status: 200\n  class: ok\n",
    )
    .unwrap();
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "harness_child", "--nocapture"])
        .env(CHILD, dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&child);
    assert!(
        stdout.contains(
            "2 case(s) did not pass:\n  configuration_drift (2):\n    FAIL  cometapi::brand_new — not recorded for cometapi (--require-fixtures)"
        ) && stdout.contains(
            "    FAIL  openai_compatible::brand_new — not recorded for openai_compatible (--require-fixtures)"
        ),
        "{stdout}{stderr}"
    );
}

/// Only does something in the child process of the test above: the harness on a suite with a
/// case not recorded, fixtures required.
#[test]
fn harness_child() {
    let Ok(dir) = std::env::var(CHILD) else {
        return;
    };
    let ctx = llm_contract::context::Context::from_map([
        ("LLM_CONTRACT_REQUIRE_FIXTURES", "1"),
        ("LLM_CONTRACT_TAG", "fresh,smoke"),
    ]);
    let args = libtest_mimic::Arguments::from_iter(["contracts", "--test-threads", "1"]);
    // One trial fails: the parent reads the list this prints.
    let _ = llm_contract::run::harness::main_with(std::path::Path::new(&dir), args, &ctx);
}

/// `record` against `handler`, one case, into a copy of the suite; the fixture's provenance.
fn record_provenance(
    handler: fn(llm_contract::exchange::server::Request) -> llm_contract::exchange::server::Reply,
    extra: &[&str],
) -> serde_json::Value {
    use llm_contract::exchange::server::Server;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(Server::start(std::sync::Arc::new(handler), 0.0))
        .unwrap();
    let suite = common::suite_copy();
    // A target not pinned yet: the recording writes its first fixtures.
    std::fs::remove_dir_all(suite.path().join("fixtures/openai_compatible")).unwrap();
    let base = format!("{}/conform/v1", server.url());
    let mut args = vec![
        "record",
        "--base-url",
        &base,
        "--api-key-env",
        KEY_ENV,
        "--model",
        "mock-model-1",
        "--case",
        "happy_path",
    ];
    args.extend_from_slice(extra);
    let out = llm_contract(&args, &[(KEY_ENV, CANARY)], suite.path());
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let f = suite
        .path()
        .join("fixtures/openai_compatible/happy_path.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
    doc["provenance"].clone()
}

/// The mock, every answer naming its server.
fn named_server(
    req: llm_contract::exchange::server::Request,
) -> llm_contract::exchange::server::Reply {
    use llm_contract::exchange::server::Reply;
    match common::openai_mock(req) {
        Reply::Full {
            status,
            mut headers,
            body,
        } => {
            headers.push(("server".into(), "mock-gateway/2.4.1".into()));
            Reply::Full {
                status,
                headers,
                body,
            }
        }
        other => other,
    }
}

#[test]
fn a_recorded_fixture_names_the_server_its_answers_named_never_the_target_description() {
    let p = record_provenance(named_server, &["--server-version", "2.4.1-test"]);
    assert_eq!(p["kind"], "recorded", "{p}");
    assert_eq!(p["server"], "mock-gateway/2.4.1", "{p}");
    assert_eq!(p["version"], "2.4.1-test", "{p}");
    // No header and no --server: `unknown`, not the target's description.
    let p = record_provenance(common::openai_mock, &[]);
    assert_eq!(p["server"], "unknown", "{p}");
    let p = record_provenance(common::openai_mock, &["--server", "My gateway"]);
    assert_eq!(p["server"], "My gateway", "{p}");
}

/// A copy of the suite with a pending `happy_path.json.new` for cometapi; `break_it` removes
/// `choices` from its answer.
fn with_pending(break_it: bool) -> (tempfile::TempDir, std::path::PathBuf) {
    let suite = common::suite_copy();
    let dir = suite.path().join("fixtures/cometapi");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("happy_path.json")).unwrap())
            .unwrap();
    // One answer (`response`) or several (`responses`).
    let last = match doc.get_mut("response") {
        Some(r) => r,
        None => doc["responses"].as_array_mut().unwrap().last_mut().unwrap(),
    };
    last["headers"]["x-note"] = serde_json::json!("changed");
    if break_it {
        last["body"].as_object_mut().unwrap().remove("choices");
    }
    let pending = dir.join("happy_path.json.new");
    std::fs::write(&pending, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    (suite, pending)
}

fn suite_flags(suite: &std::path::Path) -> Vec<String> {
    vec![
        "--contracts".into(),
        suite.join("contracts").display().to_string(),
        "--fixtures".into(),
        suite.join("fixtures").display().to_string(),
    ]
}

fn cli(cmd: &[&str], suite: &std::path::Path) -> (Option<i32>, String) {
    let mut args: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    args.extend(suite_flags(suite));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = llm_contract(&refs, &[], suite);
    let (stdout, stderr) = text(&out);
    (out.status.code(), format!("{stdout}{stderr}"))
}

#[test]
fn lint_lists_pending_fixtures_with_the_command_to_review_them() {
    let (suite, pending) = with_pending(false);
    let (code, out) = cli(&["lint"], suite.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "{}: pending: drift awaiting review",
            pending.display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "1 pending fixture(s): review them with `llm-contract review --fixtures {}`",
            suite.path().join("fixtures").display()
        )),
        "{out}"
    );
    std::fs::remove_file(&pending).unwrap();
    let (_, out) = cli(&["lint"], suite.path());
    assert!(!out.contains("pending"), "{out}");
}

#[test]
fn accept_warns_when_the_answer_breaks_its_schema_and_strict_refuses_it() {
    let (suite, pending) = with_pending(true);
    let (code, out) = cli(&["accept", "--strict"], suite.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("breaks its case's schema"), "{out}");
    assert!(out.contains("schema chat_completion: "), "{out}");
    assert!(out.contains("choices"), "{out}");
    assert!(out.contains("not accepted (--strict)"), "{out}");
    assert!(pending.exists());
    let (code, out) = cli(&["accept"], suite.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("breaks its case's schema"), "{out}");
    assert!(out.contains("accepted → "), "{out}");
    assert!(!pending.exists());
    // An answer that keeps its schema is accepted without a word about it.
    let (suite, pending) = with_pending(false);
    let (code, out) = cli(&["accept", "--strict"], suite.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("schema"), "{out}");
    assert!(!pending.exists());
}

/// `run --case happy_path` on a pseudo-terminal (util-linux's `script`), `CI` unset; what the
/// terminal got.
fn on_a_terminal(no_color: Option<&str>) -> String {
    let reports = tempfile::tempdir().unwrap();
    let cmd = format!(
        "{} run --case happy_path --time-scale 0 --reports {}",
        env!("CARGO_BIN_EXE_llm-contract"),
        reports.path().display()
    );
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"])
        .current_dir(common::root())
        .env_remove("CI")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm");
    if let Some(v) = no_color {
        c.env("NO_COLOR", v);
    }
    let out = c.output().expect("script (util-linux) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn no_color_turns_colour_off_on_a_terminal() {
    assert!(on_a_terminal(None).contains("\x1b[32mPASS"));
    let plain = on_a_terminal(Some("1"));
    assert!(plain.contains("PASS  cometapi::happy_path"), "{plain}");
    assert!(!plain.contains("\x1b[32mPASS"), "{plain}");
}
