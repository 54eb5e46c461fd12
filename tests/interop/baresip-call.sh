#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# baresip-call.sh: two baresip 1.0 phones, alice and bob, headless, each with viaduct as its
# outbound proxy, in front of a pool of two Kamailio registrars (hash: to-user: a phone's
# REGISTER and the requests addressed to it go to the same member, the one that holds its
# registration; the members share nothing). baresip's Via ends in ";rport".
#
# usage: baresip-call.sh VIADUCT_BIN FAMILY [TRANSPORT]
#   FAMILY     ipv4 (viaduct 127.0.0.20, members 127.0.0.21/.22, alice 127.0.0.11, bob
#              127.0.0.12) or ipv6 (everything on ::1, a port each)
#   TRANSPORT  how alice reaches viaduct: udp (default), tcp, or tls (a CA and viaduct's
#              certificate made by the test; alice verifies it). bob stays on UDP; the
#              members are UDP: responses find alice's connection from viaduct's Via.
# exit: 0 all checks passed, 1 a check failed, 2 usage, 77 baresip/kamailio missing or no ::1.
#
# Steps and checks:
#   1. both phones register with digest auth through viaduct (401, then 200): their logs say
#      "200 OK", the member that holds each phone answered 401 then 200;
#   2. alice dials sip:bob@DOMAIN (through cons.so's UDP control socket): INVITE, 407, INVITE
#      with Proxy-Authorization, the member looks bob up and relays; bob answers automatically
#      (answermode=auto): 100, 180, 200, ACK; both log "Call established";
#   3. alice hangs up: BYE, 200; both phones log the call closed;
#   4. every request of the call (INVITE, ACK, BYE; one Call-ID) reached one member, the one
#      holding bob's registration, and the member relayed bob's 180, his 200 to the INVITE and
#      his 200 to the BYE. ACK and BYE pass viaduct and a member only because the member
#      record-routes viaduct's address (IL_KAM_RR; one entry, not the member's own): without a
#      Record-Route, RFC 3261 sends them from phone to phone, around the proxies;
#   5. viaduct's counters: exit 0, drops=0, rx = tx + replies + drops.

# shellcheck source-path=SCRIPTDIR disable=SC2016 # check() evals its single-quoted EXPR later
set -euo pipefail
TEST_NAME=interop-baresip
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=ilib.sh
source "$HERE/ilib.sh"

usage() {
	echo "usage: $0 VIADUCT_BIN {ipv4|ipv6}" >&2
	exit 2
}
(($# == 2 || $# == 3)) || usage
in_private_netns "$@" # loopback only, whatever viaduct follows
run_bounded 55 "$@"
VIADUCT_BIN=$1 FAMILY=$2 TRANSPORT=${3:-udp}
TEST_NAME="interop-baresip $FAMILY $TRANSPORT"
[[ $TRANSPORT == udp || $TRANSPORT == tcp || $TRANSPORT == tls ]] || usage
DOMAIN=interop.test

il_need baresip baresip-core
il_need kamailio kamailio
[[ -f /usr/lib/baresip/modules/cons.so ]] || { log "SKIP: no baresip cons.so"; exit 77; }
install_cleanup_trap
make_tmpdir
T=$TMPDIR_E2E

VD_ADDR4=127.0.0.20 K1_ADDR=127.0.0.21 K2_ADDR=127.0.0.22
case $FAMILY in
ipv4) declare -A UA_ADDR=([alice]=127.0.0.11 [bob]=127.0.0.12) ;;
ipv6)
	il_need_ipv6
	declare -A UA_ADDR=([alice]=::1 [bob]=::1)
	;;
*) usage ;;
esac

# shellcheck disable=SC2317 # called from lib.sh's EXIT trap
on_exit_hook() {
	(($1 == 0)) && return 0
	il_dump_logs
	tail_log "baresip alice" "$T/alice.log" 40 4000
	tail_log "baresip bob" "$T/bob.log" 40 4000
}

