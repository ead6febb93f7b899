//! The ready-made CI pieces: the GitHub workflows keep what they promise (the live job's secret,
//! reports uploaded and summarized even when the run fails), and the release gate's decision on
//! each exit code, run for real with the binary on offline suites.

mod common;

use std::path::Path;
use std::process::Command;

use serde_yaml::Value;

use common::{copy_dir, root};

fn workflow(name: &str) -> Value {
    let path = root().join(".github/workflows").join(name);
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn steps<'a>(wf: &'a Value, job: &str) -> &'a Vec<Value> {
    wf["jobs"][job]["steps"]
        .as_sequence()
        .unwrap_or_else(|| panic!("no steps in job {job}"))
}

fn step<'a>(steps: &'a [Value], pred: impl Fn(&Value) -> bool, what: &str) -> &'a Value {
    steps
        .iter()
        .find(|s| pred(s))
        .unwrap_or_else(|| panic!("no step that {what}"))
}

fn run_text(s: &Value) -> &str {
    s["run"].as_str().unwrap_or("")
}

fn uses(s: &Value, action: &str) -> bool {
    s["uses"]
        .as_str()
        .is_some_and(|u| u.starts_with(&format!("{action}@")))
}

#[test]
fn the_live_workflow_is_scheduled_uses_the_secret_and_always_reports() {
    let wf = workflow("live.yml");
    assert!(wf["on"]["schedule"]
        .as_sequence()
        .is_some_and(|s| !s.is_empty()));
    let s = steps(&wf, "live");
    let live = step(s, |s| run_text(s).contains("run --live"), "runs live");
    assert!(run_text(live).contains("cargo run --release"));
    assert_eq!(
        live["env"]["COMETAPI_API_KEY"].as_str(),
        Some("${{ secrets.COMETAPI_API_KEY }}")
    );
    let upload = step(s, |s| uses(s, "actions/upload-artifact"), "uploads");
    assert_eq!(upload["if"].as_str(), Some("always()"));
    assert!(upload["with"]["path"]
        .as_str()
        .unwrap()
        .contains("reports/"));
    let summary = step(
        s,
        |s| run_text(s).contains("$GITHUB_STEP_SUMMARY"),
        "writes the step summary",
    );
    assert_eq!(summary["if"].as_str(), Some("always()"));
    assert!(run_text(summary).contains("reports/latest/summary.md"));
}

#[test]
fn the_release_gate_and_pr_workflows_run_what_they_say() {
    let gate = workflow("release-gate.yml");
    assert!(gate["on"].get("workflow_dispatch").is_some());
    assert!(gate["on"].get("release").is_some());
    let s = steps(&gate, "gate");
    let live = step(
        s,
        |s| run_text(s).contains("scripts/release-gate.sh --live"),
        "runs the gate",
    );
    assert_eq!(
        live["env"]["COMETAPI_API_KEY"].as_str(),
        Some("${{ secrets.COMETAPI_API_KEY }}")
    );
    assert_eq!(
        step(s, |s| uses(s, "actions/upload-artifact"), "uploads")["if"].as_str(),
        Some("always()")
    );

    let pr = workflow("pr.yml");
    assert!(pr["on"].get("pull_request").is_some());
    let s = steps(&pr, "check");
    for cmd in [
        "cargo test",
        "cargo run --locked -- run --require-fixtures",
        "cargo run --locked -- lint",
    ] {
        step(s, |s| run_text(s).contains(cmd), cmd);
    }
    // .ci/run's recorded run, too: a case not recorded fails CI rather than passing as skipped.
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.contains("cargo run --locked --quiet -- run --require-fixtures --reports"),
        "{ci}"
    );
    // No secret in the offline check.
    let text = std::fs::read_to_string(root().join(".github/workflows/pr.yml")).unwrap();
    assert!(!text.contains("secrets."));
    let t = steps(&pr, "tests");
    step(
        t,
        |s| run_text(s).contains("--partition count:${{ matrix.partition }}/2"),
        "runs a nextest partition",
    );
}

/// Runs scripts/release-gate.sh with the built binary on an offline suite.
fn gate(suite: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let reports = tempfile::tempdir().unwrap();
    let mut args = common::offline_args(suite, reports.path());
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = Command::new("bash")
        .arg(root().join("scripts/release-gate.sh"))
        .args(&args)
        .env("LLM_CONTRACT_BIN", env!("CARGO_BIN_EXE_llm-contract"))
        .env("GATE_RETRY_WAIT", "0")
        .env_remove("COMETAPI_API_KEY")
        .output()
        .expect("bash runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_release_gate_blocks_on_1_and_2_and_retries_3() {
    let (code, out) = gate(&root(), &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("gate: pass (every case passed)"), "{out}");

    let failing = tempfile::tempdir().unwrap();
    copy_dir(&root().join("contracts"), &failing.path().join("contracts"));
    copy_dir(&root().join("fixtures"), &failing.path().join("fixtures"));
    let happy = failing
        .path()
        .join("contracts/chat_completions/happy_path.yaml");
    let text = std::fs::read_to_string(&happy).unwrap();
    std::fs::write(&happy, text.replacen("  status: 200", "  status: 201", 1)).unwrap();
    let (code, out) = gate(failing.path(), &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("::error::gate: blocked: a contract failure"),
        "{out}"
    );

    let (code, out) = gate(failing.path(), &["--target", "no_such_target"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("::error::gate: blocked: a configuration"),
        "{out}"
    );

    // Errors only, twice: retried once, then passes unverified with a warning. The recorded
    // endpoint resets the connection before answering, and nothing is retried.
    let resetting = tempfile::tempdir().unwrap();
    copy_dir(
        &root().join("contracts"),
        &resetting.path().join("contracts"),
    );
    copy_dir(&root().join("fixtures"), &resetting.path().join("fixtures"));
    let f = resetting.path().join("fixtures/cometapi/happy_path.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    doc["response"] = serde_json::json!({"reset_before_headers": true});
    std::fs::write(&f, doc.to_string()).unwrap();
    let (code, out) = gate(
        resetting.path(),
        &["--case", "cometapi::happy_path", "--retries", "0"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("running once more"), "{out}");
    // The case is an error, in each run.
    let errors = "0 passed, 0 failed, 1 errors";
    assert_eq!(out.matches(errors).count(), 2, "two runs: {out}");
    assert!(out.contains("::warning::gate: pass, unverified"), "{out}");
}
