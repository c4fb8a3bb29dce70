#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's:
#   1. installs what the tests need, only what is missing (.ci/install.d/*.sh: apt, pip, npm);
#   2. cargo fmt --check, cargo clippy --all-targets -D warnings, cargo doc -D warnings;
#   3. every test of the workspace (real servers and peers, started by the tests themselves);
#   4. the extra legs in .ci/legs.d/*.sh (tests that must run inside a session bus, under Wine…).
# Any failure fails the run. Benchmarks are not run here (cargo bench, see README).
set -euo pipefail
cd "$(dirname "$0")/.."
# A run builds everything once: incremental compilation would only add work and disk (set
# CARGO_INCREMENTAL=1 to keep it for repeated local runs).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n== %s\n' "$*"; }

run_each() { # $1 = label, $2 = folder: runs every *.sh in it, in name order
  for script in "$2"/*.sh; do
    [ -e "$script" ] || continue
    step "$1: $script"
    bash "$script"
  done
}

run_each install .ci/install.d

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc --no-deps (rustdoc warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked

step "cargo test"
cargo test --workspace --locked

run_each leg .ci/legs.d

step "all tests passed"
