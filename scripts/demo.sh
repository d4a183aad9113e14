#!/usr/bin/env bash
# make demo: two network namespaces on this host joined by a veth pair
# (TEST-NET-1 addresses), a sealtun tunnel over UDP between them, real
# traffic through it, the figures, and everything torn down again.
set -euo pipefail
cd "$(dirname "$0")/.."

tag="$$"
ns_a="sealtun-demo-a-$tag"
ns_b="sealtun-demo-b-$tag"
work="$(mktemp -d /tmp/sealtun-demo.XXXXXX)"
sealtun=("$(command -v node)" "$PWD/bin/sealtun")

cleanup() {
  set +e
  for side in a b; do
    ns="sealtun-demo-$side-$tag"
    SEALTUN_RUN_DIR="$work/run-$side" ip netns exec "$ns" "${sealtun[@]}" down demo0 >/dev/null 2>&1
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "keys (keys/demo-a, keys/demo-b)"
a_pub=$("${sealtun[@]}" keygen --force keys/demo-a)
b_pub=$("${sealtun[@]}" keygen --force keys/demo-b)
echo "A public key: $a_pub"
echo "B public key: $b_pub"

step "two hosts: $ns_a (192.0.2.1) <-veth-> $ns_b (192.0.2.2)"
ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "dva$tag" netns "$ns_a" type veth peer name "dvb$tag" netns "$ns_b"
ip -n "$ns_a" addr add 192.0.2.1/24 dev "dva$tag"
ip -n "$ns_b" addr add 192.0.2.2/24 dev "dvb$tag"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set "dva$tag" up
ip -n "$ns_b" link set "dvb$tag" up

cat >"$work/a.conf" <<CONF
[Interface]
Name = demo0
PrivateKey = $PWD/keys/demo-a.key
Address = 10.77.0.1/24

[Peer]
PublicKey = $b_pub
Endpoint = 192.0.2.2:51820
AllowedIPs = 10.77.0.2/32
CONF
cat >"$work/b.conf" <<CONF
[Interface]
Name = demo0
PrivateKey = $PWD/keys/demo-b.key
Address = 10.77.0.2/24
ListenPort = 51820

[Peer]
PublicKey = $a_pub
AllowedIPs = 10.77.0.1/32
CONF

step "sealtun up (UDP)"
# Each host gets its own run directory, as two real machines would have.
SEALTUN_RUN_DIR="$work/run-b" ip netns exec "$ns_b" "${sealtun[@]}" up --daemon "$work/b.conf"
SEALTUN_RUN_DIR="$work/run-a" ip netns exec "$ns_a" "${sealtun[@]}" up --daemon "$work/a.conf"

step "ping across the tunnel (10.77.0.1 -> 10.77.0.2)"
for _ in $(seq 50); do ip netns exec "$ns_a" ping -c1 -W1 10.77.0.2 >/dev/null 2>&1 && break; sleep 0.1; done
ip netns exec "$ns_a" ping -c 10 -i 0.1 10.77.0.2 | tail -2

step "move a 64 MiB file through the tunnel and compare SHA-256"
head -c $((64 << 20)) /dev/urandom >"$work/payload.bin"
ip netns exec "$ns_b" socat -u TCP-LISTEN:5001,bind=10.77.0.2,reuseaddr "OPEN:$work/received.bin,creat,trunc" &
sink=$!
for _ in $(seq 50); do ip netns exec "$ns_b" ss -Hltn 'sport = :5001' | grep -q 5001 && break; sleep 0.1; done
start=$(date +%s.%N)
ip netns exec "$ns_a" socat -u "OPEN:$work/payload.bin" TCP:10.77.0.2:5001
wait "$sink"
end=$(date +%s.%N)
sent=$(sha256sum <"$work/payload.bin" | cut -d' ' -f1)
got=$(sha256sum <"$work/received.bin" | cut -d' ' -f1)
echo "sent     sha256 $sent"
echo "received sha256 $got"
awk -v s="$start" -v e="$end" 'BEGIN { t = e - s; printf "64 MiB in %.2f s = %.0f Mbit/s through the tunnel\n", t, 64 * 8 * 1.048576 / t }'
[ "$sent" = "$got" ] || { echo "HASH MISMATCH"; exit 1; }

step "sealtun status (A)"
SEALTUN_RUN_DIR="$work/run-a" ip netns exec "$ns_a" "${sealtun[@]}" status
step "sealtun status (B)"
SEALTUN_RUN_DIR="$work/run-b" ip netns exec "$ns_b" "${sealtun[@]}" status

step "sealtun down, namespaces removed"
SEALTUN_RUN_DIR="$work/run-a" ip netns exec "$ns_a" "${sealtun[@]}" down demo0
SEALTUN_RUN_DIR="$work/run-b" ip netns exec "$ns_b" "${sealtun[@]}" down demo0
echo "demo complete"
