//! Rendering outcomes: the terminal's lines, and the reports every run writes to
//! `reports/<run-id>/` and `reports/latest/`: `junit.xml`, `report.json`, `summary.md` and
//! `index.html`.
//!
//! Every report is rendered from one [`Reports`]: the run's outcomes, sanitized by the runner
//! before they reach the reports. The failure text in JUnit, Markdown and HTML is [`terminal_text`], the
//! terminal's own text without colour.
//!
//! Each case's share of every report (its JUnit test case, its `report.json` object, its Markdown
//! row and section, its HTML row, chart mark and details) is a [`RenderedCase`], rendered once
//! when the case ends: `run` renders each case while the other requests are out, so after the last
//! answer what is left is the run's totals, the charts' scale and putting the pieces in order.

pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod not_passed;
pub mod progress;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::model::outcome::{CaseOutcome, Drift, Mode, Verdict};
use crate::model::runid::RunId;
use crate::util::fs::{beside, remove_stale, replace_dir, write_atomic, Atomic};
use crate::util::text::Visible;

/// Counts by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
    /// Cases whose required feature the gateway cleanly refused (not offered, not broken).
    pub unsupported: usize,
    /// Named deviations from the spec listed on the cases (each name once per case); they fail
    /// nothing unless the run, the target or the case is strict.
    pub deviations: usize,
}

impl Summary {
    /// Counts the cases' verdicts.
    pub fn of(verdicts: impl IntoIterator<Item = Verdict>) -> Summary {
        let mut s = Summary::default();
        for v in verdicts {
            s.add(v);
        }
        s
    }

    /// Counts one more case.
    pub fn add(&mut self, v: Verdict) {
        self.total += 1;
        match v {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail => self.failed += 1,
            Verdict::Error => self.errors += 1,
            Verdict::Skip => self.skipped += 1,
            Verdict::Unsupported => self.unsupported += 1,
        }
    }

    /// The counts, comma-separated: `unsupported` only when there are some.
    pub fn counts(&self) -> String {
        let mut s = format!(
            "{} passed, {} failed, {} errors, {} skipped",
            self.passed, self.failed, self.errors, self.skipped
        );
        if self.unsupported > 0 {
            s.push_str(&format!(", {} unsupported", self.unsupported));
        }
        s
    }

    /// Counts the cases' verdicts and deviations.
    pub fn of_briefs<'a>(briefs: impl IntoIterator<Item = &'a Brief>) -> Summary {
        let mut deviations = 0;
        let verdicts = briefs.into_iter().map(|b| {
            deviations += b.deviations;
            b.verdict
        });
        let s = Summary::of(verdicts.collect::<Vec<_>>());
        Summary { deviations, ..s }
    }

    /// The process exit code: 0 all passed (skips allowed), 1 any contract failure, 3 when
    /// nothing failed but something could not be judged (transport or harness errors only).
    /// (2, configuration and contract-file errors, is decided before anything runs.)
    pub fn exit_code(&self) -> u8 {
        if self.failed > 0 {
            1
        } else if self.errors > 0 {
            3
        } else {
            0
        }
    }

    pub fn line(&self) -> String {
        let mut line = format!("{} ({} cases)", self.counts(), self.total);
        if self.deviations > 0 {
            line.push_str(&format!(
                "; {} deviation(s) from the spec listed",
                self.deviations
            ));
        }
        line
    }
}

/// One line for a case: verdict, id, status, class, latency (the last attempt's); a case that
/// was retried adds its attempts and its whole time, waits included.
pub fn line(o: &CaseOutcome) -> String {
    let status = o.status.map_or("---".to_string(), |s| s.to_string());
    let mut line = format!(
        "{:<5} {:<40} {:>3}  {:<20} {:>9.1} ms",
        o.verdict.as_str().to_ascii_uppercase(),
        Visible(&o.id).to_string(),
        status,
        o.class.as_str(),
        o.latency_ms
    );
    let attempts = attempts(o);
    if attempts > 1 {
        line.push_str(&format!(
            " ({attempts} attempts, {} total)",
            seconds(o.case_ms)
        ));
    }
    line
}

/// How many requests a case's answer took: its retries and the first.
pub fn attempts(o: &CaseOutcome) -> usize {
    o.attempts.len().max(o.retries as usize + 1)
}

