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

pub mod baseline;
pub mod context;
pub mod contract;
pub mod exchange;
pub mod judge;
pub mod model;
pub mod report;
pub mod run;
pub mod util;
