#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# sipp-rport.sh: REGISTER with digest auth, then a re-REGISTER, through viaduct to a pool of two
# Kamailio registrars, from sipp scenarios whose Via carries ";rport" last
# (bench/sipp/register_rport_last.xml, as baresip and most softphones write it) and in the
# middle (bench/sipp/register_rport_mid.xml, ";rport;branch=...").
#
# usage: sipp-rport.sh VIADUCT_BIN FAMILY HASH [CALLS]
#   FAMILY  ipv4 (viaduct 127.0.0.20, members 127.0.0.21/.22, sipp 127.0.0.11/.12) or ipv6
#           (everything on ::1, one port each)
#   HASH    call-id or source-ip (viaduct's pool hash)
#   CALLS   registrations per scenario (default 20)
# exit: 0 all checks passed, 1 a check failed, 2 usage, 77 sipp/kamailio missing or no ::1.
#
# Checks:
#   - each scenario: sipp exits 0 with CALLS successful calls: every registration got its 401,
#     the 200 after it and the 200 of the re-REGISTER, each response carrying our Via back with
#     rport=PORT filled in and every parameter well formed (the scenario checks that);
#   - the members answered 401 then 200 (their own logs) for each Call-ID;
#   - every REGISTER of a Call-ID (first, authenticated, re-REGISTER) reached one member;
#   - call-id: both members got registrations; source-ip: all of one client's registrations at
#     one member; the members' usrloc (kamcmd ul.lookup over their ctl sockets) agrees;
#   - the member saw viaduct's Via on top and the client's Via below it with rport=PORT;
#   - viaduct's counters: exit 0, drops=0 (no no-next-via, via-not-ours ...), rx = tx +
#     replies + drops.

# shellcheck source-path=SCRIPTDIR disable=SC2016 # check() evals its single-quoted EXPR later
set -euo pipefail
TEST_NAME=sipp-rport
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ilib.sh
source "$HERE/ilib.sh"

usage() {
	echo "usage: $0 VIADUCT_BIN {ipv4|ipv6} {call-id|source-ip} [CALLS]" >&2
	exit 2
}
(($# >= 3 && $# <= 4)) || usage
in_private_netns "$@" # loopback only, whatever viaduct follows
run_bounded 50 "$@"
VIADUCT_BIN=$1 FAMILY=$2 HASH=$3 CALLS=${4:-20}
TEST_NAME="sipp-rport $FAMILY $HASH"
[[ $HASH == call-id || $HASH == source-ip ]] || usage
[[ $CALLS =~ ^[1-9][0-9]*$ ]] || usage
SCN_DIR=$(cd "$HERE/../../bench/sipp" && pwd)

il_need sipp sip-tester
il_need kamailio kamailio
install_cleanup_trap
make_tmpdir
T=$TMPDIR_E2E

case $FAMILY in
ipv4)
	VD_ADDR4=127.0.0.20 K1_ADDR=127.0.0.21 K2_ADDR=127.0.0.22
	CLIENT_ADDRS=(127.0.0.11 127.0.0.12)
	;;
ipv6)
	il_need_ipv6
	# viaduct keeps an IPv4 listener too (Kamailio's alias); traffic is all IPv6.
	VD_ADDR4=127.0.0.20 K1_ADDR=127.0.0.21 K2_ADDR=127.0.0.22
	CLIENT_ADDRS=(::1 ::1)
	;;
*) usage ;;
esac

# shellcheck disable=SC2317 # called from lib.sh's EXIT trap
on_exit_hook() {
	(($1 == 0)) && return 0
	il_dump_logs
	local s
	for s in last mid; do
		tail_log "sipp $s errors" "$T/sipp-$s.errors" 20 3000
		tail_log "sipp $s stderr" "$T/sipp-$s.err" 10
	done
}

il_start_pool "$FAMILY" "$HASH"
TARGET=$VD_TARGET

