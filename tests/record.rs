//! Recording, end to end: the real binary records from an OpenAI-compatible server on
//! 127.0.0.1 into a scratch fixtures directory, then replays, re-records, reviews, and is killed.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{copy_dir, files, llm_contract, root, text, Mock};

const KEY_ENV: &str = "LLMC_RECORD_KEY";

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&root().join("contracts"), &dir.path().join("contracts"));
        std::fs::create_dir_all(dir.path().join("fixtures")).unwrap();
        Scratch { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn fixtures(&self) -> PathBuf {
        self.path().join("fixtures")
    }
    fn fixture(&self, case: &str) -> PathBuf {
        self.fixtures()
            .join("openai_compatible")
            .join(format!("{case}.json"))
    }
    fn suite_args(&self) -> Vec<String> {
        vec![
            "--contracts".into(),
            self.path().join("contracts").display().to_string(),
            "--fixtures".into(),
            self.fixtures().display().to_string(),
        ]
    }
    fn record(
        &self,
        mock: &Mock,
        behaviour: &str,
        key: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> std::process::Output {
        let base = mock.base(behaviour);
        let mut args: Vec<String> = vec![
            "record".into(),
            "--base-url".into(),
            base,
            "--api-key-env".into(),
            KEY_ENV.into(),
            "--model".into(),
            "mock-model-1".into(),
            "--time-scale".into(),
            "0".into(),
            "--server".into(),
            "llm-contract test mock".into(),
            "--server-version".into(),
            "test".into(),
        ];
        args.extend(self.suite_args());
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut envs = vec![(KEY_ENV, key)];
        envs.extend_from_slice(env);
        llm_contract(&refs, &envs, self.path())
    }
    /// The cases a recording (or a live run) of this suite at a `--base-url` covers.
    fn cases(&self) -> usize {
        common::generic_cases(self.path())
    }
    fn cli(&self, sub: &[&str]) -> std::process::Output {
        let mut args: Vec<String> = sub.iter().map(|s| s.to_string()).collect();
        args.extend(self.suite_args());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        llm_contract(&refs, &[], self.path())
    }
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn record_replay_rerecord_review_accept_reject() {
    let mock = Mock::start();
    let s = Scratch::new();
    // First recording pins every case.
    let out = s.record(&mock, "conform", "test-key-record-01", &[], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let n = s.cases();
    assert_eq!(stdout.matches("→ pinned").count(), n, "{stdout}");
    let happy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.fixture("happy_path")).unwrap()).unwrap();
    let prov = &happy["provenance"];
    assert_eq!(
        (prov["kind"].as_str(), prov["server"].as_str()),
        (Some("recorded"), Some("llm-contract test mock"))
    );
    assert_eq!(prov["target"], "openai_compatible");
    assert_eq!(prov["model"], "mock-model-1");
    assert!(prov["sanitizer"].as_str().unwrap().starts_with("fnv1a64:"));
    assert!(prov["base_url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert_eq!(happy["response"]["body"]["id"], "chatcmpl-[ID]");
    assert_eq!(happy["response"]["body"]["created"], "[CREATED]");
    assert_eq!(happy["request"]["authorization"], "[API_KEY]");
    let stream: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.fixture("streaming")).unwrap()).unwrap();
    let chunks = stream["response"]["chunks"].as_array().unwrap();
    assert_eq!(
        chunks.last().unwrap()["data"],
        "data: [DONE]\n\n",
        "{stream}"
    );
    assert_eq!(chunks.len(), 5, "one chunk per event: {stream}");

    // The recorded fixtures replay offline and pass, streams included: a plain `run`, each case
    // with the model its fixture recorded (`record --model mock-model-1`), not the target's
    // `vars.model`.
    let reports = tempfile::tempdir().unwrap();
    let rp = reports.path().display().to_string();
    let out = s.cli(&["run", "--time-scale", "0", "--reports", &rp]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains(&format!("{n} passed")), "{stdout}");
    assert!(!stderr.contains("--model"), "{stderr}");
    let r = common::report(reports.path());
    assert_eq!(
        common::case(&r, "openai_compatible::happy_path")["model"],
        "mock-model-1"
    );
    // --model is live only: offline it changes nothing, and says so.
    let out = s.cli(&[
        "run",
        "--model",
        "another-model",
        "--time-scale",
        "0",
        "--reports",
        &rp,
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("note: --model is a live override"),
        "{stderr}"
    );

    // Same answers with other ids, times and text: nothing changes.
    let out = s.record(&mock, "conform", "test-key-record-01", &[], &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout.matches("= unchanged").count(), n, "{stdout}");

    // A changed answer waits as a pending fixture; the pinned one is untouched.
    let before = std::fs::read(s.fixture("happy_path")).unwrap();
    let out = s.record(
        &mock,
        "extra-field",
        "test-key-record-01",
        &["--case", "happy_path"],
        &[],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("pending"), "{stdout}");
    assert!(
        stdout.contains("+    \"service_tier\": \"priority\","),
        "{stdout}"
    );
    let pending = s.fixtures().join("openai_compatible/happy_path.json.new");
    assert!(pending.exists());
    #[cfg(unix)]
    assert_eq!(mode(&pending), 0o600);
    assert_eq!(std::fs::read(s.fixture("happy_path")).unwrap(), before);

    // Under CI nothing is written, pending or pinned.
    std::fs::remove_file(&pending).unwrap();
    let out = s.record(
        &mock,
        "extra-field",
        "test-key-record-01",
        &[],
        &[("CI", "true")],
    );
    let (stdout, _) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a change under CI is reported as one: {stdout}"
    );
    assert!(stdout.contains("CI: not written"), "{stdout}");
    assert!(!pending.exists());
    assert_eq!(std::fs::read(s.fixture("happy_path")).unwrap(), before);

    // Review: accept it (happy_path only: every plain answer gains the field).
    s.record(
        &mock,
        "extra-field",
        "test-key-record-01",
        &["--case", "happy_path"],
        &[],
    );
    std::fs::write(s.fixtures().join("openai_compatible/ghost.json"), &before).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_llm-contract"))
        .env_remove("CI")
        .arg("review")
        .args(s.suite_args())
        .current_dir(s.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("1 accepted, 0 rejected, 0 skipped"),
        "{stdout}"
    );
    assert!(stdout.contains("orphaned fixtures"), "{stdout}");
    assert!(stdout.contains("ghost.json"), "{stdout}");
    assert!(!pending.exists());
    let accepted = std::fs::read_to_string(s.fixture("happy_path")).unwrap();
    assert!(accepted.contains("\"service_tier\": \"priority\""));
    #[cfg(unix)]
    assert_eq!(mode(&s.fixture("happy_path")), 0o644);

    // The conforming answer now differs (no service_tier): reject it in bulk.
    s.record(&mock, "conform", "test-key-record-01", &[], &[]);
    assert!(pending.exists());
    let out = s.cli(&["reject"]);
    assert!(text(&out).0.contains("rejected"), "{:?}", text(&out));
    assert!(!pending.exists());
    assert_eq!(
        std::fs::read_to_string(s.fixture("happy_path")).unwrap(),
        accepted
    );

    // And accept in bulk.
    s.record(&mock, "conform", "test-key-record-01", &[], &[]);
    let out = s.cli(&["accept", "happy_path"]);
    assert!(text(&out).0.contains("accepted →"), "{:?}", text(&out));
    assert!(!std::fs::read_to_string(s.fixture("happy_path"))
        .unwrap()
        .contains("service_tier"));
}

#[test]
fn a_canary_key_never_reaches_recorded_files_or_output() {
    let canary = format!(
        "lcc-canary-rec-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let mock = Mock::start();
    let s = Scratch::new();
    for behaviour in ["echo", "conform", "extra-field"] {
        let out = s.record(&mock, behaviour, &canary, &[], &[]);
        let (stdout, stderr) = text(&out);
        assert!(
            !stdout.contains(&canary) && !stderr.contains(&canary),
            "{behaviour}: {stdout}{stderr}"
        );
        // And a live run with the same key, reports included.
        let reports = tempfile::tempdir().unwrap();
        let base = mock.base(behaviour);
        let rp = reports.path().display().to_string();
        let mut args = vec![
            "run",
            "--live",
            "--base-url",
            &base,
            "--api-key-env",
            KEY_ENV,
            "--time-scale",
            "0",
            "--reports",
            &rp,
        ];
        let suite = s.suite_args();
        args.extend(suite.iter().map(String::as_str));
        let out = llm_contract(&args, &[(KEY_ENV, &canary)], s.path());
        let (stdout, stderr) = text(&out);
        assert!(
            !stdout.contains(&canary) && !stderr.contains(&canary),
            "{behaviour}: {stdout}{stderr}"
        );
        for f in files(reports.path()) {
            assert!(
                !std::fs::read_to_string(&f).unwrap().contains(&canary),
                "{}",
                f.display()
            );
        }
    }
    let written = files(&s.fixtures());
    assert!(written.len() >= s.cases(), "{written:?}");
    for f in &written {
        assert!(
            !std::fs::read_to_string(f).unwrap().contains(&canary),
            "canary in {}",
            f.display()
        );
    }
    // The echoed key became a placeholder in the recorded error message.
    let echo = std::fs::read_to_string(s.fixture("invalid_role")).unwrap();
    assert!(echo.contains("[API_KEY]"), "{echo}");
    // scan agrees: nothing that looks like a secret.
    let fx = s.fixtures().display().to_string();
    let out = llm_contract(
        &["scan", &fx, "--key-env", KEY_ENV],
        &[(KEY_ENV, &canary)],
        s.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

#[test]
fn recording_fails_closed_when_a_secret_survives_sanitizing() {
    // A key too short to be removed by value (it would wreck ordinary text) is still found by
    // the scan that runs before every write: nothing carrying it is written.
    let mock = Mock::start();
    let s = Scratch::new();
    let out = s.record(&mock, "echo", "zq9x7", &["--case", "happy_path"], &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("REFUSED"), "{stdout}");
    assert!(stdout.contains("known key"), "{stdout}");
    assert!(!stdout.contains("zq9x7"), "{stdout}");
    assert!(
        files(&s.fixtures()).is_empty(),
        "{:?}",
        files(&s.fixtures())
    );
}

#[test]
fn scan_finds_secret_shapes_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let token = format!("Bearer {}", "q".repeat(24));
    std::fs::write(
        dir.path().join("leak.json"),
        format!("{{\"h\": \"{token}\"}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("clean.json"),
        "{\"authorization\": \"[API_KEY]\"}\n",
    )
    .unwrap();
    let p = dir.path().display().to_string();
    let out = llm_contract(&["scan", &p], &[], &root());
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("leak.json:1: bearer token"), "{stdout}");
    assert!(
        !stdout.contains(&"q".repeat(24)),
        "the secret itself is never printed: {stdout}"
    );
    // The repository's own fixtures are clean.
    let out = llm_contract(&["scan", "fixtures", "tests/faults/fixtures"], &[], &root());
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

#[test]
fn killing_the_recorder_mid_write_leaves_pinned_fixtures_intact() {
    let mock = Mock::start();
    let s = Scratch::new();
    assert_eq!(
        s.record(&mock, "conform", "test-key-kill-0001", &[], &[])
            .status
            .code(),
        Some(0)
    );
    let pinned: Vec<(PathBuf, Vec<u8>)> = files(&s.fixtures())
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    assert_eq!(pinned.len(), s.cases());
    let dir = s.fixtures().join("openai_compatible");
    // Record an answer that differs; the recorder pauses between its flushed temporary file and
    // the rename, and is SIGKILLed there: with --overwrite (the pinned file is the target) and
    // without (the pending file is).
    for overwrite in [true, false] {
        let mut args: Vec<String> = vec![
            "record".into(),
            "--base-url".into(),
            mock.base("extra-field"),
            "--api-key-env".into(),
            KEY_ENV.into(),
            "--model".into(),
            "mock-model-1".into(),
            "--case".into(),
            "happy_path".into(),
            "--test-pause-before-rename-ms".into(),
            "20000".into(),
        ];
        if overwrite {
            args.push("--overwrite".into());
        }
        args.extend(s.suite_args());
        let mut child = Command::new(env!("CARGO_BIN_EXE_llm-contract"))
            .env_remove("CI")
            .args(&args)
            .env(KEY_ENV, "test-key-kill-0001")
            .current_dir(s.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let temporary = || {
            files(&dir)
                .into_iter()
                .find(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp-"))
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        // The temporary file exists before its bytes are written: wait until it holds a whole
        // JSON document (the writer then pauses before its rename).
        let tmp = loop {
            if let Some(t) = temporary().filter(|t| {
                std::fs::read(t)
                    .is_ok_and(|b| serde_json::from_slice::<serde_json::Value>(&b).is_ok())
            }) {
                break t;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the recorder never reached its write"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        for (p, bytes) in &pinned {
            assert_eq!(
                &std::fs::read(p).unwrap(),
                bytes,
                "{} changed (overwrite: {overwrite})",
                p.display()
            );
        }
        assert!(
            !dir.join("happy_path.json.new").exists(),
            "no half-made pending fixture"
        );
        // What was being written was complete; only the rename was cut off.
        let t = std::fs::read_to_string(&tmp).unwrap();
        assert!(t.contains("service_tier"), "{t}");
    }
    // A later recorder cleans up what a killed one left.
    s.record(
        &mock,
        "conform",
        "test-key-kill-0001",
        &["--case", "happy_path"],
        &[],
    );
    let leftovers: Vec<_> = files(&s.fixtures())
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
