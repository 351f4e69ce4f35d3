# shellcheck shell=bash
# Shared by scripts/bench-lab.sh and scripts/bench-lab-wireguard.sh (sourced, not run).
# Expects SECS (seconds per run), TAG (the lab's tag) and LAB (the `vxlan-mesh lab --tag
# TAG` command line, an array).

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
