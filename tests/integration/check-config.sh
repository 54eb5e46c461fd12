#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# check-config.sh: CLI test of `viaduct --check-config FILE`.
#
# usage: check-config.sh VIADUCT_BIN REPO_ROOT
#
# Checks:
#   - REPO_ROOT/rules/example.yaml (the shipped example) is accepted: exit 0;
#   - a minimal valid config written here is accepted (so the bad configs
#     below fail because of the one thing changed in each, nothing else);
#   - each bad config is rejected: exit status non-zero (and not a crash
#     by signal), with an error message naming the offending field:
#       listener port 70000       -> "listeners[0].port"
#       an unknown top-level key  -> the key's name
#       pool with no members      -> "pool.members"
# Prints one PASS/FAIL line per check and "N passed, N failed" at the end;
# exits 0 only if every check passed.

# shellcheck source-path=SCRIPTDIR
set -euo pipefail

TEST_NAME=check-config
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

if (($# != 2)); then
	echo "usage: $0 VIADUCT_BIN REPO_ROOT" >&2
	exit 2
fi
run_bounded "${CHECK_CONFIG_TIMEOUT:-60}" "$@"

VIADUCT_BIN=$1
REPO_ROOT=$2
[[ -x $VIADUCT_BIN ]] || die "viaduct binary '$VIADUCT_BIN' not found or not executable"

install_cleanup_trap
make_tmpdir
T=$TMPDIR_E2E
PASSED=0
FAILED=0

pass() {
	log "PASS: $*"
	PASSED=$((PASSED + 1))
}
fail() {
	log "FAIL: $*"
	FAILED=$((FAILED + 1))
}

# run_check FILE: run viaduct --check-config FILE (bounded), output in
# $T/out, status in RC.
run_check() {
	RC=0
	timeout -k 2 10 "$VIADUCT_BIN" --check-config "$1" >"$T/out" 2>&1 </dev/null || RC=$?
}

show_output() {
	sed 's/^/    | /' "$T/out" | head -n 20 >&2
}

# expect_ok LABEL FILE
expect_ok() {
	run_check "$2"
	if ((RC == 0)); then
		pass "$1: accepted (exit 0)"
	else
		fail "$1: rejected with exit $RC, want 0; output:"
		show_output
	fi
}

# expect_error LABEL FILE NEEDLE: non-zero exit, not killed by a signal or
# timeout, output containing NEEDLE (a fixed string).
expect_error() {
	local label=$1 file=$2 needle=$3
	run_check "$file"
	if ((RC == 0)); then
		fail "$label: accepted (exit 0), want an error mentioning '$needle'; output:"
		show_output
	elif ((RC == 124 || RC > 128)); then
		fail "$label: exit $RC (timeout or killed by a signal), want a clean error; output:"
		show_output
	elif ! grep -qF -- "$needle" "$T/out"; then
		fail "$label: exit $RC but the message does not mention '$needle'; output:"
		show_output
	else
		pass "$label: rejected (exit $RC): $(grep -F -m1 -- "$needle" "$T/out")"
	fi
}

# --- the shipped example ----------------------------------------------------
EXAMPLE=$REPO_ROOT/rules/example.yaml
if [[ -f $EXAMPLE ]]; then
	expect_ok "rules/example.yaml" "$EXAMPLE"
else
	fail "rules/example.yaml: missing ($EXAMPLE)"
fi

# --- a minimal valid config and variants with one fault each ---------------
# write_config FILE LISTEN_PORT EXTRA_TOP_LEVEL_LINE MEMBERS_BLOCK
write_config() {
	local file=$1 port=$2 extra=$3 members=$4
	{
		echo "# written by check-config.sh"
		echo "workers: 2"
		[[ -n $extra ]] && echo "$extra"
		cat <<EOF
listeners:
  - address: 127.0.0.1
    port: $port
pool:
  name: pcscf
  hash: call-id
EOF
		echo "$members"
	} >"$file"
}

MEMBERS='  members:
    - host: 127.0.0.1
      port: 5070
      weight: 1
    - host: 127.0.0.1
      port: 5080
      weight: 1'

write_config "$T/good.yaml" 5060 "" "$MEMBERS"
expect_ok "minimal valid config" "$T/good.yaml"

write_config "$T/bad-port.yaml" 70000 "" "$MEMBERS"
expect_error "listener port 70000" "$T/bad-port.yaml" "listeners[0].port"

write_config "$T/unknown-key.yaml" 5060 "frobnicate_level: 3" "$MEMBERS"
expect_error "unknown key frobnicate_level" "$T/unknown-key.yaml" "frobnicate_level"

write_config "$T/empty-members.yaml" 5060 "" "  members: []"
expect_error "empty pool.members" "$T/empty-members.yaml" "pool.members"

# --- verdict ----------------------------------------------------------------
echo "check-config: $PASSED passed, $FAILED failed"
((FAILED == 0))
