#!/usr/bin/env bash
# Our data-protection throughput next to `openssl speed -elapsed`, measured in the same run.
#
#   bench/compare-openssl.sh [large|scaling|all]      (default: all)
#
# large:   protect and unprotect of 1 MiB (criterion medians) next to OpenSSL on one core:
#          AES-256-CBC encryption, HMAC-SHA256, and OpenSSL's stitched AES-256-CBC-HMAC-SHA256,
#          with the ratios the performance targets are stated in (protect against the stitched
#          cipher, unprotect against HMAC-SHA256 alone, whose pass over the data it cannot avoid).
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
  openssl speed -elapsed -seconds 2 "$@" 2>/dev/null | tail -1 | awk '{v=$NF; sub(/k$/,"",v); printf "%.0f\n", v*1000}'
}

large() {
  local aes hmac stitched prot unprot
  aes=$(speed -bytes 16384 -evp aes-256-cbc)
  hmac=$(speed -bytes 16384 -hmac sha256)
  stitched=$(speed -bytes 16384 -evp aes-256-cbc-hmac-sha256)
  cargo bench -p trousseau --bench dataprotection -- --warm-up-time 1 --measurement-time 5 '^(protect|unprotect)/1MiB$' >/dev/null
  median_ns() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' "target/criterion/$1/1MiB/new/estimates.json"; }
  prot=$(median_ns protect)
  unprot=$(median_ns unprotect)
  python3 - "$aes" "$hmac" "$stitched" "$prot" "$unprot" <<'PY'
import sys
aes, hmac, stitched, prot_ns, unprot_ns = map(float, sys.argv[1:])
mib = 1 << 20
serial = 1 / (1 / aes + 1 / hmac)
prot = mib / (prot_ns / 1e9)
unprot = mib / (unprot_ns / 1e9)
f = lambda b: f"{b / 1e6:8.1f} MB/s"
print(f"openssl aes-256-cbc (encrypt)          {f(aes)}")
print(f"openssl hmac sha256                    {f(hmac)}")
print(f"openssl aes-256-cbc-hmac-sha256        {f(stitched)}   (stitched, one core)")
print(f"serial bound 1/(1/aes+1/hmac)          {f(serial)}")
print(f"trousseau protect   1 MiB              {f(prot)}   = {prot / stitched:.2f} x stitched openssl (target >= 0.90), {prot / serial:.2f} x serial bound")
print(f"trousseau unprotect 1 MiB              {f(unprot)}   = {unprot / hmac:.2f} x openssl hmac alone (target >= 0.90)")
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
