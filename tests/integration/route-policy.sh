#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# route-policy.sh: viaduct's edge policy end to end, with sipp as the clients, the pool and a
# "far" next hop, inside a network namespace this test creates (lo only, plus the far hop's
# address 192.0.2.50 on it): no open relay, no loop through our own address, 513 for what is
# too large, 420 for unknown Proxy-Require tags, and requests from a member going outward.
#
# usage: route-policy.sh VIADUCT_BIN [CALLS]
#
# Phases (each a fresh viaduct on its own config; CALLS MESSAGE transactions a scenario):
#   A. default policy: a Route to the far hop (not trusted) goes to the pool, Route intact, and
#      the far hop gets nothing; a Route to 0.0.0.0 at our port is us: answered by the pool,
#      no loop (received messages stay bounded); a 20 kB MESSAGE gets 513; Proxy-Require
#      "foo, sec-agree" with proxy_require [sec-agree] gets 420 with "Unsupported: foo".
#   B. trusted_next_hops [192.0.2.50/32]: the same Route is followed, the far hop answers.
#   C. untrusted_route: reject: a Route to an unknown address gets 403 Not relaying.
#   D. a request from a pool member (its Request-URI the far hop, a Route naming only viaduct)
#      goes outward to the far hop, not back into the pool.
#   E. forged responses: our address in the top Via (a branch of our form, but not keyed by
#      us), the far hop in the next: dropped (forged-response), nothing reaches the far hop.
# The counters at exit (route_to-pool, route_followed, route_refused, route_outbound, reply_513,
# reply_420) must match what sipp saw; every sipp run must end with 0 failed transactions.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034,SC2016,SC2153 # lib.sh reads TEST_NAME and VIADUCT_BIN, sets VIADUCT_PID; check() evals its EXPR
TEST_NAME=route-policy
# shellcheck source=lib.sh
source "$HERE/lib.sh"

in_private_netns "$@"
run_bounded 110 "$@"
# shellcheck disable=SC2034 # read by lib.sh
VIADUCT_BIN=${1:?usage: $0 VIADUCT_BIN [CALLS]}
CALLS=${2:-10}
command -v sipp >/dev/null || { log "SKIP: sipp not installed (Debian package sip-tester)"; exit 77; }
install_cleanup_trap
make_tmpdir
T=$TMPDIR_E2E

# shellcheck disable=SC2317 # called from lib.sh's EXIT trap
on_exit_hook() {
	(($1 == 0)) && return 0
	tail_log viaduct "$T/viaduct.log" 30
	local f
	for f in "$T"/*.errors; do [[ -s $f ]] && tail_log "${f##*/}" "$f" 20 3000; done
	return 0
}

ADDR=127.0.0.1 FAR=192.0.2.50 NOWHERE=198.51.100.77
ip addr add "$FAR/32" dev lo || die "cannot add $FAR to lo in the test's namespace"

pick_udp_port $ADDR
VD_PORT=$PICKED_PORT
for name in uas1 uas2; do
	pick_udp_port $ADDR
	declare "${name^^}_PORT=$PICKED_PORT"
done
pick_udp_port $FAR
FAR_PORT=$PICKED_PORT
pick_udp_port $ADDR
MEMBER_UAC_PORT=$PICKED_PORT # phase D: a pool member that sends a request
for u in uas1:$ADDR:$UAS1_PORT uas2:$ADDR:$UAS2_PORT far:$FAR:$FAR_PORT; do
	IFS=: read -r name addr port <<<"$u"
	start_bg "$name" sipp -sf "$HERE/sipp/message_uas.xml" -i "$addr" -p "$port" -nostdin \
		-trace_msg -message_file "$T/$name.msg"
	wait_for_udp_port "$addr" "$port" 10 "${BG_PID[$name]}" || die "sipp $name did not start"
done

