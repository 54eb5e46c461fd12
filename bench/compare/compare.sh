#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# compare.sh: side-by-side benchmark of viaduct and Kamailio (Debian's 5.6, stateless, see
# kamailio.cfg) as UDP SIP load balancers in front of the same pool. The one command for the
# comparison; its numbers go to bench/compare/out/ (summary.md, results.csv, PNG plots).
#
# usage: bench/compare/compare.sh [--quick] [--build DIR] [--out DIR]
#   --quick      1 repetition, 2 ramp steps of 1 s, one sipp rate: a smoke run (< 60 s) that
#                checks both proxies carry traffic with (near) zero loss and that every output
#                is produced. It asserts no speed. Default output: BUILD/bench/compare/out-quick.
#   --build DIR  meson build directory (default SRC/build-rel). Set up with --buildtype=release
#                if it does not exist; ninja builds viaduct, loadgen and responder in it.
#   --out DIR    output directory (default SRC/bench/compare/out, or the quick one above).
# environment:
#   PROXY_CPUS   cpus of the proxy under test (default: the upper half, "1" on 2 cores)
#   LOAD_CPUS    cpus of loadgen, responder and sipp (default: the lower half, "0" on 2 cores)
#   REPS (3), STEP_SECS (3), RAMP ("5000 10000 20000 40000 80000 160000 0"; 0 = flat out),
#   REFINE (3: bisection steps after the ramp),
#   WORKERS (default: the number of PROXY_CPUS: viaduct workers and Kamailio UDP children =
#   cores given, as Kamailio's tuning guides say), KAMAILIO_MEM (tlsf: Kamailio's -x memory
#   manager; its default qm roughly halves its throughput here), SIPP_RATES ("1000 2000 3000 4000 5000 6000 8000"),
#   LOADGEN, RESPONDER (default: the ones in the build directory), VIADUCT_REV (what the summary
#   calls the viaduct source; default: git describe of the source tree).
# exit: 0 done (and, with --quick, every check passed), 1 a check or a step failed, 2 usage,
#       77 (--quick only) kamailio, sipp, gnuplot or python3 is not installed: skipped.
#
# What one full run does:
#   1. Build if needed; record the machine and tool versions.
#   2. Start the pool: one responder process answering 200 on two UDP ports (LOAD_CPUS).
#   3. Direct baseline: the ramp from loadgen straight to one responder port: the ceiling of the
#      load harness itself on LOAD_CPUS (with a proxy in the path the harness's cost per request
#      is higher: every datagram then arrives from another cpu; summary.md shows its CPU).
#   4. REPS times, A B order (viaduct, kamailio, viaduct, kamailio, ...): start the proxy on
#      PROXY_CPUS with WORKERS workers, warm up, run the ramp (each step bounded by --count and
#      --duration, and by timeout(1)), REFINE bisection steps between the highest offered rate
#      carried at <= 0.1% loss and the next, then two more steps at 50% and 90% of the highest
#      rate this run carried at <= 0.1% loss (the latency points). Around every step the proxy's
#      CPU time (utime+stime of the process, or of all of Kamailio's processes) is sampled from
#      /proc, and its memory (VmRSS and Pss, summed over processes) after it. Stop it by PID
#      (SIGTERM) and keep its exit line (viaduct: "stats total ... drops=").
#   5. sipp calls-per-second ceiling: sipp -sn uac at increasing -r (no retransmissions, so one
#      lost message fails a call) through each proxy to two sipp UAS, and direct; the ceiling is
#      the highest rate with 0 failed calls that sipp actually achieved (>= 95% of the target);
#      a failing rate is tried twice. Out-of-order responses are counted, not fatal (see below).
#   6. summarize.py: medians over the repetitions -> summary.md, plots with gnuplot.
#
# Pinning: the proxy under test gets PROXY_CPUS to itself; loadgen, the responder and sipp share
# LOAD_CPUS (on 2 cores: one core each). viaduct pins worker i to cpu i at start, whatever its
# affinity mask; the script re-pins all of its threads to PROXY_CPUS once it runs (taskset -a
# -p) and checks the affinity of every thread/process of both proxies before measuring, so both
# get exactly the same cpus. Other jobs on the machine are not pinned away: summary.md reports
# the CPU they took during the steps.
#
# Every process started here is stopped by PID (TERM, then KILL after a bounded wait), also on
# any error or interrupt; the whole script runs under timeout(1).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
TEST_NAME=compare
# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib.sh
source "$SRC/tests/integration/lib.sh"
# shellcheck source=proclib.sh
source "$HERE/proclib.sh"

