#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# passive.sh VIADUCT_BIN VIADUCTCTL_BIN: passive member health end to end, on loopback.
#
# 1. 503 Retry-After. A sipp UAC sends MESSAGE transactions at 100/s through viaduct to a
#    pool of two sipp UAS: one answers 200, the other (message_uas_503.xml) 503 with
#    Retry-After: 2 to everything. The first 503 takes it out (logged, counted) and the
#    other member gets the traffic; after 2 s it comes back, gets a request, answers 503 and
#    goes out again. Checks: every ejection lasts 2 s (the log's times, with slack), the 503
#    member gets at most a few requests per episode, it gets requests again after a return,
#    the failed transactions are its 503s only, /metrics counts the ejections.
# 2. RFC 7339 overload control. A pool of two: one answers 200, the other
#    (message_uas_oc.xml) 200 with oc=50 in viaduct's Via: it must get about half its fair
#    share (a quarter of the transactions instead of half), every transaction succeeds,
#    /metrics and /status show the cut, and it ends within oc-validity (2 s) after the
#    traffic stops.
# Every process is started and stopped by PID; the run is bounded in time and count.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
run_bounded 120 "$@"
install_cleanup_trap
make_tmpdir

VIADUCT=$1
VIADUCTCTL=$2
command -v sipp >/dev/null || { log "SKIP: sipp not installed"; exit 77; }
A=127.0.0.1

