//! A schema violation, as jsonschema reported it: data shared by failures and assertions.

use std::fmt;

use crate::util::text::Visible as V;

/// One way a document breaks a JSON Schema, as jsonschema reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the document ("" is the root).
    pub pointer: String,
    /// JSON pointer into the schema, naming the keyword that failed.
    pub schema_path: String,
    pub message: String,
    /// The keyword that failed (`type`, `required`, `enum`, …) and, for `required`, the
    /// property that is missing: what the deviation table matches on.
    pub keyword: String,
    pub property: Option<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(
            f,
            "{}: {} (schema {})",
            V(at),
            V(&self.message),
            V(&self.schema_path)
        )
    }
}
