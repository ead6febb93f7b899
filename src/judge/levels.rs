//! The two levels an answer is judged at (`model::deviation`): `spec` is the schema in
//! `contracts/schemas/`, transcribed from the published documents; `client` is the spec minus
//! [`DEVIATIONS`], the table of named quirks that the official SDKs and common clients parse
//! without error. A schema violation a row matches becomes a [`Deviation`], listed on the case;
//! one no row matches stays a failure. A row may also name a field the spec does not define that
//! clients must know of to read the answer (`reasoning_content`): found where it is present.
//! Stream quirks that no schema sees (`missing_done_after_finish`) are rows here too; the stream
//! driver reports them.

use serde_json::Value;

use crate::contract::schema::{SchemaRegistry, MAX_VIOLATIONS};
use crate::model::deviation::{note, Deviation};
use crate::model::failure::{Failure, Violation};
use crate::util::tape::JsonRef;

/// What a row matches.
#[derive(Debug, Clone, Copy)]
pub enum Match {
    /// A violation of one of `schemas` at `pointer`, of `keyword` (for `required`, the missing
    /// `property`), where `when` holds of the document and the value at the pointer.
    Violation {
        keyword: &'static str,
        property: Option<&'static str>,
        when: fn(&Value, Option<&Value>) -> bool,
    },
    /// A field the spec does not define, present at `pointer`.
    Present,
    /// Found by the stream driver, not in a document.
    Stream,
}

/// One named deviation: what it matches, the spec rule it breaks, the source that shows
/// clients accept it.
#[derive(Debug)]
pub struct DeviationRule {
    pub name: &'static str,
    pub schemas: &'static [&'static str],
    /// A JSON pointer; `*` stands for any one segment (an array index).
    pub pointer: &'static str,
    pub matches: Match,
    /// The spec section it breaks.
    pub rule: &'static str,
    /// Why clients survive it: the SDK type or client code that accepts it.
    pub source: &'static str,
}

fn any(_: &Value, _: Option<&Value>) -> bool {
    true
}

fn is_null(_: &Value, v: Option<&Value>) -> bool {
    v.is_some_and(Value::is_null)
}

fn is_integer(_: &Value, v: Option<&Value>) -> bool {
    v.is_some_and(|v| v.is_i64() || v.is_u64())
}

fn is_string(_: &Value, v: Option<&Value>) -> bool {
    v.is_some_and(Value::is_string)
}

fn is_non_empty_string(_: &Value, v: Option<&Value>) -> bool {
    v.and_then(Value::as_str).is_some_and(|s| !s.is_empty())
}

/// A chunk's usage whose counts are there and whose only fault is a `*_tokens_details: null`.
fn usage_with_null_details(_: &Value, v: Option<&Value>) -> bool {
    let Some(u) = v.and_then(Value::as_object) else {
        return false;
    };
    let counts = ["prompt_tokens", "completion_tokens", "total_tokens"]
        .iter()
        .all(|k| u.get(*k).is_some_and(|n| n.is_u64()));
    let details = ["prompt_tokens_details", "completion_tokens_details"];
    counts
        && details.iter().any(|k| u.get(*k).is_some_and(Value::is_null))
        && details
            .iter()
            .all(|k| u.get(*k).is_none_or(|d| d.is_null() || d.is_object()))
}

/// An image field that is null where every image carries the other one (url or b64_json) as a
/// string: the image is still there.
fn image_field_null(doc: &Value, v: Option<&Value>) -> bool {
    let images = doc.get("data").and_then(Value::as_array);
    v.is_some_and(Value::is_null)
        && images.is_some_and(|d| {
            d.iter()
                .all(|i| ["url", "b64_json"].iter().any(|k| i.get(*k).is_some_and(Value::is_string)))
        })
}

/// Azure's first frame: `object: ""`, no choices, the prompt's filter results.
fn prompt_filter_frame(doc: &Value, _: Option<&Value>) -> bool {
    doc.get("prompt_filter_results").is_some()
        && doc
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
}

