#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# e2e_tap.sh: end-to-end test of the DPDK datapath over a TAP virtual device, with sipp
# (UAC -> viaduct --dpdk -> 2 x UAS), all inside a network namespace this script creates.
#
# usage: e2e_tap.sh VIADUCT_BIN [ipv4|ipv6|ipv4-room|ipv4-gateway|ipv4-frag|ipv6-frag|ipv4-exception|ipv6-exception] [CALLS]   (default ipv4, 1000 calls)
#   ipv4-rss: 2 workers (2 queue pairs), calls over many flows: both workers must carry SIP
#   ipv4-gateway: UAS 2 off-link, reached only through the dpdk: gateway (networks/gateway keys)
#   ipv4-exception, ipv6-exception: as ipv4/ipv6, plus an exception port (net_tap1, dpdk:
#   exception) whose kernel interface lives in a second namespace, the "host", which holds
#   viaduct's address too and runs a TCP echo server (tcp_echo.py): during the calls, a TCP
#   connection from the first namespace to VD_IP goes through the exception path both ways.
#   ipv4-frag, ipv6-frag: as ipv4/ipv6, with ~3.2 kB INVITEs (big_invite_uac.xml) over a
#   1500-byte MTU: the namespace's kernel fragments them, viaduct reassembles them, forwards
#   them whole (fragmenting again on TX) and the UAS' kernel reassembles them.
#   ipv4-room: as ipv4, with a long advertised host, so that our Via line needs more headroom
#   than the mbuf leaves in front of the SIP payload: every forwarded request takes the
#   datapath's slow path (payload moved toward the tail, counted room_moves) and must still
#   get through.
# environment: E2E_RATE (200 calls/s), E2E_LIMIT (100), E2E_TIMEOUT (240 s), E2E_KEEP=1,
#   E2E_WORKERS (1): worker lcores and TAP queue pairs (-l 0-N-1; more than 1 busy-polls cores
#   the sipp need on a small machine)
# exit: 0 pass, 1 fail, 2 usage, 77 skip (not root, no sipp, cannot create a TAP device
#       or a network namespace: said on stderr, never silently).
#
# Topology (R = random suffix, one test run = one namespace, nothing on real networks):
#
#   root ns: viaduct --dpdk --vdev=net_tap0,iface=vdtapR   (the DPDK port, its own MAC)
#   ns vdns-R: vdtapR (moved there after the port started; the TAP PMD keeps its fd)
#              10.200.0.1 UAC, 10.200.0.3:5070 UAS 1, 10.200.0.4:5080 UAS 2
#              (ipv6: fd00:200::1, ::3, ::4); viaduct's listener 10.200.0.2:5060
#              (fd00:200::2) exists only in the DPDK datapath, which answers ARP/NS for it.
#   ns vdhost-R (*-exception): vdhR, the exception port's kernel side (net_tap1, the data
#              port's MAC), with VD_IP/PLEN: the host's kernel, TCP echo server on VD_IP:8022.
#
# The UAS sit on their own addresses (not the UAC's) so that viaduct meets them with a cold
# neighbour cache: the first INVITE to each must trigger an ARP request (NS) from viaduct,
# be dropped as "neighbour unresolved", and get through on the UAC's retransmission.
#
# Checks:
#   a. the UAC exits 0 and its stat CSV shows CALLS successful, 0 failed;
#   b. each UAS received >= 10% of the calls (the pool balances);
#   c. viaduct exits 0 on SIGTERM; its "stats total" adds up (rx = tx + replies + drops),
#      tx > 0, and every drop is a cold-cache "neighbour unresolved" (no bad checksum, no
#      malformed frame, no other SIP drop); ipv4-room: room_moves >= the 3 x CALLS requests;
#   d. cold cache: viaduct answered ARP (NS) for its address, sent ARP requests (NS) for the
#      two UAS and learned them; the namespace's kernel holds viaduct's MAC for 10.200.0.2;
#   e. (python3, tests/dpdk/probe.py) an ICMP/ICMPv6 echo to 10.200.0.2 is answered, and a
#      SIP OPTIONS to the proxy itself gets the core's 200 OK back through the datapath;
#   g. (ipv4-frag, ipv6-frag) viaduct reassembled >= CALLS datagrams and fragmented >= CALLS on
#      TX, each from/into >= 2 fragments; the one fragment it gave up (drop_reassembly 1) is
#      an orphan first fragment (probe.py orphan-frag) after the 2 s reassembly timeout;
#   h. (*-exception) 1 MB echoed over TCP between the namespace and the host's kernel while
#      the calls run; UDP to a port without a listener gets the host kernel's port
#      unreachable; unicast to an address that is not ours is dropped (not_for_us); the
#      host's interface has the data port's MAC; viaduct counted frames to and from the
#      kernel (exception_tx, exception_rx > 0) and dropped at most a few at start.

