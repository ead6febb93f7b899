#!/usr/bin/env bash
# The performance benchmark from a clean clone: builds the release binary and runs
# benches/suite.rs, which starts its own loopback server (127.0.0.1), generates the 1,000-case
# suite into a temporary folder, and prints every figure beside its baseline.
#   scripts/bench.sh            full run (3 runs per figure, median)
#   scripts/bench.sh --quick    one run each, a 200,000-frame stream instead of 1,000,000
#   scripts/bench.sh --guard    CI's regression guard: quick, exits 1 on a gross regression only
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --locked --bench suite -- "$@"
