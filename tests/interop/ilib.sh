# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034,SC2016 # variables set here are for the caller; check() evals its EXPR
# SPDX-License-Identifier: BSD-3-Clause
#
# ilib.sh: helpers of the interop tests (tests/interop/*.sh, meson suite 'interop'): real SIP
# software from Debian 12 (Kamailio, sipsak, sipp, baresip) on both sides of viaduct. Sourced
# after setting TEST_NAME; it sources ../integration/lib.sh (run_bounded, start_bg, stop_pid,
# wait_for_log, check, ...) and adds:
#
#   il_need CMD PKG                  exit 77 (SKIP) when CMD is missing (scripts/install-deps.sh
#                                    installs PKG, so this only happens outside the suite's setup)
#   il_need_ipv6                     exit 77 without ::1
#   il_start_pool FAMILY HASH [rr]   the usual pool: picks the ports (VD_PORT4 unless set,
#                                    K1_PORT, K2_PORT; with ipv6 VD_PORT6, K1_PORT6, K2_PORT6),
#                                    starts members k1 (K1_ADDR) and k2 (K2_ADDR) and viaduct
#                                    (VD_ADDR4) hashed on HASH; with "rr" the members
#                                    record-route viaduct; sets VD_TARGET, viaduct's host:port
#                                    of FAMILY
#   il_start_kamailio NAME ADDR4 PORT4 [PORT6]
#                                    a pool member (kamailio-registrar.cfg) on ADDR4:PORT4 and
#                                    [::1]:PORT6, log $T/NAME.log, ctl socket $T/NAME/ctl;
#                                    needs VD_ADDR4/VD_PORT4 (and VD_PORT6) set first (aliases);
#                                    IL_KAM_RR=IP:PORT: the member record-routes that (viaduct)
#   il_start_viaduct HASH MEMBER...  config $T/viaduct.yaml with listeners VD_ADDR4:VD_PORT4 (and
#                                    [::1]:VD_PORT6 when set) and one pool of MEMBERs (host:port,
#                                    [v6]:port), hashed on HASH; --check-config, start, ready
#   il_stop_viaduct                  SIGUSR1 (counters), then SIGTERM; VD_RC, VD_STATS (the last
#                                    "stats total" line), and checks: exit 0, drops=0, the
#                                    drop reasons named in the brief absent
#   il_stat KEY                      KEY's value in VD_STATS ("" if absent)
#   il_kam_lines CI                  the "VDI" lines of every member for Call-ID CI
#   il_members_of CI                 the members that logged a request of Call-ID CI (sorted,
#                                    space separated)
#   il_all_cids [REGEX]              every Call-ID the members logged requests for (of methods
#                                    matching REGEX)
#   il_ul_holders USER               the members whose usrloc holds USER (kamcmd ul.lookup)
#   il_check_sticky DESC [REGEX]     check: every Call-ID (of requests matching REGEX) reached
#                                    exactly one member
#
# The users known to the members (kamailio-registrar.cfg defaults): alice, bob, carol with
# password USER-secret.

IL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../integration/lib.sh
source "$IL_HERE/../integration/lib.sh"

IL_KAM_CFG=$IL_HERE/kamailio-registrar.cfg
IL_MEMBERS=()
IL_KAM_EXTRA=()
declare -A PW=([alice]=alice-secret [bob]=bob-secret [carol]=carol-secret)

il_need() {
	if ! command -v "$1" >/dev/null 2>&1; then
		log "SKIP: $1 not installed (Debian package $2; scripts/install-deps.sh installs it)"
		exit 77
	fi
}

il_need_ipv6() {
	if ! grep -qs '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
		log "SKIP: no IPv6 loopback (::1) on this machine"
		exit 77
	fi
}