/// A duration for a person: `812 ms`, `3.1 s`.
fn seconds(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// The detail shown under a case that did not pass: reason and failures, indented. Every text
/// from outside is shown [`Visible`]: no line here starts with anything a server sent.
pub fn details(o: &CaseOutcome) -> String {
    let mut out = String::new();
    for n in &o.notes {
        out.push_str(&format!("      note: {}\n", Visible(n)));
    }
    let runs = o.repeats.iter().enumerate().map(|(i, r)| (format!("run {}", i + 1), r));
    let steps = o.steps.iter().map(|r| {
        let name = r.step.as_deref().unwrap_or("?");
        (format!("step {}", Visible(name)), r)
    });
    for (label, r) in runs.chain(steps) {
        let status = r.status.map_or("---".to_string(), |s| s.to_string());
        let retries = if r.retries > 0 {
            format!(", {} retries", r.retries)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "      {label}: {} {status} {} {:.1} ms{retries}\n",
            r.verdict.as_str(),
            r.class,
            r.latency_ms
        ));
        if r.verdict != Verdict::Pass {
            for f in &r.failures {
                out.push_str(&format!("        - {}\n", Visible(&f.to_string())));
            }
        }
    }
    if let Drift::Changed { labels } = &o.drift {
        if o.verdict == Verdict::Pass {
            for l in labels {
                out.push_str(&format!("      drift (reported, passes): {l}\n"));
            }
        }
    }
    for d in &o.deviations {
        out.push_str(&format!("      deviation: {d}\n"));
    }
    if o.verdict == Verdict::Pass {
        return out;
    }
    if !o.reason.is_empty() {
        out.push_str(&format!("      why: {}\n", Visible(&o.reason)));
    }
    if let Some(e) = &o.error {
        out.push_str(&format!(
            "      error: {} — {}\n",
            Visible(&e.describe()),
            Visible(e.message.as_deref().unwrap_or("(no message)"))
        ));
    }
    for f in &o.failures {
        // A failure's own lines (a drift's labels and diff) are indented under it; its text
        // from outside is already on one line (the failure's `Display`), and shown once more
        // through `Visible` line by line in case a control character got past it.
        let text = f.to_string();
        let mut lines = text.lines();
        if let Some(first) = lines.next() {
            out.push_str(&format!("      - {}\n", Visible(first)));
        }
        for l in lines {
            out.push_str(&format!("        {}\n", Visible(l)));
        }
    }
    if let Drift::NotRun { reason } = &o.drift {
        if o.verdict == Verdict::Fail && reason != "not compared" {
            out.push_str(&format!("      drift: not run ({})\n", Visible(reason)));
        }
    }
    out
}

/// The terminal's text for a case, without colour: its [`line`], a newline, and its [`details`]
/// (empty for a pass). JUnit, Markdown and HTML quote exactly this.
pub fn terminal_text(o: &CaseOutcome) -> String {
    format!("{}\n{}", line(o), details(o))
}

/// A report could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the reports say about the run itself.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_id: RunId,
    pub mode: Mode,
}

/// What the run's totals and charts need of a case once its parts are rendered; the rest of its
/// outcome is let go then.
#[derive(Debug, Clone, PartialEq)]
pub struct Brief {
    pub id: String,
    pub target: String,
    pub verdict: Verdict,
    pub latency_ms: f64,
    pub ttfb_ms: Option<f64>,
    pub case_ms: f64,
    /// The named deviations listed on the case.
    pub deviations: usize,
}

impl Brief {
    pub fn of(o: &CaseOutcome) -> Brief {
        Brief {
            id: o.id.clone(),
            target: o.target.clone(),
            verdict: o.verdict,
            latency_ms: o.latency_ms,
            ttfb_ms: o.ttfb_ms,
            case_ms: o.case_ms,
            deviations: o.deviations.len(),
        }
    }
}

/// A case's parts, in the order [`RenderedCase`] keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Its `<testcase>` element.
    Junit,
    /// Its object in `report.json`'s `cases`.
    Json,
    /// Its row in `summary.md`'s table.
    MarkdownRow,
    /// Its section in `summary.md` (empty for a case that passed).
    MarkdownSection,
    /// Its mark in `index.html`'s per-case chart, around the numbers that depend on the whole
    /// run: up to its row's position, from there to its bar's width, and its latency label.
    MarkHead,
    MarkMid,
    MarkTail,
    /// Its row in `index.html`'s table.
    HtmlRow,
    /// Its details in `index.html` (empty for a case that passed).
    HtmlDetails,
}

