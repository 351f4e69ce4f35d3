#!/usr/bin/env bash
# Benchmark: apply an N-peer plan on one host (in a throwaway network namespace) with
#   1. `vxlan-mesh apply` (netlink, pipelined in bounded chunks), its no-change re-apply,
#      and `status` on the converged host;
#   2. the same objects with `ip -batch` + `bridge -batch` (commands from `apply --dry-run`,
#      in their order: consecutive ip/bridge lines in one batch), and the ratio of (1) to (2);
#   3. one process per command, as the classic script does (sampled, then extrapolated),
#      plus the classic script's N(N-1) ebtables rules (sampled on an empty chain: a lower
#      bound, since each ebtables call gets slower as the chain grows).
# With several sizes, each row after the first also gives the cost per added peer (the
# apply time's growth from the previous size, divided by the peers added).
# Usage (root): scripts/bench-apply.sh [PEERS=500] [RUNS=5] [MODES="isolation ebtables flood"]
#   PEERS is one size or a list ("1000 5000 10000").
# Prints a Markdown table for BENCHMARKS.md. Needs iproute2 and ebtables.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${1:-500}
RUNS=${2:-5}
MODES=${3:-isolation ebtables flood}
SAMPLE=100
cargo build --release -q -p vxlan-mesh-cli
BIN=${VXM_BIN:-$PWD/target/release/vxlan-mesh}
WORK=$(mktemp -d)
NS=vxm-bench-$$
cleanup() {
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# One namespace for the whole run, emptied between runs: deleting a namespace with 500
# devices frees them in the background under the rtnl lock, which would slow the next run.
fresh_ns() {
    ip netns add "$NS" 2>/dev/null || true
    ip netns exec "$NS" "$BIN" -q down
    # Leftovers of the one-process-per-command sample (a device cut off before its alias).
    for dev in $(ip -n "$NS" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -e '^vxm' -e '^vxbr'); do
        ip -n "$NS" link del "$dev"
    done
    ip netns exec "$NS" ebtables -t filter -F FORWARD
    sleep 0.5
}
in_ns() { ip netns exec "$NS" "$@"; }
# The dry-run's commands as a script in the same order, each run of consecutive `ip` (or
# `bridge`) lines one `ip -batch` (`bridge -batch`) process: the `sysctl -w` of the IPv6
# hardening must come between a device's creation and its `up`, and the ebtables chain
# (ebtables mode) before the ports, as apply does them.
batches() { # CMDS
    awk -v dir="$WORK" '
        /^#/ || NF == 0 { next }
        {
            tool = ($1 == "ip" || $1 == "bridge") ? $1 : ""
            if (tool != "" && tool == last) { print substr($0, length(tool) + 2) >> file; next }
            if (tool != "") {
                n++; file = dir "/batch" n; printf "" > file
                print substr($0, length(tool) + 2) >> file
                print tool " -batch " file
            } else {
                print
            }
            last = tool
        }' "$1"
}

inventory() { # MODE FILE
    {
        if [ "$1" != flood ]; then
            printf 'mode = "per-peer"\nloop-prevention = "%s"\n' "$1"
        fi
        # The firewall is not part of the comparison (the classic script has none).
        printf 'firewall = false\n[[networks]]\nname = "lan"\nvni = 1000\nbridge = "vxbr0"\n'
        for i in $(seq 1 $((PEERS + 1))); do
            printf '[[hosts]]\nname = "h%d"\nid = %d\naddress = "2001:db8::%x"\n' "$i" "$i" "$i"
        done
    } >"$2"
}

echo "| mode | peers | vxlan-mesh apply | re-apply (no change) | status | ip -batch + bridge -batch | ratio apply / batch | apply cost per added peer | one process per command (extrapolated) |"
echo "|---|---|---|---|---|---|---|---|---|"
for mode in $MODES; do
    prev_peers='' prev_apply=''
    for PEERS in $SIZES; do
        inv=$WORK/$mode-$PEERS.toml
        inventory "$mode" "$inv"

        apply=() reapply=() status=() batch=()
        for _ in $(seq "$RUNS"); do
            fresh_ns
            t0=$(now); in_ns "$BIN" -q -i "$inv" apply --host h1 --force; t1=$(now)
            in_ns "$BIN" -q -i "$inv" apply --host h1 --force; t2=$(now)
            in_ns "$BIN" -q -i "$inv" status --host h1 >/dev/null; t3=$(now)
            apply+=("$(ms "$t0" "$t1")") reapply+=("$(ms "$t1" "$t2")") status+=("$(ms "$t2" "$t3")")

            fresh_ns
            in_ns "$BIN" -i "$inv" apply --host h1 --dry-run >"$WORK/cmds"
            batches "$WORK/cmds" >"$WORK/batch.sh"
            t0=$(now)
            in_ns sh -e "$WORK/batch.sh" >/dev/null
            t1=$(now)
            batch+=("$(ms "$t0" "$t1")")
            in_ns "$BIN" -q -i "$inv" status --host h1 >/dev/null || {
                echo "batch run did not converge" >&2
                exit 1
            }
        done

        # One process per command: time the first $SAMPLE ip/bridge commands, extrapolate.
        fresh_ns
        in_ns "$BIN" -i "$inv" apply --host h1 --dry-run | grep -e '^ip ' -e '^bridge ' >"$WORK/all"
        total=$(wc -l <"$WORK/all")
        head -n "$SAMPLE" "$WORK/all" >"$WORK/sample"
        t0=$(now)
        in_ns sh -c 'while read -r cmd; do $cmd; done' <"$WORK/sample"
        t1=$(now)
        n=$(wc -l <"$WORK/sample")
        per=$(calc "($t1 - $t0) / 1e6 / $n")
        classic=$(awk "BEGIN { printf \"%d\", $per * $total }")
        note="$total commands × $per ms = ${classic} ms"
        if [ "$mode" != flood ]; then
            # The classic script's loop prevention: one ebtables rule per ordered pair of peers.
            rules=$((PEERS * (PEERS - 1)))
            t0=$(now)
            in_ns sh -c 'for i in $(seq 1 '"$SAMPLE"'); do ebtables -A FORWARD -i vxm$i -o vxm$((i+1)) -j DROP; done'
            t1=$(now)
            eper=$(calc "($t1 - $t0) / 1e6 / $SAMPLE")
            hours=$(calc "$eper * $rules / 1000 / 3600")
            note="$note; + $rules ebtables rules × ≥ $eper ms ≥ $hours h"
        fi
        a=$(printf '%s\n' "${apply[@]}" | median)
        b=$(printf '%s\n' "${batch[@]}" | median)
        per_peer=–
        if [ -n "$prev_peers" ]; then
            per_peer="$(calc "($a - $prev_apply) / ($PEERS - $prev_peers) * 1000") µs"
        fi
        printf '| %s | %s | %s ms | %s ms | %s ms | %s ms | %s | %s | %s |\n' "$mode" "$PEERS" "$a" \
            "$(printf '%s\n' "${reapply[@]}" | median)" \
            "$(printf '%s\n' "${status[@]}" | median)" \
            "$b" "$(calc "$a / $b")" "$per_peer" "$note"
        prev_peers=$PEERS prev_apply=$a
    done
done
