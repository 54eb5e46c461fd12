#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# sipsak.sh: sipsak 0.9.8.1 through viaduct (hash: source-ip) to a pool of two Kamailio
# registrars, IPv4 only (sipsak has no IPv6). Its Via is "...;branch=z9hG4bK.X;rport;alias"
# (rport in the middle).
#
# usage: sipsak.sh VIADUCT_BIN
# exit: 0 all checks passed, 1 a check failed, 2 usage, 77 sipsak/sipp/kamailio missing.
#
# Steps and checks:
#   1. OPTIONS sip:VIADUCT:PORT (no user): viaduct answers 200 itself (keepalive target);
#      no member sees it.
#   2. alice registers (sipsak -U: REGISTER, 401, REGISTER with Authorization, 200), twice
#      (two runs: a new Call-ID each): sipsak succeeds, the member answered 401 then 200, and
#      both registrations are at the same member (hash source-ip: one client, one member).
#   3. bob registers a contact that is a sipp MESSAGE UAS (sipsak -U -C); alice sends him a
#      MESSAGE (sipsak -f FILE: its -M mode crashes): 407, MESSAGE with Proxy-Authorization, the member looks bob up and
#      relays to the UAS, whose 200 comes back through member and viaduct. sipsak succeeds and
#      the UAS got the body.
#   4. every Call-ID at one member; viaduct's counters: exit 0, drops=0, one local 200.
#
# sipsak 0.9.8.1 cuts a 5-digit port in the Request-URI it writes to 4 digits
# ("sip:127.0.0.20:1506" for :15060), so viaduct listens on a 4-digit port here.

# shellcheck source-path=SCRIPTDIR disable=SC2016 # check() evals its single-quoted EXPR later
set -euo pipefail
TEST_NAME=interop-sipsak
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ilib.sh
source "$HERE/ilib.sh"

