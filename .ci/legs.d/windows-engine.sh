#!/usr/bin/env bash
# The Windows leg of the engine as a library: host/tests/windows_builder.rs (Trousseau::builder()
# with a filesystem ring and a DPAPI user-account slot: create, protect, reopen, unprotect) and
# host/tests/windows_dpapi_keys.rs (key secrets protected with DPAPI as ASP.NET Core's
# ProtectKeysWithDpapi writes them: written, read back, read without key protection, made by
# CryptProtectData as ASP.NET calls it, tampered), in one cargo test, cross-compiled for x86_64-pc-windows-gnu with the default features and run under Wine
# (docs/test-environment.md; setup in .ci/lib.sh). When the toolchain pieces are missing it says
# LOUDLY that the leg did NOT run, and exits 0; a test failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib.sh
source .ci/lib.sh

wine_setup ENGINE
cargo test --target "$WINDOWS_TARGET" -p trousseau --test windows_builder --test windows_dpapi_keys
