//! `run --dry-run`'s text: per target, every request a live run would send and what it may cost,
//! then the totals. The data is `model::budget`'s; this is the one place it becomes text.

use std::fmt::Write;

use crate::model::budget::{Cap, Request, TargetBudget, Totals};
use crate::util::text::Visible;

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn cap(c: &Cap) -> String {
    match c {
        Cap::Tokens { field, value, n } if *n > 1 => format!("{field} {value} × n {n}"),
        Cap::Tokens { field, value, .. } => format!("{field} {value}"),
        Cap::Uncapped { fields } => format!("no output cap (sets none of {})", fields.join(", ")),
        Cap::NotTokens => "billed per generation, not per output token".into(),
        Cap::NoBody => "no body".into(),
    }
}

fn line(r: &Request) -> String {
    let who = match &r.step {
        Some(s) => format!("{} step {}", r.case, s),
        None => r.case.clone(),
    };
    let polls = if r.polls > 0 {
        format!(" + {} polls", r.polls)
    } else {
        String::new()
    };
    format!(
        "  {:<6} {}  {}  {}{}  {} run(s) × {} attempt(s){polls} = at most {}  {}",
        r.method,
        Visible(&r.url),
        who,
        if r.stream { "stream, " } else { "" },
        r.auth,
        r.runs,
        r.attempts,
        r.worst(),
        cap(&r.cap)
    )
}

fn totals_line(name: &str, t: &Totals) -> String {
    let mut s = format!(
        "{name}: {} case(s), {} request(s) at first try (polls aside), at most {} with every retry and poll; \
         output tokens at most {} at first try, {} if every attempt is answered in full",
        t.cases,
        thousands(t.first_try),
        thousands(t.worst),
        thousands(t.tokens_first_try),
        thousands(t.tokens_worst)
    );
    if t.uncapped > 0 {
        let _ = write!(
            s,
            "; {} request(s) set no output cap (not in the sum: the model decides)",
            t.uncapped
        );
    }
    if t.not_tokens > 0 {
        let _ = write!(
            s,
            "; {} request(s) billed per generation (images, videos), not in the sum",
            t.not_tokens
        );
    }
    s
}

/// The whole dry run: each target's requests and totals, then the grand total. `max_requests`
/// is the run's `--max-requests`, where set.
pub fn render(targets: &[TargetBudget], max_requests: Option<usize>) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str(
        "dry run: nothing is sent. Every request a live run would send, per target (the key is never shown):\n",
    );
    let mut all = Totals::default();
    for t in targets {
        let _ = writeln!(out, "\n{}  {}", t.target, Visible(&t.base_url));
        for r in &t.requests {
            out.push_str(&line(r));
            out.push('\n');
        }
        for n in &t.not_sent {
            let _ = writeln!(out, "  not sent: {}: {}", n.case, Visible(&n.why));
        }
        let totals = Totals::of(&t.requests);
        let _ = writeln!(out, "{}", totals_line(&t.target, &totals));
        all.add(&totals);
    }
    let _ = writeln!(out, "\n{}", totals_line("total", &all));
    if let Some(m) = max_requests {
        let _ = writeln!(
            out,
            "--max-requests {m}: the run stops sending after {m} request(s), retries included"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        for (n, s) in [(0, "0"), (999, "999"), (1000, "1,000"), (1234567, "1,234,567")] {
            assert_eq!(thousands(n), s);
        }
    }
}
