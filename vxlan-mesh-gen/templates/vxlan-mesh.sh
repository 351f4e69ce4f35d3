#!/bin/sh
# vxlan-mesh {{ h.version }}: unicast VXLAN mesh, host {{ h.host }}
# Inventory: {{ h.inventory }}
# Rendered by: {{ h.command }}
# Do not edit: change the inventory and render again.
#
# Mode: {{ mode }}; loop prevention: {{ loop_prevention }}
# Firewall: {{ firewall_desc }}
{%- if let Some(wg) = wireguard %}
# Encryption: WireGuard interface {{ wg.interface }} ({{ wg.address }}, UDP {{ wg.listen_port }}, MTU {{ wg.mtu }}), public key {{ wg.public_key }};
#   the VXLAN devices run between the peers' WireGuard addresses. Its private key is read by
#   `wg` from the file VXLAN_MESH_WIREGUARD_KEY names (default {{ wg.key_file }}),
#   whose public half must be the public key above: the script refuses to run otherwise.
#   Where the kernel has no WireGuard, the interface is run by wireguard-go.
{%- endif %}
#
# Usage: vxlan-mesh.sh start|stop|restart|status|sync
#   start     make the host match the plan: create what is missing, correct what differs,
#             delete what vxlan-mesh made earlier that the plan no longer has (links marked
#             with the alias {{ owner }}..., FDB entries, the ebtables chain, the nftables
#             table); safe to run again, and prints nothing when nothing differs
#   stop      remove every link marked {{ owner }}... (the WireGuard interface too, and
#             with it a wireguard-go daemon serving it), the ebtables chain and its jump, and
#             the nftables table; nothing else
#   restart   stop, then start
#   status    list every difference from the plan; exit 0 when there is none, 3 otherwise
#   sync      as start, but systemd-networkd creates the links (networkd and netplan forms,
#             run by vxlan-mesh-sync.service after networkd): waits for them (at most
#             VXLAN_MESH_WAIT seconds, default 30), marks them, deletes stale links and FDB
#             entries, re-creates a device whose fixed attributes differ (networkd never
#             changes an existing one), reloads the firewall and the loop prevention
{%- if wireguard.is_some() %}
#             (where the kernel has no WireGuard, networkd cannot create the WireGuard
#             interface: sync starts it with wireguard-go and configures it as start does)
{%- endif %}
#   loop-start, loop-stop
#             only install (remove) the ebtables loop prevention: the chain, and the jump
#             to it as the first rule of FORWARD (vxlan-mesh-ebtables.service runs these)
#   firewall-start, firewall-stop
#             only load (remove) the nftables table, refusing one vxlan-mesh did not create
#             (vxlan-mesh-firewall.service runs these)
#   claim-check
#             before systemd-networkd starts: record the links of the plan's names that are
#             someone else's, which sync then refuses (vxlan-mesh-claim.service runs it)
#   DRYRUN=1  print the commands that would change the system instead of running them
# Needs iproute2 (ip, bridge){% if sysctl %}, procps (sysctl){% endif %}{% if ebtables.is_some() %}, ebtables{% endif %}{% if firewall.is_some() %}, nftables (nft){% endif %}{% if wireguard.is_some() %}, wireguard-tools (wg), and wireguard-go where the kernel has no WireGuard{% endif %}{% if frr.is_some() %}, FRR with bgpd enabled (vtysh){% endif %}.
set -eu

# Debian keeps nft and ebtables in /usr/sbin, which cron's PATH lacks.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export PATH

HOST={{ host }}
OWNER={{ owner }}
NFT_TABLE={{ nft_table }}
EBT_CHAIN={{ chain }}
# The rule of FORWARD that jumps to it, as `ebtables -L` lists it.
EBT_JUMP={{ reads.ebtables_jump }}
DRYRUN=${DRYRUN:-0}
# Seconds `sync` waits for systemd-networkd to create a link.
WAIT=${VXLAN_MESH_WAIT:-30}
# The directory of the network namespaces' locks, shared with `vxlan-mesh apply`.
LOCK_DIR={{ lock.dir }}
# The links of the plan's names that were there, without vxlan-mesh's mark, before
# systemd-networkd started (`claim-check` writes it): someone else's, which `sync` must not
# take for networkd's. One file per network namespace.
FOREIGN_LINKS=$LOCK_DIR/foreign-links.$(stat -L -c %i /proc/self/ns/net 2>/dev/null || echo 0)
{%- if let Some(wg) = wireguard %}

# The WireGuard interface, this host's public key, and the file holding its private key
# (given to `wg` by path: the key itself is never on a command line).
WG_IF={{ wg.interface }}
WG_PUBLIC={{ wg.public_key }}
WG_KEY=${VXLAN_MESH_WIREGUARD_KEY:-{{ wg.key_file }}}
# The public keys of the planned peers: any other peer is removed.
WG_PEERS={{ wg.peer_keys }}
# The planned peers' inner addresses: each must be routed through $WG_IF.
WG_INNER={{ wg.peer_addresses }}
{%- endif %}
{%- if let Some(fw) = firewall %}

# The peer-only firewall: vxlan-mesh's own table, replaced atomically when loaded.
NFT_APPLY={{ fw.load.text }}
NFT_PEERS={{ fw.peers }}
# The table as `nft -s list table` prints it when it is exactly the plan's (no flags, no
# other chain, rule or object), on one line, without the set's elements (compared apart).
NFT_OUTLINE={{ fw.outline }}
{%- endif %}
NFT_REMOVE={{ nft_remove.text }}
{%- if let Some(frr) = frr %}

