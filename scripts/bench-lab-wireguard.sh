#!/usr/bin/env bash
# Encrypted mesh: TCP goodput container→container over VXLAN inside WireGuard against
# host→host over the WireGuard link alone (the hosts' inner addresses, the same wireguard-go:
# this kernel has no WireGuard module), from `vxlan-mesh lab check --throughput`, median of
# 3 runs, in several settings:
#
#   flood      4 hosts × 2 containers, IPv4 underlay at MTU 1500, flood mode
#   per-peer   the same in per-peer mode (bridge port isolation)
#   jumbo      flood mode with `underlay-mtu = 9000` on every host (fewer, larger packets)
#   noudpcsum  flood mode, VXLAN devices re-made by hand from the plan without UDP checksums
#              (WireGuard authenticates every packet already)
#   wg-cpu     flood mode; also the CPU time wireguard-go and the whole machine spent per
#              gigabit in each direction of the comparison (one iperf3 run each)
#
# The lab makes its own keys: the public keys below belong to nobody.
# Usage: scripts/bench-lab-wireguard.sh [SECONDS_PER_RUN] [SETTING...]
#        (root; iperf3, jq, wireguard-go, wireguard-tools)
# Not a test: prints one line per setting, for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-5}
shift || true
SETTINGS=("$@")
[ ${#SETTINGS[@]} -gt 0 ] || SETTINGS=(flood per-peer jumbo)

BIN=${VXLAN_MESH:-target/release/vxlan-mesh}
[ -x "$BIN" ] || cargo build --release -q -p vxlan-mesh-cli
TAG=wgbench$$
LAB=("$BIN" lab --tag "$TAG")
INV=$(mktemp --suffix=.toml)
trap '"${LAB[@]}" down >/dev/null 2>&1 || true; rm -f "$INV"' EXIT

# inventory MODE [UNDERLAY_MTU]
inventory() {
    {
        printf 'encryption = "wireguard"\nmode = "%s"\n[wireguard]\nprefix = "192.0.2.128/25"\n' "$1"
        printf '[[networks]]\nname = "lan"\nvni = 100\nbridge = "vxbr0"\n'
        for i in 1 2 3 4; do
            printf '[[hosts]]\nname = "wg%s"\naddress = "192.0.2.%s"\npublic-key = "%s"\n' \
                "$i" "$i" "$(wg genkey | wg pubkey)"
            [ -z "${2:-}" ] || printf 'underlay-mtu = %s\n' "$2"
        done
    } >"$INV"
}

# shellcheck source=scripts/bench-lab-lib.sh
source scripts/bench-lab-lib.sh

# Clock ticks of user+system time of every wireguard-go of the lab, and of the machine.
wg_ticks() {
    local total=0 ns pid
    for ns in $(state | jq -r '.spec.hosts[].netns'); do
        for pid in $(ip netns pids "$ns"); do
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = wireguard-go ] || continue
            total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
        done
    done
    echo "$total"
}
machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

# iperf3 CLIENT_NS SERVER_NS ADDRESS: goodput (Gbit/s), wireguard-go and machine CPU
# seconds per gigabit sent.
cpu_run() {
    local hz w0 m0 gbps w1 m1
    hz=$(getconf CLK_TCK)
    ip netns exec "$2" iperf3 -s -1 -p 5299 >/dev/null 2>&1 &
    sleep 0.5
    w0=$(wg_ticks) m0=$(machine_ticks)
    gbps=$(ip netns exec "$1" iperf3 -c "$3" -p 5299 -t "$SECS" -J | jq '.end.sum_received.bits_per_second/1e9')
    w1=$(wg_ticks) m1=$(machine_ticks)
    wait
    awk -v g="$gbps" -v w=$((w1 - w0)) -v m=$((m1 - m0)) -v hz="$hz" -v s="$SECS" \
        'BEGIN { printf "%.3f Gbit/s, wireguard-go %.2f CPU-s/Gbit, machine %.2f CPU-s/Gbit (%.0f%% of 2 cores)",
                 g, w / hz / (g * s), m / hz / (g * s), 100 * m / hz / s / 2 }'
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uptime | sed "s/.*load/load/"), ${SECS}s per run, median of 3, $(wireguard-go --version 2>&1 | head -1)"
for s in "${SETTINGS[@]}"; do
    "${LAB[@]}" down >/dev/null 2>&1 || true
    case $s in
    flood | wg-cpu | noudpcsum) inventory flood ;;
    per-peer) inventory per-peer ;;
    jumbo) inventory flood 9000 ;;
    *) echo "unknown setting $s" >&2; exit 2 ;;
    esac
    "$BIN" -q -i "$INV" lab --tag "$TAG" up --containers 2
    # The plan of the lab's copy of the inventory (its keys), as deployed.
    [ "$s" != noudpcsum ] || deploy_by_hand "/run/vxlan-mesh-lab/$TAG/inventory.toml" noudpcsum
    if [ "$s" = wg-cpu ]; then
        h0=$(state | jq -r '.spec.hosts[0].netns') h1=$(state | jq -r '.spec.hosts[1].netns')
        c0=$(state | jq -r '.spec.hosts[0].containers[0].netns') c1=$(state | jq -r '.spec.hosts[1].containers[0].netns')
        a1=$(state | jq -r '.spec.hosts[1].containers[0].ipv4')
        i1=$(state | jq -r '.spec.hosts[1].inner_address')
        "${LAB[@]}" check >/dev/null # handshakes, neighbours
        printf '%-9s overlay   %s\n' "$s" "$(cpu_run "$c0" "$c1" "$a1")"
        printf '%-9s wireguard %s\n' "$s" "$(cpu_run "$h0" "$h1" "$i1")"
    else
        printf '%-9s %s\n' "$s" "$(measure wireguard)"
    fi
done
