#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# examples.sh VIADUCT_BIN REPO_ROOT: every shipped example in rules/*.yaml validates with
# `viaduct --check-config` (exit 0), so the examples cannot rot as the config grows.
#
# A file without a top-level `listeners:` is an include file (rules and pools only, such as
# rules/scanners.yaml): it cannot load on its own, so it is checked through a main file that
# includes it (one listener, one pool named "check"). The main files that include it check it
# again in context.
set -euo pipefail
VIADUCT=$1
ROOT=$(cd "$2" && pwd) # absolute: an include path is relative to the including file
TMP=$(mktemp -d "${TMPDIR:-/tmp}/viaduct-examples.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT
passed=0 failed=0
for f in "$ROOT"/rules/*.yaml; do
	target=$f
	if ! grep -q '^listeners:' "$f"; then
		target=$TMP/include-${f##*/}
		printf '%s\n' "# checks the include file $f" "listeners:" \
			"  - { address: 127.0.0.1, port: 5060 }" "pool:" "  name: check" \
			"  members:" "    - { host: 127.0.0.1, port: 5070 }" "include: [\"$f\"]" >"$target"
	fi
	if out=$("$VIADUCT" --check-config "$target" 2>&1); then
		echo "examples: PASS: ${f##*/}: $out"
		passed=$((passed + 1))
	else
		echo "examples: FAIL: $f: $out"
		failed=$((failed + 1))
	fi
done
echo "examples: $passed passed, $failed failed"
((failed == 0 && passed > 0))
