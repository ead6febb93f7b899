//! The loader's tests: parsing, placeholders, and the errors it names.
use super::*;
use crate::contract::plan::{plan, write_substituted};
use crate::model::plan::PlanBody;

const CASE: &str = "id: happy\ndescription: d\nauth: valid\nrequest:\n  body:\n    model: ${model}\n    messages: []\nexpect:\n  status: 200\n  class: ok\n";

fn target() -> Arc<Target> {
    Arc::new(
        parse_target(
            Path::new("targets/t.yaml"),
            "name: t\ndescription: d\nbase_url: http://x/v1\napi_key_env: K\nvars:\n  model: m1\nexpect:\n  happy:\n    status: [200, 201]\n",
        )
        .unwrap(),
    )
}

#[test]
fn parses_and_resolves_placeholders_and_overrides() {
    let case = Arc::new(parse_case(Path::new("c/happy.yaml"), CASE).unwrap());
    let p = plan(&case, &target()).unwrap();
    assert_eq!(p.id, "t::happy");
    assert_eq!(p.model(), Some("m1"));
    assert_eq!(p.expect.status, vec![200, 201]);
    assert_eq!(p.expect.class, Class::Ok);
}

#[test]
fn a_json_body_is_sent_as_the_compact_text_of_its_filled_in_tree() {
    let case = Arc::new(parse_case(Path::new("c/happy.yaml"), CASE).unwrap());
    let template = serde_json::json!({
        "model": "${model}",
        "messages": [{"role": "user", "content": "a ${model} \"q\" é\n\u{1}"}, [], {}],
        "n": 1.5, "big": 18446744073709551615u64, "neg": -3, "x": null, "t": true,
        "${model}": "keys are not filled in", "nested": {"deep": ["${model}-${model}"]}
    });
    let filled = serde_json::json!({
        "model": "m1",
        "messages": [{"role": "user", "content": "a m1 \"q\" é\n\u{1}"}, [], {}],
        "n": 1.5, "big": 18446744073709551615u64, "neg": -3, "x": null, "t": true,
        "${model}": "keys are not filled in", "nested": {"deep": ["m1-m1"]}
    });
    let mut text = Vec::new();
    write_substituted(&template, &case, &target(), &mut text).unwrap();
    assert_eq!(text, serde_json::to_vec(&filled).unwrap());
    let mut c = (*case).clone();
    c.body = BodyTemplate::Json(template);
    let p = plan(&Arc::new(c), &target()).unwrap();
    assert_eq!(p.body.json(), Some(filled));
    assert_eq!(p.model(), Some("m1"));
    assert!(matches!(p.body, PlanBody::Json { tools: false, .. }));
}

#[test]
fn unknown_key_names_line_column_and_suggests() {
    let text = CASE.replace("  class: ok", "  clas: ok");
    let err = parse_case(Path::new("c/happy.yaml"), &text).unwrap_err();
    let s = err.to_string();
    assert!(s.contains("unknown field `clas`"), "{s}");
    assert!(s.contains("c/happy.yaml:10:"), "{s}");
    assert!(s.contains("did you mean `class`?"), "{s}");
}

#[test]
fn unknown_class_suggests() {
    let text = CASE.replace("class: ok", "class: fix_requests");
    let s = parse_case(Path::new("c/happy.yaml"), &text)
        .unwrap_err()
        .to_string();
    assert!(s.contains("did you mean `fix_request`?"), "{s}");
}

#[test]
fn undefined_placeholder_is_located() {
    let text = CASE.replace("${model}", "${modle}");
    let case = Arc::new(parse_case(Path::new("c/happy.yaml"), &text).unwrap());
    let e = plan(&case, &target()).unwrap_err().to_string();
    assert!(e.contains("c/happy.yaml:6:12"), "{e}");
    assert!(e.contains("did you mean `${model}`?"), "{e}");
}

#[test]
fn id_must_match_file_and_stream_must_agree() {
    let s = parse_case(Path::new("c/other.yaml"), CASE)
        .unwrap_err()
        .to_string();
    assert!(s.contains("differs from its file name"), "{s}");
    let text = CASE.replace("messages: []", "messages: []\n    stream: true");
    let s = parse_case(Path::new("c/happy.yaml"), &text)
        .unwrap_err()
        .to_string();
    assert!(s.contains("expect.stream` is missing"), "{s}");
}

