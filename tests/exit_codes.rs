//! The exit codes CI gates on, one test per code, each running the real binary:
//! 0 every case passed; 1 a contract failure or drift; 2 a configuration or contract-file error;
//! 3 transport or harness errors only. And `lint`: 0 clean (cases not recorded are notes), 2 with
//! problems at file:line:col.

mod common;

use std::path::Path;

use common::{edit, files, llm_contract, root, suite_copy, text, Mock};
use llm_contract::contract::suite::Paths;

/// `run` offline on a suite directory; returns the exit code, stdout and stderr.
fn run(suite: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let (out, _reports) = common::run_offline(suite, extra);
    let (stdout, stderr) = text(&out);
    (out.status.code(), stdout, stderr)
}

#[test]
fn exit_0_when_every_case_passes() {
    let (code, stdout, stderr) = run(&root(), &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let n = common::replayed_cases(&root());
    assert!(
        stdout.contains(&format!("{n} passed, 0 failed, 0 errors, 0 skipped")),
        "{stdout}"
    );
}

#[test]
fn exit_1_on_a_contract_failure() {
    let dir = suite_copy();
    edit(
        &dir.path()
            .join("contracts/chat_completions/happy_path.yaml"),
        "  status: 200",
        "  status: 201",
    );
    let (code, stdout, stderr) = run(dir.path(), &[]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    // The one edited case fails on each replayed target (cometapi, openai_compatible); every
    // other case of the suite passes.
    let n = common::replayed_cases(dir.path());
    assert!(
        stdout.contains(&format!("{} passed, 2 failed, 0 errors", n - 2)),
        "{stdout}"
    );
}

#[test]
fn exit_1_on_contract_drift_live() {
    // A 200 whose body lost `choices`: the API changed under the contract.
    let mock = Mock::start();
    let reports = tempfile::tempdir().unwrap();
    let base = mock.base("missing-field");
    let out = common::live_run(
        &base,
        "LLMC_TEST_KEY",
        "test-key-exit-0001",
        &["--case", "happy_path"],
        reports.path(),
        &root(),
    );
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    let r = common::report(reports.path());
    assert_eq!(
        common::case(&r, "openai_compatible::happy_path")["class"],
        "contract_drift"
    );
}

#[test]
fn exit_2_on_a_broken_case_file_and_nothing_runs() {
    let dir = suite_copy();
    edit(
        &dir.path().join("contracts/chat_completions/streaming.yaml"),
        "  class: ok",
        "  clas: ok",
    );
    let (code, stdout, stderr) = run(dir.path(), &[]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("streaming.yaml:"), "{stderr}");
    assert!(!stdout.contains("PASS"), "nothing runs: {stdout}");
}

#[test]
fn exit_3_when_nothing_could_be_judged() {
    // The recorded endpoint resets the connection before any answer, and nothing is retried:
    // the case is an error, and there is nothing else.
    let dir = suite_copy();
    let f = dir.path().join("fixtures/cometapi/happy_path.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    doc["response"] = serde_json::json!({"reset_before_headers": true});
    std::fs::write(&f, doc.to_string()).unwrap();
    let (code, stdout, stderr) = run(
        dir.path(),
        &["--case", "cometapi::happy_path", "--retries", "0"],
    );
    assert_eq!(code, Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains("0 passed, 0 failed, 1 errors, 0 skipped"),
        "{stdout}"
    );
}

#[test]
fn the_help_documents_every_exit_code() {
    for args in [&["--help"][..], &["run", "--help"][..]] {
        let out = llm_contract(args, &[], &root());
        let (stdout, _) = text(&out);
        assert_eq!(out.status.code(), Some(0));
        for code in [
            "0 every case passed",
            "1 a contract failure or drift",
            "2 a configuration or contract-file error",
            "3 transport or harness errors only",
        ] {
            assert!(stdout.contains(code), "{args:?}: {code}\n{stdout}");
        }
    }
    let out = llm_contract(&["lint", "--help"], &[], &root());
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("0 no problem found; 2 problems"),
        "{stdout}"
    );
}

fn lint(suite: &Path) -> (Option<i32>, String) {
    let contracts = suite.join("contracts");
    let fixtures = suite.join("fixtures");
    let out = llm_contract(
        &[
            "lint",
            "--contracts",
            contracts.to_str().unwrap(),
            "--fixtures",
            fixtures.to_str().unwrap(),
        ],
        &[],
        suite,
    );
    (out.status.code(), text(&out).0)
}

#[test]
fn lint_is_clean_on_the_repository_and_sends_nothing() {
    let (code, stdout) = lint(&root());
    assert_eq!(code, Some(0), "{stdout}");
    // What lint says it checked, counted on disk: case files (YAML outside targets/), target
    // files, schema files and fixture files; and the plans, every case a target serves for
    // every target, from the library.
    let contracts = root().join("contracts");
    let with_ext = |dir: &Path, exts: &[&str]| {
        files(dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| exts.iter().any(|x| e == *x)))
            .collect::<Vec<_>>()
    };
    let yaml = with_ext(&contracts, &["yaml", "yml"]);
    let targets = yaml
        .iter()
        .filter(|p| p.starts_with(contracts.join("targets")))
        .count();
    let cases = yaml.len() - targets;
    let schemas = with_ext(&contracts.join("schemas"), &["json"]).len();
    let fixtures = with_ext(&root().join("fixtures"), &["json"]).len();
    let suite = common::load_suite(&Paths::under(&root()));
    let plans = suite.plans(&suite.contracts.targets, None).unwrap().len();
    assert_eq!(
        stdout.trim(),
        format!(
            "lint: no problems: {cases} cases, {targets} targets ({plans} plans), \
             {schemas} schemas, {fixtures} fixtures"
        )
    );
}

#[test]
fn lint_names_each_problem_at_file_line_column_and_exits_2() {
    let dir = suite_copy();
    let c = dir.path().join("contracts");
    // An undefined placeholder (found only by planning for every target).
    edit(
        &c.join("chat_completions/missing_auth.yaml"),
        "${model}",
        "${modle}",
    );
    // A fixture whose case was renamed away.
    std::fs::rename(
        dir.path().join("fixtures/cometapi/invalid_role.json"),
        dir.path().join("fixtures/cometapi/invalid_rol.json"),
    )
    .unwrap();
    let (code, stdout) = lint(dir.path());
    assert_eq!(code, Some(2), "{stdout}");
    let placeholder = regex::Regex::new(r"missing_auth\.yaml:\d+:\d+").unwrap();
    assert!(placeholder.is_match(&stdout), "{stdout}");
    assert!(stdout.contains("did you mean `${model}`?"), "{stdout}");
    assert!(
        stdout.contains("fixture for case `invalid_rol`, which does not exist"),
        "{stdout}"
    );
    assert!(stdout.contains("did you mean `invalid_role`?"), "{stdout}");
    // The case whose fixture was renamed away is not recorded: a note, not a problem.
    assert!(
        stdout.contains("note: cometapi::invalid_role is not recorded (no "),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("problem(s)"), "{stdout}");

    // A YAML error stops loading: still exit 2, with its location.
    edit(
        &c.join("chat_completions/happy_path.yaml"),
        "  status: 200",
        "  stauts: 200",
    );
    let (code, stdout) = lint(dir.path());
    assert_eq!(code, Some(2), "{stdout}");
    let at = regex::Regex::new(r"happy_path\.yaml:\d+:\d+").unwrap();
    assert!(at.is_match(&stdout), "{stdout}");
}
