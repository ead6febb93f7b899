//! The reports a run writes: one recorded run whose cases pass, fail, error and skip, and the four
//! files it leaves in `reports/<run-id>/` and `reports/latest/` — JUnit (parsed back with
//! quick-junit), report.json (validated against contracts/report.schema.json), summary.md and
//! index.html — checked against each other and against what the terminal printed. And the
//! X-Client-Request-Id header, as a server receives it.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use serde_json::Value;

use common::{copy_dir, edit, llm_contract, root, text};

/// The repository's suite, edited so that one run has every verdict:
/// `happy_path` fails (it now expects 201), `invalid_role` errors (its fixture resets the
/// connection before any header), `missing_model` is skipped by the target, `streaming` is
/// unsupported (it requires `n`, and its fixture now refuses `n` with a 400); the rest pass.
fn mixed_suite() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("contracts"), &dir.path().join("contracts"));
    copy_dir(&root().join("fixtures"), &dir.path().join("fixtures"));
    let c = dir.path().join("contracts");
    edit(
        &c.join("chat_completions/happy_path.yaml"),
        "  status: 200",
        "  status: 201",
    );
    let target = c.join("targets/cometapi.yaml");
    let mut t = std::fs::read_to_string(&target).unwrap();
    t.push_str("skip:\n  missing_model: not offered by this gateway (a test's edit)\n");
    std::fs::write(&target, t).unwrap();
    edit(
        &c.join("chat_completions/streaming.yaml"),
        "auth: valid",
        "auth: valid\nrequires: [n]",
    );
    let fixture = dir.path().join("fixtures/cometapi/streaming.json");
    let mut f: Value = serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    f["response"] = serde_json::json!({
        "status": 400,
        "headers": {"content-type": "application/json"},
        "body": {"error": {"message": "n is not supported with this model (a test's edit)",
                 "type": "invalid_request_error", "param": "n", "code": null}}
    });
    std::fs::write(&fixture, serde_json::to_string_pretty(&f).unwrap()).unwrap();
    let fixture = dir.path().join("fixtures/cometapi/invalid_role.json");
    let mut f: Value = serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    f["response"] = serde_json::json!({"reset_before_headers": true});
    std::fs::write(&fixture, serde_json::to_string_pretty(&f).unwrap()).unwrap();
    // The stream ends cleanly after its finish and usage chunks, without `data: [DONE]`: it
    // passes with the deviation listed.
    let fixture = dir
        .path()
        .join("fixtures/cometapi/streaming_with_usage.json");
    let mut f: Value = serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    let chunks = f["response"]["chunks"].as_array_mut().unwrap();
    assert!(chunks.pop().unwrap()["data"]
        .as_str()
        .unwrap()
        .contains("[DONE]"));
    std::fs::write(&fixture, serde_json::to_string_pretty(&f).unwrap()).unwrap();
    dir
}

struct Run {
    stdout: String,
    code: Option<i32>,
    reports: tempfile::TempDir,
    suite: tempfile::TempDir,
    /// The cases of the suite it ran, from the loaded contracts.
    cases: usize,
}

impl Run {
    fn latest(&self, name: &str) -> String {
        std::fs::read_to_string(self.reports.path().join("latest").join(name))
            .unwrap_or_else(|e| panic!("latest/{name}: {e}"))
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.latest("report.json")).unwrap()
    }
}

fn mixed_run() -> Run {
    let suite = mixed_suite();
    // One target: the edits above are cometapi's fixtures (openai_compatible replays the same
    // cases from its own).
    let (out, reports) = common::run_offline(suite.path(), &["--target", "cometapi"]);
    let (stdout, stderr) = text(&out);
    assert!(stderr.is_empty(), "stderr:\n{stderr}");
    Run {
        stdout,
        code: out.status.code(),
        reports,
        cases: common::case_count(
            &llm_contract::contract::suite::Paths::under(suite.path()),
            &["cometapi"],
        ),
        suite,
    }
}

