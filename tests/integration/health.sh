#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# health.sh VIADUCT_BIN: health probing end to end.
#
# Two sipp UAS (-aa answers viaduct's OPTIONS probes) form the pool. Calls spread over both;
# then UAS 2 is stopped (by PID): viaduct must mark it down within interval x down_after
# (+1 s of slack for scheduling), and the next calls must all succeed on UAS 1. UAS 2 is
# started again on the same port: viaduct must mark it up, and new calls reach it again.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
run_bounded 170 "$@"
install_cleanup_trap
make_tmpdir

VIADUCT=$1
command -v sipp >/dev/null || { log "SKIP: sipp not installed"; exit 77; }
A=127.0.0.1
INTERVAL=200
DOWN_AFTER=3
pick_udp_port $A; PROXY=$PICKED_PORT
pick_udp_port $A; P1=$PICKED_PORT
pick_udp_port $A; P2=$PICKED_PORT

uas() { # uas NAME PORT
	start_bg "$1" sipp -sn uas -aa -i $A -p "$2" -nd -nostdin -trace_msg \
		-message_file "$TMPDIR_E2E/$1.msg"
	wait_for_udp_port $A "$2" 10 "${BG_PID[$1]}" || die "$1 did not bind"
}
calls() { # calls NAME N: N INVITE calls through viaduct; sets FAILED
	sipp_uac_bg "$1" "$A:$PROXY" $A "$2" 100
	wait_pid "$UAC_PID" 60 || die "$1 did not finish"
	FAILED=$(sipp_failed "$1")
	log "$1: $2 calls, $FAILED failed (sipp exit $WAIT_RC)"
}

uas uas1 "$P1"
uas uas2 "$P2"
cat >"$TMPDIR_E2E/viaduct.yaml" <<YAML
workers: 2
listeners: [{address: $A, port: $PROXY}]
pool: {name: pcscf, members: [{host: $A, port: $P1}, {host: $A, port: $P2}]}
health: {interval_ms: $INTERVAL, timeout_ms: 150, down_after: $DOWN_AFTER, up_after: 2}
log_level: debug
YAML
start_bg_merged viaduct "$VIADUCT" -c "$TMPDIR_E2E/viaduct.yaml"
VD=${BG_PID[viaduct]}
VLOG=$TMPDIR_E2E/viaduct.log
wait_for_log "$VLOG" 'viaduct: ready' 10 "$VD" || die "viaduct did not start"
wait_for_log "$VLOG" 'health: probing 2 member' 10 "$VD" || die "no prober"


calls uac1 200
check "both members up: 200 calls, 0 failed" '[[ $FAILED == 0 ]]'
check "both UAS got calls ($(invites uas1) / $(invites uas2))" \
	'(( $(invites uas1) > 0 && $(invites uas2) > 0 ))'

stop_pid "${BG_PID[uas2]}" TERM 5
t0=$(date +%s%N)
wait_for_log "$VLOG" "member pcscf/$A:$P2 down" 10 "$VD" || die "UAS 2 never marked down"
ms=$((($(date +%s%N) - t0) / 1000000))
limit=$((INTERVAL * DOWN_AFTER + 1000))
check "UAS 2 marked down after ${ms} ms (limit ${limit} ms)" '(( ms <= limit ))'

calls uac2 300
check "with UAS 2 down: 300 calls, 0 failed" '[[ $FAILED == 0 ]]'

mv "$TMPDIR_E2E/uas2.msg" "$TMPDIR_E2E/uas2-first.msg"
uas uas2 "$P2"
wait_for_log "$VLOG" "member pcscf/$A:$P2 up" 10 "$VD" || die "UAS 2 never marked up again"
calls uac3 200
check "UAS 2 back: 200 calls, 0 failed" '[[ $FAILED == 0 ]]'
check "UAS 2 takes calls again ($(invites uas2))" '(( $(invites uas2) > 0 ))'

stop_pid "$VD" TERM 10
check "viaduct exited 0" '[[ $WAIT_RC == 0 ]]'
# log_level debug: one line per judged probe
check "debug log: member 0's probes answered 200" \
	"grep -q 'debug: health: member 0 ($A:$P1): probe answered 200' '$VLOG'"
check "debug log: member 1's probe timed out and it went down" \
	"grep -q 'debug: health: member 1 ($A:$P2): probe timed out: down' '$VLOG'"
grep '^stats \(total\|control\)' "$VLOG" | tail -2 | while read -r l; do log "$l"; done
if ((CHECK_FAILED)); then
	tail_log viaduct "$VLOG" 30
	checks_exit
fi
log "health: down in ${ms} ms, 700 calls, 0 failed, back up and serving"
