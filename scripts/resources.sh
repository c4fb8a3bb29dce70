#!/usr/bin/env bash
# The worst inputs we know of, each run against the `trousseau` binary under `/usr/bin/time -v`
# and `timeout`: prints the exit code, peak resident memory and wall time of each, against
# its budget.
#
#   scripts/resources.sh [--release | --debug | --bin PATH] [--timeout SECONDS]
#
# Default binary: target/release/trousseau if it exists, else target/debug/trousseau (built
# with cargo when missing). Budgets: 64 MiB plus the ceiling that applies to the input (the
# payload limit, 16 MiB, for standard input; the ring ceiling, 64 MiB, for key-ring shapes),
# and one second before failing with a clear message; only a KeePass database's own KDF may
# take longer (`keepass verify` runs exactly the KDF the database asks for). Exit status: 0
# when every input is within budget, 1 otherwise. Needs GNU time (`apt-get install time`),
# coreutils, awk and mkfifo; not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=""
bin="${TROUSSEAU_BIN:-}"
limit=10
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --debug) profile=debug ;;
    --bin) bin="$2"; shift ;;
    --timeout) limit="$2"; shift ;;
    *) echo "usage: $0 [--release | --debug | --bin PATH] [--timeout SECONDS]" >&2; exit 2 ;;
  esac
  shift
done

