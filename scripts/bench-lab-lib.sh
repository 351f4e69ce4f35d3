# shellcheck shell=bash
# Shared by scripts/bench-lab.sh and scripts/bench-lab-wireguard.sh (sourced, not run).
# Expects SECS (seconds per run), TAG (the lab's tag), BIN (vxlan-mesh) and LAB (the
# `vxlan-mesh lab --tag TAG` command line, an array).

median() { sort -g | sed -n 2p; }

# measure BASELINE: three `lab check --throughput` runs; prints the medians of the overlay
# and baseline goodput (the baseline called BASELINE) and of their ratio, and the 3 ratios.
measure() {
    local runs=()
    for _ in 1 2 3; do
        runs+=("$("${LAB[@]}" check --throughput --seconds "$SECS" --format json |
            jq -r '.throughput | "\(.overlay_bits_per_second/1e9) \(.underlay_bits_per_second/1e9) \(.ratio)"')")
    done
    local o u r
    o=$(printf '%s\n' "${runs[@]}" | awk '{print $1}' | median)
    u=$(printf '%s\n' "${runs[@]}" | awk '{print $2}' | median)
    r=$(printf '%s\n' "${runs[@]}" | awk '{print $3}' | median)
    printf 'overlay %.3f Gbit/s  %s %.3f Gbit/s  ratio %.3f  (runs: %s)\n' "$o" "$1" "$u" "$r" \
        "$(printf '%s\n' "${runs[@]}" | awk '{printf "%.3f ", $3}')"
}

# The lab's state file (`lab up` wrote it).
state() { cat "/run/vxlan-mesh-lab/$TAG.json"; }

# deploy_by_hand INVENTORY EXTRA: deploys flood mode by hand from each host's plan (BIN is
# vxlan-mesh), with extra `ip link add` VXLAN options; bridges and VXLAN devices a
# deployment made are replaced; then attaches the containers.
deploy_by_hand() {
    local inv=$1 extra=$2
    local n ns plan dev
    n=$(state | jq '.spec.hosts | length')
    for ((i = 0; i < n; i++)); do
        ns=$(state | jq -r ".spec.hosts[$i].netns")
        plan=$("$BIN" -i "$inv" plan --host "$(state | jq -r ".spec.hosts[$i].name")" --format json)
        for dev in $(jq -r '.networks[] | .bridge.name, .vxlans[].name' <<<"$plan"); do
            if ip -n "$ns" link show "$dev" >/dev/null 2>&1; then ip -n "$ns" link del "$dev"; fi
        done
        jq -r --arg extra "$extra" '.networks[] as $n |
            "link add \($n.bridge.name) type bridge",
            "link set \($n.bridge.name) mtu \($n.bridge.mtu) up",
            ($n.vxlans[] | "link add \(.name) type vxlan id \(.vni) local \(.local) dstport \(.port) \(if .learning then "learning" else "nolearning" end) \($extra)",
                "link set \(.name) mtu \(.mtu) master \($n.bridge.name) up")' <<<"$plan" | ip -n "$ns" -batch -
        jq -r '.networks[].fdb[] | "fdb append \(.mac) dev \(.device) dst \(.destination)"' <<<"$plan" |
            bridge -n "$ns" -batch -
    done
    "${LAB[@]}" attach >/dev/null
}