uas() { # uas NAME SCENARIO PORT
	start_bg "$1" sipp -sf "$HERE/sipp/$2" -i $A -p "$3" -nd -nostdin -trace_msg \
		-message_file "$TMPDIR_E2E/$1.msg"
	wait_for_udp_port $A "$3" 10 "${BG_PID[$1]}" || die "$1 did not bind"
}
# transactions NAME PROXY N RATE: N MESSAGE transactions through viaduct, waited for
transactions() {
	pick_udp_port $A
	start_bg "$1" sipp -sf "$HERE/sipp/message_uac.xml" "$A:$2" -i $A -p "$PICKED_PORT" \
		-m "$3" -r "$4" -nostdin -recv_timeout 5000 -trace_stat -stf "$TMPDIR_E2E/$1.csv" \
		-fd 1
	wait_pid "${BG_PID[$1]}" 60 || die "$1 did not finish"
	log "$1: $(sipp_ok "$1") ok, $(sipp_failed "$1") failed"
}
# viaduct_up NAME CONFIG: viaduct -c CONFIG until ready; sets VD, VLOG
viaduct_up() {
	start_bg_merged "$1" "$VIADUCT" -c "$2"
	VD=${BG_PID[$1]}
	VLOG=$TMPDIR_E2E/$1.log
	wait_for_log "$VLOG" 'viaduct: ready' 10 "$VD" || die "$1 did not start"
}
ms_of() { # ms_of LOGLINE: its UTC timestamp in ms since midnight
	local t=${1%%Z*}
	t=${t#*T}
	IFS=:. read -r h m s frac <<<"$t"
	echo $(((10#$h * 3600 + 10#$m * 60 + 10#$s) * 1000 + 10#$frac))
}

# ---- 1. 503 with Retry-After ----
pick_udp_port $A; PROXY=$PICKED_PORT
pick_udp_port $A; GOOD=$PICKED_PORT
pick_udp_port $A; BAD=$PICKED_PORT
pick_udp_port $A; ADMIN=$PICKED_PORT
uas good message_uas.xml "$GOOD"
uas bad message_uas_503.xml "$BAD"
cat >"$TMPDIR_E2E/ra.yaml" <<YAML
workers: 2
listeners: [{address: $A, port: $PROXY}]
pool: {name: pcscf, members: [{host: $A, port: $GOOD}, {host: $A, port: $BAD}]}
admin: {address: $A, port: $ADMIN}
YAML
viaduct_up vd1 "$TMPDIR_E2E/ra.yaml"
N=600
transactions uac1 "$PROXY" $N 100
ok=$(sipp_ok uac1)
failed=$(sipp_failed uac1)
bad_got=$(requests_in bad MESSAGE)
good_got=$(requests_in good MESSAGE)
mapfile -t out < <(grep "member pcscf/$A:$BAD ejected (503 Retry-After)" "$VLOG")
mapfile -t back < <(grep "member pcscf/$A:$BAD back: ejection over" "$VLOG")
log "503 member: ${#out[@]} ejection(s), ${#back[@]} return(s), $bad_got request(s); the other $good_got"
check "the 503 member was ejected, and came back (${#out[@]} out, ${#back[@]} back)" \
	'(( ${#out[@]} >= 2 && ${#back[@]} >= 1 ))'
for ((i = 0; i < ${#back[@]}; i++)); do
	d=$(($(ms_of "${back[i]}") - $(ms_of "${out[i]}")))
	((d >= 0)) || d=$((d + 86400000)) # across midnight UTC
	check "ejection $((i + 1)) lasted ${d} ms (Retry-After: 2)" '(( d >= 1950 && d <= 2600 ))'
done
check "the 503 member got requests again after a return ($bad_got in ${#out[@]} episodes)" \
	'(( bad_got >= ${#out[@]} ))'
check "at most 5 requests per episode reached it ($bad_got)" '(( bad_got <= 5 * ${#out[@]} ))'
check "the other member took the traffic ($good_got of $N)" '(( good_got >= N - 5 * ${#out[@]} ))'
check "failed transactions are the 503s ($failed failed, $bad_got answered 503)" \
	'(( failed == bad_got && ok + failed == N ))'
"$VIADUCTCTL" -a "$A:$ADMIN" metrics >"$TMPDIR_E2E/metrics1.txt" || die "no /metrics"
ej=$(metric "$TMPDIR_E2E/metrics1.txt" viaduct_ejections_total 'reason="retry-after"')
check "/metrics: viaduct_ejections_total{reason=\"retry-after\"} $ej" '(( ${ej:-0} == ${#out[@]} ))'
check "/metrics is valid Prometheus text" 'prom_valid "$TMPDIR_E2E/metrics1.txt" viaduct_member_ejected'
stop_pid "$VD" TERM 10
check "viaduct exited 0" '[[ $WAIT_RC == 0 ]]'
ctl=$(grep '^stats control' "$VLOG" | tail -1)
check "exit counters: ejections_retry_after=$(field ejections_retry_after "$ctl")" \
	'[[ $(field ejections_retry_after "$ctl") == "${#out[@]}" ]]'
stop_pid "${BG_PID[bad]}" TERM 5

# ---- 2. RFC 7339 overload control ----
pick_udp_port $A; PROXY2=$PICKED_PORT
pick_udp_port $A; OC=$PICKED_PORT
pick_udp_port $A; ADMIN2=$PICKED_PORT
uas oc message_uas_oc.xml "$OC"
mv "$TMPDIR_E2E/good.msg" "$TMPDIR_E2E/good-1.msg"
stop_pid "${BG_PID[good]}" TERM 5
uas good message_uas.xml "$GOOD"
cat >"$TMPDIR_E2E/oc.yaml" <<YAML
workers: 2
listeners: [{address: $A, port: $PROXY2}]
pool: {name: pcscf, members: [{host: $A, port: $GOOD}, {host: $A, port: $OC}]}
admin: {address: $A, port: $ADMIN2}
YAML
viaduct_up vd2 "$TMPDIR_E2E/oc.yaml"
N=800
transactions uac2 "$PROXY2" $N 200
"$VIADUCTCTL" -a "$A:$ADMIN2" metrics >"$TMPDIR_E2E/metrics2.txt" || die "no /metrics"
"$VIADUCTCTL" -a "$A:$ADMIN2" status >"$TMPDIR_E2E/status2.json" || die "no /status"
oc_got=$(requests_in oc MESSAGE)
good_got=$(requests_in good MESSAGE)
pct=$((100 * oc_got / (oc_got + good_got)))
log "oc=50 member: $oc_got of $((oc_got + good_got)) requests (${pct}%); fair share 50%"
check "every transaction succeeded ($(sipp_failed uac2) failed)" '[[ $(sipp_failed uac2) == 0 ]]'
check "the member asking for half got about half its share (${pct}% of 50%)" \
	'(( pct >= 15 && pct <= 35 ))'
check "the cut was logged" \
	'grep -q "member pcscf/$A:$OC overload control: new dialogs cut by 50%" "$VLOG"'
labels="pool=\"pcscf\",member=\"$A:$OC\",pool_index=\"0\",member_index=\"1\",group=\"0\""
check "/metrics: viaduct_member_overload_percent 50" \
	'[[ $(metric "$TMPDIR_E2E/metrics2.txt" viaduct_member_overload_percent "$labels") == 50 ]]'
check "/metrics: viaduct_member_share_percent 50" \
	'[[ $(metric "$TMPDIR_E2E/metrics2.txt" viaduct_member_share_percent "$labels") == 50 ]]'
check "/status shows the cut" \
	'python3 -c "import json,sys; m=json.load(open(sys.argv[1]))[\"pools\"][0][\"members\"][1]; sys.exit(not (m[\"overload\"] == 50 and m[\"share\"] == 50 and m[\"ejected\"] == \"none\"))" "$TMPDIR_E2E/status2.json"'
wait_for_log "$VLOG" "member pcscf/$A:$OC overload control over" 10 "$VD" ||
	log "the cut did not end within 10 s"
check "the cut ended after the traffic stopped (oc-validity 2 s)" \
	'grep -q "member pcscf/$A:$OC overload control over" "$VLOG"'
stop_pid "$VD" TERM 10
check "viaduct exited 0" '[[ $WAIT_RC == 0 ]]'
if ((CHECK_FAILED)); then
	tail_log vd1 "$TMPDIR_E2E/vd1.log" 30
	tail_log vd2 "$TMPDIR_E2E/vd2.log" 30
	checks_exit
fi
log "passive health: 503 Retry-After ejections of 2 s and returns, oc=50 got ${pct}% of the traffic"
