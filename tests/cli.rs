//! The command line and the harness, offline: `validate`, `run` against the recorded endpoint
//! (including a suite edited without re-recording and a case not recorded), broken contract files,
//! and trial discovery.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{case, copy_dir, llm_contract, report, root, suite_copy, text};
use llm_contract::context::Context;
use llm_contract::contract::suite::Paths;

fn write(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn run_in(dir: &Path, extra: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    common::run_offline(dir, extra)
}

#[test]
fn validate_accepts_conforming_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write(
        dir.path(),
        "ok.json",
        r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"latency_checkpoint":3,"prompt_tokens_details":{}}}"#,
    );
    let out = llm_contract(
        &[
            "validate",
            "--schema",
            "chat_completion",
            ok.to_str().unwrap(),
        ],
        &[],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let err = write(
        dir.path(),
        "err.json",
        r#"{"error":{"code":"","message":"invalid token (request id: 1)","type":"comet_api_error"}}"#,
    );
    let out = llm_contract(
        &["validate", "--schema", "error", err.to_str().unwrap()],
        &[],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

#[test]
fn validate_rejects_each_broken_body_naming_the_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "chat_completion",
            r#"{"id":"x","object":"chat.completion","created":1,"model":"m"}"#,
            "/: \"choices\" is a required property",
        ),
        (
            "chat_completion",
            r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":7}]}"#,
            "/choices/0/finish_reason",
        ),
        (
            "chat_completion",
            r#"{"id":"x","object":"chat.completion","created":"yesterday","model":"m","choices":[{"index":0,"message":{"role":"assistant"},"finish_reason":"stop"}]}"#,
            "/created",
        ),
        (
            "chat_completion_chunk",
            r#"{"id":"x","object":1,"created":1,"model":"m","choices":[{"index":0,"delta":{}}]}"#,
            "/object",
        ),
        (
            "chat_completion_chunk",
            r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0}]}"#,
            "/choices/0: \"delta\" is a required property",
        ),
        (
            "error",
            r#"{"error":{"type":"x"}}"#,
            "/error: \"message\" is a required property",
        ),
        ("error", r#"{"error":"a string"}"#, "/error"),
    ];
    for (i, (schema, body, pointer)) in cases.iter().enumerate() {
        let f = write(dir.path(), &format!("bad{i}.json"), body);
        let out = llm_contract(
            &["validate", "--schema", schema, f.to_str().unwrap()],
            &[],
            &root(),
        );
        let (stdout, _) = text(&out);
        assert_eq!(out.status.code(), Some(1), "case {i}: {stdout}");
        assert!(
            stdout.contains(pointer),
            "case {i}: expected {pointer:?} in:\n{stdout}"
        );
    }
}

