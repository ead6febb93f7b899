//! `junit.xml`: one `<testsuite>` per target, one `<testcase>` per case.
//!
//! A contract violation (verdict `fail`) is a `<failure>`, a case that could not be judged (verdict
//! `error`: transport or harness) an `<error>`, a skip `<skipped>`. The failure's text is the
//! terminal's text without colour ([`terminal_text`]); its `message` is the reason and its `type`
//! the operator class. Class, status, retries, latencies and the other observability fields are
//! the test case's `<properties>`.
//!
//! The XML is written here, byte for byte as quick-junit writes it (quick-junit reads it back in
//! the tests), in one pass into one buffer: quick-junit cleans every string, property values
//! included, through an ANSI-escape parser, which cost more than the rest of the run's reports
//! together. Here a string goes through that cleaning only when it holds a control character.

use std::fmt::Write;
use std::time::Duration;

use super::{terminal_text, Brief, Part, RenderedCase, Reports};
use crate::model::outcome::{CaseOutcome, Verdict};
use crate::util::text::visible;

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64((v.max(0.0)) / 1e3)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// The properties of one case, in a fixed order.
pub fn properties(o: &CaseOutcome) -> Vec<(&'static str, String)> {
    let statuses = |s: &[u16]| s.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    let mut p = vec![
        ("verdict", o.verdict.as_str().to_string()),
        ("class", o.class.as_str().to_string()),
        ("expected_class", o.expected_class.as_str().to_string()),
        ("status", opt(o.status)),
        ("expected_status", statuses(&o.expected_status)),
        ("retries", o.retries.to_string()),
        ("latency_ms", format!("{:.3}", o.latency_ms)),
        ("ttfb_ms", opt(o.ttfb_ms.map(|v| format!("{v:.3}")))),
        (
            "first_token_ms",
            opt(o.first_token_ms.map(|v| format!("{v:.3}"))),
        ),
        ("case_ms", format!("{:.3}", o.case_ms)),
        ("client_request_id", opt(o.client_request_id.as_deref())),
        ("endpoint", o.endpoint.clone()),
        ("model", opt(o.model.as_deref())),
        ("stream", o.stream.to_string()),
        ("finish_reason", opt(o.finish_reason.as_deref())),
        ("parser_outcome", opt(o.parser_outcome.map(|p| p.as_str()))),
    ];
    if !o.deviations.is_empty() {
        let names: Vec<&str> = o.deviations.iter().map(|d| d.name).collect();
        p.push(("deviations", names.join(",")));
    }
    if let Some(u) = &o.usage {
        p.push(("prompt_tokens", opt(u.prompt_tokens)));
        p.push(("completion_tokens", opt(u.completion_tokens)));
        p.push(("total_tokens", opt(u.total_tokens)));
    }
    p
}

/// Whether quick-junit's cleaning (ANSI escapes and control characters out) would change `s`,
/// or it holds one of the two characters XML forbids that quick-junit lets through.
fn needs_cleaning(s: &str) -> bool {
    s.chars().any(|c| {
        (c < ' ' && c != '\n')
            || c == '\x7f'
            || ('\u{80}'..='\u{9f}').contains(&c)
            || matches!(c, '\u{fffe}' | '\u{ffff}')
    })
}

