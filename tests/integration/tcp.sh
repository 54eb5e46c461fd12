#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tcp.sh: SIP over TCP end to end (RFC 3261 18), sipp as clients and pool members, in a network
# namespace this test creates (loopback only). viaduct runs 2 workers with a UDP and a TCP
# listener on one port, IPv4 and IPv6.
#
# usage: tcp.sh VIADUCT_BIN [CALLS]
#
# Phases (each a fresh viaduct; every sipp run must end with CALLS calls and 0 failed):
#   A. TCP clients -> UDP pool: sipp -t t1 (one connection) and -t tn (a connection per call),
#      INVITE/ACK/BYE, IPv4 and IPv6. Responses arrive at whichever worker the kernel picks
#      and go back over the client's connection (hand-offs between workers are counted).
#   B. TCP pool: a UDP client and a TCP client (-t tn) to sipp members that listen on TCP;
#      viaduct opens its connections to them.
#   C. a 3 kB MESSAGE over UDP to a UDP pool with udp_max_bytes: 1300 reaches the member over
#      TCP (RFC 3261 18.1.1); a small one stays on UDP.
#   D. the stream on the wire (tcp_client.py): CRLFCRLF keepalive -> CRLF, several messages in
#      one segment and one message a byte at a time, requests answered after the client's
#      half-close, no / bad Content-Length -> 400 and close, headers without end over the size
#      limit -> closed and counted,
#      20 kB -> 513 and close, a slowloris connection closed at tcp.header_timeout_ms while
#      a sipp TCP run at the same time loses nothing.
#   E. limits: tcp.max_connections_per_ip (the connections over it closed at once, counted),
#      tcp.idle_timeout_ms, a peer that never reads (closed when its write queue passes
#      tcp.write_queue_bytes, another connection served meanwhile), tcp.max_connections (the
#      next client waits in the kernel's backlog until one closes, then is served).
#   F. a TCP member that refuses connections (nothing listens) next to one that answers, probes
#      every 60 s: the workers' failed connections take it down (health conn_failures), the
#      MESSAGEs' retransmissions reach the other member: 100 transactions, 0 failed.
# At each phase's end viaduct's counters add up (rx = tx + replies + drops) with no drop.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034,SC2016,SC2153 # lib.sh reads TEST_NAME and VIADUCT_BIN; check() evals
TEST_NAME=tcp
# shellcheck source=lib.sh
source "$HERE/lib.sh"

in_private_netns "$@"
run_bounded 300 "$@"
# shellcheck disable=SC2034 # read by lib.sh
VIADUCT_BIN=${1:?usage: $0 VIADUCT_BIN [CALLS]}
CALLS=${2:-1000}
command -v sipp >/dev/null || { log "SKIP: sipp not installed (Debian package sip-tester)"; exit 77; }
install_cleanup_trap
make_tmpdir
T=$TMPDIR_E2E

# shellcheck disable=SC2317 # called from lib.sh's EXIT trap
on_exit_hook() {
	(($1 == 0)) && return 0
	tail_log viaduct "$T/viaduct.log" 30
	local f
	for f in "$T"/*.errors "$T"/*.err; do [[ -s $f ]] && tail_log "${f##*/}" "$f" 20 3000; done
	return 0
}

V4=127.0.0.1 V6=::1
# the namespace is ours alone: fixed ports are free for UDP and TCP alike
VD_PORT=5060 M1=5081 M2=5082 MT=5083

# config POOL_LINES [EXTRA]: a fresh viaduct with UDP and TCP listeners on both families
config() {
	{
		printf 'workers: 2\nlisteners:\n'
		for a in $V4 "'$V6'"; do
			printf '  - { address: %s, port: %s }\n' "$a" $VD_PORT
			printf '  - { address: %s, port: %s, transport: tcp }\n' "$a" $VD_PORT
		done
		printf '%b' "$1"
		printf '%b' "${2:-}"
	} >"$T/viaduct.yaml"
	: >"$T/viaduct.log"
	start_viaduct_checked "$T/viaduct.yaml"
}