# The two scenarios one after the other, each from its own address (IPv4) or port, alice with
# rport last, bob with rport in the middle. -recv_timeout: a lost response fails the call in
# 4 s instead of sipp retransmitting for 32 s; -timeout bounds the run.
declare -A SIPP_RC=() SIPP_USER=([last]=alice [mid]=bob) SIPP_PORT=()
i=0
for s in last mid; do
	addr=${CLIENT_ADDRS[$i]}
	i=$((i + 1))
	pick_udp_port "$addr"
	SIPP_PORT[$s]=$PICKED_PORT
	u=${SIPP_USER[$s]}
	start_bg "sipp-$s" sipp -sf "$SCN_DIR/register_rport_$s.xml" "$TARGET" \
		-i "$addr" -p "${SIPP_PORT[$s]}" -s "$u" -au "$u" -ap "${PW[$u]}" \
		-m "$CALLS" -r 50 -l 10 -nostdin \
		-default_behaviors abortunexp -recv_timeout 4000 -timeout 15s -timeout_error \
		-trace_stat -stf "$T/sipp-$s.csv" -fd 1 \
		-trace_err -error_file "$T/sipp-$s.errors" \
		-trace_msg -message_file "$T/sipp-$s.msg"
	wait_pid "${BG_PID[sipp-$s]}" 20 || die "sipp ($s) still running after 20 s"
	SIPP_RC[$s]=$WAIT_RC
done

il_stop_viaduct

for s in last mid; do
	u=${SIPP_USER[$s]}
	ok=$(sipp_ok "sipp-$s" 2>/dev/null || true)
	failed=$(sipp_failed "sipp-$s" 2>/dev/null || true)
	check "rport $s: sipp exit 0 (got ${SIPP_RC[$s]})" '[[ ${SIPP_RC[$s]} == 0 ]]'
	check "rport $s: $CALLS registrations + re-registrations succeeded (ok=$ok failed=$failed)" \
		'[[ $ok == "$CALLS" && $failed == 0 ]]'
	# Call-IDs of this scenario, from the members' logs (user from=$u).
	mapfile -t cids < <(for m in "${IL_MEMBERS[@]}"; do
		awk -v u="from=$u" '/VDI member=.* req=REGISTER / {
			for (i = 1; i <= NF; i++) { if ($i == u) f = 1; if ($i ~ /^ci=/) c = substr($i, 4) }
			if (f) print c; f = 0 }' "$T/$m.log"
	done | LC_ALL=C sort -u)
	check "rport $s: the members saw $CALLS Call-IDs (got ${#cids[@]})" '(( ${#cids[@]} == CALLS ))'
	bad_flow=0 bad_member=0 bad_via=0
	declare -A used=()
	for ci in "${cids[@]}"; do
		lines=$(il_kam_lines "$ci")
		mem=$(il_members_of "$ci")
		[[ -n $mem && $mem != *' '* ]] || bad_member=$((bad_member + 1))
		used[$mem]=1
		# 401 for CSeq 1, 200 for CSeq 2 and 3 (sipp's [cseq] starts at 1).
		grep -q ' sent=401 cseq=1 ' <<<"$lines" && grep -q ' sent=200 cseq=2 ' <<<"$lines" &&
			grep -q ' sent=200 cseq=3 ' <<<"$lines" || bad_flow=$((bad_flow + 1))
		# viaduct's Via on top, the client's below with rport filled
		grep -E ' req=REGISTER ' <<<"$lines" | grep -vqE "via1=<SIP/2.0/UDP [^;>]*(;[^;>]+)*;branch=z9hG4bKvd[0-9a-f]{16}" &&
			bad_via=$((bad_via + 1))
		grep -E ' req=REGISTER ' <<<"$lines" | grep -vqE " via2=<SIP/2.0/UDP [^>]*;rport=${SIPP_PORT[$s]}([;>])" &&
			bad_via=$((bad_via + 1))
	done
	check "rport $s: each registration was 401, then 200 and 200 at its member ($bad_flow not)" \
		'(( bad_flow == 0 ))'
	check "rport $s: all REGISTERs of a Call-ID at one member ($bad_member not)" '(( bad_member == 0 ))'
	check "rport $s: members saw viaduct's Via on top and the client's with rport=${SIPP_PORT[$s]} ($bad_via not)" \
		'(( bad_via == 0 ))'
	holders=$(il_ul_holders "$u")
	case $HASH in
	call-id)
		check "rport $s: hash call-id spread the registrations over both members (${!used[*]})" \
			'(( ${#used[@]} == 2 ))'
		check "rport $s: both members' usrloc hold $u ($holders)" '[[ $holders == "k1 k2" ]]'
		;;
	source-ip)
		check "rport $s: hash source-ip kept one client at one member (${!used[*]})" \
			'(( ${#used[@]} == 1 ))'
		check "rport $s: only that member's usrloc holds $u ($holders)" \
			'[[ -n $holders && $holders == "${!used[*]}" ]]'
		;;
	esac
	unset used
done
il_check_sticky "hash $HASH"
il_check_members_parsed
checks_exit
