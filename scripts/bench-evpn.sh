#!/usr/bin/env bash
# mode = "evpn" (FRR, BGP EVPN) against flood mode, on a lab of HOSTS hosts (default 24) with
# one container each, plus one host that joins later:
#
#   broadcast   underlay packets the switch receives for one broadcast (ping -b) from a container
#   arp         underlay packets for one ARP request from h1's container for h2's, after warm-up
#               (evpn: the bridges learnt their containers from a gratuitous ARP with
#               arp_accept on, which apply sets, FRR announced them, the local bridge answers)
#   join        seconds from `apply` on the new host (evpn: on it only; flood: the new
#               inventory on every host, one after the other) until its container answers a
#               ping from every other container's address (pinged from it, all at once)
#   fdb         h1's FDB entries on its VXLAN device after h1's container pinged every other
#               container: flood entries / MAC entries
#
# Usage: scripts/bench-evpn.sh [HOSTS]   (root; release build; FRR 8.4, jq, iputils-arping)
# Not a test: prints one line per mode, for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

HOSTS=${1:-24}
BIN=${VXLAN_MESH:-target/release/vxlan-mesh}
[ -x "$BIN" ] || cargo build --release -q -p vxlan-mesh-cli
TAG=bevpn$$
DIR=$(mktemp -d)
# The kernel's neighbour table is one for all namespaces of the machine: a lab of 24 hosts
# whose bridges each know 24 containers holds 576 entries, above the default gc_thresh2
# (512), and the garbage collector then drops the entries the bridges learnt from gratuitous
# ARP (zebra withdraws them, ARP suppression stops). Real hosts have a table each: raise
# the thresholds for the run, restored on exit.
GC1=$(sysctl -n net.ipv4.neigh.default.gc_thresh1)
GC2=$(sysctl -n net.ipv4.neigh.default.gc_thresh2)
restore() {
    "$BIN" lab --tag "$TAG" down >/dev/null 2>&1 || true
    rm -rf "$DIR"
    sysctl -qw net.ipv4.neigh.default.gc_thresh1="$GC1" net.ipv4.neigh.default.gc_thresh2="$GC2"
}
trap restore EXIT
sysctl -qw net.ipv4.neigh.default.gc_thresh1=8192 net.ipv4.neigh.default.gc_thresh2=8192

# inventory MODE N: hosts h1..hN on 192.0.2.0/24 (evpn: h1 and h2 reflect).
inventory() {
    local mode=$1 n=$2
    if [ "$mode" = evpn ]; then
        printf 'mode = "evpn"\n[evpn]\nunderlay-prefix = "192.0.2.0/24"\n'
    fi
    printf '[[networks]]\nname = "lan"\nvni = 100\nbridge = "vxbr0"\n'
    for ((i = 1; i <= n; i++)); do
        printf '[[hosts]]\nname = "h%d"\naddress = "192.0.2.%d"\n' "$i" "$i"
        if [ "$mode" = evpn ] && [ "$i" -le 2 ]; then printf 'route-reflector = true\n'; fi
    done
}

state() { cat "/run/vxlan-mesh-lab/$TAG.json"; }
ns_of() { state | jq -r ".spec.hosts[$(($1 - 1))].netns"; }
container_of() { state | jq -r ".spec.hosts[$(($1 - 1))].containers[0].netns"; }
ip_of() { state | jq -r ".spec.hosts[$(($1 - 1))].containers[0].ipv4"; }

# apply INVENTORY HOST: `vxlan-mesh apply` in the host's namespace, with its FRR instance.
apply() {
    ip netns exec "$(ns_of "$2")" "$BIN" -q -i "$1" apply --host "h$2" \
        --frr-pathspace "$(ns_of "$2")" --frr-vty-dir "/run/vxlan-mesh-lab/$TAG/frr"
}

attach() { # attach HOST: its containers to their bridge
    state | jq -r ".spec.hosts[$(($1 - 1))].containers[] | \"link set \(.host_ifname) master \(.bridge) up\"" |
        ip -n "$(ns_of "$1")" -batch -
}

