#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser reachable from outside (docs/fuzzing.md).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Builds the fuzz targets of fuzz/ once (cargo-fuzz, libFuzzer; stable Rust through
# RUSTC_BOOTSTRAP=1), then runs each TARGET (default: all, one at a time, niced) for SECONDS
# (default 60) and prints, per target: executions, coverage (libFuzzer's cov: and ft:) and
# crashes. Exits 1 when any target crashed (the input is kept under fuzz/artifacts/TARGET/).
#
# Environment:
#   FUZZ_RUNS=N        stop a target after N executions too (default: no limit)
#   FUZZ_MAX_LEN=N     largest input libFuzzer makes (default 8192)
#   FUZZ_JOBS_NICE=N   niceness of the fuzzers (default 10)
#   FUZZ_SANITIZER=S   cargo-fuzz sanitizer (default none; address, memory… need a rebuild)
#   FUZZ_NO_BUILD=1    use the binaries already built
# The seeds (fuzz/corpus/TARGET, committed) are read only; what libFuzzer learns goes to
# fuzz/work/corpus/TARGET (ignored by git) and is reused by the next run.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_EACH="${1:-60}"
shift || true
case "$SECONDS_EACH" in '' | *[!0-9]*)
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...] (SECONDS is a whole number)" >&2
  exit 2
  ;;
esac

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: run .ci/install.d/fuzz.sh (or cargo install cargo-fuzz --locked)" >&2
  exit 2
fi

# cargo-fuzz passes nightly-only flags (-Z, sanitizer options); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them. Release build with debug assertions (overflow checks on). No
# sanitizer by default: the parsers are safe Rust (panics, stack overflows, hangs and memory
# growth are caught without one) and it halves the build; FUZZ_SANITIZER=address for ASan.
BUILD_FLAGS=(--release --debug-assertions --sanitizer "${FUZZ_SANITIZER:-none}")
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
BIN_DIR="target/$TRIPLE/release"

mapfile -t ALL < <(cargo fuzz list)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
for t in "${TARGETS[@]}"; do
  printf '%s\n' "${ALL[@]}" | grep -qx "$t" || {
    echo "unknown fuzz target $t; the targets are: ${ALL[*]}" >&2
    exit 2
  }
done

if [ -z "${FUZZ_NO_BUILD:-}" ]; then
  started=$(date +%s)
  RUSTC_BOOTSTRAP=1 nice -n "${FUZZ_JOBS_NICE:-10}" cargo fuzz build "${BUILD_FLAGS[@]}"
  echo "fuzz build: $(($(date +%s) - started)) s"
fi

failed=0
report=()
for t in "${TARGETS[@]}"; do
  mkdir -p "work/corpus/$t" "artifacts/$t" "work/logs"
  log="work/logs/$t.log"
  seeds=()
  [ -d "corpus/$t" ] && seeds=("corpus/$t")
  args=(
    "work/corpus/$t" "${seeds[@]}"
    -max_total_time="$SECONDS_EACH"
    -max_len="${FUZZ_MAX_LEN:-8192}"
    -timeout=10 -rss_limit_mb=2048
    -print_final_stats=1
    -artifact_prefix="artifacts/$t/"
  )
  [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
  echo "== fuzzing $t for ${SECONDS_EACH}s"
  t0=$(date +%s)
  rc=0
  nice -n "${FUZZ_JOBS_NICE:-10}" "$BIN_DIR/$t" "${args[@]}" >"$log" 2>&1 || rc=$?
  wall=$(($(date +%s) - t0))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
  ft=$( (grep -o 'ft: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
  crash="0"
  if [ "$rc" -ne 0 ]; then
    failed=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    [ -z "$artifact" ] || artifact="fuzz/$artifact"
    crash="1 (exit $rc; input ${artifact:-?}; log fuzz/$log)"
    grep -E "panicked at|ERROR: libFuzzer|overflowed its stack|SUMMARY" "$log" | head -5 || true
  fi
  report+=("$(printf '%-15s %12s %8s %8s %6ss  %s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$wall" "$crash")")
done

echo
printf '%-15s %12s %8s %8s %7s  %s\n' target executions cov ft wall crashes
printf '%s\n' "${report[@]}"
exit "$failed"