# il_make_certs: a test CA made here with openssl (RSA 2048, 2 days) and certificates it
# signs, each valid for every loopback address the tests use (127.0.0.11-.22, ::1):
# $IL_CERTS/{ca,viaduct,member,edge}.{pem,key}, and rogue.{pem,key} signed by another CA.
il_make_certs() {
	IL_CERTS=$TMPDIR_E2E/certs
	mkdir -p "$IL_CERTS"
	local d=$IL_CERTS n san="IP:::1"
	for n in 11 12 13 20 21 22; do san+=",IP:127.0.0.$n"; done
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 \
		-subj "/CN=viaduct interop CA" 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/rogue-ca.key" -out "$d/rogue-ca.pem" \
		-days 2 -subj "/CN=someone else" 2>/dev/null
	for n in viaduct member edge rogue; do il_issue_cert "$n" "$san"; done
}

# il_issue_cert NAME SAN: (re)issue $IL_CERTS/NAME.pem with a fresh key and serial
il_issue_cert() {
	local d=$IL_CERTS n=$1 ca=ca
	[[ $1 == rogue ]] && ca=rogue-ca
	openssl req -newkey rsa:2048 -nodes -keyout "$d/$n.key.new" -out "$d/$n.csr" \
		-subj "/CN=$n.interop.test" 2>/dev/null
	printf 'subjectAltName=DNS:%s.interop.test,%s\n' "$n" "$2" >"$d/$n.ext"
	openssl x509 -req -in "$d/$n.csr" -CA "$d/$ca.pem" -CAkey "$d/$ca.key" -set_serial \
		"0x$(openssl rand -hex 8)" -out "$d/$n.pem.new" -days 2 -extfile "$d/$n.ext" 2>/dev/null
	mv "$d/$n.key.new" "$d/$n.key"
	mv "$d/$n.pem.new" "$d/$n.pem"
}

# il_start_kamailio NAME ADDR4 PORT4 [PORT6]; IL_KAM_EXTRA: more -A definitions
il_start_kamailio() {
	local name=$1 addr=$2 port=$3 port6=${4:-} dir=$TMPDIR_E2E/$1
	local -a defs=(-A "MEMBER=\"$name\"" -A "LISTEN4=udp:$addr:$port"
		-A "VD_ALIAS4=$VD_ADDR4:$VD_PORT4" -A "CTL=\"unix:$dir/ctl\"" "${IL_KAM_EXTRA[@]}")
	[[ -n $port6 ]] && defs+=(-A "LISTEN6=udp:[::1]:$port6")
	[[ -n ${VD_PORT6:-} ]] && defs+=(-A "VD_ALIAS6=[::1]:$VD_PORT6")
	[[ -n ${IL_KAM_RR:-} ]] && defs+=(-A "VD_RR=\"$IL_KAM_RR\"")
	mkdir -p "$dir"
	# -DD -E: foreground, log to stderr; -Y/-P/-w: a private runtime dir, nothing in /run.
	# -m/-M: small shared and private memory (MB), two members run beside the rest.
	start_bg_merged "$name" kamailio -DD -E -m 32 -M 4 -f "$IL_KAM_CFG" \
		-Y "$dir" -P "$dir/kamailio.pid" -w "$dir" "${defs[@]}"
	wait_for_udp_port "$addr" "$port" 15 "${BG_PID[$name]}" || die "kamailio $name did not start"
	if [[ -n $port6 ]]; then
		wait_for_udp_port ::1 "$port6" 5 "${BG_PID[$name]}" || die "kamailio $name: no [::1]:$port6"
	fi
	IL_MEMBERS+=("$name")
}

