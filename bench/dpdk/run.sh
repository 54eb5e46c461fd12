#!/usr/bin/env bash
# shellcheck disable=SC2016 # check's EXPR is eval'd later: single quotes on purpose
# SPDX-License-Identifier: BSD-3-Clause
#
# run.sh: the DPDK datapath benchmark without a NIC. siggen (bench/dpdk/siggen.c) owns a
# net_memif server port and sends real SIP messages (the MIX below) at full speed to viaduct's
# DPDK datapath on the memif client port, one worker lcore, and counts what comes back; then the
# same generator against `dpdk-testpmd --forward-mode=io` on the same vdev: the I/O ceiling of
# memif + generator on this machine. A B order (viaduct, testpmd) x ROUNDS, medians. The SIP
# core's scan / decide+rewrite share comes from bench_core on the same mix in the same run.
# Builds nothing: give it a build directory where viaduct (or viaduct-dpdk), siggen and
# bench_core are built (meson setup DIR -Dbuildtype=release -Ddpdk=enabled && ninja -C DIR).
#
# usage: bench/dpdk/run.sh [--quick] [--build DIR] [--out DIR]
#   --quick      one round of 1.5 s windows, viaduct then testpmd: a smoke run (~10 s) that
#                asserts the plumbing (frames forwarded > 0; siggen's counts equal viaduct's
#                SIP counters; viaduct's counters add up; no bad checksum; no neighbour miss in
#                the window). Asserts no speed. Default output: BUILD/bench/dpdk/out-quick.
#   --build DIR  meson build directory (default SRC/build-rel)
#   --out DIR    output directory (default SRC/bench/dpdk/out): results.csv, summary.md, logs/
# environment: ROUNDS (3), WARMUP_MS (1000), WINDOW_MS (5000), GEN_CPU (0), DUT_CPU (1),
#   HUGE (0; 1 = hugepages as in production instead of --no-huge's 4 KB pages: needs 2 MB pages
#   reserved, e.g. echo 1536 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages),
#   VIADUCT (the binary under test: default BUILD/viaduct when it has --dpdk, else
#   BUILD/dpdk/viaduct-dpdk), TESTPMD (dpdk-testpmd on PATH)
# exit: 0 done (and with --quick every check passed), 1 a check or a step failed, 2 usage,
#       77 (--quick) memif/EAL cannot start here or a binary is missing: skipped, said on stderr.
#
# Topology (nothing leaves the two processes; the memif socket is an abstract unix socket):
#   siggen  --vdev=net_memif0,role=server   lcore GEN_CPU   plays every host on the link:
#           requests from the UAC 192.168.1.15:5060 (fd00:201::15), responses from pool member
#           10.201.0.3:5070 (fd00:201::3) with viaduct's Via on top, to 10.201.0.2:5060
#           (fd00:201::2:5060); answers ARP/NS for any address but viaduct's.
#   viaduct --vdev=net_memif0,role=client   lcore DUT_CPU   one worker; pool 10.201.0.3:5070,
#           10.201.0.4:5080; listener 10.201.0.2 advertised as 192.168.1.2 (the P-CSCF of the
#           corpus call flows, so the corpus Route/Via headers name it).
# Nothing is pre-seeded: viaduct learns MACs from ARP/NS and from the frames it receives; the
# first frames of a run may be dropped as "neighbour unresolved": the warm-up absorbs that and
# siggen counts ARP/NS inside the measured window (must be 0).
#
# Per message cost, primary: busy cycles, counted the same way by both devices: the TSC over
# the poll iterations that received frames (rx_burst .. tx_burst; empty polls are idle).
# viaduct counts them per worker (busy_cycles in its `stats dpdk` line), testpmd with
# --record-core-cycles. siggen's --mark snapshots both at the window's ends: viaduct prints
# its counters on SIGUSR1; testpmd runs interactive (-i) on a FIFO and gets `clear fwd stats
# all` / `show fwd stats all`. cycles per message = busy cycles / SIP messages received in the
# window (testpmd: / packets forwarded), messages/s per core = TSC Hz / that. The TSC keeps
# counting while the thread is preempted, so time other jobs take on the DUT's CPU inside a busy
# iteration is counted too (busy_share = busy cycles / window cycles shows it: it cannot pass
# the share of the CPU the process got, dut_cpu_s / window_s, unless preemption inflates it).
# Secondary: the DUT's CPU time over the window (utime+stime from /proc, read by siggen at both
# ends) / frames it forwarded, also an upper bound (it includes empty polls whenever the
# generator is the slower side; it excludes preemption); cycles = that x the TSC rate.
# Every process is stopped by PID (TERM, then KILL after a bounded wait), also on error or
# interrupt; the whole script runs under timeout(1).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
TEST_NAME=dpdk-bench
# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib.sh
source "$SRC/tests/integration/lib.sh"

