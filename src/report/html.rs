//! `index.html`: one self-contained page (inline CSS and SVG, no script, nothing fetched) with the
//! run's counts, bar charts of latency and time to first byte per case and per target, the table
//! of cases, and the terminal's text for every case that did not pass.
//!
//! Each case has exactly one mark in the per-case chart, an SVG group with `data-case="<id>"`;
//! each target one in the per-target chart, with `data-target="<name>"`. Nothing else on the page
//! carries those attributes, so counting them checks the charts.

use std::fmt::Write;

use super::{terminal_text, Part, Reports};
use crate::util::text::visible;
use crate::model::outcome::{CaseOutcome, Verdict};

/// Escapes text for HTML element content and attribute values; a control character (other than
/// a line break or a tab) is shown as its visible escape (`\u{1b}`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c != '\n' && crate::util::text::needs_escape(c) => {
                let _ = write!(out, "{}", crate::util::text::Visible(c.encode_utf8(&mut [0; 4])));
            }
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --pass:#2e7d32; --fail:#c62828; --error:#6a1b9a; --skip:#b7791f; --unsupported:#00838f; --ink:#1d2330; --muted:#5b6475; --line:#d9dde5; --bg:#ffffff; --panel:#f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg); }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.meta { color: var(--muted); margin: 0 0 12px; }
.counts { display: flex; gap: 10px; flex-wrap: wrap; margin: 12px 0; }
.count { padding: 6px 12px; border-radius: 6px; background: var(--panel); border: 1px solid var(--line); font-weight: 600; }
.count b { font-size: 18px; margin-right: 4px; }
.pass { color: var(--pass); } .fail { color: var(--fail); } .error { color: var(--error); } .skip { color: var(--skip); } .unsupported { color: var(--unsupported); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); position: sticky; top: 0; }
.table-wrap { overflow-x: auto; }
td.mono { white-space: nowrap; }
td.crid { font-size: 11px; color: var(--muted); }
td.reason { min-width: 14em; max-width: 26em; font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { font-weight: 700; text-transform: uppercase; font-size: 12px; }
.chart { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px; overflow-x: auto; }
.chart svg { display: block; max-width: 100%; height: auto; }
.chart text { font-size: 12px; fill: var(--ink); }
.chart .label { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 11px; }
.chart .val, .chart .tick { fill: var(--muted); font-size: 11px; }
.chart .grid { stroke: var(--line); }
.bar-pass { fill: var(--pass); } .bar-fail { fill: var(--fail); } .bar-error { fill: var(--error); } .bar-skip { fill: var(--skip); } .bar-unsupported { fill: var(--unsupported); }
.bar-ttfb { fill: #000; fill-opacity: .45; }
.bar-mean { fill: #3b6fb6; } .bar-max { fill: #9db7dc; }
.legend { display: flex; gap: 16px; flex-wrap: wrap; color: var(--muted); font-size: 12px; margin: 6px 2px 0; }
.sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -2px; margin-right: 4px; }
details { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; background: var(--panel); }
summary { cursor: pointer; padding: 6px 10px; font-weight: 600; }
pre { margin: 0; padding: 10px 12px; overflow-x: auto; background: #fff; border-top: 1px solid var(--line); font-size: 12px; white-space: pre-wrap; word-break: break-word; }
"#;

fn verdict_class(v: Verdict) -> &'static str {
    v.as_str()
}

/// A round axis maximum at or above `v` whose quarters (the ticks) are round too: 1, 1.2, 1.6,
/// 2, 2.4, 3, 4, 5, 6 or 8 times a power of ten. The axis fits its data: at most a third longer
/// than the slowest case (a 1,010 ms case gets a 1,200 ms axis, not 2,000).
fn nice_max(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 1.2, 1.6, 2.0, 2.4, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        // A little slack against a power of ten computed a hair low.
        if m * p >= v * (1.0 - 1e-9) {
            return m * p;
        }
    }
    10.0 * p
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or("—".to_string(), |v| format!("{v:.1}"))
}

/// Shortens a label to `max` characters, with an ellipsis.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

const LABEL_W: f64 = 330.0;
const BAR_W: f64 = 520.0;
const CHART_W: f64 = LABEL_W + BAR_W + 90.0;
const ROW_H: f64 = 22.0;
const TOP: f64 = 24.0;

/// The axis: gridlines and tick labels at quarters of `max`.
fn axis(svg: &mut String, max: f64, height: f64) {
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let x = LABEL_W + BAR_W * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}"/><text class="tick" x="{x:.1}" y="14" text-anchor="middle">{} ms</text>"#,
            TOP - 4.0,
            height - 4.0,
            tick(v)
        );
    }
}