# shellcheck source-path=SCRIPTDIR
# check() evaluates its single-quoted condition itself: single quotes on purpose
# shellcheck disable=SC2016
set -euo pipefail

TEST_NAME=dpdk-e2e-tap
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=netns_lib.sh
source "$HERE/netns_lib.sh"

usage() {
	echo "usage: $0 VIADUCT_BIN [ipv4|ipv6|ipv4-room|ipv4-gateway|ipv4-frag|ipv6-frag|ipv4-exception|ipv6-exception] [CALLS]" >&2
	exit 2
}
(($# >= 1 && $# <= 3)) || usage
run_bounded "${E2E_TIMEOUT:-240}" "$@"

BIN=$1
FAMILY=${2:-ipv4}
CALLS=${3:-1000}
RATE=${E2E_RATE:-200}
LIMIT=${E2E_LIMIT:-100}
WORKERS=${E2E_WORKERS:-1}
# ipv4-rss: two workers = two TAP queue pairs; the UAC uses a socket per call (-t un), so the
# calls are many flows that the kernel's TAP spreads over both queues
[[ ${2:-} == ipv4-rss ]] && WORKERS=${E2E_WORKERS:-2}
[[ $WORKERS =~ ^[1-9][0-9]*$ ]] || die "E2E_WORKERS must be a positive integer"
TEST_NAME="dpdk-e2e-tap $FAMILY"
[[ $CALLS =~ ^[1-9][0-9]*$ ]] || usage
[[ -x $BIN ]] || die "viaduct binary '$BIN' not found or not executable"

case $FAMILY in
ipv4 | ipv4-room | ipv4-frag | ipv4-exception | ipv4-rss) UAC_IP=10.200.0.1 VD_IP=10.200.0.2 UAS1_IP=10.200.0.3 UAS2_IP=10.200.0.4 PLEN=24 ;;
ipv6 | ipv6-frag | ipv6-exception) UAC_IP=fd00:200::1 VD_IP=fd00:200::2 UAS1_IP=fd00:200::3 UAS2_IP=fd00:200::4 PLEN=64 ;;
# UAS 2 off-link (10.201.0.4 on the namespace's lo, no ARP answered for it on the TAP): only
# the configured gateway (the namespace's 10.200.0.1) reaches it
ipv4-gateway) UAC_IP=10.200.0.1 VD_IP=10.200.0.2 UAS1_IP=10.200.0.3 UAS2_IP=10.201.0.4 PLEN=24 ;;
*) usage ;;
esac
ADVERTISE=""
if [[ $FAMILY == ipv4-room ]]; then
	# 63 characters: our Via line alone is then longer than the ~106 bytes of headroom
	ADVERTISE="    advertise: \"a-deliberately-long-advertised-name-for-the-proxy.viaduct.test\""
fi
VD_PORT=5060 UAS1_PORT=5070 UAS2_PORT=5080 UAC_PORT=5061

# preconditions (skip only when the machine cannot do it), namespace, cleanup: netns_lib.sh
netns_setup
# *-exception: the host's namespace, behind the exception port
EXC="" EXC_VDEV=()
if [[ $FAMILY == *-exception ]]; then
	command -v python3 >/dev/null || skip "python3 not installed (the TCP echo of $FAMILY)"
	EXC=1 HNS=vdhost-$R HTAP=vdh$R TCP_PORT=8022 TCP_BYTES=1048576
	EXC_VDEV=(--vdev="net_tap1,iface=$HTAP")
	netns_add "$HNS"
	cleanup_link "$HTAP" # only if it never left the root namespace
fi
hsx() { ip netns exec "$HNS" "$@"; }

