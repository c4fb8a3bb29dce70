#!/usr/bin/env bash
# The Windows leg of the user-account provider: the DPAPI backend, cross-compiled for
# x86_64-pc-windows-gnu and run under Wine (docs/test-environment.md), with a stand-in
# bcryptprimitives.dll (Wine 8 lacks ProcessPrng, which Rust's std imports).
# When the toolchain pieces are missing it says LOUDLY that the leg did NOT run, and exits 0;
# a test failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."

not_run() {
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    echo "!!! WINDOWS DPAPI LEG DID NOT RUN: $*" >&2
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    exit 0
}

rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu \
    || not_run "Rust target x86_64-pc-windows-gnu is not installed (run .ci/install.d/hwsources.sh)"
command -v x86_64-w64-mingw32-gcc >/dev/null || not_run "MinGW (gcc-mingw-w64-x86-64) is missing"
WINE=/usr/lib/wine/wine64
[ -x "$WINE" ] || not_run "Wine (wine64) is missing"

WORK=$(mktemp -d)
cleanup() {
    WINEPREFIX="$WORK/prefix" /usr/lib/wine/wineserver -k >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/shim.c" <<'C'
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
C
x86_64-w64-mingw32-gcc -O2 -shared -o "$WORK/bcryptprimitives.dll" "$WORK/shim.c" -ladvapi32

export WINEPREFIX="$WORK/prefix" WINEDEBUG=-all
"$WINE" wineboot --init >/dev/null 2>&1 || true
[ -d "$WINEPREFIX/drive_c/windows/system32" ] || { echo "wineboot did not create a prefix" >&2; exit 1; }
cp "$WORK/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"

CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$WINE" \
    cargo test --target x86_64-pc-windows-gnu -p trousseau-user-account --test dpapi
