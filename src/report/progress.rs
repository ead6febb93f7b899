//! The progress bar `run` shows on a terminal (stdout a TTY and `CI` unset): cases done of all,
//! with counts by verdict, while each case's line (and the detail of a case that did not pass)
//! scrolls above it. Anywhere else `run` prints the plain lines alone.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::outcome::CaseOutcome;
use crate::report::{self, Summary};

pub struct Progress {
    bar: ProgressBar,
    counts: Mutex<Summary>,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        // Hidden until `start`, so the run's header line is printed before the bar appears.
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        let p = Progress {
            bar,
            counts: Mutex::new(Summary::default()),
        };
        p.bar.set_message(Progress::message(&Summary::default()));
        p
    }

    /// The counts shown beside the bar.
    pub fn message(s: &Summary) -> String {
        s.counts()
    }

    /// Shows the bar on standard output.
    pub fn start(&self) {
        self.bar.set_draw_target(ProgressDrawTarget::stdout());
        self.bar.tick();
        self.bar.enable_steady_tick(Duration::from_millis(120));
    }

    /// A case finished: its line (already coloured) and detail go above the bar.
    pub fn done(&self, o: &CaseOutcome, line: &str) {
        let summary = {
            let mut s = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            s.add(o.verdict);
            *s
        };
        self.bar.set_message(Progress::message(&summary));
        self.bar.inc(1);
        self.bar.println(line);
        let details = report::details(o);
        if !details.is_empty() {
            self.bar.println(details.trim_end_matches('\n'));
        }
    }

    /// Removes the bar; the summary line follows as usual.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
