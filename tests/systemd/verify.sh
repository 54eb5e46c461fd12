#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# systemd-analyze verify on contrib/systemd: viaduct.service, an instance of viaduct@.service,
# and viaduct.service with the DPDK drop-in. Clean means no output at all (verify exits 0 on
# warnings such as an unknown key). The units name /usr/sbin/viaduct, which verify checks is
# executable: the copies point at the built binary instead.
# Usage: verify.sh SOURCE_ROOT VIADUCT_BINARY. Exit 77 (skip) without systemd-analyze.
set -euo pipefail
root=$1 bin=$2
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for u in viaduct.service viaduct@.service; do
	sed "s|/usr/sbin/viaduct|$bin|g" "$root/contrib/systemd/$u" >"$tmp/$u"
done
mkdir "$tmp/nodpdk" "$tmp/dpdk" "$tmp/dpdk/viaduct.service.d"
cp "$tmp/viaduct.service" "$tmp/viaduct@.service" "$tmp/nodpdk/"
cp "$tmp/viaduct.service" "$tmp/dpdk/"
cp "$root/contrib/systemd/dpdk.conf.example" "$tmp/dpdk/viaduct.service.d/dpdk.conf"
fail=0
for unit in "$tmp/nodpdk/viaduct.service" "$tmp/nodpdk/viaduct@edge.service" \
	"$tmp/dpdk/viaduct.service"; do
	# --man=no: Documentation= names the manuals, not installed here (tests/docs/manuals.py
	# checks them)
	out=$(cd "$tmp" && systemd-analyze verify --man=no "$unit" 2>&1) || fail=1
	if [ -n "$out" ]; then
		echo "$out"
		fail=1
	fi
	echo "systemd-analyze verify ${unit#"$tmp"/}: $([ -z "$out" ] && echo clean || echo NOT clean)"
done
exit $fail