#[test]
fn validate_lists_deviations_at_the_client_level_and_fails_them_at_the_spec_level() {
    let dir = tempfile::tempdir().unwrap();
    let mistral = write(
        dir.path(),
        "mistral.json",
        r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi","tool_calls":null},"finish_reason":"eos"}]}"#,
    );
    let broken = write(
        dir.path(),
        "broken.json",
        r#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi","tool_calls":"none"},"finish_reason":"stop"}]}"#,
    );
    let run = |level: Option<&str>, f: &Path| {
        let mut args = vec![
            "validate",
            "--schema",
            "chat_completion",
            f.to_str().unwrap(),
        ];
        if let Some(l) = level {
            args.extend(["--level", l]);
        }
        let out = llm_contract(&args, &[], &root());
        (out.status.code(), text(&out).0)
    };
    for level in [None, Some("client")] {
        let (code, stdout) = run(level, &mistral);
        assert_eq!(code, Some(0), "{stdout}");
        assert!(
            stdout.contains("valid against chat_completion at the client level"),
            "{stdout}"
        );
        assert!(stdout.contains("deviation: tool_calls_null at /choices/0/message/tool_calls: breaks OpenAI OpenAPI"), "{stdout}");
        assert!(
            stdout.contains("deviation: nonstandard_finish_reason at /choices/0/finish_reason"),
            "{stdout}"
        );
    }
    let (code, stdout) = run(Some("spec"), &mistral);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("not valid against chat_completion at the spec level"),
        "{stdout}"
    );
    assert!(stdout.contains("deviation: tool_calls_null"), "{stdout}");
    for level in ["client", "spec"] {
        let (code, stdout) = run(Some(level), &broken);
        assert_eq!(code, Some(1), "{level}: {stdout}");
        assert!(stdout.contains("/choices/0/message/tool_calls"), "{stdout}");
    }
    let out = llm_contract(
        &[
            "validate", "--schema", "error", "--level", "strict", "x.json",
        ],
        &[],
        &root(),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_cargo_test_harness_is_strict_with_llm_contract_strict() {
    let faults = root().join("tests/faults");
    let paths = Paths {
        contracts: faults.join("contracts"),
        fixtures: faults.join("fixtures"),
        schemas: root().join("contracts/schemas"),
    };
    for (vars, failed) in [(vec![], 0), (vec![("LLM_CONTRACT_STRICT", "1")], 1)] {
        let ctx = Context::from_map(vars);
        let trials = llm_contract::harness::trials(&paths, &ctx).unwrap();
        let args = libtest_mimic::Arguments::from_iter([
            "harness",
            "--exact",
            "faults::tool_calls_null",
            "--test-threads",
            "1",
            "--quiet",
        ]);
        let c = libtest_mimic::run(&args, trials);
        assert_eq!((c.num_passed, c.num_failed), (1 - failed, failed));
    }
}

#[test]
fn validate_reads_stdin_and_reports_non_json_and_unknown_schemas() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_llm-contract"))
        .args(["validate", "--schema", "error", "-"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"<html>nope</html>")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("<stdin>:1:1: not valid JSON"), "{stdout}");
    let out = llm_contract(
        &["validate", "--schema", "chat_completon", "x.json"],
        &[],
        &root(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("did you mean `chat_completion`?"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn the_recorded_suite_passes_and_writes_its_report() {
    let dir = suite_copy();
    let (out, reports) = run_in(dir.path(), &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let r = report(reports.path());
    assert_eq!(
        r["cases"].as_array().unwrap().len(),
        common::replayed_cases(dir.path())
    );
    for c in r["cases"].as_array().unwrap() {
        for key in ["id", "verdict", "class", "status", "latency_ms", "failures"] {
            assert!(c.get(key).is_some(), "{key} missing in {c}");
        }
        assert_eq!(c["drift"]["state"], "match", "{c}");
    }
    let c = case(&r, "cometapi::missing_messages");
    assert_eq!(
        (c["status"].as_u64(), c["class"].as_str()),
        (Some(500), Some("fix_request"))
    );
    assert!(stdout.contains("PASS  cometapi::unknown_model"), "{stdout}");
}

#[test]
fn a_case_edited_without_rerecording_fails_with_a_diff() {
    let dir = suite_copy();
    let case_file = dir
        .path()
        .join("contracts/chat_completions/happy_path.yaml");
    let text_before = std::fs::read_to_string(&case_file).unwrap();
    std::fs::write(
        &case_file,
        text_before.replace("max_tokens: 16", "max_tokens: 32"),
    )
    .unwrap();
    let (out, reports) = run_in(dir.path(), &["--case", "happy_path"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let c = case(&report(reports.path()), "cometapi::happy_path").clone();
    assert_eq!(
        (c["verdict"].as_str(), c["class"].as_str()),
        (Some("fail"), Some("configuration_drift"))
    );
    assert!(
        stdout.contains("the request no longer matches the recorded one"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-  \"max_tokens\": 16,") && stdout.contains("+  \"max_tokens\": 32,"),
        "{stdout}"
    );
}

#[test]
fn a_fixture_that_drifts_from_what_is_served_is_caught() {
    // The recorded endpoint serves exactly what the fixture holds, through the same checks as a
    // live answer: a fixture edited to break the schema must fail them.
    let dir = suite_copy();
    let f = dir.path().join("fixtures/cometapi/happy_path.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    doc["response"]["body"]["choices"][0]["finish_reason"] = serde_json::json!("banana");
    std::fs::write(&f, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let (out, reports) = run_in(dir.path(), &["--case", "happy_path"]);
    assert_eq!(out.status.code(), Some(1));
    let c = case(&report(reports.path()), "cometapi::happy_path").clone();
    assert_eq!(c["class"], "contract_drift", "{c}");
    let failures = c["failures"].to_string();
    // An unknown end reason is a named deviation clients survive (listed with its pointer);
    // the case's own `finish_reason: [stop, length]` is what fails it.
    assert_eq!(
        c["deviations"][0]["name"], "nonstandard_finish_reason",
        "{c}"
    );
    assert_eq!(
        c["deviations"][0]["pointer"], "/choices/0/finish_reason",
        "{c}"
    );
    assert!(
        failures.contains(
            "finish_reason: choice 0: expected one of [stop, length], got \\\"banana\\\""
        ),
        "{failures}"
    );
}

#[test]
fn a_missing_fixture_is_skipped_as_not_recorded_and_says_how_to_record_it() {
    let dir = suite_copy();
    std::fs::remove_file(dir.path().join("fixtures/cometapi/unknown_model.json")).unwrap();
    let (out, reports) = run_in(dir.path(), &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "a suite that grew: {stdout}");
    let c = case(&report(reports.path()), "cometapi::unknown_model").clone();
    assert_eq!(c["verdict"], "skip");
    assert_eq!(c["reason"], "not recorded for cometapi");
    assert!(
        c["notes"]
            .to_string()
            .contains("llm-contract record --target cometapi --case unknown_model"),
        "{c}"
    );
}

#[test]
fn a_broken_case_file_names_file_line_column_and_suggests() {
    let dir = suite_copy();
    let f = dir
        .path()
        .join("contracts/chat_completions/empty_messages.yaml");
    let t = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, t.replace("  status: 400", "  stauts: 400")).unwrap();
    let (out, _) = run_in(dir.path(), &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown field `stauts`"), "{stderr}");
    assert!(stderr.contains("empty_messages.yaml:"), "{stderr}");
    assert!(stderr.contains("did you mean `status`?"), "{stderr}");
    // Invalid YAML syntax, too.
    std::fs::write(&f, "id: empty_messages\ndescription: [unclosed\n").unwrap();
    let (out, _) = run_in(dir.path(), &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("empty_messages.yaml:"), "{stderr}");
}

#[test]
fn a_broken_schema_stops_a_run_that_uses_it_and_lint_finds_it_when_unused() {
    // Schemas compile when a run uses them; `lint` compiles every one in the folder.
    let dir = suite_copy();
    let schemas = dir.path().join("contracts/schemas");
    let broken =
        r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "no-such-type"}"#;
    std::fs::write(schemas.join("unused_extra.json"), broken).unwrap();
    let (out, _) = run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let out = llm_contract(&["lint"], &[], dir.path());
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("unused_extra.json"),
        "{stdout}{stderr}"
    );
    // A schema the run needs: the run stops before its first case.
    std::fs::write(schemas.join("chat_completion_chunk.json"), broken).unwrap();
    let (out, _) = run_in(dir.path(), &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("chat_completion_chunk.json"), "{stderr}");
    assert!(stderr.contains("invalid schema"), "{stderr}");
    assert!(!stdout.contains("PASS"), "{stdout}");
}

#[test]
fn a_filter_that_matches_nothing_is_an_error() {
    let dir = suite_copy();
    let (out, _) = run_in(dir.path(), &["--case", "no_such_case"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no case matches `no_such_case`"));
}

#[test]
fn discovery_names_every_case_and_starts_nothing() {
    let ctx = Context::from_map([("PATH", "/usr/bin")]);
    let trials = llm_contract::run::harness::trials(&Paths::under(&root()), &ctx).unwrap();
    let names: Vec<&str> = trials.iter().map(|t| t.name()).collect();
    for case in [
        "happy_path",
        "missing_auth",
        "invalid_token",
        "empty_messages",
        "missing_messages",
        "missing_model",
        "unknown_model",
        "invalid_role",
        "streaming",
        "streaming_with_usage",
    ] {
        assert!(
            names.contains(&format!("cometapi::{case}").as_str()),
            "{names:?}"
        );
    }
    assert!(trials.iter().all(|t| !t.has_ignored_flag()));
}

#[test]
fn zero_discovered_cases_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("contracts/targets")).unwrap();
    copy_dir(
        &root().join("contracts/schemas"),
        &dir.path().join("contracts/schemas"),
    );
    copy_dir(
        &root().join("contracts/targets"),
        &dir.path().join("contracts/targets"),
    );
    let ctx = Context::from_map([("PATH", "/usr/bin")]);
    let err = llm_contract::run::harness::trials(&Paths::under(dir.path()), &ctx)
        .err()
        .unwrap();
    assert!(err.contains("no contract cases found"), "{err}");
}

#[test]
fn live_only_cases_are_ignored_offline() {
    let dir = suite_copy();
    let f = dir
        .path()
        .join("contracts/chat_completions/live_probe.yaml");
    std::fs::write(
        &f,
        "id: live_probe\ndescription: only live\nauth: valid\nlive_only: true\nrequest:\n  body:\n    model: ${model}\n    messages: [{role: user, content: hi}]\nexpect:\n  status: 200\n  class: ok\n",
    )
    .unwrap();
    let ctx = Context::from_map([("PATH", "/usr/bin")]);
    let trials = llm_contract::run::harness::trials(&Paths::under(dir.path()), &ctx).unwrap();
    let t = trials
        .iter()
        .find(|t| t.name() == "cometapi::live_probe")
        .unwrap();
    assert!(t.has_ignored_flag());
    let (out, reports) = run_in(dir.path(), &["--case", "live_probe"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(
        case(&report(reports.path()), "cometapi::live_probe")["verdict"],
        "skip"
    );
}

/// The expected verdicts of contracts/litellm-expected.tsv: case → (verdict, class).
fn litellm_table() -> std::collections::BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(root().join("contracts/litellm-expected.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_string(), (c[2].to_string(), c[3].to_string()))
        })
        .collect()
}

#[test]
fn litellm_recordings_replay_offline_with_the_expected_verdicts() {
    // fixtures/litellm was recorded from a real LiteLLM proxy (see its provenance); replaying it
    // must give the verdicts the table holds for the live proxy.
    let reports = tempfile::tempdir().unwrap();
    let rp = reports.path().display().to_string();
    let out = llm_contract(
        &[
            "run",
            "--target",
            "litellm",
            "--time-scale",
            "0",
            "--reports",
            &rp,
        ],
        &[],
        &root(),
    );
    let (stdout, _) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "LiteLLM breaks contract cases: {stdout}"
    );
    let r = report(reports.path());
    let table = litellm_table();
    assert_eq!(table.len(), r["cases"].as_array().unwrap().len());
    // ...and both hold every case the suite has for LiteLLM.
    assert_eq!(
        table.len(),
        common::case_count(&Paths::under(&root()), &["litellm"])
    );
    for (name, (verdict, class)) in &table {
        let c = case(&r, &format!("litellm::{name}"));
        assert_eq!(
            (c["verdict"].as_str(), c["class"].as_str()),
            (Some(verdict.as_str()), Some(class.as_str())),
            "{name}: {c}"
        );
        // A case the target does not offer (its capabilities) sends nothing: no drift to compare.
        if verdict == "skip" {
            continue;
        }
        // A stream that stopped at an error frame is not compared (the failure says enough).
        let stopped = c["drift"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("did not end cleanly"));
        let skipped = c["verdict"] == "skip";
        assert!(
            c["drift"]["state"] == "match" || stopped || skipped,
            "{name}: {c}"
        );
    }
    for f in std::fs::read_dir(root().join("fixtures/litellm"))
        .unwrap()
        .flatten()
    {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f.path()).unwrap()).unwrap();
        assert_eq!(
            doc["provenance"]["kind"],
            "recorded",
            "{}",
            f.path().display()
        );
        assert!(
            doc["provenance"]["version"]
                .as_str()
                .unwrap()
                .starts_with("1.106"),
            "{}",
            f.path().display()
        );
    }
}

#[test]
fn a_plain_offline_run_leaves_out_targets_not_replayed_by_default() {
    let ctx = Context::from_map([("PATH", "/usr/bin")]);
    let trials = llm_contract::run::harness::trials(&Paths::under(&root()), &ctx).unwrap();
    assert!(trials.iter().all(|t| !t.name().starts_with("litellm::")));
}

#[test]
fn old_fixtures_are_noted_and_fail_past_the_max_age() {
    let dir = suite_copy();
    // The documented fixtures are dated 2026-11-21; make one a year older.
    let f = dir.path().join("fixtures/cometapi/happy_path.json");
    let t = std::fs::read_to_string(&f)
        .unwrap()
        .replace("\"date\": \"2026-11-21\"", "\"date\": \"2025-01-01\"");
    std::fs::write(&f, t).unwrap();
    let (out, reports) = run_in(dir.path(), &["--case", "happy_path"]);
    let (stdout, _) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "an old fixture is only noted by default: {stdout}"
    );
    assert!(stdout.contains("days old; re-record it"), "{stdout}");
    assert_eq!(
        case(&report(reports.path()), "cometapi::happy_path")["notes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (out, reports) = run_in(
        dir.path(),
        &["--case", "happy_path", "--max-fixture-age", "30"],
    );
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    let c = case(&report(reports.path()), "cometapi::happy_path").clone();
    assert!(
        c["failures"]
            .to_string()
            .contains("past --max-fixture-age 30"),
        "{c}"
    );
}

/// A copy of the repository's suite whose `streaming` case requires `n` and whose fixture now
/// refuses it: `unsupported` by default, a failure under `--require n`.
fn suite_refusing_n() -> tempfile::TempDir {
    let dir = common::suite_copy();
    common::edit(
        &dir.path().join("contracts/chat_completions/streaming.yaml"),
        "auth: valid",
        "auth: valid\nrequires: [n]",
    );
    let fixture = dir.path().join("fixtures/cometapi/streaming.json");
    let mut f: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    f["response"] = serde_json::json!({
        "status": 400,
        "headers": {"content-type": "application/json"},
        "body": {"error": {"message": "n is not supported with this model (a test's edit)",
                 "type": "invalid_request_error", "param": "n", "code": null}}
    });
    std::fs::write(&fixture, serde_json::to_string_pretty(&f).unwrap()).unwrap();
    dir
}

#[test]
fn an_unsupported_capability_passes_the_run_unless_required() {
    let suite = suite_refusing_n();
    let (out, reports) = common::run_offline(suite.path(), &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 unsupported"), "{stdout}");
    let r = common::report(reports.path());
    assert_eq!(
        common::case(&r, "cometapi::streaming")["verdict"],
        "unsupported"
    );

    let (out, reports) = common::run_offline(suite.path(), &["--require", "n"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let r = common::report(reports.path());
    let c = common::case(&r, "cometapi::streaming");
    assert_eq!(c["verdict"], "fail");
    assert_eq!(c["class"], "configuration_drift");
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("`n` is not offered, which is required here"),
        "{c}"
    );

    let (out, _) = common::run_offline(suite.path(), &["--require", "tool"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown capability `tool`: did you mean `tools`?"),
        "{stderr}"
    );
}

/// The harness takes `LLM_CONTRACT_REQUIRE` as `run` takes `--require`: the fault suite's
/// `unsupported_n` passes (unsupported) without it and fails with `n` required; an unknown name
/// stops the harness.
#[test]
fn the_harness_requires_capabilities_from_the_environment() {
    use llm_contract::context::Context;
    use llm_contract::Paths;
    let faults = root().join("tests/faults");
    let paths = Paths {
        contracts: faults.join("contracts"),
        fixtures: faults.join("fixtures"),
        schemas: root().join("contracts/schemas"),
    };
    for (vars, failed) in [(vec![], 0), (vec![("LLM_CONTRACT_REQUIRE", "tools,n")], 1)] {
        let ctx = Context::from_map(vars);
        let trials = llm_contract::harness::trials(&paths, &ctx).unwrap();
        let args = libtest_mimic::Arguments::from_iter([
            "harness",
            "--exact",
            "faults::unsupported_n",
            "--test-threads",
            "1",
            "--quiet",
        ]);
        let c = libtest_mimic::run(&args, trials);
        assert_eq!((c.num_passed, c.num_failed), (1 - failed, failed));
    }
    let ctx = Context::from_map([("LLM_CONTRACT_REQUIRE", "tool")]);
    let e = llm_contract::harness::trials(&paths, &ctx).err().unwrap();
    assert!(e.contains("unknown capability `tool`"), "{e}");
}
