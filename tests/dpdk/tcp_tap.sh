#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tcp_tap.sh: SIP over TCP with the DPDK datapath. DPDK owns UDP on viaduct's address; TCP to
# that address is not its business: it goes to the kernel through the exception port, where
# viaduct's own kernel datapath listens (one worker beside the lcores), takes the connection
# and forwards the requests to the UDP pool. The members' responses arrive at DPDK, which
# passes each to the kernel datapath (the connection's token is in viaduct's Via) to be
# written on the client's connection.
#
# usage: tcp_tap.sh VIADUCT_BIN [ipv4|ipv6] [CALLS]   (default ipv4, 300 calls)
# exit: 0 pass, 1 fail, 2 usage, 77 skip (not root, no sipp, no TAP or namespace).
#
# Topology (R = random suffix; everything in namespaces this script creates):
#   ns vdvia-R: viaduct --dpdk --vdev=net_tap0,iface=vdtapR --vdev=net_tap1,iface=vdhR, and
#               vdhR (the exception port's kernel side, the data port's MAC) with VD_IP:
#               viaduct's kernel TCP listener lives here.
#   ns vdns-R:  vdtapR (the data port's kernel side), 10.200.0.1 UAC (sipp -t t1 and -t tn),
#               .3:5070 UAS 1, .4:5080 UAS 2 (ipv6: fd00:200::1, ::3, ::4); VD_IP .2.
#
# Checks: both sipp runs end with CALLS calls, 0 failed; the UAS got the calls over UDP;
# viaduct's kernel datapath accepted the connections (1 + CALLS) and every response DPDK passed
# to it was written (handoff_in = forwarded responses, handoff_lost = 0); DPDK dropped no SIP
# message except cold-cache neighbour resolution; viaduct exits 0, counters add up.

# shellcheck source-path=SCRIPTDIR disable=SC2016
set -euo pipefail
TEST_NAME=dpdk-tcp-tap
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=netns_lib.sh
source "$HERE/netns_lib.sh"

(($# >= 1 && $# <= 3)) || { echo "usage: $0 VIADUCT_BIN [ipv4|ipv6] [CALLS]" >&2; exit 2; }
run_bounded "${E2E_TIMEOUT:-240}" "$@"
BIN=$1 FAMILY=${2:-ipv4} CALLS=${3:-300} RATE=${E2E_RATE:-100}
TEST_NAME="dpdk-tcp-tap $FAMILY"
case $FAMILY in
ipv4) UAC_IP=10.200.0.1 VD_IP=10.200.0.2 UAS1_IP=10.200.0.3 UAS2_IP=10.200.0.4 PLEN=24 ;;
ipv6) UAC_IP=fd00:200::1 VD_IP=fd00:200::2 UAS1_IP=fd00:200::3 UAS2_IP=fd00:200::4 PLEN=64 ;;
*) echo "usage: $0 VIADUCT_BIN [ipv4|ipv6] [CALLS]" >&2; exit 2 ;;
esac
VD_PORT=5060 UAS1_PORT=5070 UAS2_PORT=5080
[[ -x $BIN ]] || die "viaduct binary '$BIN' not found or not executable"

netns_setup
VNS=vdvia-$R HTAP=vdh$R
netns_add "$VNS"
vsx() { ip netns exec "$VNS" "$@"; }

# shellcheck disable=SC2317 # called from netns_lib.sh's EXIT hook
on_failure() {
	tail_log "viaduct output" "$T/viaduct.log" 40
	local f
	for f in "$T"/uac-*.errors; do tail_log "${f##*/}" "$f" 20 2000; done
}

{
	echo "# written by $0"
	pool_config 1 "  - { address: \"$VD_IP\", port: $VD_PORT, transport: tcp }"
	cat <<EOC
dpdk:
  exception: net_tap1
EOC
} >"$T/viaduct.yaml"
# viaduct in its own namespace: both TAPs are born there
start_bg_merged viaduct ip netns exec "$VNS" "$BIN" --dpdk -c "$T/viaduct.yaml" -- -l 0 \
	"${VD_EAL[@]}" --vdev="net_tap1,iface=$HTAP"
VD_PID=${BG_PID[viaduct]}
wait_for_log "$T/viaduct.log" 'viaduct: ready: dpdk port' 30 "$VD_PID" ||
	die "viaduct --dpdk did not print 'viaduct: ready'"
# logged once the kernel datapath runs, just after the DPDK port's "ready"
wait_for_log "$T/viaduct.log" 'TCP/TLS listeners served by the kernel' 10 "$VD_PID" ||
	die "viaduct did not start its kernel datapath for TCP"
