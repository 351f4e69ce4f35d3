#!/bin/sh
# vxlan-mesh {{ h.version }}: unicast VXLAN mesh, host {{ h.host }}
# Inventory: {{ h.inventory }}
# Rendered by: {{ h.command }}
# Do not edit: change the inventory and render again.
#
# Mode: {{ mode }}; loop prevention: {{ loop_prevention }}
# Firewall: {{ firewall_desc }}
#
# Usage: vxlan-mesh.sh start|stop|restart|status
#   start     create what is missing and correct what differs (safe to run again)
#   stop      remove what this script creates: links marked with the alias {{ owner }}...,
#             the ebtables chain and the nftables table below; nothing else
#   restart   stop, then start
#   status    list the objects; exit 0 when all are in place, 3 otherwise
#   DRYRUN=1  print the commands that would change the system instead of running them
# Needs iproute2 (ip, bridge){% if ebtables.is_some() %}, ebtables{% endif %}{% if firewall.is_some() %}, nftables (nft){% endif %}.
set -eu

HOST={{ host }}
OWNER={{ owner }}
PREFIX={{ prefix }}
NFT_TABLE={{ nft_table }}
DRYRUN=${DRYRUN:-0}
{%- if let Some(fw) = firewall %}

# The peer-only firewall: vxlan-mesh's own table, replaced atomically when loaded.
NFT_APPLY={{ fw.apply }}
{%- endif %}
NFT_REMOVE={{ nft_remove }}
{%- if let Some(ebt) = ebtables %}
EBT_CHAIN={{ ebt.chain }}
{%- endif %}

say() {
	printf '%s: %s\n' "$HOST" "$*" >&2
}

die() {
	say "$*"
	exit 1
}

# Runs a command that changes the system, or only prints it when DRYRUN=1.
run() {
	if [ "$DRYRUN" = 1 ]; then
		printf '%s\n' "$*"
	else
		"$@"
	fi
}

link_exists() {
	ip link show dev "$1" >/dev/null 2>&1
}

# Prints the interface alias of link $1 (nothing when it has none).
link_alias() {
	ip -o link show dev "$1" 2>/dev/null | sed -n 's/.*\\ *alias //p'
}

# True when link $1 carries vxlan-mesh's ownership mark.
owned() {
	case "$(link_alias "$1")" in
	"$OWNER"*) return 0 ;;
	*) return 1 ;;
	esac
}

# Stops before touching a link of the same name that vxlan-mesh did not create.
claim() {
	if link_exists "$1" && ! owned "$1"; then
		die "$1 exists and is not vxlan-mesh's (its alias does not start with $OWNER); leaving it alone"
	fi
}

# Deletes link $1 if it is vxlan-mesh's.
remove_link() {
	if link_exists "$1"; then
		if owned "$1"; then
			run ip link del dev "$1"
		else
			say "not removing $1: it is not vxlan-mesh's"
		fi
	fi
}

# Bridge $1 with MTU $2 and ownership mark $3.
ensure_bridge() {
	claim "$1"
	if ! link_exists "$1"; then
		run ip link add name "$1" type bridge stp_state 0
	fi
	run ip link set dev "$1" mtu "$2" alias "$3"
	run ip link set dev "$1" up
}

# True when VXLAN link $1 must be created. An existing one of vxlan-mesh's whose
# `ip -d link show` lacks one of the wanted fragments $2... is deleted first, since VXLAN
# parameters cannot be changed in place.
vxlan_missing() {
	name=$1
	shift
	claim "$name"
	link_exists "$name" || return 0
	details="$(ip -d -o link show dev "$name") "
	for want in "$@"; do
		case "$details" in
		*" $want "*) ;;
		*)
			say "$name differs from the plan (no \"$want\"); re-creating it"
			run ip link del dev "$name"
			return 0
			;;
		esac
	done
	return 1
}

# Deletes vxlan-mesh's VXLAN ports of bridge $1 other than $2... (devices of peers that
# left the inventory).
prune_ports() {
	br=$1
	shift
	for port in $(ip -o link show master "$br" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
		case " $* " in
		*" $port "*) continue ;;
		esac
		case "$port" in
		"$PREFIX"*) ;;
		*) continue ;;
		esac
		if owned "$port"; then
			run ip link del dev "$port"
		fi
	done
}

# Deletes flood entries of flood-mode VXLAN link $1 whose destination is not one of $2...
# (peers that left the inventory). Not for per-peer devices, whose `remote` is such an entry.
prune_flood() {
	dev=$1
	shift
	for have in $(bridge fdb show dev "$dev" 2>/dev/null | awk '$1 == "00:00:00:00:00:00" && $2 == "dst" { print $3 }'); do
		case " $* " in
		*" $have "*) ;;
		*) run bridge fdb del 00:00:00:00:00:00 dev "$dev" dst "$have" ;;
		esac
	done
}

# Loads nftables script $1 (prints it when DRYRUN=1).
nft_load() {
	if [ "$DRYRUN" = 1 ]; then
		printf 'nft -f - <<EOF\n%sEOF\n' "$1"
	else
		printf '%s' "$1" | nft -f -
	fi
}

firewall_down() {
	if nft list table inet "$NFT_TABLE" >/dev/null 2>&1; then
		nft_load "$NFT_REMOVE"
	fi
}
{%- if ebtables.is_some() %}

forward_jumps() {
	ebtables -t filter -L FORWARD 2>/dev/null | grep -cx -- "-j $EBT_CHAIN" || true
}

