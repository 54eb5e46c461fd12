# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034 # variables set here are for the caller
# SPDX-License-Identifier: BSD-3-Clause
#
# netns_lib.sh: what the DPDK end-to-end tests (e2e_tap.sh, health_tap.sh, control.sh) share:
# viaduct --dpdk on a TAP vdev whose kernel side is moved into a network namespace the test
# creates. Sourced, not run; it sources ../integration/lib.sh (log, start_bg, check, ...).
#
# Provides:
#   skip REASON                 log "SKIP: REASON", exit 77
#   netns_setup                 skip (77) unless root, sipp, ip, /dev/net/tun and a TAP device
#                               and a namespace can be created; then sets R (random suffix),
#                               NS=vdns-R (created), TAP=vdtapR (not created: the TAP PMD does),
#                               PREFIX=vdR (EAL --file-prefix), VD_EAL (the EAL arguments of a
#                               one-port TAP vdev, without -l), installs the EXIT trap and makes
#                               the temp dir T (= TMPDIR_E2E)
#   netns_add NAME              one more namespace (skip if it cannot be created), deleted at exit
#   cleanup_link NAME           delete interface NAME at exit if it is still in the root namespace
#   on_failure                  hook for the script: print logs when exiting non-zero
#   nsx CMD...                  CMD inside $NS
#   wait_for_ns_udp_port ADDR PORT SECS [PID]   lib.sh's wait_for_udp_port, inside $NS
#   pool_config WORKERS [LISTENER_LINE]   viaduct YAML: the listener VD_IP:VD_PORT and the pool
#                               "tap" of UAS1_IP:UAS1_PORT and UAS2_IP:UAS2_PORT
#   start_viaduct ARGS...       viaduct --dpdk -c $T/viaduct.yaml ARGS... in the background (log
#                               $T/viaduct.log), waited for until ready; sets VD_PID and PORT_MAC
#   link_into_ns NS IFACE PLEN ADDR...   move IFACE into NS, lo and IFACE up, the addresses on
#                               IFACE (IPv6 with nodad: usable at once, no duplicate detection)
#
# At exit (on_exit_hook, run by lib.sh's EXIT trap): on_failure if the exit status is not 0,
# every started process stopped by PID before the namespaces go, the namespaces and leftover
# interfaces deleted, /var/run/dpdk/PREFIX removed.

NETNS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../integration/lib.sh
source "$NETNS_LIB_DIR/../integration/lib.sh"

NETNS_CREATED=()
NETNS_LINKS=()
PREFIX=""

skip() { log "SKIP: $*"; exit 77; }

netns_setup() {
	((EUID == 0)) || skip "needs root (network namespaces, TAP device)"
	command -v sipp >/dev/null || skip "sipp not installed (Debian package sip-tester)"
	command -v ip >/dev/null || skip "iproute2 (ip) not installed"
	[[ -c /dev/net/tun ]] || skip "no /dev/net/tun: cannot create a TAP device"

	R=$(printf '%04x%02x' $((RANDOM)) $(($$ % 256)))
	NS=vdns-$R
	TAP=vdtap$R
	PREFIX=vd$R
	# a trial TAP: skip (not fail) where TAP devices cannot be made
	ip tuntap add dev "$TAP" mode tap 2>/dev/null || skip "cannot create a TAP device ($TAP)"
	ip tuntap del dev "$TAP" mode tap
	netns_add "$NS"
	cleanup_link "$TAP" # only if it never left the root namespace
	VD_EAL=(--no-huge --no-pci -m 512 --file-prefix="$PREFIX" --vdev="net_tap0,iface=$TAP")

	install_cleanup_trap
	make_tmpdir
	T=$TMPDIR_E2E
}

netns_add() {
	ip netns add "$1" 2>/dev/null || skip "cannot create network namespace $1"
	NETNS_CREATED+=("$1")
}

cleanup_link() { NETNS_LINKS+=("$1"); }

# shellcheck disable=SC2317 # overridden by the scripts
on_failure() { :; }

# shellcheck disable=SC2317 # called from lib.sh's EXIT trap
on_exit_hook() {
	local rc=$1 pid ns link
	((rc == 0)) || on_failure
	# stop everything (by PID) before the namespaces go
	for pid in "${BG_PIDS[@]}"; do
		is_running "$pid" && { stop_pid "$pid" TERM 5 || true; }
	done
	for ns in "${NETNS_CREATED[@]}"; do
		ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"
	done
	for link in "${NETNS_LINKS[@]}"; do
		ip link del "$link" 2>/dev/null || true
	done
	[[ -z $PREFIX ]] || rm -rf -- "/var/run/dpdk/$PREFIX"
}

nsx() { ip netns exec "$NS" "$@"; }

# lib.sh's udp_bound looks with ss: inside $SS_NS while wait_for_ns_udp_port runs
ss() { if [[ -n ${SS_NS:-} ]]; then ip netns exec "$SS_NS" ss "$@"; else command ss "$@"; fi; }
wait_for_ns_udp_port() {
	local SS_NS=$NS
	wait_for_udp_port "$@"
}

pool_config() {
	cat <<EOC
workers: $1
listeners:
  - address: "$VD_IP"
    port: $VD_PORT
${2:-}
pool:
  name: tap
  hash: call-id
  members:
    - host: "$UAS1_IP"
      port: $UAS1_PORT
    - host: "$UAS2_IP"
      port: $UAS2_PORT
EOC
}

start_viaduct() {
	start_bg_merged viaduct "$BIN" --dpdk -c "$T/viaduct.yaml" "$@"
	VD_PID=${BG_PID[viaduct]}
	wait_for_log "$T/viaduct.log" 'viaduct: ready: dpdk port' 30 "$VD_PID" ||
		die "viaduct --dpdk did not print 'viaduct: ready'"
	# the DPDK port's own MAC (not the kernel side's): what the namespace must learn for VD_IP
	PORT_MAC=$(sed -n 's/.*viaduct: ready: .* mac \([0-9A-Fa-f:]*\),.*/\1/p' "$T/viaduct.log" | head -n 1)
	PORT_MAC=${PORT_MAC,,}
}

link_into_ns() {
	local ns=$1 iface=$2 plen=$3 a
	shift 3
	ip link set "$iface" netns "$ns"
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" ip link set "$iface" up
	for a; do
		if [[ $a == *:* ]]; then
			ip netns exec "$ns" ip addr add "$a/$plen" dev "$iface" nodad
		else
			ip netns exec "$ns" ip addr add "$a/$plen" dev "$iface"
		fi
	done
}

