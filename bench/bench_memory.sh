#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench/bench_memory.sh [BUILD_DIR] [POOLS] [MEMBERS] [RULES]: resident memory of viaduct
# with a large routing table: POOLS pools (default 64) x MEMBERS members (default 32), RULES
# rules (default 10000: number-prefix rules on the Request-URI, spread over the pools, and a
# default). Prints VmRSS once viaduct is ready, the same for a minimal config, and the build
# time of the snapshot (load + Maglev tables + hyperscan database) from a reload.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
POOLS=${2:-64}
MEMBERS=${3:-32}
RULES=${4:-10000}
T=$(mktemp -d /tmp/viaduct-bench-memory.XXXXXX)
VD=""
cleanup() { [[ -n $VD ]] && kill "$VD" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

python3 "$ROOT/bench/gen_config.py" "$T/big.yaml" --pools "$POOLS" --members "$MEMBERS" --rules "$RULES"
cat >"$T/small.yaml" <<YAML
workers: 2
listeners: [{address: 127.0.0.1, port: 25561}]
pool: {name: p, members: [{host: 127.0.0.1, port: 5070}]}
YAML

rss() { # CONFIG -> kB
	"$BUILD/viaduct" -c "$1" >"$T/vd.log" 2>&1 &
	VD=$!
	local deadline=$((SECONDS + 60))
	until grep -q 'viaduct: ready' "$T/vd.log"; do
		((SECONDS < deadline)) || { echo "bench_memory: viaduct did not start" >&2; exit 1; }
		kill -0 "$VD" 2>/dev/null || { cat "$T/vd.log" >&2; exit 1; }
		sleep 0.05
	done
	RSS_KB=$(awk '/^VmRSS/ {print $2}' "/proc/$VD/status")
}
rss "$T/small.yaml"
small=$RSS_KB
kill "$VD"; wait "$VD" || true; VD=""
rss "$T/big.yaml"
big=$RSS_KB
kill -HUP "$VD"
deadline=$((SECONDS + 60))
until grep -q 'snapshot 2 published' "$T/vd.log"; do ((SECONDS < deadline)) || exit 1; sleep 0.05; done
build_ms=$(sed -n 's/.*snapshot 2 published (built in \([0-9]*\) ms.*/\1/p' "$T/vd.log")
after=$(awk '/^VmRSS/ {print $2}' "/proc/$VD/status")
kill "$VD"; wait "$VD" || true; VD=""
echo "minimal config (1 pool, 1 member, no rules):   RSS $((small / 1024)) MiB"
echo "$POOLS pools x $MEMBERS members, $RULES rules:        RSS $((big / 1024)) MiB, after one reload $((after / 1024)) MiB"
echo "snapshot build (load, $POOLS Maglev tables of 65537, hyperscan database): $build_ms ms"
echo "bench=memory pools=$POOLS members=$MEMBERS rules=$RULES rss_kb=$big rss_small_kb=$small rss_after_reload_kb=$after build_ms=$build_ms"