usage() {
	echo "usage: $0 [--quick] [--build DIR] [--out DIR]" >&2
	exit 2
}
QUICK=0 BUILD="" OUT=""
ARGS=("$@")
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--build) (($# >= 2)) || usage; BUILD=$2; shift ;;
	--out) (($# >= 2)) || usage; OUT=$2; shift ;;
	*) usage ;;
	esac
	shift
done
if ((QUICK)); then run_bounded 90 "${ARGS[@]}"; else run_bounded 600 "${ARGS[@]}"; fi

[[ -n $BUILD ]] || BUILD=$SRC/build-rel
[[ -d $BUILD ]] || die "build directory $BUILD does not exist (this script builds nothing)"
BUILD=$(cd "$BUILD" && pwd)
bench_out dpdk
rm -f "$OUT/results.csv" "$OUT/summary.md"

if ((QUICK)); then
	ROUNDS=1 WARMUP_MS=${WARMUP_MS:-500} WINDOW_MS=${WINDOW_MS:-1500}
else
	ROUNDS=${ROUNDS:-3} WARMUP_MS=${WARMUP_MS:-1000} WINDOW_MS=${WINDOW_MS:-5000}
fi
GEN_CPU=${GEN_CPU:-0} DUT_CPU=${DUT_CPU:-1}
# Memory: 4 KB pages by default (--no-huge: works anywhere, what the tests use); HUGE=1 puts the
# mbufs on 2 MB pages as a production deployment does. --in-memory: no hugetlbfs mount needed.
MEM=(--no-huge)
if [[ ${HUGE:-0} == 1 ]]; then
	free2m=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
	((free2m >= 1280)) || die "HUGE=1: $free2m free 2 MB pages, want >= 1280 (generator 512 MB + DUT 1024 MB): echo 1536 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
	MEM=(--in-memory)
fi
# testpmd wants a main lcore besides its forwarding lcore: the main one (its command line,
# asleep on the FIFO but for the two --mark commands) shares the generator's cpu, forwarding
# gets DUT_CPU.
TP_LCORES="$GEN_CPU,$DUT_CPU"
((GEN_CPU < DUT_CPU)) || die "GEN_CPU must be below DUT_CPU (testpmd's main lcore is the lower one)"

skip_or_die() { if ((QUICK)); then log "SKIP: $*"; exit 77; else die "$*"; fi; }
((EUID == 0)) || skip_or_die "needs root (DPDK EAL, /var/run/dpdk)"
SIGGEN=$BUILD/bench/dpdk/siggen
BENCH_CORE=$BUILD/bench/bench_core
[[ -x $SIGGEN ]] || skip_or_die "$SIGGEN not built (meson -Ddpdk=enabled)"
[[ -x $BENCH_CORE ]] || skip_or_die "$BENCH_CORE not built"
DUT_MODE=()
if [[ -n ${VIADUCT:-} ]]; then
	[[ -x $VIADUCT ]] || die "VIADUCT=$VIADUCT is not executable"
elif [[ -x $BUILD/viaduct ]] && "$BUILD/viaduct" --help 2>&1 | grep -q -- '--dpdk'; then
	VIADUCT=$BUILD/viaduct
else
	VIADUCT=$BUILD/dpdk/viaduct-dpdk
	[[ -x $VIADUCT ]] || skip_or_die "neither $BUILD/viaduct --dpdk nor $VIADUCT is built"
fi
if [[ $(basename "$VIADUCT") == viaduct ]]; then DUT_MODE=(--dpdk); fi
TESTPMD=${TESTPMD:-$(command -v dpdk-testpmd || true)}
[[ -n $TESTPMD ]] || skip_or_die "dpdk-testpmd not found (Debian package dpdk)"

# The mix: one INVITE call (INVITE ~1 kB with SDP, 100, 180, 200 with SDP, ACK, BYE) and one
# registration with a digest challenge (REGISTER, 401, REGISTER with credentials, 200): 10
# messages, 4 of them ~900-1100 bytes, 5 responses; every 5th Call-ID variant goes over IPv6.
C=$SRC/tests/corpus/good
MIX=("$C/14-invite-sdp.sip" "$C/15-100-trying.sip" "$C/16-180-ringing.sip" "$C/17-200-ok-sdp.sip"
	"$C/18-ack.sip" "$C/19-bye.sip" "$C/10-register-sharetechnote.sip"
	"$C/02-401-unauthorized.sip" "$C/03-register-auth.sip" "$C/04-200-ok-register.sip")

install_cleanup_trap
make_tmpdir
T=$TMPDIR_E2E
TAG=vdb$$
# shellcheck disable=SC2317 # called from lib.sh's EXIT trap
on_exit_hook() {
	rm -rf -- "/var/run/dpdk/$TAG"-* 2>/dev/null || true
}

cat >"$T/viaduct.yaml" <<EOF
# written by $0
# a throughput benchmark: what the datapath carries flat out, not what it sheds past that
# (bench/edge/overload.sh measures shedding)
overload: { shed: off }
workers: 1
listeners:
  - address: "10.201.0.2"
    port: 5060
    advertise: "192.168.1.2"
  - address: "fd00:201::2"
    port: 5060
pool:
  name: bench
  hash: call-id
  members:
    - host: "10.201.0.3"
      port: 5070
    - host: "10.201.0.4"
      port: 5080
# siggen plays the members' responses: it writes our branch with the same key (its default)
branch_key: viaduct-bench-branch-key
EOF
cp "$T/viaduct.yaml" "$LOGS/viaduct.yaml"

# ---- one measured run: siggen against DUT (viaduct | testpmd) ----------------------------------
CSV=$OUT/results.csv
echo "round,dut,window_s,tx_pps,rx_pps,window_loss,dut_cpu_s,gen_cpu_s,machine_busy_s,others_cpu_s,rx_per_dut_cpu_s,dut_ns_per_pkt,dut_cycles_per_pkt,rx_per_gen_cpu_s,window_arp_ns,rx_bad_cksum,total_tx,total_rx,total_lost,window_rx_v6,backpressure,busy_cycles,busy_msgs,busy_cycles_per_msg,msgs_per_s_core,busy_share" >"$CSV"
kv() { sed -n "s/.* $1=\([-0-9.]*\).*/\1/p" <<<"$2" | head -n 1; }

# Busy cycles and messages over the window: BUSY_CYC BUSY_MSGS (0 0 when a snapshot is missing).
# viaduct: its 1st and 2nd SIGUSR1 printouts (the 3rd is the exit's); SIP messages = `stats
# total rx`. testpmd: the first `CPU cycles/packet` line (`show fwd stats all`, after `clear`).
window_busy() { # dut log
	local a b
	BUSY_CYC=0 BUSY_MSGS=0
	if [[ $1 == viaduct ]]; then
		mapfile -t a < <(grep -E '^stats dpdk ' "$2" | sed -n 's/.* busy_cycles=\([0-9]*\).*/\1/p')
		mapfile -t b < <(grep -E '^stats total ' "$2" | sed -n 's/.* rx=\([0-9]*\).*/\1/p')
		((${#a[@]} >= 3 && ${#b[@]} >= 3)) || return 0
		BUSY_CYC=$((a[1] - a[0])) BUSY_MSGS=$((b[1] - b[0]))
	else
		local l
		l=$(grep -m 1 'CPU cycles/packet=' "$2" || true)
		[[ -n $l ]] || return 0
		BUSY_CYC=$(sed -n 's/.*total cycles=\([0-9]*\).*/\1/p' <<<"$l")
		BUSY_MSGS=$(sed -n 's/.*total io packets=\([0-9]*\).*/\1/p' <<<"$l")
		: "${BUSY_CYC:=0}" "${BUSY_MSGS:=0}"
	fi
}

run_one() { # round dut
	local r=$1 dut=$2 name sock pidf gen_pid dut_pid line
	name=$dut-$r
	sock=/tmp/$TAG-$name.sock
	pidf=$T/$name.pid
	local genargs=(--warmup-ms "$WARMUP_MS" --duration-ms "$WINDOW_MS" --dut-pid-file "$pidf")
	local fifo=$T/$name.cmd fifo_fd
	if [[ $dut == testpmd ]]; then
		# testpmd reads its commands from a FIFO that we hold open (no EOF until it is stopped)
		mkfifo "$fifo"
		exec {fifo_fd}<>"$fifo"
		genargs+=(--no-arp --mark "case \$1 in start) c='clear fwd stats all' ;; \
			*) c='show fwd stats all' ;; esac; echo \"\$c\" >'$fifo'")
	else
		genargs+=(--mark "kill -USR1 \"\$(cat '$pidf')\"")
	fi
	start_bg "gen-$name" "$SIGGEN" "${genargs[@]}" "${MIX[@]}" -- -l "$GEN_CPU" "${MEM[@]}" \
		--no-pci -m 512 --file-prefix "$TAG-gen" --vdev="net_memif0,role=server,socket=$sock"
	gen_pid=${BG_PID[gen-$name]}
	# the memif client connects once, at port start: the server socket must exist by then
	if ! wait_for_log "$T/gen-$name.err" 'waiting for the peer' 20 "$gen_pid"; then
		if grep -q 'SKIP' "$T/gen-$name.err"; then
			skip_or_die "siggen could not start EAL/memif: $(tail -n 3 "$T/gen-$name.err" | tr '\n' ' ')"
		fi
		tail_log "siggen stderr" "$T/gen-$name.err" 10
		die "$name: siggen did not start its memif server"
	fi
	if [[ $dut == viaduct ]]; then
		start_bg_merged "dut-$name" "$VIADUCT" -c "$T/viaduct.yaml" "${DUT_MODE[@]}" -- -l "$DUT_CPU" \
			"${MEM[@]}" --no-pci -m 1024 --file-prefix "$TAG-dut" \
			--vdev="net_memif0,role=client,socket=$sock"
	else
		# stdin: the FIFO (start_bg_merged gives /dev/null); stdbuf: the fwd stats reach the
		# log line by line (SIGTERM ends it); exec twice: the PID stays testpmd's
		# shellcheck disable=SC2016 # $1 is the inner shell's
		start_bg_merged "dut-$name" bash -c 'exec <"$1"; shift; exec stdbuf -oL "$@"' tp \
			"$fifo" "$TESTPMD" -l "$TP_LCORES" "${MEM[@]}" --no-pci -m 1024 \
			--file-prefix "$TAG-dut" --vdev="net_memif0,role=client,socket=$sock" -- -i \
			--total-num-mbufs=16384 --forward-mode=io --port-topology=loop --nb-cores=1 \
			--auto-start --record-core-cycles
	fi
	dut_pid=${BG_PID[dut-$name]}
	echo "$dut_pid" >"$pidf.tmp" && mv "$pidf.tmp" "$pidf"
	local bound=$(((WARMUP_MS + WINDOW_MS) / 1000 + 20))
	wait_pid "$gen_pid" "$bound" || { stop_pid "$gen_pid" TERM 5 || true; }
	local gen_rc=$WAIT_RC
	stop_pid "$dut_pid" TERM 10 || log "$dut needed SIGKILL"
	DUT_RC=$WAIT_RC
	[[ $dut == testpmd ]] && exec {fifo_fd}>&-
	cp "$T/gen-$name.out" "$T/gen-$name.err" "$T/dut-$name.log" "$LOGS/" 2>/dev/null || true
	if ((gen_rc == 77)); then
		skip_or_die "siggen could not start EAL/memif: $(tail -n 3 "$T/gen-$name.err" | tr '\n' ' ')"
	fi
	line=$(grep '^siggen ' "$T/gen-$name.out" || true)
	if ((gen_rc != 0)) || [[ -z $line ]]; then
		tail_log "siggen stderr" "$T/gen-$name.err" 10
		tail_log "$dut output" "$T/dut-$name.log" 20
		if [[ $dut == viaduct ]] && grep -q 'EAL init failed' "$T/dut-$name.log"; then
			skip_or_die "viaduct could not start EAL on the memif client"
		fi
		die "$name: siggen exit $gen_rc, no result line"
	fi
	GEN_LINE=$line
	local w rx dcpu gcpu busy hz
	w=$(kv window_s "$line") rx=$(kv rx "$line") dcpu=$(kv dut_cpu_s "$line")
	gcpu=$(kv gen_cpu_s "$line") busy=$(kv machine_busy_s "$line") hz=$(kv tsc_hz "$line")
	window_busy "$dut" "$T/dut-$name.log"
	awk -v r="$r" -v d="$dut" -v w="$w" -v txp="$(kv tx_pps "$line")" -v rxp="$(kv rx_pps "$line")" \
		-v loss="$(kv window_loss "$line")" -v rx="$rx" -v dc="$dcpu" -v gc="$gcpu" -v b="$busy" \
		-v hz="$hz" -v an="$(kv window_arp_ns "$line")" -v bad="$(kv rx_bad_cksum "$line")" \
		-v ttx="$(kv total_tx "$line")" -v trx="$(kv total_rx "$line")" \
		-v tl="$(kv total_lost "$line")" -v v6="$(kv rx_v6 "$line")" \
		-v bp="$(kv backpressure "$line")" -v bc="$BUSY_CYC" -v bm="$BUSY_MSGS" 'BEGIN {
		per = dc > 0 ? rx / dc : 0; ns = rx > 0 ? dc * 1e9 / rx : 0
		cpm = bm > 0 ? bc / bm : 0
		printf "%d,%s,%.3f,%.0f,%.0f,%d,%.3f,%.3f,%.3f,%.3f,%.0f,%.1f,%.0f,%.0f,%d,%d,%d,%d,%d,%d,%.3f,%.0f,%.0f,%.1f,%.0f,%.3f\n",
			r, d, w, txp, rxp, loss, dc, gc, b, b - dc - gc, per, ns, ns * hz / 1e9,
			(gc > 0 ? rx / gc : 0), an, bad, ttx, trx, tl, v6, bp, bc, bm, cpm,
			(cpm > 0 ? hz / cpm : 0), (w > 0 ? bc / (w * hz) : 0) }' >>"$CSV"
	log "$name: $(tail -n 1 "$CSV")"
}

# ---- the runs ----------------------------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
	run_one "$r" viaduct
	VD_LINE=$GEN_LINE VD_LOG=$T/dut-viaduct-$r.log VD_RC=$DUT_RC
	run_one "$r" testpmd
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# The SIP core alone on the same mix (in memory, no I/O): scan vs decide + rewrite.
mkdir -p "$T/mix"
for f in "${MIX[@]}"; do ln -s "$f" "$T/mix/"; done
CORE_SECS=0.2
((QUICK)) && CORE_SECS=0.02
"$BENCH_CORE" "$T/mix" "$CORE_SECS" >"$LOGS/bench_core.txt" 2>&1 || die "bench_core failed"
CORE=$(grep '^bench=core ' "$LOGS/bench_core.txt")

# ---- summary -----------------------------------------------------------------------------------
# median of column $2 over rows whose dut is $1
med() {
	awk -F, -v d="$1" -v c="$2" 'NR > 1 && $2 == d { print $c }' "$CSV" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
col() { head -n 1 "$CSV" | tr , '\n' | grep -nx "$1" | cut -d: -f1; }
VD_RX=$(med viaduct "$(col rx_pps)") TP_RX=$(med testpmd "$(col rx_pps)")
VD_CPU=$(med viaduct "$(col rx_per_dut_cpu_s)") TP_CPU=$(med testpmd "$(col rx_per_dut_cpu_s)")
VD_NS=$(med viaduct "$(col dut_ns_per_pkt)") TP_NS=$(med testpmd "$(col dut_ns_per_pkt)")
VD_CYC=$(med viaduct "$(col dut_cycles_per_pkt)") TP_CYC=$(med testpmd "$(col dut_cycles_per_pkt)")
VD_GEN=$(med viaduct "$(col rx_per_gen_cpu_s)") TP_GEN=$(med testpmd "$(col rx_per_gen_cpu_s)")
VD_OTH=$(med viaduct "$(col others_cpu_s)") TP_OTH=$(med testpmd "$(col others_cpu_s)")
VD_LOSS=$(med viaduct "$(col window_loss)")
VD_BP=$(med viaduct "$(col backpressure)") TP_BP=$(med testpmd "$(col backpressure)")
VD_BC=$(med viaduct "$(col busy_cycles_per_msg)") TP_BC=$(med testpmd "$(col busy_cycles_per_msg)")
VD_MPS=$(med viaduct "$(col msgs_per_s_core)") TP_MPS=$(med testpmd "$(col msgs_per_s_core)")
VD_BS=$(med viaduct "$(col busy_share)") TP_BS=$(med testpmd "$(col busy_share)")
VD_BEST=$(awk -F, 'NR > 1 && $2 == "viaduct" && $24 > 0 { if (!b || $24 < b) b = $24 } END { print b + 0 }' "$CSV")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
M() { awk -v a="$1" 'BEGIN { printf "%.2f", a / 1e6 }'; }
MIX_NS=$(kv mix_ns "$CORE") SCAN_NS=$(kv scan_ns "$CORE") COPY_NS=$(kv copy_ns "$CORE")
SHARE=$(awk -v m="$MIX_NS" -v s="$SCAN_NS" -v c="$COPY_NS" 'BEGIN {
	printf "%.0f ns/msg = %.2f M msgs/s/core: scan %.0f ns (%.0f%%), decide + rewrite %.0f ns (%.0f%%)",
		m - c, 1e3 / (m - c), s, 100 * s / (m - c), m - c - s, 100 * (m - c - s) / (m - c) }')
{
	echo "# DPDK datapath benchmark (bench/dpdk/run.sh$( ((QUICK)) && echo ' --quick'))"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); $(nproc) cpus ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)), $(uname -sr)"
	echo "- DUT: $(basename "$VIADUCT") ${DUT_MODE[*]} ($(git -C "$SRC" describe --always --dirty 2>/dev/null || echo '?')) on lcore $DUT_CPU, 1 worker; testpmd $("$TESTPMD" -v 2>&1 | sed -n 's/.*RTE Version: .\(DPDK [0-9.]*\).*/\1/p' | head -n 1) io forwarding on lcore $DUT_CPU (main lcore $GEN_CPU)"
	echo "- memory: ${MEM[*]} ($( [[ ${MEM[0]} == --no-huge ]] && echo "4 KB pages" || echo "2 MB hugepages"))"
	echo "- generator: siggen on lcore $GEN_CPU, net_memif server (default rings: 1024 slots, 2048-byte buffers); viaduct/testpmd: memif client"
	echo "- mix: $(kv mix_msgs "$VD_LINE") messages, avg $(kv mix_avg_bytes "$VD_LINE") bytes of SIP, x 64 Call-ID variants, every $(kv v6_every "$VD_LINE")th over IPv6: $(for f in "${MIX[@]}"; do basename "$f" .sip; done | tr '\n' ' ')"
	echo "- $ROUNDS round(s) of A B (viaduct, testpmd), warm-up $WARMUP_MS ms, window $WINDOW_MS ms; load average before $LOAD_BEFORE, after $LOAD_AFTER"
	echo
	echo "| median | viaduct | testpmd io | viaduct / testpmd |"
	echo "|---|---|---|---|"
	echo "| **busy cycles per message** (TSC over polls that received frames / messages; testpmd: / packets) | **$VD_BC** | $TP_BC | **$(ratio "$TP_BC" "$VD_BC")** (testpmd / viaduct) |"
	echo "| **messages/s per worker core** (TSC Hz / busy cycles per message) | **$(M "$VD_MPS") M** | $(M "$TP_MPS") M | $(ratio "$VD_MPS" "$TP_MPS") |"
	echo "| busy share of the window (busy cycles / window cycles) | $VD_BS | $TP_BS | |"
	echo "| frames/s back at the generator (wall clock) | $(M "$VD_RX") M | $(M "$TP_RX") M | $(ratio "$VD_RX" "$TP_RX") |"
	echo "| frames per CPU-second of the DUT process | $(M "$VD_CPU") M | $(M "$TP_CPU") M | $(ratio "$VD_CPU" "$TP_CPU") |"
	echo "| DUT CPU per frame (upper bound: includes empty polls) | $VD_NS ns = $VD_CYC cycles | $TP_NS ns = $TP_CYC cycles | |"
	echo "| backpressure: share of the generator's tx bursts the ring did not take whole | $VD_BP | $TP_BP | |"
	echo "| frames per CPU-second of the generator | $(M "$VD_GEN") M | $(M "$TP_GEN") M | |"
	echo "| CPU-seconds other jobs took in the window (of $(awk -v w="$WINDOW_MS" -v n="$(nproc)" 'BEGIN { print n * w / 1000 }')) | $VD_OTH | $TP_OTH | |"
	echo
	echo "- viaduct window loss (sent - received in the window, median): $VD_LOSS frames"
	echo "- viaduct best round: $VD_BEST busy cycles per message"
	echo "- SIP core alone on the same mix (bench_core, in memory): $SHARE"
	echo
	echo "Per round: results.csv; logs (siggen and DUT output, bench_core): logs/"
} >"$OUT/summary.md"
cat "$OUT/summary.md" >&2

# ---- quick mode: the plumbing checks (last viaduct run) ------------------------------------------
((QUICK)) || exit 0
TOTAL=$(grep -E '^stats total ' "$VD_LOG" | tail -n 1 || true)
DP=$(grep -E '^stats dpdk ' "$VD_LOG" | tail -n 1 || true)
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2" | head -n 1; }
S_RX=$(field rx "$TOTAL") S_TX=$(field tx "$TOTAL") S_REP=$(field replies "$TOTAL")
S_DROPS=$(field drops "$TOTAL") S_SF=$(field drop_send-failed "$TOTAL")
UNRES=$(field drop_neigh_unresolved "$DP") TXFULL=$(field drop_tx_full "$DP")
: "${S_RX:=0}" "${S_TX:=0}" "${S_REP:=0}" "${S_DROPS:=0}" "${S_SF:=0}" "${UNRES:=0}" "${TXFULL:=0}"
G_TX=$(kv total_tx "$VD_LINE") G_RX=$(kv total_rx "$VD_LINE")
W_RX=$(kv rx "$VD_LINE") ARPNS=$(kv window_arp_ns "$VD_LINE") BAD=$(kv rx_bad_cksum "$VD_LINE")
CTL_LOST=$(kv ctl_lost "$VD_LINE")
TP_W_RX=$(awk -F, '$2 == "testpmd" { printf "%d\n", $5 * $3 }' "$CSV" | tail -n 1)
log "viaduct: $TOTAL"
log "viaduct: $DP"
check "viaduct exited 0 on SIGTERM (got $VD_RC)" '[[ $VD_RC == 0 ]]'
check "frames forwarded in the window: $W_RX > 0" '((W_RX > 0))'
check "viaduct's counters add up: rx=$S_RX = tx=$S_TX + replies=$S_REP + drops=$S_DROPS" \
	'((S_RX > 0 && S_RX == S_TX + S_REP + S_DROPS))'
check "siggen sent $G_TX SIP frames = viaduct received $S_RX" '((G_TX == S_RX))'
check "siggen received $G_RX frames = viaduct sent $S_TX" '((G_RX == S_TX))'
check "every drop is a send failure ($S_SF of $S_DROPS): neighbour unresolved $UNRES + tx_full $TXFULL" \
	'((S_DROPS == S_SF && S_SF == UNRES + TXFULL))'
check "no neighbour resolution inside the window ($ARPNS ARP/NS), no ARP/NA reply lost ($CTL_LOST) and no bad checksum ($BAD)" \
	'[[ -n $ARPNS && -n $CTL_LOST && -n $BAD ]] && ((ARPNS == 0 && CTL_LOST == 0 && BAD == 0))'
check "testpmd reflected frames in the window (${TP_W_RX%.*})" '((${TP_W_RX%.*} > 0))'
VD_BM=$(awk -F, '$2 == "viaduct" { print $23 }' "$CSV" | tail -n 1)
TP_BM=$(awk -F, '$2 == "testpmd" { print $23 }' "$CSV" | tail -n 1)
check "busy cycles measured over the window: viaduct $VD_BC cycles/msg over $VD_BM msgs, testpmd $TP_BC over $TP_BM pkts" \
	'((VD_BM > 0 && TP_BM > 0))'
checks_exit