# shellcheck disable=SC2317 # called from netns_lib.sh's EXIT hook
on_failure() {
	tail_log "viaduct output" "$T/viaduct.log" 40
	tail_log "sipp UAC errors" "$T/uac.errors" 20 2000
	tail_log "sipp UAC stderr" "$T/uac.err" 10
	tail_log "sipp UAS 1 stderr" "$T/uas1.err" 10
	[[ -z ${EXC:-} ]] || tail_log "TCP echo server stderr" "$T/tcpd.err" 10
}

# --- 1. viaduct --dpdk on a TAP vdev, then its kernel side into the namespace ----------------
{
	echo "# written by $0"
	pool_config "$WORKERS" "$ADVERTISE"
} >"$T/viaduct.yaml"
if [[ -n $EXC ]]; then
	cat >>"$T/viaduct.yaml" <<EOC
dpdk:
  exception: net_tap1
EOC
fi
if [[ $FAMILY == ipv4-gateway ]]; then
	cat >>"$T/viaduct.yaml" <<EOC
dpdk:
  networks: ["10.200.0.0/24"]
  gateway: "$UAC_IP"
EOC
fi
# EAL --file-prefix: no clash with another DPDK process on the machine (its runtime
# directory /var/run/dpdk/PREFIX is removed at exit). One lcore by default (-l 0): the machine's other core is left to the three sipp.
start_viaduct -- -l "0-$((WORKERS - 1))" "${VD_EAL[@]}" "${EXC_VDEV[@]}"
if [[ $FAMILY == ipv4-gateway ]]; then
	# UAS 2 off-link: on the namespace's lo, not on the TAP
	link_into_ns "$NS" "$TAP" "$PLEN" "$UAC_IP" "$UAS1_IP"
	# arp_ignore=1: the TAP answers ARP only for its own addresses, so 10.201.0.4 on lo is
	# reachable only by sending to the gateway's MAC
	nsx sysctl -qw "net.ipv4.conf.$TAP.arp_ignore=1" net.ipv4.conf.all.arp_ignore=1
	nsx ip addr add "$UAS2_IP/32" dev lo
else
	link_into_ns "$NS" "$TAP" "$PLEN" "$UAC_IP" "$UAS1_IP" "$UAS2_IP"
fi
# frag variants: the INVITEs exceed the MTU the DPDK port also uses (the TAP's default, 1500)
[[ $FAMILY == *-frag ]] && nsx ip link set "$TAP" mtu 1500