#[test]
fn case_vars_override_the_targets_and_may_name_them() {
    // The target has model: m1. The case sets its own model from it, and a variable of its
    // own; a case var naming another case var gets the target's value (filled in once).
    let text = CASE
        .replace(
            "request:\n",
            "vars:\n  model: ${model}-vision\n  shape: wide ${model}\n  again: ${shape}\nrequest:\n",
        )
        .replace("    messages: []", "    messages: []\n    user: ${shape}");
    let case = Arc::new(parse_case(Path::new("c/happy.yaml"), &text).unwrap());
    let e = plan(&case, &target()).unwrap_err().to_string();
    assert!(e.contains("`${shape}` is not defined by target `t`"), "{e}");
    assert!(e.contains("c/happy.yaml:"), "{e}");
    let text = text.replace("  again: ${shape}\n", "");
    let case = Arc::new(parse_case(Path::new("c/happy.yaml"), &text).unwrap());
    let p = plan(&case, &target()).unwrap();
    assert_eq!(p.model(), Some("m1-vision"));
    assert_eq!(
        p.body.json(),
        Some(serde_json::json!({"model": "m1-vision", "messages": [], "user": "wide m1"}))
    );
    // Another case on the same target keeps the target's.
    let plain = Arc::new(parse_case(Path::new("c/happy.yaml"), CASE).unwrap());
    assert_eq!(plan(&plain, &target()).unwrap().model(), Some("m1"));
    // A variable's value must be a string.
    let text = CASE.replace("request:\n", "vars:\n  n: [1]\nrequest:\n");
    assert!(parse_case(Path::new("c/happy.yaml"), &text).is_err());
}

#[test]
fn the_recorded_model_stands_for_the_variable_the_case_model_is() {
    let case = Arc::new(parse_case(Path::new("c/happy.yaml"), CASE).unwrap());
    assert_eq!(crate::contract::plan::model_var(&case), Some("model"));
    let p = crate::contract::plan::plan_recorded(&case, &target(), Some("rec-1")).unwrap();
    assert_eq!(p.model(), Some("rec-1"));
    assert_eq!(
        p.body.json(),
        Some(serde_json::json!({"model": "rec-1", "messages": []}))
    );
    // A literal model, or one not made of one variable, is the case's own: kept.
    for model in ["literal-model", "${model}-x", "x${model}"] {
        let text = CASE.replace("model: ${model}", &format!("model: {model}"));
        let case = Arc::new(parse_case(Path::new("c/happy.yaml"), &text).unwrap());
        assert_eq!(crate::contract::plan::model_var(&case), None, "{model}");
        let p = crate::contract::plan::plan_recorded(&case, &target(), Some("rec-1")).unwrap();
        assert_eq!(p.model(), Some(model.replace("${model}", "m1").as_str()));
    }
}

#[test]
fn credentials_in_headers_are_rejected() {
    let text = CASE.replace(
        "request:\n",
        "request:\n  headers:\n    Authorization: Bearer x\n",
    );
    let s = parse_case(Path::new("c/happy.yaml"), &text)
        .unwrap_err()
        .to_string();
    assert!(s.contains("credentials do not belong"), "{s}");
}


#[test]
fn a_step_naming_a_value_nothing_captures_is_refused_before_anything_is_sent() {
    let text = CASE.to_string()
        + "capture:\n  resp: /id\nsteps:\n- name: get\n  request:\n    method: GET\n    path: /responses/${respo}\n  expect:\n    status: 200\n    class: ok\n";
    let case = Arc::new(parse_case(Path::new("c/happy.yaml"), &text).unwrap());
    let e = plan(&case, &target()).unwrap_err().to_string();
    assert!(e.contains("`${respo}` is not defined"), "{e}");
    assert!(e.contains("did you mean `${resp}`?"), "{e}");
    let ok = text.replace("${respo}", "${resp}");
    let case = Arc::new(parse_case(Path::new("c/happy.yaml"), &ok).unwrap());
    assert!(plan(&case, &target()).is_ok());
}

