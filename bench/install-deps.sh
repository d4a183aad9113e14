#!/usr/bin/env bash
# What `make bench` needs beyond the tests: the reference tunnels (OpenVPN 2.6,
# wireguard-go with wg) and openssl for the throwaway OpenVPN CA.
#
# wireguard-go is the benchmark's anchor, and bookworm's own build
# (0.0.20220316) predates wireguard-go's offloads (TSO/USO through the TUN,
# UDP GSO/GRO on the socket), which more than double its throughput. So on
# Debian bookworm this enables bookworm-backports, whose 0.0.20231211 has them
# (it reports itself as v0.0.20230223), and installs wireguard-go from there.
# The backports entry is derived from the machine's own Debian source (same
# mirror, components and signing key; suite bookworm-backports), so no mirror
# is named here. Safe to run again: nothing is added or installed twice.
#
#   bash bench/install-deps.sh                 install what is missing
#   bash bench/install-deps.sh --print-entry   only print the derived entry
#     (BENCH_APT_DIR and BENCH_CODENAME replace /etc/apt and the release's
#     codename; the test in test/bench/ uses them)
set -euo pipefail
here="$(dirname "$0")"
print_only=0
[ "${1:-}" = --print-entry ] && print_only=1
[ "$print_only" = 1 ] || bash "$here/../scripts/install-deps.sh" openssl openvpn wireguard-tools

codename="${BENCH_CODENAME:-$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")}"
if [ "$codename" != bookworm ] && [ "$print_only" = 0 ]; then
  # Other releases: their own wireguard-go; the report names its version.
  exec bash "$here/../scripts/install-deps.sh" wireguard-go
fi

suite="$codename-backports"
apt_dir="${BENCH_APT_DIR:-/etc/apt}"
# Only files apt reads count (a *.list.disabled or *.sources.bak does not).
sources=()
[ -f "$apt_dir/sources.list" ] && sources+=("$apt_dir/sources.list")
for f in "$apt_dir"/sources.list.d/*.list "$apt_dir"/sources.list.d/*.sources; do
  [ -f "$f" ] && sources+=("$f")
done

# The machine's Debian archive entry for $codename, rewritten for $suite:
# deb822 stanzas (*.sources) and one-line entries (*.list) alike.
derive_deb822() {
  awk -v want="$codename" -v suite="$suite" '
    function flush() {
      if (uris != "" && has && types ~ /(^| )deb( |$)/) {
        print "Types: deb"; print "URIs: " uris; print "Suites: " suite
        print "Components: " comps; if (signed != "") print "Signed-By: " signed
        done = 1; exit
      }
      uris = ""; comps = ""; signed = ""; types = ""; has = 0
    }
    /^[[:space:]]*$/ { flush(); next }
    /^#/ || /^[[:space:]]/ { next }  # comments; continuation lines (an inline key)
    { key = $1; sub(/:$/, "", key); val = $0; sub(/^[^:]*:[[:space:]]*/, "", val) }
    key == "Types" { types = val }
    key == "URIs" { uris = val }
    key == "Components" { comps = val }
    key == "Signed-By" { signed = val }
    key == "Enabled" && tolower(val) == "no" { types = "" }
    key == "Suites" { n = split(val, s, /[[:space:]]+/); for (i = 1; i <= n; i++) if (s[i] == want) has = 1 }
    END { if (!done) flush() }
  ' "$1"
}
derive_one_line() {
  awk -v want="$codename" -v suite="$suite" '
    $1 == "deb" {
      i = 2; opts = ""
      if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { opts = opts $i " "; i++ } opts = opts $i " "; i++ }
      if ($(i + 1) != want) next
      line = "deb " opts $i " " suite
      for (j = i + 2; j <= NF; j++) line = line " " $j
      print line; exit
    }
  ' "$1"
}

if [ "$print_only" = 1 ] || ! grep -qsw -- "$suite" "${sources[@]}"; then
  entry=""
  for f in "${sources[@]}"; do
    case "$f" in
      *.sources) entry="$(derive_deb822 "$f")"; ext=sources ;;
      *) entry="$(derive_one_line "$f")"; ext=list ;;
    esac
    [ -n "$entry" ] && break
  done
  if [ "$print_only" = 1 ]; then
    [ -n "$entry" ] && printf '%s\n' "$entry"
    exit 0
  fi
  if [ -z "$entry" ]; then
    echo "bench/install-deps.sh: no Debian $codename source in $apt_dir to derive $suite from; installing $codename's wireguard-go (the report labels it)" >&2
    exec bash "$here/../scripts/install-deps.sh" wireguard-go
  fi
  target="$apt_dir/sources.list.d/$suite.$ext"
  echo "enabling $suite ($target, derived from $f)"
  printf '# Added by sealtun bench/install-deps.sh for wireguard-go with offloads.\n%s\n' "$entry" >"$target"
fi

# apt-get update only when apt has no package list of $suite yet.
if ! apt-cache madison wireguard-go 2>/dev/null | grep -q -- " $suite/"; then
  echo "apt-get update (for $suite)"
  apt-get update -qq -o DPkg::Lock::Timeout=300
fi
want="$(apt-cache madison wireguard-go | awk -v s=" $suite/" 'index($0, s) { print $3; exit }')"
have="$(dpkg-query -W -f='${Version}' wireguard-go 2>/dev/null || true)"
if [ -z "$want" ]; then
  echo "bench/install-deps.sh: $suite has no wireguard-go; installing $codename's (the report labels it)" >&2
  exec bash "$here/../scripts/install-deps.sh" wireguard-go
fi
if [ "$have" != "$want" ]; then
  echo "installing wireguard-go $want from $suite (installed: ${have:-none})"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends -t "$suite" wireguard-go >/dev/null
fi
