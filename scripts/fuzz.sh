#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# fuzz.sh: a bounded libFuzzer run of a viaduct fuzz target, seeded with the SIP
# test corpus (tests/corpus/good, bad, rfc4475 and captured).
#
# usage: scripts/fuzz.sh FUZZ_BIN [SECONDS]      (SECONDS defaults to 60)
#
# The corpus is copied to a temporary directory (libFuzzer adds the inputs it
# finds there, so the repository is never modified); the temporary directory is
# removed on exit.  A crashing, leaking, slow or out-of-memory input is written
# to <repo>/build-fuzz/artifacts/; the script then says where it is, and exits
# non-zero.  Such an input must become a corpus file and a unit test.
# The full libFuzzer output is kept in <repo>/build-fuzz/fuzz.log; the console
# gets it without the per-new-input lines.
#
# exit: 0 no finding, 1 libFuzzer found a crash (or failed), 2 usage error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	echo "usage: $0 FUZZ_BIN [SECONDS]" >&2
	exit 2
}
(($# >= 1 && $# <= 2)) || usage
BIN=$1
SECS=${2:-60}
[[ $SECS =~ ^[1-9][0-9]*$ ]] || usage
[[ $BIN == */* ]] || BIN=./$BIN
if [[ ! -f $BIN || ! -x $BIN ]]; then
	echo "fuzz: '$1' is not an executable fuzz target (build it first, see scripts/test.sh)" >&2
	exit 2
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

ARTIFACTS=$ROOT/build-fuzz/artifacts/
LOG=$ROOT/build-fuzz/fuzz.log
mkdir -p "$ARTIFACTS"

CORPUS=$(mktemp -d "${TMPDIR:-/tmp}/viaduct-fuzz-corpus.XXXXXX")
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() { rm -rf -- "$CORPUS"; }
trap cleanup EXIT

n_seeds=0
for kind in good bad rfc4475 captured; do
	for f in "$ROOT"/tests/corpus/"$kind"/*.sip; do
		[[ -f $f ]] || continue
		# prefixed: a good and a bad file may share a name
		cp -- "$f" "$CORPUS/$kind-$(basename "$f")"
		n_seeds=$((n_seeds + 1))
	done
done
((n_seeds > 0)) || { echo "fuzz: no seed files in tests/corpus/{good,bad,rfc4475,captured}" >&2; exit 1; }

# UBSan only reports and carries on unless told to halt; make every finding a
# crash that libFuzzer records.  (ASan and LSan findings are fatal already.)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

echo "fuzz: $(basename "$BIN") for ${SECS}s, $n_seeds seed inputs, artifacts in $ARTIFACTS"
start=$SECONDS
rc=0
# -max_total_time bounds the run; timeout(1) is only a backstop should the
# target hang in a way libFuzzer's own -timeout does not catch (--foreground:
# the fuzzer stays in our process group, so Ctrl-C reaches it).
timeout --foreground --kill-after=10 $((SECS + 60)) \
	"$BIN" -max_total_time="$SECS" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$ARTIFACTS" "$CORPUS" </dev/null >"$LOG" 2>&1 || rc=$?

# Console: everything but the thousands of "#N NEW/REDUCE" progress lines and
# the recommended dictionary.
awk '
	/^#[0-9]+[ \t]+(NEW|REDUCE)[ \t]/ { fresh++; next }
	/^###### Recommended dictionary/ { dict = 1; next }
	/^###### End of recommended dictionary/ { dict = 0; next }
	dict { next }
	{ print }
	END { if (fresh) printf "fuzz: (%d NEW/REDUCE progress lines omitted, see the full log)\n", fresh }
' "$LOG"
echo "fuzz: full libFuzzer output in $LOG"

mapfile -t found < <(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$LOG")
if ((rc == 0)) && ((${#found[@]} == 0)); then
	echo "fuzz: PASS: no crash in $((SECONDS - start))s"
	exit 0
fi

echo "fuzz: FAIL: libFuzzer exited with status $rc after $((SECONDS - start))s" >&2
((rc == 124 || rc == 137)) &&
	echo "fuzz: the fuzzer did not stop by itself and was killed by timeout(1)" >&2
if ((${#found[@]})); then
	for f in "${found[@]}"; do
		echo "fuzz: crashing input: $f" >&2
		echo "fuzz:   reproduce: UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $BIN '$f'" >&2
	done
	echo "fuzz: each crashing input must become a corpus test: copy it into tests/corpus/bad/ (or" >&2
	echo "fuzz: good/) with its MANIFEST entry, add a unit test for it, then fix the bug." >&2
else
	echo "fuzz: no input was written; see $LOG" >&2
fi
exit 1