/// A tick label: whole numbers without decimals, others with as few as they need (2.5, 0.25).
fn tick(v: f64) -> String {
    let t = format!("{v:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn width(v: f64, max: f64) -> f64 {
    (v.max(0.0) / max * BAR_W).min(BAR_W)
}

/// A case's chart mark around the numbers that depend on the whole run (its row's position and
/// the bars' scale): up to the position, from there to the latency bar's width, and the latency
/// label's text.
pub fn mark(o: &CaseOutcome) -> [String; 3] {
    let id = escape(&o.id);
    let v = verdict_class(o.verdict);
    [
        format!(r#"<g class="mark" data-case="{id}" data-verdict="{v}" transform="translate(0,"#),
        format!(
            r#")"><title>{id}: {v}, latency {lat_ms} ms, TTFB {ttfb_ms} ms, first token {ft} ms</title><text class="label" x="{lx}" y="15" text-anchor="end">{label}</text><rect class="bar-{v}" x="{LABEL_W}" y="3" width=""#,
            lat_ms = format_args!("{:.1}", o.latency_ms),
            ttfb_ms = fmt_ms(o.ttfb_ms),
            ft = fmt_ms(o.first_token_ms),
            lx = LABEL_W - 8.0,
            label = escape(&clip(&o.id, 46)),
        ),
        format!("{:.1} ms</text></g>", o.latency_ms),
    ]
}

/// A case's details, for a case that did not pass or passed with deviations listed.
pub fn details(o: &CaseOutcome) -> Option<String> {
    (o.verdict != Verdict::Pass || !o.deviations.is_empty()).then(|| {
        format!(
            r#"<details open id="case-{a}"><summary><span class="verdict {v}">{v}</span> <span class="mono">{id}</span></summary><pre>{text}</pre></details>"#,
            a = anchor(&o.id),
            v = verdict_class(o.verdict),
            id = escape(&o.id),
            text = escape(terminal_text(o).trim_end_matches('\n')),
        )
    })
}

/// Latency (coloured by verdict) with the time to first byte over it, one row per case.
fn case_chart(r: &Reports, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let max = nice_max(
        r.briefs()
            .flat_map(|o| [o.latency_ms, o.ttfb_ms.unwrap_or(0.0)])
            .fold(0.0, f64::max),
    );
    let height = TOP + ROW_H * r.cases.len() as f64 + 8.0;
    let mut svg = String::with_capacity(64 * 1024);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Latency and time to first byte per case" width="{CHART_W}" height="{height}" viewBox="0 0 {CHART_W} {height}">"#
    );
    axis(&mut svg, max, height);
    for (i, c) in r.cases.iter().enumerate() {
        let o = &c.brief;
        let y = TOP + ROW_H * i as f64;
        // Every case gets a visible mark, even one that took no time (a skip).
        let lat = width(o.latency_ms, max).max(2.0);
        svg.push_str(c.part(Part::MarkHead));
        let _ = write!(svg, "{y:.1}");
        svg.push_str(c.part(Part::MarkMid));
        let _ = write!(svg, r#"{lat:.1}" height="16" rx="2"/>"#);
        if let Some(t) = o.ttfb_ms.map(|t| width(t, max)) {
            let _ = write!(
                svg,
                r#"<rect class="bar-ttfb" x="{LABEL_W}" y="8" width="{t:.1}" height="6"/>"#
            );
        }
        let _ = write!(
            svg,
            r#"<text class="val" x="{:.1}" y="15">"#,
            LABEL_W + lat + 6.0
        );
        svg.push_str(c.part(Part::MarkTail));
        if svg.len() > 60 * 1024 {
            out.write_all(svg.as_bytes())?;
            svg.clear();
        }
    }
    svg.push_str("</svg>");
    out.write_all(svg.as_bytes())
}

/// Mean and largest latency, and mean time to first byte, per target.
fn target_chart(r: &Reports) -> String {
    struct Row<'a> {
        target: &'a str,
        n: usize,
        mean: f64,
        max: f64,
        ttfb: Option<f64>,
    }
    let rows: Vec<Row> = r
        .by_target()
        .into_iter()
        .map(|(target, cases)| {
            let n = cases.len();
            let lat: Vec<f64> = cases.iter().map(|c| c.brief.latency_ms).collect();
            let ttfbs: Vec<f64> = cases.iter().filter_map(|c| c.brief.ttfb_ms).collect();
            Row {
                target,
                n,
                mean: lat.iter().sum::<f64>() / n.max(1) as f64,
                max: lat.iter().copied().fold(0.0, f64::max),
                ttfb: (!ttfbs.is_empty()).then(|| ttfbs.iter().sum::<f64>() / ttfbs.len() as f64),
            }
        })
        .collect();
    let max = nice_max(rows.iter().map(|r| r.max).fold(0.0, f64::max));
    let group_h = ROW_H * 1.6;
    let height = TOP + group_h * rows.len() as f64 + 8.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Latency and time to first byte per target" width="{CHART_W}" height="{height}" viewBox="0 0 {CHART_W} {height}">"#
    );
    axis(&mut svg, max, height);
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + group_h * i as f64;
        let _ = write!(
            svg,
            r#"<g class="target-mark" data-target="{t}" transform="translate(0,{y:.1})"><title>{t}: {n} case(s), mean latency {mean:.1} ms, largest {mx:.1} ms, mean TTFB {tt} ms</title><text class="label" x="{lx}" y="18" text-anchor="end">{label} ({n})</text><rect class="bar-max" x="{LABEL_W}" y="3" width="{wmax:.1}" height="26" rx="2"/><rect class="bar-mean" x="{LABEL_W}" y="3" width="{wmean:.1}" height="26" rx="2"/>"#,
            t = escape(row.target),
            n = row.n,
            mean = row.mean,
            mx = row.max,
            tt = fmt_ms(row.ttfb),
            lx = LABEL_W - 8.0,
            label = escape(&clip(row.target, 36)),
            wmax = width(row.max, max).max(2.0),
            wmean = width(row.mean, max).max(2.0),
        );
        if let Some(t) = row.ttfb {
            let _ = write!(
                svg,
                r#"<rect class="bar-ttfb" x="{LABEL_W}" y="13" width="{:.1}" height="6"/>"#,
                width(t, max)
            );
        }
        let _ = write!(
            svg,
            r#"<text class="val" x="{:.1}" y="14">mean {:.1} ms</text><text class="val" x="{:.1}" y="27">max {:.1} ms</text></g>"#,
            LABEL_W + width(row.max, max).max(2.0) + 6.0,
            row.mean,
            LABEL_W + width(row.max, max).max(2.0) + 6.0,
            row.max
        );
    }
    svg.push_str("</svg>");
    svg
}

