#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs every dependency (scripts/install-deps.sh) and builds viaduct in build/ (release).
# Idempotent: re-running reuses the configured build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -f build/build.ninja ]; then
	meson setup --reconfigure build --buildtype=release >/dev/null
else
	meson setup build --buildtype=release
fi
ninja -C build
echo "build: done: build/viaduct"
