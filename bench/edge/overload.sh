#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# overload.sh: goodput past capacity, viaduct and Kamailio on the same harness. For each proxy:
# its capacity C (the highest offered rate of the new-dialog mix it carries at <= 0.1 % loss,
# found by a ramp and a bisection), then 1x, 2x and 3x C offered as a realistic mix: 80 % new
# dialogs and registrations (INVITE, REGISTER, OPTIONS, MESSAGE: one loadgen) and 20 % in-dialog
# requests (BYE with a To-tag: another loadgen). Goodput = final responses received per second
# of both; the in-dialog loss is the BYE run's. viaduct sheds new dialogs while behind
# (overload: shed: drop, its default); Kamailio (dispatcher, stateless, -x tlsf, children =
# cores given) has no such mode. The load generators' own ceiling (straight to the responder)
# is measured too: an offered rate above it is not what was asked.
#
# usage: bench/edge/overload.sh [--build DIR] [--out DIR] [--secs N] [--quick]
# Results: OUT/overload.md, OUT/overload.csv.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
TEST_NAME=overload
# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib.sh
source "$SRC/tests/integration/lib.sh"
# shellcheck source=../compare/proclib.sh
source "$SRC/bench/compare/proclib.sh"
# shellcheck source=benchlib.sh
source "$HERE/benchlib.sh"

