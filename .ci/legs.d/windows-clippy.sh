#!/usr/bin/env bash
# The Windows lint leg: cargo clippy on the whole workspace (engine, CLI, providers, plugins) for
# x86_64-pc-windows-gnu, every target, warnings denied, so that code behind cfg(windows) (the
# console prompt, DPAPI, the registry) and code that forgets a cfg(unix) fail CI here and not on
# a user's machine. It shares the main target dir (target/, as the main steps use it): build
# scripts and proc macros are reused, only the Windows-side crates are checked.
# Install its tools with .ci/install.d/hwsources.sh. When the target or MinGW (C builds such as
# aws-lc-sys need it) is missing, it says LOUDLY that the leg did NOT run; a warning fails it.
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGET=x86_64-pc-windows-gnu

did_not_run() {
    echo "=====================================================================" >&2
    echo "!!! WINDOWS CLIPPY LEG DID NOT RUN: $1" >&2
    echo "!!! The workspace was NOT linted for Windows (this is not a pass)." >&2
    echo "=====================================================================" >&2
    exit 0
}

command -v rustup >/dev/null || did_not_run "rustup not found"
rustup target list --installed | grep -qx "$TARGET" \
    || rustup target add "$TARGET" \
    || did_not_run "the Rust target $TARGET cannot be installed"
command -v x86_64-w64-mingw32-gcc >/dev/null \
    || did_not_run "x86_64-w64-mingw32-gcc (gcc-mingw-w64-x86-64) is missing"

echo "Windows clippy leg: cargo clippy --workspace --all-targets --target $TARGET -- -D warnings"
cargo clippy --workspace --all-targets --locked --target "$TARGET" -- -D warnings
