//! Layer 7: wiring a run. Building the runtime, client, runner and endpoints once; lanes that
//! run cases at most `--jobs` requests at a time; the `cargo test` harness.

pub mod budget;
pub mod build;
pub mod harness;
pub mod lanes;
pub mod runner;
