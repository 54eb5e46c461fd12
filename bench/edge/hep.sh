#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# hep.sh: what HEP v3 capture costs the forwarding path. viaduct (1 worker, pinned to
# PROXY_CPUS) between loadgen and bench's responder (both on LOAD_CPUS), in four modes:
#   off      no hep: section
#   on       hep: to a collector socket on loopback that never reads: every copy is sent
#            (sendmmsg succeeds) and dropped by the receiving kernel, so viaduct pays the
#            whole sender's cost without a collector competing for the CPUs
#   sampled  the same at sample: 10
#   absent   hep: to a port nothing listens on: every batch's send meets ECONNREFUSED
# For each mode: (1) a fixed offered rate (RATE requests/s, default 20,000) for SECS seconds:
# viaduct's CPU time (utime + stime) per request + response, loss, p99; (2) the capacity: the
# highest rate of a doubling ramp and 4 bisection steps at <= 0.1 % loss. Copies sent and
# dropped come from viaduct's own counters (stats lines at exit). The harness's ceiling
# (loadgen straight to the responder) is measured first: a rate above it is not what was asked.
#
# usage: bench/edge/hep.sh [--build DIR] [--out DIR] [--secs N] [--rate N] [--quick]
# Results: OUT/hep.md, OUT/hep.csv.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
TEST_NAME=hep-bench
# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib.sh
source "$SRC/tests/integration/lib.sh"
# shellcheck source=../compare/proclib.sh
source "$SRC/bench/compare/proclib.sh"
# shellcheck source=benchlib.sh
source "$HERE/benchlib.sh"

BUILD=$SRC/build-rel OUT=$SRC/bench/edge/out SECS=5 QUICK_SECS=1 RATE=20000
ARGS=("$@")
while (($#)); do
	bench_arg "$@"
	if ((BENCH_SHIFT == 0)); then
		[[ $1 == --rate && $# -ge 2 ]] ||
			die "usage: $0 [--build DIR] [--out DIR] [--secs N] [--rate N] [--quick]"
		RATE=$2 BENCH_SHIFT=2
	fi
	shift "$BENCH_SHIFT"
done
bench_start $((SECS * 120 + 300)) "${ARGS[@]}"
HZ=$(getconf CLK_TCK)

pick_udp_port 127.0.0.1
VP=$PICKED_PORT
pick_udp_port 127.0.0.1
M1=$PICKED_PORT
pick_udp_port 127.0.0.1
SINK=$PICKED_PORT
pick_udp_port 127.0.0.1
NOBODY=$PICKED_PORT
pool_start "$M1"
# the collector that never reads: a bound socket, held open by a sleeping python
start_bg sink python3 -c "import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', int(sys.argv[1])))
print('listening', flush=True)
time.sleep(3600)" "$SINK"
wait_for_udp_port 127.0.0.1 "$SINK" 10 "${BG_PID[sink]}" || die "no sink"

config() { # config MODE: viaduct.yaml for the mode
	{
		printf 'workers: 1\nlisteners: [{ address: 127.0.0.1, port: %s }]\n' "$VP"
		printf 'pool: { name: pcscf, members: [{ host: 127.0.0.1, port: %s }] }\n' "$M1"
		printf 'overload: { shed: off }\n' # capacity is about forwarding, not shedding
		case $1 in
		on) printf 'hep: { address: 127.0.0.1, port: %s, id: 1 }\n' "$SINK" ;;
		sampled) printf 'hep: { address: 127.0.0.1, port: %s, id: 1, sample: 10 }\n' "$SINK" ;;
		absent) printf 'hep: { address: 127.0.0.1, port: %s, id: 1 }\n' "$NOBODY" ;;
		esac
	} >"$TMPDIR_E2E/viaduct.yaml"
}

run() { # run RATE [PORT]: one loadgen run of INVITE-only requests; prints its summary line
	lg_run "$TMPDIR_E2E/run.out" --target "127.0.0.1:${2:-$VP}" --bind 127.0.0.2 --rate "$1" \
		--duration "$SECS" --timeout-ms 1000 --sockets 4
	cat "$TMPDIR_E2E/run.out"
}
loss_ok() { awk -v l="$(kv "$1" loss_pct)" 'BEGIN { exit !(l != "" && l <= 0.1) }'; }
capacity() { # doubling from 10,000/s until a step loses more than 0.1 %, then 4 bisections
	local lo=0 hi=0 r=10000 line mid
	while ((r <= 1280000)); do
		line=$(run $r)
		log "ramp $r: $line"
		if loss_ok "$line"; then lo=$r; r=$((r * 2)); else hi=$r; break; fi
	done
	((hi)) || { echo "$lo"; return; }
	for _ in 1 2 3 4; do
		mid=$(((lo + hi) / 2))
		line=$(run $mid)
		log "bisect $mid: $line"
		if loss_ok "$line"; then lo=$mid; else hi=$mid; fi
	done
	echo "$lo"
}

CEIL=$(kv "$(run 0 "$M1")" achieved_msgs_per_s)
log "harness ceiling (loadgen straight to the responder): $CEIL requests/s"
CSV=$OUT/hep.csv
echo "mode,rate,sent,received,loss_pct,p99_us,cpu_us_per_request,capacity,hep_sent,hep_dropped" >"$CSV"
for mode in off on sampled absent; do
	config $mode
	: >"$TMPDIR_E2E/viaduct.log"
	proxy_start viaduct "$TMPDIR_E2E/viaduct.yaml"
	t0=$(cpu_ticks "${PROXY_PIDS[@]}")
	line=$(run "$RATE")
	t1=$(cpu_ticks "${PROXY_PIDS[@]}")
	log "$mode at $RATE/s: $line"
	C=$(capacity)
	log "$mode capacity: $C/s"
	proxy_stop
	stats=$(grep -E '^stats total' "$TMPDIR_E2E/viaduct.log" | tail -n 1)
	dropped=$(tr ' ' '\n' <<<"$stats" | awk -F= '$1 ~ /^hep_dropped/ { s += $2 } END { print s + 0 }')
	printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' $mode "$RATE" "$(kv "$line" sent)" \
		"$(kv "$line" received)" "$(kv "$line" loss_pct)" "$(kv "$line" p99_us)" \
		"$(awk -v t=$((t1 - t0)) -v h="$HZ" -v n="$(kv "$line" received)" \
			'BEGIN { printf "%.2f", n ? t / h * 1e6 / n : 0 }')" \
		"$C" "$(field hep_sent "$stats")" "$dropped" >>"$CSV"
done
python3 - "$CSV" "$CEIL" "$SECS" >"$OUT/hep.md" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("harness ceiling (loadgen straight to the responder): %s requests/s; %s s per run" % (sys.argv[2], sys.argv[3]))
print()
print("| mode | CPU us per request + response at %s/s | loss | p99 us | capacity (<= 0.1 %% loss) | copies sent | copies dropped (by viaduct) |" % rows[0]["rate"])
print("|---|---|---|---|---|---|---|")
for r in rows:
    print("| %s | %s | %s %% | %s | %s/s | %s | %s |" % (r["mode"], r["cpu_us_per_request"], r["loss_pct"],
          r["p99_us"], r["capacity"], r["hep_sent"], r["hep_dropped"]))
PY
cat "$OUT/hep.md"
