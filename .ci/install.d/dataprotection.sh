#!/usr/bin/env bash
# Data protection cross-check: Python's `cryptography` in the project venv (an independent
# implementation of the payload format, written in host/tests/python_crosscheck.rs).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib.sh
source .ci/lib.sh
command -v python3 >/dev/null || apt_install python3
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
if ! { [ -x "$TROUSSEAU_VENV/bin/python" ] && "$TROUSSEAU_VENV/bin/python" -c 'import cryptography' 2>/dev/null; }; then
  pip_install 'cryptography>=42'
fi
# Certificate-protected keys (host/tests/certificate_keys.rs): xmlsec1, an independent XML
# Encryption implementation, encrypts and decrypts key secrets both ways; openssl makes the
# test certificates.
command -v xmlsec1 >/dev/null || apt_install xmlsec1
command -v openssl >/dev/null || apt_install openssl