usage() {
	echo "usage: $0 [--quick] [--build DIR] [--out DIR]" >&2
	exit 2
}

QUICK=0
BUILD=""
OUT=""
ARGS=("$@")
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--build) (($# >= 2)) || usage; BUILD=$2; shift ;;
	--out) (($# >= 2)) || usage; OUT=$2; shift ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
	shift
done
# Whole-run bounds: the full comparison is meant to take < 10 min, the quick one < 60 s.
if ((QUICK)); then run_bounded 240 "${ARGS[@]}"; else run_bounded 1200 "${ARGS[@]}"; fi

[[ -n $BUILD ]] || BUILD=$SRC/build-rel
BUILD=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)
bench_out compare
rm -f "$OUT"/results.csv "$OUT"/sipp.csv "$OUT"/summary.md "$OUT"/*.png "$OUT"/*.dat \
	"$OUT"/machine.txt "$OUT"/commands.txt "$OUT"/proxies.txt

# ---- parameters --------------------------------------------------------------------------------
NCPU=$(nproc)
if ((NCPU >= 2)); then
	half=$((NCPU / 2))
	if ((half == 1)); then
		: "${LOAD_CPUS:=0}"
		: "${PROXY_CPUS:=1}"
	else
		: "${LOAD_CPUS:=0-$((half - 1))}"
		: "${PROXY_CPUS:=$half-$((NCPU - 1))}"
	fi
else
	: "${LOAD_CPUS:=0}"
	: "${PROXY_CPUS:=0}"
fi
# cpus in a taskset list such as "1", "2-3" or "0,2-3"
count_cpus() {
	local n=0 part
	for part in ${1//,/ }; do
		if [[ $part == *-* ]]; then n=$((n + ${part#*-} - ${part%-*} + 1)); else n=$((n + 1)); fi
	done
	echo "$n"
}
WORKERS=${WORKERS:-$(count_cpus "$PROXY_CPUS")}
KAMAILIO_MEM=${KAMAILIO_MEM:-tlsf}
if ((QUICK)); then
	REPS=${REPS:-1}
	REFINE=${REFINE:-0}
	STEP_SECS=${STEP_SECS:-1}
	RAMP=${RAMP:-"2000 5000"}
	SIPP_RATES=${SIPP_RATES:-"200"}
	SIPP_SECS=2
else
	REPS=${REPS:-3}
	REFINE=${REFINE:-3}
	STEP_SECS=${STEP_SECS:-3}
	RAMP=${RAMP:-"5000 10000 20000 40000 80000 160000 0"}
	SIPP_RATES=${SIPP_RATES:-"1000 2000 3000 4000 5000 6000 8000"}
	SIPP_SECS=3
fi
# Flat-out steps are still bounded by count: this many messages per second of step at most.
FLAT_OUT_CAP=2000000
LOADGEN_TIMEOUT_MS=1000
# shellcheck disable=SC2054 # the commas are in the --mix value
LOADGEN_OPTS=(--mix invite=30,register=30,bye=20,options=10,message=10 --batch 32 --sockets 4)
CLK_TCK=$(getconf CLK_TCK)
ADDR=127.0.0.1

# ---- helpers -----------------------------------------------------------------------------------
# cmd_log TEXT: the exact commands go to commands.txt (summary.md quotes them).
cmd_log() { printf '%s\n' "$*" >>"$OUT/commands.txt"; }

# spawn NAME CMD...: start CMD in the background (stdin /dev/null, stdout+stderr to
# LOGS/NAME.log), PID in SPAWNED and registered for the cleanup trap.
spawn() {
	local name=$1
	shift
	"$@" </dev/null >"$LOGS/$name.log" 2>&1 &
	SPAWNED=$!
	BG_PIDS+=("$SPAWNED")
	cmd_log "$*"
	log "started $name (pid $SPAWNED)"
}

# mem_kb PID...: "RSS PSS" in kB, each summed over the processes. Summed RSS counts Kamailio's
# shared memory once per process; Pss splits it between them (the honest total).
mem_kb() {
	local pid rss=0 pss=0 v
	for pid in "$@"; do
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && rss=$((rss + ${v:-0}))
		v=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null) && pss=$((pss + ${v:-0}))
	done
	echo "$rss $pss"
}

# check_affinity PID...: every thread of every process may only run on PROXY_CPUS (compared in
# the kernel's own notation, as a process started under taskset -c PROXY_CPUS sees it).
check_affinity() {
	local want pid t got
	# shellcheck disable=SC2016
	want=$(taskset -c "$PROXY_CPUS" awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status)
	for pid in "$@"; do
		for t in /proc/"$pid"/task/*; do
			got=$(awk '/^Cpus_allowed_list:/ {print $2}' "$t/status" 2>/dev/null) || continue
			[[ -z $got || $got == "$want" ]] ||
				die "pid $pid thread ${t##*/} may run on cpus $got, not $want"
		done
	done
}

