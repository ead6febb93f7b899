//! What each family's code says about its answers: the stream grammar, what a successful body
//! says (end reason, text, tool calls, a filtered result) and how its end reasons read as soft
//! failures. The families' data is in [`crate::model::family`]; [`Family::kind`] picks the code.

use serde_json::Value;

use crate::judge::grammar::responses::responses_reason;
use crate::judge::grammar::{self, Grammar};
use crate::model::family::{Family, FamilyKind};

/// What a successful non-streamed body says about its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// End reasons in the family's own words, per choice.
    pub finish: Vec<(usize, Option<String>)>,
    /// The answer carries text (or, for images, at least one image).
    pub has_content: bool,
    pub has_tool_calls: bool,
    /// The provider filtered the prompt and answered with nothing (an image request's empty
    /// `data`): a soft failure.
    pub filtered: bool,
    /// Facts worth reporting (an image's revised prompt).
    pub notes: Vec<String>,
    /// The body is a success envelope that says the answer failed (a Responses object with
    /// `status: failed`), with its error.
    pub failure: Option<crate::model::observation::ApiError>,
}

fn text_of(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty())
}

fn chat_answer(doc: &Value) -> Answer {
    let choices = doc.get("choices").and_then(Value::as_array);
    let finish = choices
        .map(|cs| {
            cs.iter()
                .enumerate()
                .map(|(i, c)| {
                    let r = c.get("finish_reason").and_then(Value::as_str);
                    (i, r.map(str::to_string))
                })
                .collect()
        })
        .unwrap_or_default();
    let message = doc.pointer("/choices/0/message");
    Answer {
        finish,
        has_content: text_of(message.and_then(|m| m.get("content"))),
        has_tool_calls: message
            .and_then(|m| m.get("tool_calls"))
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty()),
        ..Answer::default()
    }
}

fn chat_soft(reason: &str) -> Option<&'static str> {
    match reason {
        "stop" => Some("stop"),
        "length" => Some("length"),
        "content_filter" => Some("content_filter"),
        "tool_calls" | "function_call" => Some("tool_calls"),
        _ => None,
    }
}

fn messages_answer(doc: &Value) -> Answer {
    let blocks = doc.get("content").and_then(Value::as_array);
    let of_type = |t: &str| {
        blocks.is_some_and(|bs| {
            bs.iter()
                .any(|b| b.get("type").and_then(Value::as_str) == Some(t))
        })
    };
    Answer {
        finish: vec![(
            0,
            doc.get("stop_reason")
                .and_then(Value::as_str)
                .map(str::to_string),
        )],
        has_content: blocks.is_some_and(|bs| bs.iter().any(|b| text_of(b.get("text")))),
        has_tool_calls: of_type("tool_use"),
        ..Answer::default()
    }
}

/// Anthropic's stop reasons in chat-completions words.
fn messages_soft(reason: &str) -> Option<&'static str> {
    match reason {
        "end_turn" | "stop_sequence" => Some("stop"),
        "max_tokens" | "model_context_window_exceeded" => Some("length"),
        "refusal" => Some("content_filter"),
        "tool_use" => Some("tool_calls"),
        _ => None,
    }
}

fn responses_answer(doc: &Value) -> Answer {
    let output = doc.get("output").and_then(Value::as_array);
    let items = || output.into_iter().flatten();
    let has_content = items().any(|item| {
        item.get("content")
            .and_then(Value::as_array)
            .is_some_and(|parts| parts.iter().any(|p| text_of(p.get("text"))))
    });
    let failure = (doc.get("status").and_then(Value::as_str) == Some("failed")).then(|| {
        let err = doc.get("error").filter(|e| e.is_object());
        let text = |k: &str| {
            err.and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        crate::model::observation::ApiError {
            r#type: Some("response.failed".into()),
            code: text("code"),
            message: text("message")
                .or_else(|| Some("status failed without an error object".into())),
            ..crate::model::observation::ApiError::default()
        }
    });
    Answer {
        finish: vec![(0, responses_reason(doc))],
        failure,
        has_content,
        has_tool_calls: items()
            .any(|i| i.get("type").and_then(Value::as_str) == Some("function_call")),
        ..Answer::default()
    }
}

fn responses_soft(reason: &str) -> Option<&'static str> {
    match reason {
        "completed" => Some("stop"),
        "max_output_tokens" => Some("length"),
        "content_filter" => Some("content_filter"),
        _ => None,
    }
}

fn images_answer(doc: &Value) -> Answer {
    let data = doc.get("data").and_then(Value::as_array);
    let mut notes = Vec::new();
    for (i, item) in data.into_iter().flatten().enumerate() {
        if let Some(p) = item.get("revised_prompt").and_then(Value::as_str) {
            notes.push(format!(
                "image {i}: the provider revised the prompt to: {p}"
            ));
        }
    }
    let images = data.map_or(0, Vec::len);
    Answer {
        has_content: images > 0,
        filtered: images == 0,
        notes,
        ..Answer::default()
    }
}

fn task_answer(_doc: &Value) -> Answer {
    // A submitted task has no answer yet; the poll loop judges the result.
    Answer {
        has_content: true,
        ..Answer::default()
    }
}