/// Writes `s` cleaned as quick-junit cleans it (and without U+FFFE and U+FFFF, which XML
/// forbids) and escaped as quick-xml escapes it.
fn escaped(out: &mut String, s: &str) {
    let cleaned;
    let s = if needs_cleaning(s) {
        cleaned = quick_junit::XmlString::new(s)
            .into_string()
            .replace(['\u{fffe}', '\u{ffff}'], "");
        cleaned.as_str()
    } else {
        s
    };
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'\'' => "&apos;",
            b'"' => "&quot;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// An indenting XML writer with quick-xml's layout: four spaces a level, a line break before
/// every tag except one that follows text.
struct Xml {
    out: String,
    depth: usize,
    line_break: bool,
}

impl Xml {
    fn tag(&mut self, name: &str, attrs: &[(&str, &str)], end: &str) {
        if self.line_break {
            self.out.push('\n');
            self.out.extend(std::iter::repeat_n(' ', self.depth * 4));
        }
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            escaped(&mut self.out, k);
            self.out.push_str("=\"");
            escaped(&mut self.out, v);
            self.out.push('"');
        }
        self.out.push_str(end);
        self.line_break = true;
    }

    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs, ">");
        self.depth += 1;
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs, "/>");
    }

    fn end(&mut self, name: &str) {
        self.depth -= 1;
        if self.line_break {
            self.out.push('\n');
            self.out.extend(std::iter::repeat_n(' ', self.depth * 4));
        }
        let _ = write!(self.out, "</{name}>");
        self.line_break = true;
    }

    fn text(&mut self, s: &str) {
        escaped(&mut self.out, s);
        self.line_break = false;
    }

    fn properties(&mut self, props: &[(&str, &str)]) {
        self.start("properties", &[]);
        for (k, v) in props {
            self.empty("property", &[("name", k), ("value", v)]);
        }
        self.end("properties");
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn test_case(x: &mut Xml, o: &CaseOutcome) {
    x.start(
        "testcase",
        &[
            ("name", &o.case),
            ("classname", &o.target),
            ("time", &secs(ms(o.case_ms.max(o.latency_ms)))),
        ],
    );
    let props = properties(o);
    let props: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
    x.properties(&props);
    let tag = match o.verdict {
        Verdict::Pass => None,
        Verdict::Fail => Some("failure"),
        Verdict::Error => Some("error"),
        // JUnit has no "not offered": a skip, whose message says why.
        Verdict::Skip | Verdict::Unsupported => Some("skipped"),
    };
    if let Some(tag) = tag {
        let message = visible(&o.reason);
        x.start(tag, &[("message", &message), ("type", o.class.as_str())]);
        x.text(&terminal_text(o));
        x.end(tag);
    } else if !o.deviations.is_empty() {
        // A pass with deviations: listed as the terminal lists them.
        x.start("system-out", &[]);
        x.text(&terminal_text(o));
        x.end("system-out");
    }
    x.end("testcase");
}

/// One case's `<testcase>` element, laid out for its place in the document (inside
/// `<testsuites>` and its `<testsuite>`).
pub fn part(o: &CaseOutcome) -> String {
    let mut x = Xml {
        out: String::with_capacity(1536),
        depth: 2,
        line_break: true,
    };
    test_case(&mut x, o);
    x.out
}

/// Writes the document: the suites' tags from the run's totals, each case's part as it is.
pub fn write(r: &Reports, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let groups = r.by_target();
    let count = |cases: &[&Brief], v: Verdict| {
        let skipped = |o: &&&Brief| o.verdict == v || (v == Verdict::Skip && o.verdict == Verdict::Unsupported);
        cases.iter().filter(skipped).count().to_string()
    };
    let time = |cases: &[&Brief]| -> Duration {
        cases.iter().map(|o| ms(o.case_ms.max(o.latency_ms))).sum()
    };
    let groups: Vec<(&str, Vec<&RenderedCase>, Vec<&Brief>)> = groups
        .into_iter()
        .map(|(t, cases)| {
            let briefs = cases.iter().map(|c| &c.brief).collect();
            (t, cases, briefs)
        })
        .collect();
    let all: Vec<&Brief> = groups.iter().flat_map(|g| g.2.iter().copied()).collect();
    let total: Duration = groups.iter().map(|g| time(&g.2)).sum();
    let mut x = Xml {
        out: String::with_capacity(4096),
        depth: 0,
        line_break: false,
    };
    x.out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    x.line_break = true;
    x.start(
        "testsuites",
        &[
            ("name", "llm-contract"),
            ("tests", &all.len().to_string()),
            ("skipped", &count(&all, Verdict::Skip)),
            ("failures", &count(&all, Verdict::Fail)),
            ("errors", &count(&all, Verdict::Error)),
            ("time", &secs(total)),
        ],
    );
    let mode = match r.info.mode {
        crate::model::outcome::Mode::Live => "live",
        crate::model::outcome::Mode::Recorded => "recorded",
    };
    for (target, rendered, cases) in &groups {
        x.start(
            "testsuite",
            &[
                ("name", target),
                ("tests", &cases.len().to_string()),
                ("skipped", &count(cases, Verdict::Skip)),
                ("errors", &count(cases, Verdict::Error)),
                ("failures", &count(cases, Verdict::Fail)),
                ("time", &secs(time(cases))),
            ],
        );
        x.properties(&[
            ("run_id", r.info.run_id.as_str()),
            ("started_at", r.info.run_id.started_at()),
            ("mode", mode),
            ("base_url_alias", target),
        ]);
        out.write_all(x.out.as_bytes())?;
        x.out.clear();
        for c in rendered {
            out.write_all(c.part(Part::Junit).as_bytes())?;
        }
        x.line_break = true;
        x.end("testsuite");
    }
    x.end("testsuites");
    x.out.push('\n');
    out.write_all(x.out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_and_escapes_as_quick_junit_does() {
        for s in [
            "plain",
            "a <b> & 'c' \"d\"",
            "line\nbreak\ttab\r",
            "\x1b[31mred\x1b[0m",
            "bell\x07 del\x7f c1\u{85} ok é ✓",
        ] {
            let mut ours = String::new();
            escaped(&mut ours, s);
            let theirs = quick_xml_escape(quick_junit::XmlString::new(s).as_str());
            assert_eq!(ours, theirs, "{s:?}");
        }
    }

    fn quick_xml_escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&apos;")
            .replace('"', "&quot;")
    }
}
