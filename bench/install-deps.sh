#!/usr/bin/env bash
# Installs what `make bench` needs beyond scripts/install-deps.sh: the
# reference tunnels (OpenVPN 2.6, wireguard-go with wg) and openssl for the
# throwaway OpenVPN CA. Says what it installs; installs nothing already there.
set -euo pipefail
packages=(iperf3 iputils-ping iproute2 iptables procps openssl openvpn wireguard-go wireguard-tools)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench: installing missing packages with apt-get: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "bench: installed ${missing[*]}"
fi