const CHAT: &[&str] = &["chat_completion"];
const CHUNK: &[&str] = &["chat_completion_chunk"];
const CHAT_BOTH: &[&str] = &["chat_completion", "chat_completion_chunk"];
const ERRORS: &[&str] = &["error"];
const IMAGES: &[&str] = &["images_response"];

/// The deviation table. Each row names the spec section it breaks and the client source that
/// accepts it; `tests/corpus.rs` shows each on real answers.
pub static DEVIATIONS: &[DeviationRule] = &[
    DeviationRule {
        name: "tool_calls_null",
        schemas: CHAT,
        pointer: "/choices/*/message/tool_calls",
        matches: Match::Violation { keyword: "type", property: None, when: is_null },
        rule: "OpenAI OpenAPI ChatCompletionResponseMessage.tool_calls (ChatCompletionMessageToolCalls: an array, not nullable)",
        source: "openai-python ChatCompletionMessage.tool_calls: Optional[List[ChatCompletionMessageToolCallUnion]] = None; openai-node reads it as `message.tool_calls?.…`",
    },
    DeviationRule {
        name: "tool_calls_null",
        schemas: CHUNK,
        pointer: "/choices/*/delta/tool_calls",
        matches: Match::Violation { keyword: "type", property: None, when: is_null },
        rule: "OpenAI OpenAPI ChatCompletionStreamResponseDelta.tool_calls (an array, not nullable)",
        source: "openai-python ChoiceDelta.tool_calls: Optional[List[ChoiceDeltaToolCall]] = None; openai-node ChatCompletionStream skips a delta without tool_calls",
    },
    DeviationRule {
        name: "function_call_null",
        schemas: CHAT,
        pointer: "/choices/*/message/function_call",
        matches: Match::Violation { keyword: "type", property: None, when: is_null },
        rule: "OpenAI OpenAPI ChatCompletionResponseMessage.function_call (deprecated; an object, not nullable)",
        source: "openai-python ChatCompletionMessage.function_call: Optional[FunctionCall] = None",
    },
    DeviationRule {
        name: "tool_call_without_type",
        schemas: CHAT,
        pointer: "/choices/*/message/tool_calls/*",
        matches: Match::Violation { keyword: "required", property: Some("type"), when: any },
        rule: "OpenAI OpenAPI ChatCompletionMessageToolCall.required [id, type, function]",
        source: "openai-python builds response models without validation (_strict_response_validation off): tool_call.function still reads; openai-node has no runtime check; `function` is the only kind a chat answer without `type` can mean",
    },
    DeviationRule {
        name: "integer_error_code",
        schemas: ERRORS,
        pointer: "/error/code",
        matches: Match::Violation { keyword: "type", property: None, when: is_integer },
        rule: "OpenAI OpenAPI Error.code (string, nullable)",
        source: "openai-python APIError.code is `body.get(\"code\")`, unchecked; openai-node APIError.code is `error?.code`, unchecked",
    },
    DeviationRule {
        name: "nonstandard_finish_reason",
        schemas: CHAT_BOTH,
        pointer: "/choices/*/finish_reason",
        matches: Match::Violation { keyword: "enum", property: None, when: is_string },
        rule: "OpenAI OpenAPI CreateChatCompletionResponse choices[].finish_reason (enum stop, length, tool_calls, content_filter, function_call)",
        source: "openai-python finish_reason: Literal[...] is not enforced on responses (construct without validation); openai-node's union type has no runtime check; LangChain and LiteLLM pass unknown reasons through",
    },
    DeviationRule {
        name: "azure_prompt_filter_frame",
        schemas: CHUNK,
        pointer: "/object",
        matches: Match::Violation { keyword: "const", property: None, when: prompt_filter_frame },
        rule: "OpenAI OpenAPI CreateChatCompletionStreamResponse.object (const chat.completion.chunk)",
        source: "Azure OpenAI's documented first frame (prompt_filter_results, choices []): openai-python and openai-node yield it as a chunk with no choices, which every client loop skips",
    },
    DeviationRule {
        name: "nonstandard_chunk_object",
        schemas: CHUNK,
        pointer: "/object",
        matches: Match::Violation { keyword: "const", property: None, when: is_non_empty_string },
        rule: "OpenAI OpenAPI CreateChatCompletionStreamResponse.object (const chat.completion.chunk)",
        source: "openai-python ChatCompletionChunk.object: Literal[...] is not enforced on responses (construct without validation) and openai-node never reads it: Perplexity's last frame says chat.completion.done",
    },
    DeviationRule {
        name: "annotations_null",
        schemas: CHAT,
        pointer: "/choices/*/message/annotations",
        matches: Match::Violation { keyword: "type", property: None, when: is_null },
        rule: "OpenAI OpenAPI ChatCompletionResponseMessage.annotations (an array, not nullable)",
        source: "openai-python ChatCompletionMessage.annotations: Optional[List[Annotation]] = None; openai-node reads `message.annotations?.…`",
    },
    DeviationRule {
        name: "image_fields_null",
        schemas: IMAGES,
        pointer: "/data/*/b64_json",
        matches: Match::Violation { keyword: "type", property: None, when: image_field_null },
        rule: "OpenAI OpenAPI Image.b64_json (a string, not nullable; an image has url or b64_json)",
        source: "openai-python Image.b64_json / Image.url: Optional[str] = None and ImagesResponse.output_format: Optional[Literal[...]] = None; openai-node's Image and ImagesResponse fields are optional, unchecked at run time (LiteLLM's proxy writes every absent field as null)",
    },
    DeviationRule {
        name: "image_fields_null",
        schemas: IMAGES,
        pointer: "/data/*/url",
        matches: Match::Violation { keyword: "type", property: None, when: image_field_null },
        rule: "OpenAI OpenAPI Image.url (a string, not nullable; an image has url or b64_json)",
        source: "openai-python Image.b64_json / Image.url: Optional[str] = None and ImagesResponse.output_format: Optional[Literal[...]] = None; openai-node's Image and ImagesResponse fields are optional, unchecked at run time (LiteLLM's proxy writes every absent field as null)",
    },
    DeviationRule {
        name: "image_fields_null",
        schemas: IMAGES,
        pointer: "/output_format",
        matches: Match::Violation { keyword: "enum", property: None, when: is_null },
        rule: "OpenAI OpenAPI ImagesResponse.output_format (enum png, webp, jpeg; not nullable)",
        source: "openai-python Image.b64_json / Image.url: Optional[str] = None and ImagesResponse.output_format: Optional[Literal[...]] = None; openai-node's Image and ImagesResponse fields are optional, unchecked at run time (LiteLLM's proxy writes every absent field as null)",
    },
    DeviationRule {
        name: "usage_details_null",
        schemas: CHAT,
        pointer: "/usage/prompt_tokens_details",
        matches: Match::Violation { keyword: "type", property: None, when: is_null },
        rule: "OpenAI OpenAPI CompletionUsage.prompt_tokens_details / completion_tokens_details (objects, not nullable)",
        source: "openai-python CompletionUsage.prompt_tokens_details: Optional[PromptTokensDetails] = None (completion_tokens_details the same)",
    },
    DeviationRule {
        name: "usage_details_null",
        schemas: CHAT,
        pointer: "/usage/completion_tokens_details",
        matches: Match::Violation { keyword: "type", property: None, when: is_null },
        rule: "OpenAI OpenAPI CompletionUsage.prompt_tokens_details / completion_tokens_details (objects, not nullable)",
        source: "openai-python CompletionUsage.prompt_tokens_details: Optional[PromptTokensDetails] = None (completion_tokens_details the same)",
    },
    DeviationRule {
        name: "usage_details_null",
        schemas: CHUNK,
        pointer: "/usage",
        matches: Match::Violation { keyword: "anyOf", property: None, when: usage_with_null_details },
        rule: "OpenAI OpenAPI CompletionUsage.prompt_tokens_details / completion_tokens_details (objects, not nullable)",
        source: "openai-python CompletionUsage.prompt_tokens_details: Optional[PromptTokensDetails] = None (completion_tokens_details the same)",
    },
    DeviationRule {
        name: "reasoning_content_field",
        schemas: CHAT,
        pointer: "/choices/*/message/reasoning_content",
        matches: Match::Present,
        rule: "OpenAI OpenAPI ChatCompletionResponseMessage (no reasoning field)",
        source: "DeepSeek's API reference (message.reasoning_content); openai-python keeps unknown fields (model_extra), so message.reasoning_content reads",
    },
    DeviationRule {
        name: "reasoning_content_field",
        schemas: CHUNK,
        pointer: "/choices/*/delta/reasoning_content",
        matches: Match::Present,
        rule: "OpenAI OpenAPI ChatCompletionStreamResponseDelta (no reasoning field)",
        source: "DeepSeek's API reference (delta.reasoning_content); openai-python keeps unknown fields (model_extra)",
    },
    DeviationRule {
        name: "reasoning_field",
        schemas: CHAT,
        pointer: "/choices/*/message/reasoning",
        matches: Match::Present,
        rule: "OpenAI OpenAPI ChatCompletionResponseMessage (no reasoning field)",
        source: "OpenRouter's and vLLM's `reasoning` (where DeepSeek says reasoning_content); openai-python keeps unknown fields (model_extra)",
    },
    DeviationRule {
        name: "reasoning_field",
        schemas: CHUNK,
        pointer: "/choices/*/delta/reasoning",
        matches: Match::Present,
        rule: "OpenAI OpenAPI ChatCompletionStreamResponseDelta (no reasoning field)",
        source: "OpenRouter's and vLLM's `reasoning` (where DeepSeek says reasoning_content); openai-python keeps unknown fields (model_extra)",
    },
    DeviationRule {
        name: "finish_reason_repeated",
        schemas: CHUNK,
        pointer: "",
        matches: Match::Stream,
        rule: "OpenAI's streaming reference: each choice's finish_reason is null until its last chunk (it comes once)",
        source: "openai-python ChatCompletionStreamState and openai-node ChatCompletionStream set a choice's finish_reason from every chunk that carries one: the same reason twice reads as once (OpenRouter repeats it)",
    },
    DeviationRule {
        name: "missing_done_after_finish",
        schemas: CHUNK,
        pointer: "",
        matches: Match::Stream,
        rule: "OpenAI's streaming reference: the stream is terminated by a `data: [DONE]` message",
        source: "openai-python Stream and openai-node Stream end at the end of the body as at [DONE]: every choice had finished, the answer is whole",
    },
];

