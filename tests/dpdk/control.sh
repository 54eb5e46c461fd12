#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# control.sh: the control thread next to the DPDK datapath, end to end: `viaduct --dpdk` started
# from a config with a dpdk: section (EAL arguments, port) and an admin section, sipp calls
# through a TAP vdev into a network namespace this script creates (the topology of
# e2e_tap.sh, IPv4), and the admin API, reload and signals working while the lcores poll.
#
# usage: control.sh VIADUCT_BIN VIADUCTCTL_BIN
# environment: E2E_TIMEOUT (240 s), E2E_KEEP=1 (keep the temp dir)
# exit: 0 pass, 1 fail, 2 usage, 77 skip (not root, no sipp/python3, cannot create a TAP device
#       or a network namespace: said on stderr, never silently).
#
# Checks:
#   a. /status says datapath "dpdk"; after CALLS calls (all successful, both members used),
#      /metrics is valid Prometheus text with viaduct_dpdk_rx_packets_total{worker="0"} > 0 and
#      viaduct_dpdk_drops_total{worker="0",reason="neigh_unresolved"} >= 1 (cold cache);
#   b. drain member 2 through the admin API (viaductctl): the next CALLS calls all succeed and
#      all reach member 1, none member 2;
#   c. reload (the file rewritten: inotify, then SIGHUP) adding a rule that rejects INVITE with
#      "403 Blocked After Reload": the next calls get that 403 on the wire and no INVITE is
#      forwarded any more (viaduct's forwarded INVITE counter); the changed dpdk.eal is
#      reported as needing a restart and otherwise ignored; the drain survives the reload;
#   d. SIGUSR1 prints the counters while running; SIGTERM by PID: exit 0, the printed counters
#      add up (rx = tx + replies + drops), the 403s are counted as replies, reloads >= 2.

# check() evaluates its expression when called: single quotes on purpose (SC2016)
# shellcheck source-path=SCRIPTDIR disable=SC2016
set -euo pipefail

TEST_NAME=dpdk-control
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=netns_lib.sh
source "$HERE/netns_lib.sh"

