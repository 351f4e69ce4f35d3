#!/usr/bin/env bash
# Wall time and peak memory of `vxlan-mesh graph --format dot` on a generated N-host fleet
# (release build), and the size of the picture.
# Usage: scripts/bench-graph.sh [HOSTS] [KIND] [BINARY]
#   HOSTS 10000; KIND flood | per-peer | evpn (two route reflectors) | wireguard (flood mode,
#   encrypted); BINARY target/release/vxlan-mesh (built first when it is the default).
# Documentation addresses only (2001:db8::/32); nothing is sent anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-10000} kind=${2:-flood} bin=${3:-}
if [ -z "$bin" ]; then
    cargo build --release -q -p vxlan-mesh-cli
    bin=target/release/vxlan-mesh
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
{
    case $kind in
    flood | per-peer) echo "mode = \"$kind\"" ;;
    evpn) printf 'mode = "evpn"\n[evpn]\nunderlay-prefix = "2001:db8::/48"\n' ;;
    # The inner addresses come from the default prefix, by host id.
    wireguard) printf 'encryption = "wireguard"\n' ;;
    *) echo "unknown kind $kind" >&2 && exit 1 ;;
    esac
    printf '[[networks]]\nname = "lan"\nvni = 100\nbridge = "vxbr0"\n'
    for i in $(seq 1 "$hosts"); do
        printf '[[hosts]]\nname = "h%d"\naddress = "2001:db8::%x"\n' "$i" "$i"
        case $kind in
        evpn) [ "$i" -le 2 ] && echo 'route-reflector = true' ;;
        # A distinct public key per host: the host number in the key's first bytes (never
        # one of the few low-order points, which validation refuses).
        wireguard) printf 'public-key = "%s"\n' "$(printf '%08x%056x' "$i" 1 | xxd -r -p | base64)" ;;
        esac
    done
} >"$dir/fleet.toml"
/usr/bin/time -f "%e s %M KB" -o "$dir/time" "$bin" -q -i "$dir/fleet.toml" graph --format dot >"$dir/out"
printf '%s hosts, %s: %s, %d lines of DOT\n' "$hosts" "$kind" "$(cat "$dir/time")" "$(wc -l <"$dir/out")"