/// The row named `name` that the stream driver reports.
pub fn stream_row(name: &str) -> &'static DeviationRule {
    DEVIATIONS
        .iter()
        .find(|r| r.name == name && matches!(r.matches, Match::Stream))
        .unwrap_or_else(|| panic!("no stream deviation `{name}`"))
}

impl DeviationRule {
    /// This row's deviation, found at `pointer`.
    pub fn at(&'static self, pointer: String) -> Deviation {
        Deviation {
            name: self.name,
            pointer,
            rule: self.rule,
            source: self.source,
            count: 1,
        }
    }
}

/// Whether a concrete pointer matches a pattern (`*` is any one segment).
fn matches_pointer(pattern: &str, pointer: &str) -> bool {
    let mut p = pattern.split('/');
    let mut q = pointer.split('/');
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == "*" || a == b => {}
            _ => return false,
        }
    }
}

/// Every place the pattern names that exists in the document, as concrete pointers.
fn present_at(doc: &Value, pattern: &str, out: &mut Vec<String>) {
    fn walk(v: &Value, segs: &[&str], at: String, out: &mut Vec<String>) {
        let Some((head, rest)) = segs.split_first() else {
            out.push(at);
            return;
        };
        match (v, *head) {
            (Value::Array(items), "*") => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, rest, format!("{at}/{i}"), out);
                }
            }
            (Value::Object(map), "*") => {
                for (k, item) in map {
                    walk(item, rest, format!("{at}/{k}"), out);
                }
            }
            (Value::Object(map), key) => {
                if let Some(item) = map.get(key) {
                    walk(item, rest, format!("{at}/{key}"), out);
                }
            }
            (Value::Array(items), index) => {
                if let Some(item) = index.parse::<usize>().ok().and_then(|i| items.get(i)) {
                    walk(item, rest, format!("{at}/{index}"), out);
                }
            }
            _ => {}
        }
    }
    let segs: Vec<&str> = pattern.split('/').skip(1).collect();
    walk(doc, &segs, String::new(), out);
}