(($# == 1)) || { echo "usage: $0 VIADUCT_BIN" >&2; exit 2; }
in_private_netns "$@" # loopback only, whatever viaduct follows
run_bounded 50 "$@"
VIADUCT_BIN=$1

il_need sipsak sipsak
il_need sipp sip-tester
il_need kamailio kamailio
install_cleanup_trap
make_tmpdir
T=$TMPDIR_E2E

# shellcheck disable=SC2317 # called from lib.sh's EXIT trap
on_exit_hook() {
	(($1 == 0)) && return 0
	il_dump_logs
	local f
	for f in "$T"/sipsak-*.out; do tail_log "${f##*/}" "$f" 30 3000; done
	tail_log "sipp UAS" "$T/uas.msg" 30 3000
}

VD_ADDR4=127.0.0.20 K1_ADDR=127.0.0.21 K2_ADDR=127.0.0.22 UA=127.0.0.11 UAS_ADDR=127.0.0.13
# sipsak 0.9.8.1 cuts a 5-digit port in its Request-URI to 4 digits
pick_udp_port "$VD_ADDR4" 4000 9999
VD_PORT4=$PICKED_PORT
pick_udp_port "$UAS_ADDR"
UAS_PORT=$PICKED_PORT
VD=$VD_ADDR4:$VD_PORT4

il_start_pool ipv4 source-ip
start_bg uas sipp -sf "$HERE/../integration/sipp/message_uas.xml" -i "$UAS_ADDR" -p "$UAS_PORT" \
	-m 1 -nostdin -trace_msg -message_file "$T/uas.msg"
wait_for_udp_port "$UAS_ADDR" "$UAS_PORT" 10 "${BG_PID[uas]}" || die "sipp UAS did not start"

# sipsak NAME ARGS...: one bounded sipsak run from $UA (-k: bind, -H: the address in its Via
# and Contact), verbose output in $T/sipsak-NAME.out; SIPSAK_RC[NAME].
declare -A SIPSAK_RC=()
sipsak_run() {
	local name=$1
	shift
	SIPSAK_RC[$name]=0
	timeout -k 2 15 sipsak -k "$UA" -H "$UA" -vv "$@" </dev/null >"$T/sipsak-$name.out" 2>&1 ||
		SIPSAK_RC[$name]=$?
	log "sipsak $name: exit ${SIPSAK_RC[$name]}"
}

# 1. OPTIONS to viaduct itself
sipsak_run options -s "sip:$VD"
check "OPTIONS sip:$VD: sipsak exit 0 (got ${SIPSAK_RC[options]})" '[[ ${SIPSAK_RC[options]} == 0 ]]'
check "OPTIONS sip:$VD: 200 OK from viaduct" 'grep -q "^SIP/2.0 200" "$T/sipsak-options.out"'
check "OPTIONS sip:$VD: the 200 lists Allow, Accept and Supported (RFC 3261 11.2)" \
	'grep -q "^Allow: .*INVITE" "$T/sipsak-options.out" && grep -q "^Accept: application/sdp" "$T/sipsak-options.out" && grep -q "^Supported:" "$T/sipsak-options.out"'
check "OPTIONS sip:$VD: no member saw it" '[[ -z $(il_all_cids "^OPTIONS$") ]]'

# 2. alice registers twice
sipsak_run reg1 -U -i -s "sip:alice@$VD" -a "${PW[alice]}"
sipsak_run reg2 -U -i -s "sip:alice@$VD" -a "${PW[alice]}"
for r in reg1 reg2; do
	check "alice $r: sipsak REGISTER with digest auth exit 0 (got ${SIPSAK_RC[$r]})" \
		'[[ ${SIPSAK_RC[$r]} == 0 ]]'
done
mapfile -t alice_cids < <(il_all_cids '^REGISTER$')
check "alice: two registrations (Call-IDs) reached the members (got ${#alice_cids[@]})" \
	'(( ${#alice_cids[@]} == 2 ))'
declare -A reg_members=()
for ci in "${alice_cids[@]}"; do
	lines=$(il_kam_lines "$ci")
	check "alice $ci: 401 then 200 at the member" \
		'grep -q " sent=401 " <<<"$lines" && grep -q " sent=200 " <<<"$lines"'
	reg_members[$(il_members_of "$ci")]=1
done
check "hash source-ip: both registrations of alice at one member (${!reg_members[*]})" \
	'(( ${#reg_members[@]} == 1 ))'

# 3. bob's contact is the sipp UAS; alice sends bob a MESSAGE
sipsak_run regbob -U -i -s "sip:bob@$VD" -a "${PW[bob]}" -C "sip:bob@$UAS_ADDR:$UAS_PORT"
check "bob: REGISTER of the UAS contact exit 0 (got ${SIPSAK_RC[regbob]})" '[[ ${SIPSAK_RC[regbob]} == 0 ]]'
# sipsak's own MESSAGE mode (-M) crashes in 0.9.8.1 (SIGSEGV, with or without viaduct), so
# the MESSAGE is a file sipsak sends in its default mode (it adds its Via and answers the 407).
BODY="hello bob through viaduct"
printf '%s\r\n' "MESSAGE sip:bob@$VD SIP/2.0" "From: <sip:alice@$VD>;tag=interop-$$" \
	"To: <sip:bob@$VD>" "Call-ID: interop-msg-$$@$UA" "CSeq: 1 MESSAGE" "Max-Forwards: 70" \
	"Content-Type: text/plain" "Content-Length: ${#BODY}" "" >"$T/message.sip"
printf '%s' "$BODY" >>"$T/message.sip"
sipsak_run message -f "$T/message.sip" -s "sip:bob@$VD" -u alice -a "${PW[alice]}"
check "MESSAGE alice -> bob: sipsak exit 0 (got ${SIPSAK_RC[message]})" '[[ ${SIPSAK_RC[message]} == 0 ]]'
check "MESSAGE alice -> bob: the UAS got it with its body" \
	'grep -q "^MESSAGE sip:bob@" "$T/uas.msg" && grep -qF "$BODY" "$T/uas.msg"'
mapfile -t msg_cids < <(il_all_cids '^MESSAGE$')
for ci in "${msg_cids[@]}"; do
	lines=$(il_kam_lines "$ci")
	check "MESSAGE $ci: 407, then the UAS's 200 relayed by the member" \
		'grep -q " sent=407 " <<<"$lines" && grep -q " rpl=200 " <<<"$lines"'
done
check "MESSAGE: the members saw one Call-ID (got ${#msg_cids[@]})" '(( ${#msg_cids[@]} == 1 ))'
wait_pid "${BG_PID[uas]}" 5 || log "sipp UAS still running"

il_stop_viaduct
check "viaduct answered the OPTIONS itself (reply_200=$(il_stat reply_200))" '(( $(il_stat reply_200) == 1 ))'
il_check_sticky "hash source-ip"
il_check_members_parsed
checks_exit
