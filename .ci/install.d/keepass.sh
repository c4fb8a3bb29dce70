#!/usr/bin/env bash
# Installs the real KeePass peers used by the keepass interop tests and benchmarks:
# keepassxc-cli (Debian package keepassxc) and, in the project venv, pykeepass + argon2-cffi.
# Idempotent: installs only what is missing.
set -euo pipefail

VENV="${TROUSSEAU_VENV:-$HOME/.cache/trousseau/venv}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if ! command -v keepassxc-cli >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    # apt-get update at most once per machine run (other install scripts share the stamp).
    stamp=/tmp/.trousseau-apt-updated
    if [ ! -e "$stamp" ]; then
        $SUDO apt-get update
        touch "$stamp"
    fi
    $SUDO apt-get install -y --no-install-recommends keepassxc
fi

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import pykeepass, argon2' >/dev/null 2>&1; then
    "$VENV/bin/pip" install --quiet 'pykeepass==4.2.0' 'argon2-cffi==25.1.0'
fi

keepassxc-cli --version >/dev/null
"$VENV/bin/python" -c 'import pykeepass, argon2.low_level'
