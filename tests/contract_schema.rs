//! contracts/contract.schema.json, the editor schema of cases and targets: every YAML file in the
//! repository's suites validates against it, and on a table of edge cases it agrees with the
//! loader (src/contract.rs) — what the loader refuses for its shape, the schema refuses, and the
//! reverse.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

use common::root;
use llm_contract::contract::load::{parse_case, parse_target};

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("contracts/contract.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .offline()
        .build(&schema)
        .expect("contract.schema.json is a valid 2020-12 schema")
}

/// YAML to the JSON an editor's language server validates.
fn json(yaml: &str) -> Value {
    let v: serde_yaml::Value = serde_yaml::from_str(yaml).expect("YAML parses");
    serde_json::to_value(v).expect("YAML converts to JSON")
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

#[test]
fn every_contract_file_validates_against_the_schema() {
    let v = validator();
    let mut files = Vec::new();
    yaml_files(&root().join("contracts"), &mut files);
    yaml_files(&root().join("tests/faults/contracts"), &mut files);
    files.sort();
    // Every case and target the two suites load, and nothing else: each YAML file is one of them.
    let loaded: usize = [
        llm_contract::contract::suite::Paths::under(&root()),
        common::fault_paths(),
    ]
    .iter()
    .map(|paths| {
        let suite = common::load_suite(paths);
        suite.contracts.cases.len() + suite.contracts.targets.len()
    })
    .sum();
    assert_eq!(files.len(), loaded, "{files:?}");
    let mut bad = Vec::new();
    for f in &files {
        let doc = json(&std::fs::read_to_string(f).unwrap());
        for e in errors(&v, &doc) {
            bad.push(format!("{}: {e}", f.display()));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

const CASE: &str = "id: happy\ndescription: d\nauth: valid\nrequest:\n  body:\n    model: ${model}\n    messages: []\nexpect:\n  status: 200\n  class: ok\n";
const STREAM_CASE: &str = "id: happy\ndescription: d\nauth: valid\nrequest:\n  body:\n    model: m\n    stream: true\nexpect:\n  status: 200\n  class: ok\n  stream:\n    done: true\n";
const TARGET: &str =
    "name: t\ndescription: d\nbase_url: http://x/v1\napi_key_env: K\nvars:\n  model: m1\n";

/// Edits of a valid case: (what, the edited file).
fn case_variants() -> Vec<(&'static str, String)> {
    let c = |from: &str, to: &str| {
        assert!(CASE.contains(from), "{from}");
        CASE.replacen(from, to, 1)
    };
    let s = |from: &str, to: &str| {
        assert!(STREAM_CASE.contains(from), "{from}");
        STREAM_CASE.replacen(from, to, 1)
    };
    vec![
        ("the base case", CASE.to_string()),
        ("a stream case", STREAM_CASE.to_string()),
        ("unknown top-level key", c("auth: valid\n", "auth: valid\nauht: x\n")),
        ("unknown expect key", c("  class: ok\n", "  clas: ok\n")),
        ("unknown request key", c("request:\n", "request:\n  bodyy: 1\n")),
        ("unknown class", c("class: ok", "class: okay")),
        ("unknown auth", c("auth: valid", "auth: none")),
        ("unknown family", c("auth: valid", "auth: valid\nfamily: rerank")),
        ("explicit family", c("auth: valid", "auth: valid\nfamily: chat_completions")),
        ("missing description", c("description: d\n", "")),
        ("missing auth", c("auth: valid\n", "")),
        ("missing request", c("request:\n  body:\n    model: ${model}\n    messages: []\n", "")),
        ("missing expect.status", c("  status: 200\n", "")),
        ("missing expect.class", c("  class: ok\n", "")),
        ("null expect.status", c("status: 200", "status: null")),
        ("status list", c("status: 200", "status: [200, 201]")),
        ("status out of range", c("status: 200", "status: 70000")),
        ("negative status", c("status: 200", "status: -1")),
        ("status as text", c("status: 200", "status: ok")),
        ("live_only", c("auth: valid", "auth: valid\nlive_only: true")),
        ("live_only as text", c("auth: valid", "auth: valid\nlive_only: maybe")),
        ("strict", c("auth: valid", "auth: valid\nstrict: true")),
        ("strict as text", c("auth: valid", "auth: valid\nstrict: always")),
        ("tags", c("auth: valid", "auth: valid\ntags: [a, b]")),
        ("tags not a list", c("auth: valid", "auth: valid\ntags: a")),
        ("case vars", c("auth: valid", "auth: valid\nvars: {model: x, other: '${model}-y'}")),
        ("case vars a list", c("auth: valid", "auth: valid\nvars: [a]")),
        ("case var a list", c("auth: valid", "auth: valid\nvars: {n: [1]}")),
        ("case var null", c("auth: valid", "auth: valid\nvars: {n: null}")),
        ("null body", c("  body:\n    model: ${model}\n    messages: []\n", "  body: null\n")),
        ("raw body", c("  body:\n    model: ${model}\n    messages: []\n", "  raw_body: '{\"model\": '\n")),
        ("body and raw_body", c("request:\n", "request:\n  raw_body: x\n")),
        ("a header", c("request:\n", "request:\n  headers:\n    X-Trace: a\n")),
        ("an Authorization header", c("request:\n", "request:\n  headers:\n    Authorization: Bearer x\n")),
        ("an api-key header", c("request:\n", "request:\n  headers:\n    X-Api-Key: k\n")),
        ("header value a list", c("request:\n", "request:\n  headers:\n    X-Trace: [a]\n")),
        ("schema name", c("  class: ok\n", "  class: ok\n  schema: chat_completion\n")),
        ("error_code list", c("  status: 200\n  class: ok\n", "  status: [200, 400]\n  class: ok\n  error_code: [a, b]\n")),
        ("error_code not a list", c("  status: 200\n  class: ok\n", "  status: 400\n  class: fix_request\n  error_code: a\n")),
        ("finish_reason list", c("  class: ok\n", "  class: ok\n  finish_reason: [stop]\n")),
        ("timing limits", s("  class: ok\n", "  class: ok\n  max_ttfb_ms: 10\n  max_first_token_ms: 20\n  max_gap_ms: 5\n  max_total_ms: 100\n")),
        ("stream timing on a body", c("  class: ok\n", "  class: ok\n  max_gap_ms: 5\n")),
        ("error_code on an error case", c("  status: 200\n  class: ok\n", "  status: 400\n  class: fix_request\n  error_code: [a]\n")),
        ("error_code on a stream", s("  class: ok\n", "  class: ok\n  error_code: [a]\n")),
        ("finish_reason on images", c("auth: valid", "auth: valid\nfamily: images").replace("  class: ok\n", "  class: ok\n  finish_reason: [stop]\n")),
        ("usage_chunk on messages", s("auth: valid", "auth: valid\nfamily: messages").replace("    done: true\n", "    done: true\n    usage_chunk: true\n")),
        ("invariants", c("  class: ok\n", "  class: ok\n  invariants: [usage_arithmetic, choices_match_n, distinct_choice_indices]\n")),
        ("an unknown invariant", c("  class: ok\n", "  class: ok\n  invariants: [usage_sums]\n")),
        ("choices_match_n on messages", c("auth: valid", "auth: valid\nfamily: messages").replace("  class: ok\n", "  class: ok\n  invariants: [choices_match_n]\n")),
        ("usage_arithmetic on responses", c("auth: valid", "auth: valid\nfamily: responses").replace("  class: ok\n", "  class: ok\n  invariants: [usage_arithmetic]\n")),
        ("assertions", c("  class: ok\n", "  class: ok\n  assert:\n  - at: /choices/*/message/content\n    matches: (?i)pong\n    type: [string, 'null']\n  - at: /choices/0/message/tool_calls/0/function/arguments\n    json: /city\n    equals: Paris\n  - at: /usage/total_tokens\n    min: 1\n    max: 100\n  - at: /choices\n    length: {min: 1}\n  - at: /x\n    one_of: [1, a]\n    contains: a\n  - json: true\n    schema: {type: object}\n  - at: /id\n    schema: chat_completion\n    exists: true\n")),
        ("repeat and pass", c("auth: valid", "auth: valid\nrepeat: 5\npass: any")),
        ("repeat 0", c("auth: valid", "auth: valid\nrepeat: 0")),
        ("repeat over 100", c("auth: valid", "auth: valid\nrepeat: 101")),
        ("an unknown pass rule", c("auth: valid", "auth: valid\nrepeat: 2\npass: most")),
        ("steps with captures", c("auth: valid", "auth: valid\ncapture:\n  id: /id\nsteps:\n- name: get\n  request:\n    method: GET\n    path: /responses/${id}\n  expect:\n    status: 200\n    class: ok\n    assert:\n    - at: /id\n      equals: ${id}\n  capture:\n    again: /id\n- name: delete\n  request:\n    method: DELETE\n    path: /responses/${again}\n  expect:\n    status: 200\n    class: ok")),
        ("capture without steps", c("auth: valid", "auth: valid\ncapture:\n  id: /id")),
        ("a step without a name", c("auth: valid", "auth: valid\nsteps:\n- request:\n    body: {}\n  expect:\n    status: 200\n    class: ok")),
        ("a step with an unknown method", c("auth: valid", "auth: valid\nsteps:\n- name: s\n  request:\n    method: FETCH\n  expect:\n    status: 200\n    class: ok")),
        ("a step without a class", c("auth: valid", "auth: valid\nsteps:\n- name: s\n  request:\n    body: {}\n  expect:\n    status: 200")),
        ("a step path without a slash", c("auth: valid", "auth: valid\nsteps:\n- name: s\n  request:\n    path: responses\n  expect:\n    status: 200\n    class: ok")),
        ("a capture pointer without a slash", c("auth: valid", "auth: valid\ncapture:\n  id: id\nsteps:\n- name: s\n  request:\n    body: {}\n  expect:\n    status: 200\n    class: ok")),
        ("a streaming step without expect.stream", c("auth: valid", "auth: valid\nsteps:\n- name: s\n  request:\n    body:\n      stream: true\n  expect:\n    status: 200\n    class: ok")),
        ("requires", c("auth: valid", "auth: valid\nrequires: [tools, n]")),
        ("requires an unknown capability", c("auth: valid", "auth: valid\nrequires: [tool]")),
        ("an assertion without a predicate", c("  class: ok\n", "  class: ok\n  assert:\n  - at: /x\n")),
        ("an assertion with an unknown key", c("  class: ok\n", "  class: ok\n  assert:\n  - at: /x\n    exist: true\n")),
        ("an assertion pointer without a slash", c("  class: ok\n", "  class: ok\n  assert:\n  - at: x\n    exists: true\n")),
        ("an assertion with a bad type", c("  class: ok\n", "  class: ok\n  assert:\n  - at: /x\n    type: text\n")),
        ("an assertion with a negative length", c("  class: ok\n", "  class: ok\n  assert:\n  - at: /x\n    length: -1\n")),
        ("negative timing limit", c("  class: ok\n", "  class: ok\n  max_ttfb_ms: -5\n")),
        ("fractional timing limit", c("  class: ok\n", "  class: ok\n  max_ttfb_ms: 1.5\n")),
        ("expect.stream without stream: true", c("  class: ok\n", "  class: ok\n  stream:\n    done: true\n")),
        ("stream: true without expect.stream", c("    messages: []\n", "    messages: []\n    stream: true\n")),
        ("stream: false and no expect.stream", c("    messages: []\n", "    messages: []\n    stream: false\n")),
        ("stream options", s("    done: true\n", "    done: false\n    usage_chunk: true\n    chunk_schema: chat_completion_chunk\n    idle_ms: 500\n    incremental: true\n")),
        ("unknown stream key", s("    done: true\n", "    done: true\n    usage: true\n")),
        ("stream: true with a null expect.stream", s("  stream:\n    done: true\n", "  stream: null\n")),
        ("empty stream expectation", s("  stream:\n    done: true\n", "  stream: {}\n")),
        ("id with capitals", c("id: happy", "id: Happy")),
        ("description a number", c("description: d", "description: 123")),
        ("header value a number", c("request:\n", "request:\n  headers:\n    X-Trace: 7\n")),
        ("tags null", c("auth: valid", "auth: valid\ntags: null")),
        ("live_only null", c("auth: valid", "auth: valid\nlive_only: null")),
        ("description a boolean", c("description: d", "description: true")),
        ("description null", c("description: d", "description: null")),
        ("description a float", c("description: d", "description: 1.5")),
        ("description a list", c("description: d", "description: [a]")),
        ("error_code numbers", c("  class: ok\n", "  class: ok\n  error_code: [400, true]\n")),
        ("schema a number", c("  class: ok\n", "  class: ok\n  schema: 5\n")),
        ("raw_body a number", c("  body:\n    model: ${model}\n    messages: []\n", "  raw_body: 12\n")),
        ("status a quoted number", c("status: 200", "status: '200'")),
        ("live_only quoted", c("auth: valid", "auth: valid\nlive_only: 'true'")),
        ("class null", c("class: ok", "class: null")),
        ("max_ttfb_ms quoted", c("  class: ok\n", "  class: ok\n  max_ttfb_ms: '10'\n")),
        ("a models case with its own path", c("auth: valid", "auth: valid\nfamily: models").replace("request:\n", "request:\n  method: GET\n  path: /models/${model}\n")),
        ("a request path without a slash", c("request:\n", "request:\n  path: models\n")),
        ("a request with an unknown method", c("request:\n", "request:\n  method: FETCH\n")),
        ("a request path on video_tasks", c("auth: valid", "auth: valid\nfamily: video_tasks").replace("request:\n", "request:\n  path: /videos/x\n")),
        ("stream: true on embeddings", s("auth: valid", "auth: valid\nfamily: embeddings")),
        ("stream: true on models", s("auth: valid", "auth: valid\nfamily: models")),
        ("stream: true on moderations", s("auth: valid", "auth: valid\nfamily: moderations")),
        ("finish_reason on moderations", c("auth: valid", "auth: valid\nfamily: moderations").replace("  class: ok\n", "  class: ok\n  finish_reason: [stop]\n")),
        ("usage_arithmetic on moderations", c("auth: valid", "auth: valid\nfamily: moderations").replace("  class: ok\n", "  class: ok\n  invariants: [usage_arithmetic]\n")),
        ("finish_reason on models", c("auth: valid", "auth: valid\nfamily: models").replace("  class: ok\n", "  class: ok\n  finish_reason: [stop]\n")),
        ("model_listed on models", c("auth: valid", "auth: valid\nfamily: models").replace("  class: ok\n", "  class: ok\n  invariants: [model_listed]\n")),
        ("model_listed on chat completions", c("  class: ok\n", "  class: ok\n  invariants: [model_listed]\n")),
        ("usage_arithmetic on embeddings", c("auth: valid", "auth: valid\nfamily: embeddings").replace("  class: ok\n", "  class: ok\n  invariants: [usage_arithmetic]\n")),
        ("choices_match_n on embeddings", c("auth: valid", "auth: valid\nfamily: embeddings").replace("  class: ok\n", "  class: ok\n  invariants: [choices_match_n]\n")),
        ("decode and close_to", c("  class: ok\n", "  class: ok\n  assert:\n  - at: /data/0/embedding\n    decode: base64_f32le\n    close_to: {value: [0.5, 1], tolerance: 0.001}\n  - at: /x\n    close_to: {value: 1, tolerance: 0}\n")),
        ("decode alone", c("  class: ok\n", "  class: ok\n  assert:\n  - at: /x\n    decode: base64_f32le\n")),
        ("json and decode", c("  class: ok\n", "  class: ok\n  assert:\n  - at: /x\n    json: true\n    decode: base64_f32le\n")),
        ("an unknown decoding", c("  class: ok\n", "  class: ok\n  assert:\n  - at: /x\n    decode: base64\n")),
        ("close_to without a tolerance", c("  class: ok\n", "  class: ok\n  assert:\n  - at: /x\n    close_to: {value: 1}\n")),
        ("close_to with a negative tolerance", c("  class: ok\n", "  class: ok\n  assert:\n  - at: /x\n    close_to: {value: 1, tolerance: -0.5}\n")),
        ("close_to a text", c("  class: ok\n", "  class: ok\n  assert:\n  - at: /x\n    close_to: {value: abc, tolerance: 1}\n")),
    ]
}

fn target_variants() -> Vec<(&'static str, String)> {
    let t = |from: &str, to: &str| {
        assert!(TARGET.contains(from), "{from}");
        TARGET.replacen(from, to, 1)
    };
    vec![
        ("the base target", TARGET.to_string()),
        ("unknown key", t("api_key_env: K\n", "api_key_env: K\napi_key: sk-x\n")),
        ("missing base_url", t("base_url: http://x/v1\n", "")),
        ("missing vars", t("vars:\n  model: m1\n", "")),
        ("vars without model", t("  model: m1\n", "  other: x\n")),
        ("dialect", t("api_key_env: K\n", "api_key_env: K\ndialect: comet\n")),
        ("unknown dialect", t("api_key_env: K\n", "api_key_env: K\ndialect: azure\n")),
        ("default and base_url_env", t("api_key_env: K\n", "api_key_env: K\ndefault: true\nbase_url_env: X_URL\n")),
        ("timeouts", t("api_key_env: K\n", "api_key_env: K\ntimeouts:\n  connect_ms: 1\n  first_byte_ms: 2\n  idle_ms: 3\n  total_ms: 4\n")),
        ("unknown timeout", t("api_key_env: K\n", "api_key_env: K\ntimeouts:\n  read_ms: 1\n")),
        ("strict target", t("api_key_env: K\n", "api_key_env: K\nstrict: true\n")),
        ("strict target as text", t("api_key_env: K\n", "api_key_env: K\nstrict: 1.5\n")),
        ("retry policy", t("api_key_env: K\n", "api_key_env: K\nretry:\n  attempts: 1\n  base_ms: 1\n  max_ms: 2\n  deadline_ms: 3\n")),
        ("unknown retry key", t("api_key_env: K\n", "api_key_env: K\nretry:\n  jitter: full\n")),
        ("negative attempts", t("api_key_env: K\n", "api_key_env: K\nretry:\n  attempts: -1\n")),
        ("an expect override", t("api_key_env: K\n", "api_key_env: K\nexpect:\n  happy:\n    status: 503\n")),
        ("an override with an unknown key", t("api_key_env: K\n", "api_key_env: K\nexpect:\n  happy:\n    stauts: 503\n")),
        ("a skip", t("api_key_env: K\n", "api_key_env: K\nskip:\n  happy: not served here\n")),
        ("a skip without a reason", t("api_key_env: K\n", "api_key_env: K\nskip:\n  happy: [x]\n")),
        ("model a number", t("model: m1", "model: 4")),
        ("null dialect", t("api_key_env: K\n", "api_key_env: K\ndialect: null\n")),
        ("null timeouts", t("api_key_env: K\n", "api_key_env: K\ntimeouts: null\n")),
        ("capabilities", t("api_key_env: K\n", "api_key_env: K\ncapabilities:\n  tools: true\n  n: false\nrequired: [tools]\n")),
        ("an unknown capability", t("api_key_env: K\n", "api_key_env: K\ncapabilities:\n  tool: true\n")),
        ("a capability not a boolean", t("api_key_env: K\n", "api_key_env: K\ncapabilities:\n  tools: yes please\n")),
        ("an unknown required capability", t("api_key_env: K\n", "api_key_env: K\nrequired: [logprob]\n")),
        ("families with models and embeddings", t("api_key_env: K\n", "api_key_env: K\nfamilies: [chat_completions, models, embeddings]\n")),
        ("families with moderations", t("api_key_env: K\n", "api_key_env: K\nfamilies: [chat_completions, moderations]\n")),
    ]
}

#[test]
fn the_schema_agrees_with_the_loader_on_edge_cases() {
    let v = validator();
    let mut disagreements = Vec::new();
    let mut refused = 0;
    for (what, text) in case_variants() {
        let loader = parse_case(Path::new("c/happy.yaml"), &text);
        let schema = errors(&v, &json(&text));
        if loader.is_ok() != schema.is_empty() {
            disagreements.push(format!(
                "case, {what}: loader {}, schema {:?}\n{text}",
                match &loader {
                    Ok(_) => "accepts".to_string(),
                    Err(e) => format!("refuses ({e})"),
                },
                schema
            ));
        }
        refused += usize::from(loader.is_err());
    }
    for (what, text) in target_variants() {
        let loader = parse_target(Path::new("targets/t.yaml"), &text);
        let schema = errors(&v, &json(&text));
        if loader.is_ok() != schema.is_empty() {
            disagreements.push(format!(
                "target, {what}: loader {}, schema {:?}\n{text}",
                match &loader {
                    Ok(_) => "accepts".to_string(),
                    Err(e) => format!("refuses ({e})"),
                },
                schema
            ));
        }
        refused += usize::from(loader.is_err());
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n\n"));
    // The table exercises refusals, not only acceptances.
    assert!(refused >= 20, "{refused}");
}

#[test]
fn a_broken_case_fails_the_schema_naming_the_field() {
    let v = validator();
    let text = std::fs::read_to_string(root().join("contracts/chat_completions/happy_path.yaml"))
        .unwrap()
        .replace("  status: 200", "  stauts: 200");
    let errs = errors(&v, &json(&text));
    assert!(!errs.is_empty(), "a misspelt key must fail");
    let all = errs.join("\n");
    assert!(all.contains("stauts"), "{all}");
}
