#!/usr/bin/env bash
# Installs what the repository-provider tests need: redis-server, PostgreSQL (the SQL plugin's
# tests), Azurite (npm), moto[server] (pip venv), and — best effort — the Windows leg (rust
# target x86_64-pc-windows-gnu, MinGW, wine64). Idempotent: installs only what is missing;
# apt-get update at most once.
set -euo pipefail

VENV="${TROUSSEAU_VENV:-$HOME/.cache/trousseau/venv}"
NODE_DIR="${TROUSSEAU_NODE:-$HOME/.cache/trousseau/node}"
AZURITE_VERSION=3.35.0

apt_updated=0
apt_install() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$apt_updated" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
}

# Redis (the tests start a private redis-server on a unix socket).
apt_install redis-server openssl   # openssl: the rediss:// test makes its own CA

# PostgreSQL (the SQL plugin's tests make a private cluster with initdb and start postgres on a
# unix socket in a temp dir; run as root, they run both as `nobody`: docs/test-environment.md).
# The package's own cluster, if it starts, listens elsewhere and is not used.
apt_install postgresql

# Azurite (Azure Blob emulator).
if [ ! -x "$NODE_DIR/node_modules/.bin/azurite-blob" ]; then
    command -v npm >/dev/null || apt_install nodejs npm
    mkdir -p "$NODE_DIR"
    npm install --prefix "$NODE_DIR" --no-audit --no-fund "azurite@$AZURITE_VERSION"
fi

# moto (S3 server).
if [ ! -x "$VENV/bin/moto_server" ]; then
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet 'moto[server]'
fi

# Windows leg (best effort: .ci/legs.d/windows-registry.sh says loudly when it cannot run).
if command -v rustup >/dev/null; then
    rustup target list --installed | grep -qx x86_64-pc-windows-gnu \
        || rustup target add x86_64-pc-windows-gnu \
        || echo "WARNING: rustup could not add x86_64-pc-windows-gnu; the Windows registry leg will NOT run" >&2
fi
apt_install gcc-mingw-w64-x86-64 wine64 \
    || echo "WARNING: could not install MinGW/wine64; the Windows registry leg will NOT run" >&2
