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

# shellcheck source=../lib.sh
source .ci/lib.sh

windows_toolchain CLIPPY
echo "Windows clippy leg: cargo clippy --workspace --all-targets --target $WINDOWS_TARGET -- -D warnings"
cargo clippy --workspace --all-targets --locked --target "$WINDOWS_TARGET" -- -D warnings
