//! The matrix as text: `matrix.md` (GitHub-flavoured Markdown) and `matrix.html` (one
//! self-contained page: inline CSS, no script, nothing fetched). Every text from a report is
//! escaped for where it goes.
//!
//! In the page, each behaviour's row is `<tr data-behaviour="<family>/<case>">`, each target's
//! column head `<th data-target="<name>">` and each cell `<td data-state="<state>">`: nothing
//! else carries those attributes, so counting them checks the page.

use std::fmt::Write;

use super::{Cell, Column, Matrix, State};
use crate::model::outcome::Mode;
use crate::report::html::escape;
use crate::report::markdown::{cell as md_cell, code as md_code};

/// How the matrix is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options<'a> {
    /// Leave out what differs between two runs of the same suite (run ids, start times): the
    /// repository's checked-in matrix.
    pub reproducible: bool,
    /// A paragraph under the title: where the runs come from, say.
    pub note: Option<&'a str>,
}

/// The longest reason or description shown, in characters.
const MAX_TEXT: usize = 600;

fn clip(s: &str) -> String {
    let s = crate::util::text::Visible(s).to_string();
    if s.chars().count() <= MAX_TEXT {
        s
    } else {
        let mut t: String = s.chars().take(MAX_TEXT - 1).collect();
        t.push('…');
        t
    }
}

fn mode(m: Mode) -> &'static str {
    match m {
        Mode::Live => "live",
        Mode::Recorded => "recorded",
    }
}

/// A state's mark in Markdown.
fn md_mark(s: State) -> &'static str {
    match s {
        State::Pass => "✅ pass",
        State::Deviation => "🟡 deviation",
        State::Fail => "❌ fail",
        State::Error => "⚠️ error",
        State::Unsupported => "🚫 unsupported",
        State::Skip => "⏭️ skip",
        State::Absent => "—",
    }
}

/// The rule for several runs of one target, as both files say it.
const LATEST_WINS: &str = "Where several reports hold the same target, the latest run (by its start time) gives its column.";

fn requires_label(requires: &[String]) -> String {
    if requires.is_empty() {
        "no capability required".into()
    } else {
        format!("requires {}", requires.join(" + "))
    }
}

fn totals_line(c: &Column) -> String {
    let behaviours: usize = c.totals.iter().sum::<usize>() - c.count(State::Absent);
    let passing = c.count(State::Pass) + c.count(State::Deviation);
    format!("{passing} of {behaviours} hold")
}

/// `matrix.md`.
pub fn markdown(m: &Matrix, o: Options<'_>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("# Conformance matrix\n\n");
    let behaviours = m.rows().count();
    let _ = writeln!(
        out,
        "{behaviours} behaviours × {} target(s), from {} report(s) written by `llm-contract run` \
         (made by `llm-contract matrix`). {LATEST_WINS}\n",
        m.columns.len(),
        m.reports
    );
    if let Some(n) = o.note {
        let _ = writeln!(out, "{}\n", md_cell(&clip(n)));
    }
    out.push_str("| target | run | ");
    for s in State::ALL {
        let _ = write!(out, "{} | ", s.as_str());
    }
    out.push_str("holds |\n| --- | --- |");
    out.push_str(&" ---: |".repeat(State::ALL.len() + 1));
    out.push('\n');
    for c in &m.columns {
        let run = if o.reproducible {
            mode(c.mode).to_string()
        } else {
            format!(
                "{} {}, {}",
                mode(c.mode),
                md_code(&c.run_id),
                md_cell(&c.started_at)
            )
        };
        let _ = write!(out, "| {} | {run} | ", md_code(&c.target));
        for s in State::ALL {
            let _ = write!(out, "{} | ", c.count(s));
        }
        let _ = writeln!(out, "{} |", totals_line(c));
    }
    if !m.superseded.is_empty() && !o.reproducible {
        out.push_str("\nLeft out (a later run holds the target):\n\n");
        for s in &m.superseded {
            let _ = writeln!(
                out,
                "- {} of run {} (replaced by {})",
                md_code(&s.target),
                md_code(&s.run_id),
                md_code(&s.by)
            );
        }
    }
    out.push_str("\nLegend: ");
    let legend: Vec<String> = State::ALL
        .iter()
        .map(|s| format!("{} — {}", md_mark(*s), s.meaning()))
        .collect();
    out.push_str(&legend.join("; "));
    out.push_str(".\n");
    for f in &m.families {
        let _ = write!(out, "\n## {}\n\n| behaviour | requires |", md_cell(&f.name));
        for c in &m.columns {
            let _ = write!(out, " {} |", md_code(&c.target));
        }
        out.push_str("\n| --- | --- |");
        out.push_str(&" --- |".repeat(m.columns.len()));
        out.push('\n');
        for g in &f.groups {
            let requires = if g.requires.is_empty() {
                "—".to_string()
            } else {
                g.requires.iter().map(|r| md_code(r)).collect::<Vec<_>>().join(" ")
            };
            for r in &g.rows {
                let _ = write!(out, "| {} | {requires} |", md_code(&r.case));
                for cell in &r.cells {
                    let _ = write!(out, " {} |", md_cell_text(cell));
                }
                out.push('\n');
            }
        }
    }
    out
}