const PARTS: usize = Part::HtmlDetails as usize + 1;

/// One case's share of every report, rendered from its sanitized outcome. The parts are kept one
/// after another in one string of their exact size: a run keeps a thousand cases' parts (a few
/// kilobytes each) until the reports are written.
#[derive(Debug)]
pub struct RenderedCase {
    pub brief: Brief,
    text: Box<str>,
    ends: [u32; PARTS],
    /// Why the case's `report.json` object could not be written, if it could not.
    json_error: Option<String>,
}

impl RenderedCase {
    /// Renders a case's parts from its outcome, which the caller has sanitized (the runner's
    /// outcomes leave it sanitized; the reports never see the sanitizer).
    pub fn new(o: CaseOutcome) -> RenderedCase {
        let (json, json_error) = match json::part(&o) {
            Ok(text) => (text, None),
            Err(e) => (String::new(), Some(e.to_string())),
        };
        let [head, mid, tail] = html::mark(&o);
        let parts = [
            junit::part(&o),
            json,
            markdown::row(&o),
            markdown::section(&o).unwrap_or_default(),
            head,
            mid,
            tail,
            html::row(&o),
            html::details(&o).unwrap_or_default(),
        ];
        let mut text = String::with_capacity(parts.iter().map(String::len).sum());
        let mut ends = [0; PARTS];
        for (end, part) in ends.iter_mut().zip(&parts) {
            text.push_str(part);
            *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        RenderedCase {
            brief: Brief::of(&o),
            text: text.into_boxed_str(),
            ends,
            json_error,
        }
    }

    /// One of its parts.
    pub fn part(&self, part: Part) -> &str {
        let i = part as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text
            .get(start..self.ends[i] as usize)
            .unwrap_or_default()
    }

    /// Its `report.json` object, or why it could not be written.
    pub fn json(&self) -> Result<&str, &str> {
        match &self.json_error {
            Some(e) => Err(e),
            None => Ok(self.part(Part::Json)),
        }
    }
}

/// One run's outcomes, sanitized and rendered, ready to be put together.
#[derive(Debug)]
pub struct Reports {
    pub info: RunInfo,
    pub cases: Vec<RenderedCase>,
    pub summary: Summary,
}

/// The report files, in the order they are written.
pub const FILES: [&str; 4] = ["junit.xml", "report.json", "summary.md", "index.html"];

/// Where a run's reports went.
#[derive(Debug, Clone)]
pub struct Written {
    /// `reports/<run-id>/`
    pub dir: PathBuf,
    /// `reports/latest/`, a copy of the same files.
    pub latest: PathBuf,
}

impl Reports {
 #[cfg(test)]
    /// Every outcome through [`RenderedCase::new`], in the order given.
    pub fn new(info: RunInfo, outcomes: &[CaseOutcome]) -> Reports {
        Reports::from_outcomes(info, outcomes.to_vec())
    }

 #[cfg(test)]
    /// [`Reports::new`] for outcomes the caller no longer needs (no copy).
    pub fn from_outcomes(info: RunInfo, outcomes: Vec<CaseOutcome>) -> Reports {
        let cases = outcomes.into_iter().map(RenderedCase::new).collect();
        Reports::from_rendered(info, cases)
    }

    /// Cases rendered as they ended, in the order the reports list them.
    pub fn from_rendered(info: RunInfo, cases: Vec<RenderedCase>) -> Reports {
        Reports {
            summary: Summary::of_briefs(cases.iter().map(|c| &c.brief)),
            info,
            cases,
        }
    }

    /// The cases' briefs, in the reports' order.
    pub fn briefs(&self) -> impl Iterator<Item = &Brief> {
        self.cases.iter().map(|c| &c.brief)
    }

    /// Writes the report named `name` (one of [`FILES`]) to `out`, piece by piece: the cases'
    /// parts go out as they are, never copied into one document first.
    pub fn render_to(&self, name: &str, out: &mut dyn Write) -> std::io::Result<()> {
        match name {
            "junit.xml" => junit::write(self, out),
            "report.json" => json::write(self, out),
            "summary.md" => out.write_all(markdown::render(self).as_bytes()),
            "index.html" => html::write(self, out),
            other => Err(std::io::Error::other(format!("no report named {other}"))),
        }
    }

