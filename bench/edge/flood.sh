#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# flood.sh: flood isolation. One source floods viaduct flat out (loadgen --rate 0, the
# generator's maximum on its cpu) while another sends a paced 2,000 requests/s of the IMS mix;
# what the paced source loses, and its p99, against the same paced run without the flood.
# Twice: with viaduct's defaults (no per-source limit) and with the edge protection of
# rules/edge.yaml (its acl, rate_limit, replies and overload keys as shipped; the paced source a
# trusted peer in exempt:, as a peer SBC or an aggregation point would be). Needs python3-yaml. Results: OUT/flood.md and one line per run in OUT/flood.csv.
#
# usage: bench/edge/flood.sh [--build DIR] [--out DIR] [--secs N] [--quick]
#   --build DIR  release build (default SRC/build-rel; set up and built if needed)
#   --secs N     seconds per run (default 10; --quick: 2)
# Pinning: viaduct (1 worker) on PROXY_CPUS (default: the last cpu); both loadgens and the
# responder on LOAD_CPUS (default cpu 0), the flooder at nice 19 there (the cpu the others
# leave: its offered rate is printed beside every figure). Every process is stopped by PID; the script runs
# under timeout(1).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
TEST_NAME=flood
# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib.sh
source "$SRC/tests/integration/lib.sh"
# shellcheck source=../compare/proclib.sh
source "$SRC/bench/compare/proclib.sh"
# shellcheck source=benchlib.sh
source "$HERE/benchlib.sh"

BUILD=$SRC/build-rel OUT=$SRC/bench/edge/out SECS=10 QUICK_SECS=2 PACED=2000
ARGS=("$@")
while (($#)); do
	bench_arg "$@"
	((BENCH_SHIFT)) || die "usage: $0 [--build DIR] [--out DIR] [--secs N] [--quick]"
	shift "$BENCH_SHIFT"
done
bench_start $((SECS * 8 + 120)) "${ARGS[@]}"

pick_udp_port 127.0.0.1
VP=$PICKED_PORT
pick_udp_port 127.0.0.1
M1=$PICKED_PORT
pick_udp_port 127.0.0.1
M2=$PICKED_PORT
pool_start "$M1" "$M2"

config() { # config off|edge
	cat <<EOF
workers: 1
listeners: [{ address: 127.0.0.1, port: $VP }]
pool: { name: pcscf, members: [{ host: 127.0.0.1, port: $M1 }, { host: 127.0.0.1, port: $M2 }] }
EOF
	[[ $1 == edge ]] || return 0
	# rules/edge.yaml's protection keys as they are shipped (JSON is YAML), the paced source a
	# trusted peer in exempt:
	python3 - "$SRC/rules/edge.yaml" <<'PY'
import json, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["rate_limit"].setdefault("exempt", []).append("127.0.0.3/32")
for k in ("acl", "rate_limit", "replies", "overload"):
    print("%s: %s" % (k, json.dumps(d[k])))
PY
}

CSV=$OUT/flood.csv
echo "config,flood,paced_sent,paced_lost,paced_loss_pct,paced_p50_us,paced_p99_us,flood_offered,flood_sent,flood_received,proxy_cpu_s" >"$CSV"
for cfgname in off edge; do
	config "$cfgname" >"$TMPDIR_E2E/$cfgname.yaml"
	"$VIADUCT" --check-config "$TMPDIR_E2E/$cfgname.yaml" >/dev/null ||
		die "$cfgname config refused"
	for flood in no yes; do
		proxy_start viaduct "$TMPDIR_E2E/$cfgname.yaml"
		t0=$(cpu_ticks "$PROXY_PID")
		if [[ $flood == yes ]]; then
			# nice 19: it takes whatever cpu the paced generator and the responder leave,
			# so their latency is viaduct's, not the harness's
			start_bg flooder taskset -c "$LOAD_CPUS" nice -n 19 "$LOADGEN" --target "127.0.0.1:$VP" \
				--bind 127.0.0.2 --rate 0 --duration $((SECS + 1)) --sockets 2 \
				--timeout-ms 500
			sleep 0.5 # the flood first: the paced run starts into it
		fi
		lg_run "$TMPDIR_E2E/paced.out" --target "127.0.0.1:$VP" --bind 127.0.0.3 \
			--rate $PACED --duration "$SECS" --timeout-ms 2000
		fline=""
		if [[ $flood == yes ]]; then
			wait_pid "${BG_PID[flooder]}" 30
			fline=$(cat "$TMPDIR_E2E/flooder.out")
		fi
		t1=$(cpu_ticks "$PROXY_PID")
		proxy_stop
		p=$(cat "$TMPDIR_E2E/paced.out")
		log "$cfgname flood=$flood paced: $p"
		[[ -n $fline ]] && log "$cfgname flooder: $fline"
		printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$cfgname" "$flood" "$(kv "$p" sent)" \
			"$(kv "$p" lost)" "$(kv "$p" loss_pct)" "$(kv "$p" p50_us)" "$(kv "$p" p99_us)" \
			"$(kv "$fline" offered_rate)" "$(kv "$fline" sent)" "$(kv "$fline" received)" \
			"$(awk -v t=$((t1 - t0)) -v h="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / h }')" >>"$CSV"
		grep -E '^stats total' "$TMPDIR_E2E/viaduct.log" >"$OUT/flood-$cfgname-$flood.stats" || true
	done
done
python3 - "$CSV" "$SECS" "$PACED" >"$OUT/flood.md" <<'PY'
import csv, sys
rows = {(r["config"], r["flood"]): r for r in csv.DictReader(open(sys.argv[1]))}
print("| viaduct config | flood (offered, generator's max) | paced %s/s: lost | p50 us | p99 us | p99 flooded / alone |" % sys.argv[3])
print("|---|---|---|---|---|---|")
for c in ("off", "edge"):
    for f in ("no", "yes"):
        r = rows[(c, f)]
        ratio = float(r["paced_p99_us"]) / max(1.0, float(rows[(c, "no")]["paced_p99_us"]))
        flood = "%s/s" % r["flood_offered"] if f == "yes" else "none"
        print("| %s | %s | %s of %s (%s %%) | %s | %s | %s |" % (
            c, flood, r["paced_lost"], r["paced_sent"], r["paced_loss_pct"], r["paced_p50_us"],
            r["paced_p99_us"], "%.2fx" % ratio if f == "yes" else ""))
print("\n%s s per run; viaduct 1 worker pinned alone; both loadgens and the responder share the other cpu." % sys.argv[2])
PY
cat "$OUT/flood.md"
