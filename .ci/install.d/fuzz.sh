#!/usr/bin/env bash
# Installs cargo-fuzz (the libFuzzer driver of the fuzz smoke leg, .ci/legs.d/fuzz-smoke.sh)
# when it is missing. It builds with the stable toolchain; the fuzz build itself runs on
# stable through RUSTC_BOOTSTRAP=1 (see docs/fuzzing.md).
set -euo pipefail

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
cargo fuzz --version >/dev/null