# *-exception: the exception port's kernel side into the host's namespace, with VD_IP
if [[ -n $EXC ]]; then
	link_into_ns "$HNS" "$HTAP" "$PLEN" "$VD_IP"
	HOST_MAC=$(hsx ip -o link show dev "$HTAP" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
	start_bg tcpd ip netns exec "$HNS" python3 "$HERE/tcp_echo.py" serve "$VD_IP" "$TCP_PORT"
	wait_for_log "$T/tcpd.out" '^listening' 10 "${BG_PID[tcpd]}" || die "TCP echo server did not start"
fi

# --- 2. ICMP echo and a locally answered OPTIONS (the REPLY verdict) ----------------------
# The ping is the namespace's first packet to VD_IP: it also proves ARP (NS) from cold.
PING_OUT="no python3" OPT_OUT="no python3" ORPHAN_OUT="no python3"
if command -v python3 >/dev/null; then
	PING_OUT=$(nsx python3 "$HERE/probe.py" ping "$VD_IP" "$UAC_IP" 2>&1) || true
	OPT_OUT=$(nsx python3 "$HERE/probe.py" options "$VD_IP" "$UAC_IP" 2>&1) || true
	# frag: a first fragment whose datagram never completes, for the reassembly timeout
	if [[ $FAMILY == *-frag ]]; then
		ORPHAN_OUT=$(nsx python3 "$HERE/probe.py" orphan-frag "$VD_IP" "$UAC_IP" 2>&1) || true
	fi
fi

# --- 3. the UAS, 4. the UAC ----------------------------------------------------------------
UAC_SECS=$((CALLS / RATE + 60))
UAS_SECS=$((UAC_SECS + 30))
start_bg uas1 timeout -k 5 "$UAS_SECS" ip netns exec "$NS" sipp -sn uas -i "$UAS1_IP" \
	-p "$UAS1_PORT" -nd -trace_msg -message_file "$T/uas1.msg"
start_bg uas2 timeout -k 5 "$UAS_SECS" ip netns exec "$NS" sipp -sn uas -i "$UAS2_IP" \
	-p "$UAS2_PORT" -nd -trace_msg -message_file "$T/uas2.msg"
wait_for_ns_udp_port "$UAS1_IP" "$UAS1_PORT" 10 "${BG_PID[uas1]}" || die "UAS 1 did not start"
wait_for_ns_udp_port "$UAS2_IP" "$UAS2_PORT" 10 "${BG_PID[uas2]}" || die "UAS 2 did not start"

# abortunexp: an unexpected message fails the call at once; -recv_timeout: a lost message
# fails it after 10 s. The first INVITE to each UAS is lost on purpose (cold cache): sipp's
# own retransmission (T1 = 500 ms) carries it.
SCENARIO=(-sn uac)
[[ $FAMILY == *-frag ]] && SCENARIO=(-sf "$HERE/big_invite_uac.xml")
BEHAVIORS=abortunexp
if [[ $FAMILY == ipv4-rss ]]; then
	SCENARIO+=(-t un -max_socket 1000)
	# A TAP has no RSS hash: the kernel steers a flow to the queue that last wrote a frame of
	# it (tun automq), so one UAS's responses move between the two workers as calls on either
	# queue are forwarded to it, and a 180 can arrive after its call's 200. UDP allows that and a
	# UA ignores the late 180; sipp would abort the call, so here it continues instead. A NIC's
	# RSS hash keeps a flow on one queue.
	BEHAVIORS=bye
fi
start_bg uac timeout -k 5 $((UAC_SECS + 10)) ip netns exec "$NS" sipp "${SCENARIO[@]}" \
	"$(hostport "$VD_IP" "$VD_PORT")" -i "$UAC_IP" -p "$UAC_PORT" \
	-m "$CALLS" -r "$RATE" -l "$LIMIT" -default_behaviors "$BEHAVIORS" -recv_timeout 10000 \
	-timeout "${UAC_SECS}s" -timeout_error -trace_stat -stf "$T/uac.csv" -fd 1 \
	-trace_err -error_file "$T/uac.errors"
# *-exception: TCP through the exception path while the calls run
[[ -z $EXC ]] || start_bg tcpc timeout -k 5 60 ip netns exec "$NS" python3 "$HERE/tcp_echo.py" \
	echo "$VD_IP" "$TCP_PORT" "$UAC_IP" "$TCP_BYTES"
wait_pid "${BG_PID[uac]}" $((UAC_SECS + 20)) || die "sipp UAC still running"
UAC_RC=$WAIT_RC
TCP_RC=-1 TCP_OUT=""
if [[ -n $EXC ]]; then
	wait_pid "${BG_PID[tcpc]}" 70 || die "TCP echo client still running"
	TCP_RC=$WAIT_RC
	TCP_OUT=$(head -n 1 "$T/tcpc.out")
	# unicast to an address that is not ours, sent to our MAC: dropped, we are no router
	NOT_OURS=${VD_IP%2}9
	nsx ip neigh replace "$NOT_OURS" lladdr "$PORT_MAC" dev "$TAP" nud permanent
	NFU_BEFORE=3 # datagrams sent below
	for _ in 1 2 3; do nsx bash -c "echo x >/dev/udp/$NOT_OURS/9" || true; done
	# UDP to our address without a listener: the host's kernel answers port unreachable. A
	# round trip through the same TAP queue after the three above: they were handled first.
	UDP_OUT=$(nsx timeout 20 python3 "$HERE/tcp_echo.py" udp-refused "$VD_IP" 9 "$UAC_IP" 2>&1) || true
fi
KERNEL_NEIGH=$(nsx ip neigh show "$VD_IP" dev "$TAP" 2>/dev/null || true)

# --- 5. stop viaduct, then the UAS ---------------------------------------------------------
stop_pid "$VD_PID" TERM 10 || log "viaduct needed SIGKILL"
VD_RC=$WAIT_RC
for n in 1 2; do stop_pid "${BG_PID[uas$n]}" TERM 5 || true; done

# --- checks --------------------------------------------------------------------------------
OK=$(sipp_ok uac 2>/dev/null || echo missing)
FAILED=$(sipp_failed uac 2>/dev/null || echo missing)
X=$(invites uas1)
Y=$(invites uas2)
TOTAL=$(grep -E '^stats total ' "$T/viaduct.log" || true)
DP=$(grep -E '^stats dpdk ' "$T/viaduct.log" || true)
RX=$(field rx "$TOTAL") TX=$(field tx "$TOTAL") REPLIES=$(field replies "$TOTAL")
DROPS=$(field drops "$TOTAL") SENDFAIL=$(field drop_send-failed "$TOTAL")
MOVES=$(field room_moves "$DP")
: "${MOVES:=0}"
if [[ $FAMILY != ipv6* ]]; then
	ANSWERED=$(field arp_replies "$DP") ASKED=$(field arp_requests "$DP")
else
	ANSWERED=$(field na_sent "$DP") ASKED=$(field ns_sent "$DP")
fi
UNRES=$(field drop_neigh_unresolved "$DP") LEARNED=$(field neigh_learned "$DP")
: "${RX:=0}" "${TX:=0}" "${REPLIES:=0}" "${DROPS:=0}" "${SENDFAIL:=0}" "${UNRES:=0}"
: "${ANSWERED:=0}" "${ASKED:=0}" "${LEARNED:=0}"
log "viaduct: $TOTAL"
log "viaduct: $DP"

check "a. sipp UAC exit status 0 (got $UAC_RC)" '[[ $UAC_RC == 0 ]]'
check "a. $OK successful, $FAILED failed calls (want $CALLS and 0)" \
	'[[ $OK == "$CALLS" && $FAILED == 0 ]]'
check "b. both UAS got >= 10% of the INVITEs (uas1=$X uas2=$Y)" \
	'((X * 10 >= CALLS && Y * 10 >= CALLS))'
ECHOES=$(field echo_replies "$DP")
if [[ $PING_OUT == "no python3" ]]; then
	log "no python3: echo and OPTIONS checks not run"
else
	check "e. ICMP echo answered by the datapath: $PING_OUT (echo_replies=${ECHOES:-0})" \
		'[[ $PING_OUT == "echo reply"* && ${ECHOES:-0} -ge 1 ]]'
	check "e. OPTIONS to the proxy answered locally: $OPT_OUT (replies=$REPLIES)" \
		'[[ $OPT_OUT == "SIP/2.0 200"* && $REPLIES -ge 1 ]]'
fi
check "c. viaduct exited 0 on SIGTERM (got $VD_RC)" '[[ $VD_RC == 0 ]]'
check "c. counters add up: rx=$RX = tx=$TX + replies=$REPLIES + drops=$DROPS, tx > 0" \
	'((RX > 0 && TX > 0 && RX == TX + REPLIES + DROPS))'
check "c. every drop is a cold-cache miss: drops=$DROPS send-failed=$SENDFAIL neigh_unresolved=$UNRES" \
	'((DROPS == SENDFAIL && SENDFAIL == UNRES))'
check "c. no bad checksum / malformed / too big / tx_full frame" \
	'[[ $(field drop_bad_cksum "$DP") == 0 && $(field drop_malformed "$DP") == 0 &&
	    $(field drop_too_big "$DP") == 0 && $(field drop_tx_full "$DP") == 0 ]]'