#[test]
fn steps_and_captures_are_checked_at_load() {
    let table: &[(&str, &str)] = &[
        ("capture:\n  id: /id\n", "`capture` feeds later steps"),
        ("repeat: 2\nsteps:\n- name: s\n  request: {}\n  expect:\n    status: 200\n    class: ok\n", "`repeat` and `steps` together"),
        ("steps:\n- name: s\n  request: {}\n  expect:\n    status: 200\n    class: ok\n- name: s\n  request: {}\n  expect:\n    status: 200\n    class: ok\n", "a second step named `s`"),
        ("steps:\n- name: S\n  request: {}\n  expect:\n    status: 200\n    class: ok\n", "step `S`: a name is lowercase"),
        ("steps:\n- name: s\n  request:\n    method: FETCH\n  expect:\n    status: 200\n    class: ok\n", "method `FETCH` is not one of"),
        ("steps:\n- name: s\n  request:\n    path: x\n  expect:\n    status: 200\n    class: ok\n", "path `x` must start with `/`"),
        ("steps:\n- name: s\n  request: {}\n  expect:\n    status: 200\n    class: ok\n    max_gap_ms: 5\n", "step `s`: `max_gap_ms` times a stream's frames"),
        ("capture:\n  Id: /id\nsteps:\n- name: s\n  request: {}\n  expect:\n    status: 200\n    class: ok\n", "capture `Id`: a name is lowercase"),
    ];
    for (extra, want) in table {
        let text = CASE.to_string() + extra;
        let e = parse_case(Path::new("c/happy.yaml"), &text)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{extra}: {e}");
    }
}

#[test]
fn a_case_names_its_own_method_and_path_and_what_cannot_apply_is_located() {
    let models = "id: happy\ndescription: d\nfamily: models\nauth: valid\nrequest:\n  method: GET\n  path: /models/${model}\nexpect:\n  status: 200\n  class: ok\n  assert:\n  - at: /id\n    equals: ${model}\n";
    let case = Arc::new(parse_case(Path::new("c/happy.yaml"), models).unwrap());
    let p = plan(&case, &target()).unwrap();
    assert_eq!(p.method.as_deref(), Some("GET"));
    assert_eq!(p.path.as_deref(), Some("/models/m1"));
    // The case's own assertion values take ${name}s, as a step's do.
    assert_eq!(
        p.expect.assert[0].predicates,
        vec![crate::model::assertion::Predicate::Equals("m1".into())]
    );
    refused(
        models.replace("path: /models/${model}", "path: models"),
        "path `models` must start with `/`",
        7,
    );
    refused(
        models.replace("method: GET", "method: FETCH"),
        "method `FETCH` is not one of",
        6,
    );
    refused(
        models.replace("family: models", "family: video_tasks"),
        "`request.path` cannot apply to video_tasks",
        7,
    );
    let streamed = "id: happy\ndescription: d\nfamily: embeddings\nauth: valid\nrequest:\n  body:\n    model: m\n    input: x\n    stream: true\nexpect:\n  status: 200\n  class: ok\n  stream:\n    done: true\n";
    refused(
        streamed.to_string(),
        "`stream` cannot apply: embeddings answers are never streamed",
        9,
    );
    refused(
        models.replace("  class: ok\n", "  class: ok\n  invariants: [usage_arithmetic]\n"),
        "invariant `usage_arithmetic` cannot apply to a models answer",
        11,
    );
}

/// `text`, loaded as `c/happy.yaml`, is refused with a message holding `want`, located at `line`.
fn refused(text: String, want: &str, line: usize) {
    let e = parse_case(Path::new("c/happy.yaml"), &text)
        .unwrap_err()
        .to_string();
    assert!(e.contains(want), "{e}");
    assert!(e.contains(&format!("c/happy.yaml:{line}:")), "{e}");
}

#[test]
fn what_cannot_apply_to_a_moderations_case_is_located() {
    let case = "id: happy\ndescription: d\nfamily: moderations\nauth: valid\nrequest:\n  body:\n    model: m\n    input: x\nexpect:\n  status: 200\n  class: ok\n";
    assert!(parse_case(Path::new("c/happy.yaml"), case).is_ok());
    refused(
        case.replace("    input: x\n", "    input: x\n    stream: true\n")
            .replace("  class: ok\n", "  class: ok\n  stream:\n    done: true\n"),
        "`stream` cannot apply: moderations answers are never streamed",
        9,
    );
    refused(
        case.replace("  class: ok\n", "  class: ok\n  finish_reason: [stop]\n"),
        "`finish_reason` cannot apply: a moderations answer has no end reason",
        12,
    );
    refused(
        case.replace("  class: ok\n", "  class: ok\n  invariants: [usage_arithmetic]\n"),
        "invariant `usage_arithmetic` cannot apply to a moderations answer",
        12,
    );
}
