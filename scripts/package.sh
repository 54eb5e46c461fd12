#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds the Debian package in one command (Debian 12, as root or through sudo): installs what
# packaging needs (debhelper, devscripts, lintian) and the build dependencies debian/control
# names, runs dpkg-buildpackage -us -uc -b on a clean copy of the tree, checks the result with
# lintian, and leaves viaduct_<version>_<arch>.deb, its -dbgsym .deb, .buildinfo and .changes
# in dist/.
#   scripts/package.sh            build, lintian (exit 1 on a lintian error or warning)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

tools=(debhelper devscripts lintian dpkg-dev fakeroot equivs build-essential)
missing=()
for p in "${tools[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# the build dependencies of debian/control (a throw-away viaduct-build-deps package holds them)
if ! dpkg-checkbuilddeps "$root/debian/control" 2>/dev/null; then
	(cd "$(mktemp -d)" && $SUDO mk-build-deps --install --remove \
		--tool 'apt-get -y -qq --no-install-recommends' "$root/debian/control")
fi

# a clean copy: no build directories, no dist/, nothing untracked of the checkout's
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src="$work/viaduct"
mkdir "$src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
	grep -zv -e '^dist/' -e '^build' | xargs -0 cp --parents -d -t "$src")
(cd "$src" && dpkg-buildpackage -us -uc -b)

mkdir -p "$root/dist"
version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
for f in "$work"/viaduct*_"${version}"_*; do
	cp "$f" "$root/dist/"
done
echo "package: built into dist/:"
ls -1 "$root/dist/" | grep -F "_${version}_"

changes="$root/dist/viaduct_${version}_${arch}.changes"
echo "package: lintian $changes"
lintian --fail-on error,warning --info "$changes"
echo "package: lintian clean"
