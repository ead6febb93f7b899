//! Deviations: where an answer leaves the published spec in a way clients survive, as data.
//!
//! Two levels judge an answer. `spec` is the published document (OpenAI's OpenAPI, Anthropic's
//! Messages reference), as `contracts/schemas/` transcribes it. `client` is what the official
//! SDKs (openai-python, openai-node, the Anthropic SDKs) and common clients parse without error:
//! the spec minus a table of named deviations (`judge::levels::DEVIATIONS`). A violation one of
//! those rows matches is a [`Deviation`]: listed on the case with its pointer, the rule it breaks
//! and the source that shows clients accept it, but the verdict still passes (unless the run, the
//! target or the case is strict). Anything else that breaks the spec breaks clients too, and stays
//! a failure.

use std::fmt;

use serde::Serialize;

/// The level an answer is judged at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// What clients parse without error: named deviations are listed, not failed.
    #[default]
    Client,
    /// The published spec: every deviation is a violation.
    Spec,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Client => "client",
            Level::Spec => "spec",
        }
    }

    /// `client` or `spec`.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "client" => Some(Level::Client),
            "spec" => Some(Level::Spec),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One named deviation found in an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deviation {
    /// The row's name: `tool_calls_null`, `missing_done_after_finish`, …
    pub name: &'static str,
    /// Where it was first seen: a JSON pointer into the body, `frame N /pointer` in a stream, or
    /// `stream` for how a stream ended.
    pub pointer: String,
    /// The spec rule it breaks (the spec section, and what the schema says).
    pub rule: &'static str,
    /// Why clients survive it (the SDK type or client code that accepts it).
    pub source: &'static str,
    /// How many times it was seen in the answer (a stream repeats it frame after frame).
    pub count: usize,
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.name, self.pointer)?;
        if self.count > 1 {
            write!(f, " (×{})", self.count)?;
        }
        write!(
            f,
            ": breaks {}; clients accept it: {}",
            self.rule, self.source
        )
    }
}

/// Adds a deviation to a list, counting a repeat of a name already listed instead of listing it
/// again (the first place it was seen is kept).
pub fn note(list: &mut Vec<Deviation>, d: Deviation) {
    match list.iter_mut().find(|o| o.name == d.name) {
        Some(o) => o.count += d.count,
        None => list.push(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(name: &'static str, pointer: &str) -> Deviation {
        Deviation {
            name,
            pointer: pointer.into(),
            rule: "OpenAPI X.y (array)",
            source: "openai-python X.y: Optional[...]",
            count: 1,
        }
    }

    #[test]
    fn repeats_are_counted_once_listed() {
        let mut list = Vec::new();
        note(&mut list, d("a", "/x"));
        note(&mut list, d("b", "/y"));
        note(&mut list, d("a", "/z"));
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].pointer.as_str(), list[0].count), ("/x", 2));
        assert_eq!(
            list[0].to_string(),
            "a at /x (×2): breaks OpenAPI X.y (array); clients accept it: openai-python X.y: Optional[...]"
        );
        assert_eq!(Level::parse("spec"), Some(Level::Spec));
        assert_eq!(Level::parse("strict"), None);
    }
}