# Underlay packets the switch received from all hosts so far.
underlay() {
    ip -n "$(state | jq -r .spec.switch)" -j -s link show |
        jq '[.[] | select(.ifname | test("^p")) | .stats64.rx.packets] | add'
}

# Packets over 1 s after running "$@", minus the background of the 2 s before it (BGP
# keepalives: a few a second in evpn mode), median of 5. Each run waits for a quiet
# underlay first (at most 10 packets in 2 s: a lab that just came up, evpn's above all,
# sends bursts of hundreds for a while).
packets_for() {
    local runs=()
    for _ in 1 2 3 4 5; do
        local background=11
        while [ "$background" -gt 10 ]; do
            local a
            a=$(underlay)
            sleep 2
            background=$(($(underlay) - a))
        done
        local before
        before=$(underlay)
        "$@" >/dev/null 2>&1 || true
        sleep 1
        local n=$(($(underlay) - before - background / 2))
        runs+=("$((n < 0 ? 0 : n))")
    done
    printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p
}

# reaches FROM N: host FROM's container gets an answer from the container of every other
# host 1..N (all pinged at once, one try each).
reaches() {
    local from=$1 n=$2 c pids=() ok=0
    c=$(container_of "$from")
    for ((i = 1; i <= n; i++)); do
        [ "$i" -eq "$from" ] && continue
        ip netns exec "$c" ping -n -q -c 1 -W 1 "$(ip_of "$i")" >/dev/null 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || ok=1; done
    return $ok
}

bench() {
    local mode=$1 n=$((HOSTS + 1))
    inventory "$mode" "$HOSTS" >"$DIR/$mode-old.toml"
    inventory "$mode" "$n" >"$DIR/$mode-new.toml"
    "$BIN" -q -i "$DIR/$mode-new.toml" lab --tag "$TAG" up --containers 1 --via none
    for ((h = 1; h <= HOSTS; h++)); do apply "$DIR/$mode-old.toml" "$h"; attach "$h"; done
    # h1's container reaches every other (FRR converges in seconds).
    until reaches 1 "$HOSTS"; do sleep 0.5; done
    local c1 broadcast arp join fdb
    c1=$(container_of 1)
    broadcast=$(packets_for ip netns exec "$c1" ping -b -n -q -c 1 -W 1 "$(ip_of 1 | sed 's/\.[0-9]*$/.255/')")
    if [ "$mode" = evpn ]; then
        for ((h = 1; h <= HOSTS; h++)); do
            ip netns exec "$(container_of "$h")" arping -q -U -c 1 -I eth0 "$(ip_of "$h")" || true
        done
        # Until FRR brought h2's container's address to h1's bridge (at most 20 s).
        for _ in $(seq 100); do
            ip -n "$(ns_of 1)" neigh show dev vxbr0 "$(ip_of 2)" | grep -q extern_learn && break
            sleep 0.2
        done
    fi
    arp=$(packets_for sh -c "ip netns exec $c1 ip neigh flush all; ip netns exec $c1 arping -q -c 1 -w 1 -I eth0 $(ip_of 2)")
    fdb=$(bridge -n "$(ns_of 1)" fdb show dev vxm100 |
        awk '/^00:00:00:00:00:00/ {f++; next} /dst/ {m++} END {printf "%d flood / %d MAC", f, m}')
    local start end
    start=$(date +%s.%N)
    if [ "$mode" = evpn ]; then
        apply "$DIR/$mode-new.toml" "$n"
    else
        for ((h = 1; h <= n; h++)); do apply "$DIR/$mode-new.toml" "$h"; done
    fi
    attach "$n"
    until reaches "$n" "$n"; do :; done
    end=$(date +%s.%N)
    join=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
    printf '%-6s %d hosts: broadcast %s underlay packets, ARP request %s, join %.1f s, h1 FDB %s\n' \
        "$mode" "$HOSTS" "$broadcast" "$arp" "$join" "$fdb"
    "$BIN" lab --tag "$TAG" down >/dev/null
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uptime | sed "s/.*load/load/"), $HOSTS hosts + 1 joining, 1 container each"
bench evpn
bench flood