# uac_xml NAME RURI EXPECT CHECK_REGEX BODY_BYTES [HEADER_LINE...]: a MESSAGE scenario whose
# response must be EXPECT and contain CHECK_REGEX (in the whole message).
uac_xml() {
	local name=$1 ruri=$2 expect=$3 regex=$4 body=$5 h
	shift 5
	{
		printf '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="%s">\n' "$name"
		printf '  <send retrans="500"><![CDATA[\n'
		printf '      MESSAGE %s SIP/2.0\n' "$ruri"
		printf '      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport\n'
		printf '      From: <sip:ue[call_number]@example.com>;tag=[pid]t[call_number]\n'
		printf '      To: <sip:bob@example.com>\n      Call-ID: [call_id]\n'
		printf '      CSeq: 1 MESSAGE\n      Max-Forwards: 70\n'
		for h in "$@"; do printf '      %s\n' "$h"; done
		printf '      Content-Type: text/plain\n      Content-Length: [len]\n\n'
		printf '      %s\n' "$(head -c "$body" /dev/zero | tr '\0' 'x')"
		printf '  ]]></send>\n  <recv response="%s">\n' "$expect"
		printf '    <action><ereg regexp="%s" search_in="msg" check_it="true" assign_to="m"/></action>\n' "$regex"
		printf '  </recv>\n  <Reference variables="m"/>\n</scenario>\n'
	} >"$T/$name.xml"
}

# uac NAME [FROM_PORT]: run scenario NAME (CALLS transactions) to viaduct; sets OK and FAILED.
uac() {
	local name=$1 port=${2:-}
	if [[ -z $port ]]; then
		pick_udp_port $ADDR
		port=$PICKED_PORT
	fi
	start_bg "uac-$name" sipp -sf "$T/$name.xml" "$ADDR:$VD_PORT" -i $ADDR -p "$port" \
		-m "$CALLS" -r 20 -nostdin -recv_timeout 3000 -timeout 20s -timeout_error \
		-trace_stat -stf "$T/uac-$name.csv" -trace_err -error_file "$T/uac-$name.errors"
	wait_pid "${BG_PID[uac-$name]}" 25 || die "sipp $name still running"
	OK=$(sipp_ok "uac-$name") FAILED=$(sipp_failed "uac-$name")
	check "$name: $CALLS transactions, $OK answered as expected, $FAILED failed (sipp)" \
		'[[ $OK == "$CALLS" && $FAILED == 0 ]]'
}

# phase CONFIG_EXTRA MEMBERS...: a fresh viaduct with these policy lines and members
phase() {
	local extra=$1 m
	shift
	{
		printf 'workers: 1\nlisteners:\n  - { address: %s, port: %s }\n' $ADDR "$VD_PORT"
		printf 'pool:\n  name: p\n  members:\n'
		for m in "$@"; do printf '    - { host: %s, port: %s }\n' "${m%:*}" "${m##*:}"; done
		printf '%b' "$extra"
	} >"$T/viaduct.yaml"
	: >"$T/viaduct.log"
	start_viaduct_checked "$T/viaduct.yaml"
	wait_for_udp_port $ADDR "$VD_PORT" 5 "$VIADUCT_PID" || die "viaduct: no udp $VD_PORT"
}

# end_phase: stop viaduct, STATS = its last "stats total" line
end_phase() {
	stop_pid "$VIADUCT_PID" TERM 10
	check "viaduct exited 0 (got $WAIT_RC)" '[[ $WAIT_RC == 0 ]]'
	STATS=$(grep -E 'stats total' "$T/viaduct.log" | tail -n 1 || true)
	log "$STATS"
}

vstat() { local v; v=$(field "$1" "$STATS"); echo "${v:-0}"; }

POOL=("$ADDR:$UAS1_PORT" "$ADDR:$UAS2_PORT")
uac_xml far "sip:bob@example.com" 200 "SIP/2.0 200" 20 "Route: <sip:$FAR:$FAR_PORT;lr>"
uac_xml loop "sip:bob@example.com" 200 "SIP/2.0 200" 20 "Route: <sip:0.0.0.0:$VD_PORT;lr>"
uac_xml big "sip:bob@example.com" 513 "SIP/2.0 513 Message Too Large" 20000
uac_xml preq "sip:bob@example.com" 420 "Unsupported: foo[^,]" 20 "Proxy-Require: foo, sec-agree"
uac_xml relay "sip:bob@example.com" 403 "SIP/2.0 403 Not relaying" 20 \
	"Route: <sip:$NOWHERE:5060;lr>"
