#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# reload.sh VIADUCT_BIN [RELOADS]: reload under load.
#
# A sipp UAC sends MESSAGE transactions at a steady rate through viaduct to a pool of three
# sipp UAS while the config is rewritten RELOADS times (default 100): members removed and
# added back, weights changed, the hash key switched. Every rewrite is an atomic rename, so
# the inotify watch reloads it; every tenth is followed by a SIGHUP as well. After each
# rewrite the script waits (bounded) for viaduct to log the new snapshot, then goes on.
#
# Checks: every reload published (none refused); sipp counts 0 failed transactions; at exit
# viaduct's counters show nothing lost: drops=0, replies=0, tx=rx, and rx = 2 x transactions
# (each request and its 200). Every process is stopped by PID; the run is bounded.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
run_bounded 170 "$@"
install_cleanup_trap
make_tmpdir

VIADUCT=$1
RELOADS=${2:-100}
RATE=${RELOAD_RATE:-300}
command -v sipp >/dev/null || { log "SKIP: sipp not installed"; exit 77; }

A=127.0.0.1
pick_udp_port $A; PROXY=$PICKED_PORT
UAS_PORTS=()
for i in 1 2 3; do
	pick_udp_port $A
	UAS_PORTS+=("$PICKED_PORT")
	start_bg "uas$i" sipp -sf "$HERE/sipp/message_uas.xml" -i $A -p "$PICKED_PORT" -nd \
		-nostdin
	wait_for_udp_port $A "$PICKED_PORT" 10 "${BG_PID[uas$i]}" || die "uas$i did not bind"
done
pick_udp_port $A; UAC_PORT=$PICKED_PORT

CFG=$TMPDIR_E2E/viaduct.yaml
# write_config N: variant N of the pool, written to a temp file and renamed over the config.
write_config() {
	local n=$1 members hash=call-id
	case $((n % 4)) in
	0) members="{host: $A, port: ${UAS_PORTS[0]}}, {host: $A, port: ${UAS_PORTS[1]}}, {host: $A, port: ${UAS_PORTS[2]}}" ;;
	1) members="{host: $A, port: ${UAS_PORTS[0]}}, {host: $A, port: ${UAS_PORTS[1]}}" ;;
	2) members="{host: $A, port: ${UAS_PORTS[0]}, weight: 3}, {host: $A, port: ${UAS_PORTS[2]}, weight: 1}" ;;
	3) members="{host: $A, port: ${UAS_PORTS[1]}}, {host: $A, port: ${UAS_PORTS[2]}, weight: 2}"; hash=source-ip ;;
	esac
	cat >"$CFG.tmp" <<YAML
workers: 2
listeners: [{address: $A, port: $PROXY}]
pool: {name: pcscf, hash: $hash, members: [$members]}
YAML
	mv "$CFG.tmp" "$CFG"
}

write_config 0
start_bg_merged viaduct "$VIADUCT" -c "$CFG"
VD=${BG_PID[viaduct]}
VLOG=$TMPDIR_E2E/viaduct.log
wait_for_log "$VLOG" 'viaduct: ready' 10 "$VD" || die "viaduct did not start"

CALLS=$((RATE * 15))
start_bg uac sipp -sf "$HERE/sipp/message_uac.xml" "$A:$PROXY" -i $A -p "$UAC_PORT" \
	-m "$CALLS" -r "$RATE" -l 200 -nostdin -recv_timeout 5000 \
	-trace_stat -stf "$TMPDIR_E2E/uac.csv" -fd 1 -trace_screen \
	-screen_file "$TMPDIR_E2E/uac.screen"
UAC=${BG_PID[uac]}

version=1
for ((n = 1; n <= RELOADS; n++)); do
	write_config "$n"
	version=$((version + 1))
	wait_for_log "$VLOG" "snapshot $version published" 10 "$VD" ||
		die "reload $n: snapshot $version not published"
	if ((n % 10 == 0)); then
		kill -HUP "$VD"
		version=$((version + 1))
		wait_for_log "$VLOG" "snapshot $version published" 10 "$VD" ||
			die "SIGHUP $n: snapshot $version not published"
	fi
done
log "published $((version - 1)) reloads while the UAC was running"
is_running "$UAC" || log "note: the UAC finished before the last reload"

wait_pid "$UAC" 120 || die "UAC did not finish"
uac_rc=$WAIT_RC
stop_pid "$VD" TERM 10
vd_rc=$WAIT_RC

stats=$(grep '^stats total' "$VLOG" | tail -1)
control=$(grep '^stats control' "$VLOG" | tail -1)
get() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }
rx=$(get rx "$stats"); tx=$(get tx "$stats")
drops=$(get drops "$stats"); replies=$(get replies "$stats")
ok=$(sipp_ok uac)
failed=$(sipp_failed uac)
log "$stats"
log "$control"
check "sipp UAC exit status 0 (was $uac_rc)" '[[ $uac_rc == 0 ]]'
check "$ok successful, $failed failed transactions of $CALLS" '[[ $ok == "$CALLS" && $failed == 0 ]]'
check "viaduct exited 0 (was $vd_rc)" '[[ $vd_rc == 0 ]]'
check "no reload refused" 'grep -q "reloads_failed=0" <<<"$control"'
check "reloads=$((version - 1)) published" 'grep -q "reloads=$((version - 1)) " <<<"$control"'
check "nothing lost: drops=$drops replies=$replies tx=$tx rx=$rx" \
	'[[ $drops == 0 && $replies == 0 && $tx == "$rx" && $rx == $((2 * CALLS)) ]]'
if ((CHECK_FAILED)); then
	tail_log viaduct "$VLOG" 20
	checks_exit
fi
log "reload under load: $CALLS transactions, 0 failed, $((version - 1)) reloads, 0 lost"
