//! The built-in schemas: a suite with no schemas folder lints and runs offline with them; a
//! suite's own schema `$ref`s a built-in one by its URI (and is really applied: one that the
//! recorded answer breaks fails the case); a file named like a built-in one replaces it, and
//! `lint` says so; the `cargo test` harness and `validate` take the same folders.

mod common;

use std::path::Path;

use common::{edit, llm_contract, run_offline, suite_copy, text};
use llm_contract::contract::suite::Paths;

/// `lint` on a suite directory (its contracts/ and fixtures/; schemas: contracts/schemas).
fn lint(dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let c = dir.join("contracts").display().to_string();
    let f = dir.join("fixtures").display().to_string();
    let mut args = vec!["lint", "--contracts", &c, "--fixtures", &f];
    args.extend(extra);
    let out = llm_contract(&args, &[], dir);
    let (o, e) = text(&out);
    (out.status.code(), format!("{o}{e}"))
}

#[test]
fn a_suite_without_a_schemas_folder_lints_and_runs_offline_with_the_built_ins() {
    let dir = suite_copy();
    std::fs::remove_dir_all(dir.path().join("contracts/schemas")).unwrap();
    let (code, out) = lint(dir.path(), &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("overrides"), "{out}");
    let (run, _reports) = run_offline(dir.path(), &["--require-fixtures"]);
    let (o, e) = text(&run);
    assert_eq!(run.status.code(), Some(0), "{o}{e}");
    assert!(o.contains(" 0 failed"), "{o}");
    // The harness too, from the folders alone.
    let ctx = llm_contract::context::Context::from_map([("LLM_CONTRACT_REQUIRE_FIXTURES", "1")]);
    let trials = llm_contract::harness::trials(&Paths::under(dir.path()), &ctx).unwrap();
    assert_eq!(trials.len(), common::replayed_cases(dir.path()));
}

#[test]
fn a_suite_schema_refs_a_built_in_one_by_its_uri() {
    let dir = suite_copy();
    let schemas = dir.path().join("contracts/schemas");
    std::fs::remove_dir_all(&schemas).unwrap();
    std::fs::create_dir(&schemas).unwrap();
    let uri = llm_contract::schemas::uri("chat_completion");
    // Holds for the recorded answer: the built-in schema, and a constraint of its own.
    std::fs::write(
        schemas.join("my_completion.json"),
        format!(
            r#"{{"$ref": "{uri}", "properties": {{"object": {{"const": "chat.completion"}}}}}}"#
        ),
    )
    .unwrap();
    // Breaks it: a field the recorded answer does not have.
    std::fs::write(
        schemas.join("strict_completion.json"),
        format!(r#"{{"allOf": [{{"$ref": "{uri}"}}], "required": ["no_such_field"]}}"#),
    )
    .unwrap();
    let happy = dir
        .path()
        .join("contracts/chat_completions/happy_path.yaml");
    edit(&happy, "schema: chat_completion", "schema: my_completion");
    let (code, out) = lint(dir.path(), &[]);
    assert_eq!(code, Some(0), "{out}");
    let (run, _r) = run_offline(
        dir.path(),
        &["--case", "happy_path", "--target", "cometapi"],
    );
    let (o, e) = text(&run);
    assert_eq!(run.status.code(), Some(0), "{o}{e}");
    assert!(o.contains("1 passed"), "{o}");

    edit(&happy, "schema: my_completion", "schema: strict_completion");
    let (run, _r) = run_offline(
        dir.path(),
        &["--case", "happy_path", "--target", "cometapi"],
    );
    let (o, e) = text(&run);
    assert_eq!(run.status.code(), Some(1), "{o}{e}");
    assert!(o.contains("no_such_field"), "{o}");

    // A reference to no schema is refused by lint, naming it.
    std::fs::write(
        schemas.join("broken.json"),
        r#"{"$ref": "urn:llm-contract:schema:no_such_schema"}"#,
    )
    .unwrap();
    let (code, out) = lint(dir.path(), &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("urn:llm-contract:schema:no_such_schema"),
        "{out}"
    );
}

#[test]
fn a_suite_schema_named_like_a_built_in_one_replaces_it_and_lint_says_so() {
    let dir = suite_copy();
    let error = dir.path().join("contracts/schemas/error.json");
    // A byte-for-byte copy is not an override.
    let (code, out) = lint(dir.path(), &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("overrides"), "{out}");
    // A different one is, and it is the one applied: every error answer now fails its schema.
    std::fs::write(
        &error,
        r#"{"type": "object", "required": ["error", "no_such_field"]}"#,
    )
    .unwrap();
    let (code, out) = lint(dir.path(), &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("error.json: note: overrides the built-in schema `error`"),
        "{out}"
    );
    let (run, _r) = run_offline(
        dir.path(),
        &["--case", "missing_auth", "--target", "cometapi"],
    );
    let (o, e) = text(&run);
    assert_eq!(run.status.code(), Some(1), "{o}{e}");
    assert!(o.contains("no_such_field"), "{o}");

    // Two schemas with one `$id` are an error naming the second.
    std::fs::write(
        dir.path().join("contracts/schemas/copy.json"),
        llm_contract::schemas::schema("chat_completion").unwrap(),
    )
    .unwrap();
    let (code, out) = lint(dir.path(), &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("has the `$id`"), "{out}");
}

#[test]
fn validate_takes_the_same_folders() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(
        &body,
        r#"{"error": {"message": "no", "type": "x", "code": null, "param": null}}"#,
    )
    .unwrap();
    let b = body.display().to_string();
    // No contracts/ at all: the built-in schemas.
    let out = llm_contract(&["validate", "--schema", "error", &b], &[], dir.path());
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    // A schema of one's own, by --schemas, that refs a built-in one.
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(
        mine.join("strict_error.json"),
        r#"{"allOf": [{"$ref": "urn:llm-contract:schema:error"}], "required": ["request_id"]}"#,
    )
    .unwrap();
    let m = mine.display().to_string();
    let out = llm_contract(
        &["validate", "--schemas", &m, "--schema", "strict_error", &b],
        &[],
        dir.path(),
    );
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{o}{e}");
    assert!(o.contains("request_id"), "{o}");
}
