#!/usr/bin/env bash
# What cli/tests/cli_help.rs needs to check the generated shell completions and manual pages:
# bash (sources the completion script and runs its completion function) and groff (renders
# every page with -ww and fails on a warning). Installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib.sh
source .ci/lib.sh
command -v bash >/dev/null || apt_install bash
command -v groff >/dev/null || apt_install groff-base
