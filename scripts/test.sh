#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's:
#   1. installs what the tests need, only what is missing (.ci/install.d/*.sh: apt, pip, npm);
#   2. cargo fmt --check, cargo clippy --all-targets -D warnings;
#   3. every test of the workspace (real servers and peers, started by the tests themselves);
#   4. the extra legs in .ci/legs.d/*.sh (tests that must run inside a session bus, under Wine…).
# Any failure fails the run. Benchmarks are not run here (cargo bench, see README).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

for script in .ci/install.d/*.sh; do
  [ -e "$script" ] || continue
  step "install: $script"
  bash "$script"
done

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

for leg in .ci/legs.d/*.sh; do
  [ -e "$leg" ] || continue
  step "leg: $leg"
  bash "$leg"
done

step "all tests passed"
