use std::path::Path;

use super::render::{html, markdown, Options};
use super::*;
use crate::model::outcome::Verdict as V;

/// A case as a report holds it: `verdict` with `deviations` names.
fn case(target: &str, id: &str, family: &str, requires: &[&str], verdict: Verdict, devs: &[&str]) -> CaseDoc {
    CaseDoc {
        id: format!("{target}::{id}"),
        target: target.into(),
        case: id.into(),
        verdict,
        reason: format!("why {id}"),
        deviations: devs
            .iter()
            .map(|d| DeviationDoc {
                name: d.to_string(),
            })
            .collect(),
        family: Some(family.into()),
        description: format!("{id} does what it says"),
        requires: requires.iter().map(|r| r.to_string()).collect(),
        tags: Vec::new(),
    }
}

fn source(run_id: &str, started: &str, html: Option<&str>, cases: Vec<CaseDoc>) -> Source {
    Source {
        doc: RunDoc {
            tool: "llm-contract".into(),
            run_id: run_id.into(),
            started_at: started.into(),
            mode: Mode::Recorded,
            cases,
        },
        html: html.map(str::to_string),
    }
}

fn states(m: &Matrix) -> Vec<(String, Vec<State>)> {
    m.rows()
        .map(|(f, _, r)| (format!("{}/{}", f.name, r.case), r.cells.iter().map(|c| c.state).collect()))
        .collect()
}

#[test]
fn every_verdict_becomes_its_state_and_a_pass_with_deviations_is_a_deviation() {
    for (verdict, devs, state) in [
        (Verdict::Pass, 0, State::Pass),
        (Verdict::Pass, 2, State::Deviation),
        (Verdict::Fail, 0, State::Fail),
        (Verdict::Fail, 1, State::Fail),
        (Verdict::Error, 0, State::Error),
        (Verdict::Unsupported, 0, State::Unsupported),
        (Verdict::Skip, 0, State::Skip),
    ] {
        assert_eq!(State::of(verdict, devs), state, "{verdict:?} with {devs} deviation(s)");
    }
}

