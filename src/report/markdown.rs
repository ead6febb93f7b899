//! `summary.md`: a table of every case and a section per case that did not pass, quoting the
//! terminal's text without colour. Made for `$GITHUB_STEP_SUMMARY` (GitHub-flavoured Markdown,
//! kept under its 1 MiB limit per step).

use super::{terminal_text, Part, Reports};
use crate::model::outcome::{CaseOutcome, Verdict};

/// GitHub refuses a step summary over 1 MiB; stop adding sections well before it.
pub const MAX_BYTES: usize = 900 * 1024;

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅ pass",
        Verdict::Fail => "❌ fail",
        Verdict::Error => "⚠️ error",
        Verdict::Skip => "⏭️ skip",
        Verdict::Unsupported => "🚫 unsupported",
    }
}

/// A table cell: no line breaks, pipes escaped.
pub(crate) fn cell(s: &str) -> String {
    s.replace(['\r', '\n'], " ").replace('|', "\\|")
}

/// An inline code span that survives backticks in the text.
pub(crate) fn code(s: &str) -> String {
    let s = cell(s);
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

/// A fenced block longer than any run of backticks in the text.
fn fenced(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{}\n{fence}\n", text.trim_end_matches('\n'))
}

/// A case's row in the table.
pub fn row(o: &CaseOutcome) -> String {
    format!(
        "| {} | {} | {} | {} | {:.1} |\n",
        mark(o.verdict),
        code(&o.id),
        o.status.map_or("—".to_string(), |s| s.to_string()),
        cell(o.class.as_str()),
        o.latency_ms
    )
}

/// A case's section, for a case that did not pass or passed with deviations listed.
pub fn section(o: &CaseOutcome) -> Option<String> {
    (o.verdict != Verdict::Pass || !o.deviations.is_empty()).then(|| {
        format!(
            "\n### {} {}\n\n{}",
            o.verdict.as_str().to_ascii_uppercase(),
            code(&o.id),
            fenced(&terminal_text(o))
        )
    })
}

pub fn render(r: &Reports) -> String {
    let mode = match r.info.mode {
        crate::model::outcome::Mode::Live => "live",
        crate::model::outcome::Mode::Recorded => "recorded",
    };
    let mut out = format!(
        "# llm-contract: {mode} run `{}`\n\n**{}** — exit code {}\n\n",
        r.info.run_id,
        r.summary.line(),
        r.summary.exit_code()
    );
    out.push_str("| verdict | case | status | class | latency (ms) |\n");
    out.push_str("| --- | --- | ---: | --- | ---: |\n");
    for c in &r.cases {
        out.push_str(c.part(Part::MarkdownRow));
    }
    let not_passing: Vec<&str> = r
        .cases
        .iter()
        .map(|c| c.part(Part::MarkdownSection))
        .filter(|s| !s.is_empty())
        .collect();
    if !not_passing.is_empty() {
        out.push_str("\n## Cases that did not pass, or deviate from the spec\n");
    }
    for (i, section) in not_passing.iter().enumerate() {
        if out.len() + section.len() > MAX_BYTES {
            out.push_str(&format!(
                "\n… {} more case(s) not shown here (the step summary's size limit); see report.json.\n",
                not_passing.len() - i
            ));
            break;
        }
        out.push_str(section);
    }
    out
}
