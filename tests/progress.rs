//! The progress bar: on a terminal (a pseudo-terminal from util-linux's `script`) with `CI`
//! unset, `run` draws a bar with counts; with `CI` set, or without a terminal, plain lines only.

mod common;

use std::process::Command;

use common::{replayed_cases, root};

/// Runs `llm-contract run` on a pseudo-terminal; returns the exit code and what the terminal got.
fn on_a_terminal(ci: Option<&str>) -> (Option<i32>, String) {
    let reports = tempfile::tempdir().unwrap();
    let cmd = format!(
        "{} run --time-scale 0 --reports {}",
        env!("CARGO_BIN_EXE_llm-contract"),
        reports.path().display()
    );
    let mut c = Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"])
        .current_dir(root())
        .env_remove("CI")
        .env_remove("COMETAPI_API_KEY")
        .env("TERM", "xterm");
    if let Some(v) = ci {
        c.env("CI", v);
    }
    let out = c.output().expect("script (util-linux) runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_terminal_gets_a_progress_bar_with_counts() {
    let n = replayed_cases(&root());
    let (code, out) = on_a_terminal(None);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("/{n} ")), "no bar position:\n{out}");
    assert!(
        out.contains(" passed, 0 failed, 0 errors, 0 skipped"),
        "no counts:\n{out}"
    );
    // Each case's line still appears, coloured, and the summary after the bar.
    assert!(out.contains("\x1b[32mPASS  cometapi::happy_path"), "{out}");
    assert!(out.contains(&format!(
        "{n} passed, 0 failed, 0 errors, 0 skipped ({n} cases)"
    )));
}

#[test]
fn ci_gets_plain_lines() {
    let n = replayed_cases(&root());
    let (code, out) = on_a_terminal(Some("true"));
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains(&format!("/{n} ")), "a bar under CI:\n{out}");
    assert!(!out.contains('\x1b'), "escape codes under CI:\n{out}");
    assert!(out.contains("PASS  cometapi::happy_path"));
}
