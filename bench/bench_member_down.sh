#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench_member_down.sh: from members failing to the snapshot without them (issue 12). viaduct
# runs 64 pools x 32 TCP members (65,537-entry tables) with RULES routing rules and health
# probing (interval 1000 ms, down_after 2: TCP members are probed with a connect). The
# members are listening sockets of one Python process; it closes 1, then 16 members of one
# pool at once (connects refused). From viaduct's log: the time from the close to each
# member's "down", and for each publication the build time and the time until every worker
# was on it ("health: N member change(s) in snapshot S (built in B us, every worker on it
# within G us)"). Detection is the prober's (at most interval x down_after); what the snapshot
# split changed is B.
#
# usage: bench/bench_member_down.sh [BUILD] [RULES]   (default build-rel, 10000)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-rel}
RULES=${2:-10000}
T=$(mktemp -d /tmp/viaduct-bench-down.XXXXXX)
VD="" MB=""
cleanup() {
	[[ -n $VD ]] && kill "$VD" 2>/dev/null
	[[ -n $MB ]] && kill "$MB" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
BASE=30000
python3 "$ROOT/bench/gen_config.py" "$T/cfg.yaml" --workers 1 --port 25580 --rules "$RULES" \
	--tcp-members "$BASE" \
	--extra "health: {interval_ms: 1000, timeout_ms: 500, down_after: 2, up_after: 1}"
# the members: 2,048 listening sockets; SIGUSR1 closes the next batch (1, then 16 of pool 10)
cat >"$T/members.py" <<'PY'
import signal, socket, sys, time
base = int(sys.argv[1])
socks = {}
for i in range(64 * 32):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", base + i)); s.listen(4096); socks[i] = s
batches = [[10 * 32 + 0], [10 * 32 + m for m in range(1, 17)]]
def close_next(*_):
    b = batches.pop(0)
    for i in b:
        socks.pop(i).close()
    print(f"closed {len(b)} at {time.time():.6f}", flush=True)
signal.signal(signal.SIGUSR1, close_next)
print("ready", flush=True)
while True:
    time.sleep(1)
PY
python3 "$T/members.py" "$BASE" >"$T/members.log" 2>&1 &
MB=$!
until grep -q ready "$T/members.log"; do sleep 0.05; done
"$BUILD/viaduct" -c "$T/cfg.yaml" >"$T/vd.log" 2>&1 &
VD=$!
deadline=$((SECONDS + 120))
until grep -q 'viaduct: ready' "$T/vd.log"; do
	((SECONDS < deadline)) || { echo "viaduct did not start" >&2; exit 1; }
	sleep 0.1
done
sleep 3 # every member probed up at least once (the first probes spread over one interval)
for n in 1 16; do
	before=$(grep -c 'member pool10/.* down' "$T/vd.log" || true)
	kill -USR1 "$MB"
	deadline=$((SECONDS + 15))
	until (($(grep -c 'member pool10/.* down' "$T/vd.log" || true) >= before + n)); do
		((SECONDS < deadline)) || { echo "members not down in 15 s" >&2; exit 1; }
		sleep 0.05
	done
	sleep 0.2
done
python3 - "$T/members.log" "$T/vd.log" "$RULES" <<'PY'
import re, sys, datetime
closes = [float(l.split()[-1]) for l in open(sys.argv[1]) if l.startswith("closed")]
downs, pubs = [], []
for l in open(sys.argv[2]):
    m = re.match(r"(\S+)Z viaduct: warning: member pool10/\S+ down", l)
    if m:
        downs.append(datetime.datetime.fromisoformat(m.group(1)).replace(tzinfo=datetime.timezone.utc).timestamp())
    m = re.search(r"health: (\d+) member change\(s\) in snapshot \d+ \(built in (\d+) us, every worker on it within (\d+) us\)", l)
    if m:
        pubs.append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
single = downs[0] - closes[0]
group = [d - closes[1] for d in downs[1:17]]
print(f"bench_member_down ({sys.argv[3]} rules, 64 pools x 32 members, probes every 1000 ms, down_after 2):")
print(f"  1 member: down {single * 1000:.0f} ms after its close")
print(f"  16 members of one pool: all down {max(group) * 1000:.0f} ms after their close (first {min(group) * 1000:.0f} ms), in {len(pubs) - 1} publication(s)")
print("  publications (changes, build us, grace us): " + ", ".join(f"({c}, {b}, {g})" for c, b, g in pubs))
PY