# EVPN: vxlan-mesh's router bgp block for FRR, as `vtysh -c 'show running-config'` prints
# it; its peer-group vxlan-mesh marks it as vxlan-mesh's.
FRR_CONF={{ frr.conf }}
# Each VNI of the plan and its device, `VNI:DEVICE`: zebra must tie the VNI to that device.
FRR_VNIS={{ frr.vnis }}
# The awk program that computes, from FRR_CONF and the running block, the vtysh commands
# that change only the lines that differ (as `vxlan-mesh apply` does): sessions whose lines
# stay are never reset. Its `$`s and backquotes are awk's and its messages', not the shell's:
# shellcheck disable=SC2016
FRR_EDITS={{ frr.edits }}
{%- endif %}
{%- if let Some(ebt) = ebtables %}
# The rules of the loop-prevention chain, as `ebtables -L` lists them.
EBT_RULES={{ ebt.listing }}
{%- endif %}

# apply: change the system; print: only print the commands (DRYRUN=1); check: only report
# what differs (status).
MODE=apply
[ "$DRYRUN" = 1 ] && MODE=print
# ip: links are created with `ip link add`; networkd: systemd-networkd creates them (sync).
CREATOR=ip
drift=0

say() {
	printf '%s: %s\n' "$HOST" "$*" >&2
}

die() {
	say "$*"
	exit 1
}

# A difference from the plan: status lists it, start and sync say what they correct.
differs() {
	drift=1
	if [ "$MODE" = check ]; then
		printf 'drift: %s\n' "$*"
	else
		say "$*"
	fi
}

{# Every `run ...|words` below is a command the core's argv::of wrote for one typed operation
    (src/shell.rs): this template only decides whether to run it. -#}
# Runs a command that changes the system (or prints it, or only counts it).
run() {
	case "$MODE" in
	apply) "$@" ;;
	print) printf '%s\n' "$*" ;;
	check)
		drift=1
		printf '  would run: %s\n' "$*"
		;;
	esac
}

need() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || die "\`$tool\` is not installed (looked in $PATH)"
	done
}

# One line of `ip -d -o link show` for link $1; empty when it does not exist.
details() {
	{{ reads.details|words }} 2>/dev/null || true
}

link_exists() {
	[ -n "$(details "$1")" ]
}

# The word after the first word $2 in text $1 (e.g. `mtu`, `master`, `alias`, `isolated`).
field() {
	printf '%s\n' "$1" | awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }'
}

# True when the link whose details are $1 is administratively up.
is_up() {
	case "$(printf '%s\n' "$1" | awk '{ print $3 }')" in
	*"<UP,"* | *",UP,"* | *",UP>"* | "<UP>") return 0 ;;
	*) return 1 ;;
	esac
}

# Prints the interface alias of link $1 (nothing when it has none).
link_alias() {
	field "$(details "$1")" alias
}

# True when link $1 carries vxlan-mesh's ownership mark.
owned() {
	case "$(link_alias "$1")" in
	"$OWNER"*) return 0 ;;
	*) return 1 ;;
	esac
}

# Stops before touching a link of the same name that vxlan-mesh did not create. Under
# sync, systemd-networkd made the links of the plan's names from vxlan-mesh's files (it
# has no key for an alias): they are marked below, as `vxlan-mesh status` expects; but not
# one that was there before networkd started (recorded by `claim-check`), which networkd
# configures but is someone else's.
claim() {
	if link_exists "$1" && ! owned "$1"; then
		if [ "$CREATOR" = networkd ] && ! grep -qx -- "$1" "$FOREIGN_LINKS" 2>/dev/null; then
			return 0
		fi
		die "$1 exists and is not owned by vxlan-mesh (its alias does not start with $OWNER); leaving it alone"
	fi
}

# Before systemd-networkd starts: records the links of the plan's names that exist without
# vxlan-mesh's mark (networkd would configure them as its own, and `sync` must not mark them).
claim_check() {
	# Private, as take_lock wants the directory it shares with vxlan-mesh's locks.
	(umask 077 && mkdir -p "$LOCK_DIR")
	: >"$FOREIGN_LINKS"
	for name in{% for l in wanted_links %} {{ l }}{% endfor %}; do
		if link_exists "$name" && ! owned "$name"; then
			say "$name exists and is not owned by vxlan-mesh: sync will refuse it (rename or remove it)"
			printf '%s\n' "$name" >>"$FOREIGN_LINKS"
		fi
	done
}

# The attributes of a VXLAN link (details $1) that cannot change in place, in the words
# the plan's are written in below (core's argv::reads writes both).
vxlan_sig() {
	printf '%s\n' "$1" | awk {{ reads.vxlan_signature }}
}

# Names of the links of kind $1 marked as vxlan-mesh's.
marked() {
	{{ reads.links_of_kind|words }} 2>/dev/null | awk -v o="$OWNER" '{
		n = $2; sub(/:$/, "", n); sub(/@.*/, "", n)
		for (i = 3; i < NF; i++) if ($i == "alias" && index($(i + 1), o) == 1) print n
	}' || true
}

