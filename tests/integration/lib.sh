# shellcheck shell=bash disable=SC2034 # variables set here are for the caller
# SPDX-License-Identifier: BSD-3-Clause
#
# lib.sh: shared helpers for viaduct's integration tests (sourced, not run).
#
# Provides:
#   log / die                       messages on stderr, prefixed with the test name
#   make_tmpdir                     mktemp -d, removed again by the EXIT trap
#   run_bounded SECS CMD...         re-exec the calling script under timeout(1)
#   pick_udp_port ADDR [LO HI]      sets PICKED_PORT: a UDP port not bound on ADDR
#                                   and not picked before by this script (LO..HI, default
#                                   10000 up to the kernel's ephemeral range)
#   hostport ADDR PORT              ADDR:PORT, [ADDR]:PORT for IPv6
#   in_private_netns ARGS...        re-exec the calling script (with ARGS) in a network
#                                   namespace of its own with only lo up (127/8, ::1): nothing
#                                   it sends can leave the machine, whatever viaduct follows
#   start_viaduct_checked CFG       viaduct --check-config CFG, then viaduct -c CFG in the
#                                   background (log $TMPDIR_E2E/viaduct.log) until it prints
#                                   'viaduct: ready'; sets VIADUCT_PID
#   start_bg NAME CMD...            start CMD in the background, stdout/stderr in
#                                   $TMPDIR_E2E/NAME.out / NAME.err; its PID is
#                                   recorded for cleanup and in BG_PID[NAME]
#   start_bg_merged NAME CMD...     same, stdout and stderr in NAME.log
#   is_running PID                  PID exists and is not a zombie
#   wait_pid PID SECS               wait (bounded) for a started PID; sets WAIT_RC
#   stop_pid PID [SIG] [SECS]       SIG (TERM) then KILL after SECS; sets WAIT_RC
#   wait_for_log FILE REGEX SECS [PID]
#   wait_for_udp_port ADDR PORT SECS [PID]
#   tail_log LABEL FILE [LINES] [BYTES]  print the end of a log file (debugging)
#   check DESC EXPR                 PASS/FAIL line; failures set CHECK_FAILED=1
#   checks_exit                     exit 0, or 1 after a last line naming every failed check
#   sipp_ok / sipp_failed NAME      calls in sipp's stat CSV $TMPDIR_E2E/NAME.csv
#   requests_in NAME METHOD         METHOD requests in a sipp UAS message log $TMPDIR_E2E/NAME.msg
#   invites NAME                    INVITEs in it
#   field NAME LINE                 the number after " NAME=" in a viaduct "stats ..." line
#   sipp_uac_bg NAME TARGET ADDR CALLS RATE [PAUSE_MS]  INVITE UAC in the background
#   prom_valid FILE [PREFIX]        FILE is valid Prometheus text (python3)
#   metric FILE NAME LABELS         the value of the sample NAME{LABELS} in FILE, or ""
#
# Every wait is a bounded poll of a condition (never a bare sleep standing in
# for synchronisation).  install_cleanup_trap makes every started process get
# TERM, then KILL after a bounded wait, and removes the temp dir, on any exit.

: "${TEST_NAME:=$(basename "$0")}"
BG_PIDS=()
declare -A BG_PID=()
PICKED_PORTS=" "
TMPDIR_E2E=""
POLL_INTERVAL=0.05

