//! Shared test helpers: an OpenAI-compatible server on 127.0.0.1 that conforms, or misbehaves in
//! a named way, chosen by the first path segment (`/<behaviour>/v1/chat/completions`); and a way
//! to run the `llm-contract` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use llm_contract::contract::suite::{Paths, Suite};
use llm_contract::exchange::server::{Reply, Request, Server, StreamClose};

pub mod catalogue;
pub mod families;

pub const INVALID_TOKEN: &str = llm_contract::model::plan::INVALID_TOKEN;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The generic target that `--base-url` fills (`openai_compatible`).
pub const GENERIC: &str = llm_contract::contract::suite::GENERIC_TARGET;

/// The fault catalogue: tests/faults/{contracts,fixtures}, judged with the repository's schemas
/// (as `run --contracts tests/faults/contracts --fixtures tests/faults/fixtures --schemas
/// contracts/schemas` reads it).
pub fn fault_paths() -> Paths {
    let faults = root().join("tests/faults");
    Paths {
        contracts: faults.join("contracts"),
        fixtures: faults.join("fixtures"),
        schemas: root().join("contracts/schemas"),
    }
}

/// A suite, loaded by the library as `run` loads it.
pub fn load_suite(paths: &Paths) -> Suite {
    Suite::load(paths).unwrap_or_else(|e| panic!("{}: {e}", paths.contracts.display()))
}

/// How many cases a run of a suite has: its plans for the named targets or, with none, for the
/// targets an offline run replays by default. Tests compare a run's counts with this rather than
/// with a number written down, so that a case added to (or removed from) the suite needs no edit
/// in the tests, while a run that loses or doubles a case still fails them.
pub fn case_count(paths: &Paths, targets: &[&str]) -> usize {
    let suite = load_suite(paths);
    let names: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
    let targets = suite
        .recorded_targets(&names)
        .unwrap_or_else(|e| panic!("targets {names:?}: {e}"));
    suite
        .plans(&targets, None)
        .unwrap_or_else(|e| panic!("plans for {names:?}: {e}"))
        .len()
}

/// The cases of a plain offline `run` of the suite below `dir` (its contracts/ and fixtures/).
pub fn replayed_cases(dir: &Path) -> usize {
    case_count(&Paths::under(dir), &[])
}

/// The cases of a run of the suite below `dir` against a `--base-url` (the generic target).
pub fn generic_cases(dir: &Path) -> usize {
    case_count(&Paths::under(dir), &[GENERIC])
}

/// Runs the binary with the given args and extra environment; bounded by the harness's own
/// timeouts (every request it makes has a deadline).
pub fn llm_contract(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_llm-contract"));
    cmd.args(args).current_dir(cwd);
    // The tests decide these themselves: CI's own `CI=true` must not turn recording off.
    cmd.env_remove("COMETAPI_API_KEY")
        .env_remove("LLM_CONTRACT_LIVE")
        .env_remove("CI");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A runtime and a mock server on it; the server stops when this is dropped.
pub struct Mock {
    pub server: Server,
    pub rt: tokio::runtime::Runtime,
}

impl Mock {
    pub fn start() -> Mock {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt
            .block_on(Server::start(Arc::new(openai_mock), 0.0))
            .unwrap();
        Mock { server, rt }
    }

    /// Base URL for a behaviour.
    pub fn base(&self, behaviour: &str) -> String {
        format!("{}/{behaviour}/v1", self.server.url())
    }
}

pub(crate) fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    )
}

fn completion(model: &str, content: &str) -> Value {
    json!({
        "id": "chatcmpl-mock1", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        "system_fingerprint": "fp_mock"
    })
}