# the data port's kernel side into the network namespace; the exception side keeps VD_IP here
ip netns exec "$VNS" ip link set "$TAP" netns "$NS"
nsx ip link set lo up
nsx ip link set "$TAP" up
vsx ip link set lo up
vsx ip link set "$HTAP" up
for a in "$UAC_IP" "$UAS1_IP" "$UAS2_IP"; do
	if [[ $FAMILY == ipv6 ]]; then nsx ip addr add "$a/$PLEN" dev "$TAP" nodad
	else nsx ip addr add "$a/$PLEN" dev "$TAP"; fi
done
if [[ $FAMILY == ipv6 ]]; then vsx ip addr add "$VD_IP/$PLEN" dev "$HTAP" nodad
else vsx ip addr add "$VD_IP/$PLEN" dev "$HTAP"; fi

UAC_SECS=$((CALLS / RATE + 60))
for n in 1 2; do
	ip=UAS${n}_IP port=UAS${n}_PORT
	start_bg "uas$n" timeout -k 5 $((3 * UAC_SECS)) ip netns exec "$NS" sipp -sn uas \
		-i "${!ip}" -p "${!port}" -nd -trace_msg -message_file "$T/uas$n.msg"
	wait_for_ns_udp_port "${!ip}" "${!port}" 10 "${BG_PID[uas$n]}" || die "UAS $n did not start"
done

# uac NAME TRANSPORT: sipp over TCP to viaduct's address, CALLS calls
uac() {
	local extra=()
	[[ $2 == tn ]] && extra=(-max_socket 200)
	start_bg "uac-$1" timeout -k 5 $((UAC_SECS + 10)) ip netns exec "$NS" sipp -sn uac -t "$2" \
		"${extra[@]}" "$(hostport "$VD_IP" "$VD_PORT")" -i "$UAC_IP" -p 0 -m "$CALLS" \
		-r "$RATE" -l 50 -recv_timeout 10000 -timeout "${UAC_SECS}s" -timeout_error \
		-trace_stat -stf "$T/uac-$1.csv" -fd 1 -trace_err -error_file "$T/uac-$1.errors"
	wait_pid "${BG_PID[uac-$1]}" $((UAC_SECS + 20)) || die "sipp ($1) still running"
	local ok failed
	ok=$(sipp_ok "uac-$1" 2>/dev/null || echo missing) failed=$(sipp_failed "uac-$1" 2>/dev/null || echo missing)
	check "sipp -t $2: $CALLS calls through DPDK + the kernel's TCP listener ($ok ok, $failed failed, exit $WAIT_RC)" \
		'[[ $ok == "$CALLS" && $failed == 0 && $WAIT_RC == 0 ]]'
}
uac t1 t1
uac tn tn

stop_pid "$VD_PID" TERM 10 || log "viaduct needed SIGKILL"
VD_RC=$WAIT_RC
TOTAL=$(grep -E '^stats total ' "$T/viaduct.log" | tail -n 1 || true)
TCPS=$(grep -E '^stats tcp ' "$T/viaduct.log" | tail -n 1 || true)
DP=$(grep -E '^stats dpdk ' "$T/viaduct.log" | tail -n 1 || true)
log "$TOTAL"
log "$TCPS"
log "$DP"
RX=$(field rx "$TOTAL") TX=$(field tx "$TOTAL") REP=$(field replies "$TOTAL") DROPS=$(field drops "$TOTAL")
TX2XX=$(field tx_2xx "$TOTAL") TX1XX=$(field tx_1xx "$TOTAL")
INV=$(($(invites uas1) + $(invites uas2)))
check "viaduct exited 0 (got $VD_RC)" '[[ $VD_RC == 0 ]]'
check "counters add up, nothing dropped (rx=$RX tx=$TX replies=$REP drops=$DROPS)" \
	'[[ -n $RX && $RX == $((TX + REP + DROPS)) && $DROPS == 0 ]]'
check "the UAS got every INVITE over UDP ($INV)" '(( INV >= 2 * CALLS ))'
check "the kernel datapath accepted the connections ($(field accepted "$TCPS"))" \
	'(( $(field accepted "$TCPS") >= CALLS + 1 ))'
check "every response DPDK passed on was written (handoff_in=$(field handoff_in "$TCPS") lost=$(field handoff_lost "$TCPS"), responses forwarded $((TX1XX + TX2XX)))" \
	'(( $(field handoff_in "$TCPS") == TX1XX + TX2XX && $(field handoff_lost "$TCPS") == 0 ))'
check "the TCP went through the exception port (exception_rx=$(field exception_rx "$DP"), exception_tx=$(field exception_tx "$DP"))" \
	'(( $(field exception_rx "$DP") > 0 && $(field exception_tx "$DP") > 0 ))'
checks_exit