BUILD=$SRC/build-rel OUT=$SRC/bench/edge/out SECS=5 QUICK_SECS=1 PROXIES="viaduct kamailio"
ARGS=("$@")
while (($#)); do
	bench_arg "$@"
	if ((BENCH_SHIFT == 0)); then
		[[ $1 == --proxies && $# -ge 2 ]] ||
			die "usage: $0 [--build DIR] [--out DIR] [--secs N] [--quick] [--proxies 'viaduct kamailio']"
		PROXIES=$2 BENCH_SHIFT=2
	fi
	shift "$BENCH_SHIFT"
done
bench_start $((SECS * 60 + 300)) "${ARGS[@]}"
NEW_MIX=invite=40,register=40,options=10,message=10
DLG_MIX=bye=100

pick_udp_port 127.0.0.1
VP=$PICKED_PORT
pick_udp_port 127.0.0.1
M1=$PICKED_PORT
pick_udp_port 127.0.0.1
M2=$PICKED_PORT
pool_start "$M1" "$M2"
cat >"$TMPDIR_E2E/viaduct.yaml" <<EOF
workers: 1
listeners: [{ address: 127.0.0.1, port: $VP }]
pool: { name: pcscf, members: [{ host: 127.0.0.1, port: $M1 }, { host: 127.0.0.1, port: $M2 }] }
EOF
printf '1 sip:127.0.0.1:%s\n1 sip:127.0.0.1:%s\n' "$M1" "$M2" >"$TMPDIR_E2E/dispatcher.list"

# new RATE [TARGET_PORT]: one run of the new-dialog mix; prints its summary line
new_run() {
	lg_run "$TMPDIR_E2E/new.out" --target "127.0.0.1:${2:-$VP}" --bind 127.0.0.2 --rate "$1" \
		--duration "$SECS" --mix $NEW_MIX --timeout-ms 1000 --sockets 4
	cat "$TMPDIR_E2E/new.out"
}

loss_ok() { awk -v l="$(kv "$1" loss_pct)" 'BEGIN { exit !(l != "" && l <= 0.1) }'; }

# capacity: doubling from 5,000/s until a step loses more than 0.1 %, then 4 bisection steps
capacity() {
	local lo=0 hi=0 r=5000 line mid
	while ((r <= 1280000)); do
		line=$(new_run $r "$@")
		log "ramp $r: $line"
		if loss_ok "$line"; then lo=$r; r=$((r * 2)); else hi=$r; break; fi
	done
	((hi)) || { echo "$lo"; return; }
	for _ in 1 2 3 4; do
		mid=$(((lo + hi) / 2))
		line=$(new_run $mid "$@")
		log "bisect $mid: $line"
		if loss_ok "$line"; then lo=$mid; else hi=$mid; fi
	done
	echo "$lo"
}

CSV=$OUT/overload.csv
echo "proxy,capacity,multiple,offered_new,offered_dialog,sent_new,recv_new,sent_dialog,recv_dialog,dialog_loss_pct,new_loss_pct,goodput,goodput_pct_of_capacity,dialog_p99_us,proxy_cpu_s" >"$CSV"
# the harness's own ceiling: both loadgens flat out straight to the responder
lg_run "$TMPDIR_E2E/ceil-new.out" --target "127.0.0.1:$M1" --bind 127.0.0.2 --rate 0 \
	--duration "$SECS" --mix $NEW_MIX --timeout-ms 1000
CEIL=$(kv "$(cat "$TMPDIR_E2E/ceil-new.out")" achieved_msgs_per_s)
log "harness ceiling (one loadgen straight to the responder): $CEIL/s"

for proxy in $PROXIES; do
	if [[ $proxy == kamailio ]]; then
		command -v kamailio >/dev/null || { log "no kamailio: skipped"; continue; }
		proxy_start kamailio "$VP" "$TMPDIR_E2E/dispatcher.list" 1
	else
		proxy_start viaduct "$TMPDIR_E2E/viaduct.yaml"
	fi
	C=$(capacity)
	log "$proxy capacity: $C/s"
	for m in 1 2 3; do
		new=$((C * m * 8 / 10)) dlg=$((C * m * 2 / 10))
		t0=$(cpu_ticks "${PROXY_PIDS[@]}")
		start_bg dialog taskset -c "$LOAD_CPUS" "$LOADGEN" --target "127.0.0.1:$VP" \
			--bind 127.0.0.3 --rate $dlg --duration "$SECS" --mix $DLG_MIX --timeout-ms 1000
		nline=$(new_run $new)
		wait_pid "${BG_PID[dialog]}" 60
		dline=$(cat "$TMPDIR_E2E/dialog.out")
		t1=$(cpu_ticks "${PROXY_PIDS[@]}")
		log "$proxy ${m}x: new: $nline"
		log "$proxy ${m}x: dialog: $dline"
		good=$(( ($(kv "$nline" received) + $(kv "$dline" received)) / SECS ))
		printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$proxy" "$C" "$m" "$new" "$dlg" \
			"$(kv "$nline" sent)" "$(kv "$nline" received)" "$(kv "$dline" sent)" \
			"$(kv "$dline" received)" "$(kv "$dline" loss_pct)" "$(kv "$nline" loss_pct)" \
			"$good" "$((C ? good * 100 / C : 0))" "$(kv "$dline" p99_us)" \
			"$(awk -v t=$((t1 - t0)) -v h="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / h }')" >>"$CSV"
	done
	proxy_stop
	[[ $proxy == viaduct ]] && { grep -E '^stats total' "$TMPDIR_E2E/viaduct.log" >"$OUT/overload-viaduct.stats" || true; }
done
python3 - "$CSV" "$CEIL" "$SECS" >"$OUT/overload.md" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
secs = float(sys.argv[3])
print("| proxy | capacity (new mix, <= 0.1 % loss) | offered (asked) | actually sent | goodput | of capacity | in-dialog lost | new lost |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    off = int(r["offered_new"]) + int(r["offered_dialog"])
    sent = (int(r["sent_new"]) + int(r["sent_dialog"])) / secs
    print("| %s | %s/s | %sx = %d/s | %.0f/s | %s/s | %s %% | %s %% | %s %% |" % (
        r["proxy"], r["capacity"], r["multiple"], off, sent, r["goodput"],
        r["goodput_pct_of_capacity"], r["dialog_loss_pct"], r["new_loss_pct"]))
print("\nOne loadgen straight to the responder: %s/s (the harness's ceiling). %s s per step; "
      "the proxy on one cpu, one worker (Kamailio: one UDP child); the harness on the other." % (sys.argv[2], sys.argv[3]))
PY
cat "$OUT/overload.md"
