#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# start_errors.sh: `viaduct --dpdk` refuses to start with a clear message and exit code 4 when
# EAL, the port or the memory cannot be set up, and exits 3 on a bad dpdk: section, without
# hanging or crashing. Each case is one bounded run; nothing is left running.
#
# usage: start_errors.sh VIADUCT_BIN
# exit: 0 pass, 1 fail, 2 usage, 77 skip (not root: EAL needs it).
#
# Cases (each: exit code, and a line on stderr that names the problem and what to try):
#   a. an EAL option EAL does not know                    -> 4, "EAL init failed"
#   b. no port at all (--no-pci, no --vdev)               -> 4, "no port"
#   c. dpdk.port names a device that is not there         -> 4, names the device
#   d. dpdk.exception names a device that is not there    -> 4, names the device
#   e. far too little memory for the mbuf pool (-m 16)    -> 4, "memory" / "-m"
#   f. a wildcard listener (the datapath must own an IP)  -> 4, "wildcard"
#   g. a bad dpdk: key value                              -> 3, "dpdk.gateway"

# check() evaluates its expression when called: single quotes on purpose (SC2016)
# shellcheck source-path=SCRIPTDIR disable=SC2016
set -euo pipefail

TEST_NAME=dpdk-start-errors
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../integration/lib.sh
source "$HERE/../integration/lib.sh"

(($# == 1)) || { echo "usage: $0 VIADUCT_BIN" >&2; exit 2; }
run_bounded 120 "$@"
BIN=$1
[[ -x $BIN ]] || die "viaduct binary '$BIN' not found or not executable"
((EUID == 0)) || { log "SKIP: needs root (DPDK EAL)"; exit 77; }

make_tmpdir
T=$TMPDIR_E2E
R=$(printf '%04x%02x' $((RANDOM)) $(($$ % 256)))
PREFIX=vdse$R
install_cleanup_trap
# shellcheck disable=SC2317 # called from lib.sh's EXIT trap
on_exit_hook() { rm -rf -- "/var/run/dpdk/$PREFIX"; }

# write_cfg FILE LISTENER_ADDRESS [extra YAML lines]
write_cfg() {
	local f=$1 addr=$2
	shift 2
	{
		printf 'workers: 1\nlisteners:\n  - address: "%s"\n    port: 5060\n' "$addr"
		[[ $addr != 0.0.0.0 ]] || printf '    advertise: 10.200.0.2\n'
		printf 'pool:\n  name: p\n  members:\n    - host: 10.200.0.3\n      port: 5070\n'
		for l in "$@"; do printf '%s\n' "$l"; done
	} >"$f"
}

# run_case NAME WANT_RC WANT_TEXT CONFIG [EAL ARGS...]: viaduct must exit WANT_RC within 60 s
# with WANT_TEXT (an extended regex) on its output.
run_case() {
	local name=$1 want_rc=$2 want=$3 cfg=$4 rc=0
	shift 4
	timeout -k 5 60 "$BIN" -c "$cfg" --dpdk -- "$@" >"$T/$name.out" 2>&1 || rc=$?
	local line
	line=$(grep -E -m1 "$want" "$T/$name.out" || true)
	check "$name: exit $rc (want $want_rc), message: ${line:-none matching /$want/}" \
		'[[ $rc == "$want_rc" && -n $line ]]'
	((rc == want_rc)) || tail_log "$name output" "$T/$name.out" 15
}

EAL=(--no-huge --no-pci -m 256 --file-prefix="$PREFIX" -l 0)
write_cfg "$T/plain.yaml" 10.200.0.2
run_case a.unknown-eal-option 4 'EAL init failed.*(--no-huge|-m 1024)' "$T/plain.yaml" \
	"${EAL[@]}" --no-such-eal-option
run_case b.no-port 4 'no port' "$T/plain.yaml" "${EAL[@]}"
write_cfg "$T/port.yaml" 10.200.0.2 'dpdk:' '  port: net_nosuch9'
run_case c.unknown-port 4 'net_nosuch9' "$T/port.yaml" "${EAL[@]}" --vdev=net_null0
write_cfg "$T/exc.yaml" 10.200.0.2 'dpdk:' '  exception: net_nosuch8'
run_case d.unknown-exception-port 4 'net_nosuch8' "$T/exc.yaml" "${EAL[@]}" --vdev=net_null0
run_case e.too-little-memory 4 '(memory|-m )' "$T/plain.yaml" --no-huge --no-pci -m 16 \
	--file-prefix="$PREFIX" -l 0 --vdev=net_null0
write_cfg "$T/wild.yaml" 0.0.0.0
run_case f.wildcard-listener 4 'wildcard' "$T/wild.yaml" "${EAL[@]}" --vdev=net_null0
write_cfg "$T/bad.yaml" 10.200.0.2 'dpdk:' '  gateway: "fd00::1"'
run_case g.bad-dpdk-section 3 'dpdk\.gateway' "$T/bad.yaml" "${EAL[@]}" --vdev=net_null0
checks_exit
