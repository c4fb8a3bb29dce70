#!/usr/bin/env bash
# Our 1 MiB protect/unprotect throughput next to `openssl speed` for AES-256-CBC and
# HMAC-SHA256 measured in the same run, and their serial bound 1/(1/aes + 1/hmac)
# (protect = CBC encryption then HMAC, both serial). Medians from criterion. `-elapsed`: openssl
# then reports wall-clock time like criterion, so machine load hits both sides alike.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v openssl >/dev/null || { echo "openssl is missing (apt-get install openssl)" >&2; exit 1; }

speed() { # $@ = openssl speed args; prints bytes/s at 16 KiB blocks
  openssl speed -elapsed -seconds 2 -bytes 16384 "$@" 2>/dev/null | tail -1 | awk '{v=$NF; sub(/k$/,"",v); printf "%.0f\n", v*1000}'
}
aes=$(speed -evp aes-256-cbc)
hmac=$(speed -hmac sha256)

cargo bench -p trousseau --bench dataprotection -- --warm-up-time 1 --measurement-time 5 '^(protect|unprotect)/1MiB$' >/dev/null

median_ns() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' "target/criterion/$1/1MiB/new/estimates.json"; }
prot=$(median_ns protect)
unprot=$(median_ns unprotect)

python3 - "$aes" "$hmac" "$prot" "$unprot" <<'PY'
import sys
aes, hmac, prot_ns, unprot_ns = map(float, sys.argv[1:])
mib = 1 << 20
bound = 1 / (1 / aes + 1 / hmac)
prot = mib / (prot_ns / 1e9)
unprot = mib / (unprot_ns / 1e9)
f = lambda b: f"{b / 1e6:8.1f} MB/s"
print(f"openssl aes-256-cbc (encrypt)   {f(aes)}")
print(f"openssl hmac sha256             {f(hmac)}")
print(f"serial bound 1/(1/aes+1/hmac)   {f(bound)}")
print(f"trousseau protect   1 MiB       {f(prot)}   = {prot / bound:.2f} x bound (target >= 0.90)")
print(f"trousseau unprotect 1 MiB       {f(unprot)}   = {unprot / bound:.2f} x bound")
PY