# alice's way in: a TCP listener on viaduct's UDP port, or a TLS one on the next port
if [[ $FAMILY == ipv6 ]]; then VD_HOST=::1; else VD_HOST=$VD_ADDR4; fi
pick_udp_port "$VD_HOST"
VD_STREAM_PORT=$PICKED_PORT
case $TRANSPORT in
tcp) IL_VD_LISTENERS="  - { address: \"$VD_HOST\", port: $VD_STREAM_PORT, transport: tcp }\n" ;;
tls)
	il_need openssl openssl
	il_make_certs
	IL_VD_LISTENERS="  - { address: \"$VD_HOST\", port: $VD_STREAM_PORT, transport: tls, tls: { certificate: $IL_CERTS/viaduct.pem, key: $IL_CERTS/viaduct.key } }\n"
	;;
esac
il_start_pool "$FAMILY" to-user rr
OUTBOUND="sip:$VD_TARGET"
declare -A UA_OUTBOUND=([alice]=$OUTBOUND [bob]=$OUTBOUND)
[[ $TRANSPORT != udp ]] &&
	UA_OUTBOUND[alice]="sip:$(hostport "$VD_HOST" "$VD_STREAM_PORT");transport=$TRANSPORT"

# A DNS server port nobody listens on: baresip asks nothing (IP literals, outbound proxy), and
# if it did, it would get "port unreachable" at once instead of waiting on a real resolver.
pick_udp_port 127.0.0.1
DNS_PORT=$PICKED_PORT

# baresip_start NAME RTP_BASE: config and accounts in $T/NAME/, log in $T/NAME.log; the control
# socket (cons.so, one datagram per command) on CONS_PORT[NAME].
declare -A SIP_PORT=() CONS_PORT=()
baresip_start() {
	local name=$1 rtp=$2 addr=${UA_ADDR[$1]} dir=$T/$1
	mkdir -p "$dir"
	pick_udp_port "$addr"
	SIP_PORT[$name]=$PICKED_PORT
	pick_udp_port "$addr"
	CONS_PORT[$name]=$PICKED_PORT
	cat >"$dir/config" <<-EOF
		poll_method		epoll
		sip_listen		$(hostport "$addr" "${SIP_PORT[$name]}")
		net_interface		$addr
		dns_server		127.0.0.1:$DNS_PORT
		call_local_timeout	20
		call_max_calls		2
		audio_player		aubridge,$name-play
		audio_source		aubridge,$name-src
		audio_alert		aubridge,$name-alert
		rtp_ports		$rtp-$((rtp + 9))
		module_path		/usr/lib/baresip/modules
		module			g711.so
		module			aubridge.so
		module			cons.so
		module_tmp		uuid.so
		module_tmp		account.so
		module_app		menu.so
		cons_listen		$(hostport "$addr" "${CONS_PORT[$name]}")
	EOF
	[[ $TRANSPORT == tls ]] && printf 'sip_cafile\t\t%s\n' "$IL_CERTS/ca.pem" >>"$dir/config"
	printf '<sip:%s@%s>;auth_pass=%s;outbound="%s";regint=600;answermode=auto;audio_codecs=pcmu\n' \
		"$name" "$DOMAIN" "${PW[$name]}" "${UA_OUTBOUND[$name]}" >"$dir/accounts"
	start_bg_merged "$name" baresip -f "$dir"
	wait_for_udp_port "$addr" "${CONS_PORT[$name]}" 10 "${BG_PID[$name]}" ||
		die "baresip $name: no control socket"
}

# cmd NAME COMMAND: one datagram to the phone's control socket.
cmd() {
	local addr=${UA_ADDR[$1]}
	log "$1: $2"
	printf '%s\n' "$2" >"/dev/udp/$addr/${CONS_PORT[$1]}"
}

baresip_start alice 30000
baresip_start bob 30010

# 1. registration
for u in alice bob; do
	wait_for_log "$T/$u.log" '200 OK' 10 "${BG_PID[$u]}" || true
	check "$u registered through viaduct (baresip logs 200 OK)" 'grep -q "200 OK" "$T/$u.log"'
done
mapfile -t reg_cids < <(il_all_cids '^REGISTER$')
check "two registrations reached the members (got ${#reg_cids[@]})" '(( ${#reg_cids[@]} == 2 ))'
declare -A HOME_OF=()
for ci in "${reg_cids[@]}"; do
	lines=$(il_kam_lines "$ci")
	u=$(grep -m1 -oE ' from=[a-z]+' <<<"$lines" | cut -c7-)
	HOME_OF[$u]=$(il_members_of "$ci")
	check "$u: 401 then 200 at member ${HOME_OF[$u]}" \
		'grep -q " sent=401 " <<<"$lines" && grep -q " sent=200 " <<<"$lines"'