uac_xml outward "sip:alice@$FAR:$FAR_PORT" 200 "SIP/2.0 200" 20 "Route: <sip:$ADDR:$VD_PORT;lr>"

# --- A. default policy ----------------------------------------------------------------------
phase 'proxy_require: [sec-agree]\n' "${POOL[@]}"
for s in far loop big preq; do uac "$s"; done
end_phase
FAR_A=$(requests_in far MESSAGE)
POOL_A=$(($(requests_in uas1 MESSAGE) + $(requests_in uas2 MESSAGE)))
check "A: the far hop got nothing (untrusted Route: $FAR_A)" '[[ $FAR_A == 0 ]]'
check "A: the pool answered the far-Route and the 0.0.0.0-Route MESSAGEs ($POOL_A)" \
	'(( POOL_A >= 2 * CALLS ))'
check "A: route_to-pool counted ($(vstat route_to-pool))" '(( $(vstat route_to-pool) >= CALLS ))'
check "A: 513 and 420 counted ($(vstat reply_513), $(vstat reply_420))" \
	'(( $(vstat reply_513) >= CALLS && $(vstat reply_420) >= CALLS ))'
# a loop would multiply what viaduct receives; without one: requests + pool responses (plus a
# few retransmissions)
RX_A=$(vstat rx)
check "A: no loop: viaduct received $RX_A messages for $((4 * CALLS)) requests" \
	'(( RX_A <= 4 * CALLS + 2 * CALLS + CALLS ))'

# --- B. the far hop is trusted ---------------------------------------------------------------
phase "trusted_next_hops: [$FAR/32]\n" "${POOL[@]}"
uac far
end_phase
FAR_B=$(requests_in far MESSAGE)
check "B: the far hop got the trusted-Route MESSAGEs ($FAR_B)" '(( FAR_B >= CALLS ))'
check "B: route_followed counted ($(vstat route_followed))" '(( $(vstat route_followed) >= CALLS ))'

# --- C. untrusted_route: reject --------------------------------------------------------------
phase 'untrusted_route: reject\n' "${POOL[@]}"
uac relay
end_phase
check "C: route_refused counted ($(vstat route_refused))" '(( $(vstat route_refused) >= CALLS ))'

# --- D. a member's request goes outward ------------------------------------------------------
phase '' "$ADDR:$UAS1_PORT" "$ADDR:$MEMBER_UAC_PORT"
uac outward "$MEMBER_UAC_PORT"
end_phase
FAR_D=$(($(requests_in far MESSAGE) - FAR_B))
check "D: the far hop got the member's MESSAGEs ($FAR_D)" '(( FAR_D >= CALLS ))'
check "D: route_outbound counted ($(vstat route_outbound))" '(( $(vstat route_outbound) >= CALLS ))'

# --- E. forged responses are not reflected ----------------------------------------------------
cat >"$T/forged.xml" <<EOF
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="forged response">
  <send><![CDATA[
      SIP/2.0 200 OK
      Via: SIP/2.0/UDP $ADDR:$VD_PORT;branch=z9hG4bKvd0123456789abcdef01234567
      Via: SIP/2.0/UDP $FAR:$FAR_PORT;branch=z9hG4bK-victim-[call_number]
      From: <sip:a@example.com>;tag=[call_number]
      To: <sip:b@example.com>;tag=f
      Call-ID: [call_id]
      CSeq: 1 MESSAGE
      Content-Type: text/plain
      Content-Length: [len]

      $(head -c 1000 /dev/zero | tr '\0' 'x')
  ]]></send>
</scenario>
EOF
phase '' "${POOL[@]}"
# shellcheck disable=SC2034 # read by the check below
FAR_BYTES=$(stat -c %s "$T/far.msg")
uac forged
end_phase
check "E: forged responses dropped ($(vstat drop_forged-response)), none forwarded (tx=$(vstat tx))" \
	'(( $(vstat drop_forged-response) == CALLS && $(vstat tx) == 0 ))'
check "E: nothing reached the far hop" '[[ $(stat -c %s "$T/far.msg") == "$FAR_BYTES" ]]'

echo "route-policy: $CALLS transactions a scenario; far hop A=$FAR_A B=$FAR_B D=$FAR_D; rx in A $RX_A"
checks_exit
