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
fn the_live_workflow_is_scheduled_uses_the_action_the_secret_and_always_reports() {
    let wf = workflow("live.yml");
    assert!(wf["on"]["schedule"]
        .as_sequence()
        .is_some_and(|s| !s.is_empty()));
    let s = steps(&wf, "live");
    // The repository's own action runs the suite live (and appends the summary: see below).
    let live = step(s, |s| s["uses"].as_str() == Some("./"), "uses the action");
    assert_eq!(live["with"]["target"].as_str(), Some("cometapi"));
    assert_eq!(
        live["with"]["api-key-env"].as_str(),
        Some("COMETAPI_API_KEY")
    );
    assert!(live["with"]["args"]
        .as_str()
        .unwrap()
        .contains("--quota-is-skip"));
    assert_eq!(
        live["env"]["COMETAPI_API_KEY"].as_str(),
        Some("${{ secrets.COMETAPI_API_KEY }}")
    );
    assert_eq!(action()["inputs"]["live"]["default"].as_str(), Some("true"));
    let upload = step(s, |s| uses(s, "actions/upload-artifact"), "uploads");
    assert_eq!(upload["if"].as_str(), Some("always()"));
    assert!(upload["with"]["path"]
        .as_str()
        .unwrap()
        .contains("reports/"));
}

fn action() -> Value {
    let path = root().join("action.yml");
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The action's step that runs the suite.
fn action_run_script() -> String {
    let a = action();
    let steps = a["runs"]["steps"].as_sequence().expect("composite steps");
    run_text(step(
        steps,
        |s| s["id"].as_str() == Some("run"),
        "runs the suite",
    ))
    .to_string()
}

#[test]
fn the_action_is_composite_installs_from_its_path_and_names_real_flags() {
    let a = action();
    assert_eq!(a["runs"]["using"].as_str(), Some("composite"));
    for input in ["target", "base-url", "api-key-env", "model", "args", "live"] {
        assert!(a["inputs"].get(input).is_some(), "no input {input}");
    }
    let steps = a["runs"]["steps"].as_sequence().unwrap();
    let install = step(steps, |s| run_text(s).contains("cargo install"), "installs");
    assert!(run_text(install).contains("--path \"$GITHUB_ACTION_PATH\""));
    assert!(run_text(install).contains("--locked"));
    // Every flag the script passes to `run` is one `run --help` lists.
    let script = action_run_script();
    let help = Command::new(env!("CARGO_BIN_EXE_llm-contract"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let mut flags = 0;
    for word in script.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
        if let Some(flag) = word.strip_prefix("--") {
            if flag.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !flag.is_empty() {
                flags += 1;
                assert!(help.contains(&format!("--{flag}")), "run has no --{flag}");
            }
        }
    }
    assert!(flags >= 5, "{script}");
    assert!(script.contains("$GITHUB_STEP_SUMMARY"));
}

/// Runs the action's script as GitHub would (bash -eo pipefail), with the built binary on PATH,
/// against a suite directory, offline.
fn run_action(suite: &Path, args: &str) -> (Option<i32>, String, String, String) {
    let script = action_run_script();
    let tmp = tempfile::tempdir().unwrap();
    let summary = tmp.path().join("summary");
    let output = tmp.path().join("output");
    let bin = Path::new(env!("CARGO_BIN_EXE_llm-contract"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
        .current_dir(suite)
        .env("PATH", path)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &output)
        .env("INPUT_TARGET", "cometapi")
        .env("INPUT_BASE_URL", "")
        .env("INPUT_API_KEY_ENV", "")
        .env("INPUT_MODEL", "")
        .env("INPUT_LIVE", "false")
        .env("INPUT_ARGS", args)
        .env("INPUT_REPORTS", tmp.path().join("reports"))
        .env_remove("CI")
        .output()
        .unwrap();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        read(&summary),
        read(&output),
    )
}

#[test]
fn the_action_runs_the_suite_appends_the_summary_and_exits_with_its_code() {
    let (code, out, summary, output) = run_action(
        &root(),
        "--time-scale 0 --require-fixtures --case happy_path",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(summary.contains("happy_path"), "{summary}");
    assert_eq!(output.trim(), "exit-code=0");

    let failing = tempfile::tempdir().unwrap();
    copy_dir(&root().join("contracts"), &failing.path().join("contracts"));
    copy_dir(&root().join("fixtures"), &failing.path().join("fixtures"));
    let happy = failing
        .path()
        .join("contracts/chat_completions/happy_path.yaml");
    let text = std::fs::read_to_string(&happy).unwrap();
    std::fs::write(&happy, text.replacen("  status: 200", "  status: 201", 1)).unwrap();
    let (code, out, summary, output) =
        run_action(failing.path(), "--time-scale 0 --case happy_path");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        summary.contains("happy_path"),
        "the summary is appended on failure: {summary}"
    );
    assert_eq!(output.trim(), "exit-code=1");

    // Nothing ran: the summary says so.
    let (code, _, summary, _) = run_action(failing.path(), "--target-typo");
    assert_eq!(code, Some(2));
    assert!(summary.contains("No report was written"), "{summary}");
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
        "cargo test --locked --test init -- --ignored",
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
    // And the crate `init` makes is built and tested, not only scaffolded.
    assert!(
        ci.contains("cargo test --locked --test init -- --ignored"),
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

/// `cargo package` can publish the crate: its metadata, licence files and include list hold
/// (`cargo package --locked` itself, which builds, is run by hand: see docs/adopting.md).
#[test]
fn the_manifest_is_ready_to_publish() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    for key in [
        "description = ",
        "license = \"MIT OR Apache-2.0\"",
        "readme = \"README.md\"",
        "keywords = ",
        "categories = ",
        "rust-version = ",
    ] {
        assert!(manifest.contains(key), "Cargo.toml lacks {key}");
    }
    for f in [
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "README.md",
        "build.rs",
        "action.yml",
    ] {
        assert!(root().join(f).is_file(), "{f} is missing");
    }
    let start = manifest.find("include = [").expect("an include list");
    let list = &manifest[start..start + manifest[start..].find(']').unwrap()];
    let included: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
    // What build.rs embeds and what the docs link must ship; the repository's own suite
    // machinery must not.
    for needed in [
        "/build.rs",
        "/src/**",
        "/contracts/**",
        "/docs/**",
        "/LICENSE-MIT",
        "/LICENSE-APACHE",
        "/README.md",
        "/action.yml",
    ] {
        assert!(
            included.contains(&needed),
            "include lacks {needed}: {included:?}"
        );
    }
    for item in &included {
        let path = root().join(item.trim_start_matches('/').trim_end_matches("/**"));
        assert!(path.exists(), "include names {item}, which does not exist");
        assert!(
            !item.starts_with("/fixtures")
                && !item.starts_with("/reports")
                && !item.starts_with("/.ci")
        );
    }
}
