#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# admin.sh VIADUCT_BIN VIADUCTCTL_BIN: the admin API end to end, through viaductctl.
#
# - status is JSON naming the pool and both members, up and undrained;
# - metrics, after 100 calls, are valid Prometheus text whose received INVITE total is 100;
# - drain: calls of 3 s are running on both members when member 2 is drained; they all
#   complete (their ACK/BYE carry a To-tag and still reach the drained member), and calls
#   started after the drain never reach it; undrain brings new calls back to it;
# - reload through the API publishes a new snapshot; an unknown member is a 404 (exit 1);
# - log-level: read, set at runtime (logged), kept by a reload of an unchanged log_level,
#   replaced by a reload that changes it; an unknown level is a 400 (exit 1).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
run_bounded 170 "$@"
install_cleanup_trap
make_tmpdir

VIADUCT=$1
CTL=$2
command -v sipp >/dev/null || { log "SKIP: sipp not installed"; exit 77; }
A=127.0.0.1
pick_udp_port $A; PROXY=$PICKED_PORT
pick_udp_port $A; P1=$PICKED_PORT
pick_udp_port $A; P2=$PICKED_PORT
pick_udp_port $A; ADMIN=$PICKED_PORT # a free UDP port is very likely a free TCP port

for i in 1 2; do
	port=P$i
	start_bg "uas$i" sipp -sn uas -i $A -p "${!port}" -nd -nostdin -trace_msg \
		-message_file "$TMPDIR_E2E/uas$i.msg"
	wait_for_udp_port $A "${!port}" 10 "${BG_PID[uas$i]}" || die "uas$i did not bind"
done
cat >"$TMPDIR_E2E/viaduct.yaml" <<YAML
workers: 2
listeners: [{address: $A, port: $PROXY}]
pool: {name: pcscf, members: [{host: $A, port: $P1}, {host: $A, port: $P2}]}
admin: {address: $A, port: $ADMIN}
YAML
start_bg_merged viaduct "$VIADUCT" -c "$TMPDIR_E2E/viaduct.yaml"
VD=${BG_PID[viaduct]}
VLOG=$TMPDIR_E2E/viaduct.log
wait_for_log "$VLOG" 'admin API: listening' 10 "$VD" || die "no admin API"
ctl() { "$CTL" -a "$A:$ADMIN" "$@"; }

uac() { sipp_uac_bg "$1" "$A:$PROXY" $A "$2" "$3" "$4"; } # NAME CALLS RATE PAUSE_MS

ctl status >"$TMPDIR_E2E/status.json"
check "status is JSON with pool pcscf and 2 members up, undrained" \
	"python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); p=s[\"pools\"][0]; \
assert p[\"name\"]==\"pcscf\" and len(p[\"members\"])==2; \
assert all(m[\"up\"] and not m[\"drained\"] for m in p[\"members\"])' $TMPDIR_E2E/status.json"

uac warm 100 100 0
wait_pid "$UAC_PID" 60 || die "warm-up UAC did not finish"
ctl metrics >"$TMPDIR_E2E/metrics.txt"
INVITES=$(metric "$TMPDIR_E2E/metrics.txt" viaduct_received_requests_total 'method="INVITE"')
check "metrics: every line is a comment or a sample, TYPE declared, ${INVITES:-no} INVITEs received (want 100)" \
	'prom_valid "$TMPDIR_E2E/metrics.txt" && [[ $INVITES == 100 ]]'