fn chunk(model: &str, delta: Value, finish: Value) -> String {
    let c = json!({"id": "chatcmpl-mock1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
    format!("data: {c}\n\n")
}

fn stream(model: &str, usage: bool, cut_after: Option<usize>) -> Reply {
    let mut frames = vec![
        chunk(
            model,
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        ),
        chunk(model, json!({"content": "po"}), Value::Null),
        chunk(model, json!({"content": "ng"}), Value::Null),
        chunk(model, json!({}), json!("stop")),
    ];
    if usage {
        let u = json!({"id": "chatcmpl-mock1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
            "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}});
        frames.push(format!("data: {u}\n\n"));
    }
    frames.push("data: [DONE]\n\n".into());
    let close = match cut_after {
        Some(n) => {
            frames.truncate(n);
            StreamClose::Reset
        }
        None => StreamClose::Clean,
    };
    Reply::Stream {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks: frames
            .into_iter()
            .map(|f| (Duration::from_millis(2), Bytes::from(f)))
            .collect(),
        close,
    }
}

/// The models the mock lists and retrieves (the tests' `--model`s, and the targets' defaults).
const MOCK_MODELS: &[&str] = &[
    "mock-model-1",
    "another-model",
    "gpt-4o-mini",
    "text-embedding-3-small",
    "omni-moderation-latest",
];

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "mock"})
}

/// POST /embeddings: a fixed vector per input (`dimensions` long when asked, else 8), as floats
/// or base64 of little-endian 32-bit floats.
fn embeddings(body: &Value, request_error: impl Fn(&str) -> Reply) -> Reply {
    let inputs = match body.get("input") {
        Some(Value::String(_)) => 1,
        Some(Value::Array(items)) if !items.is_empty() => items.len(),
        _ => return request_error("Missing required parameter: 'input'."),
    };
    let n = body.get("dimensions").and_then(Value::as_u64).unwrap_or(8) as usize;
    let vector: Vec<f32> = (0..n).map(|i| (i as f32 + 1.0) / 64.0).collect();
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let embedding = if base64 {
        let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
        Value::String(base64_text(&bytes))
    } else {
        json!(vector)
    };
    let data: Vec<Value> = (0..inputs)
        .map(|i| json!({"object": "embedding", "index": i, "embedding": embedding}))
        .collect();
    let model = body.get("model").cloned().unwrap_or(Value::Null);
    Reply::json(
        200,
        &json!({"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": 5 * inputs, "total_tokens": 5 * inputs}}),
    )
}

/// POST /moderations: one result per string of `input` (one for a multimodal array), flagged
/// when the text speaks of killing, with a violence score to match.
fn moderations(body: &Value, request_error: impl Fn(&str) -> Reply) -> Reply {
    let texts: Vec<&str> = match body.get("input") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) if !items.is_empty() => {
            if items.iter().all(Value::is_string) {
                items.iter().filter_map(Value::as_str).collect()
            } else {
                // Text and image parts: one input, its text parts joined.
                vec![items
                    .iter()
                    .find_map(|p| p.get("text").and_then(Value::as_str))
                    .unwrap_or("")]
            }
        }
        _ => return request_error("Missing required parameter: 'input'."),
    };
    let image = matches!(body.get("input"), Some(Value::Array(items)) if items.iter().any(|p| p.get("type").and_then(Value::as_str) == Some("image_url")));
    let results: Vec<Value> = texts
        .iter()
        .map(|t| {
            let violent = t.contains("kill");
            let score = if violent { 0.9 } else { 0.001 };
            let kinds = if image {
                json!(["text", "image"])
            } else {
                json!(["text"])
            };
            json!({
                "flagged": violent,
                "categories": {"harassment": false, "hate": false, "self-harm": false,
                    "sexual": false, "violence": violent, "illicit": null},
                "category_scores": {"harassment": 0.002, "hate": 0.001, "self-harm": 0.0005,
                    "sexual": 0.0003, "violence": score, "illicit": 0.0001},
                "category_applied_input_types": {"harassment": ["text"], "hate": ["text"],
                    "self-harm": kinds, "sexual": kinds, "violence": kinds, "illicit": ["text"]},
            })
        })
        .collect();
    let model = body
        .get("model")
        .cloned()
        .unwrap_or_else(|| json!("omni-moderation-latest"));
    Reply::json(
        200,
        &json!({"id": "modr-mock", "model": model, "results": results}),
    )
}

