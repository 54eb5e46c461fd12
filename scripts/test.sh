#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test.sh: THE one command that runs viaduct's whole test suite.
#
# usage: scripts/test.sh [--quick]
#
# Installs the dependencies (scripts/install-deps.sh), then builds and tests in
# fresh build directories under the repository root:
#   a. normal      build-test/  debugoptimized; meson test, all suites
#   b. sanitizers  build-asan/  ASan + UBSan (+ LSan); meson test, all suites
#   b2. tsan       build-tsan/  ThreadSanitizer, the multi-threaded end-to-end tests
#   c. fuzz        build-fuzz/  clang + libFuzzer; scripts/fuzz.sh, 30 s per target
# --quick runs stage a only (for developers).
#
# After each meson test run it prints every test with its criterion
# "Synthesis:" line (or the last line of its output), and it prints the time
# each stage took.  The last line is "viaduct: N passed, N failed", counting
# the meson tests of the stages that ran plus 1 per fuzz target run (a stage
# that fails to configure or build counts as 1 failed, the fuzz stage 1 per
# target).  Exit status 0 only if nothing failed.  Nothing started here
# outlives the script.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

QUICK=0
# the libFuzzer targets (tests/fuzz/meson.build), each run for FUZZ_SECONDS
FUZZ_TARGETS=(fuzz_proxy fuzz_proxy_rules fuzz_frame fuzz_config)
FUZZ_SECONDS=30
for arg in "$@"; do
	case $arg in
	--quick) QUICK=1 ;;
	-h | --help)
		sed -n '4,20s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "usage: $0 [--quick]" >&2
		exit 2
		;;
	esac
done

PASSED=0
FAILED=0
SKIPPED=0
TIMES=()
T0=$SECONDS

banner() { printf '\n==== %s ====\n' "$*"; }

# note_time LABEL START: remember how long a stage took.
note_time() {
	local line
	line=$(printf '%-28s %4d s' "$1" $((SECONDS - $2)))
	TIMES+=("$line")
	echo "time: $line"
}

# report BUILDDIR: one line per test of the last meson test run in BUILDDIR
# (from meson-logs/testlog.json), then "passed failed skipped" on the last line.
report() {
	python3 - "$1/meson-logs/testlog.json" <<'EOF'
import json, re, sys

good = {"OK", "EXPECTEDFAIL"}
skip = {"SKIP"}
passed = failed = skipped = crit = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if not line.strip():
        continue
    t = json.loads(line)
    res = t.get("result", "?")
    if res in good:
        passed += 1
    elif res in skip:
        skipped += 1
    else:
        failed += 1
    stdout, stderr = t.get("stdout") or "", t.get("stderr") or ""
    # criterion's summary, else the test's last line on stdout (the
    # integration tests print their one-line summary there), else on stderr
    syn = re.findall(r"Synthesis: (Tested: (\d+) \|.*)", stdout + "\n" + stderr)
    if syn:
        what = " ; ".join(s[0].strip() for s in syn)
        crit += sum(int(s[1]) for s in syn)
    else:
        lines = [l.strip() for l in stdout.splitlines() if l.strip()]
        lines = lines or [l.strip() for l in stderr.splitlines() if l.strip()]
        what = lines[-1][:160] if lines else "(no output)"
    if res not in good | skip and t.get("returncode") is not None:
        # e.g. a leak LSan finds as a criterion worker exits: criterion counts
        # the test as passed but exits non-zero
        what += "  [exit status %s]" % t["returncode"]
    print("  %-8s %-34s %6.1fs  %s" % (res, t.get("name", "?"), t.get("duration") or 0, what))
if crit:
    print("  criterion: %d test cases ran in the unit test binaries" % crit)
print(passed, failed, skipped)
EOF
}