# Deletes every marked link whose name is not one of $@ (a removed network, a renamed
# bridge, a peer that left, a device of the other mode, the WireGuard interface of a mesh
# no longer encrypted: a kernel `wireguard` link or wireguard-go's `tun` device, whose
# daemon exits with it).
prune_links() {
	for kind in vxlan bridge wireguard tun; do
		for name in $(marked "$kind"); do
			case " $* " in
			*" $name "*) continue ;;
			esac
			differs "$name ($kind marked by vxlan-mesh) is not in the plan: deleting it"
			run {{ link_delete|words }}
		done
	done
}

# Makes link $1 exist: creates it with the command $2... or, under sync, waits (bounded)
# for systemd-networkd to create it.
create() {
	name=$1
	shift
	if [ "$CREATOR" = networkd ] && [ "$MODE" = apply ]; then
		waited=0
		while ! link_exists "$name"; do
			[ "$waited" -lt "$((WAIT * 5))" ] || die "systemd-networkd did not create $name within ${WAIT}s"
			sleep 0.2
			waited=$((waited + 1))
		done
	else
		run "$@"
	fi
}

# The FDB entries of VXLAN link $1, one per line.
fdb_show() {
	{{ reads.fdb|words }} 2>/dev/null
}

# True when VXLAN link $1 has the FDB entry MAC $2 towards $3, with the device's own port
# and VNI.
has_fdb() {
	fdb_show "$1" | awk -v m="$2" -v d="$3" '$1 == m && $2 == "dst" && $3 == d && $4 == "self" { f = 1 } END { exit !f }'
}

# Deletes the FDB entries of VXLAN link $1 the plan does not have: $2 is the link's remote
# (whose flood entry the kernel adds by itself; '' in flood mode), $3 and $4 the link's
# port and VNI, $5... the wanted entries as MAC@DESTINATION. Static entries must be wanted,
# exactly (an entry with a port, VNI or underlay interface of its own is another one); a
# learned entry (or one another tool installed as `extern_learn`) must point at a
# destination of the plan with the link's port and VNI (one towards a host that left would
# keep sending it frames until it ages out).
prune_fdb() {
	dev=$1
	remote=$2
	dport=$3
	dvni=$4
	shift 4
	for line in $(fdb_show "$dev" | awk '$2 == "dst" && / self/ {
		port = ""; vni = ""; via = ""
		for (i = 4; i < NF; i++) {
			if ($i == "port") port = $(i + 1)
			else if ($i == "vni") vni = $(i + 1)
			else if ($i == "via") via = $(i + 1)
		}
		print (((/ permanent/ || / static/) && !/ extern_learn/) ? "static" : "learned") "@" $1 "@" $3 "@" port "@" vni "@" via
	}' || true); do
		kind=${line%%@*}
		rest=${line#*@}
		mac=${rest%%@*}
		rest=${rest#*@}
		dst=${rest%%@*}
		rest=${rest#*@}
		port=${rest%%@*}
		rest=${rest#*@}
		vni=${rest%%@*}
		via=${rest#*@}
		if [ -z "$port$vni" ]; then
			if [ -z "$via" ]; then
				case " $* " in
				*" $mac@$dst "*) continue ;;
				esac
			fi
			# The flood entry the kernel adds for the remote (through the underlay device).
			[ "$dst" = "$remote" ] && { [ "$kind" = learned ] || [ "$mac" = 00:00:00:00:00:00 ]; } && continue
			if [ "$kind" = learned ]; then
				case " $* " in
				*"@$dst "*) continue ;;
				esac
			fi
		fi
		differs "$dev: $kind FDB entry $mac dst $dst${port:+ port $port}${vni:+ vni $vni}${via:+ via $via} is not in the plan: deleting it"
		port=${port:-$dport}
		vni=${vni:-$dvni}
		if [ -n "$via" ]; then
			run {{ fdb_delete_via|words }}
		else
			run {{ fdb_delete|words }}
		fi
	done
}

# Runs the command $2... (nft) with the nftables script $1 on its standard input.
nft_load() {
	text=$1
	shift
	case "$MODE" in
	apply) printf '%s' "$text" | "$@" ;;
	print) printf '%s <<EOF\n%sEOF\n' "$*" "$text" ;;
	check)
		drift=1
		printf '  would load the nftables script of the plan\n'
		;;
	esac
}

nft_present() {
	command -v nft >/dev/null 2>&1 && {{ reads.nft_table|words }} >/dev/null 2>&1
}

# `nft -s list table` of the table named like vxlan-mesh's in the form of NFT_OUTLINE: on one
# line, each run of blanks one space, without the set's elements (nothing when it is absent).
nft_outline() {
	{{ reads.nft_outline|words }} 2>/dev/null | tr -s ' \t\n' '   ' | sed {{ reads.nft_outline_sed }} || true
}

# True when the table named like vxlan-mesh's is vxlan-mesh's: it has the set `peers` and the
# chain `input` its script writes (`vxlan-mesh apply` asks the same). Another is never
# replaced or deleted.
nft_ours() {
	case " $(nft_outline) " in
	*" set peers { "*" chain input { "*) return 0 ;;
	*) return 1 ;;
	esac
}

# Stops before touching a table named like vxlan-mesh's that is someone else's.
nft_claim() {
	if nft_present && ! nft_ours; then
		die "nftables table inet $NFT_TABLE exists but was not created by vxlan-mesh (it has no set \`peers\` and chain \`input\`); refusing to replace it: rename or remove it"
	fi
}
{%- if let Some(fw) = firewall %}