if [ ! -x /usr/bin/time ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing GNU time (/usr/bin/time is missing)" >&2
  $sudo apt-get install -y -qq time >/dev/null
fi

if [ -z "$bin" ]; then
  if [ -z "$profile" ]; then
    if [ -x target/release/trousseau ]; then profile=release; else profile=debug; fi
  fi
  bin="$PWD/target/$profile/trousseau"
  if [ ! -x "$bin" ]; then
    flag=""; [ "$profile" = release ] && flag="--release"
    cargo build -q $flag -p trousseau-cli --bin trousseau
  fi
fi
[ -x "$bin" ] || { echo "no trousseau binary at $bin" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_DATA_HOME="$work/home/data" XDG_CONFIG_HOME="$work/home/cfg"
unset TROUSSEAU_CONFIG TROUSSEAU_PLUGIN_PATH TROUSSEAU_LOG NO_COLOR
mkdir -p "$HOME" "$XDG_CONFIG_HOME/trousseau"
printf 'correct horse battery staple\n' >"$work/pw"
pw="--password-file=$work/pw"

# --- The inputs ------------------------------------------------------------------------------

# An encrypted ring (one password slot, Argon2id 64 MiB: its KDF is the baseline of every
# command that opens it).
enc="$work/enc"
"$bin" --repository "filesystem:directory=$enc" init --source password "$pw" >/dev/null 2>&1
# An interop ring (no KDF), for the ring shapes: what is measured is reading them.
interop_config="$work/interop.toml"
printf '[data_protection]\ninterop = true\n' >"$interop_config"
ring() { # $1 = name: a fresh interop ring with its first key
  local dir="$work/$1"
  "$bin" --config "$interop_config" --repository "filesystem:directory=$dir" protect x >/dev/null 2>&1
  echo "$dir"
}
plant() { # $1 = ring dir, $2 = file name; the content on stdin
  cat >"$1/$2"
  chmod 600 "$1/$2"
}

deep="$(ring deep)" # 140,000 nested elements in 1 MiB (the element ceiling)
awk 'BEGIN { for (i = 0; i < 140000; i++) printf "<a>"; for (i = 0; i < 140000; i++) printf "</a>" }' |
  plant "$deep" deep.xml
wide_el="$(ring wide-element)" # one element with 200,000 children
awk 'BEGIN { printf "<key>"; for (i = 0; i < 200000; i++) printf "<b/>"; printf "</key>" }' |
  plant "$wide_el" wide.xml
wide="$(ring wide)" # 60,000 elements of 1 KiB: 60 MiB, just under the ring ceiling
awk -v dir="$wide" 'BEGIN {
  pad = sprintf("%1000s", ""); gsub(/ /, "x", pad)
  for (i = 0; i < 60000; i++) { f = dir "/junk-" i ".xml"; printf "<junk>%s</junk>", pad > f; close(f) }
}'
over="$(ring over)" # 70 elements of 1 MiB - 1: over the 64 MiB ring ceiling
for i in $(seq 1 70); do
  { printf '<junk>'; head -c $((1048576 - 14)) /dev/zero | tr '\0' 'x'; printf '</junk>'; } |
    plant "$over" "junk-$i.xml"
done
huge="$(ring huge)" # one 1 GiB element file (sparse): over the 1 MiB element ceiling
truncate -s 1G "$huge/huge.xml"
chmod 600 "$huge/huge.xml"
big_el="$(ring big-element)" # one element just under the element ceiling, all text
{ printf '<key>'; head -c $((1048576 - 11)) /dev/zero | tr '\0' 'x'; printf '</key>'; } |
  plant "$big_el" big.xml

mkfifo "$work/fifo"
# A slot whose KDF would need 4 TiB and 2^32 passes, planted next to the real one.
bomb="$work/bomb"
cp -r "$enc" "$bomb"
slot="$(ls "$bomb"/masterKeySlot-*.xml | head -n 1)"
sed -e 's/id="[0-9a-f-]*"/id="00000000-0000-4000-8000-00000000b0b0"/' \
  -e 's/&quot;memory_kib&quot;:[0-9]*/\&quot;memory_kib\&quot;:4294967295/' \
  -e 's/&quot;iterations&quot;:[0-9]*/\&quot;iterations\&quot;:4294967295/' "$slot" |
  plant "$bomb" masterKeySlot-00000000-0000-4000-8000-00000000b0b0.xml

# A KDBX 3.1 header asking for 2^64 - 1 AES-KDF rounds.
kdbx="$work/rounds.kdbx"
field() { printf "\\x$(printf %02x "$1")"; printf "\\x$(printf %02x $(($2 & 255)))\\x$(printf %02x $(($2 >> 8)))"; }
{
  printf '\x03\xd9\xa2\x9a\x67\xfb\x4b\xb5\x01\x00\x03\x00'
  field 2 16; printf '\x31\xc1\xf2\xe6\xbf\x71\x43\x50\xbe\x58\x05\x21\x6a\xfc\x5a\xff'
  field 3 4; printf '\x00\x00\x00\x00'
  field 4 32; head -c 32 /dev/urandom
  field 5 32; head -c 32 /dev/urandom
  field 6 8; printf '\xff\xff\xff\xff\xff\xff\xff\xff'
  field 7 16; head -c 16 /dev/urandom
  field 8 32; head -c 32 /dev/urandom
  field 9 32; head -c 32 /dev/urandom
  field 10 4; printf '\x02\x00\x00\x00'
  field 0 4; printf '\r\n\r\n'
  head -c 64 /dev/urandom
} >"$kdbx"

# --- Running them -----------------------------------------------------------------------------

failures=0
printf '%-26s %5s %9s %8s %9s  %-4s %s\n' input exit "RSS MiB" "wall s" "budget" "" "what it said (stderr, last line)"
measure() { # $1 = name, $2 = memory budget in MiB, $3 = time budget in s ("-": none), $4 = stdin, then the arguments
  local name="$1" budget="$2" seconds="$3" input="$4"
  shift 4
  local code=0
  # time is outside timeout, so that it still reports when timeout kills the command (then
  # exit 124); the peak RSS is the largest of timeout's children, i.e. trousseau's.
  /usr/bin/time -v -o "$work/stats" timeout -k 2 "$limit" "$bin" "$@" \
    <"$input" >/dev/null 2>"$work/stderr" || code=$?
  local rss wall verdict=ok said
  rss="$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$work/stats")"
  wall="$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.2f", s }' "$work/stats")"
  said="$(tail -n 1 "$work/stderr" | cut -c 1-110)"
  [ -n "$said" ] || said="(nothing)"
  if [ -z "$rss" ] || awk -v r="$rss" -v b="$budget" 'BEGIN { exit !(r > b) }'; then verdict=OVER; fi
  if [ "$seconds" != - ] && { [ "$code" -eq 124 ] || awk -v w="$wall" -v s="$seconds" 'BEGIN { exit !(w > s) }'; }; then
    verdict=SLOW
  fi
  [ "$verdict" = ok ] || failures=$((failures + 1))
  printf '%-26s %5s %9s %8s %6s MiB  %-4s %s\n' "$name" "$code" "${rss:-?}" "${wall:-?}" "$budget" "$verdict" "$said"
}
giant() { # $1 = bytes: a pipe of that many zero bytes
  head -c "$1" /dev/zero
}
keepass_password() {
  printf 'pw\n'
}

