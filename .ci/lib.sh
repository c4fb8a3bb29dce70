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
