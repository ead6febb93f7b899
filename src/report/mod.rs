//! Rendering outcomes: the terminal's lines and `reports/latest/report.json`. Every renderer reads
//! the same sanitized `CaseOutcome`s; the failure text is the same everywhere.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::outcome::{CaseOutcome, Drift, Verdict};

/// Counts by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn of(outcomes: &[CaseOutcome]) -> Summary {
        let mut s = Summary {
            total: outcomes.len(),
            ..Summary::default()
        };
        for o in outcomes {
            match o.verdict {
                Verdict::Pass => s.passed += 1,
                Verdict::Fail => s.failed += 1,
                Verdict::Error => s.errors += 1,
                Verdict::Skip => s.skipped += 1,
            }
        }
        s
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
        format!(
            "{} passed, {} failed, {} errors, {} skipped ({} cases)",
            self.passed, self.failed, self.errors, self.skipped, self.total
        )
    }
}

/// One line for a case: verdict, id, status, class, latency.
pub fn line(o: &CaseOutcome) -> String {
    let status = o.status.map_or("---".to_string(), |s| s.to_string());
    format!(
        "{:<5} {:<40} {:>3}  {:<20} {:>9.1} ms",
        o.verdict.as_str().to_ascii_uppercase(),
        o.id,
        status,
        o.class.as_str(),
        o.latency_ms
    )
}

/// The detail shown under a case that did not pass: reason and failures, indented.
pub fn details(o: &CaseOutcome) -> String {
    let mut out = String::new();
    if o.verdict == Verdict::Pass {
        return out;
    }
    if !o.reason.is_empty() {
        out.push_str(&format!("      why: {}\n", o.reason));
    }
    if let Some(e) = &o.error {
        out.push_str(&format!(
            "      error: {} — {}\n",
            e.describe(),
            e.message.as_deref().unwrap_or("(no message)")
        ));
    }
    for f in &o.failures {
        let mut lines = f.lines();
        if let Some(first) = lines.next() {
            out.push_str(&format!("      - {first}\n"));
        }
        for l in lines {
            out.push_str(&format!("        {l}\n"));
        }
    }
    if let Drift::NotRun { reason } = &o.drift {
        if o.verdict == Verdict::Fail && reason != "not compared" {
            out.push_str(&format!("      drift: not run ({reason})\n"));
        }
    }
    out
}

#[derive(Serialize)]
struct ReportDoc<'a> {
    tool: &'static str,
    version: &'static str,
    mode: &'a str,
    summary: Summary,
    cases: &'a [CaseOutcome],
}

/// Writes `<reports>/latest/report.json` atomically (temp file, then rename) and returns its path.
pub fn write_json(
    reports: &Path,
    mode: &str,
    outcomes: &[CaseOutcome],
) -> std::io::Result<PathBuf> {
    let dir = reports.join("latest");
    std::fs::create_dir_all(&dir)?;
    let doc = ReportDoc {
        tool: "llm-contract",
        version: env!("CARGO_PKG_VERSION"),
        mode,
        summary: Summary::of(outcomes),
        cases: outcomes,
    };
    let path = dir.join("report.json");
    let tmp = dir.join(".report.json.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        serde_json::to_writer_pretty(&mut f, &doc)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