# il_start_viaduct HASH MEMBER...: MEMBER is host:port or [v6]:port; IL_VD_LISTENERS: more
# listener items.
il_start_viaduct() {
	local hash=$1 m host port cfg=$TMPDIR_E2E/viaduct.yaml
	shift
	{
		printf '# viaduct configuration written by %s\nworkers: 2\nlisteners:\n' "$TEST_NAME"
		printf '  - { address: "%s", port: %s }\n' "$VD_ADDR4" "$VD_PORT4"
		[[ -n ${VD_PORT6:-} ]] && printf '  - { address: "::1", port: %s }\n' "$VD_PORT6"
		printf '%b' "${IL_VD_LISTENERS:-}" # more listeners (TCP, TLS), YAML list items
		printf 'pool:\n  name: kamailio\n  hash: %s\n  members:\n' "$hash"
		for m in "$@"; do
			port=${m##*:}
			host=${m%:*}
			host=${host#[}
			host=${host%]}
			printf '    - { host: "%s", port: %s }\n' "$host" "$port"
		done
	} >"$cfg"
	start_viaduct_checked "$cfg"
	VD_PID=$VIADUCT_PID
	wait_for_udp_port "$VD_ADDR4" "$VD_PORT4" 5 "$VD_PID" || die "viaduct: no udp $VD_ADDR4:$VD_PORT4"
}

il_start_pool() {
	local family=$1 hash=$2 rr=${3:-}
	if [[ -z ${VD_PORT4:-} ]]; then
		pick_udp_port "$VD_ADDR4"
		VD_PORT4=$PICKED_PORT
	fi
	pick_udp_port "$K1_ADDR"
	K1_PORT=$PICKED_PORT
	pick_udp_port "$K2_ADDR"
	K2_PORT=$PICKED_PORT
	if [[ $family == ipv6 ]]; then
		pick_udp_port ::1
		VD_PORT6=$PICKED_PORT
		pick_udp_port ::1
		K1_PORT6=$PICKED_PORT
		pick_udp_port ::1
		K2_PORT6=$PICKED_PORT
		VD_TARGET=$(hostport ::1 "$VD_PORT6")
		[[ $rr == rr ]] && IL_KAM_RR=$VD_TARGET
		il_start_kamailio k1 "$K1_ADDR" "$K1_PORT" "$K1_PORT6"
		il_start_kamailio k2 "$K2_ADDR" "$K2_PORT" "$K2_PORT6"
		il_start_viaduct "$hash" "[::1]:$K1_PORT6" "[::1]:$K2_PORT6"
		wait_for_udp_port ::1 "$VD_PORT6" 5 "$VD_PID" || die "viaduct: no udp [::1]:$VD_PORT6"
	else
		VD_TARGET=$(hostport "$VD_ADDR4" "$VD_PORT4")
		[[ $rr == rr ]] && IL_KAM_RR=$VD_TARGET
		il_start_kamailio k1 "$K1_ADDR" "$K1_PORT"
		il_start_kamailio k2 "$K2_ADDR" "$K2_PORT"
		il_start_viaduct "$hash" "$K1_ADDR:$K1_PORT" "$K2_ADDR:$K2_PORT"
	fi
}

il_stat() { field "$1" "$VD_STATS"; }

# il_stop_viaduct: the counters two ways (SIGUSR1 while running, then the lines printed at
# exit), and the checks every interop test makes on them.
il_stop_viaduct() {
	local log=$TMPDIR_E2E/viaduct.log n reason
	n=$(grep -c 'stats total' "$log" || true)
	kill -USR1 "$VD_PID"
	wait_for_log "$log" 'stats control' 5 "$VD_PID" || log "no counters after SIGUSR1"
	VD_RC=0
	stop_pid "$VD_PID" TERM 10 || VD_RC=killed
	[[ $VD_RC == killed ]] || VD_RC=$WAIT_RC
	VD_STATS=$(grep -E 'stats total' "$log" | tail -n 1 || true)
	log "viaduct: ${VD_STATS:-no stats line} (stats total lines before SIGUSR1: $n)"
	check "viaduct exited 0 on SIGTERM (got $VD_RC)" '[[ $VD_RC == 0 ]]'
	check "viaduct counted traffic (rx=$(il_stat rx) tx=$(il_stat tx))" \
		'(( $(il_stat rx) > 0 && $(il_stat tx) > 0 ))'
	check "viaduct dropped nothing (drops=$(il_stat drops); $(grep -oE 'drop_[a-z_-]+=[0-9]+' <<<"$VD_STATS" | tr '\n' ' '))" \
		'[[ $(il_stat drops) == 0 ]]'
	for reason in no-next-via via-not-ours bad-response send-failed no-egress; do
		if grep -qE "(^| )[a-z_]*${reason}=[1-9]" <<<"$VD_STATS"; then
			check "viaduct: no '$reason' drops" false
		fi
	done
	check "viaduct: rx = tx + replies + drops" \
		'(( $(il_stat rx) == $(il_stat tx) + $(il_stat replies) + $(il_stat drops) ))'
}

il_kam_lines() {
	local m
	for m in "${IL_MEMBERS[@]}"; do
		awk -v m="member=$m" -v c="ci=$1" '/VDI member=/ {
			ok = 0; mm = 0
			for (i = 1; i <= NF; i++) { if ($i == c) ok = 1; if ($i == m) mm = 1 }
			if (ok && mm) { sub(/^.*VDI /, ""); print } }' "$TMPDIR_E2E/$m.log"
	done
}