end_phase() {
	stop_pid "$VIADUCT_PID" TERM 10
	check "$1: viaduct exited 0 (got $WAIT_RC)" '[[ $WAIT_RC == 0 ]]'
	STATS=$(grep -E '^stats total' "$T/viaduct.log" | tail -n 1 || true)
	TCPSTATS=$(grep -E '^stats tcp' "$T/viaduct.log" | tail -n 1 || true)
	log "$STATS"
	log "$TCPSTATS"
	local rx tx rep drops
	rx=$(field rx "$STATS") tx=$(field tx "$STATS") rep=$(field replies "$STATS")
	drops=$(field drops "$STATS")
	check "$1: counters add up, nothing dropped (rx=$rx tx=$tx replies=$rep drops=$drops)" \
		'[[ -n $rx && $rx == $((tx + rep + drops)) && $drops == 0 ]]'
}

# uac NAME TRANSPORT ADDR [SCENARIO_FILE]: a sipp UAC (default: its INVITE/ACK/BYE call),
# CALLS calls from a port of its own; every call must pass
UAC_PORT=6000
uac() {
	local name=$1 tp=$2 addr=$3 scen=(-sn uac) extra=()
	[[ -n ${4:-} ]] && scen=(-sf "$4")
	[[ $tp == tn ]] && extra=(-max_socket 256)
	UAC_PORT=$((UAC_PORT + 1))
	start_bg "$name" sipp "${scen[@]}" -t "$tp" "${extra[@]}" "$(hostport "$addr" $VD_PORT)" \
		-i "$addr" -p $UAC_PORT -m "$CALLS" -r 400 -nostdin "${SIPP_BUFF[@]}" -recv_timeout 10000 -timeout 60s \
		-timeout_error -trace_stat -stf "$T/$name.csv" -trace_err -error_file "$T/$name.errors"
	wait_pid "${BG_PID[$name]}" 70 || die "sipp $name still running"
	local ok failed
	ok=$(sipp_ok "$name") failed=$(sipp_failed "$name")
	check "$name: $CALLS calls over $tp from $addr, $ok ok, $failed failed (UDP receive-buffer drops in the namespace so far: $(udp_rcvbuf_errors))" \
		'[[ $ok == "$CALLS" && $failed == 0 && $WAIT_RC == 0 ]]'
}

uas() { # uas NAME TRANSPORT ADDR PORT [SCENARIO]
	local scen=(-sn uas)
	[[ -n ${5:-} ]] && scen=(-sf "$5")
	start_bg "$1" sipp "${scen[@]}" -t "$2" -i "$3" -p "$4" -nostdin "${SIPP_BUFF[@]}" -trace_msg \
		-message_file "$T/$1.msg"
	BG_UAS+=("${BG_PID[$1]}")
}
stop_uas() {
	local p
	for p in "${BG_UAS[@]}"; do stop_pid "$p" TERM 5 || true; done
	BG_UAS=()
}
BG_UAS=()
# sipp listens before it logs nothing; a TCP member is ready when its port accepts
wait_tcp() { # wait_tcp ADDR PORT
	local i
	for ((i = 0; i < 100; i++)); do
		python3 -c "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()" \
			"$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	die "nothing accepts on $1 port $2"
}

# --- A. TCP clients, UDP pool ----------------------------------------------------------------
uas a-m1 u1 $V4 $M1
uas a-m2 u1 $V6 $M2
wait_for_udp_port $V4 $M1 10 "${BG_PID[a-m1]}" || die "member a-m1 did not start"
wait_for_udp_port $V6 $M2 10 "${BG_PID[a-m2]}" || die "member a-m2 did not start"
config "pool:\n  name: p\n  members:\n    - { host: $V4, port: $M1 }\n    - { host: '$V6', port: $M2 }\n"
uac a-t1-v4 t1 $V4
uac a-tn-v4 tn $V4
uac a-t1-v6 t1 $V6
uac a-tn-v6 tn $V6
end_phase A
stop_uas
check "A: each TCP call's INVITE reached the pool ($(($(invites a-m1) + $(invites a-m2))))" \
	'(( $(invites a-m1) + $(invites a-m2) >= 4 * CALLS ))'
check "A: $((2 + 2 * CALLS)) connections accepted ($(field accepted "$TCPSTATS"))" \
	'[[ $(field accepted "$TCPSTATS") == $((2 + 2 * CALLS)) ]]'
check "A: no message lost between workers (handoff_out=$(field handoff_out "$TCPSTATS") in=$(field handoff_in "$TCPSTATS") lost=$(field handoff_lost "$TCPSTATS"))" \
	'[[ $(field handoff_out "$TCPSTATS") == $(field handoff_in "$TCPSTATS") && $(field handoff_lost "$TCPSTATS") == 0 ]]'