const TABLE_HEAD: &str = r#"<div class="table-wrap"><table><thead><tr><th>verdict</th><th>case</th><th class="num">status</th><th>class</th><th>reason</th><th class="num">latency (ms)</th><th class="num">TTFB (ms)</th><th class="num">first token (ms)</th><th class="num">retries</th><th>parser</th><th>finish</th><th class="num">tokens</th><th>client request id</th></tr></thead><tbody>"#;

/// The longest reason the table shows, in characters; the whole one is in the cell's title and
/// in the case's details.
pub const MAX_REASON: usize = 140;

/// The table's parser column: what a client's parser made of the answer, empty where the
/// status already failed (a 401 or 429 whose error body parsed is no `success`).
fn parser_cell(o: &CaseOutcome) -> &'static str {
    match (o.status, o.parser_outcome) {
        (Some(s), _) if !(200..300).contains(&s) => "—",
        (_, Some(p)) => p.as_str(),
        (_, None) => "—",
    }
}

/// A case's row in the table.
pub fn row(o: &CaseOutcome) -> String {
    let tokens = o
        .usage
        .and_then(|u| u.total_tokens)
        .map_or("—".to_string(), |n| n.to_string());
    let id = escape(&o.id);
    let name = if o.verdict == Verdict::Pass {
        id.clone()
    } else {
        format!(r##"<a href="#case-{}">{id}</a>"##, anchor(&o.id))
    };
    format!(
        r#"<tr data-id="{id}"><td class="verdict {v}">{v}</td><td class="mono">{name}</td><td class="num">{status}</td><td>{class}</td><td class="reason" title="{title}">{reason}</td><td class="num">{lat:.1}</td><td class="num">{ttfb}</td><td class="num">{ft}</td><td class="num">{retries}</td><td class="parser">{parser}</td><td>{finish}</td><td class="num">{tokens}</td><td class="mono crid">{crid}</td></tr>"#,
        v = verdict_class(o.verdict),
        status = o.status.map_or("—".to_string(), |s| s.to_string()),
        class = o.class.as_str(),
        lat = o.latency_ms,
        ttfb = fmt_ms(o.ttfb_ms),
        ft = fmt_ms(o.first_token_ms),
        retries = o.retries,
        parser = parser_cell(o),
        reason = escape(&clip(&visible(&o.reason), MAX_REASON)),
        title = escape(&clip(&visible(&o.reason), 4 * MAX_REASON)),
        finish = escape(o.finish_reason.as_deref().unwrap_or("—")),
        crid = escape(o.client_request_id.as_deref().unwrap_or("—")),
    )
}

fn table(r: &Reports, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    out.write_all(TABLE_HEAD.as_bytes())?;
    for c in &r.cases {
        out.write_all(c.part(Part::HtmlRow).as_bytes())?;
    }
    out.write_all(b"</tbody></table></div>")
}

/// An id usable in a fragment: letters, digits, `-` and `_`.
fn anchor(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Writes the page: its head from the run's totals, the charts, the table and the details.
pub fn write(r: &Reports, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let s = &r.summary;
    let mode = match r.info.mode {
        crate::model::outcome::Mode::Live => "live",
        crate::model::outcome::Mode::Recorded => "recorded",
    };
    let mut page = String::with_capacity(16 * 1024);
    let _ = write!(
        page,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>llm-contract — {mode} run {run}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>llm-contract</h1>
<p class="meta">{mode} run <code>{run}</code> · started {started} · version {version} · exit code {code}</p>
<div class="counts"><span class="count pass"><b>{p}</b>passed</span><span class="count fail"><b>{f}</b>failed</span><span class="count error"><b>{e}</b>errors</span><span class="count skip"><b>{k}</b>skipped</span><span class="count unsupported"><b>{u}</b>unsupported</span><span class="count"><b>{t}</b>cases</span></div>
</header>
"#,
        run = escape(r.info.run_id.as_str()),
        started = escape(r.info.run_id.started_at()),
        version = env!("CARGO_PKG_VERSION"),
        code = s.exit_code(),
        p = s.passed,
        f = s.failed,
        e = s.errors,
        k = s.skipped,
        u = s.unsupported,
        t = s.total,
    );
    page.push_str(
        r#"<section id="per-case">
<h2>Latency and time to first byte, per case</h2>
<div class="chart">"#,
    );
    out.write_all(page.as_bytes())?;
    case_chart(r, out)?;
    page.clear();
    let _ = write!(
        page,
        r#"</div>
<div class="legend"><span><span class="sw" style="background:var(--pass)"></span>latency, passed</span><span><span class="sw" style="background:var(--fail)"></span>failed</span><span><span class="sw" style="background:var(--error)"></span>error</span><span><span class="sw" style="background:var(--skip)"></span>skipped</span><span><span class="sw" style="background:var(--unsupported)"></span>unsupported</span><span><span class="sw" style="background:#000;opacity:.45"></span>time to first byte</span></div>
</section>
<section id="per-target">
<h2>Latency and time to first byte, per target</h2>
<div class="chart">{}</div>
<div class="legend"><span><span class="sw" style="background:#3b6fb6"></span>mean latency</span><span><span class="sw" style="background:#9db7dc"></span>largest latency</span><span><span class="sw" style="background:#000;opacity:.45"></span>mean time to first byte</span></div>
</section>
<section id="cases">
<h2>Cases</h2>
"#,
        target_chart(r),
    );
    out.write_all(page.as_bytes())?;
    table(r, out)?;
    page.clear();
    page.push_str("\n</section>\n");
    let mut failing = r
        .cases
        .iter()
        .map(|c| c.part(Part::HtmlDetails))
        .filter(|d| !d.is_empty());
    if let Some(first) = failing.next() {
        page.push_str("<section id=\"not-passing\">\n<h2>Cases that did not pass, or deviate from the spec</h2>\n");
        for details in std::iter::once(first).chain(failing) {
            page.push_str(details);
            page.push('\n');
        }
        page.push_str("</section>\n");
    }
    page.push_str("</body>\n</html>\n");
    out.write_all(page.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(escape("a\x1b[31mb\u{202e}"), "a\\u{1b}[31mb\\u{202e}");
    }

    #[test]
    fn a_row_shows_its_reason_escaped_and_bounded_and_no_parser_success_for_a_failed_status() {
        use crate::model::outcome::{Mode, ParserOutcome};
        let o = CaseOutcome {
            verdict: Verdict::Fail,
            status: Some(401),
            parser_outcome: Some(ParserOutcome::Success),
            reason: format!("<b>HTTP 401</b>\n\u{1b}[31m {}", "x".repeat(400)),
            ..CaseOutcome::new("t::c", "t", "c", Mode::Recorded)
        };
        let row = row(&o);
        assert!(!row.contains("success"), "{row}");
        assert!(row.contains(r#"<td class="reason" title="&lt;b&gt;HTTP 401&lt;/b&gt;\n\u{1b}[31m x"#), "{row}");
        assert!(!row.contains("<b>") && !row.contains('\u{1b}') && !row.contains('\n'));
        let cell = row.split(r#"">"#).find(|c| c.starts_with("&lt;b&gt;HTTP 401")).unwrap();
        let shown = cell.split("</td>").next().unwrap();
        assert!(shown.ends_with('…') && shown.chars().count() < MAX_REASON + 40, "{shown}");
        let ok = CaseOutcome {
            status: Some(200),
            ..o
        };
        assert!(super::row(&ok).contains(r#"<td class="parser">success</td>"#));
    }

    #[test]
    fn nice_axis_maxima() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(3.2), 4.0);
        assert_eq!(nice_max(10.0), 10.0);
        assert_eq!(nice_max(101.0), 120.0);
        assert_eq!(nice_max(1234.0), 1600.0);
        assert_eq!(nice_max(1000.0), 1000.0);
        // The axis fits its data: never a third longer than the slowest case, for any data.
        for i in 1..20_000 {
            let v = f64::from(i) * 0.37;
            let m = nice_max(v);
            assert!(m >= v * (1.0 - 1e-9) && m <= v * 1.34, "{v} → {m}");
        }
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(500.0), "500");
        assert_eq!(tick(0.0), "0");
    }
}
