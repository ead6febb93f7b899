//! llm-contract: a contract test harness for LLM chat-completions HTTP APIs.
//!
//! The flow, one path for live and recorded runs:
//!
//! ```text
//! contracts/*.yaml ─load─▶ Case ─plan (target vars, overrides)─▶ Plan ─transport─▶ Received
//!   (contract)                                                    (reqwest; live URL or the
//!                                                                  recorded endpoint on 127.0.0.1)
//! Received ─check (status, schema, stream frames, finish_reason)─▶ classify ─drift vs fixture─▶ CaseOutcome
//! CaseOutcome ─sanitize─▶ terminal lines, reports/latest/report.json, libtest-mimic trials
//! ```
//!
//! See the README for the contract format and the operator classes.

pub mod check;
pub mod classify;
pub mod context;
pub mod contract;
pub mod drift;
pub mod error;
pub mod family;
pub mod fixture;
pub mod grammar;
pub mod harness;
pub mod lint;
pub mod outcome;
pub mod poll;
pub mod progress;
pub mod record;
pub mod recorded;
pub mod report;
pub mod retry;
pub mod runid;
pub mod runner;
pub mod sanitize;
pub mod schema;
pub mod server;
pub mod sse;
pub mod suite;
pub mod tape;
pub mod transport;
