# SPDX-License-Identifier: BSD-3-Clause
#
# benchlib.sh: what bench/edge/flood.sh and overload.sh share: the build, the pinned pool
# (bench's responder), viaduct or Kamailio started pinned and stopped by PID, one bounded
# loadgen run, and reading its summary line. Sourced after tests/integration/lib.sh.

# bench_arg ARGS...: one of the options every bench here takes (--build DIR, --out DIR,
# --secs N, --quick: SECS=QUICK_SECS) into BUILD, OUT, SECS; BENCH_SHIFT is how many words it
# took (0: not one of them, the script's own or a usage error).
bench_arg() {
	BENCH_SHIFT=2
	case $1 in
	--build | --out | --secs) (($# >= 2)) || die "$1 needs a value" ;;
	esac
	case $1 in
	--build) BUILD=$2 ;;
	--out) OUT=$2 ;;
	--secs) SECS=$2 ;;
	--quick) SECS=$QUICK_SECS BENCH_SHIFT=1 ;;
	*) BENCH_SHIFT=0 ;;
	esac
}

# bench_start SECONDS ARGS...: the script bounded to SECONDS (run again under timeout(1) with
# ARGS, its own arguments), its temporary directory, OUT, the CPUs and the release build.
bench_start() {
	local bound=$1
	shift
	run_bounded "$bound" "$@"
	install_cleanup_trap
	make_tmpdir
	mkdir -p "$OUT"
	: >"$OUT/loadgen.err"
	bench_cpus
	bench_build "$BUILD"
}

# KEY of a loadgen summary line (or of any "k=v k=v" line).
kv() { sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p" <<<" $1"; }

# bench_build DIR: a release build of viaduct, loadgen and responder in DIR.
bench_build() {
	BUILD=$1
	if [[ ! -f $BUILD/build.ninja ]]; then
		meson setup "$BUILD" "$SRC" --buildtype=release >"$OUT/meson-setup.log" 2>&1 ||
			die "meson setup failed (see $OUT/meson-setup.log)"
	fi
	ninja -C "$BUILD" viaduct bench/loadgen/loadgen bench/loadgen/responder >"$OUT/ninja.log" 2>&1 ||
		die "ninja failed (see $OUT/ninja.log)"
	VIADUCT=$BUILD/viaduct LOADGEN=$BUILD/bench/loadgen/loadgen
	RESPONDER=$BUILD/bench/loadgen/responder
}

# CPUs: the proxy gets PROXY_CPUS, the harness (loadgen, responder) LOAD_CPUS.
bench_cpus() {
	local n
	n=$(nproc)
	PROXY_CPUS=${PROXY_CPUS:-$((n - 1))}
	LOAD_CPUS=${LOAD_CPUS:-0}
	((n >= 2)) || die "needs 2 cpus (proxy and harness apart)"
}

# pool_start PORT...: the responder on LOAD_CPUS answering 200 on each port of 127.0.0.1.
pool_start() {
	local ports
	ports=$(IFS=,; echo "$*")
	start_bg responder taskset -c "$LOAD_CPUS" "$RESPONDER" --listen 127.0.0.1 --ports "$ports"
	wait_for_udp_port 127.0.0.1 "$1" 10 "${BG_PID[responder]}" || die "responder did not start"
}

# proxy_start viaduct CONFIG | kamailio PORT DISPATCHER_LIST WORKERS: pinned to PROXY_CPUS;
# PROXY_PID (the main process), PROXY_PIDS (with Kamailio's children).
proxy_start() {
	case $1 in
	viaduct)
		start_bg_merged viaduct taskset -c "$PROXY_CPUS" "$VIADUCT" -c "$2"
		PROXY_PID=${BG_PID[viaduct]}
		wait_for_log "$TMPDIR_E2E/viaduct.log" 'viaduct: ready' 10 "$PROXY_PID" ||
			die "viaduct did not start"
		;;
	kamailio)
		local kdir=$TMPDIR_E2E/kam
		mkdir -p "$kdir"
		start_bg_merged kamailio taskset -c "$PROXY_CPUS" kamailio -x tlsf -DD -E \
			-f "$SRC/bench/compare/kamailio.cfg" -l "udp:127.0.0.1:$2" -n "$4" \
			-A "DS_LIST=\"$3\"" -w "$kdir" -Y "$kdir" -P "$kdir/kamailio.pid"
		PROXY_PID=${BG_PID[kamailio]}
		wait_for_udp_port 127.0.0.1 "$2" 10 "$PROXY_PID" || die "kamailio did not start"
		local deadline=$((SECONDS + 10))
		until (($(wc -w <<<"$(proc_tree "$PROXY_PID")") >= $4 + 2)); do
			((SECONDS < deadline)) || die "kamailio did not fork its workers"
			sleep 0.05
		done
		;;
	esac
	# shellcheck disable=SC2207
	PROXY_PIDS=($(proc_tree "$PROXY_PID"))
	local pid
	for pid in "${PROXY_PIDS[@]}"; do taskset -a -p -c "$PROXY_CPUS" "$pid" >/dev/null; done
}

proxy_stop() {
	stop_pid "$PROXY_PID" TERM 10 || die "the proxy needed SIGKILL"
	local pid deadline
	for pid in "${PROXY_PIDS[@]}"; do
		deadline=$((SECONDS + 5))
		while is_running "$pid"; do
			((SECONDS < deadline)) || { kill -KILL "$pid" 2>/dev/null; break; }
			sleep 0.05
		done
	done
}

# lg_run OUTFILE ARGS...: one loadgen run on LOAD_CPUS, bounded by timeout(1); its summary
# line in OUTFILE.
lg_run() {
	local out=$1
	shift
	timeout 120 taskset -c "$LOAD_CPUS" "$LOADGEN" "$@" >"$out" 2>>"$OUT/loadgen.err" ||
		die "loadgen failed: $*"
}
