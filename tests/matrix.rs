//! `llm-contract matrix`: the repository's own matrix (`docs/matrix.md`, `docs/matrix.html`) is
//! what the offline suite of every recorded target makes today, and the command reads real
//! reports: latest run per target, links into each run's page, anything else refused.
//!
//! When the catalogue changes, `LLM_CONTRACT_UPDATE_MATRIX=1 cargo test --test matrix` rewrites
//! the checked-in files; without it, a stale file fails with a diff.

mod common;

use std::path::{Path, PathBuf};

use common::{llm_contract, root, text};
use llm_contract::context::Context;

/// The targets with fixtures in the repository (`fixtures/<target>/` beside
/// `contracts/targets/<target>.yaml`): every target a recorded run can replay.
fn recorded_targets() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("fixtures"))
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().ok()?;
            let target = root().join(format!("contracts/targets/{name}.yaml"));
            (e.path().is_dir() && target.is_file()).then_some(name)
        })
        .collect();
    names.sort();
    names
}

/// Runs the repository's suite offline for `targets` (and `extra` arguments) into `reports`.
fn run(reports: &Path, targets: &[String], extra: &[&str]) -> String {
    let mut args = vec!["run", "--time-scale", "0", "--reports"];
    let r = reports.display().to_string();
    args.push(&r);
    for t in targets {
        args.extend(["--target", t.as_str()]);
    }
    args.extend(extra);
    let out = llm_contract(&args, &[], &root());
    let (stdout, stderr) = text(&out);
    // Some recorded targets fail cases on purpose (LiteLLM's deviations): 0 or 1, never 2 or 3.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{stdout}\n{stderr}"
    );
    stdout
}

fn matrix(args: &[&str]) -> (Option<i32>, String, String) {
    let out = llm_contract(&[&["matrix"], args].concat(), &[], &root());
    let (o, e) = text(&out);
    (out.status.code(), o, e)
}

/// What the checked-in matrix is, and is not.
const NOTE: &str =
    "Made offline from this repository's fixtures, each target's suite replayed on a \
loopback server: cometapi's (and openai_compatible's) fixtures are documented or constructed from \
public documents, not recorded from the provider; litellm's were recorded from a local LiteLLM \
proxy answering with a mock model. It shows what the catalogue checks and how each target's \
fixtures fare, not a live measurement of any provider: run the suite live and make your own \
matrix for that. Regenerate: LLM_CONTRACT_UPDATE_MATRIX=1 cargo test --test matrix.";

