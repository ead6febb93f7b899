//! Every contract case as its own test, `<target>::<case>`, through libtest-mimic.
//! Offline by default (the recorded endpoint); `LLM_CONTRACT_LIVE=1` runs them live.

fn main() -> std::process::ExitCode {
    llm_contract::harness::main(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
}
