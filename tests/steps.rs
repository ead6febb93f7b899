//! Cases with steps, end to end: a stateful OpenAI-like gateway on 127.0.0.1 (tool calls,
//! stored Responses with GET and DELETE, `previous_response_id`) is run live, recorded, and
//! replayed offline. Three chains: a tool round trip, a `previous_response_id` chain, and store →
//! GET → DELETE → GET (404). Ids differ on every live call, as a real gateway's do, so the
//! captured values must travel from step to step, and replay must match with drift `match`.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use common::{copy_dir, llm_contract, root, text};
use llm_contract::exchange::server::{Reply, Request, Server};

const KEY_ENV: &str = "LLMC_STEPS_KEY";

/// A gateway that keeps state: stored responses by id, and a counter for fresh ids.
#[derive(Default)]
struct Gateway {
    next: AtomicU64,
    /// A different prefix per gateway, so ids differ from one live run to the next.
    nonce: u64,
    stored: Mutex<HashMap<String, Value>>,
}

fn error(status: u16, message: &str, code: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}}),
    )
}

impl Gateway {
    fn id(&self, prefix: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}{:x}{n:04x}", self.nonce)
    }

    fn chat(&self, body: &Value) -> Reply {
        let model = body["model"].as_str().unwrap_or("m");
        let messages = body["messages"].as_array().cloned().unwrap_or_default();
        let last = messages.last().cloned().unwrap_or_default();
        let message = if last["role"] == "tool" {
            // The tool's result must answer the call the assistant made, by its id.
            let call_id = last["tool_call_id"].as_str().unwrap_or("");
            let made = messages.iter().any(|m| {
                m["tool_calls"]
                    .as_array()
                    .is_some_and(|calls| calls.iter().any(|c| c["id"] == call_id))
            });
            if !made || call_id.is_empty() {
                return error(
                    400,
                    "tool_call_id does not answer a tool call",
                    "invalid_tool_call_id",
                );
            }
            json!({"role": "assistant", "content": format!("In Paris it is {}.", last["content"].as_str().unwrap_or("?")), "refusal": null})
        } else if body.get("tools").is_some() {
            json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                {"id": self.id("call_"), "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]})
        } else {
            json!({"role": "assistant", "content": "pong", "refusal": null})
        };
        let finish = if message.get("tool_calls").is_some() {
            "tool_calls"
        } else {
            "stop"
        };
        Reply::json(
            200,
            &json!({
                "id": self.id("chatcmpl-"), "object": "chat.completion", "created": 1_700_000_000, "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
            }),
        )
    }

    fn create_response(&self, body: &Value) -> Reply {
        let model = body["model"].as_str().unwrap_or("m");
        let input = body["input"].as_str().unwrap_or("");
        let text = match body.get("previous_response_id").and_then(Value::as_str) {
            Some(prev) => {
                let stored = self.stored.lock().unwrap();
                let Some(before) = stored.get(prev) else {
                    return error(
                        404,
                        &format!("Previous response with id '{prev}' not found."),
                        "previous_response_not_found",
                    );
                };
                let said = before["output"][0]["content"][0]["text"]
                    .as_str()
                    .unwrap_or("");
                format!("You said before: {said} Now: {input}")
            }
            None => format!("Echo: {input}"),
        };
        let id = self.id("resp_");
        let doc = json!({
            "id": id, "object": "response", "created_at": 1_700_000_000, "status": "completed",
            "model": model, "error": null, "incomplete_details": null,
            "previous_response_id": body.get("previous_response_id").cloned().unwrap_or(Value::Null),
            "output": [{"type": "message", "id": self.id("msg_"), "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}],
            "usage": {"input_tokens": 8, "output_tokens": 6, "total_tokens": 14}
        });
        if body.get("store") != Some(&Value::Bool(false)) {
            self.stored.lock().unwrap().insert(id, doc.clone());
        }
        Reply::json(200, &doc)
    }

    fn handle(&self, req: Request) -> Reply {
        if req.header("authorization").is_none() {
            return error(401, "You didn't provide an API key.", "missing_api_key");
        }
        let path = req.target.split('?').next().unwrap_or("").to_string();
        let path = path.strip_prefix("/v1").unwrap_or(&path);
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        match (req.method.as_str(), path) {
            ("POST", "/chat/completions") => self.chat(&body),
            ("POST", "/responses") => self.create_response(&body),
            ("GET", p) if p.starts_with("/responses/") => {
                // The step's own header, and the case's beside it, arrive.
                if req.header("x-step") != Some("get") || req.header("x-case") != Some("chain") {
                    return error(
                        400,
                        "x-step: get and x-case: chain are required here",
                        "missing_header",
                    );
                }
                let id = &p["/responses/".len()..];
                match self.stored.lock().unwrap().get(id) {
                    Some(doc) => Reply::json(200, doc),
                    None => error(
                        404,
                        &format!("No response found with id '{id}'."),
                        "not_found",
                    ),
                }
            }
            ("DELETE", p) if p.starts_with("/responses/") => {
                let id = &p["/responses/".len()..];
                match self.stored.lock().unwrap().remove(id) {
                    Some(_) => Reply::json(
                        200,
                        &json!({"id": id, "object": "response", "deleted": true}),
                    ),
                    None => error(
                        404,
                        &format!("No response found with id '{id}'."),
                        "not_found",
                    ),
                }
            }
            _ => error(404, "no such route", "not_found"),
        }
    }
}

struct Running {
    server: Server,
    _rt: tokio::runtime::Runtime,
}

fn start(nonce: u64) -> Running {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let gw = Arc::new(Gateway {
        nonce,
        ..Gateway::default()
    });
    let server = rt
        .block_on(Server::start(Arc::new(move |r| gw.handle(r)), 0.0))
        .unwrap();
    Running { server, _rt: rt }
}

const TOOL_ROUND_TRIP: &str = r#"id: tool_round_trip
description: A tool call, then its result sent back with the captured call and id, answered in words.
auth: valid
requires: [tools]
request:
  body:
    model: ${model}
    messages:
    - {role: user, content: Weather in Paris?}
    tools: &tools
    - type: function
      function:
        name: weather
        parameters: {type: object, properties: {city: {type: string}}, required: [city]}
    tool_choice: required
expect:
  status: 200
  class: ok
  finish_reason: [tool_calls]
  assert:
  - at: /choices/0/message/tool_calls/0/function/arguments
    json: /city
    equals: Paris
capture:
  call: /choices/0/message/tool_calls/0
  call_id: /choices/0/message/tool_calls/0/id
steps:
- name: answer
  request:
    body:
      model: ${model}
      messages:
      - {role: user, content: Weather in Paris?}
      - {role: assistant, content: null, tool_calls: ["${call}"]}
      - {role: tool, tool_call_id: "${call_id}", content: 18 C and sunny}
      tools: *tools
  expect:
    status: 200
    class: ok
    finish_reason: [stop]
    assert:
    - at: /choices/0/message/content
      matches: 18 C and sunny
"#;

const PREVIOUS_RESPONSE: &str = r#"id: previous_response_chain
description: A second response continues the first by its id (previous_response_id).
family: responses
auth: valid
requires: [store]
request:
  body: {model: "${model}", input: My name is Ada.}
expect:
  status: 200
  class: ok
capture:
  first: /id
steps:
- name: continue
  request:
    body: {model: "${model}", input: What is my name?, previous_response_id: "${first}"}
  expect:
    status: 200
    class: ok
    assert:
    - at: /previous_response_id
      equals: ${first}
    - at: /output/0/content/0/text
      contains: My name is Ada.
"#;

const STORE_GET_DELETE: &str = r#"id: store_get_delete
description: A stored response can be fetched by id, deleted, and is gone after.
family: responses
auth: valid
requires: [store]
request:
  headers: {x-case: chain}
  body: {model: "${model}", input: Remember this., store: true}
expect:
  status: 200
  class: ok
capture:
  id: /id
  text: /output/0/content/0/text
steps:
- name: get
  request:
    method: GET
    path: /responses/${id}
    headers: {x-step: get}
  expect:
    status: 200
    class: ok
    assert:
    - {at: /id, equals: "${id}"}
    - {at: /output/0/content/0/text, equals: "${text}"}
- name: delete
  request:
    method: DELETE
    path: /responses/${id}
  expect:
    status: 200
    class: ok
    schema: response_deleted
    assert:
    - {at: /deleted, equals: true}
- name: gone
  request:
    method: GET
    path: /responses/${id}
    headers: {x-step: get}
  expect:
    status: 404
    class: configuration_drift
"#;

fn suite(dir: &Path, base_url: &str) {
    let c = dir.join("contracts");
    std::fs::create_dir_all(c.join("targets")).unwrap();
    std::fs::create_dir_all(c.join("cases")).unwrap();
    copy_dir(&root().join("contracts/schemas"), &c.join("schemas"));
    std::fs::write(
        c.join("targets/loop.yaml"),
        format!("name: loop\ndescription: A stateful gateway on loopback\nbase_url: {base_url}\napi_key_env: {KEY_ENV}\nvars:\n  model: loop-model\nretry:\n  attempts: 1\n"),
    )
    .unwrap();
    for (id, text) in [
        ("tool_round_trip", TOOL_ROUND_TRIP),
        ("previous_response_chain", PREVIOUS_RESPONSE),
        ("store_get_delete", STORE_GET_DELETE),
    ] {
        std::fs::write(c.join(format!("cases/{id}.yaml")), text).unwrap();
    }
    std::fs::create_dir_all(dir.join("fixtures")).unwrap();
}

fn args(dir: &Path, reports: &Path, sub: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = sub.iter().map(|s| s.to_string()).collect();
    for (k, v) in [
        ("--contracts", dir.join("contracts")),
        ("--fixtures", dir.join("fixtures")),
    ] {
        a.push(k.into());
        a.push(v.display().to_string());
    }
    if sub[0] == "run" {
        a.push("--reports".into());
        a.push(reports.display().to_string());
    }
    if sub[0] != "lint" {
        a.extend(["--target".to_string(), "loop".into()]);
    }
    a
}

fn cli(dir: &Path, sub: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let reports = tempfile::tempdir().unwrap();
    let a = args(dir, reports.path(), sub);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    (
        llm_contract(&refs, &[(KEY_ENV, "llmc-steps-canary-not-a-key")], dir),
        reports,
    )
}

#[test]
fn three_chains_run_live_record_and_replay_offline_with_drift_match() {
    let dir = tempfile::tempdir().unwrap();
    let live = start(0xa1);
    suite(dir.path(), &format!("{}/v1", live.server.url()));

    // Live: every chain passes against the gateway, each step listed.
    let (out, reports) = cli(dir.path(), &["run", "--live"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let r = common::report(reports.path());
    for (id, steps) in [
        ("loop::tool_round_trip", vec!["request", "answer"]),
        ("loop::previous_response_chain", vec!["request", "continue"]),
        (
            "loop::store_get_delete",
            vec!["request", "get", "delete", "gone"],
        ),
    ] {
        let c = common::case(&r, id);
        assert_eq!(c["verdict"], "pass", "{c}");
        let names: Vec<&str> = c["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        assert_eq!(names, steps, "{id}");
    }

    // Record from a fresh gateway (other ids): each step's answer is pinned with its request.
    let rec = start(0xb2);
    let target = dir.path().join("contracts/targets/loop.yaml");
    let t = std::fs::read_to_string(&target).unwrap();
    std::fs::write(&target, t.replace(&live.server.url(), &rec.server.url())).unwrap();
    let (out, _) = cli(dir.path(), &["record", "--time-scale", "0"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("fixtures/loop/store_get_delete.json")).unwrap(),
    )
    .unwrap();
    let responses = fixture["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 4);
    let steps: Vec<&Value> = responses.iter().map(|r| &r["step"]).collect();
    assert_eq!(
        steps,
        [
            &Value::Null,
            &json!("get"),
            &json!("delete"),
            &json!("gone")
        ]
    );
    // The captured id reaches the later requests in its sanitized form, as the answer has it.
    let pinned_id = responses[0]["body"]["id"].as_str().unwrap();
    assert_eq!(
        responses[1]["request"]["path"],
        json!(format!("/responses/{pinned_id}"))
    );
    assert_eq!(responses[2]["request"]["method"], "DELETE");
    let all =
        std::fs::read_to_string(dir.path().join("fixtures/loop/tool_round_trip.json")).unwrap();
    assert!(!all.contains("llmc-steps-canary"), "the key never lands");

    // Offline: the recorded chains replay, every step matching its pinned answer.
    drop(rec);
    drop(live);
    let (out, reports) = cli(
        dir.path(),
        &["run", "--require-fixtures", "--time-scale", "0"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let r = common::report(reports.path());
    for id in [
        "loop::tool_round_trip",
        "loop::previous_response_chain",
        "loop::store_get_delete",
    ] {
        let c = common::case(&r, id);
        assert_eq!(c["verdict"], "pass", "{c}");
        assert_eq!(c["drift"]["state"], "match", "{id}: {c}");
        for s in c["steps"].as_array().unwrap() {
            assert_eq!(s["verdict"], "pass", "{id}: {s}");
        }
    }
}

#[test]
fn a_chain_that_breaks_fails_on_its_step_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let gw = start(0xc3);
    suite(dir.path(), &format!("{}/v1", gw.server.url()));
    // The continuation names a response that does not exist: the gateway answers 404.
    let case = dir
        .path()
        .join("contracts/cases/previous_response_chain.yaml");
    let t = std::fs::read_to_string(&case).unwrap();
    std::fs::write(
        &case,
        t.replace(
            "previous_response_id: \"${first}\"",
            "previous_response_id: \"resp_gone${first}\"",
        ),
    )
    .unwrap();
    let (out, reports) = cli(
        dir.path(),
        &["run", "--live", "--case", "loop::previous_response_chain"],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let r = common::report(reports.path());
    let c = common::case(&r, "loop::previous_response_chain");
    assert_eq!(c["verdict"], "fail");
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .starts_with("step continue (2 of 2)"),
        "{c}"
    );
    assert_eq!(
        c["status"], 404,
        "the failing step's answer speaks for the case"
    );
    assert!(stdout.contains("step request: pass 200"), "{stdout}");
    assert!(stdout.contains("step continue: fail 404"), "{stdout}");
}

#[test]
fn a_step_naming_an_unknown_schema_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path(), "http://127.0.0.1:9/v1");
    let case = dir.path().join("contracts/cases/store_get_delete.yaml");
    let t = std::fs::read_to_string(&case).unwrap();
    std::fs::write(
        &case,
        t.replace("schema: response_deleted", "schema: response_delted"),
    )
    .unwrap();
    let (out, _) = cli(dir.path(), &["lint"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(all.contains("no schema named `response_delted`"), "{all}");
    assert!(all.contains("did you mean `response_deleted`?"), "{all}");
}