# True when vxlan-mesh's table is exactly the plan's: the peers $NFT_PEERS in its set, and
# everything else as NFT_OUTLINE (a flag such as `dormant`, another chain or rule, a changed
# hook, priority or policy all differ).
firewall_ok() {
	nft_present || return 1
	have=$({{ reads.nft_peers|words }} 2>/dev/null | tr -d '\n\t' | sed -n {{ reads.nft_elements_sed }} | tr -d ' ' | tr ',' '\n' | LC_ALL=C sort)
	[ "$have" = "$(printf '%s\n' "$NFT_PEERS" | LC_ALL=C sort)" ] || return 1
	[ "$(nft_outline)" = "$NFT_OUTLINE" ]
}
{%- endif %}

# Removes vxlan-mesh's table, if it is there and ours.
firewall_down() {
	if nft_present && nft_ours; then
		nft_load "$NFT_REMOVE" {{ nft_remove.cmd|words }}
	fi
}

# `ebtables -L` of chain $1 (fails when it does not exist).
ebt_list() {
	{{ reads.ebtables|words }} 2>/dev/null
}

# The rules of ebtables chain $1, one per line (nothing when it does not exist).
ebt_rules() {
	ebt_list "$1" | sed {{ reads.ebtables_rules }} || true
}

ebt_chain_exists() {
	ebt_list "$EBT_CHAIN" >/dev/null
}

# The policy of chain $EBT_CHAIN. ebtables-nft (1.8.9) keeps a user chain's policy other
# than RETURN as one more rule at the end of the nft chain, which `ebtables -L` neither
# counts nor shows (it prints `policy: RETURN` whatever the policy is): an nft rule beyond
# the listed ones is the policy.
ebt_policy() {
	policy=$(ebt_list "$EBT_CHAIN" | sed -n {{ reads.ebtables_policy_sed }})
	if command -v nft >/dev/null 2>&1 && nrules=$({{ reads.ebtables_nft|words }} 2>/dev/null); then
		nrules=$(printf '%s\n' "$nrules" | sed '1,/chain /d' | grep -v '^[[:space:]]*}' | grep -v '^[[:space:]]*$' || true)
		if [ "$(printf '%s\n' "$nrules" | grep -c .)" -gt "$(ebt_rules "$EBT_CHAIN" | grep -c .)" ]; then
			case "$(printf '%s\n' "$nrules" | tail -n 1)" in
			*drop) policy=DROP ;;
			*) policy=ACCEPT ;;
			esac
		fi
	fi
	printf '%s\n' "$policy"
}

forward_jumps() {
	ebt_rules FORWARD | grep -cx -- "$EBT_JUMP" || true
}

firewall_step() {
{%- if let Some(fw) = firewall %}
	need nft
	nft_claim
	if ! firewall_ok; then
		differs "nftables table inet $NFT_TABLE is missing or differs from the plan: loading it"
		nft_load "$NFT_APPLY" {{ fw.load.cmd|words }}
	fi
{%- else %}
	# The firewall is off in the inventory: vxlan-mesh's table must not be there.
	if nft_present && nft_ours; then
		differs "nftables table inet $NFT_TABLE is there but the firewall is off: deleting it"
		firewall_down
	fi
{%- endif %}
}

loop_step() {
{%- if let Some(ebt) = ebtables %}
	need ebtables
	# Loop prevention is in place before any VXLAN port comes up.
	if ! ebt_chain_exists; then
		differs "ebtables chain $EBT_CHAIN is missing: creating it"
		run {{ ebt.create|words }}
	fi
	if [ "$(ebt_rules "$EBT_CHAIN")" != "$EBT_RULES" ]; then
		differs "ebtables chain $EBT_CHAIN does not hold the planned rules: refilling it"
		run {{ ebt.flush|words }}
{%- for rule in ebt.rules %}
		run {{ rule|words }}
{%- endfor %}
	fi
	# Any other policy would decide the frames our rules let through, before FORWARD's own
	# rules below the jump see them.
	policy=$(ebt_policy)
	if ebt_chain_exists && [ "$policy" != RETURN ]; then
		differs "ebtables chain $EBT_CHAIN has policy $policy, not RETURN: setting it"
		run {{ ebt.policy|words }}
	fi
	# FORWARD jumps to the chain once, as its first rule: a rule of another tool above it
	# (say `-j ACCEPT`) would let frames pass between VXLAN ports.
	jumps=$(forward_jumps)
	if [ "$jumps" != 1 ] || [ "$(ebt_rules FORWARD | head -n 1)" != "$EBT_JUMP" ]; then
		differs "FORWARD jumps to $EBT_CHAIN $jumps time(s), not once as its first rule: re-inserting the jump at position 1"
		while [ "$jumps" -gt 0 ]; do
			run {{ ebt.jump_delete|words }}
			jumps=$((jumps - 1))
		done
		run {{ ebt.jump_insert|words }}
	fi
{%- else %}
	# No ebtables loop prevention in the plan: vxlan-mesh's chain must not be there.
	loop_down
{%- endif %}
}

# Removes the loop-prevention chain and every jump to it, if ebtables is installed.
loop_down() {
	command -v ebtables >/dev/null 2>&1 || return 0
	jumps=$(forward_jumps)
	if [ "$jumps" -gt 0 ] || ebt_chain_exists; then
		differs "ebtables chain $EBT_CHAIN is there but not in the plan: deleting it"
		while [ "$jumps" -gt 0 ]; do
			run {{ ebtables_remove.jump_delete|words }}
			jumps=$((jumps - 1))
		done
		if ebt_chain_exists; then
			run {{ ebtables_remove.flush|words }}
			run {{ ebtables_remove.delete|words }}
		fi
	fi
}

