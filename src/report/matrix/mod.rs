//! The conformance matrix: behaviours (a case each) × targets, read from one or more runs'
//! `report.json`, grouped by family and, within it, by the capabilities a case requires.
//!
//! Reading ([`read`]) and computing ([`Matrix::of`], a pure function) are here; rendering to
//! Markdown and HTML is in [`render`]. Where several reports hold the same target, the latest run
//! (by its start time; a tie goes to the report named later) gives that target's column, and the
//! page lists the runs it left out.

pub mod render;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::outcome::{Mode, Verdict};

/// A `report.json` larger than this is refused unread (a run of ten thousand cases is a few tens
/// of megabytes).
pub const MAX_REPORT_BYTES: u64 = 256 * 1024 * 1024;

/// What the matrix reads of a `report.json` (`contracts/report.schema.json`); every other field
/// is ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunDoc {
    /// Always `llm-contract`: what tells a report from any other JSON.
    pub tool: String,
    pub run_id: String,
    pub started_at: String,
    pub mode: Mode,
    pub cases: Vec<CaseDoc>,
}

/// What the matrix reads of one case.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CaseDoc {
    /// `<target>::<case>`
    pub id: String,
    pub target: String,
    pub case: String,
    pub verdict: Verdict,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub deviations: Vec<DeviationDoc>,
    /// Left out by reports written before the field was added.
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub requires: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A named deviation listed on a case: the matrix shows its name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviationDoc {
    pub name: String,
}

/// Why a report could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error("{}: cannot read it: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: crate::util::fs::ReadError,
    },
    #[error("{}: not an llm-contract report.json: {why}", path.display())]
    NotAReport { path: PathBuf, why: String },
}

/// Reads a run's `report.json` (or the `report.json` in a directory), at most
/// [`MAX_REPORT_BYTES`]; anything that is not a report is refused with the file's name.
pub fn read(path: &Path) -> Result<RunDoc, MatrixError> {
    let path = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text = crate::util::fs::read_text(&path, MAX_REPORT_BYTES).map_err(|source| {
        MatrixError::Read {
            path: path.clone(),
            source,
        }
    })?;
    parse(&text).map_err(|why| MatrixError::NotAReport { path, why })
}

/// A report's text as a [`RunDoc`], or why it is not one.
pub fn parse(text: &str) -> Result<RunDoc, String> {
    let doc: RunDoc = serde_json::from_str(text).map_err(|e| {
        crate::util::text::Visible(&e.to_string()).to_string()
    })?;
    if doc.tool != "llm-contract" {
        return Err(format!(
            "`tool` is `{}`, not `llm-contract`",
            crate::util::text::Visible(&doc.tool)
        ));
    }
    Ok(doc)
}

/// One report given to the matrix, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub doc: RunDoc,
    /// Where the run's `index.html` is, relative to the matrix's own files, when one sits beside
    /// the report: each cell links to its case there.
    pub html: Option<String>,
}

/// What a cell says of a behaviour on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Pass,
    /// A pass that carried named deviations from the spec.
    Deviation,
    Fail,
    Error,
    Unsupported,
    Skip,
    /// The target's run has no such case.
    Absent,
}

impl State {
    /// Every state, in the legend's and the totals' order.
    pub const ALL: [State; 7] = [
        State::Pass,
        State::Deviation,
        State::Fail,
        State::Error,
        State::Unsupported,
        State::Skip,
        State::Absent,
    ];

    pub fn of(verdict: Verdict, deviations: usize) -> State {
        match verdict {
            Verdict::Pass if deviations > 0 => State::Deviation,
            Verdict::Pass => State::Pass,
            Verdict::Fail => State::Fail,
            Verdict::Error => State::Error,
            Verdict::Unsupported => State::Unsupported,
            Verdict::Skip => State::Skip,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pass => "pass",
            State::Deviation => "deviation",
            State::Fail => "fail",
            State::Error => "error",
            State::Unsupported => "unsupported",
            State::Skip => "skip",
            State::Absent => "absent",
        }
    }