/// The fields the table names that a valid stream frame carries, as deviations (a frame that
/// broke its schema went through [`schema_check`], which looks for them too). Read on the tape,
/// without a copy of the frame.
/// The rows looked for in one schema's valid frames, chosen once per stream, each
/// with the quoted key its pointer ends in: a frame whose text does not hold that key cannot
/// carry the field, and is not walked (this runs on every frame of every stream).
#[derive(Default)]
pub struct FrameRows {
    rows: Vec<(&'static DeviationRule, memchr::memmem::Finder<'static>)>,
    /// The quoted keys' common start (`"reasoning`), when they share one: a frame without it
    /// holds none of them, found in one search.
    gate: Option<memchr::memmem::Finder<'static>>,
}

impl std::fmt::Debug for FrameRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.rows.iter().map(|(r, _)| r.name)).finish()
    }
}

impl FrameRows {
    pub fn for_schema(schema: &str) -> FrameRows {
        let rows: Vec<(&'static DeviationRule, memchr::memmem::Finder<'static>)> = DEVIATIONS
                .iter()
                .filter(|r| matches!(r.matches, Match::Present) && r.schemas.contains(&schema))
                .map(|r| {
                    let leaf = r.pointer.rsplit('/').next().unwrap_or("");
                    let needle = format!("\"{leaf}\"").into_bytes();
                    (r, memchr::memmem::Finder::new(&needle).into_owned())
                })
                .collect();
        let common = rows
            .iter()
            .map(|(_, f)| f.needle())
            .reduce(|a, b| &a[..a.iter().zip(b).take_while(|(x, y)| x == y).count()]);
        let gate = common
            .filter(|c| rows.len() > 1 && c.len() >= 4)
            .map(|c| memchr::memmem::Finder::new(c).into_owned());
        FrameRows { rows, gate }
    }

