#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# health_tap.sh: health probes through the DPDK datapath, end to end. The listener address
# exists only inside DPDK, so the control thread's OPTIONS go out through worker 0 (probe TX
# ring) from the listener address and the probe port, and the replies come back through the
# probe RX ring (dpdk/probe.c).
#
# usage: health_tap.sh VIADUCT_BIN [ipv4|ipv6] [CALLS]   (default ipv4, 200 calls)
# environment: E2E_TIMEOUT (200 s), E2E_KEEP=1
# exit: 0 pass, 1 fail, 2 usage, 77 skip (not root, no sipp, cannot create a TAP device or a
#       network namespace: said on stderr, never silently).
#
# Topology (as e2e_tap.sh; R = random suffix, nothing on real networks):
#   root ns: viaduct --dpdk --vdev=net_tap0,iface=vdtapR
#   ns vdns-R: vdtapR, 10.200.0.1 UAC, 10.200.0.3:5070 UAS 1 (sipp -aa: answers OPTIONS),
#              10.200.0.4:5080 UAS 2 (the address exists, nothing listens at first)
#              (ipv6: fd00:200::1, ::3, ::4); viaduct's listener 10.200.0.2:5060 (fd00:200::2)
#
# Checks:
#   a. with UAS 2 silent, viaduct marks it down (log "member ... down (health: ...)") while
#      UAS 1 stays (or comes back) up;
#   b. CALLS calls then all go to UAS 1: CALLS successful, 0 failed, UAS 1 got every INVITE;
#   c. a sipp UAS started on UAS 2: viaduct marks it up again, and a second round of CALLS
#      calls succeeds with both UAS getting INVITEs;
#   d. viaduct exits 0 on SIGTERM; its exit counters show probes sent through the datapath
#      (probe_tx > 0) and replies handed back (probe_rx > 0), no probe reply dropped
#      (drop_probe_rx_full 0), UAS 1 answered probes (replies > 0), UAS 2 timed out
#      (timeouts >= down_after) while silent.

# shellcheck source-path=SCRIPTDIR
# check() evaluates its single-quoted condition itself, reading variables set just before it:
# shellcheck disable=SC2016,SC2034
set -euo pipefail

TEST_NAME=dpdk-health-tap
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=netns_lib.sh
source "$HERE/netns_lib.sh"

usage() {
	echo "usage: $0 VIADUCT_BIN [ipv4|ipv6] [CALLS]" >&2
	exit 2
}
(($# >= 1 && $# <= 3)) || usage
run_bounded "${E2E_TIMEOUT:-200}" "$@"

BIN=$1
FAMILY=${2:-ipv4}
CALLS=${3:-200}
RATE=100
TEST_NAME="dpdk-health-tap $FAMILY"
[[ $CALLS =~ ^[1-9][0-9]*$ ]] || usage
[[ -x $BIN ]] || die "viaduct binary '$BIN' not found or not executable"
case $FAMILY in
ipv4) UAC_IP=10.200.0.1 VD_IP=10.200.0.2 UAS1_IP=10.200.0.3 UAS2_IP=10.200.0.4 PLEN=24 ;;
ipv6) UAC_IP=fd00:200::1 VD_IP=fd00:200::2 UAS1_IP=fd00:200::3 UAS2_IP=fd00:200::4 PLEN=64 ;;
*) usage ;;
esac
VD_PORT=5060 UAS1_PORT=5070 UAS2_PORT=5080 UAC_PORT=5061
# probes: every 200 ms, 150 ms to answer, down after 3 failures, up after 2 good replies
INTERVAL=200 TIMEOUT=150 DOWN_AFTER=3 UP_AFTER=2
UAS1_NAME=$(hostport "$UAS1_IP" "$UAS1_PORT") # member names as viaduct logs them
UAS2_NAME=$(hostport "$UAS2_IP" "$UAS2_PORT")

# preconditions (skip only when the machine cannot do it), namespace, cleanup: netns_lib.sh
netns_setup

# shellcheck disable=SC2317 # called from netns_lib.sh's EXIT hook
on_failure() {
	tail_log "viaduct output" "$T/viaduct.log" 60
	tail_log "sipp UAC errors" "$T/uac1.errors" 20 2000
}

