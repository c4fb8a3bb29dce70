#!/usr/bin/env bash
# The fuzz smoke leg: builds every fuzz target (fuzz/, cargo-fuzz on stable through
# RUSTC_BOOTSTRAP=1) and runs each for FUZZ_SMOKE_SECONDS (default 12) from its seeds, so a
# parser that panics, overflows its stack or hangs on an input near the seeds fails CI.
# Install cargo-fuzz with .ci/install.d/fuzz.sh. Long runs: scripts/fuzz.sh, docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

started=$(date +%s)
scripts/fuzz.sh "${FUZZ_SMOKE_SECONDS:-12}"
echo "fuzz smoke leg (build and runs): $(($(date +%s) - started)) s"
