//! The families beyond chat completions, live and recorded, through the real binary: a loopback
//! gateway on 127.0.0.1 serves Anthropic-style Messages (x-api-key), Responses, image generation
//! and asynchronous video tasks (submit, then polls that move through queued and in_progress).
//! Each family's cases pass live against it; `record` pins them (a video task as its submit and
//! every poll, in order); the recorded endpoint replays them offline with no drift; and a canary
//! key appears in no fixture or report.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use llm_contract::exchange::server::{Reply, Request, Server, StreamClose};
use serde_json::{json, Value};

use common::{copy_dir, files, llm_contract, report, root, text};

const KEY_ENV: &str = "LLMC_FAMILIES_KEY";

struct Gateway {
    server: Server,
    _rt: tokio::runtime::Runtime,
    polls: Arc<AtomicUsize>,
}

fn sse(event: &str, data: Value) -> (std::time::Duration, Bytes) {
    (
        std::time::Duration::from_millis(2),
        Bytes::from(format!("event: {event}\ndata: {data}\n\n")),
    )
}

fn stream(chunks: Vec<(std::time::Duration, Bytes)>) -> Reply {
    Reply::Stream {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        chunks,
        close: StreamClose::Clean,
    }
}

fn messages(body: &Value) -> Reply {
    let model = body["model"].as_str().unwrap_or("m");
    if body.get("max_tokens").is_none() {
        return Reply::json(
            400,
            &json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"}}),
        );
    }
    if body["stream"] == json!(true) {
        let start = json!({"type": "message_start", "message": {"id": "msg_live01", "type": "message", "role": "assistant",
            "content": [], "model": model, "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 9, "output_tokens": 1}}});
        return stream(vec![
            sse("message_start", start),
            sse("ping", json!({"type": "ping"})),
            sse(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            sse(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Pong."}}),
            ),
            sse(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            sse(
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 3}}),
            ),
            sse("message_stop", json!({"type": "message_stop"})),
        ]);
    }
    Reply::json(
        200,
        &json!({"id": "msg_live01", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "Pong."}], "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 9, "output_tokens": 3}}),
    )
}

fn response_object(model: &str, status: &str) -> Value {
    let output = if status == "completed" {
        json!([{"type": "message", "id": "msg_live02", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": "Pong.", "annotations": []}]}])
    } else {
        json!([])
    };
    json!({"id": "resp_live01", "object": "response", "created_at": 1763700000, "status": status,
        "model": model, "output": output, "error": null, "incomplete_details": null,
        "usage": {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12}})
}

fn responses(body: &Value) -> Reply {
    let Some(model) = body["model"].as_str() else {
        return Reply::json(
            400,
            &json!({"error": {"message": "Missing required parameter: 'model'.", "type": "invalid_request_error", "param": "model", "code": "missing_required_parameter"}}),
        );
    };
    if body["stream"] == json!(true) {
        let ev = |n: u64, ty: &str, mut v: Value| {
            v["type"] = json!(ty);
            v["sequence_number"] = json!(n);
            sse(ty, v)
        };
        let item = json!({"type": "message", "id": "msg_live02", "status": "in_progress", "role": "assistant", "content": []});
        return stream(vec![
            ev(
                0,
                "response.created",
                json!({"response": response_object(model, "in_progress")}),
            ),
            ev(
                1,
                "response.output_item.added",
                json!({"output_index": 0, "item": item}),
            ),
            ev(
                2,
                "response.output_text.delta",
                json!({"item_id": "msg_live02", "output_index": 0, "content_index": 0, "delta": "Pong."}),
            ),
            ev(
                3,
                "response.output_item.done",
                json!({"output_index": 0, "item": item}),
            ),
            ev(
                4,
                "response.completed",
                json!({"response": response_object(model, "completed")}),
            ),
        ]);
    }
    Reply::json(200, &response_object(model, "completed"))
}

fn images(body: &Value) -> Reply {
    if body.get("response_format").is_some() && body["model"] == json!("gpt-image-2") {
        return Reply::json(
            400,
            &json!({"error": {"message": "response_format is not supported; use output_format", "type": "invalid_request_error", "param": "response_format", "code": "invalid_parameter"}}),
        );
    }
    Reply::json(
        200,
        &json!({"created": 1763700000, "data": [{"url": "https://images.example.invalid/live01.png", "revised_prompt": "A red bicycle by a blue wall."}]}),
    )
}

fn video(model: &str, status: &str, progress: u32) -> Value {
    let mut v = json!({"id": "video_live01", "object": "video", "model": model, "status": status,
        "progress": progress, "created_at": 1763700000, "error": null});
    if status == "succeeded" {
        v["output"] = json!(["https://videos.example.invalid/video_live01.mp4"]);
    }
    v
}

impl Gateway {
    fn start(key: &'static str) -> Gateway {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let polls = Arc::new(AtomicUsize::new(0));
        let counter = polls.clone();
        let handler = move |req: Request| -> Reply {
            let path = req.target.split('?').next().unwrap_or("").to_string();
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            if path == "/v1/messages" {
                if req.header("x-api-key") != Some(key) {
                    return Reply::json(
                        401,
                        &json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
                    );
                }
                if req.header("anthropic-version").is_none() {
                    return Reply::json(
                        400,
                        &json!({"type": "error", "error": {"type": "invalid_request_error", "message": "anthropic-version header is required"}}),
                    );
                }
                return messages(&body);
            }
            if req.header("authorization") != Some(format!("Bearer {key}").as_str()) {
                return Reply::json(
                    401,
                    &json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
                );
            }
            match (req.method.as_str(), path.as_str()) {
                ("POST", "/v1/responses") => responses(&body),
                ("POST", "/v1/images/generations") => images(&body),
                ("POST", "/v1/videos") => match body["model"].as_str() {
                    Some(m) if body.get("prompt").is_some() => {
                        counter.store(0, Ordering::SeqCst);
                        Reply::json(200, &video(m, "queued", 0))
                    }
                    _ => Reply::json(
                        400,
                        &json!({"error": {"message": "prompt is required", "type": "invalid_request_error", "param": "prompt", "code": "parameter_missing"}}),
                    ),
                },
                ("GET", "/v1/videos/video_live01") => {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    let (status, progress) = match n {
                        0 => ("queued", 0),
                        1 => ("in_progress", 60),
                        _ => ("succeeded", 100),
                    };
                    Reply::json(200, &video("veo3-fast", status, progress))
                }
                _ => Reply::json(
                    404,
                    &json!({"error": {"message": format!("no route {path}"), "type": "invalid_request_error", "param": null, "code": "not_found"}}),
                ),
            }
        };
        let server = rt.block_on(Server::start(Arc::new(handler), 0.0)).unwrap();
        Gateway {
            server,
            _rt: rt,
            polls,
        }
    }

    fn base(&self) -> String {
        format!("{}/v1", self.server.url())
    }
}

/// The new families' cases in the repository suite.
const CASES: &[&str] = &[
    "messages_happy_path",
    "messages_streaming",
    "messages_missing_auth",
    "messages_missing_max_tokens",
    "responses_happy_path",
    "responses_streaming",
    "responses_missing_auth",
    "responses_missing_model",
    "images_happy_path",
    "images_missing_auth",
    "images_unsupported_parameter",
    "video_happy_path",
    "video_missing_auth",
    "video_missing_prompt",
];

/// Runs the binary with the argument groups, then the suite's --contracts/--fixtures, on
/// [`CASES`].
fn cli(
    groups: &[&[&str]],
    suite: &[String],
    env: &[(&str, &str)],
    cwd: &std::path::Path,
) -> std::process::Output {
    let mut args: Vec<&str> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    args.extend(suite.iter().map(String::as_str));
    // Only these cases: the gateway answers them (the suite's other cases of these families,
    // tool calls, steps, a second video task, ask for what it does not serve).
    args.extend(CASES.iter().flat_map(|id| ["--case", id]));
    llm_contract(&args, env, cwd)
}

fn canary() -> String {
    // Built at run time so no key-shaped literal sits in the source.
    ["canary", "families", "9f3a7c21d4e8"].join("-")
}

#[test]
fn every_family_passes_live_records_and_replays_offline_without_the_key() {
    let key: &'static str = Box::leak(canary().into_boxed_str());
    let gateway = Gateway::start(key);
    let scratch = tempfile::tempdir().unwrap();
    copy_dir(&root().join("contracts"), &scratch.path().join("contracts"));
    let fixtures = scratch.path().join("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    let suite = [
        "--contracts".to_string(),
        scratch.path().join("contracts").display().to_string(),
        "--fixtures".to_string(),
        fixtures.display().to_string(),
    ];
    let live_reports = tempfile::tempdir().unwrap();
    let replay_reports = tempfile::tempdir().unwrap();

    // Live: every case of the four families, against the loopback gateway.
    let base = gateway.base();
    let endpoint = [
        "--target",
        "cometapi",
        "--base-url",
        base.as_str(),
        "--api-key-env",
        KEY_ENV,
        "--time-scale",
        "0",
    ];
    let live_dir = live_reports.path().display().to_string();
    let out = cli(
        &[&["run", "--live"], &endpoint[..], &["--reports", &live_dir]],
        &suite,
        &[(KEY_ENV, key)],
        scratch.path(),
    );
    let (stdout, stderr) = text(&out);
    let r = report(live_reports.path());
    for id in CASES {
        let c = common::case(&r, &format!("cometapi::{id}"));
        assert_eq!(c["verdict"], "pass", "{id} live: {c}\n{stdout}{stderr}");
    }
    let video = common::case(&r, "cometapi::video_happy_path");
    assert_eq!(video["task"]["polls"], 3, "{video}");
    assert_eq!(
        video["task"]["statuses"],
        "queued → in_progress → succeeded"
    );
    assert_eq!(video["task"]["end"], "done");
    assert_eq!(video["finish_reason"], "succeeded");
    let stream = common::case(&r, "cometapi::messages_streaming");
    assert_eq!(stream["frames"], 7, "{stream}");
    assert_eq!(stream["finish_reason"], "end_turn");
    assert_eq!(
        stream["usage"]["prompt_tokens"], 9,
        "input_tokens read as usage"
    );
    assert_eq!(
        common::case(&r, "cometapi::images_happy_path")["notes"][0]
            .as_str()
            .unwrap(),
        "image 0: the provider revised the prompt to: A red bicycle by a blue wall."
    );
    assert_eq!(
        common::case(&r, "cometapi::messages_missing_auth")["error"]["type"],
        "authentication_error"
    );

    // Record the four families, then replay them offline: no drift, the same verdicts.
    let server = [
        "--server",
        "llm-contract families gateway (tests/families.rs)",
        "--server-version",
        "test",
    ];
    let out = cli(
        &[&["record"], &endpoint[..], &server[..]],
        &suite,
        &[(KEY_ENV, key)],
        scratch.path(),
    );
    let (stdout, stderr) = text(&out);
    let video_fixture = fixtures.join("cometapi/video_happy_path.json");
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(&video_fixture)
            .unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}")),
    )
    .unwrap();
    let responses = doc["responses"].as_array().expect("submit and polls");
    assert_eq!(responses.len(), 4, "{doc}");
    assert_eq!(responses[0]["body"]["status"], "queued");
    assert_eq!(responses[1]["request"]["method"], "GET");
    assert_eq!(responses[1]["request"]["path"], "/videos/video_[ID]");
    assert_eq!(responses[3]["body"]["status"], "succeeded");
    assert_eq!(doc["provenance"]["kind"], "recorded");
    let messages_fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("cometapi/messages_streaming.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(messages_fixture["request"]["path"], "/messages");
    assert_eq!(messages_fixture["request"]["authorization"], "[API_KEY]");

    // Live again, now with recorded baselines: no drift anywhere, the submit compared with the
    // recorded submit and the task's last poll with the recorded last poll.
    let again = tempfile::tempdir().unwrap();
    let again_dir = again.path().display().to_string();
    let out = cli(
        &[
            &["run", "--live"],
            &endpoint[..],
            &["--reports", &again_dir],
        ],
        &suite,
        &[(KEY_ENV, key)],
        scratch.path(),
    );
    let (stdout, stderr) = text(&out);
    let r = report(again.path());
    for id in CASES {
        let c = common::case(&r, &format!("cometapi::{id}"));
        assert_eq!(
            c["verdict"], "pass",
            "{id} live again: {c}\n{stdout}{stderr}"
        );
        assert_eq!(c["drift"]["state"], "match", "{id} live again: {c}");
    }

    let polls_before = gateway.polls.load(Ordering::SeqCst);
    let replay_dir = replay_reports.path().display().to_string();
    let out = cli(
        &[&["run", "--target", "cometapi", "--reports", &replay_dir]],
        &suite,
        &[],
        scratch.path(),
    );
    let (stdout, stderr) = text(&out);
    let r = report(replay_reports.path());
    for id in CASES {
        let c = common::case(&r, &format!("cometapi::{id}"));
        assert_eq!(c["verdict"], "pass", "{id} replayed: {c}\n{stdout}{stderr}");
        assert_eq!(c["mode"], "recorded");
        assert_eq!(c["drift"]["state"], "match", "{id}: {c}");
    }
    assert_eq!(
        gateway.polls.load(Ordering::SeqCst),
        polls_before,
        "the replay sent nothing to the gateway"
    );

    // The canary key is nowhere on disk: not in the fixtures, not in any report.
    for dir in [scratch.path(), live_reports.path(), replay_reports.path()] {
        for f in files(dir) {
            let body = std::fs::read(&f).unwrap();
            assert!(
                !String::from_utf8_lossy(&body).contains(key),
                "the key leaked into {}",
                f.display()
            );
        }
    }
}

#[test]
fn an_edited_poll_sequence_is_judged_as_the_task_it_describes() {
    // The pinned video task succeeds after four polls; once its last poll says `failed` with a
    // content-policy error, the offline run fails the case as that failed task (fix_request):
    // the recorded endpoint serves what the fixture holds, in order, and the verdict follows.
    let scratch = tempfile::tempdir().unwrap();
    copy_dir(&root().join("contracts"), &scratch.path().join("contracts"));
    copy_dir(&root().join("fixtures"), &scratch.path().join("fixtures"));
    let path = scratch
        .path()
        .join("fixtures/cometapi/video_happy_path.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let last = doc["responses"].as_array_mut().unwrap().last_mut().unwrap();
    last["body"]["status"] = json!("failed");
    last["body"]["error"] = json!({"code": "content_policy_violation", "message": "flagged"});
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let (out, reports) = common::run_offline(scratch.path(), &["--case", "video_happy_path"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let r = report(reports.path());
    let c = common::case(&r, "cometapi::video_happy_path");
    assert_eq!(c["verdict"], "fail");
    assert_eq!(c["class"], "fix_request");
    assert_eq!(c["task"]["end"], "failed");
    assert!(
        c["failures"].as_array().unwrap().iter().any(|f| f
            .as_str()
            .unwrap()
            .contains("code=content_policy_violation")),
        "{c}"
    );
}
