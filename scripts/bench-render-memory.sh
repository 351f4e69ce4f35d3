#!/usr/bin/env bash
# Peak memory (maximum resident set size, /usr/bin/time -v) and wall time of
# `vxlan-mesh render --all --out DIR` on a generated N-host fleet (release build).
# Usage: scripts/bench-render-memory.sh [HOSTS] [MODE] [FORMAT] [BINARY]
#   HOSTS 5000, MODE flood|per-peer (flood), FORMAT shell|networkd|netplan (networkd),
#   BINARY target/release/vxlan-mesh (built first when it is the default).
# The files go to a temporary directory, removed afterwards (a 5,000-host flood fleet in
# networkd form is about 2 GB of files: each host lists 4,999 flood entries).
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-5000} mode=${2:-flood} format=${3:-networkd} bin=${4:-}
if [ -z "$bin" ]; then
    cargo build --release -q -p vxlan-mesh-cli
    bin=target/release/vxlan-mesh
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
{
    echo "mode = \"$mode\""
    printf '[[networks]]\nname = "lan"\nvni = 100\nbridge = "vxbr0"\n'
    # Documentation addresses only (2001:db8::/32); nothing is sent anywhere.
    for i in $(seq 1 "$hosts"); do
        printf '[[hosts]]\nname = "h%d"\naddress = "2001:db8::%x"\n' "$i" "$i"
    done
} >"$dir/fleet.toml"
# Above 2,000 flood hosts `render --all` refuses without --allow-large-output (which older
# binaries, measured for comparison, do not know).
allow=()
if "$bin" render --help | grep -q -- --allow-large-output; then
    allow=(--allow-large-output)
fi
/usr/bin/time -v "$bin" -q -i "$dir/fleet.toml" render --format "$format" --all "${allow[@]}" --out "$dir/out" 2>"$dir/time"
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir/time")
files=$(find "$dir/out" -type f ! -name .vxlan-mesh-manifest | wc -l)
size=$(du -sm "$dir/out" | cut -f1)
printf '%s hosts, %s mode, %s: peak RSS %d MB, wall %s, %d files, %d MB written\n' \
    "$hosts" "$mode" "$format" "$((rss_kb / 1024))" "$wall" "$files" "$size"