/// Standard base64 with padding.
fn base64_text(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An OpenAI-like server. Behaviours: `conform`, `wrong-status` (200s become 503),
/// `missing-field` (200 bodies lack `choices`), `html` (a 200 HTML page), `redirect` (301),
/// `extra-field` (200 bodies gain a field; volatile values change), `invalid-request-500` (request errors as 500 + code invalid_request), `cut-stream` (streams
/// reset after 2 frames), `echo` (echoes the Authorization header into bodies and headers).
pub fn openai_mock(req: Request) -> Reply {
    let mut segs = req.target.trim_start_matches('/').splitn(2, '/');
    let behaviour = segs.next().unwrap_or("").to_string();
    let auth = req.header("authorization").map(str::to_string);
    match behaviour.as_str() {
        "html" => return Reply::text(
            200,
            "text/html; charset=utf-8",
            "<!DOCTYPE html><html><head><title>Welcome</title></head><body>Console</body></html>",
        ),
        "redirect" => {
            return Reply::Full {
                status: 301,
                headers: vec![
                    (
                        "location".into(),
                        "https://example.invalid/v1/chat/completions".into(),
                    ),
                    ("content-type".into(), "text/html".into()),
                ],
                body: Bytes::from_static(b"<html><body>Moved Permanently</body></html>"),
            }
        }
        _ => {}
    }
    let echo = behaviour == "echo";
    if echo {
        let seen = auth.clone().unwrap_or_default();
        let body = json!({"error": {"message": format!("key {seen} rejected (request id: 20261121abc)"), "type": "invalid_request_error", "code": "invalid_api_key"}, "echo": seen});
        return Reply::Full {
            status: 401,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-echo-authorization".into(), seen),
            ],
            body: Bytes::from(body.to_string()),
        };
    }
    let request_error = |message: &str| {
        if behaviour == "invalid-request-500" {
            error(
                500,
                &format!("{message} (request id: 99)"),
                "comet_api_error",
                Some("invalid_request"),
            )
        } else {
            error(400, message, "invalid_request_error", None)
        }
    };
    match auth.as_deref() {
        None => {
            return error(
                401,
                "You didn't provide an API key.",
                "invalid_request_error",
                None,
            )
        }
        Some(a) if a.ends_with(INVALID_TOKEN) => {
            return error(
                401,
                "Incorrect API key provided.",
                "invalid_request_error",
                Some("invalid_api_key"),
            )
        }
        _ => {}
    }
    let path = req.target.split('?').next().unwrap_or("");
    // The models listing and retrieval (GET): the models the tests configure.
    if path.ends_with("/models") {
        let data: Vec<Value> = MOCK_MODELS.iter().map(|m| model_object(m)).collect();
        return Reply::json(200, &json!({"object": "list", "data": data}));
    }
    if let Some((_, id)) = path.rsplit_once("/models/") {
        if !MOCK_MODELS.contains(&id) {
            return error(
                404,
                &format!("The model '{id}' does not exist"),
                "invalid_request_error",
                Some("model_not_found"),
            );
        }
        return Reply::json(200, &model_object(id));
    }
    // A stored response read back or deleted.
    if let Some((_, id)) = path.rsplit_once("/responses/") {
        return families::stored_response(&req.method, id);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return request_error("We could not parse the JSON body of your request.");
    };
    if path.ends_with("/embeddings") {
        return embeddings(&body, request_error);
    }
    if path.ends_with("/moderations") {
        return moderations(&body, request_error);
    }
    if path.ends_with("/responses") {
        return families::create(&body, request_error);
    }
    if path.ends_with("/images/generations") {
        return families::images(&body, request_error);
    }
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return request_error("you must provide a model parameter");
    };
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return request_error("Missing required parameter: 'messages'.");
    };
    if messages.is_empty() {
        return request_error("Invalid 'messages': empty array.");
    }
    let roles = ["system", "developer", "user", "assistant", "tool"];
    if messages
        .iter()
        .any(|m| !roles.contains(&m.get("role").and_then(Value::as_str).unwrap_or("")))
    {
        return request_error("Invalid value for 'messages[0].role'.");
    }
    if model.contains("no-such-model") {
        return error(
            404,
            &format!("The model `{model}` does not exist or you do not have access to it."),
            "invalid_request_error",
            Some("model_not_found"),
        );
    }
    if let Some(refusal) = catalogue::invalid(&body) {
        return refusal;
    }
    if behaviour == "wrong-status" {
        return error(503, "upstream unavailable", "server_error", None);
    }
    // The catalogue's answers as a conforming server gives them (`extra-field` changes only the
    // plain answer below, as before the catalogue).
    if catalogue::wants_more(&body) && matches!(behaviour.as_str(), "conform" | "extra-field") {
        return if body.get("stream") == Some(&Value::Bool(true)) {
            catalogue::stream(model, &body)
        } else {
            Reply::json(200, &catalogue::completion(model, &body))
        };
    }
    if body.get("stream") == Some(&Value::Bool(true)) {
        let usage = body.pointer("/stream_options/include_usage") == Some(&Value::Bool(true));
        let cut = (behaviour == "cut-stream").then_some(2);
        return stream(model, usage, cut);
    }
    let mut doc = completion(model, "pong");

    if behaviour == "missing-field" {
        doc.as_object_mut().unwrap().remove("choices");
    }
    if behaviour == "extra-field" {
        doc["service_tier"] = json!("priority");
        doc["id"] = json!("chatcmpl-other-id");
        doc["created"] = json!(1_800_000_000);
    }
    Reply::json(200, &doc)
}