log() { printf '%s: %s\n' "$TEST_NAME" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# run_bounded SECS "$@": make the whole script run under timeout(1).  Call it
# first thing in a script, passing the script's own arguments.  timeout puts
# the script in its own process group and signals the whole group on expiry;
# the script's TERM trap then cleans up.
run_bounded() {
	local secs=$1
	shift
	if [[ -z ${_LIB_BOUNDED:-} ]]; then
		export _LIB_BOUNDED=1
		exec timeout --kill-after=10 "$secs" "${BASH:-bash}" "$0" "$@"
	fi
}

make_tmpdir() {
	local tag=${TEST_NAME%.sh}
	tag=${tag//[^[:alnum:]_-]/-}
	TMPDIR_E2E=$(mktemp -d "${TMPDIR:-/tmp}/viaduct-$tag.XXXXXX") ||
		die "mktemp -d failed"
}

# is_running PID: true while PID exists and is not a zombie (kill -0 alone
# succeeds on an exited but not yet reaped child).
is_running() {
	local pid=$1 stat
	kill -0 "$pid" 2>/dev/null || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# start_bg NAME CMD...: stdin from /dev/null (sipp reads keys from a tty),
# stdout and stderr to files in the temp dir.
start_bg() {
	local name=$1
	shift
	"$@" </dev/null >"$TMPDIR_E2E/$name.out" 2>"$TMPDIR_E2E/$name.err" &
	BG_PID[$name]=$!
	BG_PIDS+=("$!")
	log "started $name (pid $!): $*"
}

# start_bg_merged NAME CMD...: like start_bg, stdout and stderr both in
# $TMPDIR_E2E/NAME.log.
start_bg_merged() {
	local name=$1
	shift
	"$@" </dev/null >"$TMPDIR_E2E/$name.log" 2>&1 &
	BG_PID[$name]=$!
	BG_PIDS+=("$!")
	log "started $name (pid $!): $*"
}

# wait_pid PID SECS: wait up to SECS for PID to end and collect its exit
# status in WAIT_RC.  Returns 1 (WAIT_RC=-1) if it is still running.
wait_pid() {
	local pid=$1 secs=$2 deadline
	deadline=$((SECONDS + secs))
	while is_running "$pid"; do
		if ((SECONDS >= deadline)); then
			WAIT_RC=-1
			return 1
		fi
		sleep "$POLL_INTERVAL"
	done
	WAIT_RC=0
	wait "$pid" 2>/dev/null || WAIT_RC=$?
	return 0
}

# stop_pid PID [SIG] [SECS]: send SIG (default TERM), wait up to SECS
# (default 5) and SIGKILL if it is still there.  WAIT_RC = its exit status
# (137 after KILL).  Returns 1 if KILL was needed.
stop_pid() {
	local pid=$1 sig=${2:-TERM} secs=${3:-5}
	WAIT_RC=0
	if ! is_running "$pid"; then
		wait "$pid" 2>/dev/null || WAIT_RC=$?
		return 0
	fi
	kill "-$sig" "$pid" 2>/dev/null || true
	wait_pid "$pid" "$secs" && return 0
	log "pid $pid ignored SIG$sig for ${secs}s, sending KILL"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || WAIT_RC=$?
	return 1
}

# wait_for_log FILE REGEX SECS [PID]: poll until an extended REGEX matches a
# line of FILE; fail early if PID (when given) has exited.
wait_for_log() {
	local file=$1 re=$2 secs=$3 pid=${4:-} deadline
	deadline=$((SECONDS + secs))
	while :; do
		[[ -f $file ]] && grep -Eq -- "$re" "$file" && return 0
		if [[ -n $pid ]] && ! is_running "$pid"; then
			log "process $pid exited while waiting for '$re' in $file"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			log "timed out after ${secs}s waiting for '$re' in $file"
			return 1
		fi
		sleep "$POLL_INTERVAL"
	done
}

# udp_bound ADDR PORT: is some socket bound to ADDR:PORT (or a wildcard
# address on PORT)?  ss prints IPv6 addresses in brackets.
udp_bound() {
	local addr=$1 port=$2 want
	if [[ $addr == *:* ]]; then want="[$addr]"; else want=$addr; fi
	ss -Hlun "sport = :$port" 2>/dev/null |
		awk -v w="$want:$port" -v p=":$port" '
			{ a = $4; sub(/%[^:\]]*/, "", a) }
			a == w || a == "*" p || a == "0.0.0.0" p || a == "[::]" p { f = 1 }
			END { exit !f }'
}

# wait_for_udp_port ADDR PORT SECS [PID]
wait_for_udp_port() {
	local addr=$1 port=$2 secs=$3 pid=${4:-} deadline
	deadline=$((SECONDS + secs))
	while ! udp_bound "$addr" "$port"; do
		if [[ -n $pid ]] && ! is_running "$pid"; then
			log "process $pid exited before binding udp $addr port $port"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			log "timed out after ${secs}s waiting for udp $addr port $port"
			return 1
		fi
		sleep "$POLL_INTERVAL"
	done
}

# pick_udp_port ADDR: set PICKED_PORT to a port in [10000, start of the
# ephemeral range) that is free on ADDR right now and was not handed out
# before by this script.  Ports below the kernel's ephemeral range are not
# taken behind our back by sockets bound to port 0 (sipp, viaduct's own
# sockets).  A variable, not stdout: $(pick_udp_port) would run in a
# subshell and could not remember the ports already picked.
pick_udp_port() {
	local addr=$1 lo=${2:-10000} hi=${3:-32767} range port try
	if [[ -z ${3:-} ]] && range=$(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null); then
		range=${range%%[[:space:]]*}
		((range > lo + 1000)) && hi=$((range - 1))
	fi
	for ((try = 0; try < 500; try++)); do
		port=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
		[[ $PICKED_PORTS == *" $port "* ]] && continue
		udp_bound "$addr" "$port" && continue
		PICKED_PORTS+="$port "
		PICKED_PORT=$port
		return 0
	done
	die "no free UDP port found on $addr"
}

# "host:port" as sipp's remote-host argument and SIP Via sent-by want it.
hostport() {
	if [[ $1 == *:* ]]; then printf '[%s]:%s' "$1" "$2"; else printf '%s:%s' "$1" "$2"; fi
}

# in_private_netns "$@": call it first thing (before run_bounded), as root. The namespace has
# its own loopback only; the script and everything it starts run there.
in_private_netns() {
	[[ -n ${_LIB_NETNS:-} ]] && return 0
	export _LIB_NETNS=1
	command -v unshare >/dev/null || die "unshare (util-linux) is needed to isolate the test"
	# shellcheck disable=SC2016 # expanded by the inner shell
	exec unshare --net -- "${BASH:-bash}" -c 'ip link set lo up && exec "$0" "$@"' \
		"${BASH:-bash}" "$0" "$@"
}

# start_viaduct_checked CFG: the config must pass --check-config; then start and wait.
# shellcheck disable=SC2153 # VIADUCT_BIN is the caller's
start_viaduct_checked() {
	local cfg=$1
	if ! "$VIADUCT_BIN" --check-config "$cfg" >"$TMPDIR_E2E/check-config.log" 2>&1; then
		cat "$TMPDIR_E2E/check-config.log" >&2
		die "viaduct --check-config rejected $cfg"
	fi
	# stdout and stderr in one file: the stats lines are found wherever they are printed
	start_bg_merged viaduct "$VIADUCT_BIN" -c "$cfg"
	VIADUCT_PID=${BG_PID[viaduct]}
	wait_for_log "$TMPDIR_E2E/viaduct.log" 'viaduct: ready' 15 "$VIADUCT_PID" ||
		die "viaduct did not print 'viaduct: ready'"
}

# tail_log LABEL FILE [LINES] [BYTES]: the last LINES lines, at most BYTES
# bytes of them (sipp's error log puts many events on one line).
tail_log() {
	local label=$1 file=$2 lines=${3:-40} bytes=${4:-6000}
	[[ -s $file ]] || return 0
	printf '%s\n' "----- $label: end of $file -----" >&2
	tail -n "$lines" -- "$file" | tail -c "$bytes" >&2
	printf '\n' >&2
}

# Hook for scripts: called by the EXIT trap before processes are killed
# (print debugging output there).
# check DESCRIPTION EXPR: evaluate EXPR, log PASS/FAIL; a failure sets CHECK_FAILED=1 so the
# script can go on checking and report every problem before it exits.
CHECK_FAILED=0
CHECK_FAILURES=()
check() {
	if eval "$2"; then
		log "PASS: $1"
	else
		log "FAIL: $1"
		CHECK_FAILED=1
		CHECK_FAILURES+=("$1")
	fi
}

# checks_exit: end a script that ran checks. On failure the last line (the one meson's summary
# and CI show) repeats every failed check, not whichever PASS happened to be printed last.
checks_exit() {
	((CHECK_FAILED)) || exit 0
	local all
	all=$(printf ' [%s]' "${CHECK_FAILURES[@]}")
	log "FAILED ${#CHECK_FAILURES[@]} check(s):$all"
	exit 1
}

# sipp_ok NAME / sipp_failed NAME: successful / failed calls in sipp's statistics CSV
# $TMPDIR_E2E/NAME.csv (written with -trace_stat -stf); fields 16 and 18 are the cumulative
# SuccessfulCall(C) and FailedCall(C).
sipp_ok() { tail -1 "$TMPDIR_E2E/$1.csv" | awk -F';' '{print $16}'; }
sipp_failed() { tail -1 "$TMPDIR_E2E/$1.csv" | awk -F';' '{print $18}'; }

# SIPP_BUFF: sipp's socket buffers. Its default (-buff_size 65535) holds about a hundred
# datagrams: a sipp UAC descheduled for a few hundred ms on a busy 2-core CI machine loses
# responses in its kernel receive buffer (RcvbufErrors), and when the member is on TCP nothing
# retransmits a lost 2xx (sipp does not, over TCP, what RFC 3261 13.3.1.4 asks of a UAS core).
# 4 MiB; the kernel caps it at net.core.rmem_max.
SIPP_BUFF=(-buff_size 4194304)

# udp_rcvbuf_errors: datagrams the kernel of this network namespace dropped because a UDP
# socket's receive buffer was full (IPv4 and IPv6): says why a sipp run lost responses.
udp_rcvbuf_errors() {
	awk '/^Udp: [0-9]/ { n += $6 } /^Udp6RcvbufErrors/ { n += $2 } END { print n + 0 }' \
		/proc/net/snmp /proc/net/snmp6
}

# sipp_uac_bg NAME TARGET ADDR CALLS RATE [PAUSE_MS]: sipp's built-in INVITE UAC from ADDR
# (a fresh port) to TARGET in the background, with its stat CSV in $TMPDIR_E2E/NAME.csv; sets
# UAC_PID. Calls last PAUSE_MS (default 0) between the 200 and the BYE.
sipp_uac_bg() {
	local name=$1 target=$2 addr=$3 calls=$4 rate=$5 pause=${6:-0}
	pick_udp_port "$addr"
	start_bg "$name" sipp -sn uac "$target" -i "$addr" -p "$PICKED_PORT" -m "$calls" \
		-r "$rate" -d "$pause" -nostdin "${SIPP_BUFF[@]}" -recv_timeout 10000 -trace_stat \
		-stf "$TMPDIR_E2E/$name.csv" -fd 1
	UAC_PID=${BG_PID[$name]}
}

# requests_in NAME METHOD: METHOD requests a sipp UAS logged in $TMPDIR_E2E/NAME.msg
# (-trace_msg -message_file); invites NAME: its INVITEs.
requests_in() { grep -c "^$2 " "$TMPDIR_E2E/$1.msg" 2>/dev/null || true; }
invites() { requests_in "$1" INVITE; }

# field NAME LINE: the number after " NAME=" in one of viaduct's "stats ..." lines, or "".
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2" | head -n 1; }

# prom_valid FILE [PREFIX]: every line of FILE is a comment or a sample "NAME[{LABELS}] VALUE"
# of a family declared by a "# TYPE" line; with PREFIX, some family's name starts with it. An
# assertion error on stderr says which line is wrong. Needs python3.
prom_valid() {
	python3 - "$1" "${2:-}" <<'PY'
import re, sys
types = {}
for line in open(sys.argv[1]):
    line = line.rstrip('\n')
    if line.startswith('# TYPE '):
        _, _, name, kind = line.split(' ', 3); types[name] = kind; continue
    if line.startswith('#') or not line: continue
    m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([0-9.eE+-]+)', line)
    assert m, line
    assert m.group(1) in types, 'no TYPE for ' + m.group(1)
prefix = sys.argv[2]
assert not prefix or any(t.startswith(prefix) for t in types), 'no ' + prefix + ' family'
PY
}

# metric FILE NAME LABELS: the value of the sample NAME{LABELS} (the exact label text) in the
# Prometheus text FILE, or "".
metric() { grep -F "$2{$3} " "$1" | awk '{print $2}' | head -n 1; }

on_exit_hook() { :; }

_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	on_exit_hook "$rc" || true
	for pid in "${BG_PIDS[@]}"; do
		is_running "$pid" && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${BG_PIDS[@]}"; do
		is_running "$pid" && { stop_pid "$pid" TERM 5 || true; }
	done
	if [[ -n $TMPDIR_E2E && -d $TMPDIR_E2E ]]; then
		if [[ -n ${E2E_KEEP:-} ]]; then
			log "keeping $TMPDIR_E2E (E2E_KEEP set)"
		else
			rm -rf -- "$TMPDIR_E2E"
		fi
	fi
	exit "$rc"
}

install_cleanup_trap() {
	trap _cleanup EXIT
	trap 'log "interrupted"; exit 130' INT
	trap 'log "terminated (time limit?)"; exit 143' TERM
}

# bench_out NAME: a benchmark's output directory. OUT as given, else BUILD/bench/NAME/out-quick
# with --quick (QUICK=1), else the script's own out/ (HERE/out); made absolute, with a fresh
# LOGS=OUT/logs. The caller removes its own result files.
bench_out() {
	if [[ -z ${OUT:-} ]]; then
		if ((QUICK)); then OUT=$BUILD/bench/$1/out-quick; else OUT=$HERE/out; fi
	fi
	mkdir -p "$OUT"
	OUT=$(cd "$OUT" && pwd)
	LOGS=$OUT/logs
	rm -rf "$LOGS"
	mkdir -p "$LOGS"
}