    /// The deviations a valid frame (`data` its text, `doc` its tape) carries.
    pub fn check(&self, data: &str, doc: JsonRef<'_>, frame: usize, out: &mut Vec<Deviation>) {
        if self
            .gate
            .as_ref()
            .is_some_and(|g| g.find(data.as_bytes()).is_none())
        {
            return;
        }
        for (r, needle) in &self.rows {
            if needle.find(data.as_bytes()).is_some() {
                present_row(r, doc, frame, out);
            }
        }
    }
}

/// Where one row's field is in a frame, as deviations.
fn present_row(r: &'static DeviationRule, doc: JsonRef<'_>, frame: usize, out: &mut Vec<Deviation>) {
    /// Follows `segs` from `v` (`*` every element), keeping the indices `*` took; calls
    /// `found` at each value reached. Nothing is allocated until something is found (this runs
    /// on every frame of every stream).
    fn walk(
        v: JsonRef<'_>,
        segs: &[&str],
        idx: &mut [usize; MAX_DEPTH],
        depth: usize,
        found: &mut dyn FnMut(&[usize]),
    ) {
        let Some((head, rest)) = segs.split_first() else {
            found(&idx[..depth]);
            return;
        };
        if *head == "*" {
            if depth == MAX_DEPTH {
                return;
            }
            for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                idx[depth] = i;
                walk(item, rest, idx, depth + 1, found);
            }
        } else if let Some(item) = v.get(head) {
            walk(item, rest, idx, depth, found);
        }
    }
    const MAX_DEPTH: usize = 4;
    {
        let mut segs = [""; 8];
        let mut n = 0;
        for s in r.pointer.split('/').skip(1) {
            if n == segs.len() {
                break;
            }
            segs[n] = s;
            n += 1;
        }
        let mut idx = [0usize; MAX_DEPTH];
        walk(doc, &segs[..n], &mut idx, 0, &mut |taken| {
            // The pointer with each `*` replaced by the index it took.
            let mut at = format!("frame {frame} ");
            let mut k = 0;
            for s in &segs[..n] {
                at.push('/');
                if *s == "*" {
                    at.push_str(&taken.get(k).copied().unwrap_or(0).to_string());
                    k += 1;
                } else {
                    at.push_str(s);
                }
            }
            note(out, r.at(at));
        });
    }
}

