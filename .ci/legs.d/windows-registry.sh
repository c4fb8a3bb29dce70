#!/usr/bin/env bash
# The Windows leg: cross-compiles trousseau-registry for x86_64-pc-windows-gnu and runs its tests
# under Wine (docs/test-environment.md). Install its tools with .ci/install.d/repositories.sh.
# When the Windows target, MinGW or Wine is missing, it says loudly that the leg did NOT run.
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGET=x86_64-pc-windows-gnu
WINE=/usr/lib/wine/wine64
CC=x86_64-w64-mingw32-gcc

did_not_run() {
    echo "=====================================================================" >&2
    echo "!!! WINDOWS LEG DID NOT RUN: $1" >&2
    echo "!!! The registry repository was NOT tested on Windows (this is not a pass)." >&2
    echo "=====================================================================" >&2
    exit 0
}

command -v rustup >/dev/null || did_not_run "rustup not found"
rustup target list --installed | grep -qx "$TARGET" \
    || rustup target add "$TARGET" \
    || did_not_run "the Rust target $TARGET cannot be installed"
command -v "$CC" >/dev/null || did_not_run "$CC (gcc-mingw-w64-x86-64) is missing"
[ -x "$WINE" ] || did_not_run "$WINE (wine64) is missing"

WORK=$(mktemp -d)
trap '/usr/lib/wine/wineserver -k >/dev/null 2>&1 || true; rm -rf "$WORK" || true' EXIT
export WINEPREFIX="$WORK/prefix" WINEDEBUG=-all
"$WINE" wineboot --init >/dev/null 2>&1
"$CC" -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    .ci/windows/bcryptprimitives.c -ladvapi32

echo "Windows leg: cargo test -p trousseau-registry --target $TARGET (under Wine)"
CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$WINE" \
    cargo test -p trousseau-registry --target "$TARGET"