# (gateway: the gateway is the UAC, learned from its first INVITE: only UAS 1 is solicited)
WANT_ASKED=2
[[ $FAMILY == ipv4-gateway ]] && WANT_ASKED=1
check "d. cold cache: answered $ANSWERED, solicited $ASKED (>= $WANT_ASKED), learned $LEARNED" \
	'((ANSWERED >= 1 && ASKED >= WANT_ASKED && LEARNED >= 3 && UNRES >= 1))'
check "d. the namespace resolved $VD_IP to the DPDK port's MAC $PORT_MAC: ${KERNEL_NEIGH:-none}" \
	'[[ -n $PORT_MAC && $KERNEL_NEIGH == *"lladdr $PORT_MAC"* ]]'
if ((WORKERS > 1)); then
	# one "stats worker=i rx=N" line per worker: every queue pair carried SIP
	for ((w = 0; w < WORKERS; w++)); do
		WRX=$(sed -n "s/^stats worker=$w rx=\([0-9]*\) .*/\1/p" "$T/viaduct.log" | tail -n 1)
		check "g. worker $w (queue pair $w) processed SIP: rx=${WRX:-none}" '((${WRX:-0} > 0))'
	done
fi
if [[ $FAMILY == ipv4-gateway ]]; then
	check "f. off-link UAS 2 reached through the gateway: uas2=$Y INVITEs, no_route=$(field drop_no_route "$DP")" \
		'((Y * 10 >= CALLS)) && [[ $(field drop_no_route "$DP") == 0 ]]'