# udp_drops: "PROXY POOL ALL": datagrams dropped for a full receive buffer, on the proxy's
# sockets and on the pool's (per socket, /proc/net/udp), and machine-wide (RcvbufErrors, which
# includes loadgen's sockets and anything else running on the machine).
udp_drops() {
	local pp p1 p2
	pp=$(printf '%04X' "$PROXY_PORT")
	p1=$(printf '%04X' "$POOL1")
	p2=$(printf '%04X' "$POOL2")
	awk -v pp="$pp" -v p1="$p1" -v p2="$p2" '
		FILENAME ~ /udp$/ && FNR > 1 {
			split($2, a, ":")
			if (a[2] == pp) px += $NF; else if (a[2] == p1 || a[2] == p2) pool += $NF
		}
		FILENAME ~ /snmp$/ && $1 == "Udp:" {
			if ($2 !~ /^[0-9]/) { for (i = 2; i <= NF; i++) col[$i] = i }
			else all = $(col["RcvbufErrors"])
		}
		END { printf "%d %d %d\n", px, pool, all }' /proc/net/udp /proc/net/snmp
}

# cpu_busy: "BUSY STEAL" jiffies of the whole machine (all cpus) from /proc/stat.
cpu_busy() {
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, $9; exit }' /proc/stat
}