    /// Writes every report to `<reports>/<run-id>/` and, once all four are written, makes
    /// `<reports>/latest/` a directory of the same files (hard links where the file system has
    /// them, copies otherwise) that replaces the old one whole: a reader never sees half a report,
    /// nor the files of two runs together (a run that fails to write leaves `latest` as it was).
    /// Two threads write two reports each.
    pub fn write(&self, reports: &Path) -> Result<Written, ReportError> {
        let dir = reports.join(self.info.run_id.as_str());
        let latest = reports.join("latest");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ReportError::Io { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        // What a run killed while switching `latest` left behind.
        remove_stale(reports, "latest");
        let put = |name: &str| -> Result<(), ReportError> {
            write_atomic_with(&dir.join(name), |out| self.render_to(name, out))
        };
        std::thread::scope(|scope| {
            let other = scope.spawn(|| put(FILES[0]).and_then(|()| put(FILES[2])));
            let mine = put(FILES[1]).and_then(|()| put(FILES[3]));
            let theirs = other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            mine.and(theirs)
        })?;
        // Only a complete run becomes `latest`, whole: its files are put in a new directory
        // (hard links, or copies), which then takes the old one's place.
        let staged = beside(&latest, "new");
        let _ = std::fs::remove_dir_all(&staged);
        let staging = (|| {
            std::fs::create_dir(&staged)?;
            for name in FILES {
                let (from, to) = (dir.join(name), staged.join(name));
                if std::fs::hard_link(&from, &to).is_err() {
                    std::fs::copy(&from, &to)?;
                }
            }
            replace_dir(&staged, &latest)
        })();
        if let Err(source) = staging {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(io(&latest)(source));
        }
        Ok(Written { dir, latest })
    }

    /// The targets in the order they first appear, with their cases.
    pub fn by_target(&self) -> Vec<(&str, Vec<&RenderedCase>)> {
        let mut groups: Vec<(&str, Vec<&RenderedCase>)> = Vec::new();
        for c in &self.cases {
            match groups.iter_mut().find(|(t, _)| *t == c.brief.target) {
                Some((_, v)) => v.push(c),
                None => groups.push((c.brief.target.as_str(), vec![c])),
            }
        }
        groups
    }
}

/// Writes a report atomically (no fsync: the rename is what keeps a reader from seeing half a
/// report, and a report is the output of a run that can be made again).
fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), ReportError> {
    write_atomic(path, Atomic::default(), fill).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
/// Writes `<reports>/latest/report.json` alone, atomically, for a fresh run id; `run` writes
/// every report with [`Reports::write`].
pub fn write_json(
    reports: &Path,
    mode: &str,
    outcomes: &[CaseOutcome],
) -> std::io::Result<PathBuf> {
    let info = RunInfo {
        run_id: RunId::new(),
        mode: if mode == "live" {
            Mode::Live
        } else {
            Mode::Recorded
        },
    };
    let r = Reports::new(info, outcomes);
    let dir = reports.join("latest");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("report.json");
    write_atomic_with(&path, |out| json::write(&r, out)).map_err(std::io::Error::other)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_outcome() -> CaseOutcome {
        CaseOutcome {
            verdict: Verdict::Fail,
            class: crate::model::class::Class::ContractDrift,
            reason: "a <reason> & more".into(),
            status: Some(200),
            latency_ms: 12.25,
            ttfb_ms: Some(3.5),
            failures: vec![crate::model::failure::Failure::SchemaUnusable {
                message: "/choices is required".into(),
            }],
            expected_status: vec![200],
            endpoint: "/chat/completions".into(),
            model: Some("m".into()),
            finish_reason: Some("stop".into()),
            retries: 1,
            attempt_statuses: vec![Some(503), Some(200)],
            retry_waits_ms: vec![250.0],
            case_ms: 300.5,
            notes: vec!["a note".into()],
            client_request_id: Some("llmc-1".into()),
            ..CaseOutcome::new("t::c", "t", "c", Mode::Live)
        }
    }

    #[test]
    fn one_class_and_one_reason_per_case() {
        use crate::model::class::Class;
        let o = CaseOutcome {
            class: Class::ContractDrift,
            reason: "a successful answer where fix_request was due: HTTP 200 (rule 2xx)".into(),
            failures: vec![crate::model::failure::Failure::Class {
                expected: Class::FixRequest,
                got: Class::ContractDrift,
                reason: "a successful answer where fix_request was due: HTTP 200 (rule 2xx)"
                    .into(),
            }],
            ..failed_outcome()
        };
        let text = terminal_text(&o);
        assert_eq!(text.matches("HTTP 200 (rule 2xx)").count(), 1, "{text}");
        assert!(text.contains("class: expected fix_request, got contract_drift"), "{text}");
        assert!(!text.contains("got ok"), "{text}");
    }

    #[test]
    fn a_retried_case_shows_its_attempts_and_whole_time() {
        let o = failed_outcome();
        assert!(
            line(&o).ends_with("12.2 ms (2 attempts, 300 ms total)"),
            "{}",
            line(&o)
        );
        let o = CaseOutcome {
            retries: 2,
            case_ms: 3_140.0,
            ..failed_outcome()
        };
        assert!(line(&o).ends_with("(3 attempts, 3.1 s total)"), "{}", line(&o));
        let once = CaseOutcome {
            retries: 0,
            ..failed_outcome()
        };
        assert!(line(&once).ends_with(" ms"), "{}", line(&once));
        assert!(!line(&once).contains("attempts"));
    }

    #[test]
    fn a_rendered_case_gives_back_each_part_as_rendered() {
        let o = failed_outcome();
        let r = RenderedCase::new(o.clone());
        assert_eq!(r.part(Part::Junit), junit::part(&o));
        assert_eq!(r.json(), Ok(json::part(&o).unwrap().as_str()));
        assert_eq!(r.part(Part::MarkdownRow), markdown::row(&o));
        assert_eq!(
            Some(r.part(Part::MarkdownSection).to_string()),
            markdown::section(&o)
        );
        let [head, mid, tail] = html::mark(&o);
        assert_eq!(r.part(Part::MarkHead), head);
        assert_eq!(r.part(Part::MarkMid), mid);
        assert_eq!(r.part(Part::MarkTail), tail);
        assert_eq!(r.part(Part::HtmlRow), html::row(&o));
        assert_eq!(
            Some(r.part(Part::HtmlDetails).to_string()),
            html::details(&o)
        );
        assert!(!r.part(Part::MarkdownSection).is_empty());
        assert_eq!(r.brief, Brief::of(&o));
    }

    fn read_all(dir: &Path) -> Vec<Vec<u8>> {
        FILES
            .iter()
            .map(|n| std::fs::read(dir.join(n)).unwrap())
            .collect()
    }

    #[test]
    fn latest_is_never_a_mix_of_two_runs_and_stale_temporaries_go() {
        let info = || RunInfo {
            run_id: RunId::new(),
            mode: Mode::Recorded,
        };
        let reports = tempfile::tempdir().unwrap();
        let latest = reports.path().join("latest");
        let first = Reports::new(info(), &[failed_outcome()]);
        first.write(reports.path()).unwrap();
        let old = read_all(&latest);
        // What a run killed while switching `latest` leaves behind (its process is gone).
        for stale in [".latest.new-4000000000", ".latest.old-4000000000"] {
            std::fs::create_dir(reports.path().join(stale)).unwrap();
        }
        // A second run whose third report cannot be written (a directory is in its way): its
        // first reports are written, but `latest` stays the first run's, all four files.
        let second = Reports::new(info(), &[]);
        let blocked = reports.path().join(second.info.run_id.as_str());
        std::fs::create_dir_all(blocked.join("summary.md/in-the-way")).unwrap();
        assert!(second.write(reports.path()).is_err());
        assert!(read_all(&latest) == old, "latest/ is not the first run's whole");
        // A third run replaces `latest` whole; the stale temporaries are gone.
        let third = Reports::new(info(), &[]);
        let w = third.write(reports.path()).unwrap();
        assert!(read_all(&latest) == read_all(&w.dir), "latest/ is not the third run's");
        let mut left: Vec<String> = std::fs::read_dir(reports.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        left.extend(
            std::fs::read_dir(&latest)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !FILES.contains(&n.as_str())),
        );
        assert_eq!(left, Vec::<String>::new());
    }

    #[test]
    fn write_json_alone_writes_latest_report_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_json(dir.path(), "live", &[]).unwrap();
        assert_eq!(path, dir.path().join("latest/report.json"));
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["mode"], "live");
        assert_eq!(doc["summary"]["total"], 0);
        assert_eq!(doc["exit_code"], 0);
        // Nothing but the report is left behind (no temporary file).
        let names: Vec<_> = std::fs::read_dir(dir.path().join("latest"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["report.json"]);
    }
}
