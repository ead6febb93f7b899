//! llm-contract: a contract test harness and conformance suite for LLM HTTP APIs.
//!
//! YAML contract cases run against a live endpoint or a recorded one (a real HTTP server on
//! 127.0.0.1 that replays pinned, sanitized fixtures); every response is checked against JSON
//! Schemas, streams frame by frame, compared with its fixture for drift, and every outcome is
//! given an operator class: what an engineer must do about it.
//!
//! # Use it from your own crate
//!
//! Put `contracts/` (cases, `targets/`, optionally `schemas/` of your own: the standard ones are
//! built in, [`schemas`]) and `fixtures/` at your crate's root (`llm-contract init` scaffolds
//! them), add `llm-contract` as a dev-dependency and a test target without libtest's harness:
//!
//! ```toml
//! [[test]]
//! name = "contracts"
//! harness = false
//! ```
//!
//! `tests/contracts.rs` is then one line: each case on each target becomes a test named
//! `<target>::<case>`, replayed offline by `cargo test`, live with `LLM_CONTRACT_LIVE=1`.
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     llm_contract::harness::main(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
//! }
//! ```
//!
//! # Read what a run found
//!
//! The outcomes are plain data ([`model`]): a verdict, an operator class, the failures as typed
//! values ([`model::failure::Failure`], rendered to text only by its `Display`).
//!
//! ```
//! use llm_contract::model::class::Class;
//! use llm_contract::model::failure::Failure;
//!
//! let f = Failure::Status { expected: vec![200], got: 503 };
//! assert_eq!(f.to_string(), "status: expected 200, got 503");
//! assert!(Class::Retry.retryable() && !Class::FixRequest.retryable());
//! ```
//!
//! # The layers
//!
//! The source folders are the pipeline, each importing only from the ones before it (checked by
//! `tests/layers.rs`): `util` and `context`, `model`, `contract` (loading and planning),
//! `exchange` (HTTP), `judge`, `baseline` (drift, redaction, recording, replay), `report`, `run`
//! (wiring) and `cli`. Only the command line, the harness, the environment and the data are
//! public; the machinery is the crate's own (the `testkit` feature opens it to this crate's
//! tests and benchmarks, not for use elsewhere).

/// Declares the crate's internal modules: its own unless the `testkit` feature opens them to
/// the crate's tests and benchmarks.
macro_rules! internal {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {$(
        $(#[$attr])*
        #[cfg(feature = "testkit")]
        #[doc(hidden)]
        pub mod $name;
        $(#[$attr])*
        #[cfg(not(feature = "testkit"))]
        pub(crate) mod $name;
    )*};
}

internal!(baseline, contract, exchange, judge, report, run, util);

pub mod cli;
pub mod context;
pub mod model;

/// The `cargo test` harness: one libtest-mimic trial per target × case.
pub mod harness {
    pub use crate::run::harness::{main, main_in, trials};
}

/// The JSON Schemas built into the crate (this repository's `contracts/schemas/`, embedded at
/// build time). Every suite starts from them: its own `schemas/` folder adds schemas, or replaces
/// one of the same name. Each is known by its name and by the URI [`schemas::uri`]`(name)`,
/// `urn:llm-contract:schema:<name>`, which a suite's own schema uses to `$ref` it:
///
/// ```
/// let uri = llm_contract::schemas::uri("chat_completion");
/// assert_eq!(uri, "urn:llm-contract:schema:chat_completion");
/// let text = llm_contract::schemas::schema("chat_completion").unwrap();
/// assert!(text.contains(&uri));
/// assert!(llm_contract::schemas::schemas().len() >= 12);
/// ```
pub mod schemas {
    pub use crate::contract::builtin::{schema, schemas, uri, SCHEMA_URI_PREFIX};
}

pub use contract::suite::Paths;

/// The README's and docs/adopting.md's Rust examples (the test file of a user's crate), compiled
/// by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[doc = include_str!("../docs/adopting.md")]
pub struct DocExamples;