# Last up/down transition viaduct logged for member $1: "up" (also when none: members start
# up) or "down".
member_state() {
	local last
	last=$(grep -F "member tap/$1 " "$T/viaduct.log" | grep -oE ' (up|down) \(health' | tail -n 1 || true)
	[[ $last == *down* ]] && echo down || echo up
}
# wait_states SECS UAS1_STATE UAS2_STATE: until both members are in these states (bounded).
wait_states() {
	local deadline=$((SECONDS + $1))
	while :; do
		[[ $(member_state "$UAS1_NAME") == "$2" && $(member_state "$UAS2_NAME") == "$3" ]] && return 0
		is_running "$VD_PID" || { log "viaduct exited"; return 1; }
		((SECONDS < deadline)) || { log "timed out after $1 s waiting for uas1 $2, uas2 $3"; return 1; }
		sleep 0.1
	done
}
uas() { # uas NAME IP PORT
	start_bg "$1" timeout -k 5 150 ip netns exec "$NS" sipp -sn uas -aa -i "$2" -p "$3" -nd \
		-nostdin -trace_msg -message_file "$T/$1.msg"
	wait_for_ns_udp_port "$2" "$3" 10 "${BG_PID[$1]}" || die "$1 did not start"
}
calls() { # calls NAME: CALLS calls through viaduct; sets OK, FAILED, UAC_RC
	local secs=$((CALLS / RATE + 30))
	start_bg "$1" timeout -k 5 $((secs + 10)) ip netns exec "$NS" sipp -sn uac \
		"$(hostport "$VD_IP" "$VD_PORT")" -i "$UAC_IP" -p "$UAC_PORT" -m "$CALLS" -r "$RATE" \
		-l 50 -nostdin -default_behaviors abortunexp -recv_timeout 10000 -timeout "${secs}s" \
		-timeout_error -trace_stat -stf "$T/$1.csv" -fd 1 -trace_err -error_file "$T/$1.errors"
	wait_pid "${BG_PID[$1]}" $((secs + 20)) || die "sipp $1 still running"
	UAC_RC=$WAIT_RC
	OK=$(sipp_ok "$1" 2>/dev/null || echo missing)
	FAILED=$(sipp_failed "$1" 2>/dev/null || echo missing)
}

# --- 1. viaduct --dpdk on a TAP vdev, its kernel side into the namespace -------------------
{
	echo "# written by $0"
	pool_config 1
	cat <<EOC
health:
  interval_ms: $INTERVAL
  timeout_ms: $TIMEOUT
  down_after: $DOWN_AFTER
  up_after: $UP_AFTER
EOC
} >"$T/viaduct.yaml"
start_viaduct -- -l 0 "${VD_EAL[@]}"
wait_for_log "$T/viaduct.log" 'health: probing 2 member.*through the datapath' 10 "$VD_PID" ||
	die "viaduct does not probe through the datapath"
link_into_ns "$NS" "$TAP" "$PLEN" "$UAC_IP" "$UAS1_IP" "$UAS2_IP"

# --- 2. UAS 1 answers, UAS 2's address answers nothing: UAS 2 goes down --------------------
# Probes sent before the namespace was ready failed too, so UAS 1 may have gone down and must
# come back: wait for the final states, not for one log line.
uas uas1 "$UAS1_IP" "$UAS1_PORT"
wait_states 15 up down && STATES1=ok || STATES1=bad
check "a. uas1 up, uas2 (nothing listening) marked down by probes through the datapath" \
	'[[ $STATES1 == ok ]]'
((CHECK_FAILED == 0)) || die "members not in the expected states"

calls uac1
X1=$(invites uas1)
check "b. $OK successful, $FAILED failed calls with uas2 down (want $CALLS and 0; sipp exit $UAC_RC)" \
	'[[ $UAC_RC == 0 && $OK == "$CALLS" && $FAILED == 0 ]]'
check "b. uas1 got all $CALLS INVITEs (got $X1)" '((X1 >= CALLS))'

# --- 3. UAS 2 starts answering: marked up, calls reach both again --------------------------
uas uas2 "$UAS2_IP" "$UAS2_PORT"
wait_states 15 up up && STATES2=ok || STATES2=bad
check "c. uas2 marked up again once it answers probes" '[[ $STATES2 == ok ]]'
calls uac2
X2=$(($(invites uas1) - X1)) Y2=$(invites uas2)
check "c. $OK successful, $FAILED failed calls with both up (want $CALLS and 0; sipp exit $UAC_RC)" \
	'[[ $UAC_RC == 0 && $OK == "$CALLS" && $FAILED == 0 ]]'
check "c. both UAS got INVITEs (uas1=$X2 uas2=$Y2)" '((X2 > 0 && Y2 > 0))'

# --- 4. stop viaduct: its exit counters ----------------------------------------------------
stop_pid "$VD_PID" TERM 10 || log "viaduct needed SIGKILL"
VD_RC=$WAIT_RC
DP=$(grep -E '^stats dpdk ' "$T/viaduct.log" | head -n 1 || true)
H1=$(grep -F "stats health member=tap/$UAS1_NAME " "$T/viaduct.log" || true)
H2=$(grep -F "stats health member=tap/$UAS2_NAME " "$T/viaduct.log" || true)
PTX=$(field probe_tx "$DP") PRX=$(field probe_rx "$DP") PFULL=$(field drop_probe_rx_full "$DP")
R1=$(field replies "$H1") T2=$(field timeouts "$H2")
: "${PTX:=0}" "${PRX:=0}" "${PFULL:=missing}" "${R1:=0}" "${T2:=0}"
log "viaduct: $DP"
log "viaduct: $H1"
log "viaduct: $H2"
check "d. viaduct exited 0 on SIGTERM (got $VD_RC)" '[[ $VD_RC == 0 ]]'
check "d. probes through the datapath: probe_tx=$PTX > 0, probe_rx=$PRX > 0, drop_probe_rx_full=$PFULL" \
	'((PTX > 0 && PRX > 0)) && [[ $PFULL == 0 ]]'
check "d. uas1 answered probes (replies=$R1), uas2 timed out while silent (timeouts=$T2 >= $DOWN_AFTER)" \
	'((R1 > 0 && T2 >= DOWN_AFTER))'
log "dpdk-health-tap $FAMILY: probes tx=$PTX rx=$PRX, uas1 replies=$R1, uas2 timeouts=$T2, calls ok"
checks_exit