{%- if let Some(wg) = wireguard %}

# Refuses to go on unless the private key in $WG_KEY is this host's: its public half must
# be the inventory's public key of this host. Runs before anything changes.
wg_key_check() {
	need wg
	[ -r "$WG_KEY" ] || die "cannot read the WireGuard private key \`$WG_KEY\` (make one with \`vxlan-mesh keygen\`, or name it in VXLAN_MESH_WIREGUARD_KEY)"
	# The rule and messages of vxlan-mesh's own key check: no read for others, no write for
	# the group (0640 for systemd-network is fine), owned by root or by whoever runs this.
	mode=$(stat -L -c '%a' "$WG_KEY") || die "cannot read the WireGuard private key \`$WG_KEY\`"
	owner=$(stat -L -c '%u' "$WG_KEY") || die "cannot read the WireGuard private key \`$WG_KEY\`"
	exposed={{ wg.exposed_bits }}
	# The printf formats are vxlan-mesh's messages, whose backticks are text (SC2016).
	# shellcheck disable=SC2016
	[ $((0$mode & exposed)) -eq 0 ] || die "$(printf {{ wg.exposed_message }} "$WG_KEY" "$mode")"
	# shellcheck disable=SC2016
	[ "$owner" -eq 0 ] || [ "$owner" -eq "$(id -u)" ] || die "$(printf {{ wg.owner_message }} "$WG_KEY" "$owner")"
	found=$({{ wg.pubkey|words }} <"$WG_KEY" 2>/dev/null) || die "\`$WG_KEY\` does not hold a WireGuard private key"
	[ "$found" = "$WG_PUBLIC" ] || die "host \`$HOST\`: the private key in \`$WG_KEY\` has the public key \`$found\`, but the \`public-key\` of host \`$HOST\` in the inventory is \`$WG_PUBLIC\`; name the key file of this host in VXLAN_MESH_WIREGUARD_KEY, or put \`$found\` in the inventory"
}

# The interface's peers as `KEY PRESHARED-KEY ENDPOINT ALLOWED-IPS KEEPALIVE`, one per line
# (a preshared key shown as `set`, never itself): `wg show
# dump` without its first line (which holds the private key, and is never printed).
wg_peers() {
	{{ wg.dump|words }} 2>/dev/null | awk -F '\t' {{ reads.wg_peers }} || true
}

# The interface's addresses as ADDRESS/LENGTH (IPv6 link-local ones left out).
wg_addresses() {
	{{ wg.addresses|words }} 2>/dev/null | awk '($3 == "inet" || $3 == "inet6") && $4 !~ /^fe80:/ { print $4 }' || true
}

# True when $WG_IF is a WireGuard device (it answers `wg`) with no private key (its public
# key shows as `(none)`), no peer and no address.
wg_blank() {
	[ "$({{ wg.show_public_key|words }} 2>/dev/null)" = "(none)" ] && [ -z "$(wg_peers)" ] && [ -z "$(wg_addresses)" ]
}

# Creates the interface: a kernel `wireguard` link, or where the kernel has none, the TUN
# device of a wireguard-go daemon, as wg-quick falls back (said once).
wg_create() {
	if [ "$MODE" != apply ]; then
		run {{ wg.create|words }}
		[ "$MODE" = print ] && printf '%s ' '# where the kernel has no WireGuard, instead:' && run {{ wg.userspace|words }}
		return 0
	fi
	run {{ wg.create|words }} 2>/dev/null && return 0
	need wireguard-go
	say "this kernel has no WireGuard: \`$WG_IF\` is run by wireguard-go, the userspace implementation (slower), whose daemon exits when the interface is deleted"
	# Its banner (on standard error) is shown only when it fails.
	# 9>&-: the daemon must not inherit the namespace's lock (take_lock), or hold it forever.
	err=$(run {{ wg.userspace|words }} 2>&1 >/dev/null 9>&-) || die "wireguard-go could not create $WG_IF: $err"
	# The daemon sets its default MTU when it takes the device over, and answers only
	# after that: one question waits for it, so that the MTU set next stays.
	{{ wg.show_listen_port|words }} >/dev/null
}

