#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench_metrics_reload.sh: /metrics latency while reloads of a 10,000-rule config run back to
# back (issue 12: the admin API reads the snapshot as an RCU reader, never behind the
# builders' lock). viaduct runs the config of bench_memory.sh (64 pools x 32 members, 10,000
# rules); a loop sends SIGHUP as soon as the previous reload is published, while curl fetches
# /metrics every 20 ms for SECS seconds. Prints p50, p99 and max of the fetch times, and the
# reloads done meanwhile.
#
# usage: bench/bench_metrics_reload.sh [BUILD] [SECS]   (default build-rel, 20)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-rel}
SECS=${2:-20}
T=$(mktemp -d /tmp/viaduct-bench-metrics.XXXXXX)
VD="" HUP=""
cleanup() {
	[[ -n $HUP ]] && kill "$HUP" 2>/dev/null
	[[ -n $VD ]] && kill "$VD" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

python3 "$ROOT/bench/gen_config.py" "$T/big.yaml" --workers 1 --port 25570 --admin 25571
"$BUILD/viaduct" -c "$T/big.yaml" >"$T/vd.log" 2>&1 &
VD=$!
deadline=$((SECONDS + 60))
until grep -q 'viaduct: ready' "$T/vd.log"; do
	((SECONDS < deadline)) || { echo "viaduct did not start" >&2; exit 1; }
	sleep 0.05
done
# reloads back to back: the next SIGHUP once the previous snapshot is published
(
	n=1
	while kill -0 "$VD" 2>/dev/null; do
		kill -HUP "$VD"
		n=$((n + 1))
		until grep -q "snapshot $n published" "$T/vd.log"; do
			kill -0 "$VD" 2>/dev/null || exit 0
			sleep 0.01
		done
	done
) &
HUP=$!
end=$((SECONDS + SECS))
while ((SECONDS < end)); do
	curl -s -o /dev/null -w '%{time_total}\n' http://127.0.0.1:25571/metrics
	sleep 0.02
done >"$T/times"
REQUESTS=$(wc -l <"$T/times")
reloads=$(grep -c 'snapshot .* published' "$T/vd.log" || true)
sort -n "$T/times" | awk -v n="$REQUESTS" -v r="$reloads" '
	{ t[NR] = $1 * 1000 }
	END { printf "bench_metrics_reload: %d /metrics fetches during %d reloads of 10,000 rules: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		n, r, t[int(n * 0.5)], t[int(n * 0.99)], t[n] }'