# kv LINE KEY: the value of KEY=VALUE in a summary line.
kv() { sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p" <<<" $1"; }

# ---- 1. build, machine -------------------------------------------------------------------------
if [[ ! -f $BUILD/build.ninja ]]; then
	log "setting up $BUILD (release)"
	meson setup "$BUILD" "$SRC" --buildtype=release >"$LOGS/meson-setup.log" 2>&1 ||
		{ tail_log meson "$LOGS/meson-setup.log"; die "meson setup failed"; }
fi
buildtype=$(sed -n 's/.*"buildtype", *"value": *"\([a-z]*\)".*/\1/p' \
	"$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null | head -1)
[[ $buildtype == release ]] || log "WARNING: $BUILD is buildtype '${buildtype:-?}', not release"
VIADUCT=$BUILD/viaduct
LOADGEN=${LOADGEN:-$BUILD/bench/loadgen/loadgen}
RESPONDER=${RESPONDER:-$BUILD/bench/loadgen/responder}
targets=(viaduct)
[[ $LOADGEN == "$BUILD"/* && -f $SRC/bench/loadgen/meson.build ]] &&
	targets+=(bench/loadgen/loadgen bench/loadgen/responder)
ninja -C "$BUILD" "${targets[@]}" >"$LOGS/ninja.log" 2>&1 ||
	{ tail_log ninja "$LOGS/ninja.log"; die "ninja failed"; }
for b in "$VIADUCT" "$LOADGEN" "$RESPONDER"; do
	[[ -x $b ]] || die "$b missing (bench/loadgen not built?)"
done
# A missing tool is an error for a measurement, a skip (77, meson's convention) for the smoke test.
need() {
	command -v "$1" >/dev/null && return 0
	((QUICK)) && { log "SKIP: $1 not installed (scripts/install-deps.sh)"; exit 77; }
	die "$1 not installed (scripts/install-deps.sh)"
}
PATH=$PATH:/usr/sbin
for tool in kamailio sipp gnuplot python3 taskset ss; do need "$tool"; done
KAMAILIO=$(command -v kamailio)

make_tmpdir
install_cleanup_trap
on_exit_hook() {
	(($1 == 0)) && return 0
	local f
	for f in "$LOGS"/*.log; do tail_log "${f##*/}" "$f" 15 2000; done
}
T_START=$SECONDS

{
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
	echo "cpus=$NCPU"
	echo "hypervisor=$(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -1)"
	echo "kernel=$(uname -sr)"
	echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "kamailio=$("$KAMAILIO" -v 2>&1 | sed -n 's/^version: *//p' | head -1)"
	echo "sipp=$(sipp -v 2>&1 | sed -n 's/^ *SIPp *//p' | head -1)"
	echo "gcc=$(gcc --version | head -1)"
	rev=${VIADUCT_REV:-$(git -C "$SRC" describe --always --dirty 2>/dev/null || echo "?")}
	echo "viaduct=$("$VIADUCT" --version 2>&1 | head -1 || true) ($rev, buildtype ${buildtype:-?})"
	echo "rmem_max=$(cat /proc/sys/net/core/rmem_max) wmem_max=$(cat /proc/sys/net/core/wmem_max)"
	echo "proxy_cpus=$PROXY_CPUS"
	echo "load_cpus=$LOAD_CPUS"
	echo "workers=$WORKERS"
	echo "kamailio_mem=$KAMAILIO_MEM"
	echo "reps=$REPS"
	echo "step_secs=$STEP_SECS"
	echo "ramp=$RAMP"
	echo "quick=$QUICK"
	echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
	b0=$(cpu_busy)
	sleep 2
	b1=$(cpu_busy)
	echo "busy_before=$(awk -v a="${b0% *}" -v b="${b1% *}" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz / 2 }')"
} >"$OUT/machine.txt"

# ---- 2. ports and the pool ---------------------------------------------------------------------
pick_udp_port "$ADDR"; POOL1=$PICKED_PORT
pick_udp_port "$ADDR"; POOL2=$PICKED_PORT
pick_udp_port "$ADDR"; PROXY_PORT=$PICKED_PORT
pick_udp_port "$ADDR"; SIPP_UAS1=$PICKED_PORT
pick_udp_port "$ADDR"; SIPP_UAS2=$PICKED_PORT
pick_udp_port "$ADDR"; SIPP_UAC=$PICKED_PORT

spawn responder taskset -c "$LOAD_CPUS" "$RESPONDER" --listen "$ADDR" --ports "$POOL1,$POOL2" --batch 32
RESPONDER_PID=$SPAWNED
wait_for_log "$LOGS/responder.log" 'responder: ready' 10 "$RESPONDER_PID" || die "responder did not start"

# Proxy configs, one per pool: the responder pool (loadgen) and the sipp UAS pool (sipp CPS).
# Both proxies read the very same Kamailio-format dispatcher list (viaduct's dispatcher_list).
write_configs() {
	local tag=$1 p1=$2 p2=$3 list=$TMPDIR_E2E/dispatcher-$1.list
	printf '1 sip:%s:%s\n1 sip:%s:%s\n' "$ADDR" "$p1" "$ADDR" "$p2" >"$list"
	cat >"$TMPDIR_E2E/viaduct-$tag.yaml" <<-EOF
		# generated by bench/compare/compare.sh
		# capacity and latency as Kamailio is measured: no shedding past capacity
		# (bench/edge/overload.sh compares that)
		overload: { shed: off }
		workers: $WORKERS
		batch: 32
		listeners:
		  - address: $ADDR
		    port: $PROXY_PORT
		pool:
		  name: pool
		  hash: call-id                # like ds_select_dst(1, "0")
		  dispatcher_list: $list
		  setid: 1
	EOF
	"$VIADUCT" --check-config "$TMPDIR_E2E/viaduct-$tag.yaml" >/dev/null ||
		die "generated viaduct config rejected"
	cp "$TMPDIR_E2E/viaduct-$tag.yaml" "$list" "$LOGS/"
}
write_configs pool "$POOL1" "$POOL2"
write_configs sipp "$SIPP_UAS1" "$SIPP_UAS2"

# start_proxy NAME TAG RUNLABEL: start NAME (viaduct|kamailio) on PROXY_CPUS with the TAG pool;
# sets PROXY_PID and PROXY_PIDS (all its processes), checks the affinity of all of them.
start_proxy() {
	local name=$1 tag=$2 label=$3 kdir
	case $name in
	viaduct)
		spawn "$label" taskset -c "$PROXY_CPUS" "$VIADUCT" -c "$TMPDIR_E2E/viaduct-$tag.yaml"
		PROXY_PID=$SPAWNED
		wait_for_log "$LOGS/$label.log" 'viaduct: ready' 10 "$PROXY_PID" || die "viaduct did not start"
		;;
	kamailio)
		kdir=$TMPDIR_E2E/kamailio-$label
		mkdir -p "$kdir"
		spawn "$label" taskset -c "$PROXY_CPUS" "$KAMAILIO" -x "$KAMAILIO_MEM" -DD -E -f "$HERE/kamailio.cfg" \
			-l "udp:$ADDR:$PROXY_PORT" -n "$WORKERS" -A "DS_LIST=\"$TMPDIR_E2E/dispatcher-$tag.list\"" \
			-w "$kdir" -Y "$kdir" -P "$kdir/kamailio.pid"
		PROXY_PID=$SPAWNED
		;;
	esac
	wait_for_udp_port "$ADDR" "$PROXY_PORT" 10 "$PROXY_PID" || die "$name did not bind $PROXY_PORT"
	if [[ $name == kamailio ]]; then
		# Ready once the pid file is written and the receivers are forked (-n of them plus
		# the main process and its timers; bounded poll).
		local deadline=$((SECONDS + 10))
		until [[ -s $TMPDIR_E2E/kamailio-$label/kamailio.pid ]] && (($(wc -w <<<"$(proc_tree "$PROXY_PID")") >= WORKERS + 2)); do
			((SECONDS < deadline)) || die "kamailio did not fork its workers"
			is_running "$PROXY_PID" || die "kamailio exited"
			sleep 0.05
		done
	fi
}

