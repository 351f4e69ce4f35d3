#!/usr/bin/env bash
# Benchmark: apply an encrypted flood plan with PEERS WireGuard peers on one host (a
# throwaway network namespace with its own mount namespace for wireguard-go's socket):
# first apply (WireGuard interface, key, address, every peer, bridge, VXLAN device, FDB,
# firewall), no-change re-apply, apply after one host was added (one peer set), and down.
# The peers are never reachable: apply does not wait for handshakes.
# Usage (root): scripts/bench-apply-wireguard.sh [PEERS=100] [RUNS=5]
# Needs iproute2, nftables, wireguard-tools and (without kernel WireGuard) wireguard-go.
set -euo pipefail
cd "$(dirname "$0")/.."

PEERS=${1:-100}
RUNS=${2:-5}
cargo build --release -q -p vxlan-mesh-cli
BIN=$PWD/target/release/vxlan-mesh
WORK=$(mktemp -d)
NS=vxm-wgbench-$$
MNT=$WORK/mnt
cleanup() {
    nsenter --mount="$MNT" --net="/run/netns/$NS" ip link del vxmwg0 2>/dev/null || true
    # Twice: the namespace file is mounted over its own bind mount.
    umount -l "$MNT" 2>/dev/null || true
    umount -l "$MNT" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS"
ip -n "$NS" link add ul0 type veth peer name ul1
ip -n "$NS" addr add 192.0.2.1/24 dev ul0
ip -n "$NS" link set ul0 up
touch "$MNT"
mount --bind "$MNT" "$MNT"
mount --make-private "$MNT"
unshare --mount="$MNT" --propagation private sh -c 'mkdir -p /run/wireguard && mount -t tmpfs tmpfs /run/wireguard'
in_host() { nsenter --mount="$MNT" --net="/run/netns/$NS" "$@"; }

"$BIN" keygen -q --out "$WORK/h1.key" >/dev/null
inventory() { # HOSTS FILE
    {
        printf 'encryption = "wireguard"\n[[networks]]\nname = "lan"\nvni = 1000\nbridge = "vxbr0"\n'
        for i in $(seq 1 "$1"); do
            if [ "$i" = 1 ]; then key=$(wg pubkey <"$WORK/h1.key"); else key=$(wg genkey | wg pubkey); fi
            printf '[[hosts]]\nname = "h%d"\nid = %d\naddress = "192.0.2.%d"\npublic-key = "%s"\n' "$i" "$i" "$((i + 1))" "$key"
        done
    } >"$2"
}
now() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
run() { # FILE ARGS...
    local inv=$1; shift
    in_host "$BIN" -q -i "$inv" "$@" --host h1 --force --wireguard-key "$WORK/h1.key" 2>/dev/null
}

declare -a first again grow down
for _ in $(seq 1 "$RUNS"); do
    inventory $((PEERS + 1)) "$WORK/a.toml"
    # Same keys plus one host: the grown inventory is a.toml and one more [[hosts]].
    cp "$WORK/a.toml" "$WORK/b.toml"
    printf '[[hosts]]\nname = "h%d"\nid = %d\naddress = "192.0.2.%d"\npublic-key = "%s"\n' \
        $((PEERS + 2)) $((PEERS + 2)) $((PEERS + 3)) "$(wg genkey | wg pubkey)" >>"$WORK/b.toml"
    t0=$(now); run "$WORK/a.toml" apply; t1=$(now)
    run "$WORK/a.toml" apply; t2=$(now)
    run "$WORK/b.toml" apply; t3=$(now)
    in_host "$BIN" -q -i "$WORK/b.toml" down --host h1 --wireguard-key "$WORK/h1.key"; t4=$(now)
    first+=("$(ms "$t0" "$t1")"); again+=("$(ms "$t1" "$t2")"); grow+=("$(ms "$t2" "$t3")"); down+=("$(ms "$t3" "$t4")")
    sleep 0.5
done
med() { printf '%s\n' "$@" | median; }
kernel=$([ -e /sys/module/wireguard ] && echo kernel || echo wireguard-go)
echo "| $PEERS peers, encrypted flood ($kernel), median of $RUNS | apply | re-apply (no change) | apply after adding a host | down |"
echo "|---|---|---|---|---|"
echo "| ms | $(med "${first[@]}") | $(med "${again[@]}") | $(med "${grow[@]}") | $(med "${down[@]}") |"
