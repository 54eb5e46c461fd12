#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs every build, test and benchmark dependency of viaduct from Debian 12's archive.
# Idempotent: apt-get skips what is already installed. Run as root (or through sudo).
set -euo pipefail

packages=(
	# build
	build-essential meson ninja-build pkg-config clang llvm libclang-rt-14-dev
	scdoc           # the manuals: man/*.scd -> viaduct(8), viaductctl(8), viaduct.yaml(5)
	# libraries of the product
	libhyperscan-dev liburcu-dev libjemalloc-dev libcyaml-dev libmicrohttpd-dev libxxhash-dev libsodium-dev
	libssl-dev openssl
	libsystemd-dev  # sd_notify: Type=notify readiness, status and watchdog
	systemd         # systemd-analyze verify of contrib/systemd (tests/systemd/verify.sh)
	dpdk-dev libdpdk-dev
	# tests
	libcriterion-dev sip-tester iproute2 procps python3 python3-yaml
	man-db groff-base   # tests/docs/manuals.py renders the manuals as lintian does
	# tests/observability: promtool (check/test rules) and prometheus (scrapes a test viaduct);
	# Debian ships promtool in no smaller package. Its daemon is not wanted: see below.
	prometheus
	# HEP capture test (tests/integration/hep.sh): dumpcap and tshark read the wire, sngrep
	# decodes HEP3 (Debian's tshark 4.0 has no HEP dissector)
	tshark sngrep
	# interop tests (tests/interop: Kamailio registrars, sipsak, baresip headless, SIPVicious)
	kamailio kamailio-tls-modules sipsak baresip-core sipvicious
	# benchmarks (bench/ only)
	libosip2-dev libsofia-sip-ua-dev gnuplot-nox   # (and kamailio, listed above, for bench/compare)
)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages already installed"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture: no (dumpcap stays root-only)
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The prometheus package enables and starts prometheus.service (port 9090, scraping itself)
# where systemd runs. The tests start a Prometheus of their own in a network namespace; a
# daemon this script brought in is stopped and disabled again (one installed before is left
# alone: it was not missing).
if [[ " ${missing[*]} " == *" prometheus "* && -d /run/systemd/system ]]; then
	$SUDO systemctl disable --now prometheus.service || true
fi
echo "install-deps: done"