(($# == 2)) || { echo "usage: $0 VIADUCT_BIN VIADUCTCTL_BIN" >&2; exit 2; }
run_bounded "${E2E_TIMEOUT:-240}" "$@"
BIN=$1
CTL=$2
[[ -x $BIN ]] || die "viaduct binary '$BIN' not found or not executable"
[[ -x $CTL ]] || die "viaductctl binary '$CTL' not found or not executable"

CALLS=50
RATE=50
UAC_IP=10.200.0.1 VD_IP=10.200.0.2 UAS1_IP=10.200.0.3 UAS2_IP=10.200.0.4 PLEN=24
VD_PORT=5060 UAS1_PORT=5070 UAS2_PORT=5080
ADMIN_IP=127.0.0.1

command -v python3 >/dev/null || skip "python3 not installed (metrics parsing)"
# preconditions (skip only when the machine cannot do it), namespace, cleanup: netns_lib.sh
netns_setup

# shellcheck disable=SC2317 # called from netns_lib.sh's EXIT hook
on_failure() { tail_log "viaduct output" "$T/viaduct.log" 60; }

pick_udp_port "$ADMIN_IP"
ADMIN_PORT=$PICKED_PORT # a free UDP port is very likely a free TCP port too

# config VERSION: the config file, written aside and renamed over (as editors do). Version 2
# adds the rule and one EAL argument (a dpdk: change a reload must report, not apply).
config() {
	local extra_eal="" rules=""
	if (($1 == 2)); then
		extra_eal=', "--log-level=lib.eal:notice"'
		rules=$'rules:\n  - name: block-invite\n    methods: [INVITE]\n    reject: 403 Blocked After Reload\n'
	fi
	{
		echo "# written by $0 (version $1)"
		pool_config 1
		cat <<EOC
admin:
  address: $ADMIN_IP
  port: $ADMIN_PORT
dpdk:
  eal: ["-l", "0", "--no-huge", "--no-pci", "-m", "512", "--file-prefix=$PREFIX", "--vdev=net_tap0,iface=$TAP"$extra_eal]
  port: net_tap0
  mbufs: 12287
  rx_desc: 512
  tx_desc: 256
$rules
EOC
	} >"$T/viaduct.yaml.new"
	mv -f "$T/viaduct.yaml.new" "$T/viaduct.yaml"
}

# --- 1. viaduct --dpdk (EAL arguments from the config), the TAP's kernel side into the ns -----
config 1
# shellcheck disable=SC2119 # no arguments: the EAL arguments come from the config
start_viaduct
VLOG=$T/viaduct.log
wait_for_log "$VLOG" 'admin API: listening' 10 "$VD_PID" || die "no admin API"
link_into_ns "$NS" "$TAP" "$PLEN" "$UAC_IP" "$UAS1_IP" "$UAS2_IP"
ctl() { "$CTL" -a "$ADMIN_IP:$ADMIN_PORT" "$@"; }

for n in 1 2; do
	ipv=UAS${n}_IP portv=UAS${n}_PORT
	start_bg "uas$n" ip netns exec "$NS" sipp -sn uas -i "${!ipv}" -p "${!portv}" -nd -nostdin \
		-trace_msg -message_file "$T/uas$n.msg"
done
wait_for_ns_udp_port "$UAS1_IP" "$UAS1_PORT" 10 "${BG_PID[uas1]}" || die "UAS 1 did not start"
wait_for_ns_udp_port "$UAS2_IP" "$UAS2_PORT" 10 "${BG_PID[uas2]}" || die "UAS 2 did not start"

# uac NAME CALLS: CALLS INVITE calls from the namespace through viaduct, waited for (bounded);
# sets UAC_RC. Messages traced (for the 403 check); a lost message fails a call after 10 s.
UAC_PORT=5061
uac() {
	UAC_PORT=$((UAC_PORT + 1))
	start_bg "$1" timeout -k 5 90 ip netns exec "$NS" sipp -sn uac "$VD_IP:$VD_PORT" \
		-i "$UAC_IP" -p "$UAC_PORT" -m "$2" -r "$RATE" -nostdin -recv_timeout 10000 \
		-timeout 80s -trace_stat -stf "$T/$1.csv" -fd 1 -trace_msg -message_file "$T/$1.msg"
	wait_pid "${BG_PID[$1]}" 100 || die "sipp UAC $1 still running"
	UAC_RC=$WAIT_RC
}

# --- a. status, calls, metrics -------------------------------------------------------------
ctl status >"$T/status.json"
check "a. /status: datapath dpdk, 1 worker" \
	"python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); \
assert s[\"datapath\"]==\"dpdk\" and s[\"workers\"]==1, s' $T/status.json"
uac warm "$CALLS"
check "a. $CALLS calls: sipp exit $UAC_RC, $(sipp_ok warm) ok, $(sipp_failed warm) failed" \
	'[[ $UAC_RC == 0 && $(sipp_ok warm) == "$CALLS" && $(sipp_failed warm) == 0 ]]'
X1=$(invites uas1) Y1=$(invites uas2)
check "a. both members took calls (uas1=$X1 uas2=$Y1)" '((X1 > 0 && Y1 > 0))'
ctl metrics >"$T/metrics.txt"
check "a. /metrics is valid Prometheus text, every viaduct_dpdk_* family typed" \
	'prom_valid "$T/metrics.txt" viaduct_dpdk_'
RXP=$(metric "$T/metrics.txt" viaduct_dpdk_rx_packets_total 'worker="0"')
TXP=$(metric "$T/metrics.txt" viaduct_dpdk_tx_packets_total 'worker="0"')
UNRES=$(metric "$T/metrics.txt" viaduct_dpdk_drops_total 'worker="0",reason="neigh_unresolved"')
check "a. viaduct_dpdk_rx_packets_total=${RXP:-none} tx=${TXP:-none} (> 0), neigh_unresolved drops=${UNRES:-none} (>= 1)" \
	'[[ -n $RXP && -n $TXP && -n $UNRES ]] && ((RXP > 0 && TXP > 0 && UNRES >= 1))'

# --- b. drain member 2 ---------------------------------------------------------------------
ctl drain tap "$UAS2_IP:$UAS2_PORT" >"$T/drain.json" || die "drain failed: $(cat "$T/drain.json")"
check "b. /status shows member 2 drained" \
	"ctl status | grep -q '\"member\":\"$UAS2_IP:$UAS2_PORT\"[^}]*\"drained\":true'"
uac drained "$CALLS"
X2=$(invites uas1) Y2=$(invites uas2)
check "b. after the drain: $(sipp_ok drained) ok, $(sipp_failed drained) failed (want $CALLS, 0)" \
	'[[ $UAC_RC == 0 && $(sipp_ok drained) == "$CALLS" && $(sipp_failed drained) == 0 ]]'
check "b. every new call went to member 1 (uas1 +$((X2 - X1)), uas2 +$((Y2 - Y1)))" \
	'((X2 - X1 == CALLS && Y2 == Y1))'

# --- c. reload: the file changes (inotify), then SIGHUP ------------------------------------
config 2
wait_for_log "$VLOG" 'reload \(file changed\): snapshot' 10 "$VD_PID" || die "no reload after the file changed"
kill -HUP "$VD_PID"
wait_for_log "$VLOG" 'reload \(SIGHUP\): snapshot' 10 "$VD_PID" || die "no reload on SIGHUP"
check "a. dpdk.mbufs, rx_desc and tx_desc applied" \
	"grep -q 'mbuf pool: 12287 mbufs .*(dpdk.mbufs)' '$VLOG' &&
	 grep -q 'port 0: 512 RX / 256 TX descriptors per queue' '$VLOG'"
check "c. the changed dpdk.eal is reported as needing a restart" \
	"grep -q 'dpdk.eal changed: needs a restart' '$VLOG'"
check "c. the drain survived the reloads" \
	"ctl status | grep -q '\"member\":\"$UAS2_IP:$UAS2_PORT\"[^}]*\"drained\":true'"
ctl metrics >"$T/metrics2.txt"
FWD_BEFORE=$(metric "$T/metrics2.txt" viaduct_forwarded_requests_total 'method="INVITE"')
BLOCKED=10
uac blocked "$BLOCKED"
# sipp logs each received message once, then again when it is unexpected (a 403 is): count
# the received ones, one per call
N403=$(grep -A 2 '^UDP message received' "$T/blocked.msg" | grep -c '^SIP/2.0 403 Blocked After Reload' || true)
check "c. the new rule answers on the wire: $N403 x '403 Blocked After Reload' for $BLOCKED calls" \
	'((N403 == BLOCKED)) && [[ $(sipp_ok blocked) == 0 ]]'

# --- d. SIGUSR1 while running, then SIGTERM: exit 0, counters add up --------------------------
kill -USR1 "$VD_PID"
wait_for_log "$VLOG" '^stats control ' 10 "$VD_PID" || die "no counters printed on SIGUSR1"
check "d. SIGUSR1 prints the counters while the lcores run (stats total, stats dpdk, stats control)" \
	"grep -q '^stats total ' '$VLOG' && grep -q '^stats dpdk rx=' '$VLOG' && is_running $VD_PID"
stop_pid "$VD_PID" TERM 10 || log "viaduct needed SIGKILL"
VD_RC=$WAIT_RC
TOTAL=$(grep -E '^stats total ' "$VLOG" | tail -n 1 || true)
DP=$(grep -E '^stats dpdk rx=' "$VLOG" | tail -n 1 || true)
CTLS=$(grep -E '^stats control ' "$VLOG" | tail -n 1 || true)
RX=$(field rx "$TOTAL") TX=$(field tx "$TOTAL") REPLIES=$(field replies "$TOTAL") DROPS=$(field drops "$TOTAL")
FWD_INVITE=$(field tx_INVITE "$TOTAL")
FRAMES=$(field rx "$DP") RELOADS=$(field reloads "$CTLS")
: "${RX:=0}" "${TX:=0}" "${REPLIES:=0}" "${DROPS:=0}" "${FRAMES:=0}" "${RELOADS:=0}" "${FWD_INVITE:=0}"
log "viaduct: $TOTAL"
log "viaduct: $DP"
log "viaduct: $CTLS"
check "d. viaduct exited 0 on SIGTERM (got $VD_RC)" '[[ $VD_RC == 0 ]]'
check "d. counters add up: rx=$RX = tx=$TX + replies=$REPLIES + drops=$DROPS; frames $FRAMES >= rx" \
	'((RX > 0 && RX == TX + REPLIES + DROPS && FRAMES >= RX))'
check "d. the 403s are local replies ($REPLIES >= $BLOCKED), $RELOADS reloads (>= 2)" \
	'((REPLIES >= BLOCKED && RELOADS >= 2))'
# (counted by viaduct, not by the UAS: sipp's UAS may die on the ACKs of the 403s, which a
# stateless proxy forwards to the pool)
check "c. no INVITE was forwarded after the reload: ${FWD_BEFORE:-none} before the blocked calls, $FWD_INVITE at exit" \
	'[[ -n $FWD_BEFORE ]] && ((FWD_BEFORE >= 2 * CALLS && FWD_INVITE == FWD_BEFORE))'
log "dpdk-control: $CALLS calls, drain, reload to a 403 rule, $N403 x 403, exit $VD_RC"
checks_exit
