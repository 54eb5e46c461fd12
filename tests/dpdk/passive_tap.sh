#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# passive_tap.sh: passive member health on the DPDK datapath: the lcores read the members'
# responses and report their signals through their event rings (no eventfd: the control
# thread polls them). The topology of control.sh (IPv4, a TAP vdev into a network namespace
# this script creates): member 1 answers MESSAGE with 200, member 2 (message_uas_503.xml)
# with 503 and Retry-After: 2.
#
# usage: passive_tap.sh VIADUCT_BIN
# exit: 0 pass, 1 fail, 2 usage, 77 skip (not root, no sipp, no TAP device or namespace)
#
# Checks: member 2 is ejected (logged) on its first 503 and back 2 s later, and gets only a
# few of the transactions; every other one succeeds at member 1; the exit counters count the
# ejections and nothing lost (rx = tx + replies + drops).

# check() evaluates its expression when called: single quotes on purpose (SC2016)
# shellcheck source-path=SCRIPTDIR disable=SC2016
set -euo pipefail

TEST_NAME=dpdk-passive
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=netns_lib.sh
source "$HERE/netns_lib.sh"

(($# == 1)) || { echo "usage: $0 VIADUCT_BIN" >&2; exit 2; }
run_bounded "${E2E_TIMEOUT:-150}" "$@"
BIN=$1
[[ -x $BIN ]] || die "viaduct binary '$BIN' not found or not executable"

N=300
RATE=100
UAC_IP=10.200.0.1 VD_IP=10.200.0.2 UAS1_IP=10.200.0.3 UAS2_IP=10.200.0.4 PLEN=24
VD_PORT=5060 UAS1_PORT=5070 UAS2_PORT=5080
SIPP=$HERE/../integration/sipp

netns_setup
# shellcheck disable=SC2317 # called from netns_lib.sh's EXIT hook
on_failure() { tail_log "viaduct output" "$T/viaduct.log" 60; }

{
	pool_config 1
	cat <<EOC
dpdk:
  eal: ["-l", "0", "--no-huge", "--no-pci", "-m", "512", "--file-prefix=$PREFIX", "--vdev=net_tap0,iface=$TAP"]
  port: net_tap0
EOC
} >"$T/viaduct.yaml"
# shellcheck disable=SC2119 # no arguments: the EAL arguments come from the config
start_viaduct
VLOG=$T/viaduct.log
link_into_ns "$NS" "$TAP" "$PLEN" "$UAC_IP" "$UAS1_IP" "$UAS2_IP"

start_bg uas1 ip netns exec "$NS" sipp -sf "$SIPP/message_uas.xml" -i "$UAS1_IP" \
	-p "$UAS1_PORT" -nd -nostdin -trace_msg -message_file "$T/uas1.msg"
start_bg uas2 ip netns exec "$NS" sipp -sf "$SIPP/message_uas_503.xml" -i "$UAS2_IP" \
	-p "$UAS2_PORT" -nd -nostdin -trace_msg -message_file "$T/uas2.msg"
wait_for_ns_udp_port "$UAS1_IP" "$UAS1_PORT" 10 "${BG_PID[uas1]}" || die "UAS 1 did not start"
wait_for_ns_udp_port "$UAS2_IP" "$UAS2_PORT" 10 "${BG_PID[uas2]}" || die "UAS 2 did not start"

start_bg uac timeout -k 5 60 ip netns exec "$NS" sipp -sf "$SIPP/message_uac.xml" \
	"$VD_IP:$VD_PORT" -i "$UAC_IP" -p 5062 -m "$N" -r "$RATE" -nostdin -recv_timeout 5000 \
	-trace_stat -stf "$T/uac.csv" -fd 1
wait_pid "${BG_PID[uac]}" 70 || die "sipp UAC still running"

OK=$(sipp_ok uac) FAILED=$(sipp_failed uac)
GOT1=$(requests_in uas1 MESSAGE) GOT2=$(requests_in uas2 MESSAGE)
OUT=$(grep -c "member tap/$UAS2_IP:$UAS2_PORT ejected (503 Retry-After): out for 2000 ms" "$VLOG" || true)
BACK=$(grep -c "member tap/$UAS2_IP:$UAS2_PORT back: ejection over" "$VLOG" || true)
log "$N transactions: $OK ok, $FAILED failed; member 1 got $GOT1, member 2 $GOT2; $OUT ejection(s), $BACK return(s)"
check "member 2 was ejected on its 503 and came back ($OUT out, $BACK back)" '((OUT >= 1 && BACK >= 1))'
check "member 2 got a few requests per ejection ($GOT2 for $OUT)" '((GOT2 >= OUT && GOT2 <= 5 * OUT))'
check "the rest succeeded at member 1 ($OK ok, $FAILED failed = its 503s)" \
	'((OK + FAILED == N && FAILED == GOT2 && GOT1 == OK))'
stop_pid "$VD_PID" TERM 10 || log "viaduct needed SIGKILL"
VD_RC=$WAIT_RC
TOTAL=$(grep -E '^stats total ' "$VLOG" | tail -n 1 || true)
CTLS=$(grep -E '^stats control ' "$VLOG" | tail -n 1 || true)
RX=$(field rx "$TOTAL") TX=$(field tx "$TOTAL") REPLIES=$(field replies "$TOTAL") DROPS=$(field drops "$TOTAL")
: "${RX:=0}" "${TX:=0}" "${REPLIES:=0}" "${DROPS:=0}"
log "viaduct: $CTLS"
check "viaduct exited 0 on SIGTERM (got $VD_RC)" '[[ $VD_RC == 0 ]]'
check "counters add up: rx=$RX = tx=$TX + replies=$REPLIES + drops=$DROPS" \
	'((RX > 0 && RX == TX + REPLIES + DROPS))'
check "exit counters: ejections_retry_after=$(field ejections_retry_after "$CTLS") (= $OUT)" \
	'[[ $(field ejections_retry_after "$CTLS") == "$OUT" ]]'
log "dpdk-passive: $N transactions, member 2 out $OUT times for 2 s, $FAILED 503s, exit $VD_RC"
checks_exit
