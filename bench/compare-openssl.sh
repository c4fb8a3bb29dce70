#!/usr/bin/env bash
# Our data-protection throughput next to `openssl speed -elapsed`, measured in the same run.
#
#   bench/compare-openssl.sh [large|scaling|all]      (default: all)
#
# large:   protect and unprotect of 1 MiB (criterion medians) next to OpenSSL on one core:
#          AES-256-CBC encryption, HMAC-SHA256, and OpenSSL's stitched AES-256-CBC-HMAC-SHA256,
#          with the ratios the performance targets are stated in (protect against the stitched
#          cipher, unprotect against HMAC-SHA256 alone, whose pass over the data it cannot avoid).
#          COMPARE_ROUNDS rounds (default 5) of all five figures back to back; the ratios are
#          taken within each round and their median is reported.
# scaling: the `warm_scaling` table (64-byte protect/unprotect on 1, 2, 4, … threads) and, for
#          the same thread counts, `openssl speed -multi N` of HMAC-SHA256 on 64-byte inputs:
#          processes that share nothing, so their ratio to one process is what this machine's
#          cores give (turbo, SMT, other load), the ceiling for our own ratio.
# `-elapsed`: OpenSSL reports wall-clock time like criterion, so machine load hits both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v openssl >/dev/null || { echo "openssl is missing (apt-get install openssl)" >&2; exit 1; }
what=${1:-all}

speed() { # $@ = openssl speed args; prints bytes/s of the last column (one block size)
  openssl speed -elapsed -seconds "${SECONDS_EACH:-2}" "$@" 2>/dev/null | tail -1 | awk '{v=$NF; sub(/k$/,"",v); printf "%.0f\n", v*1000}'
}

large() {
  # The machine's speed drifts (turbo, neighbours on a VM) over seconds to minutes, so each
  # round measures all five figures back to back, and the ratios are taken within a round.
  local rounds=${COMPARE_ROUNDS:-5} r aes hmac stitched prot unprot
  local results=()
  cargo bench -p trousseau --bench dataprotection --no-run >/dev/null 2>&1
  median_ns() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' "target/criterion/$1/1MiB/new/estimates.json"; }
  for r in $(seq "$rounds"); do
    aes=$(SECONDS_EACH=1 speed -bytes 16384 -evp aes-256-cbc)
    hmac=$(SECONDS_EACH=1 speed -bytes 16384 -hmac sha256)
    stitched=$(SECONDS_EACH=1 speed -bytes 16384 -evp aes-256-cbc-hmac-sha256)
    cargo bench -p trousseau --bench dataprotection -- --warm-up-time 1 --measurement-time 3 '^(protect|unprotect)/1MiB$' >/dev/null 2>&1
    prot=$(median_ns protect)
    unprot=$(median_ns unprotect)
    results+=("$aes $hmac $stitched $prot $unprot")
  done
  python3 - "${results[@]}" <<'PY'
import statistics, sys
mib = 1 << 20
rows = [list(map(float, arg.split())) for arg in sys.argv[1:]]
f = lambda b: f"{b / 1e6:8.1f}"
print("MB/s per round, one core, the five figures measured back to back")
print(f"{'round':>5} {'aes-cbc':>8} {'hmac':>8} {'stitched':>8} {'protect':>8} {'unprot.':>8} {'prot/stitched':>14} {'unprot/hmac':>12}")
p_ratios, u_ratios, s_ratios = [], [], []
for i, (aes, hmac, stitched, prot_ns, unprot_ns) in enumerate(rows, 1):
    prot, unprot = mib / (prot_ns / 1e9), mib / (unprot_ns / 1e9)
    serial = 1 / (1 / aes + 1 / hmac)
    p_ratios.append(prot / stitched)
    u_ratios.append(unprot / hmac)
    s_ratios.append(prot / serial)
    print(f"{i:>5} {f(aes)} {f(hmac)} {f(stitched)} {f(prot)} {f(unprot)} {prot / stitched:>14.2f} {unprot / hmac:>12.2f}")
m = statistics.median
print(f"median of the {len(rows)} rounds' ratios:")
print(f"  protect 1 MiB   = {m(p_ratios):.2f} x openssl aes-256-cbc-hmac-sha256 (stitched; target >= 0.90), {m(s_ratios):.2f} x the serial bound 1/(1/aes+1/hmac)")
print(f"  unprotect 1 MiB = {m(u_ratios):.2f} x openssl hmac sha256 alone (target >= 0.90)")
PY
}

scaling() {
  cargo bench -p trousseau --bench warm_scaling
  local n=1 max one rate counts
  max=${WARM_SCALING_MAX_THREADS:-$(nproc)}
  echo
  echo "openssl speed -multi N -hmac sha256, 64-byte inputs (independent processes: the machine's own scaling)"
  printf '%8s %14s %8s\n' processes "ops/s" "x one"
  counts=()
  while [ "$n" -lt "$max" ]; do counts+=("$n"); n=$((n * 2)); done
  counts+=("$max") # the same counts as warm_scaling: powers of two, then all cores
  for n in "${counts[@]}"; do
    rate=$(speed -multi "$n" -bytes 64 -hmac sha256)
    [ "$n" -eq 1 ] && one=$rate
    python3 -c 'import sys; n, r, o = sys.argv[1:]; print(f"{n:>8} {float(r) / 64:>14,.0f} {float(r) / float(o):>7.2f}x")' "$n" "$rate" "$one"
  done
}

case "$what" in
  large) large ;;
  scaling) scaling ;;
  all) large; echo; scaling ;;
  *) echo "usage: $0 [large|scaling|all]" >&2; exit 2 ;;
esac
