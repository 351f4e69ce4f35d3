#!/usr/bin/env bash
# Wall time of `vxlan-mesh probe` from one host to N peers, in a `vxlan-mesh lab` built with
# `--via none` (namespaces and the underlay switch only: probe needs no overlay), median of
# RUNS runs, in three settings:
#
#   healthy     every peer reachable, full 1500-byte path
#   down        as healthy, 10 peers cut off at the switch (`lab cut`)
#   black-hole  as healthy, 10 peers whose underlay device has MTU 1400 (bigger frames vanish
#               at the veth, no ICMP error: only the binary search finds 1400)
#   known-mtu   as healthy, 10 peers behind a route with MTU 1400 on the prober: the kernel
#               refuses bigger packets at once, as after a router's "fragmentation needed"
#               (the path MTU it then caches)
#
# Usage: scripts/bench-probe.sh [PEERS] [RUNS] [TIMEOUT]   (root; iputils-ping, jq)
# Not a test: prints one line per setting, for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-100}
RUNS=${2:-5}
TIMEOUT=${3:-1}
[ "$N" -ge 11 ] && [ "$N" -le 253 ] || { echo "PEERS must be 11..253" >&2; exit 1; }

BIN=${VXLAN_MESH:-target/release/vxlan-mesh}
[ -x "$BIN" ] || cargo build --release -q -p vxlan-mesh-cli
BIN=$(realpath "$BIN")
TAG=probe$$
INV=$(mktemp --suffix=.toml)
LAB=("$BIN" -q -i "$INV" lab --tag "$TAG")
trap '"${LAB[@]}" down >/dev/null 2>&1 || true; rm -f "$INV"' EXIT

{
    printf '[[networks]]\nname = "lan"\nvni = 100\nbridge = "vxbr0"\n'
    for i in $(seq 1 $((N + 1))); do
        printf '\n[[hosts]]\nname = "h%d"\naddress = "192.0.2.%d"\n' "$i" "$i"
    done
} >"$INV"
"${LAB[@]}" up --via none --containers 1 >/dev/null
# The prober is the first host; its namespace is the lab's first host namespace.
NS=vxm-$TAG-h0

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# Prints "median_ms verdicts" for RUNS runs of probe.
measure() {
    local times=() verdicts
    for _ in $(seq "$RUNS"); do
        local t0 t1
        t0=$(date +%s%N)
        verdicts=$(ip netns exec "$NS" "$BIN" -i "$INV" probe --host h1 --timeout "$TIMEOUT" --format json |
            jq -r '[.peers[].verdict] | group_by(.) | map("\(.[0])=\(length)") | join(",")') || true
        t1=$(date +%s%N)
        times+=($(((t1 - t0) / 1000000)))
    done
    echo "$(printf '%s\n' "${times[@]}" | median) ms ($verdicts; runs: ${times[*]})"
}

echo "healthy:    $(measure)"
for i in $(seq 2 11); do "${LAB[@]}" cut "h$i" >/dev/null; done
echo "down:       $(measure)"
for i in $(seq 2 11); do
    "${LAB[@]}" heal "h$i" >/dev/null
    ip -n "vxm-$TAG-h$((i - 1))" link set ul0 mtu 1400
done
echo "black-hole: $(measure)"
for i in $(seq 2 11); do
    ip -n "vxm-$TAG-h$((i - 1))" link set ul0 mtu 1500
    ip -n "$NS" route add "192.0.2.$i/32" dev ul0 mtu 1400
done
echo "known-mtu:  $(measure)"