il_members_of() {
	local m out=()
	for m in "${IL_MEMBERS[@]}"; do
		if il_kam_lines "$1" | grep -q "^member=$m req="; then
			out+=("$m")
		fi
	done
	printf '%s\n' "${out[*]}"
}

il_all_cids() {
	local re=${1:-.} m
	for m in "${IL_MEMBERS[@]}"; do
		awk -v re="$re" '/VDI member=.* req=/ { for (i = 1; i <= NF; i++) {
				if ($i ~ /^req=/) meth = substr($i, 5)
				if ($i ~ /^ci=/) ci = substr($i, 4) }
				if (meth ~ re) print ci }' "$TMPDIR_E2E/$m.log"
	done | LC_ALL=C sort -u
}

il_check_sticky() {
	local desc=$1 re=${2:-.} ci n=0 bad=() mem
	while IFS= read -r ci; do
		[[ -n $ci ]] || continue
		n=$((n + 1))
		mem=$(il_members_of "$ci")
		[[ $mem == *' '* || -z $mem ]] && bad+=("$ci@{$mem}")
	done < <(il_all_cids "$re")
	check "$desc: each of $n Call-IDs reached exactly one member${bad:+ (not: ${bad[*]:0:3})}" \
		'(( n > 0 && ${#bad[@]} == 0 ))'
}

# il_dump_logs: on failure, the ends of the members' and viaduct's logs.
il_dump_logs() {
	local m
	tail_log viaduct "$TMPDIR_E2E/viaduct.log" 30
	for m in "${IL_MEMBERS[@]}"; do
		tail_log "kamailio $m" "$TMPDIR_E2E/$m.log" 30 4000
	done
}

# il_check_members_parsed: no member refused a message viaduct forwarded as unparsable (Kamailio
# logs "bad header field" / "parse_via" and drops it without an answer).
il_check_members_parsed() {
	local m n ex
	for m in "${IL_MEMBERS[@]}"; do
		n=$(grep -cE 'bad header field|parse_via\(\): parse error|receive_msg\(\): .*failed' "$TMPDIR_E2E/$m.log" || true)
		ex=$(grep -m1 -oE 'parsing via on: <[^'$'\r'']*' "$TMPDIR_E2E/$m.log" | head -c 160 || true)
		check "member $m parsed every message viaduct sent it ($n parse errors${ex:+, e.g. $ex})" '(( n == 0 ))'
	done
}

# il_ul_holders USER: the members whose usrloc holds a contact for USER (kamcmd ul.lookup
# over each member's ctl socket): the registrar's own view, next to the log lines.
il_ul_holders() {
	local m out=()
	for m in "${IL_MEMBERS[@]}"; do
		if timeout 5 kamcmd -s "unix:$TMPDIR_E2E/$m/ctl" ul.lookup location "$1" 2>&1 |
			grep -q 'Contact'; then
			out+=("$m")
		fi
	done
	printf '%s\n' "${out[*]}"
}