/// A models listing, or one model: what it carries is for the schema and the case's checks.
fn models_answer(doc: &Value) -> Answer {
    let listed = doc.get("data").and_then(Value::as_array).map(Vec::len);
    Answer {
        has_content: listed.is_none_or(|n| n > 0),
        ..Answer::default()
    }
}

/// Embeddings: an answer with at least one vector carries content.
fn embeddings_answer(doc: &Value) -> Answer {
    Answer {
        has_content: doc
            .get("data")
            .and_then(Value::as_array)
            .is_some_and(|d| !d.is_empty()),
        ..Answer::default()
    }
}

/// Moderations: an answer with at least one result carries content; the results' flags are for
/// the case's checks (a flagged input is what was asked about, not a failure).
fn moderations_answer(doc: &Value) -> Answer {
    Answer {
        has_content: doc
            .get("results")
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty()),
        ..Answer::default()
    }
}

/// A new stream grammar for one of the family's streams. Models, embeddings and moderations
/// never stream (a case that asks is refused at load); the chat grammar stands in.
pub fn grammar(family: &Family) -> Box<dyn Grammar> {
    match family.kind {
        FamilyKind::ChatCompletions
        | FamilyKind::Images
        | FamilyKind::VideoTasks
        | FamilyKind::Models
        | FamilyKind::Embeddings
        | FamilyKind::Moderations => grammar::chat::new(),
        FamilyKind::Messages => grammar::messages::new(),
        FamilyKind::Responses => grammar::responses::new(),
    }
}

/// What a successful body (already checked against its schema) says about its answer.
pub fn answer(family: &Family, doc: &Value) -> Answer {
    match family.kind {
        FamilyKind::ChatCompletions => chat_answer(doc),
        FamilyKind::Messages => messages_answer(doc),
        FamilyKind::Responses => responses_answer(doc),
        FamilyKind::Images => images_answer(doc),
        FamilyKind::VideoTasks => task_answer(doc),
        FamilyKind::Models => models_answer(doc),
        FamilyKind::Embeddings => embeddings_answer(doc),
        FamilyKind::Moderations => moderations_answer(doc),
    }
}

/// An end reason in chat-completions words (`stop`, `length`, `content_filter`, `tool_calls`),
/// for the soft-failure table.
pub fn soft_reason(family: &Family, reason: &str) -> Option<&'static str> {
    match family.kind {
        FamilyKind::ChatCompletions => chat_soft(reason),
        FamilyKind::Messages => messages_soft(reason),
        FamilyKind::Responses => responses_soft(reason),
        FamilyKind::Images
        | FamilyKind::VideoTasks
        | FamilyKind::Models
        | FamilyKind::Embeddings
        | FamilyKind::Moderations => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::family::{EMBEDDINGS, IMAGES, MESSAGES, MODELS, MODERATIONS, RESPONSES};
    use serde_json::json;

    #[test]
    fn end_reasons_read_as_chat_words() {
        assert_eq!(soft_reason(&MESSAGES, "max_tokens"), Some("length"));
        assert_eq!(soft_reason(&MESSAGES, "refusal"), Some("content_filter"));
        assert_eq!(soft_reason(&MESSAGES, "tool_use"), Some("tool_calls"));
        assert_eq!(soft_reason(&MESSAGES, "end_turn"), Some("stop"));
        assert_eq!(soft_reason(&RESPONSES, "max_output_tokens"), Some("length"));
    }

    #[test]
    fn answers() {
        let img = answer(&IMAGES, &json!({"created": 1, "data": []}));
        assert!(img.filtered && !img.has_content);
        let img = answer(
            &IMAGES,
            &json!({"created": 1, "data": [{"url": "https://x/y.png", "revised_prompt": "a cat"}]}),
        );
        assert!(!img.filtered && img.notes[0].contains("a cat"));
        let m = answer(
            &MESSAGES,
            &json!({"content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn"}),
        );
        assert_eq!(m.finish, vec![(0, Some("end_turn".into()))]);
        assert!(m.has_content);
        let r = answer(
            &RESPONSES,
            &json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []}),
        );
        assert_eq!(r.finish, vec![(0, Some("max_output_tokens".into()))]);
        let e = answer(&EMBEDDINGS, &json!({"object": "list", "data": []}));
        assert!(!e.has_content && !e.filtered && e.finish.is_empty());
        let e = answer(&EMBEDDINGS, &json!({"data": [{"embedding": [0.5], "index": 0}]}));
        assert!(e.has_content);
        let m = answer(&MODELS, &json!({"object": "list", "data": []}));
        assert!(!m.has_content && m.finish.is_empty());
        assert!(answer(&MODELS, &json!({"id": "m", "object": "model"})).has_content);
        assert_eq!(soft_reason(&EMBEDDINGS, "stop"), None);
        let r = answer(&MODERATIONS, &json!({"id": "modr-1", "model": "m", "results": []}));
        assert!(!r.has_content && !r.filtered && r.finish.is_empty());
        let r = answer(
            &MODERATIONS,
            &json!({"results": [{"flagged": true, "categories": {}, "category_scores": {}}]}),
        );
        assert!(r.has_content && !r.filtered);
        assert_eq!(soft_reason(&MODERATIONS, "stop"), None);
    }
}
