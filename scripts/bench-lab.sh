#!/usr/bin/env bash
# Overlay/underlay TCP goodput ratio from `vxlan-mesh lab check --throughput` on the 4-host
# example (flood mode), median of 3 runs, in several settings:
#
#   shaped      underlay switch ports shaped with tc tbf (`lab up --underlay-rate 1gbit`)
#   unshaped    plain veth underlay, deployed by `lab up --via netlink` (plan defaults)
#   noudpcsum   unshaped, VXLAN devices without UDP checksums (deployed by hand from the plan)
#   vxlan-nogro unshaped, GRO off on the VXLAN devices (ethtool)
#   ul-gro      unshaped, GRO on on the hosts' underlay veths (like a real NIC; ethtool)
#   mtu1400     unshaped, overlay MTU 1400 instead of the plan's 1450 (inventory `mtu`)
#
# Usage: scripts/bench-lab.sh [SECONDS_PER_RUN] [SETTING...]   (root; iperf3, jq, ethtool)
# Not a test: prints one line per setting, for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-5}
shift || true
SETTINGS=("$@")
[ ${#SETTINGS[@]} -gt 0 ] || SETTINGS=(shaped unshaped noudpcsum vxlan-nogro ul-gro mtu1400)

BIN=${VXLAN_MESH:-target/release/vxlan-mesh}
[ -x "$BIN" ] || cargo build --release -q -p vxlan-mesh-cli
INV=examples/classic-geo.toml
TAG=bench$$
LAB=("$BIN" lab --tag "$TAG")
trap '"${LAB[@]}" down >/dev/null 2>&1 || true; rm -f "$TMPINV"' EXIT
TMPINV=$(mktemp --suffix=.toml)

# shellcheck source=scripts/bench-lab-lib.sh
source scripts/bench-lab-lib.sh

each_host() { # runs "$@" with {} replaced by each host namespace
    for ns in $(state | jq -r '.spec.hosts[].netns'); do "${@//\{\}/$ns}"; done
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uptime | sed "s/.*load/load/"), ${SECS}s per run, median of 3"
for s in "${SETTINGS[@]}"; do
    "${LAB[@]}" down >/dev/null 2>&1 || true
    inv=$INV
    case $s in
    shaped) "$BIN" -q -i "$inv" lab --tag "$TAG" up --underlay-rate 1gbit ;;
    unshaped) "$BIN" -q -i "$inv" lab --tag "$TAG" up ;;
    noudpcsum)
        "$BIN" -q -i "$inv" lab --tag "$TAG" up --via none
        deploy_by_hand "$INV" noudpcsum
        ;;
    vxlan-nogro)
        "$BIN" -q -i "$inv" lab --tag "$TAG" up
        each_host ip netns exec {} ethtool -K vxm100 gro off
        ;;
    ul-gro)
        "$BIN" -q -i "$inv" lab --tag "$TAG" up
        each_host ip netns exec {} ethtool -K ul0 gro on
        ;;
    mtu1400)
        sed 's/^bridge = "vxbr0"/&\nmtu = 1400/' "$INV" >"$TMPINV"
        "$BIN" -q -i "$TMPINV" lab --tag "$TAG" up
        ;;
    *) echo "unknown setting $s" >&2; exit 2 ;;
    esac
    printf '%-12s %s\n' "$s" "$(measure underlay)"
done
