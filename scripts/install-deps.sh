#!/usr/bin/env bash
# Installs the Debian packages sealtun's demo and tests use, plus any named
# as arguments, if missing. Says what it installs; installs nothing already there.
set -euo pipefail
packages=(iproute2 iptables iputils-ping iperf3 tcpdump socat procps "$@")
packages+=(systemd) # systemd-analyze: test/packaging verifies the unit as `make install` installs it
# DNS = tests (test/helpers/private-resolver.ts): openresolv has no install
# scripts, so installing it leaves the host's /etc/resolv.conf alone (Debian's
# resolvconf package would turn it into a symlink to /run/resolvconf).
packages+=(openresolv)
# The system libsodium, which the data path's AEAD prefers (src/crypto/aead/select.ts);
# without it (e.g. after a bare `npm install -g`) sealtun seals with sodium-native.
packages+=(libsodium23)
missing=()
packages+=(nftables) # nft: the kill switch (src/host/kill-switch.ts) and its tests
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing missing packages with apt-get: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