/// Reads `<dir>/latest/report.json`.
pub fn report(dir: &Path) -> Value {
    let text =
        std::fs::read_to_string(dir.join("latest/report.json")).expect("report.json written");
    serde_json::from_str(&text).unwrap()
}

/// The case entry `id` in a report.
pub fn case<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id} in report"))
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Every file below `dir`, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A scratch copy of the repository's contracts and fixtures, to edit.
pub fn suite_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("contracts"), &dir.path().join("contracts"));
    copy_dir(&root().join("fixtures"), &dir.path().join("fixtures"));
    dir
}

/// Replaces the first `from` in a file with `to`; the file must contain `from`.
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// The arguments that point a `run` at a suite directory's contracts and fixtures, writing
/// reports into `reports`, with no waits.
pub fn offline_args(suite: &Path, reports: &Path) -> Vec<String> {
    let s = |p: PathBuf| p.display().to_string();
    vec![
        "--contracts".into(),
        s(suite.join("contracts")),
        "--fixtures".into(),
        s(suite.join("fixtures")),
        "--reports".into(),
        s(reports.to_path_buf()),
        "--time-scale".into(),
        "0".into(),
    ]
}

/// `run` offline on a suite directory with extra arguments; the reports directory comes back too.
pub fn run_offline(suite: &Path, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let reports = tempfile::tempdir().unwrap();
    let mut args = vec!["run".to_string()];
    args.extend(offline_args(suite, reports.path()));
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    (llm_contract(&refs, &[], suite), reports)
}

/// Runs `llm-contract run --live` against `base` with the key `key` in the variable `key_env`,
/// reports written to `reports`, no waits (`--time-scale 0`), then `extra`, in `cwd`.
pub fn live_run(
    base: &str,
    key_env: &str,
    key: &str,
    extra: &[&str],
    reports: &Path,
    cwd: &Path,
) -> Output {
    let reports = reports.to_str().unwrap();
    let mut args = vec![
        "run",
        "--live",
        "--base-url",
        base,
        "--api-key-env",
        key_env,
    ];
    args.extend_from_slice(extra);
    args.extend(["--reports", reports, "--time-scale", "0"]);
    llm_contract(&args, &[(key_env, key)], cwd)
}