    /// What it means, for the legend.
    pub fn meaning(self) -> &'static str {
        match self {
            State::Pass => "the behaviour holds",
            State::Deviation => "it holds, with a named deviation from the spec that the official SDKs parse (fails only under --strict)",
            State::Fail => "the gateway breaks the contract",
            State::Error => "nothing could be judged (transport or harness error)",
            State::Unsupported => "the gateway cleanly refused a capability it was not declared to offer: not offered, not broken",
            State::Skip => "not run here (the target skips it, does not offer its capability, or has no fixture for it)",
            State::Absent => "the target's run has no such case",
        }
    }
}

/// One target's column: the run it comes from and its totals.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub target: String,
    pub run_id: String,
    pub started_at: String,
    pub mode: Mode,
    /// How many of its cells are in each state, in [`State::ALL`]'s order.
    pub totals: [usize; 7],
}

impl Column {
    pub fn count(&self, s: State) -> usize {
        self.totals[s as usize]
    }
}

/// One cell: a behaviour on a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub state: State,
    /// The named deviations listed on the case.
    pub deviations: Vec<String>,
    /// Why its verdict (the report's reason), for a cell that did not pass.
    pub reason: String,
    /// The case's place in its run's `index.html`.
    pub href: Option<String>,
}

/// One behaviour: a case, with a cell per column.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub case: String,
    pub description: String,
    pub cells: Vec<Cell>,
}

/// The behaviours of a family that require the same capabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The capabilities, as the cases write them; empty: none.
    pub requires: Vec<String>,
    pub rows: Vec<Row>,
}

/// A family's behaviours, by capability.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyGroup {
    /// The family's name; `unknown` for cases of a report written before families were reported.
    pub name: String,
    pub groups: Vec<Group>,
}

/// A run left out because a later one holds the same target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superseded {
    pub target: String,
    pub run_id: String,
    /// The run that replaced it.
    pub by: String,
}

/// Behaviours × targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub columns: Vec<Column>,
    pub families: Vec<FamilyGroup>,
    pub superseded: Vec<Superseded>,
    /// How many reports it was made from.
    pub reports: usize,
}

/// The family name given to cases of reports that do not name theirs.
pub const UNKNOWN_FAMILY: &str = "unknown";