measure "baseline: keys list" 128 1 /dev/null --repository "filesystem:directory=$enc" keys list "$pw"
measure "deep XML element" 128 1 /dev/null --config "$interop_config" --repository "filesystem:directory=$deep" keys list
measure "wide XML element" 128 1 /dev/null --config "$interop_config" --repository "filesystem:directory=$wide_el" keys list
measure "wide ring (60k elements)" 128 1 /dev/null --config "$interop_config" --repository "filesystem:directory=$wide" keys list
measure "ring over 64 MiB" 128 1 /dev/null --config "$interop_config" --repository "filesystem:directory=$over" keys list
measure "1 GiB element file" 128 1 /dev/null --config "$interop_config" --repository "filesystem:directory=$huge" keys list
measure "1 MiB element of text" 128 1 /dev/null --config "$interop_config" --repository "filesystem:directory=$big_el" keys list
measure "FIFO: keyfile inspect" 64 1 /dev/null keyfile inspect "$work/fifo"
measure "FIFO: init --source keyfile" 64 1 /dev/null --repository "filesystem:directory=$work/r1" init --source "keyfile:path=$work/fifo"
measure "FIFO: --password-file" 64 1 /dev/null --repository "filesystem:directory=$enc" keys list --password-file "$work/fifo"
measure "FIFO: keepass database" 64 1 /dev/null keepass verify --no-password --keyfile /dev/null "$work/fifo"
measure "/dev/zero: keyfile inspect" 64 1 /dev/null keyfile inspect /dev/zero
measure "/dev/zero: init --source" 64 1 /dev/null --repository "filesystem:directory=$work/r2" init --source keyfile:path=/dev/zero
# Standard input: 1 GiB of zeros through a pipe (head exits when trousseau stops reading).
exec 3< <(giant 1073741824)
measure "1 GiB stdin: protect" 80 1 /dev/fd/3 --repository "filesystem:directory=$enc" protect "$pw"
exec 3<&-
exec 3< <(giant 1073741824)
measure "1 GiB stdin: unprotect" 80 1 /dev/fd/3 --repository "filesystem:directory=$enc" unprotect "$pw"
exec 3<&-
exec 3< <(giant 1073741824)
measure "1 GiB stdin: unprotect --lines" 80 1 /dev/fd/3 --repository "filesystem:directory=$enc" unprotect --lines "$pw"
exec 3<&-
measure "slot with a KDF bomb" 128 1 /dev/null --repository "filesystem:directory=$bomb" keys list "$pw"
exec 3< <(keepass_password)
measure "KDBX: 2^64 AES-KDF rounds" 64 - /dev/fd/3 keepass verify --password-stdin "$kdbx"
exec 3<&-

echo
if [ "$failures" -eq 0 ]; then
  echo "every input within budget (${limit}s timeout; budgets: 64 MiB + the ceiling that applies)"
else
  echo "$failures input(s) over budget"
  exit 1
fi