done

for u in alice bob; do
	holders=$(il_ul_holders "$u")
	check "$u: only ${HOME_OF[$u]:-?} holds the registration in usrloc ($holders)" \
		'[[ -n $holders && $holders == "${HOME_OF[$u]:-}" ]]'
done

# 2. the call
cmd alice "/dial sip:bob@$DOMAIN"
wait_for_log "$T/alice.log" 'Call established' 15 "${BG_PID[alice]}" || true
wait_for_log "$T/bob.log" 'Call established' 5 "${BG_PID[bob]}" || true
check "alice: call established" 'grep -q "Call established" "$T/alice.log"'
check "bob: call established (auto answer)" 'grep -q "Call established" "$T/bob.log"'

# 3. hang up (baresip logs "terminate call" for its own hangup, "session closed: Connection
# reset by peer" when the peer's BYE arrives)
cmd alice /hangup
wait_for_log "$T/alice.log" 'terminate call' 10 "${BG_PID[alice]}" || true
wait_for_log "$T/bob.log" 'session closed' 10 "${BG_PID[bob]}" || true
check "alice: call closed (hung up)" 'grep -q "terminate call" "$T/alice.log"'
check "bob: call closed (got the BYE)" 'grep -q "session closed" "$T/bob.log"'

# 4. the dialog at the members
mapfile -t inv_cids < <(il_all_cids '^INVITE$')
check "one call (INVITE Call-ID) reached the members (got ${#inv_cids[@]})" '(( ${#inv_cids[@]} == 1 ))'
if ((${#inv_cids[@]} == 1)); then
	ci=${inv_cids[0]}
	lines=$(il_kam_lines "$ci")
	mem=$(il_members_of "$ci")
	check "call: every request (INVITE, ACK, BYE) at one member ($mem)" '[[ -n $mem && $mem != *" "* ]]'
	check "call: at bob's registrar (${HOME_OF[bob]:-?}; hash to-user)" '[[ $mem == "${HOME_OF[bob]:-}" ]]'
	for want in 'req=INVITE' 'sent=407' 'rpl=180' 'req=ACK' 'req=BYE'; do
		check "call at the member: $want" 'grep -qE " $want " <<<"$lines"'
	done
	# bob's 200 to the authenticated INVITE and to the BYE, relayed by the member
	inv_cseq=$(grep -E ' req=INVITE ' <<<"$lines" | tail -n 1 | grep -oE 'cseq=[0-9]+' || true)
	bye_cseq=$(grep -E ' req=BYE ' <<<"$lines" | tail -n 1 | grep -oE 'cseq=[0-9]+' || true)
	check "call: the member relayed bob's 200 to the INVITE ($inv_cseq)" \
		'[[ -n $inv_cseq ]] && grep -q " rpl=200 $inv_cseq " <<<"$lines"'
	check "call: the member relayed bob's 200 to the BYE ($bye_cseq)" \
		'[[ -n $bye_cseq ]] && grep -q " rpl=200 $bye_cseq " <<<"$lines"'
fi

for u in alice bob; do
	cmd "$u" /quit
done
for u in alice bob; do
	stop_pid "${BG_PID[$u]}" TERM 5 || log "baresip $u needed SIGKILL"
done
il_stop_viaduct
if [[ $TRANSPORT != udp ]]; then
	TCPSTATS=$(grep -E '^stats tcp' "$T/viaduct.log" | tail -n 1 || true)
	log "$TCPSTATS"
	check "alice's connection over $TRANSPORT was accepted (accepted=$(field accepted "$TCPSTATS"))" \
		'(( $(field accepted "$TCPSTATS") >= 1 ))'
	[[ $TRANSPORT == tls ]] &&
		check "and its TLS handshake completed (tls_handshakes=$(field tls_handshakes "$TCPSTATS"))" \
			'(( $(field tls_handshakes "$TCPSTATS") >= 1 ))'
	via=$(il_kam_lines "${inv_cids[0]:-none}" 2>/dev/null | grep -m1 " req=INVITE " || true)
	check "the member saw alice's Via as ${TRANSPORT^^}" 'grep -q "via2=<SIP/2.0/${TRANSPORT^^} " <<<"$via"'
fi
il_check_sticky "hash to-user"
il_check_members_parsed
checks_exit
