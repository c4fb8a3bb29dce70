#!/usr/bin/env bash
# Installs what the user-account and pkcs11 provider tests need: SoftHSM2 + OpenSC for
# PKCS#11, gnome-keyring + libsecret-tools + dbus for the Secret Service backend, and, best effort,
# the Windows leg (Rust target x86_64-pc-windows-gnu, MinGW, Wine) for the DPAPI backend.
# Idempotent: installs only what is missing, runs apt-get update at most once.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

apt_updated=0
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$apt_updated" = 0 ]; then
        $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
        apt_updated=1
    fi
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
}

# Required: the tests fail without these.
apt_install softhsm2 opensc gnome-keyring libsecret-tools dbus dbus-daemon

# Best effort: the Windows (DPAPI) leg. .ci/legs.d/windows-dpapi.sh says loudly when it cannot run.
if command -v rustup >/dev/null 2>&1; then
    rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu \
        || rustup target add x86_64-pc-windows-gnu \
        || echo "hwsources install: WARNING: rustup target add x86_64-pc-windows-gnu failed; the DPAPI leg will NOT run" >&2
fi
apt_install gcc-mingw-w64-x86-64 wine64 \
    || echo "hwsources install: WARNING: MinGW/Wine could not be installed; the DPAPI leg will NOT run" >&2