# The WireGuard interface, before the VXLAN devices that start from its address: created
# down, marked, given its MTU, key, listen port, address and peers, then brought up. Only
# what differs is changed, peer by peer: an unchanged peer's session goes on.
wireguard_step() {
	# A device an earlier start created and was killed before marking: no alias, no key,
	# no peer, no address. Nothing in it is anyone's configuration: it is finished, not
	# refused as foreign (marked below).
	if link_exists "$WG_IF" && [ -z "$(link_alias "$WG_IF")" ] && wg_blank; then
		differs "$WG_IF was left half-made (not marked, not configured): finishing it"
	else
		claim "$WG_IF"
	fi
	if ! link_exists "$WG_IF"; then
		if [ "$CREATOR" = networkd ] && [ -d /sys/module/wireguard ]; then
			# systemd-networkd creates it from its .netdev file.
			create "$WG_IF" {{ wg.create|words }}
		else
			# Also under sync where the kernel has no WireGuard: networkd cannot create it.
			[ "$CREATOR" = networkd ] || differs "$WG_IF is missing: creating it"
			wg_create
		fi
	fi
	d=$(details "$WG_IF")
	[ "$(field "$d" alias)" = {{ wg.alias }} ] || run {{ wg.set_alias|words }}
	[ "$(field "$d" mtu)" = {{ wg.mtu }} ] || run {{ wg.set_mtu|words }}
	if [ "$({{ wg.show_public_key|words }} 2>/dev/null)" != "$WG_PUBLIC" ] || [ "$({{ wg.show_listen_port|words }} 2>/dev/null)" != {{ wg.listen_port }} ] || [ "$({{ wg.show_fwmark|words }} 2>/dev/null)" != {{ wg.fwmark }} ]; then
		differs "$WG_IF does not have the key of this host, the planned listen port or firewall mark: setting them"
		run {{ wg.configure|words }}
	fi
	for addr in $(wg_addresses); do
		[ "$addr" = {{ wg.address }} ] && continue
		differs "$WG_IF: address $addr is not in the plan: deleting it"
		run {{ wg.delete_address|words }}
	done
	wg_addresses | grep -qxF {{ wg.address }} || run {{ wg.add_address|words }}
	for key in $(wg_peers | awk '{ print $1 }'); do
		case " $WG_PEERS " in
		*" $key "*) continue ;;
		esac
		differs "$WG_IF: peer $key is not in the plan: removing it"
		run {{ wg.remove_peer|words }}
	done
	have=$(wg_peers)
{%- for p in wg.peers %}
	# Peer {{ p.name }}
	printf '%s\n' "$have" | grep -qxF {{ p.line }} || run {{ p.set|words }}
{%- endfor %}
	is_up "$d" || run {{ wg.set_up|words }}
	wg_routes
}