# Loop prevention: the owned chain with the plan's rules, jumped to once from FORWARD.
ebtables_up() {
	if ! ebtables -t filter -L "$EBT_CHAIN" >/dev/null 2>&1; then
		run ebtables -t filter -N "$EBT_CHAIN"
	fi
	run ebtables -t filter -F "$EBT_CHAIN"
{%- for rule in ebtables_rules %}
	run ebtables -t filter -A "$EBT_CHAIN"{% for arg in rule %} {{ arg }}{% endfor %}
{%- endfor %}
	if [ "$(forward_jumps)" = 0 ]; then
		run ebtables -t filter -I FORWARD -j "$EBT_CHAIN"
	fi
}

ebtables_down() {
	n=$(forward_jumps)
	while [ "$n" -gt 0 ]; do
		run ebtables -t filter -D FORWARD -j "$EBT_CHAIN"
		n=$((n - 1))
	done
	if ebtables -t filter -L "$EBT_CHAIN" >/dev/null 2>&1; then
		run ebtables -t filter -F "$EBT_CHAIN"
		run ebtables -t filter -X "$EBT_CHAIN"
	fi
}
{%- endif %}

start() {
{%- if firewall.is_some() %}
	nft_load "$NFT_APPLY"
{%- else %}
	# The firewall is off in the inventory: remove vxlan-mesh's table if an earlier run left it.
	firewall_down
{%- endif %}
{%- if ebtables.is_some() %}
	# Loop prevention is in place before any VXLAN port comes up.
	ebtables_up
{%- endif %}
{%- for net in networks %}

	# Network {{ net.name }}: bridge {{ net.bridge }}, MTU {{ net.mtu }}
	ensure_bridge {{ net.bridge }} {{ net.mtu }} {{ net.alias }}
	prune_ports {{ net.bridge }}{% for v in net.vxlans %} {{ v.name }}{% endfor %}
{%- for v in net.vxlans %}
	# {{ v.description }}
	if vxlan_missing {{ v.name }} "vxlan id "{{ v.vni }} "local "{{ v.local }}{% if let Some(r) = v.remote %} "remote "{{ r }}{% endif %} "dstport "{{ v.port }}; then
		run ip link add name {{ v.name }} type vxlan id {{ v.vni }} local {{ v.local }}{% if let Some(r) = v.remote %} remote {{ r }}{% endif %} dstport {{ v.port }}{% if let Some(d) = v.device %} dev {{ d }}{% endif %} {% if v.learning %}learning{% else %}nolearning{% endif %} {% if v.v6 %}{% if v.udp_checksum %}noudp6zerocsumtx noudp6zerocsumrx{% else %}udp6zerocsumtx udp6zerocsumrx{% endif %}{% else %}{% if v.udp_checksum %}udpcsum{% else %}noudpcsum{% endif %}{% endif %}
	fi
	run ip link set dev {{ v.name }} mtu {{ v.mtu }} alias {{ v.alias }}
{%- if let Some(br) = v.bridge %}
	run ip link set dev {{ v.name }} master {{ br }}
	run bridge link set dev {{ v.name }} isolated {% if v.isolated %}on{% else %}off{% endif %}
{%- endif %}
{%- for e in v.fdb %}
	run bridge fdb append {{ e.mac }} dev {{ v.name }} dst {{ e.destination }}
{%- endfor %}
{%- if v.remote.is_none() %}
	prune_flood {{ v.name }}{% for e in v.fdb %} {{ e.destination }}{% endfor %}
{%- endif %}
	run ip link set dev {{ v.name }} up
{%- endfor %}
{%- endfor %}
}

stop() {
{%- for net in networks %}
	prune_ports {{ net.bridge }}
{%- for v in net.vxlans %}
	remove_link {{ v.name }}
{%- endfor %}
	remove_link {{ net.bridge }}
{%- endfor %}
{%- if ebtables.is_some() %}
	ebtables_down
{%- endif %}
	firewall_down
}

missing=0

# Prints one status line: state, what.
report() {
	printf '%-8s %s\n' "$1" "$2"
	[ "$1" = ok ] || missing=1
}

check_link() {
	if ! link_exists "$1"; then
		report missing "link $1"
	elif ! owned "$1"; then
		report foreign "link $1 (not marked $OWNER)"
	else
		report ok "link $1 ($(link_alias "$1"))"
	fi
}

# Flood entry of VXLAN link $1 with MAC $2 towards $3.
check_fdb() {
	if bridge fdb show dev "$1" 2>/dev/null | awk -v m="$2" -v d="$3" '$1 == m && $2 == "dst" && $3 == d { f = 1 } END { exit !f }'; then
		report ok "fdb $2 dst $3 dev $1"
	else
		report missing "fdb $2 dst $3 dev $1"
	fi
}

status() {
{%- for net in networks %}
	check_link {{ net.bridge }}
{%- for v in net.vxlans %}
	check_link {{ v.name }}
{%- for e in v.fdb %}
	check_fdb {{ v.name }} {{ e.mac }} {{ e.destination }}
{%- endfor %}
{%- endfor %}
{%- endfor %}
{%- if ebtables.is_some() %}
	if [ "$(forward_jumps)" = 1 ] && ebtables -t filter -L "$EBT_CHAIN" >/dev/null 2>&1; then
		report ok "ebtables chain $EBT_CHAIN, jumped to from FORWARD"
	else
		report missing "ebtables chain $EBT_CHAIN or its jump from FORWARD"
	fi
{%- endif %}
{%- if firewall.is_some() %}
	if nft list table inet "$NFT_TABLE" >/dev/null 2>&1; then
		report ok "nftables table inet $NFT_TABLE"
	else
		report missing "nftables table inet $NFT_TABLE"
	fi
{%- endif %}
	[ "$missing" = 0 ] || exit 3
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart)
	stop
	start
	;;
status) status ;;
*)
	echo "usage: $0 start|stop|restart|status (DRYRUN=1 prints the commands)" >&2
	exit 2
	;;
esac