# settle_proxy: after the warm-up, pin every thread (viaduct pins its workers itself at start)
# and check; record the process list.
settle_proxy() {
	local pid
	# shellcheck disable=SC2207
	PROXY_PIDS=($(proc_tree "$PROXY_PID"))
	for pid in "${PROXY_PIDS[@]}"; do
		taskset -a -p -c "$PROXY_CPUS" "$pid" >/dev/null
	done
	check_affinity "${PROXY_PIDS[@]}"
}

# stop_proxy NAME LABEL: SIGTERM by PID, bounded; viaduct must exit 0; Kamailio's children must
# be gone too.
stop_proxy() {
	local name=$1 label=$2 pid rc
	stop_pid "$PROXY_PID" TERM 10 || die "$name ($label) needed SIGKILL"
	rc=$WAIT_RC
	((rc == 0)) || die "$name ($label) exited $rc"
	# Kamailio's main process stops its children; they are not ours to wait for, so poll.
	for pid in "${PROXY_PIDS[@]}"; do
		[[ $pid == "$PROXY_PID" ]] && continue
		local deadline=$((SECONDS + 5))
		while is_running "$pid"; do
			((SECONDS < deadline)) || { kill -KILL "$pid" 2>/dev/null; die "kamailio child $pid survived"; }
			sleep 0.05
		done
	done
	if [[ $name == viaduct ]]; then
		local st
		st=$(grep -E '^stats (total|control) ' "$LOGS/$label.log" | tr '\n' ' ' || true)
		printf '%s %s %s\n' "$label" "$name" "${st:-no stats line}" >>"$OUT/proxies.txt"
	else
		printf '%s %s exit=%s errors=%s\n' "$label" "$name" "$rc" \
			"$(grep -c -E 'ERROR|CRITICAL' "$LOGS/$label.log" || true)" >>"$OUT/proxies.txt"
	fi
}

# ---- loadgen steps -----------------------------------------------------------------------------
CSV=$OUT/results.csv
echo "rep,proxy,phase,offered_rate,duration_s,sent,received,lost,late,loss_pct,achieved_msgs_per_s,p50_us,p99_us,p999_us,max_us,proxy_cpu_s,proxy_cpu_cores,proxy_cpu_us_per_req,proxy_rss_kb,proxy_pss_kb,proxy_procs,responder_cpu_s,loadgen_cpu_s,machine_busy_cores,machine_steal_cores,other_cores,rcvbuf_drops_proxy,rcvbuf_drops_pool,rcvbuf_drops_all" >"$CSV"