fn md_cell_text(c: &Cell) -> String {
    let mut text = md_mark(c.state).to_string();
    if !c.deviations.is_empty() {
        let _ = write!(text, " ({})", c.deviations.join(", "));
    }
    match &c.href {
        // The link's target is ours (a relative path, percent-encoded, and an anchor of
        // letters, digits, `-` and `_`): no character that ends a Markdown link.
        Some(h) => format!("[{}]({h})", md_cell(&text)),
        None => md_cell(&text),
    }
}

const STYLE: &str = r#"
:root { --pass:#2e7d32; --deviation:#8d6e00; --fail:#c62828; --error:#6a1b9a; --skip:#8a8f99; --unsupported:#00838f; --absent:#b0b5bf; --ink:#1d2330; --muted:#5b6475; --line:#d9dde5; --panel:#f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
p { max-width: 72em; }
.meta { color: var(--muted); }
.note { border-left: 3px solid var(--deviation); padding: 2px 10px; background: #fffdf3; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--panel); position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.family th { background: #e8ebf1; font-size: 14px; padding-top: 10px; }
tr.group th { background: var(--panel); color: var(--muted); font-weight: 600; font-size: 12px; }
tr.behaviour th { font-weight: normal; }
tr.behaviour th .mono { font-weight: 600; }
tr.behaviour th .desc { display: block; color: var(--muted); font-size: 12px; max-width: 46em; }
td.cell { text-align: center; font-weight: 700; font-size: 12px; text-transform: uppercase; white-space: nowrap; }
td.cell a { color: inherit; text-decoration: none; display: block; }
td.cell a:hover { text-decoration: underline; }
td.cell .dev { display: block; font-weight: normal; text-transform: none; font-size: 11px; }
.s-pass { color: var(--pass); background: #e8f5e9; } .s-deviation { color: var(--deviation); background: #fff8e1; }
.s-fail { color: var(--fail); background: #ffebee; } .s-error { color: var(--error); background: #f3e5f5; }
.s-unsupported { color: var(--unsupported); background: #e0f7fa; } .s-skip { color: var(--skip); background: #f5f5f5; }
.s-absent { color: var(--absent); }
.legend { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; align-items: baseline; font-size: 13px; margin: 8px 0; }
.legend .cell { padding: 1px 8px; border-radius: 4px; text-align: center; font-weight: 700; font-size: 12px; text-transform: uppercase; }
.wrap { overflow-x: auto; }
"#;

/// `matrix.html`.
pub fn html(m: &Matrix, o: Options<'_>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let behaviours = m.rows().count();
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>llm-contract — conformance matrix</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>Conformance matrix</h1>
<p class="meta">{behaviours} behaviours × {targets} target(s), from {reports} report(s) written by <code>llm-contract run</code> (made by <code>llm-contract matrix</code>). {LATEST_WINS}{links}</p>
{note}</header>
<section id="totals">
<h2>Per target</h2>
<div class="wrap"><table><thead><tr><th>target</th><th>run</th>"#,
        targets = m.columns.len(),
        reports = m.reports,
        links = if m.rows().any(|(_, _, r)| r.cells.iter().any(|c| c.href.is_some())) {
            " Each cell links to its case in its run&#39;s report."
        } else {
            ""
        },
        note = o
            .note
            .map(|n| format!("<p class=\"note\">{}</p>\n", escape(&clip(n))))
            .unwrap_or_default(),
    );
    for s in State::ALL {
        let _ = write!(out, r#"<th class="num">{}</th>"#, s.as_str());
    }
    out.push_str(r#"<th class="num">holds</th></tr></thead><tbody>"#);
    for c in &m.columns {
        let run = if o.reproducible {
            mode(c.mode).to_string()
        } else {
            format!(
                r#"{} <code>{}</code>, {}"#,
                mode(c.mode),
                escape(&c.run_id),
                escape(&c.started_at)
            )
        };
        let _ = write!(
            out,
            r#"<tr data-total="{t}"><td class="mono">{t}</td><td>{run}</td>"#,
            t = escape(&c.target)
        );
        for s in State::ALL {
            let _ = write!(out, r#"<td class="num">{}</td>"#, c.count(s));
        }
        let _ = write!(out, r#"<td class="num">{}</td></tr>"#, totals_line(c));
    }
    out.push_str("</tbody></table></div>\n");
    if !m.superseded.is_empty() && !o.reproducible {
        out.push_str("<p>Left out, a later run holding the target:</p><ul>");
        for s in &m.superseded {
            let _ = write!(
                out,
                "<li><code>{}</code> of run <code>{}</code> (replaced by <code>{}</code>)</li>",
                escape(&s.target),
                escape(&s.run_id),
                escape(&s.by)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>Legend</h2>\n<div class=\"legend\">");
    for s in State::ALL {
        let _ = write!(
            out,
            r#"<span class="cell s-{k}">{label}</span><span>{m}</span>"#,
            k = s.as_str(),
            label = label(s),
            m = escape(s.meaning())
        );
    }
    out.push_str("</div>\n</section>\n<section id=\"matrix\">\n<h2>Behaviours</h2>\n<div class=\"wrap\"><table><thead><tr><th>behaviour</th>");
    for c in &m.columns {
        let _ = write!(
            out,
            r#"<th data-target="{t}" class="mono">{t}</th>"#,
            t = escape(&c.target)
        );
    }
    out.push_str("</tr></thead>\n");
    let span = m.columns.len() + 1;
    for f in &m.families {
        let _ = write!(
            out,
            r#"<tbody id="family-{a}"><tr class="family"><th colspan="{span}">{n}</th></tr>"#,
            a = crate::report::html::anchor(&f.name),
            n = escape(&f.name)
        );
        for g in &f.groups {
            let _ = write!(
                out,
                r#"<tr class="group"><th colspan="{span}">{}</th></tr>"#,
                escape(&requires_label(&g.requires))
            );
            for r in &g.rows {
                let _ = write!(
                    out,
                    r#"<tr class="behaviour" data-behaviour="{f}/{c}"><th scope="row"><span class="mono">{c}</span>"#,
                    f = escape(&f.name),
                    c = escape(&r.case)
                );
                if !r.description.is_empty() {
                    let _ = write!(out, r#"<span class="desc">{}</span>"#, escape(&clip(&r.description)));
                }
                out.push_str("</th>");
                for (cell, col) in r.cells.iter().zip(&m.columns) {
                    html_cell(&mut out, cell, col);
                }
                out.push_str("</tr>\n");
            }
        }
        out.push_str("</tbody>\n");
    }
    out.push_str("</table></div>\n</section>\n</body>\n</html>\n");
    out
}

fn label(s: State) -> &'static str {
    match s {
        State::Absent => "—",
        s => s.as_str(),
    }
}

fn html_cell(out: &mut String, c: &Cell, col: &Column) {
    let mut title = format!("{}: {}", col.target, c.state.as_str());
    if !c.deviations.is_empty() {
        let _ = write!(title, " ({})", c.deviations.join(", "));
    }
    if !c.reason.is_empty() {
        let _ = write!(title, " — {}", clip(&c.reason));
    }
    let _ = write!(
        out,
        r#"<td class="cell s-{k}" data-state="{k}" title="{t}">"#,
        k = c.state.as_str(),
        t = escape(&title)
    );
    let mut inner = label(c.state).to_string();
    if !c.deviations.is_empty() {
        let _ = write!(inner, r#"<span class="dev">{}</span>"#, escape(&c.deviations.join(", ")));
    }
    match &c.href {
        Some(h) => {
            let _ = write!(out, r#"<a href="{}">{inner}</a>"#, escape(h));
        }
        None => out.push_str(&inner),
    }
    out.push_str("</td>");
}
