#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# examples.sh VIADUCT_BIN REPO_ROOT: every shipped example in rules/*.yaml validates with
# `viaduct --check-config` (exit 0), so the examples cannot rot as the config grows.
set -euo pipefail
VIADUCT=$1
ROOT=$2
passed=0 failed=0
for f in "$ROOT"/rules/*.yaml; do
	if out=$("$VIADUCT" --check-config "$f" 2>&1); then
		echo "examples: PASS: $out"
		passed=$((passed + 1))
	else
		echo "examples: FAIL: $f: $out"
		failed=$((failed + 1))
	fi
done
echo "examples: $passed passed, $failed failed"
((failed == 0 && passed > 0))
