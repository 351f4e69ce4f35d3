#!/usr/bin/env bash
# Wall-clock time of the CLI on 1,000-host inventories (release build), median of 5 runs.
# Usage: scripts/bench-cli.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p vxlan-mesh-cli
bin=target/release/vxlan-mesh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

gen() { # gen MODE FILE [BROKEN]: 1,000 hosts; BROKEN gives every host a duplicate address
    local mode=$1 file=$2 broken=${3:-}
    {
        echo "mode = \"$mode\""
        printf '[[networks]]\nname = "lan"\nvni = 100\nbridge = "vxbr0"\n'
        for i in $(seq 1 1000); do
            local n=$i
            [ -n "$broken" ] && n=1
            # Documentation addresses only (2001:db8::/32); nothing is sent anywhere.
            printf '[[hosts]]\nname = "h%d"\naddress = "2001:db8::%x"\n' "$i" "$n"
        done
    } >"$file"
}
gen flood "$dir/flood.toml"
gen per-peer "$dir/per-peer.toml"
gen flood "$dir/broken.toml" broken

median() { # median CMD...: median wall time in ms of 5 runs
    local times=()
    for _ in 1 2 3 4 5; do
        local t0 t1
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1 || true
        t1=$(date +%s%N)
        times+=($(( (t1 - t0) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}

printf '| command (1,000 hosts) | median ms |\n| --- | --- |\n'
printf '| check, flood | %s |\n' "$(median $bin -i "$dir/flood.toml" check)"
printf '| check, 999 errors located at line:column | %s |\n' "$(median $bin -i "$dir/broken.toml" check)"
printf '| plan --host h1 --format json, per-peer (999 devices) | %s |\n' "$(median $bin -i "$dir/per-peer.toml" plan --host h1 --format json)"
printf '| plan --all --format json, flood | %s |\n' "$(median $bin -i "$dir/flood.toml" plan --all --format json)"
printf '| plan --all --format json, per-peer (≈1M devices, %s MB of JSON) | %s |\n' \
    "$($bin -i "$dir/per-peer.toml" plan --all --format json | wc -c | awk '{printf "%d", $1/1e6}')" \
    "$(median $bin -i "$dir/per-peer.toml" plan --all --format json)"
printf '| graph --format dot, flood (499,500 links) | %s |\n' "$(median $bin -i "$dir/flood.toml" graph --format dot)"
