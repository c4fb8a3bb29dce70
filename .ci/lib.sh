# Shared helpers for .ci/install.d/*.sh. Source it; it installs only what is missing.
# shellcheck shell=bash

: "${TROUSSEAU_VENV:=$HOME/.cache/trousseau/venv}"
: "${TROUSSEAU_NODE:=$HOME/.cache/trousseau/node}"
export TROUSSEAU_VENV TROUSSEAU_NODE

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install PKG... — installs the Debian packages that are not installed yet.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ ! -e /tmp/.trousseau-apt-updated ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    touch /tmp/.trousseau-apt-updated
  fi
  echo "installing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# pip_install PKG... — into the project venv, when the import/binary is missing.
pip_install() {
  [ -x "$TROUSSEAU_VENV/bin/python" ] || python3 -m venv "$TROUSSEAU_VENV"
  "$TROUSSEAU_VENV/bin/pip" install -q --disable-pip-version-check "$@"
}

# npm_install PKG@VER — under $TROUSSEAU_NODE.
npm_install() {
  mkdir -p "$TROUSSEAU_NODE"
  npm install --silent --no-audit --no-fund --prefix "$TROUSSEAU_NODE" "$@" >/dev/null
}

# --- Windows legs under Wine (.ci/legs.d/windows-*.sh; docs/test-environment.md) ---

WINDOWS_TARGET=x86_64-pc-windows-gnu
WINE=/usr/lib/wine/wine64

# windows_leg_not_run WHAT REASON — says LOUDLY that the leg did NOT run, and exits 0.
windows_leg_not_run() {
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  echo "!!! WINDOWS $1 LEG DID NOT RUN: $2" >&2
  echo "!!! (this is not a pass)" >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  exit 0
}

# windows_toolchain WHAT — checks the Rust target and MinGW (C builds such as aws-lc-sys need
# it), else the leg did not run.
windows_toolchain() {
  local what=$1
  command -v rustup >/dev/null || windows_leg_not_run "$what" "rustup not found"
  rustup target list --installed 2>/dev/null | grep -qx "$WINDOWS_TARGET" \
    || windows_leg_not_run "$what" "Rust target $WINDOWS_TARGET is not installed (run .ci/install.d/hwsources.sh)"
  command -v x86_64-w64-mingw32-gcc >/dev/null \
    || windows_leg_not_run "$what" "MinGW (gcc-mingw-w64-x86-64) is missing"
}

# wine_setup WHAT — checks the toolchain (windows_toolchain) and Wine (else the leg did not
# run), makes a fresh Wine prefix (removed on exit) with the stand-in bcryptprimitives.dll
# (Wine 8 lacks ProcessPrng, which Rust's std imports), and exports WINEPREFIX, WINEDEBUG and cargo's runner
# for the target, so that `cargo test --target $WINDOWS_TARGET` runs the tests under Wine.
wine_setup() {
  local what=$1
  windows_toolchain "$what"
  [ -x "$WINE" ] || windows_leg_not_run "$what" "Wine (wine64) is missing"

  WINE_WORK=$(mktemp -d)
  trap 'WINEPREFIX="$WINE_WORK/prefix" /usr/lib/wine/wineserver -k >/dev/null 2>&1 || true; rm -rf "$WINE_WORK"' EXIT
  export WINEPREFIX="$WINE_WORK/prefix" WINEDEBUG=-all
  "$WINE" wineboot --init >/dev/null 2>&1 || true
  [ -d "$WINEPREFIX/drive_c/windows/system32" ] || { echo "wineboot did not create a prefix" >&2; exit 1; }
  x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    .ci/windows/bcryptprimitives.c -ladvapi32
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$WINE"
}