/// The row that turns this violation into a deviation, if one does.
pub fn row_for(schema: &str, doc: &Value, v: &Violation) -> Option<&'static DeviationRule> {
    DEVIATIONS.iter().find(|r| {
        let Match::Violation {
            keyword,
            property,
            when,
        } = r.matches
        else {
            return false;
        };
        r.schemas.contains(&schema)
            && keyword == v.keyword
            && property.is_none_or(|p| v.property.as_deref() == Some(p))
            && matches_pointer(r.pointer, &v.pointer)
            && when(doc, doc.pointer(&v.pointer))
    })
}

/// Splits a document's violations of `schema`: the ones a row matches become deviations (their
/// pointers prefixed with `at`), the rest stay violations. Fields the table names that are
/// present are deviations too.
pub fn split(
    schema: &str,
    doc: &Value,
    violations: Vec<Violation>,
    at: &str,
) -> (Vec<Violation>, Vec<Deviation>) {
    let mut deviations = Vec::new();
    let mut rest = Vec::new();
    for v in violations {
        match row_for(schema, doc, &v) {
            Some(r) => note(&mut deviations, r.at(format!("{at}{}", v.pointer))),
            None => rest.push(v),
        }
    }
    for r in DEVIATIONS
        .iter()
        .filter(|r| matches!(r.matches, Match::Present) && r.schemas.contains(&schema))
    {
        let mut found = Vec::new();
        present_at(doc, r.pointer, &mut found);
        for p in found {
            note(&mut deviations, r.at(format!("{at}{p}")));
        }
    }
    (rest, deviations)
}