#[test]
fn the_checked_in_matrix_is_what_the_recorded_targets_make_today() {
    let targets = recorded_targets();
    assert!(
        targets.len() >= 2 && targets.iter().any(|t| t == "cometapi"),
        "{targets:?}"
    );
    let reports = tempfile::tempdir().unwrap();
    run(reports.path(), &targets, &[]);
    let out = tempfile::tempdir().unwrap();
    let latest = reports.path().join("latest");
    let (code, stdout, stderr) = matrix(&[
        &latest.display().to_string(),
        "--out",
        &out.path().display().to_string(),
        "--reproducible",
        "--note",
        NOTE,
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let update = Context::from_process().update_matrix();
    let mut stale = Vec::new();
    for name in ["matrix.md", "matrix.html"] {
        let made = std::fs::read_to_string(out.path().join(name)).unwrap();
        let shipped_path = root().join("docs").join(name);
        let shipped = std::fs::read_to_string(&shipped_path).unwrap_or_default();
        if made == shipped {
            continue;
        }
        if update {
            std::fs::write(&shipped_path, &made).unwrap();
            eprintln!("rewrote {}", shipped_path.display());
        } else {
            let diff = similar::TextDiff::from_lines(&shipped, &made);
            stale.push(format!(
                "docs/{name} is not what the recorded targets make today:\n{}",
                diff.unified_diff().context_radius(2).header(
                    &format!("docs/{name} (checked in)"),
                    &format!("docs/{name} (made now)")
                )
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nregenerate with: LLM_CONTRACT_UPDATE_MATRIX=1 cargo test --test matrix",
        stale.join("\n")
    );
    // What the page must hold, whatever the catalogue: a row per case and a column per target.
    let html = std::fs::read_to_string(out.path().join("matrix.html")).unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(latest.join("report.json")).unwrap())
            .unwrap();
    let cases: std::collections::BTreeSet<&str> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case"].as_str().unwrap())
        .collect();
    assert_eq!(html.matches("data-behaviour=\"").count(), cases.len());
    assert_eq!(html.matches("<th data-target=\"").count(), targets.len());
    for t in &targets {
        assert!(html.contains(&format!("<th data-target=\"{t}\"")), "{t}");
    }
    assert!(
        !html.contains("href="),
        "a reproducible matrix links into no run"
    );
}

#[test]
fn the_latest_run_of_a_target_wins_and_cells_link_into_its_page() {
    let reports = tempfile::tempdir().unwrap();
    let cometapi = vec!["cometapi".to_string()];
    // An older run in which `happy_path` fails (the case edited to expect 201), then a newer
    // one of a single case in which it passes.
    let suite = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("contracts"), &suite.path().join("contracts"));
    common::edit(
        &suite
            .path()
            .join("contracts/chat_completions/happy_path.yaml"),
        "  status: 200",
        "  status: 201",
    );
    let old_reports = reports.path().join("old");
    let contracts = suite.path().join("contracts").display().to_string();
    let fixtures = root().join("fixtures").display().to_string();
    run(
        &old_reports,
        &cometapi,
        &["--contracts", &contracts, "--fixtures", &fixtures],
    );
    // Run ids carry the start time to the second: the second run starts a second later.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let new_reports = reports.path().join("new");
    run(&new_reports, &cometapi, &["--case", "happy_path"]);
    let old = old_reports.join("latest/report.json");
    let new = new_reports.join("latest");
    let out = reports.path().join("matrix");
    for order in [[&new, &old], [&old, &new]] {
        let (code, stdout, stderr) = matrix(&[
            &order[0].display().to_string(),
            &order[1].display().to_string(),
            "--out",
            &out.display().to_string(),
        ]);
        assert_eq!(code, Some(0), "{stdout}{stderr}");
        assert!(
            stdout.contains("1 behaviour(s) × 1 target(s) from 2 report(s)"),
            "{stdout}"
        );
        let md = std::fs::read_to_string(out.join("matrix.md")).unwrap();
        assert!(
            md.contains("| `happy_path` | — | [✅ pass](../new/latest/index.html#row-cometapi--happy_path) |"),
            "{md}"
        );
        assert!(
            md.contains("Left out (a later run holds the target)"),
            "{md}"
        );
        let html = std::fs::read_to_string(out.join("matrix.html")).unwrap();
        assert!(html.contains(r#"href="../new/latest/index.html#row-cometapi--happy_path""#));
        // The anchor is there in the run's page.
        let page = std::fs::read_to_string(new.join("index.html")).unwrap();
        assert!(page.contains(r#"id="row-cometapi--happy_path""#));
    }
    // The older run alone: its failing case links to its details.
    let (code, ..) = matrix(&[
        &old.display().to_string(),
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(code, Some(0));
    let md = std::fs::read_to_string(out.join("matrix.md")).unwrap();
    assert!(
        md.contains("[❌ fail](../old/latest/index.html#case-cometapi--happy_path)"),
        "{md}"
    );
    let page = std::fs::read_to_string(old_reports.join("latest/index.html")).unwrap();
    assert!(page.contains(r#"id="case-cometapi--happy_path""#));
}

#[test]
fn a_file_that_is_not_a_report_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out").display().to_string();
    let junk: PathBuf = dir.path().join("junit.json");
    std::fs::write(&junk, r#"{"testsuites": []}"#).unwrap();
    let fixture = root().join("fixtures/cometapi/happy_path.json");
    for (path, why) in [
        (
            junk.clone(),
            "not an llm-contract report.json: missing field `tool`",
        ),
        (fixture, "not an llm-contract report.json"),
        (dir.path().join("absent.json"), "cannot read it"),
        (dir.path().to_path_buf(), "report.json: cannot read it"),
    ] {
        let (code, stdout, stderr) = matrix(&[&path.display().to_string(), "--out", &out]);
        assert_eq!(code, Some(2), "{path:?}: {stdout}{stderr}");
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            stderr.contains(&name) && stderr.contains(why),
            "{path:?}: {stderr}"
        );
    }
    assert!(!Path::new(&out).join("matrix.md").exists());
}

/// `docs/catalogue.md` tells the truth: its families table has every family's case count and the
/// recorded targets whose `families:` list it, and every fault trial it names exists.
#[test]
fn the_catalogue_page_matches_the_suite() {
    let doc = std::fs::read_to_string(root().join("docs/catalogue.md")).unwrap();
    let suite = common::load_suite(&llm_contract::contract::suite::Paths::under(&root()));
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for case in &suite.contracts.cases {
        *counts.entry(case.family.name).or_default() += 1;
    }
    let mut rows = std::collections::BTreeMap::<String, (usize, Vec<String>)>::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() == 5 && cells[1].starts_with('`') {
            if let Ok(n) = cells[2].parse::<usize>() {
                let mut served: Vec<String> = cells[3].split(", ").map(str::to_string).collect();
                served.sort();
                rows.insert(cells[1].trim_matches('`').to_string(), (n, served));
            }
        }
    }
    let mut want = std::collections::BTreeMap::new();
    for (family, n) in &counts {
        let mut served: Vec<String> = recorded_targets()
            .into_iter()
            .filter(|t| {
                let target = suite.contracts.targets.iter().find(|x| &x.name == t);
                let family = llm_contract::model::family::by_name(family).unwrap();
                target.is_some_and(|x| x.serves(family))
            })
            .collect();
        served.sort();
        want.insert(family.to_string(), (*n, served));
    }
    assert_eq!(rows, want, "docs/catalogue.md's families table");
    let mut named = 0;
    for part in doc.split("`faults::").skip(1) {
        let id = part.split('`').next().unwrap();
        let file = root().join(format!("tests/faults/contracts/cases/{id}.yaml"));
        assert!(
            file.is_file(),
            "docs/catalogue.md names faults::{id}, which does not exist"
        );
        named += 1;
    }
    assert!(named >= 10, "{named} fault trials named");
}