fi
if [[ $FAMILY == *-frag ]]; then
	FRX=$(field frags_rx "$DP") REASM=$(field reassembled "$DP")
	FRAGD=$(field fragmented "$DP") FTX=$(field frags_tx "$DP")
	: "${FRX:=0}" "${REASM:=0}" "${FRAGD:=0}" "${FTX:=0}"
	# every INVITE (retransmissions too) arrives in >= 2 fragments and leaves in >= 2
	check "g. reassembled $REASM datagrams from $FRX fragments (>= $CALLS INVITEs)" \
		'((REASM >= CALLS && FRX >= 2 * REASM))'
	check "g. fragmented $FRAGD datagrams into $FTX fragments on TX (>= $CALLS INVITEs)" \
		'((FRAGD >= CALLS && FTX >= 2 * FRAGD))'
	# The orphan fragment is given up VD_FRAG_TIMEOUT_MS (2 s) after it came, on the first
	# burst after that: the calls must last longer (CALLS >= 3 x RATE) for that to be certain.
	GIVEN_UP=$(field drop_reassembly "$DP")
	if [[ $ORPHAN_OUT != sent ]]; then
		log "orphan fragment not sent ($ORPHAN_OUT): reassembly timeout not checked"
		check "g. no fragment given up: drop_reassembly=$GIVEN_UP" '[[ $GIVEN_UP == 0 ]]'
	elif ((CALLS >= 3 * RATE)); then
		check "g. the orphan fragment timed out, nothing else was given up: drop_reassembly=$GIVEN_UP" \
			'[[ $GIVEN_UP == 1 ]]'
	else
		check "g. at most the orphan fragment given up: drop_reassembly=$GIVEN_UP" \
			'[[ $GIVEN_UP == 0 || $GIVEN_UP == 1 ]]'
	fi
fi
if [[ -n $EXC ]]; then
	EXTX=$(field exception_tx "$DP") EXRX=$(field exception_rx "$DP")
	EXTXD=$(field exception_tx_drops "$DP") EXRXD=$(field exception_rx_drops "$DP")
	: "${EXTX:=0}" "${EXRX:=0}" "${EXTXD:=999999}" "${EXRXD:=999999}" # missing = fail
	check "h. TCP to $(hostport "$VD_IP" "$TCP_PORT") through the exception path: $TCP_OUT (rc $TCP_RC)" \
		'[[ $TCP_RC == 0 && $TCP_OUT == "tcp echo $TCP_BYTES bytes ok"* ]]'
	check "h. UDP to a port without a listener reaches the host's kernel: $UDP_OUT" \
		'[[ $UDP_OUT == "udp port unreachable from the kernel" ]]'
	NFU=$(field drop_not_for_us "$DP")
	check "h. unicast to $NOT_OURS (not ours) dropped as not_for_us: ${NFU:-0} (>= $NFU_BEFORE)" \
		'((${NFU:-0} >= NFU_BEFORE))'
	check "h. the host's interface has the data port's MAC: ${HOST_MAC:-none} (port $PORT_MAC)" \
		'[[ -n $PORT_MAC && ${HOST_MAC:-} == "$PORT_MAC" ]]'
	# A few drops are legitimate at start only: net_tap brings both TAPs up in the root
	# namespace, and each is down (a write to it fails) while it moves into its namespace;
	# meanwhile IPv6 on either side sends DAD/RS/MLD that cross over. After that, none.
	check "h. exception path: $EXTX frames to the kernel, $EXRX from it (> 0), drops $EXTXD / $EXRXD (<= 4 each)" \
		'((EXTX > 0 && EXRX > 0 && EXTXD <= 4 && EXRXD <= 4))'
fi
if [[ $FAMILY == ipv4-room ]]; then
	check "c. slow path: $MOVES room moves for $((3 * CALLS)) forwarded requests" \
		'((MOVES >= 3 * CALLS))'
fi
log "dpdk-e2e-tap $FAMILY: $CALLS calls, $FAILED failed, uas1=$X uas2=$Y INVITEs, $UNRES cold-cache drops, $MOVES room moves"
checks_exit
