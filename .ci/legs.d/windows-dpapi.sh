#!/usr/bin/env bash
# The Windows leg of the user-account provider: the DPAPI backend, cross-compiled for
# x86_64-pc-windows-gnu and run under Wine (docs/test-environment.md; setup in .ci/lib.sh).
# When the toolchain pieces are missing it says LOUDLY that the leg did NOT run, and exits 0;
# a test failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib.sh
source .ci/lib.sh

wine_setup DPAPI
cargo test --target "$WINDOWS_TARGET" -p trousseau-user-account --test dpapi