# --- B. TCP pool -----------------------------------------------------------------------------
uas b-m1 t1 $V4 $M1
uas b-m2 t1 $V6 $M2
wait_tcp $V4 $M1
wait_tcp $V6 $M2
config "pool:\n  name: p\n  transport: tcp\n  members:\n    - { host: $V4, port: $M1 }\n    - { host: '$V6', port: $M2 }\n"
uac b-udp-v4 u1 $V4
uac b-tn-v6 tn $V6
end_phase B
stop_uas
check "B: the TCP members got every INVITE ($(($(invites b-m1) + $(invites b-m2))))" \
	'(( $(invites b-m1) + $(invites b-m2) >= 2 * CALLS ))'
check "B: viaduct opened its connections to the members ($(field connected "$TCPSTATS"))" \
	'(( $(field connected "$TCPSTATS") >= 2 ))'

# --- C. large over TCP -----------------------------------------------------------------------
uas c-udp u1 $V4 $MT "$HERE/sipp/message_uas.xml"
uas c-tcp t1 $V4 $MT "$HERE/sipp/message_uas.xml"
wait_for_udp_port $V4 $MT 10 "${BG_PID[c-udp]}" || die "member c-udp did not start"
wait_tcp $V4 $MT
config "pool:\n  name: p\n  udp_max_bytes: 1300\n  members:\n    - { host: $V4, port: $MT }\n"
for size in 3000 200; do
	name=c-msg$size
	{
		printf '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="%s">\n' $name
		printf '  <send retrans="500"><![CDATA[\n      MESSAGE sip:bob@example.com SIP/2.0\n'
		printf '      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport\n'
		printf '      From: <sip:ue[call_number]@example.com>;tag=[pid]t[call_number]\n'
		printf '      To: <sip:bob@example.com>\n      Call-ID: [call_id]\n'
		printf '      CSeq: 1 MESSAGE\n      Max-Forwards: 70\n      Content-Type: text/plain\n'
		printf '      Content-Length: [len]\n\n      %s\n' "$(head -c $size /dev/zero | tr '\0' 'x')"
		printf '  ]]></send>\n  <recv response="200"/>\n</scenario>\n'
	} >"$T/$name.xml"
	SAVED=$CALLS CALLS=100
	uac $name u1 $V4 "$T/$name.xml"
	CALLS=$SAVED
done
end_phase C
stop_uas
check "C: 3 kB MESSAGEs reached the member over TCP ($(requests_in c-tcp MESSAGE))" \
	'[[ $(requests_in c-tcp MESSAGE) == 100 ]]'
check "C: 200-byte MESSAGEs stayed on UDP ($(requests_in c-udp MESSAGE))" \
	'[[ $(requests_in c-udp MESSAGE) == 100 ]]'

# --- D. the stream on the wire ---------------------------------------------------------------
uas d-m1 u1 $V4 $M1 "$HERE/sipp/message_uas.xml"
uas d-m2 u1 $V6 $M2 "$HERE/sipp/message_uas.xml"
wait_for_udp_port $V4 $M1 10 "${BG_PID[d-m1]}" || die "member d-m1 did not start"
wait_for_udp_port $V6 $M2 10 "${BG_PID[d-m2]}" || die "member d-m2 did not start"
config "pool:\n  name: p\n  members:\n    - { host: $V4, port: $M1 }\n    - { host: '$V6', port: $M2 }\n" \
	"tcp: { header_timeout_ms: 1000 }\n"
python3 "$HERE/tcp_client.py" $V4 $VD_PORT slowloris >"$T/slowloris.out" 2>&1 &
SLOW_PID=$!
BG_PIDS+=("$SLOW_PID")
SAVED=$CALLS CALLS=200
uac d-beside-slowloris t1 $V4 "$HERE/sipp/message_uac.xml"
CALLS=$SAVED
wait_pid $SLOW_PID 20 || die "tcp_client.py slowloris still running"
cat "$T/slowloris.out" >&2
check "D: the slowloris connection was closed at the header timeout" \
	'grep -q "^CHECK slowloris ok" "$T/slowloris.out"'
for addr in $V4 $V6; do
	rc=0
	python3 "$HERE/tcp_client.py" $addr $VD_PORT ping batch nolength badlength toolarge hugeheader halfclose \
		>"$T/wire-$addr.out" 2>&1 || rc=$?
	cat "$T/wire-$addr.out" >&2
	check "D: stream checks over $addr (tcp_client.py exit $rc)" '[[ $rc == 0 ]]'
