#!/usr/bin/env bash
# The portable-crypto leg: the engine's own tests once more with the `portable-crypto` feature,
# which turns off the engine's AES-NI code (CBC, the stitched CBC + HMAC-SHA256 path, AES-KDF)
# as on a CPU without it. Known-answer vectors and interop tests then prove the portable
# fallback; the unit tests also compare both paths on random inputs in the main run. With
# `full`, the features the workspace run built the engine with, only the engine crate is rebuilt
# (portable-crypto adds no dependency).
set -euo pipefail
cd "$(dirname "$0")/../.."

started=$(date +%s)
cargo test -p trousseau --lib --features full,portable-crypto --locked
echo "portable-crypto leg: $(($(date +%s) - started)) s"
