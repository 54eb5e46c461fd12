#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/bench_reload.sh [BUILD_DIR] [RELOADS] [RATE]: reload latency under load.
#
# viaduct (2 workers) forwards loadgen traffic (RATE msgs/s, default 20000) to the responder
# pool while the config is rewritten RELOADS times (default 200). For each reload viaduct
# logs the build time and the grace period: from the pointer swap until no worker can use the
# old snapshot, i.e. the bound on "every worker is on the new snapshot". Prints the medians,
# p99 and max, and one machine-readable line. Loopback only; every process stopped by PID.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
RELOADS=${2:-200}
RATE=${3:-20000}
VIADUCT=$BUILD/viaduct
LOADGEN=$BUILD/bench/loadgen/loadgen
RESPONDER=$BUILD/bench/loadgen/responder
for b in "$VIADUCT" "$LOADGEN" "$RESPONDER"; do
	[[ -x $b ]] || { echo "bench_reload: $b is not built (ninja -C $BUILD)" >&2; exit 2; }
done
T=$(mktemp -d /tmp/viaduct-bench-reload.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
wait_for() { # FILE REGEX SECONDS
	local deadline=$((SECONDS + $3))
	until grep -Eq "$2" "$1" 2>/dev/null; do
		((SECONDS < deadline)) || { echo "bench_reload: timed out waiting for $2" >&2; exit 1; }
		sleep 0.02
	done
}

A=127.0.0.1 PROXY=25460 P1=25470 P2=25480
"$RESPONDER" --listen $A --ports $P1,$P2 >"$T/responder.log" 2>&1 &
PIDS+=($!)
wait_for "$T/responder.log" 'responder: ready' 10
write() { # N: alternate the weights so every reload builds new Maglev tables
	cat >"$T/cfg.tmp" <<YAML
workers: 2
listeners: [{address: $A, port: $PROXY}]
pool: {name: p, members: [{host: $A, port: $P1, weight: $((1 + $1 % 3))}, {host: $A, port: $P2}]}
YAML
	mv "$T/cfg.tmp" "$T/cfg.yaml"
}
write 0
"$VIADUCT" -c "$T/cfg.yaml" >"$T/viaduct.log" 2>&1 &
VD=$!
PIDS+=($VD)
wait_for "$T/viaduct.log" 'viaduct: ready' 10
"$LOADGEN" --target "$A:$PROXY" --rate "$RATE" --duration 600 --count $((RATE * 600)) \
	>"$T/loadgen.log" 2>&1 &
LG=$!
PIDS+=($LG)
for ((n = 1; n <= RELOADS; n++)); do
	write "$n"
	wait_for "$T/viaduct.log" "snapshot $((n + 1)) published" 10
done
kill -INT "$LG" 2>/dev/null || true
wait "$LG" 2>/dev/null || true
kill "$VD"
wait "$VD" || true

python3 - "$T/viaduct.log" "$RELOADS" "$RATE" <<'PY'
import re, statistics, sys
log, n, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
grace, build = [], []
for line in open(log):
    m = re.search(r'built in (\d+) ms, every worker on it within (\d+) us', line)
    if m:
        build.append(int(m.group(1))); grace.append(int(m.group(2)))
assert len(grace) == n, (len(grace), n)
def p(xs, q): return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]
g, b = grace, build
print(f"reloads under {rate} msgs/s: {n}")
print(f"grace period (all workers on the new snapshot): median {statistics.median(g):.0f} us, "
      f"p99 {p(g, .99)} us, max {max(g)} us")
print(f"build (load + validate + compile):             median {statistics.median(b):.0f} ms, "
      f"p99 {p(b, .99)} ms, max {max(b)} ms")
print(f"bench=reload reloads={n} rate={rate} grace_median_us={statistics.median(g):.0f} "
      f"grace_p99_us={p(g, .99)} grace_max_us={max(g)} build_median_ms={statistics.median(b):.0f}")
PY
grep '^stats total' "$T/viaduct.log" | tail -1