/// Checks a JSON document against a schema at the client level: violations the table names
/// become deviations (added to `deviations`, pointers prefixed with `at`); the others are
/// failures, as [`crate::judge::body::schema_failures`] reports them. True when nothing failed.
pub fn schema_check(
    schemas: &SchemaRegistry,
    name: &str,
    doc: &Value,
    at: &str,
    failures: &mut Vec<Failure>,
    deviations: &mut Vec<Deviation>,
) -> bool {
    let violations = match schemas.validate_all(name, doc) {
        Ok(v) => v,
        Err(e) => {
            failures.push(Failure::SchemaUnusable { message: e.message });
            return false;
        }
    };
    let (rest, found) = split(name, doc, violations, at);
    for d in found {
        note(deviations, d);
    }
    let total = rest.len();
    for violation in rest.into_iter().take(MAX_VIOLATIONS) {
        failures.push(Failure::Schema {
            schema: name.to_string(),
            violation,
        });
    }
    if total > MAX_VIOLATIONS {
        failures.push(Failure::SchemaMore {
            schema: name.to_string(),
            more: total - MAX_VIOLATIONS,
        });
    }
    total == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schemas() -> SchemaRegistry {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts/schemas");
        SchemaRegistry::load(&dir).unwrap()
    }

    fn chat(message: Value, finish: Value) -> Value {
        json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}]})
    }

    /// document, schema → the deviations' names, and how many failures are left.
    #[test]
    fn each_row_turns_its_violation_into_a_deviation_and_nothing_else() {
        let s = schemas();
        let msg = |extra: Value| {
            let mut m = json!({"role": "assistant", "content": "hi"});
            m.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            m
        };
        let table: Vec<(&str, Value, &str, Vec<&str>, usize)> = vec![
            ("clean", chat(msg(json!({})), json!("stop")), "chat_completion", vec![], 0),
            ("tool_calls null", chat(msg(json!({"tool_calls": null})), json!("stop")), "chat_completion", vec!["tool_calls_null"], 0),
            ("tool_calls a string fails", chat(msg(json!({"tool_calls": "x"})), json!("stop")), "chat_completion", vec![], 1),
            ("function_call null", chat(msg(json!({"function_call": null})), json!("stop")), "chat_completion", vec!["function_call_null"], 0),
            ("tool call without type", chat(msg(json!({"tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{}"}}]})), json!("tool_calls")), "chat_completion", vec!["tool_call_without_type"], 0),
            ("tool call without id fails", chat(msg(json!({"tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]})), json!("tool_calls")), "chat_completion", vec![], 1),
            ("finish reason eos", chat(msg(json!({})), json!("eos")), "chat_completion", vec!["nonstandard_finish_reason"], 0),
            ("finish reason a number fails", chat(msg(json!({})), json!(3)), "chat_completion", vec![], 1),
            ("reasoning_content", chat(msg(json!({"reasoning_content": "hm"})), json!("stop")), "chat_completion", vec!["reasoning_content_field"], 0),
            ("reasoning", chat(msg(json!({"reasoning": "hm"})), json!("stop")), "chat_completion", vec!["reasoning_field"], 0),
            ("integer error code", json!({"error": {"message": "m", "code": 429}}), "error", vec!["integer_error_code"], 0),
            ("object error code fails", json!({"error": {"message": "m", "code": {}}}), "error", vec![], 1),
            ("azure prompt filter frame", json!({"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": []}), "chat_completion_chunk", vec!["azure_prompt_filter_frame"], 0),
            ("an empty object elsewhere fails", json!({"id": "", "object": "", "created": 0, "model": "", "choices": []}), "chat_completion_chunk", vec![], 1),
            ("delta tool_calls null", json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": null}}]}), "chat_completion_chunk", vec!["tool_calls_null"], 0),
            ("image fields null", json!({"created": 1, "data": [{"url": "https://x.invalid/a.png", "b64_json": null}], "output_format": null}), "images_response", vec!["image_fields_null"], 0),
            ("an image with both null fails", json!({"created": 1, "data": [{"url": null, "b64_json": null}]}), "images_response", vec![], 2),
            ("an image b64_json a number fails", json!({"created": 1, "data": [{"b64_json": 7}]}), "images_response", vec![], 1),
        ];
        for (what, doc, schema, names, left) in table {
            let mut failures = Vec::new();
            let mut deviations = Vec::new();
            let ok = schema_check(&s, schema, &doc, "", &mut failures, &mut deviations);
            let got: Vec<&str> = deviations.iter().map(|d| d.name).collect();
            assert_eq!(got, names, "{what}");
            assert_eq!(failures.len(), left, "{what}: {failures:?}");
            assert_eq!(ok, left == 0, "{what}");
        }
    }

    #[test]
    fn pointers_and_rows() {
        assert!(matches_pointer("/choices/*/x", "/choices/12/x"));
        assert!(!matches_pointer("/choices/*/x", "/choices/12/x/y"));
        assert!(!matches_pointer("/choices/*/x", "/choices"));
        let mut seen = std::collections::BTreeSet::new();
        for r in DEVIATIONS {
            assert!(!r.rule.is_empty() && !r.source.is_empty(), "{}", r.name);
            assert!(
                r.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                r.name
            );
            assert!(seen.insert((r.name, r.pointer)), "{} twice", r.name);
        }
        assert_eq!(stream_row("missing_done_after_finish").name, "missing_done_after_finish");
    }
}
