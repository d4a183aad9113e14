#!/usr/bin/env bash
# What `make bench` needs beyond the tests: the reference tunnels (OpenVPN 2.6,
# wireguard-go with wg) and openssl for the throwaway OpenVPN CA.
set -euo pipefail
exec bash "$(dirname "$0")/../scripts/install-deps.sh" openssl openvpn wireguard-go wireguard-tools
