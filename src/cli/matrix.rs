//! `llm-contract matrix`: one or more runs' `report.json` as a behaviours × targets table,
//! `matrix.md` and `matrix.html`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::config_exit;
use super::out::outln;
use crate::report::matrix::render::{self, Options};
use crate::report::matrix::{self, relative_href, Matrix, Source};
use crate::util::fs::{write_atomic, Atomic};

#[derive(Args)]
pub(crate) struct MatrixArgs {
    /// Runs' report.json files, or report directories holding one (default:
    /// reports/latest/report.json). Where several hold the same target, the latest run gives its
    /// column.
    #[arg(value_name = "REPORT")]
    reports: Vec<PathBuf>,
    /// Where matrix.md and matrix.html go.
    #[arg(long, default_value = "reports/matrix")]
    out: PathBuf,
    /// Leave out run ids, start times and links into the runs' pages: what two runs of the same
    /// suite share (the repository's own matrix, docs/matrix.*).
    #[arg(long)]
    reproducible: bool,
    /// A paragraph under the title (where the runs come from, say).
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
}

/// The two files, written atomically; their text from [`render`].
pub(crate) const FILES: [&str; 2] = ["matrix.md", "matrix.html"];

pub(crate) fn matrix(args: MatrixArgs) -> ExitCode {
    let reports = if args.reports.is_empty() {
        vec![PathBuf::from("reports/latest/report.json")]
    } else {
        args.reports.clone()
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        return config_exit(format!("error: cannot create {}: {e}", args.out.display()));
    }
    let out_abs = absolute(&args.out);
    let mut sources = Vec::with_capacity(reports.len());
    for path in &reports {
        let doc = match matrix::read(path) {
            Ok(d) => d,
            Err(e) => return config_exit(format!("error: {e}")),
        };
        let dir = if path.is_dir() {
            path.clone()
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let page = dir.join("index.html");
        let html = (!args.reproducible && page.is_file())
            .then(|| relative_href(&out_abs, &absolute(&page)));
        sources.push(Source { doc, html });
    }
    let m = Matrix::of(&sources);
    let o = Options {
        reproducible: args.reproducible,
        note: args.note.as_deref(),
    };
    for (name, text) in FILES
        .iter()
        .zip([render::markdown(&m, o), render::html(&m, o)])
    {
        let path = args.out.join(name);
        let written = write_atomic(&path, Atomic::default(), |w| w.write_all(text.as_bytes()));
        if let Err(e) = written {
            super::out::errln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(3);
        }
    }
    outln!(
        "matrix: {} behaviour(s) × {} target(s) from {} report(s): {} and {}",
        m.rows().count(),
        m.columns.len(),
        m.reports,
        args.out.join(FILES[0]).display(),
        args.out.join(FILES[1]).display()
    );
    ExitCode::SUCCESS
}

/// The path made absolute against the working directory, `.` and `..` resolved by name (the
/// files need not exist yet; links are not followed).
fn absolute(p: &Path) -> PathBuf {
    let joined = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}