# Each peer's inner address must leave through $WG_IF. A route that takes one elsewhere
# wins either because the interface's own route (the kernel's, for its address's prefix)
# was deleted, which giving the address again restores, or over it (more specific, or in
# a table looked up before main): that route was not added by vxlan-mesh and is not
# removed; start refuses to go on and status reports it.
wg_routes() {
	for inner in $WG_INNER; do
		dev=$({{ wg.route_get|words }} 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
		[ "$dev" = "$WG_IF" ] && continue
		route=$({{ wg.route_entry|words }} 2>/dev/null | head -n 1)
		if [ "$MODE" != check ] && is_up "$(details "$WG_IF")" && ! {{ wg.prefix_routes|words }} 2>/dev/null | grep -qv '^fe80:'; then
			differs "the route of $WG_IF's prefix is missing ($inner goes by \`${route:-no route}\`): giving $WG_IF its address again"
			run {{ wg.delete_own_address|words }}
			run {{ wg.add_address|words }}
			[ "$MODE" = print ] && continue
			dev=$({{ wg.route_get|words }} 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
			[ "$dev" = "$WG_IF" ] && continue
			route=$({{ wg.route_entry|words }} 2>/dev/null | head -n 1)
		fi
		[ "$MODE" = apply ] && die "route \`$route\` takes peer address \`$inner\` away from $WG_IF (not added by vxlan-mesh, so not removed): delete it (\`ip route del $route\`) or narrow it"
		differs "route not added by vxlan-mesh, or the route of $WG_IF's prefix missing: peer address $inner goes by \`${route:-no route}\`, not $WG_IF"
	done
}
{%- endif %}
{%- if let Some(frr) = frr %}

# The running `router bgp` block of FRR's default VRF, as `show running-config` prints it
# (nothing when there is none).
frr_running() {
	{{ frr.read|words }} 2>/dev/null | awk {{ frr.block_awk }} || true
}

# True when the router bgp block $1 carries vxlan-mesh's mark, its peer-group.
frr_ours() {
	printf '%s\n' "$1" | grep -qxF -- {{ frr.mark }}
}

# Runs the configuration commands $@, in order, in one vtysh session.
frr_send() {
	for c in "$@"; do
		shift
		set -- "$@" {{ frr.flag }} "$c"
	done
	run {{ frr.send|words }}
}

# Removes the running router bgp block $1 (its first line is `router bgp ASN`).
frr_remove() {
	frr_send 'configure terminal' "no $(printf '%s\n' "$1" | head -n 1)"
}

# Refuses, before anything changes, what would stop FRR from taking the plan's block: no
# vtysh, or a router bgp block of someone else's (without the peer-group vxlan-mesh), which
# is never changed.
frr_preflight() {
	if ! command -v vtysh >/dev/null 2>&1; then
		[ "$MODE" != apply ] || die "vtysh is not installed: EVPN needs FRR (install frr, set bgpd=yes in /etc/frr/daemons, restart frr and run again)"
		return 0
	fi
	have=$(frr_running)
	if [ -n "$have" ] && ! frr_ours "$have"; then
		die "FRR has \`$(printf '%s\n' "$have" | head -n 1)\` without the peer-group vxlan-mesh: it is not vxlan-mesh's, so it is left alone (remove it, or move its sessions elsewhere, and run again)"
	fi
}

# EVPN: FRR runs the plan's router bgp block, reached line by line.
frr_step() {
	if ! command -v vtysh >/dev/null 2>&1; then
		differs "vtysh is not installed: EVPN needs FRR with bgpd enabled"
		return 0
	fi
	have=$(frr_running)
	[ "$have" != "$(printf '%s' "$FRR_CONF")" ] || return 0
	edits=$(printf '%s\n%s\n' "$FRR_CONF" "$have" | awk "$FRR_EDITS") || die "FRR's router bgp block cannot be changed line by line (see above); nothing was changed"
	# Only blank or separator lines differ.
	[ -n "$edits" ] || return 0
	if [ -z "$have" ]; then
		differs "FRR has no router bgp block: loading vxlan-mesh's"
	else
		differs "FRR's router bgp block of vxlan-mesh differs from the plan: changing the lines that differ"
	fi
	# One command a line: no line of FRR's configuration holds a newline.
	set --
	while IFS= read -r c; do
		set -- "$@" "$c"
	done <<EOF
$edits
EOF
	frr_send "$@"
}

# The device zebra ties VNI $1 to (`show evpn vni json`), waiting up to 2 s for zebra to
# learn a device just made; nothing when zebra does not know the VNI.
zebra_device() {
	tries=0
	while :; do
		found=$({{ frr.vnis_read|words }} 2>/dev/null | awk -v vni="$1" {{ frr.vni_device_awk }})
		if [ -n "$found" ] || [ "$tries" -ge 10 ]; then
			break
		fi
		tries=$((tries + 1))
		sleep 0.2
	done
	printf '%s' "$found"
}

# zebra keeps one device per VNI. A VNI tied to a device vxlan-mesh did not make (our VNI on
# another UDP port) was taken over: reported, left alone. A VNI zebra does not know (it
# forgets one for good when another device that held it goes away) is learnt again by
# giving advertise-all-vni again.
frr_vnis() {
	# A dry run cannot tell what zebra learns once the block it prints is loaded.
	[ "$MODE" != print ] || return 0
	command -v vtysh >/dev/null 2>&1 || return 0
	forgotten=
	for pair in $FRR_VNIS; do
		vni=${pair%%:*}
		found=$(zebra_device "$vni")
		if [ -z "$found" ]; then
			forgotten="$forgotten $vni"
		elif [ "$found" != "${pair#*:}" ]; then
			differs "VNI $vni is tied by FRR's zebra to interface $found, not to ${pair#*:}: that device (not vxlan-mesh's) took the VNI over; remove it (or change its VNI)"
		fi
	done
	[ -n "$forgotten" ] || return 0
	differs "FRR's zebra does not know VNI(s)$forgotten: giving advertise-all-vni again"
	run {{ frr.relearn|words }}
}

# Removes vxlan-mesh's router bgp block from FRR, if FRR runs one.
frr_down() {
	command -v vtysh >/dev/null 2>&1 || return 0
	have=$(frr_running)
	if [ -n "$have" ] && frr_ours "$have"; then
		frr_remove "$have"
	fi
}
{%- endif %}

# Takes this network namespace's lock, the one `vxlan-mesh apply`, `status` and `down` take
# ($1: -x alone, -s shared with readers; $2: seconds to wait at most), in a directory only
# its owner may enter: made 0700, refused when it is a link, another user's or open to
# others, so that no other user can hold or redirect it. Held until the script exits.
# The printf formats are vxlan-mesh's messages, whose backticks are text (SC2016).
take_lock() {
	need flock stat
	# shellcheck disable=SC2016
	refused={{ lock.refused }}
	# shellcheck disable=SC2059
	[ ! -L "$LOCK_DIR" ] || die "$(printf "$refused" "$LOCK_DIR" {{ lock.symlink }})"
	(umask 077 && mkdir -p "$LOCK_DIR") || die "cannot make the lock directory \`$LOCK_DIR\`"
	# shellcheck disable=SC2059
	[ -d "$LOCK_DIR" ] || die "$(printf "$refused" "$LOCK_DIR" {{ lock.not_a_directory }})"
	owner=$(stat -c '%u' "$LOCK_DIR")
	# shellcheck disable=SC2059
	[ "$owner" -eq "$(id -u)" ] || die "$(printf "$refused" "$LOCK_DIR" "$(printf {{ lock.foreign_owner }} "$owner" "$(id -u)")")"
	mode=$(stat -c '%a' "$LOCK_DIR")
	# shellcheck disable=SC2059
	[ $((0$mode & 63)) -eq 0 ] || die "$(printf "$refused" "$LOCK_DIR" "$(printf {{ lock.open_mode }} "$mode")")"
	lock="$LOCK_DIR/$(printf {{ lock.file }} "$(stat -L -c '%i' /proc/self/ns/net)")"
	[ ! -L "$lock" ] || die "refusing to open the symbolic link \`$lock\`"
	exec 9<>"$lock"
	# shellcheck disable=SC2016
	flock "$1" -w "$2" 9 || die "$(printf {{ lock.timeout }} "$lock" "$2")"
}

{%- macro ipv6_step(ipv6) %}
	# No IPv6 of the host's own on the overlay: router advertisements from a container
	# would give it a default route through it.
	ipv6=
{%- for (key, get, value) in ipv6.sysctls %}
	[ "$({{ get|words }} 2>/dev/null || echo {{ value }})" = {{ value }} ] || ipv6="$ipv6 {{ key }}"
{%- endfor %}
	if [ -n "$ipv6" ]; then
		differs {{ ipv6.name }}": IPv6 setting(s)$ipv6 differ from the plan: setting them"
		run {{ ipv6.harden|words }}
	fi
	if [ -n "$({{ ipv6.addresses|words }} 2>/dev/null)" ]; then
		differs {{ ipv6.name }}" has IPv6 addresses (the plan has none): flushing them"
		run {{ ipv6.flush|words }}
	fi
{%- endmacro %}

# Makes the host match the plan (MODE apply), prints how (print) or reports how it differs
# (check).
converge() {
	need ip bridge awk sed{% if sysctl %} sysctl{% endif %}
	if [ "$MODE" = apply ]; then
		take_lock -x {{ lock.write_wait }}
	else
		take_lock -s {{ lock.read_wait }}
	fi
{%- if wireguard.is_some() %}
	wg_key_check
{%- endif %}
{%- if frr.is_some() %}
	frr_preflight
{%- endif %}
	firewall_step
	loop_step
	prune_links{% for l in wanted_links %} {{ l }}{% endfor %}
{%- if wireguard.is_some() %}
	wireguard_step
{%- endif %}
{%- for net in networks %}

	# Network {{ net.name }}: bridge {{ net.bridge }}, MTU {{ net.mtu }}
	claim {{ net.bridge }}
	if ! link_exists {{ net.bridge }}; then
		[ "$CREATOR" = networkd ] || differs {{ net.bridge }}" is missing: creating it"
		create {{ net.bridge }} {{ net.create|words }}
	fi
	d=$(details {{ net.bridge }})
	[ "$(field "$d" mtu)" = {{ net.mtu }} ] || run {{ net.set_mtu|words }}
	[ "$(field "$d" alias)" = {{ net.alias }} ] || run {{ net.set_alias|words }}
{%- if let Some(a) = net.arp_accept %}
	# Lets containers' gratuitous ARP into the neighbour table, which zebra announces.
	[ "$({{ a.get|words }} 2>/dev/null)" = 1 ] || run {{ a.set|words }}
{%- endif %}
	{%- call ipv6_step(net.ipv6) %}{% endcall %}
	is_up "$d" || run {{ net.set_up|words }}
{%- for v in net.vxlans %}

	# {{ v.description }}
	claim {{ v.name }}
	d=$(details {{ v.name }})
	if [ -n "$d" ] && [ "$(vxlan_sig "$d")" != {{ v.signature }} ]; then
		differs {{ v.name }}" is \"$(vxlan_sig "$d")\", the plan wants \""{{ v.signature }}"\" (cannot change in place): re-creating it"
		run {{ v.delete|words }}
		# Also under sync: systemd-networkd never re-creates a netdev it made once, so
		# the device is made here with the attributes its .netdev file has.
		run {{ v.create|words }}
		[ "$MODE" != apply ] || d=$(details {{ v.name }})
	fi
	if [ -z "$d" ]; then
		[ "$CREATOR" = networkd ] || differs {{ v.name }}" is missing: creating it"
		create {{ v.name }} {{ v.create|words }}
		d=$(details {{ v.name }})
	fi
	[ "$(field "$d" mtu)" = {{ v.mtu }} ] || run {{ v.set_mtu|words }}
	[ "$(field "$d" alias)" = {{ v.alias }} ] || run {{ v.set_alias|words }}
	if [ "$(field "$d" master)" != {{ v.bridge }} ]; then
		# Joins its bridge down, so that it never forwards before isolation is set.
		run {{ v.set_down|words }}
		run {{ v.set_master|words }}
		[ "$MODE" != apply ] || d=$(details {{ v.name }})
	fi
{%- if !v.port_flags.is_empty() %}
	# Every forwarding flag of the port (hairpin on would send each broadcast back into
	# the tunnel).
	flags=
{%- for (word, value) in v.port_flags %}
	[ "$(field "$d" {{ word }})" = {{ value }} ] || flags="$flags {{ word }}"
{%- endfor %}
	if [ -n "$flags" ]; then
		differs {{ v.name }}": bridge port flag(s)$flags differ from the plan: setting them"
		run {{ v.set_port_flags|words }}
	fi
{%- endif %}
{%- if v.external_fdb %}
	# FRR installs and removes this device's FDB entries (EVPN): none is vxlan-mesh's.
{%- else %}
{%- for e in v.fdb %}
	has_fdb {{ v.name }} {{ e.mac }} {{ e.destination }} || run {{ e.add|words }}
{%- endfor %}
	prune_fdb {{ v.name }} {{ v.remote }} {{ v.port }} {{ v.vni }}{% for e in v.fdb %} {{ e.key }}{% endfor %}
{%- endif %}
	{%- call ipv6_step(v.ipv6) %}{% endcall %}
	is_up "$d" || run {{ v.set_up|words }}
{%- endfor %}
{%- endfor %}
{%- if frr.is_some() %}
	frr_step
	frr_vnis
{%- endif %}
}

stop() {
	need ip
	take_lock -x {{ lock.write_wait }}
{%- if frr.is_some() %}
	frr_down
{%- endif %}
	prune_links
	loop_down
	firewall_down
}

status() {
	MODE=check
	converge
	if [ "$drift" = 0 ]; then
		echo "converged"
	else
		echo "drift: the host differs from the plan (\`$0 start\` corrects it)"
		exit 3
	fi
}

case "${1:-}" in
start) converge ;;
stop) stop ;;
restart)
	stop
	converge
	;;
status) status ;;
sync)
	CREATOR=networkd
	converge
	;;
loop-start) loop_step ;;
loop-stop) loop_down ;;
firewall-start) firewall_step ;;
firewall-stop) firewall_down ;;
claim-check) claim_check ;;
*)
	echo "usage: $0 start|stop|restart|status|sync|loop-start|loop-stop|firewall-start|firewall-stop|claim-check (DRYRUN=1 prints the commands)" >&2
	exit 2
	;;
esac