# meson_stage LABEL BUILDDIR 'SETUP ARGS' 'TEST ARGS' [VAR=VALUE...]
# Fresh setup, ninja, meson test (all suites); the VAR=VALUE pairs are the
# environment of the tests only.  Adds to PASSED / FAILED / SKIPPED.
meson_stage() {
	local label=$1 dir=$2 setup_args test_args start rc=0 out counts p f s
	read -r -a setup_args <<<"$3"
	read -r -a test_args <<<"$4"
	shift 4
	start=$SECONDS
	banner "$label: $dir"
	# Wiped every time: a stale build directory (old options, old objects)
	# must not decide the result.
	rm -rf -- "${ROOT:?}/$dir"
	if ! meson setup "$dir" "${setup_args[@]}"; then
		echo "test.sh: FAIL: meson setup $dir" >&2
		FAILED=$((FAILED + 1))
		note_time "$label" "$start"
		return 0
	fi
	if ! ninja -C "$dir"; then
		echo "test.sh: FAIL: build in $dir" >&2
		FAILED=$((FAILED + 1))
		note_time "$label" "$start"
		return 0
	fi
	env "$@" meson test -C "$dir" --print-errorlogs "${test_args[@]}" || rc=$?
	echo "---- $label: tests run (meson-logs/testlog.json) ----"
	if [[ -s $dir/meson-logs/testlog.json ]] && out=$(report "$dir"); then
		printf '%s\n' "$out" | sed '$d'
		counts=$(printf '%s\n' "$out" | tail -n 1)
		read -r p f s <<<"$counts"
	else
		echo "test.sh: no test log in $dir/meson-logs" >&2
		p=0 f=0 s=0
	fi
	# meson's own verdict wins if it disagrees with the log
	if ((rc != 0 && f == 0)); then
		echo "test.sh: meson test exited with status $rc" >&2
		f=1
	fi
	if ((p + f == 0)); then
		echo "test.sh: FAIL: meson test ran no test in $dir" >&2
		f=1
	fi
	echo "$label: $p passed, $f failed, $s skipped"
	((s == 0)) || echo "test.sh: WARNING: $s test(s) skipped in $dir (see above)" >&2
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	SKIPPED=$((SKIPPED + s))
	note_time "$label" "$start"
}

# ---- dependencies -------------------------------------------------------------
banner "dependencies"
start=$SECONDS
scripts/install-deps.sh
note_time "dependencies" "$start"

# ---- a. normal build --------------------------------------------------------------
meson_stage "a. normal" build-test "--buildtype=debugoptimized" ""

if ((QUICK == 0)); then
	# ---- b. sanitizers ------------------------------------------------------------
	# Criterion runs each test in a forked worker: an ASan/UBSan error aborts
	# or exits the worker, and a leak found by LSan when the worker exits is
	# reported as "crashed during its setup or teardown"; criterion exits
	# non-zero in all three cases, so meson counts the test as failed.
	meson_stage "b. sanitizers" build-asan \
		"-Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug" \
		"--timeout-multiplier 3" \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 VD_TEST_SLOW=1

	# ---- b2. ThreadSanitizer: the multi-threaded paths (RCU publication under load,
	# health changes published by the control thread, the admin API's thread, TCP hand-offs
	# between workers) ----------------------------------------------------------------------
	meson_stage "b2. thread sanitizer" build-tsan \
		"-Db_sanitize=thread -Db_lundef=false --buildtype=debug" \
		"--timeout-multiplier 3 reload-under-load health-probing admin-api tcp edge" \
		TSAN_OPTIONS=halt_on_error=1:exitcode=66 VD_TEST_SLOW=1

	# ---- c. fuzz -------------------------------------------------------------------
	# -Dfuzz=true instruments the whole build (see meson.build), the core library above all.
	# Each target is one test: a bounded run (scripts/fuzz.sh) with no finding passes.
	banner "c. fuzz: build-fuzz"
	start=$SECONDS
	rm -rf -- "${ROOT:?}/build-fuzz"
	fuzz_pass=0
	fuzz_fail=0
	CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false || true
	if [[ ! -f build-fuzz/build.ninja ]]; then
		echo "test.sh: FAIL: meson setup build-fuzz" >&2
		fuzz_fail=${#FUZZ_TARGETS[@]}
	elif ! ninja -C build-fuzz "${FUZZ_TARGETS[@]/#/tests/fuzz/}"; then
		echo "test.sh: FAIL: building the fuzz targets in build-fuzz" >&2
		fuzz_fail=${#FUZZ_TARGETS[@]}
	else
		for t in "${FUZZ_TARGETS[@]}"; do
			if scripts/fuzz.sh "build-fuzz/tests/fuzz/$t" "$FUZZ_SECONDS"; then
				fuzz_pass=$((fuzz_pass + 1))
			else
				fuzz_fail=$((fuzz_fail + 1))
			fi
		done
	fi
	PASSED=$((PASSED + fuzz_pass))
	FAILED=$((FAILED + fuzz_fail))
	echo "c. fuzz: $fuzz_pass passed, $fuzz_fail failed"
	note_time "c. fuzz" "$start"
fi

# ---- summary ---------------------------------------------------------------------
banner "summary"
for line in "${TIMES[@]}"; do
	echo "time: $line"
done
echo "time: $(printf '%-28s %4d s' total $((SECONDS - T0)))"
((SKIPPED == 0)) || echo "test.sh: $SKIPPED test(s) skipped (not counted below)"
((QUICK == 0)) || echo "test.sh: --quick: stage a only"
echo "viaduct: $PASSED passed, $FAILED failed"
((FAILED == 0))