#[test]
fn rows_are_grouped_by_family_in_catalogue_order_then_capability_then_case() {
    let s = source(
        "r1",
        "2026-01-01T00:00:00Z",
        None,
        vec![
            case("a", "zeta", "chat_completions", &[], V::Pass, &[]),
            case("a", "msg", "messages", &[], V::Fail, &[]),
            case("a", "tool_call", "chat_completions", &["tools"], V::Pass, &["tool_calls_null"]),
            case("a", "alpha", "chat_completions", &[], V::Skip, &[]),
            case("a", "strange", "zz_new_family", &[], V::Pass, &[]),
            case("a", "n_choices", "chat_completions", &["n"], V::Unsupported, &[]),
            case("b", "alpha", "chat_completions", &[], V::Error, &[]),
        ],
    );
    let m = Matrix::of(&[s]);
    assert_eq!(
        m.columns.iter().map(|c| c.target.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    use State::*;
    assert_eq!(
        states(&m),
        [
            ("chat_completions/alpha".to_string(), vec![Skip, Error]),
            ("chat_completions/zeta".to_string(), vec![Pass, Absent]),
            ("chat_completions/n_choices".to_string(), vec![Unsupported, Absent]),
            ("chat_completions/tool_call".to_string(), vec![Deviation, Absent]),
            ("messages/msg".to_string(), vec![Fail, Absent]),
            ("zz_new_family/strange".to_string(), vec![Pass, Absent]),
        ]
    );
    let groups: Vec<Vec<String>> = m.families[0].groups.iter().map(|g| g.requires.clone()).collect();
    assert_eq!(groups, [vec![], vec!["n".to_string()], vec!["tools".to_string()]]);
    let a = &m.columns[0];
    assert_eq!(
        (a.count(Pass), a.count(Deviation), a.count(Fail), a.count(Skip), a.count(Unsupported), a.count(Absent)),
        (2, 1, 1, 1, 1, 0)
    );
    assert_eq!((m.columns[1].count(Error), m.columns[1].count(Absent)), (1, 5));
}

#[test]
fn the_latest_run_of_a_target_wins_whatever_the_order_given() {
    let old = source("old", "2026-01-01T00:00:00Z", Some("old/index.html"), vec![
        case("a", "c", "chat_completions", &[], V::Fail, &[]),
        case("b", "c", "chat_completions", &[], V::Pass, &[]),
    ]);
    let new = source("new", "2026-02-01T00:00:00Z", Some("new/index.html"), vec![
        case("a", "c", "chat_completions", &["tools"], V::Pass, &[]),
    ]);
    for sources in [vec![old.clone(), new.clone()], vec![new.clone(), old.clone()]] {
        let m = Matrix::of(&sources);
        assert_eq!(states(&m), [("chat_completions/c".to_string(), vec![State::Pass, State::Pass])]);
        assert_eq!(m.columns[0].run_id, "new");
        assert_eq!(m.columns[1].run_id, "old", "b is only in the old run");
        // The newest run says what the case requires.
        assert_eq!(m.families[0].groups[0].requires, ["tools"]);
        assert_eq!(
            m.superseded,
            [Superseded { target: "a".into(), run_id: "old".into(), by: "new".into() }]
        );
        let cell = &m.families[0].groups[0].rows[0].cells[0];
        assert_eq!(cell.href.as_deref(), Some("new/index.html#row-a--c"));
    }
    // A tie goes to the report given later.
    let again = source("again", "2026-02-01T00:00:00Z", None, vec![case("a", "c", "chat_completions", &[], V::Skip, &[])]);
    let m = Matrix::of(&[new, again]);
    assert_eq!(m.columns[0].run_id, "again");
}

#[test]
fn cells_link_to_the_details_of_a_case_that_did_not_simply_pass() {
    let s = source("r", "2026-01-01T00:00:00Z", Some("../runs/r%201/index.html"), vec![
        case("t", "ok", "chat_completions", &[], V::Pass, &[]),
        case("t", "dev", "chat_completions", &[], V::Pass, &["x"]),
        case("t", "bad", "chat_completions", &[], V::Fail, &[]),
    ]);
    let m = Matrix::of(&[s]);
    let hrefs: Vec<(String, String, String)> = m
        .rows()
        .map(|(_, _, r)| (r.case.clone(), r.cells[0].href.clone().unwrap(), r.cells[0].reason.clone()))
        .collect();
    assert_eq!(
        hrefs,
        [
            ("bad".into(), "../runs/r%201/index.html#case-t--bad".into(), "why bad".into()),
            ("dev".into(), "../runs/r%201/index.html#case-t--dev".into(), String::new()),
            ("ok".into(), "../runs/r%201/index.html#row-t--ok".into(), String::new()),
        ]
    );
}

#[test]
fn anything_but_a_report_is_refused_with_its_reason() {
    for (text, why) in [
        ("{}", "missing field `tool`"),
        ("[1, 2]", "invalid type"),
        ("not json", "expected"),
        (r#"{"tool":"other","run_id":"r","started_at":"s","mode":"live","cases":[]}"#, "`tool` is `other`"),
        (r#"{"tool":"llm-contract","run_id":"r","started_at":"s","mode":"live","cases":[{"id":"a::b"}]}"#, "missing field"),
        (r#"{"tool":"llm-contract","run_id":"r","started_at":"s","mode":"live","cases":[{"id":"a::b","target":"a","case":"b","verdict":"passed"}]}"#, "unknown variant `passed`"),
    ] {
        let e = parse(text).unwrap_err();
        assert!(e.contains(why), "{text}: {e}");
    }
    // Fields the matrix does not use are tolerated; fields it uses may be missing from old reports.
    let old = r#"{"tool":"llm-contract","run_id":"r","started_at":"s","mode":"recorded","summary":{},"cases":[{"id":"a::b","target":"a","case":"b","verdict":"pass","latency_ms":1.5}]}"#;
    let doc = parse(old).unwrap();
    let m = Matrix::of(&[Source { doc, html: None }]);
    assert_eq!(m.families[0].name, UNKNOWN_FAMILY);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("report.json");
    std::fs::write(&p, "{}").unwrap();
    let e = read(dir.path()).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: not an llm-contract report.json", p.display())), "{e}");
    let e = read(&dir.path().join("none.json")).unwrap_err().to_string();
    assert!(e.contains("none.json: cannot read it"), "{e}");
}

#[test]
fn relative_links_climb_out_of_the_matrix_directory() {
    for (from, to, href) in [
        ("/w/docs", "/w/reports/latest/index.html", "../reports/latest/index.html"),
        ("/w/reports/matrix", "/w/reports/20261121T223501Z-3fa9c1/index.html", "../20261121T223501Z-3fa9c1/index.html"),
        ("/w", "/w/a b/index.html", "a%20b/index.html"),
        ("/w/x", "/w/x/index.html", "index.html"),
    ] {
        assert_eq!(relative_href(Path::new(from), Path::new(to)), href);
    }
}

#[test]
fn both_renderings_escape_what_a_report_says_and_carry_every_row_and_column() {
    let mut hostile = case("t<x>", "c", "chat_completions", &[], V::Fail, &[]);
    hostile.reason = "<script>alert(1)</script> | pipe\n# heading".into();
    hostile.description = "a <b>bold</b> | claim".into();
    let s = source("r", "2026-01-01T00:00:00Z", Some("run/index.html"), vec![
        hostile,
        case("t<x>", "d", "messages", &["tools"], V::Pass, &["tool_calls_null"]),
    ]);
    let m = Matrix::of(&[s]);
    let page = html(&m, Options::default());
    assert!(!page.contains("<script>") && !page.contains("<b>bold"), "{page}");
    assert!(page.contains("&lt;script&gt;"));
    assert_eq!(page.matches("data-behaviour=").count(), 2);
    assert_eq!(page.matches("<th data-target=").count(), 1);
    assert_eq!(page.matches(r#"data-state="fail""#).count(), 1);
    assert!(page.contains(r#"href="run/index.html#case-t-x---c""#), "{page}");
    assert!(page.contains("r</code>"), "the run id is shown");
    assert!(!page.contains("http"), "nothing is fetched or linked outside");
    let md = markdown(&m, Options::default());
    assert!(md.contains("| `c` | — | [❌ fail](run/index.html#case-t-x---c) |"), "{md}");
    assert!(md.contains("| `d` | `tools` | [🟡 deviation (tool_calls_null)](run/index.html#case-t-x---d) |"), "{md}");
    assert!(md.contains("## messages"));
    let quiet = markdown(&m, Options { reproducible: true, note: Some("<i>replayed</i>") });
    assert!(!quiet.contains("2026-01-01") && !quiet.contains("`r`"), "{quiet}");
    let quiet = html(&m, Options { reproducible: true, note: Some("<i>replayed</i>") });
    assert!(quiet.contains("&lt;i&gt;replayed"), "{quiet}");
    assert!(!quiet.contains("2026-01-01"), "{quiet}");
}