done
stop_pid "$VIADUCT_PID" TERM 10
STATS=$(grep -E '^stats total' "$T/viaduct.log" | tail -n 1 || true)
TCPSTATS=$(grep -E '^stats tcp' "$T/viaduct.log" | tail -n 1 || true)
log "$TCPSTATS"
for k in closed_header-timeout:1 closed_unframed:4 closed_too-large:4 pings:4 reply_400:4 reply_513:2 drop_too-large:2; do
	name=${k%:*} want=${k#*:}
	got=$(field "$name" "$TCPSTATS $STATS")
	check "D: $name = $want (got ${got:-0})" '[[ ${got:-0} == "$want" ]]'
done
stop_uas

# --- E. limits: per source, total (accept backpressure), idle, a reader that does not read ---
uas e-m1 u1 $V4 $M1 "$HERE/sipp/message_uas.xml"
wait_for_udp_port $V4 $M1 10 "${BG_PID[e-m1]}" || die "member e-m1 did not start"
config "pool:\n  name: p\n  members:\n    - { host: $V4, port: $M1 }\n" \
	"tcp: { max_connections_per_ip: 3, idle_timeout_ms: 500, write_queue_bytes: 65536 }\n"
rc=0
python3 "$HERE/tcp_client.py" $V4 $VD_PORT perip 3 idle slowreader >"$T/limits.out" 2>&1 || rc=$?
cat "$T/limits.out" >&2
check "E: per-source limit, idle timeout, slow reader (tcp_client.py exit $rc)" '[[ $rc == 0 ]]'
stop_pid "$VIADUCT_PID" TERM 10
TCPSTATS=$(grep -E '^stats tcp' "$T/viaduct.log" | tail -n 1 || true)
log "$TCPSTATS"
for k in refused_per_ip:2 closed_idle-timeout:1 closed_write-queue-full:1; do
	name=${k%:*} want=${k#*:}
	got=$(field "$name" "$TCPSTATS")
	check "E: $name >= $want (got ${got:-0})" '(( ${got:-0} >= want ))'
done
config "pool:\n  name: p\n  members:\n    - { host: $V4, port: $M1 }\n" "tcp: { max_connections: 2 }\n"
rc=0
python3 "$HERE/tcp_client.py" $V4 $VD_PORT backlog 2 >"$T/backlog.out" 2>&1 || rc=$?
cat "$T/backlog.out" >&2
check "E: at max_connections the next client waits in the backlog, then is served (exit $rc)" '[[ $rc == 0 ]]'
stop_pid "$VIADUCT_PID" TERM 10
TCPSTATS=$(grep -E '^stats tcp' "$T/viaduct.log" | tail -n 1 || true)
check "E: accepting paused and resumed ($(field accept_paused "$TCPSTATS") pauses, $(field accepted "$TCPSTATS") accepted)" \
	'(( $(field accept_paused "$TCPSTATS") >= 1 && $(field accepted "$TCPSTATS") == 3 ))'
stop_uas

# --- F. a TCP member that refuses connections goes down by the datapath's failures -----------
# probes every 60 s (the first anywhere in the first minute): within this phase, what takes
# the member down is the workers' failed connections, reported to the prober
uas f-m1 t1 $V4 $M1 "$HERE/sipp/message_uas.xml"
wait_tcp $V4 $M1
config "pool:\n  name: p\n  transport: tcp\n  members:\n    - { host: $V4, port: $M1 }\n    - { host: $V4, port: $M2 }\n" \
	"health: { interval_ms: 60000, timeout_ms: 1000, down_after: 2, up_after: 1 }\n"
SAVED=$CALLS CALLS=100
uac f-msg u1 $V4 "$HERE/sipp/message_uac.xml"
CALLS=$SAVED
stop_pid "$VIADUCT_PID" TERM 10
DEAD=$(grep -E "^stats health member=p/$V4:$M2 " "$T/viaduct.log" | tail -n 1 || true)
log "$DEAD"
check "F: the refusing member is down (up=$(field up "$DEAD")) after failed connections (conn_failures=$(field conn_failures "$DEAD")), before any second probe" \
	'[[ $(field up "$DEAD") == 0 ]] && (( $(field conn_failures "$DEAD") >= 2 ))'
stop_uas
checks_exit
