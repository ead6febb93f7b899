//! Layer 2: loading a suite from disk (YAML cases and targets, JSON Schemas, pinned fixtures) and
//! planning its cases for targets; `select` narrows them (`--case`, `--tag`); `lint` checks what
//! was loaded.

pub mod applies;
pub mod builtin;
pub mod depth;
pub mod fixtures;
pub mod lint;
pub mod load;
pub mod names;
pub mod plan;
pub mod schema;
pub mod select;
pub mod steps;
pub mod suite;