/// The mixed run, made once per test process and shared by the tests that check it: they only
/// read its stdout and its reports (each used to make the same run for itself).
static MIXED: OnceLock<Run> = OnceLock::new();

fn shared_mixed_run() -> &'static Run {
    MIXED.get_or_init(|| {
        let run = mixed_run();
        // SAFETY: `remove_mixed_run` is an `extern "C" fn()` that neither unwinds nor needs
        // anything the exiting process has already torn down (it reads a static).
        unsafe { libc::atexit(remove_mixed_run) };
        run
    })
}

/// A static is never dropped, so its temporary directories would outlive the tests: removed
/// when the test process exits instead.
extern "C" fn remove_mixed_run() {
    if let Some(run) = MIXED.get() {
        let _ = std::fs::remove_dir_all(run.reports.path());
        let _ = std::fs::remove_dir_all(run.suite.path());
    }
}

const FAILING: &str = "cometapi::happy_path";
const ERRORING: &str = "cometapi::invalid_role";
const SKIPPED: &str = "cometapi::missing_model";
const UNSUPPORTED: &str = "cometapi::streaming";
const DEVIATING: &str = "cometapi::streaming_with_usage";

fn verdicts(r: &Value) -> Vec<(String, String)> {
    r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

#[test]
fn a_mixed_run_writes_four_reports_in_its_own_directory_and_latest() {
    let run = shared_mixed_run();
    assert_eq!(run.code, Some(1), "a failing case exits 1:\n{}", run.stdout);
    let r = run.json();
    let v = verdicts(&r);
    assert_eq!(v.len(), run.cases);
    let of = |id: &str| v.iter().find(|(i, _)| i == id).unwrap().1.clone();
    assert_eq!(of(FAILING), "fail");
    assert_eq!(of(ERRORING), "error");
    assert_eq!(of(SKIPPED), "skip");
    assert_eq!(of(UNSUPPORTED), "unsupported");
    assert_eq!(r["summary"]["unsupported"], 1);
    // Every case but the four edited ones passes.
    assert_eq!(v.iter().filter(|(_, x)| x == "pass").count(), run.cases - 4);
    assert_eq!(r["exit_code"], 1);

    // reports/<run-id>/ and reports/latest/, the same four files, nothing half-written left.
    let run_id = r["run_id"].as_str().unwrap();
    let re = regex::Regex::new(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$").unwrap();
    assert!(re.is_match(run_id), "{run_id}");
    let mut dirs: Vec<String> = files_in(run.reports.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, vec![run_id.to_string(), "latest".to_string()]);
    for d in [run_id, "latest"] {
        let names: Vec<String> = files_in(&run.reports.path().join(d))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["index.html", "junit.xml", "report.json", "summary.md"],
            "{d}"
        );
    }
    for name in llm_contract::report::FILES {
        let a = std::fs::read(run.reports.path().join(run_id).join(name)).unwrap();
        let b = std::fs::read(run.reports.path().join("latest").join(name)).unwrap();
        assert_eq!(a, b, "{name} differs between {run_id}/ and latest/");
        assert!(
            !String::from_utf8_lossy(&a).contains('\x1b'),
            "{name}: ANSI"
        );
    }
    assert!(run.stdout.contains(&format!(
        "reports: {}",
        run.reports.path().join(run_id).display()
    )));

    // A second run adds its own directory and replaces latest/ (in a copy of the first run's
    // reports: the other tests read the first run's).
    let reports = tempfile::tempdir().unwrap();
    copy_dir(run.reports.path(), reports.path());
    let mut args = vec!["run".to_string()];
    args.extend(common::offline_args(run.suite.path(), reports.path()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = llm_contract(&refs, &[], run.suite.path());
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    let r2 = common::report(reports.path());
    assert_ne!(r2["run_id"], r["run_id"]);
    let mut dirs: Vec<String> = files_in(reports.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut expected = vec![
        run_id.to_string(),
        r2["run_id"].as_str().unwrap().to_string(),
        "latest".to_string(),
    ];
    expected.sort();
    assert_eq!(dirs, expected);
}

/// The block the terminal printed for a case: its line and the indented lines under it.
fn terminal_block(stdout: &str, id: &str) -> String {
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.split_whitespace().nth(1) == Some(id))
        .unwrap_or_else(|| panic!("{id} not in stdout:\n{stdout}"));
    let mut end = start + 1;
    while end < lines.len() && lines[end].starts_with("      ") {
        end += 1;
    }
    let mut block = lines[start..end].join("\n");
    block.push('\n');
    block
}

#[test]
fn junit_has_a_suite_per_target_and_failure_error_skipped_with_the_terminals_text() {
    let run = shared_mixed_run();
    let xml = run.latest("junit.xml");
    let report = Report::deserialize_from_str(&xml).expect("junit.xml parses back");
    assert_eq!(report.tests, run.cases);
    assert_eq!(report.failures, 1);
    assert_eq!(report.errors, 1);
    assert_eq!(report.test_suites.len(), 1);
    let suite = &report.test_suites[0];
    assert_eq!(suite.name.as_str(), "cometapi");
    assert_eq!(suite.test_cases.len(), run.cases);
    let mut seen = BTreeSet::new();
    for tc in &suite.test_cases {
        let id = format!("cometapi::{}", tc.name.as_str());
        seen.insert(id.clone());
        assert_eq!(tc.classname.as_ref().map(|c| c.as_str()), Some("cometapi"));
        let props: Vec<(&str, &str)> = tc
            .properties
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        for key in [
            "class",
            "status",
            "retries",
            "latency_ms",
            "ttfb_ms",
            "first_token_ms",
            "client_request_id",
        ] {
            assert!(props.iter().any(|(k, _)| *k == key), "{id}: no {key}");
        }
        match &tc.status {
            TestCaseStatus::Success { .. } => {
                assert!(
                    ![FAILING, ERRORING, SKIPPED, UNSUPPORTED].contains(&id.as_str()),
                    "{id} passed"
                );
            }
            TestCaseStatus::NonSuccess {
                kind,
                description,
                ty,
                ..
            } => {
                let expected = if id == FAILING {
                    NonSuccessKind::Failure
                } else {
                    assert_eq!(id, ERRORING);
                    NonSuccessKind::Error
                };
                assert_eq!(*kind, expected, "{id}");
                let class = props.iter().find(|(k, _)| *k == "class").unwrap().1;
                assert_eq!(ty.as_ref().map(|t| t.as_str()), Some(class));
                // The failure text is what the terminal printed for the case, uncoloured.
                // (XML keeps the text; quick-junit's reader trims the final newline.)
                let d = description.as_ref().expect("a failure text").as_str();
                assert_eq!(
                    d.trim_end(),
                    terminal_block(&run.stdout, &id).trim_end(),
                    "{id}"
                );
            }
            TestCaseStatus::Skipped { message, .. } => {
                // JUnit has no "unsupported": a skip whose message says what was not offered.
                let message = message.as_ref().unwrap().as_str();
                if id == UNSUPPORTED {
                    assert!(
                        message.contains("`n` is not offered: HTTP 400 naming `n`"),
                        "{message}"
                    );
                } else {
                    assert_eq!(id, SKIPPED);
                    assert!(message.contains("skipped by target"));
                }
            }
        }
    }
    assert_eq!(seen.len(), run.cases);
    let failing = suite
        .test_cases
        .iter()
        .find(|t| t.name.as_str() == "happy_path")
        .unwrap();
    let status = failing
        .properties
        .iter()
        .find(|p| p.name.as_str() == "status")
        .unwrap();
    assert_eq!(status.value.as_str(), "200");
}

#[test]
fn report_json_validates_against_its_published_schema_and_carries_the_checklist() {
    let run = shared_mixed_run();
    let doc = run.json();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("contracts/report.schema.json")).unwrap(),
    )
    .unwrap();
    let v = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .offline()
        .build(&schema)
        .expect("report.schema.json compiles");
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // The schema is not vacuous: a report without a checklist field fails it.
    let mut broken = doc.clone();
    broken["cases"][0]
        .as_object_mut()
        .unwrap()
        .remove("parser_outcome");
    assert!(!v.is_valid(&broken));
    let mut broken = doc.clone();
    broken["cases"][0]["verdict"] = Value::from("passed");
    assert!(!v.is_valid(&broken));

    let run_id = doc["run_id"].as_str().unwrap();
    let cases = doc["cases"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    for c in cases {
        let id = c["id"].as_str().unwrap();
        for key in llm_contract::report::json::CHECKLIST {
            assert!(c.get(key).is_some(), "{id}: no {key}");
        }
        assert_eq!(c["base_url_alias"], c["target"]);
        let verdict = c["verdict"].as_str().unwrap();
        if verdict == "skip" {
            assert!(c["client_request_id"].is_null(), "{id}: nothing was sent");
            assert!(c["parser_outcome"].is_null());
        } else {
            let crid = c["client_request_id"].as_str().unwrap();
            let n = crid
                .strip_prefix(&format!("llmc-{run_id}-"))
                .unwrap_or_else(|| panic!("{id}: {crid}"));
            assert!(n.parse::<u32>().is_ok(), "{crid}");
            assert!(ids.insert(crid.to_string()), "{crid} used twice");
        }
    }
    let case = |id: &str| cases.iter().find(|c| c["id"] == id).unwrap();
    // What a reader of many runs groups cases by (the matrix): family, requirements, tags,
    // description, in every case.
    for c in cases {
        assert!(c["family"].is_string(), "no family: {c}");
        assert!(
            c["requires"].is_array() && c["tags"].is_array(),
            "{}",
            c["id"]
        );
        assert!(
            !c["description"].as_str().unwrap().is_empty(),
            "{}",
            c["id"]
        );
    }
    assert_eq!(
        case("cometapi::streaming")["requires"],
        serde_json::json!(["n"])
    );
    assert_eq!(case("cometapi::streaming")["family"], "chat_completions");
    assert_eq!(
        case("cometapi::happy_path")["requires"],
        serde_json::json!([])
    );
    assert_eq!(case("cometapi::messages_happy_path")["family"], "messages");
    let mut broken = doc.clone();
    broken["cases"][0]["requires"] = serde_json::json!(["Not A Capability"]);
    assert!(!v.is_valid(&broken), "the schema describes requires");
    assert_eq!(case(ERRORING)["parser_outcome"], "transport");
    assert_eq!(case(ERRORING)["retries"], 2);
    assert_eq!(case(FAILING)["parser_outcome"], "success");
    assert_eq!(case("cometapi::happy_path")["usage"]["total_tokens"], 21);
    let stream = case("cometapi::streaming_with_usage");
    assert_eq!(stream["stream"], true);
    assert!(stream["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert!(stream["first_token_ms"].as_f64().is_some());
    assert_eq!(case("cometapi::missing_auth")["usage"], Value::Null);
    assert_eq!(case("cometapi::missing_auth")["finish_reason"], Value::Null);
    // The target's URL never appears, only its alias (offline, a transport error names the
    // recorded endpoint's loopback URL, which is no secret).
    assert!(!run.latest("report.json").contains("cometapi.com"));
}

#[test]
fn summary_md_has_a_row_per_case_and_a_section_per_case_that_did_not_pass() {
    let run = shared_mixed_run();
    let md = run.latest("summary.md");
    let doc = run.json();
    let n = run.cases;
    assert!(
        md.contains(&format!(
            "{} passed, 1 failed, 1 errors, 1 skipped, 1 unsupported ({n} cases); 1 deviation(s) from the spec listed",
            n - 4
        )),
        "{md}"
    );
    assert!(md.contains("| verdict | case | status | class | latency (ms) |"));
    for c in doc["cases"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let rows: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with("| ") && l.contains(&format!("`{id}`")))
            .collect();
        assert_eq!(rows.len(), 1, "{id}:\n{md}");
        assert!(
            rows[0].contains(c["verdict"].as_str().unwrap()),
            "{}",
            rows[0]
        );
        assert!(
            rows[0].contains(c["class"].as_str().unwrap()),
            "{}",
            rows[0]
        );
    }
    let sections: Vec<&str> = md.lines().filter(|l| l.starts_with("### ")).collect();
    assert_eq!(
        sections,
        [
            "### FAIL `cometapi::happy_path`",
            "### ERROR `cometapi::invalid_role`",
            "### SKIP `cometapi::missing_model`",
            "### UNSUPPORTED `cometapi::streaming`",
            "### PASS `cometapi::streaming_with_usage`"
        ]
    );
    let html = run.latest("index.html");
    assert!(html.contains(r#"<span class="count unsupported"><b>1</b>unsupported</span>"#));
    assert!(html.contains(r#"data-case="cometapi::streaming" data-verdict="unsupported""#));
    for id in [FAILING, ERRORING, SKIPPED, UNSUPPORTED, DEVIATING] {
        let block = terminal_block(&run.stdout, id);
        let fenced = format!("```text\n{}\n```", block.trim_end_matches('\n'));
        assert!(
            md.contains(&fenced),
            "{id}: the terminal's text\n{block}\nnot in\n{md}"
        );
    }
    assert!(!md.contains('\x1b'));
}

#[test]
fn index_html_is_self_contained_with_a_chart_mark_per_case_and_per_target() {
    let run = shared_mixed_run();
    let html = run.latest("index.html");
    let doc = run.json();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(html.matches("data-case=\"").count(), cases.len());
    for c in cases {
        let id = c["id"].as_str().unwrap();
        assert!(html.contains(&format!("data-case=\"{id}\"")), "{id}");
        // Every row has a stable anchor, `row-<id with : as ->` (the matrix links to it).
        let anchor = id.replace(':', "-");
        assert!(
            html.contains(&format!("<tr data-id=\"{id}\" id=\"row-{anchor}\">")),
            "{id}"
        );
    }
    assert_eq!(html.matches("data-target=\"").count(), 1);
    assert!(html.contains("data-target=\"cometapi\""));
    // Nothing to fetch: no script, stylesheet link, image, font or remote URL.
    let lower = html.to_ascii_lowercase();
    for banned in [
        "<script", "<link", "<img", "<iframe", "src=", "url(", "@import",
    ] {
        assert!(!lower.contains(banned), "{banned}");
    }
    // (The only URLs: the SVG namespace, and the loopback recorded endpoint a transport error
    // names in the failure text.)
    let urls = regex::Regex::new(r#"https?://[^"'\s<]+"#).unwrap();
    let remote: Vec<&str> = urls
        .find_iter(&html)
        .map(|m| m.as_str())
        .filter(|u| *u != "http://www.w3.org/2000/svg" && !u.starts_with("http://127.0.0.1:"))
        .collect();
    assert!(remote.is_empty(), "{remote:?}");
    // The failing case's text, escaped for HTML.
    assert!(html.contains("status: expected 201, got 200"));
    assert!(html.contains("<details open id=\"case-cometapi--happy_path\">"));
}

/// A server that records the X-Client-Request-Id of every request and answers as the
/// conforming OpenAI mock.
#[test]
fn every_request_carries_the_cases_client_request_id() {
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let record = seen.clone();
    let server = rt
        .block_on(llm_contract::exchange::server::Server::start(
            Arc::new(move |req: llm_contract::exchange::server::Request| {
                record
                    .lock()
                    .unwrap()
                    .push(req.header("x-client-request-id").map(str::to_string));
                common::openai_mock(req)
            }),
            0.0,
        ))
        .unwrap();
    let reports = tempfile::tempdir().unwrap();
    let base = format!("{}/conform/v1", server.url());
    let out = common::live_run(
        &base,
        "LLMC_TEST_KEY",
        "test-key-crid-0001",
        &["--model", "mock-model-1"],
        reports.path(),
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let r = common::report(reports.path());
    // Each case's id, and each of its steps' (a step is its own request).
    let in_report: BTreeSet<String> = r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            let steps = c["steps"].as_array().cloned().unwrap_or_default();
            std::iter::once(c.clone()).chain(steps)
        })
        .filter_map(|c| c["client_request_id"].as_str().map(str::to_string))
        .collect();
    let received: Vec<Option<String>> = seen.lock().unwrap().clone();
    // One request per case, and one per step after its first (each with an id of its own, the
    // run's next; the report gives each case's).
    let n = received.len();
    assert!(n >= common::generic_cases(&root()), "{received:?}");
    let received: BTreeSet<String> = received.into_iter().map(Option::unwrap).collect();
    assert!(in_report.is_subset(&received), "{in_report:?} {received:?}");
    let run_id = r["run_id"].as_str().unwrap();
    let expected: BTreeSet<String> = (1..=n).map(|i| format!("llmc-{run_id}-{i}")).collect();
    assert_eq!(received, expected);
    drop(server);
}

/// A live base URL may carry a tenant or a key; a transport error names the URL it could not
/// reach, and every output shows the target's alias instead.
#[test]
fn a_live_base_url_is_shown_as_its_alias_only() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/tenant-secret-4711/v1");
    let reports = tempfile::tempdir().unwrap();
    let out = common::live_run(
        &base,
        "LLMC_TEST_KEY",
        "test-key-alias-0001",
        &["--case", "happy_path"],
        reports.path(),
        &root(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("[BASE_URL:openai_compatible]"), "{stdout}");
    assert!(!stdout.contains("tenant-secret-4711"), "{stdout}");
    assert!(!stderr.contains("tenant-secret-4711"), "{stderr}");
    for name in llm_contract::report::FILES {
        let f = std::fs::read_to_string(reports.path().join("latest").join(name)).unwrap();
        assert!(!f.contains("tenant-secret-4711"), "{name}");
    }
    let r = common::report(reports.path());
    let c = common::case(&r, "openai_compatible::happy_path");
    assert_eq!(c["base_url_alias"], "openai_compatible");
    assert_eq!(c["parser_outcome"], "transport");
}

/// The parser outcome of each kind of fault, on the fault suite.
#[test]
fn parser_outcomes_name_what_a_client_parser_got() {
    let reports = tempfile::tempdir().unwrap();
    let out = llm_contract(
        &[
            "run",
            "--contracts",
            "tests/faults/contracts",
            "--fixtures",
            "tests/faults/fixtures",
            "--schemas",
            "contracts/schemas",
            "--case",
            "faults::",
            "--reports",
            reports.path().to_str().unwrap(),
            "--time-scale",
            "0",
        ],
        &[],
        &root(),
    );
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    let r = common::report(reports.path());
    for (case, parser) in [
        ("stream_ok", "success"),
        ("duplicate_done", "success"),
        ("malformed_json_frame", "invalid_json"),
        ("html_with_200", "invalid_json"),
        ("chunk_breaks_schema", "missing_field"),
        ("unknown_error_shape", "missing_field"),
        ("soft_empty", "empty_content"),
        ("stall_past_idle_limit", "timeout"),
        ("reset_before_headers", "transport"),
        ("clean_close_before_finish", "stream_cut"),
        ("clean_close_without_done", "success"),
        ("reset_after_frames", "stream_cut"),
        ("content_error_frame", "error_frame"),
    ] {
        let c = common::case(&r, &format!("faults::{case}"));
        assert_eq!(c["parser_outcome"], parser, "{case}: {c}");
    }
    // Usage from a body, and from a frame that carried it.
    let u = &common::case(&r, "faults::retry_503_then_200")["usage"];
    assert_eq!(u["total_tokens"], 4, "{u}");
    let u = &common::case(&r, "faults::usage_beside_choices")["usage"];
    assert_eq!(u["total_tokens"], 4, "{u}");
}

/// A repeated case's runs are listed in report.json (valid against its schema), under the
/// case's terminal line and so in JUnit and summary.md, which quote that text.
#[test]
fn a_repeated_case_lists_every_run_in_every_report() {
    let faults = root().join("tests/faults");
    let reports = tempfile::tempdir().unwrap();
    let s = |p: PathBuf| p.display().to_string();
    let args = [
        "run".to_string(),
        "--contracts".into(),
        s(faults.join("contracts")),
        "--fixtures".into(),
        s(faults.join("fixtures")),
        "--schemas".into(),
        s(root().join("contracts/schemas")),
        "--reports".into(),
        s(reports.path().to_path_buf()),
        "--time-scale".into(),
        "0".into(),
        "--case".into(),
        "faults::repeat_all_fails_later".into(),
    ];
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = llm_contract(&refs, &[], &root());
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let latest = reports.path().join("latest");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(latest.join("report.json")).unwrap())
            .unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("contracts/report.schema.json")).unwrap(),
    )
    .unwrap();
    let v = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .offline()
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let runs = doc["cases"][0]["repeats"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "the runs stop at the first that fails");
    assert_eq!(runs[0]["verdict"], "pass");
    assert_eq!(runs[1]["verdict"], "fail");
    assert!(stdout.contains("      run 1: pass 200 ok"), "{stdout}");
    assert!(
        stdout.contains("      run 2: fail 200 contract_drift"),
        "{stdout}"
    );
    for f in ["junit.xml", "summary.md"] {
        let t = std::fs::read_to_string(latest.join(f)).unwrap();
        assert!(t.contains("run 2: fail 200 contract_drift"), "{f}:\n{t}");
    }
}

#[test]
fn a_deviation_passes_and_is_listed_in_the_terminal_and_every_report() {
    let run = shared_mixed_run();
    let needle =
        "deviation: missing_done_after_finish at stream: breaks OpenAI's streaming reference";
    let block = terminal_block(&run.stdout, DEVIATING);
    assert!(block.starts_with("PASS "), "{block}");
    assert!(block.contains(needle), "{block}");
    let doc = run.json();
    assert_eq!(doc["summary"]["deviations"], 1);
    let case = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == DEVIATING)
        .unwrap();
    assert_eq!(case["verdict"], "pass");
    assert_eq!(case["deviations"][0]["name"], "missing_done_after_finish");
    assert_eq!(case["deviations"][0]["pointer"], "stream");
    assert!(case["deviations"][0]["source"]
        .as_str()
        .unwrap()
        .contains("openai-python"));
    let others = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] != DEVIATING);
    assert!(others
        .into_iter()
        .all(|c| c["deviations"] == serde_json::json!([])));
    let xml = run.latest("junit.xml");
    let report = Report::deserialize_from_str(&xml).expect("junit.xml parses back");
    let case = report
        .test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter())
        .find(|c| {
            c.name.as_str() == "streaming_with_usage" && c.classname.as_deref() == Some("cometapi")
        })
        .unwrap();
    assert!(matches!(case.status, TestCaseStatus::Success { .. }));
    assert!(case.system_out.as_ref().unwrap().as_str().contains(needle));
    assert!(xml.contains(r#"<property name="deviations" value="missing_done_after_finish"/>"#));
    let html = run.latest("index.html");
    assert!(
        html.contains("deviation: missing_done_after_finish at stream: breaks OpenAI"),
        "index.html lists the deviation"
    );
}
