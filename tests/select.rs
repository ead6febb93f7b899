//! Choosing cases and growing a suite, through the binary and the harness: `--case` exact ids,
//! substrings and globs, repeated; `--tag`; errors with close matches; the same in `list` and in
//! the `cargo test` harness (`LLM_CONTRACT_TAG`, a glob filter).

mod common;

use std::path::Path;

use common::{llm_contract, report, root, run_offline, text};
use llm_contract::context::Context;
use llm_contract::contract::suite::Paths;

/// The case ids of a run's report.json, sorted.
fn ran(reports: &Path) -> Vec<String> {
    let mut ids: Vec<String> = report(reports)["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// `run` offline on the repository's suite; the exit code, the ran ids and stderr.
fn run(extra: &[&str]) -> (Option<i32>, Vec<String>, String) {
    let (out, reports) = run_offline(&root(), extra);
    let (stdout, stderr) = text(&out);
    let ids = if out.status.code() == Some(2) {
        Vec::new()
    } else {
        ran(reports.path())
    };
    assert!(matches!(out.status.code(), Some(0 | 2)), "{stdout}{stderr}");
    (out.status.code(), ids, stderr)
}

#[test]
fn case_takes_globs_against_the_full_id_and_the_case_id() {
    let (code, ids, _) = run(&["--case", "cometapi::stream*"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        ids,
        [
            "cometapi::streaming",
            "cometapi::streaming_usage_arithmetic",
            "cometapi::streaming_with_usage",
            "cometapi::streaming_without_usage"
        ]
    );
    // Against the bare case id, `?` one character.
    let (code, ids, _) = run(&["--case", "video_?appy_*"]);
    assert_eq!(code, Some(0));
    assert_eq!(ids, ["cometapi::video_happy_path"]);
}

#[test]
fn case_is_repeatable_and_an_exact_id_is_only_that_case() {
    // `happy_path` names a case: not messages_happy_path, images_happy_path, ... too.
    let (code, ids, _) = run(&["--case", "happy_path", "--case", "unknown_model"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        ids,
        [
            "cometapi::happy_path",
            "cometapi::unknown_model",
            "openai_compatible::happy_path",
            "openai_compatible::unknown_model"
        ]
    );
    // A text no case has as its id is still a substring, as before.
    let (code, ids, _) = run(&["--case", "happy_pat"]);
    assert_eq!(code, Some(0));
    // Every family's happy path (a new family adds its own).
    assert!(ids.len() >= 5, "{ids:?}");
    assert!(
        ids.contains(&"cometapi::messages_happy_path".to_string()),
        "{ids:?}"
    );
    assert!(ids.iter().all(|i| i.contains("happy_pat")), "{ids:?}");
}

#[test]
fn tag_selects_cases_with_any_of_the_tags_and_narrows_case() {
    let (code, ids, _) = run(&["--tag", "video", "--tag", "images"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        ids,
        [
            "cometapi::images_b64_json",
            "cometapi::images_bad_size",
            "cometapi::images_happy_path",
            "cometapi::images_missing_auth",
            "cometapi::images_n",
            "cometapi::images_n_not_offered",
            "cometapi::images_size",
            "cometapi::images_unsupported_parameter",
            "cometapi::video_happy_path",
            "cometapi::video_invalid_seconds",
            "cometapi::video_invalid_size",
            "cometapi::video_missing_auth",
            "cometapi::video_missing_prompt",
            "cometapi::video_task_shape",
            "openai_compatible::images_b64_json",
            "openai_compatible::images_bad_size",
            "openai_compatible::images_happy_path",
            "openai_compatible::images_missing_auth",
            "openai_compatible::images_n",
            "openai_compatible::images_n_not_offered",
            "openai_compatible::images_size",
            "openai_compatible::images_unsupported_parameter",
        ]
    );
    let (code, ids, _) = run(&["--tag", "streaming", "--case", "*responses*"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        ids,
        [
            "cometapi::responses_function_call_streaming",
            "cometapi::responses_streaming",
            "openai_compatible::responses_function_call_streaming",
            "openai_compatible::responses_streaming"
        ]
    );
}

#[test]
fn an_unknown_tag_or_a_pattern_matching_nothing_exits_2_with_close_matches() {
    let (code, _, stderr) = run(&["--tag", "vidoe"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no case has the tag `vidoe`"), "{stderr}");
    assert!(stderr.contains("close matches: video"), "{stderr}");
    let (code, _, stderr) = run(&["--case", "cometapi::streamng*"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("no case matches `cometapi::streamng*`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("close matches: cometapi::streaming"),
        "{stderr}"
    );
    // Both at once, and nothing ran.
    let (out, reports) = run_offline(&root(), &["--case", "nope*", "--tag", "smoek"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("`nope*`") && stderr.contains("`smoek`"),
        "{stderr}"
    );
    assert!(!stdout.contains("PASS"), "{stdout}");
    assert!(!reports.path().join("latest").exists());
}

#[test]
fn list_and_record_take_the_same_selection() {
    let out = llm_contract(
        &["list", "--tag", "messages", "--case", "*stream*"],
        &[],
        &root(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let listed: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "cometapi::messages_streaming",
            "cometapi::messages_thinking_streaming",
            "cometapi::messages_tool_use_streaming"
        ]
    );
    let out = llm_contract(&["list", "--tag", "nope"], &[], &root());
    assert_eq!(out.status.code(), Some(2));
    // record resolves its selection before it needs a key or sends anything.
    let out = llm_contract(
        &["record", "--target", "cometapi", "--case", "hapy_path"],
        &[],
        &root(),
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("close matches: happy_path"), "{stderr}");
}

#[test]
fn the_harness_selects_by_llm_contract_tag_and_by_glob() {
    let paths = Paths::under(&root());
    let ctx = Context::from_map([("LLM_CONTRACT_TAG", "video")]);
    let trials = llm_contract::run::harness::trials(&paths, &ctx).unwrap();
    let names: Vec<&str> = trials.iter().map(|t| t.name()).collect();
    assert_eq!(
        names,
        [
            "cometapi::video_happy_path",
            "cometapi::video_invalid_seconds",
            "cometapi::video_invalid_size",
            "cometapi::video_missing_auth",
            "cometapi::video_missing_prompt",
            "cometapi::video_task_shape",
        ]
    );
    let ctx = Context::from_map([("LLM_CONTRACT_TAG", "smoke")]);
    let trials =
        llm_contract::run::harness::selected(&paths, &ctx, vec!["cometapi::*".into()]).unwrap();
    let names: Vec<&str> = trials.iter().map(|t| t.name()).collect();
    assert_eq!(names, ["cometapi::happy_path"]);
    let ctx = Context::from_map([("LLM_CONTRACT_TAG", "vidoe")]);
    let err = llm_contract::run::harness::trials(&paths, &ctx)
        .err()
        .unwrap();
    assert!(err.contains("close matches: video"), "{err}");
    let err =
        llm_contract::run::harness::selected(&paths, &Context::default(), vec!["x?y*".into()])
            .err()
            .unwrap();
    assert!(err.contains("no case matches `x?y*`"), "{err}");
}

/// A copy of the repository's suite with a new case that no target has recorded yet.
fn grown_suite() -> tempfile::TempDir {
    let dir = common::suite_copy();
    std::fs::write(
        dir.path().join("contracts/chat_completions/brand_new.yaml"),
        "id: brand_new\ndescription: A case added after the fixtures were recorded.\nauth: valid\ntags: [fresh]\nrequest:\n  body:\n    model: ${model}\n    messages: [{role: user, content: Say pong.}]\nexpect:\n  status: 200\n  class: ok\n",
    )
    .unwrap();
    dir
}

#[test]
fn a_case_not_recorded_is_skipped_and_counted_in_the_summary_and_the_report() {
    let dir = grown_suite();
    let (out, reports) = run_offline(dir.path(), &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let n = common::replayed_cases(dir.path());
    assert!(
        stdout.contains(&format!(
            "{} passed, 0 failed, 0 errors, 2 skipped ({n} cases)",
            n - 2
        )),
        "{stdout}"
    );
    assert!(stdout.contains("SKIP  cometapi::brand_new"), "{stdout}");
    assert!(
        stdout.contains("why: not recorded for cometapi"),
        "{stdout}"
    );
    let r = report(reports.path());
    // cometapi and openai_compatible replay by default: the new case is skipped on each.
    assert_eq!(r["summary"]["skipped"], 2, "{}", r["summary"]);
    let c = common::case(&r, "cometapi::brand_new");
    assert_eq!(
        (
            c["verdict"].as_str(),
            c["class"].as_str(),
            c["reason"].as_str()
        ),
        (Some("skip"), Some("ok"), Some("not recorded for cometapi"))
    );
    assert_eq!(c["failures"].as_array().map(Vec::len), Some(0), "{c}");
}

#[test]
fn require_fixtures_fails_a_case_not_recorded() {
    let dir = grown_suite();
    let (out, reports) = run_offline(dir.path(), &["--require-fixtures", "--tag", "fresh"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let c = common::case(&report(reports.path()), "cometapi::brand_new").clone();
    assert_eq!(
        (
            c["verdict"].as_str(),
            c["class"].as_str(),
            c["reason"].as_str()
        ),
        (
            Some("fail"),
            Some("configuration_drift"),
            Some("not recorded for cometapi (--require-fixtures)")
        )
    );
    assert!(
        c["failures"]
            .to_string()
            .contains("llm-contract record --target cometapi --case brand_new"),
        "{c}"
    );
    // Every recorded case still passes with it.
    let (out, _) = run_offline(dir.path(), &["--require-fixtures", "--case", "happy_path"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

#[test]
fn the_harness_ignores_a_case_not_recorded_unless_fixtures_are_required() {
    let dir = grown_suite();
    let paths = Paths::under(dir.path());
    let trials = llm_contract::run::harness::trials(&paths, &Context::default()).unwrap();
    let fresh = |t: &libtest_mimic::Trial| t.name().ends_with("::brand_new");
    assert_eq!(trials.iter().filter(|t| fresh(t)).count(), 2);
    assert!(trials
        .iter()
        .filter(|t| fresh(t))
        .all(|t| t.has_ignored_flag()));
    assert!(trials
        .iter()
        .filter(|t| !fresh(t))
        .all(|t| !t.has_ignored_flag()));
    let ctx = Context::from_map([
        ("LLM_CONTRACT_REQUIRE_FIXTURES", "1"),
        ("LLM_CONTRACT_TAG", "fresh,smoke"),
    ]);
    let trials = llm_contract::run::harness::trials(&paths, &ctx).unwrap();
    assert!(trials.iter().all(|t| !t.has_ignored_flag()));
    // Run, the case not recorded fails: in a child process (this test binary again), so the
    // nested harness's report of a failure is read here rather than printed into this run's.
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "harness_child_runs_a_grown_suite_requiring_fixtures",
            "--nocapture",
        ])
        .env(CHILD, dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&child);
    assert!(
        stdout.contains("cometapi::brand_new") && stdout.contains("2 passed; 2 failed"),
        "{stdout}{stderr}"
    );
    assert!(
        stdout.contains("not recorded for cometapi (--require-fixtures)"),
        "{stdout}"
    );
    assert_eq!(child.status.code(), Some(0), "{stdout}{stderr}");
}

/// Set for the child process of the test above: the grown suite's directory.
const CHILD: &str = "LLM_CONTRACT_SELECT_TEST_CHILD";

/// Only does something in the child process of the test above: runs the harness on the grown
/// suite with fixtures required and checks one trial passed and one failed.
#[test]
fn harness_child_runs_a_grown_suite_requiring_fixtures() {
    let Ok(dir) = std::env::var(CHILD) else {
        return;
    };
    let ctx = Context::from_map([
        ("LLM_CONTRACT_REQUIRE_FIXTURES", "1"),
        ("LLM_CONTRACT_TAG", "fresh,smoke"),
    ]);
    let trials = llm_contract::run::harness::trials(&Paths::under(Path::new(&dir)), &ctx).unwrap();
    let args = libtest_mimic::Arguments::from_iter(["contracts", "--test-threads", "1"]);
    let done = libtest_mimic::run(&args, trials);
    assert_eq!((done.num_passed, done.num_failed), (2, 2), "{done:?}");
}

#[test]
fn lint_notes_cases_not_recorded_and_stays_clean() {
    let dir = grown_suite();
    let contracts = dir.path().join("contracts");
    let fixtures = dir.path().join("fixtures");
    let out = llm_contract(
        &[
            "lint",
            "--contracts",
            contracts.to_str().unwrap(),
            "--fixtures",
            fixtures.to_str().unwrap(),
        ],
        &[],
        dir.path(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    // cometapi, openai_compatible and litellm have fixtures and serve chat completions: a note
    // for each.
    for target in ["cometapi", "openai_compatible", "litellm"] {
        assert!(
            stdout.contains(&format!(
                "note: {target}::brand_new is not recorded (no {})",
                fixtures.join(target).join("brand_new.json").display()
            )),
            "{stdout}"
        );
    }
    assert_eq!(stdout.matches("note: ").count(), 3, "{stdout}");
    assert!(
        stdout.trim_end().ends_with("; 3 case(s) not recorded"),
        "{stdout}"
    );
}

#[test]
fn offline_each_case_replays_the_model_its_fixture_recorded() {
    // The target's models moved on; the fixtures were recorded with the old ones and still
    // replay, each with its own. A case's literal model is still compared as it is.
    let dir = common::suite_copy();
    let target = dir.path().join("contracts/targets/cometapi.yaml");
    common::edit(&target, "  model: gpt-5.4-mini", "  model: gpt-9-new");
    common::edit(
        &target,
        "  messages_model: claude-haiku-4-5",
        "  messages_model: claude-x",
    );
    // A request without a body (GET /models/${model}) replays the model its recorded path
    // names, as a body's `model` does.
    let (out, _) = run_offline(dir.path(), &["--case", "models_retrieve"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("no longer matches"), "{stdout}");
    // The listing recorded before the target's model moved on does not list the new one: that
    // case's fixture must be recorded again (its `model_listed` invariant reads the target's
    // `${model}`). Set aside here.
    std::fs::remove_file(
        dir.path()
            .join("fixtures/cometapi/models_configured_listed.json"),
    )
    .unwrap();
    let (out, reports) = run_offline(dir.path(), &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let r = report(reports.path());
    assert_eq!(
        common::case(&r, "cometapi::happy_path")["model"],
        "gpt-5.4-mini"
    );
    assert_eq!(
        common::case(&r, "cometapi::messages_happy_path")["model"],
        "claude-haiku-4-5"
    );
    let unknown = dir
        .path()
        .join("contracts/chat_completions/unknown_model.yaml");
    common::edit(
        &unknown,
        "llm-contract-no-such-model",
        "llm-contract-other-model",
    );
    let (out, _) = run_offline(dir.path(), &["--case", "unknown_model"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("no longer matches the recorded one"),
        "{stdout}"
    );
}