# drain under load: 3 s calls keep running across the drain
uac long 60 20 3000
LONG=$UAC_PID
wait_for_log "$TMPDIR_E2E/uas2.msg" '^INVITE ' 10 || die "no call reached member 2"
before=$(invites uas2)
ctl drain pcscf "$A:$P2" >/dev/null
check "status shows member 2 drained" "ctl status | grep -q '\"member\":\"$A:$P2\".*\"drained\":true'"
marked=$(invites uas2)
uac after 100 100 0
wait_pid "$UAC_PID" 60 || die "post-drain UAC did not finish"
wait_pid "$LONG" 60 || die "long UAC did not finish"
now=$(invites uas2)
log "INVITEs at member 2: $before before the drain, $marked when it was set, $now at the end"
check "long calls across the drain: $(sipp_ok long) ok, $(sipp_failed long) failed" '[[ $(sipp_failed long) == 0 && $(sipp_ok long) == 60 ]]'
check "calls after the drain: $(sipp_failed after) failed" '[[ $(sipp_failed after) == 0 ]]'
check "no new call reached the drained member after the drain (+ in-flight ones)" \
	'(( now - marked <= 2 ))'

ctl undrain pcscf "$A:$P2" >/dev/null
uac back 100 100 0
wait_pid "$UAC_PID" 60 || die "UAC did not finish"
check "undrained: member 2 takes calls again ($(invites uas2) > $now)" '(( $(invites uas2) > now ))'

ctl reload >/dev/null
check "reload through the API publishes a snapshot" \
	"grep -q 'reload (admin API): snapshot' '$VLOG'"
set +e
ctl drain pcscf 10.9.9.9:1 >/dev/null 2>&1
rc=$?
set -e
check "an unknown member is an HTTP error (viaductctl exit $rc)" '[[ $rc == 1 ]]'

# log level at runtime: set through the API, kept by a reload that leaves the file's
# log_level alone, replaced by one that changes it
check "log-level reads info" "ctl log-level | grep -qx '{\"log_level\":\"info\"}'"
check "log-level error answers the old level" \
	"ctl log-level error | grep -q '\"log_level\":\"error\",\"was\":\"info\"'"
check "the change is logged at warning level" \
	"grep -q 'log level set to error (was info) through the admin API' '$VLOG'"
reloads=$(grep -c 'reload (admin API): snapshot' "$VLOG")
ctl reload >/dev/null
check "at level error a reload's info line is not written" \
	"[[ \$(grep -c 'reload (admin API): snapshot' '$VLOG') == $reloads ]]"
check "a reload of an unchanged log_level keeps the runtime level" \
	"ctl log-level | grep -q '\"log_level\":\"error\"'"
printf 'log_level: debug\n' >>"$TMPDIR_E2E/viaduct.yaml"
ctl reload >/dev/null
check "a reload that changes log_level applies it" "ctl log-level | grep -q '\"log_level\":\"debug\"'"
set +e
ctl log-level loud >/dev/null 2>"$TMPDIR_E2E/loud.err"
rc=$?
set -e
check "an unknown level is an HTTP error (viaductctl exit $rc) that names the levels" \
	"[[ $rc == 1 ]] && grep -q 'error, warn, info or debug' '$TMPDIR_E2E/loud.err'"
check "warning is a name of warn" "ctl log-level warning | grep -q '\"log_level\":\"warn\"'"

# a second viaduct whose admin port is taken (by the first) does not start without its API
pick_udp_port $A
sed "s/port: $PROXY}/port: $PICKED_PORT}/" "$TMPDIR_E2E/viaduct.yaml" >"$TMPDIR_E2E/second.yaml"
set +e
timeout 20 "$VIADUCT" -c "$TMPDIR_E2E/second.yaml" >"$TMPDIR_E2E/second.log" 2>&1
rc=$?
set -e
check "admin port in use: exit 4 (got $rc), the log says why" \
	"[[ $rc == 4 ]] && grep -q 'admin API: .*Address already in use' '$TMPDIR_E2E/second.log'"

stop_pid "$VD" TERM 10
check "viaduct exited 0" '[[ $WAIT_RC == 0 ]]'
grep '^stats total' "$VLOG" | tail -1 | while read -r l; do log "$l"; done
if ((CHECK_FAILED)); then
	tail_log viaduct "$VLOG" 30
	checks_exit
fi
log "admin API: status, metrics, drain under load, undrain, reload and log level all work"