# step REP PROXY PHASE TARGET RATE: one bounded loadgen run (RATE 0 = flat out) with the proxy's
# CPU and memory around it; one CSV row; sets STEP_ACHIEVED and STEP_LOSS. Also recorded, to see
# interference and where datagrams were lost: the CPU of the responder and of loadgen, the busy
# and stolen CPU of the whole machine (other_cores = what neither the proxy nor the harness
# used: other jobs, kernel threads), and receive-buffer drops per place.
step() {
	local rep=$1 proxy=$2 phase=$3 target=$4 rate=$5 count line t0 t1 r0 r1 m0 m1 d0 d1 mem
	local lgtime=$TMPDIR_E2E/loadgen.time
	# loadgen: --rate 0 is flat out (no --rate would mean its default, 1000/s)
	if ((rate > 0)); then
		count=$((rate * STEP_SECS))
	else
		count=$((FLAT_OUT_CAP * STEP_SECS))
	fi
	local cmd=(taskset -c "$LOAD_CPUS" "$LOADGEN" --target "$target" --bind "$ADDR" --rate "$rate"
		--count "$count" --duration "$STEP_SECS" --timeout-ms "$LOADGEN_TIMEOUT_MS" "${LOADGEN_OPTS[@]}")
	[[ $phase == ramp && $rep == 1 ]] && cmd_log "${cmd[*]}"
	local timed=()
	[[ -x /usr/bin/time ]] && timed=(/usr/bin/time -o "$lgtime" -f '%U %S')
	rm -f "$lgtime"
	local w0 w1
	w0=$(date +%s.%N)
	d0=$(udp_drops)
	m0=$(cpu_busy)
	r0=$(cpu_ticks "$RESPONDER_PID")
	t0=$(cpu_ticks "${PROXY_PIDS[@]}")
	line=$(timeout -k 2 $((STEP_SECS + 15)) "${timed[@]}" "${cmd[@]}" 2>>"$LOGS/loadgen.err" |
		grep -m1 '^loadgen ') || die "loadgen failed ($proxy $phase rate=$rate), see $LOGS/loadgen.err"
	t1=$(cpu_ticks "${PROXY_PIDS[@]}")
	r1=$(cpu_ticks "$RESPONDER_PID")
	m1=$(cpu_busy)
	d1=$(udp_drops)
	w1=$(date +%s.%N)
	mem=$(mem_kb "${PROXY_PIDS[@]}")
	echo "$rep $proxy $phase $line" >>"$LOGS/loadgen.lines"
	local recv extra
	recv=$(kv "$line" received)
	STEP_ACHIEVED=$(kv "$line" achieved_msgs_per_s)
	STEP_LOSS=$(kv "$line" loss_pct)
	# "cores" columns are CPU seconds over the wall time of the step (loadgen's sending phase,
	# plus its wait for the last replies: up to --timeout-ms when some were lost).
	extra=$(awk -v hz="$CLK_TCK" -v dur="$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" \
		-v r="$recv" -v px=$((t1 - t0)) -v rs=$((r1 - r0)) \
		-v lg="$(cat "$lgtime" 2>/dev/null || echo "0 0")" -v m0="$m0" -v m1="$m1" \
		-v d0="$d0" -v d1="$d1" -v direct="$([[ $proxy == direct ]] && echo 1 || echo 0)" '
		BEGIN {
			if (direct) px = 0
			split(lg, l, " "); split(m0, a, " "); split(m1, b, " ")
			split(d0, x, " "); split(d1, y, " ")
			pxs = px / hz; rss = rs / hz; lgs = l[1] + l[2]
			busy = (b[1] - a[1]) / hz; steal = (b[2] - a[2]) / hz
			d = dur > 0 ? dur : 1
			printf "%.2f,%.3f,%.2f,", pxs, pxs / d, (r > 0 ? pxs * 1e6 / r : 0)
			other = busy - pxs - rss - lgs
			printf "%.2f,%.2f,%.3f,%.3f,%.3f,", rss, lgs, busy / d, steal / d, (other > 0 ? other : 0) / d
			printf "%d,%d,%d", y[1] - x[1], y[2] - x[2], y[3] - x[3]
		}')
	local cpu=${extra%%,*} rest=${extra#*,}
	local cores=${rest%%,*}
	rest=${rest#*,}
	local per_req=${rest%%,*}
	rest=${rest#*,}
	[[ $proxy == direct ]] && mem="0 0"
	printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$rep" "$proxy" \
		"$phase" "$rate" "$(kv "$line" duration_s)" "$(kv "$line" sent)" "$recv" "$(kv "$line" lost)" \
		"$(kv "$line" late)" "$STEP_LOSS" "$STEP_ACHIEVED" "$(kv "$line" p50_us)" \
		"$(kv "$line" p99_us)" "$(kv "$line" p999_us)" "$(kv "$line" max_us)" "$cpu" "$cores" \
		"$per_req" "${mem% *}" "${mem#* }" "$([[ $proxy == direct ]] && echo 0 || echo "${#PROXY_PIDS[@]}")" \
		"$rest" >>"$CSV"
	log "$(printf '%-8s rep %s %-5s rate %6s: achieved %6s loss %7s%% p99 %6s us cpu %s drops px/pool/all %s' \
		"$proxy" "$rep" "$phase" "$rate" "$STEP_ACHIEVED" "$STEP_LOSS" "$(kv "$line" p99_us)" \
		"$cores" "$(awk '{print $1 - a, $2 - b, $3 - c}' a="${d0%% *}" b="$(cut -d' ' -f2 <<<"$d0")" \
		c="${d0##* }" <<<"$d1" | tr ' ' /)")"
}

# ramp REP PROXY TARGET: the offered-load ramp; then REFINE bisection steps between the highest
# offered rate carried at <= 0.1% loss and the lowest one that was not (the ramp doubles, so its
# best step alone is only a factor-2 bound); then the 50% and 90% latency points of the best.
ramp() {
	local rep=$1 proxy=$2 target=$3 r i best=0 lo=0 hi=0 mid
	for r in $RAMP; do
		step "$rep" "$proxy" ramp "$target" "$r"
		if step_ok; then
			best=$(awk -v a="$STEP_ACHIEVED" -v b="$best" 'BEGIN { print (a > b ? a : b) }')
			((r > lo)) && lo=$r
		elif ((r > 0 && (hi == 0 || r < hi))); then
			hi=$r
		fi
	done
	for ((i = 0; i < REFINE && lo > 0 && hi > lo; i++)); do
		mid=$(((lo + hi) / 2))
		step "$rep" "$proxy" refine "$target" "$mid"
		if step_ok; then
			best=$(awk -v a="$STEP_ACHIEVED" -v b="$best" 'BEGIN { print (a > b ? a : b) }')
			lo=$mid
		else
			hi=$mid
		fi
	done
	[[ $proxy == direct ]] && return 0
	if awk -v b="$best" 'BEGIN { exit !(b >= 200) }'; then
		step "$rep" "$proxy" at50 "$target" "$(awk -v b="$best" 'BEGIN { printf "%d", b * 0.5 }')"
		step "$rep" "$proxy" at90 "$target" "$(awk -v b="$best" 'BEGIN { printf "%d", b * 0.9 }')"
	else
		log "WARNING: $proxy rep $rep carried no step at <= 0.1% loss"
	fi
}

step_ok() { awk -v l="$STEP_LOSS" 'BEGIN { exit !(l != "" && l <= 0.1) }'; }

warmup() {
	local target=$1
	timeout -k 2 15 taskset -c "$LOAD_CPUS" "$LOADGEN" --target "$target" --bind "$ADDR" --rate 2000 \
		--count 2000 --duration 1 --timeout-ms "$LOADGEN_TIMEOUT_MS" "${LOADGEN_OPTS[@]}" \
		>>"$LOGS/warmup.lines" 2>>"$LOGS/loadgen.err" || die "warm-up loadgen failed"
}

# ---- 3. direct baseline ------------------------------------------------------------------------
PROXY_PIDS=($$) # no proxy: the proxy columns are written as 0
if ((!QUICK)); then
	log "direct baseline: loadgen -> responder $ADDR:$POOL1"
	warmup "$ADDR:$POOL1"
	ramp 1 direct "$ADDR:$POOL1"
fi

# ---- 4. the proxies, A B A B -------------------------------------------------------------------
for ((rep = 1; rep <= REPS; rep++)); do
	for proxy in viaduct kamailio; do
		label=$proxy-rep$rep
		start_proxy "$proxy" pool "$label"
		warmup "$ADDR:$PROXY_PORT"
		settle_proxy
		ramp "$rep" "$proxy" "$ADDR:$PROXY_PORT"
		stop_proxy "$proxy" "$label"
	done
done

# ---- 5. sipp calls-per-second ceiling ----------------------------------------------------------
SIPP_CSV=$OUT/sipp.csv
echo "proxy,target_cps,calls,successful,failed,achieved_cps,unexpected,ok" >"$SIPP_CSV"
# Kamailio's UDP receivers share one socket, so two responses of a call that arrive back to back
# (180 then 200) can be relayed in the other order by two processes. sipp's default aborts a
# call on such an unexpected message; here it is ignored (the call goes on) and counted in the
# "unexpected" column, so the ceiling measures capacity and the column shows the reordering.
# shellcheck disable=SC2054 # the comma is in the option's value
SIPP_TOLERANT=(-default_behaviors all,-abortunexp)
spawn sipp-uas1 taskset -c "$LOAD_CPUS" sipp -sn uas -i "$ADDR" -p "$SIPP_UAS1" -nr -nostdin \
	"${SIPP_TOLERANT[@]}"
UAS1_PID=$SPAWNED
spawn sipp-uas2 taskset -c "$LOAD_CPUS" sipp -sn uas -i "$ADDR" -p "$SIPP_UAS2" -nr -nostdin \
	"${SIPP_TOLERANT[@]}"
UAS2_PID=$SPAWNED
wait_for_udp_port "$ADDR" "$SIPP_UAS1" 10 "$UAS1_PID" || die "sipp UAS 1 did not start"
wait_for_udp_port "$ADDR" "$SIPP_UAS2" 10 "$UAS2_PID" || die "sipp UAS 2 did not start"

# sipp_rate PROXY TARGET RATE: one bounded sipp UAC run; sets SIPP_OK (1 = no failed call and
# the rate was achieved).
sipp_rate() {
	local proxy=$1 target=$2 rate=$3 calls stf err row
	calls=$((rate * SIPP_SECS))
	stf=$TMPDIR_E2E/sipp-$proxy-$rate.csv
	err=$TMPDIR_E2E/sipp-$proxy-$rate.err
	local cmd=(taskset -c "$LOAD_CPUS" sipp -sn uac "$target" -i "$ADDR" -p "$SIPP_UAC" -m "$calls"
		-r "$rate" -l "$rate" -nr -recv_timeout 2000 -timeout $((SIPP_SECS + 10)) -nostdin
		"${SIPP_TOLERANT[@]}" -trace_stat -stf "$stf" -trace_err -error_file "$err")
	cmd_log "${cmd[*]}"
	timeout -k 2 $((SIPP_SECS + 20)) "${cmd[@]}" >>"$LOGS/sipp-uac.log" 2>&1 || true
	row=$(python3 - "$stf" "$calls" "$rate" "$err" <<-'EOF'
		import csv, sys
		try:
		    unexpected = open(sys.argv[4], errors='replace').read().count(
		        'Continuing call on unexpected message')
		except OSError:
		    unexpected = 0
		try:
		    rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
		    h, last = rows[0], rows[-1]
		    ok_calls = int(last[h.index('SuccessfulCall(C)')])
		    failed = int(last[h.index('FailedCall(C)')])
		    cps = float(last[h.index('CallRate(C)')])
		except Exception:
		    ok_calls, failed, cps = 0, -1, 0.0
		calls, rate = int(sys.argv[2]), int(sys.argv[3])
		ok = int(failed == 0 and ok_calls == calls and cps >= 0.95 * rate)
		print(f"{calls},{ok_calls},{failed},{cps:.0f},{unexpected},{ok}")
	EOF
	)
	echo "$proxy,$rate,$row" >>"$SIPP_CSV"
	SIPP_OK=${row##*,}
	log "sipp $proxy -r $rate: calls,successful,failed,cps,unexpected,ok = $row"
}

# sipp_ceiling PROXY TARGET: up the rates until one fails twice in a row (a single failure on
# a shared machine is often a scheduling hiccup; both attempts are in sipp.csv).
sipp_ceiling() {
	local proxy=$1 target=$2 r
	for r in $SIPP_RATES; do
		sipp_rate "$proxy" "$target" "$r"
		((SIPP_OK)) && continue
		((QUICK)) && break
		sipp_rate "$proxy" "$target" "$r"
		((SIPP_OK)) || break
	done
}

((QUICK)) || sipp_ceiling direct "$ADDR:$SIPP_UAS1"
for proxy in viaduct kamailio; do
	start_proxy "$proxy" sipp "$proxy-sipp"
	settle_proxy
	sipp_ceiling "$proxy" "$ADDR:$PROXY_PORT"
	stop_proxy "$proxy" "$proxy-sipp"
done
stop_pid "$UAS1_PID" TERM 5 || true
stop_pid "$UAS2_PID" TERM 5 || true

# ---- the pool ----------------------------------------------------------------------------------
stop_pid "$RESPONDER_PID" TERM 10 || die "responder needed SIGKILL"
((WAIT_RC == 0)) || die "responder exited $WAIT_RC"
echo "responder $(grep -m1 '^responder rx=' "$LOGS/responder.log" || echo 'no stats line')" >>"$OUT/proxies.txt"

# ---- 6. summary and plots ----------------------------------------------------------------------
{
	echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "runtime_s=$((SECONDS - T_START))"
	echo "command=bench/compare/compare.sh ${ARGS[*]}"
} >>"$OUT/machine.txt"
python3 "$HERE/summarize.py" "$OUT" || die "summarize.py failed"
for f in achieved.png p99.png; do
	[[ -s $OUT/$f ]] || die "$OUT/$f not produced"
done
log "done in $((SECONDS - T_START)) s: $OUT/summary.md"

# ---- quick-mode checks (the smoke test): traffic carried, (near) zero loss, outputs there -------
if ((QUICK)); then
	python3 "$HERE/summarize.py" --check "$OUT" || die "smoke checks failed"
fi
