//! `report.json`: the run and every case as data, described by `contracts/report.schema.json`.
//!
//! Each case is its [`CaseOutcome`] as serialized (every field name kept), plus
//! `base_url_alias` (the target's name: the URL itself may carry credentials or tenant names) and,
//! as `null` when unknown, every field of the observability checklist that the outcome leaves out
//! when empty, so a consumer finds each one in every case.

use std::collections::BTreeMap;

use std::io::Write;

use serde::Serialize;

use super::{Reports, Summary};
use crate::model::outcome::CaseOutcome;

/// The fields every case carries, `null` when the case has no value for them.
pub const CHECKLIST: [&str; 16] = [
    "client_request_id",
    "target",
    "endpoint",
    "base_url_alias",
    "model",
    "stream",
    "status",
    "class",
    "retries",
    "latency_ms",
    "ttfb_ms",
    "first_token_ms",
    "finish_reason",
    "usage",
    "parser_outcome",
    "verdict",
];

/// The document's fields before `cases`, which [`render`] appends (each case rendered by
/// [`part`]); the whole is what `serde_json::to_string_pretty` writes for the document.
#[derive(Serialize)]
struct Head<'a> {
    tool: &'static str,
    version: &'static str,
    run_id: &'a str,
    started_at: &'a str,
    mode: crate::model::outcome::Mode,
    exit_code: u8,
    summary: Summary,
}

/// One case as `report.json` holds it: the outcome's own fields in their order, then the alias,
/// then a `null` for each checklist field the outcome left out.
#[derive(Serialize)]
pub struct JsonCase<'a> {
    #[serde(flatten)]
    outcome: &'a CaseOutcome,
    base_url_alias: &'a str,
    #[serde(flatten)]
    absent: BTreeMap<&'static str, Option<()>>,
}

impl<'a> JsonCase<'a> {
    pub fn new(outcome: &'a CaseOutcome) -> Result<JsonCase<'a>, serde_json::Error> {
        // The fields the outcome serializes, found without serializing their values (a copy of
        // every outcome as a JSON tree was a third of the report's cost).
        let mut names = FieldNames(Vec::new());
        let present: Vec<String> = match outcome.serialize(&mut names) {
            Ok(()) => names.0.into_iter().map(str::to_string).collect(),
            Err(_) => match serde_json::to_value(outcome)? {
                serde_json::Value::Object(map) => map.keys().cloned().collect(),
                _ => Vec::new(),
            },
        };
        let absent = CHECKLIST
            .into_iter()
            .filter(|k| *k != "base_url_alias" && !present.iter().any(|p| p == k))
            .map(|k| (k, None))
            .collect();
        Ok(JsonCase {
            outcome,
            base_url_alias: &outcome.target,
            absent,
        })
    }
}

/// Collects the names of the fields a struct serializes (those its `skip_serializing_if` keeps),
/// without serializing their values. Anything but a struct is refused.
struct FieldNames(Vec<&'static str>);

#[derive(Debug)]
struct NotAStruct;

impl std::fmt::Display for NotAStruct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a struct")
    }
}

impl std::error::Error for NotAStruct {}

impl serde::ser::Error for NotAStruct {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NotAStruct
    }
}

macro_rules! refuse {
    ($($name:ident($($t:ty),*);)*) => {
        $(fn $name(self, $(_: $t),*) -> Result<(), NotAStruct> { Err(NotAStruct) })*
    };
}

impl serde::Serializer for &mut FieldNames {
    type Ok = ();
    type Error = NotAStruct;
    type SerializeSeq = serde::ser::Impossible<(), NotAStruct>;
    type SerializeTuple = serde::ser::Impossible<(), NotAStruct>;
    type SerializeTupleStruct = serde::ser::Impossible<(), NotAStruct>;
    type SerializeTupleVariant = serde::ser::Impossible<(), NotAStruct>;
    type SerializeMap = serde::ser::Impossible<(), NotAStruct>;
    type SerializeStruct = Self;
    type SerializeStructVariant = serde::ser::Impossible<(), NotAStruct>;

    refuse! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32);
        serialize_i64(i64); serialize_u8(u8); serialize_u16(u16); serialize_u32(u32);
        serialize_u64(u64); serialize_f32(f32); serialize_f64(f64); serialize_char(char);
        serialize_str(&str); serialize_bytes(&[u8]); serialize_none(); serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotAStruct> {
        Err(NotAStruct)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, NotAStruct> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotAStruct> {
        Err(NotAStruct)
    }
}

impl serde::ser::SerializeStruct for &mut FieldNames {
    type Ok = ();
    type Error = NotAStruct;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        _: &T,
    ) -> Result<(), NotAStruct> {
        self.0.push(key);
        Ok(())
    }
    fn end(self) -> Result<(), NotAStruct> {
        Ok(())
    }
}

/// Indentation of an element of the document's `cases` array.
const CASE_INDENT: &str = "\n    ";

/// One case's object as the document's `cases` array holds it, pretty-printed and indented for
/// its place (a JSON text has no raw line break inside a string, so every line break is layout).
pub fn part(outcome: &CaseOutcome) -> Result<String, serde_json::Error> {
    let text = serde_json::to_string_pretty(&JsonCase::new(outcome)?)?;
    Ok(text.replace('\n', CASE_INDENT))
}

/// Writes the document: its head, then each case's part in order.
pub fn write(r: &Reports, out: &mut dyn Write) -> std::io::Result<()> {
    let head = Head {
        tool: "llm-contract",
        version: env!("CARGO_PKG_VERSION"),
        run_id: r.info.run_id.as_str(),
        started_at: r.info.run_id.started_at(),
        mode: r.info.mode,
        exit_code: r.summary.exit_code(),
        summary: r.summary,
    };
    let head = serde_json::to_string_pretty(&head)?;
    // `{ ... "summary": {..}\n}`: the closing brace makes way for the cases.
    let open = head.strip_suffix("\n}").ok_or_else(|| {
        std::io::Error::other("report.json: the document's head does not end with a brace")
    })?;
    out.write_all(open.as_bytes())?;
    out.write_all(b",\n  \"cases\": [")?;
    for (i, c) in r.cases.iter().enumerate() {
        let part = c
            .json()
            .map_err(|e| std::io::Error::other(format!("report.json: case {}: {e}", c.brief.id)))?;
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(CASE_INDENT.as_bytes())?;
        out.write_all(part.as_bytes())?;
    }
    if !r.cases.is_empty() {
        out.write_all(b"\n  ")?;
    }
    out.write_all(b"]\n}\n")
}