impl Matrix {
    /// The matrix of the given reports. Targets are columns in name order; each takes the latest
    /// run that holds it (by `started_at`; a tie goes to the report given later). Families come
    /// in the catalogue's order (`model::family::FAMILIES`; others after, by name), capability
    /// groups with none required first, then by name; behaviours by case id.
    pub fn of(sources: &[Source]) -> Matrix {
        // target -> index of the source that gives its column.
        let mut chosen: BTreeMap<&str, usize> = BTreeMap::new();
        let mut superseded = Vec::new();
        for (i, s) in sources.iter().enumerate() {
            let mut targets: Vec<&str> = s.doc.cases.iter().map(|c| c.target.as_str()).collect();
            targets.sort_unstable();
            targets.dedup();
            for t in targets {
                match chosen.get(t).copied() {
                    None => {
                        chosen.insert(t, i);
                    }
                    Some(j) => {
                        let (old, new) = if sources[i].doc.started_at >= sources[j].doc.started_at {
                            (j, i)
                        } else {
                            (i, j)
                        };
                        chosen.insert(t, new);
                        superseded.push((t, old, new));
                    }
                }
            }
        }
        let superseded = superseded
            .into_iter()
            // A run superseded once and then by a later one: name the one that won.
            .map(|(t, old, _)| Superseded {
                target: t.to_string(),
                run_id: sources[old].doc.run_id.clone(),
                by: sources[chosen[t]].doc.run_id.clone(),
            })
            .collect();
        let columns_src: Vec<(&str, usize)> = chosen.into_iter().collect();
        // Each case's family, requirements and description as the newest run holding it says.
        let mut newest_first: Vec<usize> = (0..columns_src.len()).collect();
        newest_first.sort_by(|a, b| {
            let (sa, sb) = (columns_src[*a].1, columns_src[*b].1);
            let at = |i: usize| sources[i].doc.started_at.as_str();
            at(sb).cmp(at(sa)).then(sb.cmp(&sa))
        });
        let mut meta: BTreeMap<&str, &CaseDoc> = BTreeMap::new();
        for ci in newest_first {
            let (target, si) = columns_src[ci];
            for c in sources[si].doc.cases.iter().filter(|c| c.target == target) {
                meta.entry(c.case.as_str()).or_insert(c);
            }
        }
        // (family's rank, family, requires, case): the page's order.
        type Key = (usize, String, Vec<String>, String);
        let n = columns_src.len();
        let absent = Cell {
            state: State::Absent,
            deviations: Vec::new(),
            reason: String::new(),
            href: None,
        };
        let mut keys: BTreeMap<&str, Key> = BTreeMap::new();
        let mut rows: BTreeMap<Key, (String, Vec<Cell>)> = BTreeMap::new();
        for (case, c) in &meta {
            let family = c.family.clone().unwrap_or_else(|| UNKNOWN_FAMILY.into());
            let key = (family_rank(&family), family, c.requires.clone(), case.to_string());
            keys.insert(case, key.clone());
            rows.insert(key, (c.description.clone(), vec![absent.clone(); n]));
        }
        let mut columns = Vec::with_capacity(n);
        for (ci, (target, si)) in columns_src.iter().enumerate() {
            let s = &sources[*si];
            for c in s.doc.cases.iter().filter(|c| c.target == *target) {
                let Some((_, cells)) = keys.get(c.case.as_str()).and_then(|k| rows.get_mut(k))
                else {
                    continue;
                };
                let state = State::of(c.verdict, c.deviations.len());
                cells[ci] = Cell {
                    state,
                    deviations: c.deviations.iter().map(|d| d.name.clone()).collect(),
                    reason: if matches!(state, State::Pass | State::Deviation) {
                        String::new()
                    } else {
                        c.reason.clone()
                    },
                    // The run's page has details for every case but a plain pass, whose row
                    // is the place to go.
                    href: s.html.as_ref().map(|h| {
                        let a = super::html::anchor(&c.id);
                        match state {
                            State::Pass => format!("{h}#row-{a}"),
                            _ => format!("{h}#case-{a}"),
                        }
                    }),
                };
            }
            columns.push(Column {
                target: target.to_string(),
                run_id: s.doc.run_id.clone(),
                started_at: s.doc.started_at.clone(),
                mode: s.doc.mode,
                totals: [0; 7],
            });
        }
        let mut families: Vec<FamilyGroup> = Vec::new();
        for ((_, family, requires, case), (description, cells)) in rows {
            for (col, cell) in columns.iter_mut().zip(&cells) {
                col.totals[cell.state as usize] += 1;
            }
            let row = Row {
                case,
                description,
                cells,
            };
            if families.last().is_none_or(|f| f.name != family) {
                families.push(FamilyGroup {
                    name: family,
                    groups: Vec::new(),
                });
            }
            let f = families.last_mut().expect("pushed above");
            match f.groups.last_mut() {
                Some(g) if g.requires == requires => g.rows.push(row),
                _ => f.groups.push(Group {
                    requires,
                    rows: vec![row],
                }),
            }
        }
        Matrix {
            columns,
            families,
            superseded,
            reports: sources.len(),
        }
    }

    /// Every behaviour, in the page's order.
    pub fn rows(&self) -> impl Iterator<Item = (&FamilyGroup, &Group, &Row)> {
        self.families
            .iter()
            .flat_map(|f| f.groups.iter().flat_map(move |g| g.rows.iter().map(move |r| (f, g, r))))
    }
}

/// A family's place: the catalogue's order, then every other family (by name, as the key's
/// next part sorts them).
fn family_rank(name: &str) -> usize {
    crate::model::family::names()
        .position(|n| n == name)
        .unwrap_or(usize::MAX)
}

/// `to` as a relative URL from the directory `from` (both absolute or both relative to the same
/// place): `../reports/latest/index.html`. Each segment is percent-encoded where a URL needs it.
pub fn relative_href(from: &Path, to: &Path) -> String {
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    for c in &b[common..] {
        parts.push(url_segment(&c.as_os_str().to_string_lossy()));
    }
    parts.join("/")
}

fn url_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
