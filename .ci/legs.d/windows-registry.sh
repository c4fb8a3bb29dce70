#!/usr/bin/env bash
# The Windows leg of the registry repository: trousseau-registry cross-compiled for
# x86_64-pc-windows-gnu, its tests (the contract of the plugin-author kit included) run under
# Wine (docs/test-environment.md; setup in .ci/lib.sh). Install its tools with
# .ci/install.d/repositories.sh. When the Windows target, MinGW or Wine is missing, it says
# LOUDLY that the leg did NOT run, and exits 0; a test failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib.sh
source .ci/lib.sh

wine_setup REGISTRY
echo "Windows leg: cargo test -p trousseau-registry --target $WINDOWS_TARGET (under Wine)"
cargo test -p trousseau-registry --target "$WINDOWS_TARGET"
