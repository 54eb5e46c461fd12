#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs the package scripts/package.sh built (dist/) on this machine and runs it as a
# carrier would, then purges it (as root; Debian 12):
#   dpkg -i -> the viaduct user, the programs, the units, /etc/viaduct/viaduct.yaml as a
#   conffile -> viaduct --check-config on it -> start: with systemd as PID 1, systemctl
#   start/status/reload/stop (Type=notify: start returns once viaduct is ready); without it
#   (containers), /usr/sbin/viaduct run as the viaduct user with runuser, SIGHUP, SIGTERM ->
#   viaductctl status against it -> dpkg --purge -> the user, the config and the programs gone.
# The installed config listens on 127.0.0.1/[::1] port 5060 and the admin API on 8080: those
# must be free. Exit 0 when every step passed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "package-test: run as root" >&2; exit 2; }
version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
deb="$root/dist/viaduct_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || { echo "package-test: $deb missing: run scripts/package.sh" >&2; exit 2; }
conf=/etc/viaduct/viaduct.yaml
log=$(mktemp)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -f "$log"
}
trap cleanup EXIT
step() { echo "package-test: $*"; }
fail() {
	echo "package-test: FAIL: $*" >&2
	[ -s "$log" ] && sed 's/^/  viaduct: /' "$log" >&2
	exit 1
}

step "dpkg -i $(basename "$deb")"
export DEBIAN_FRONTEND=noninteractive
dpkg -i "$deb" || { apt-get install -y -qq -f && dpkg -s viaduct >/dev/null; } ||
	fail "dpkg -i"
getent passwd viaduct >/dev/null || fail "no viaduct user after install"
for f in /usr/sbin/viaduct /usr/bin/viaductctl "$conf" /lib/systemd/system/viaduct.service \
	/lib/systemd/system/viaduct@.service /usr/share/doc/viaduct/examples/example.yaml \
	/usr/share/man/man8/viaduct.8.gz /usr/share/man/man8/viaductctl.8.gz \
	/usr/share/man/man5/viaduct.yaml.5.gz \
	/usr/share/doc/viaduct/examples/viaduct.json \
	/usr/share/doc/viaduct/examples/viaduct-alerts.yml; do
	[ -e "$f" ] || fail "$f not installed"
done
dpkg-query -W -f='${Conffiles}\n' viaduct | grep -q " $conf " || fail "$conf is no conffile"
step "installed: viaduct user $(id -u viaduct), $(/usr/sbin/viaduct --version), $conf a conffile"

step "viaduct --check-config $conf"
/usr/sbin/viaduct --check-config "$conf" || fail "--check-config"

wait_ready() { # the admin API answers
	for _ in $(seq 100); do
		viaductctl status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

if [ "$(ps -p 1 -o comm=)" = systemd ]; then
	step "systemd is PID 1: systemctl start/status/reload/stop viaduct"
	systemctl daemon-reload
	systemctl start viaduct || fail "systemctl start (journalctl -u viaduct)"
	systemctl is-active --quiet viaduct || fail "not active"
	systemctl status --no-pager viaduct | sed -n '1,12p'
	wait_ready || fail "admin API not answering"
	viaductctl status
	systemctl reload viaduct || fail "systemctl reload"
	sleep 1
	systemctl is-active --quiet viaduct || fail "not active after reload"
	systemctl show -p StatusText viaduct
	mainpid=$(systemctl show -p MainPID --value viaduct)
	step "stop (MainPID $mainpid)"
	systemctl stop viaduct || fail "systemctl stop"
	kill -0 "$mainpid" 2>/dev/null && fail "pid $mainpid still running after stop"
else
	step "PID 1 is $(ps -p 1 -o comm=), not systemd: /usr/sbin/viaduct as the viaduct user"
	runuser -u viaduct -- /usr/sbin/viaduct -c "$conf" 2>"$log" &
	pid=$!
	wait_ready || fail "admin API not answering"
	[ "$(ps -o user= -p "$(pgrep -P "$pid" viaduct || echo "$pid")")" = viaduct ] ||
		fail "not running as the viaduct user"
	grep -q "viaduct: ready" "$log" || fail "no ready line"
	step "viaductctl status"
	viaductctl status || fail "viaductctl status"
	vpid=$(pgrep -P "$pid" -x viaduct || echo "$pid")
	step "SIGHUP (reload) to $vpid"
	kill -HUP "$vpid"
	for _ in $(seq 50); do grep -q "reload (SIGHUP): snapshot 2 published" "$log" && break; sleep 0.1; done
	grep -q "reload (SIGHUP): snapshot 2 published" "$log" || fail "no reload"
	step "SIGTERM to $vpid"
	kill -TERM "$vpid"
	rc=0
	wait "$pid" || rc=$?
	pid=
	[ "$rc" -eq 0 ] || fail "exit code $rc after SIGTERM"
	kill -0 "$vpid" 2>/dev/null && fail "pid $vpid still running"
	grep -q "stats control reloads=1" "$log" || fail "no final counters"
	step "stopped cleanly (exit 0)"
fi

step "dpkg --purge viaduct"
dpkg --purge viaduct || fail "dpkg --purge"
! getent passwd viaduct >/dev/null || fail "viaduct user still there after purge"
! getent group viaduct >/dev/null || fail "viaduct group still there after purge"
for f in "$conf" /etc/viaduct /usr/sbin/viaduct /usr/bin/viaductctl \
	/lib/systemd/system/viaduct.service /usr/share/doc/viaduct /usr/share/man/man8/viaduct.8.gz; do
	[ ! -e "$f" ] || fail "$f still there after purge"
done
step "purged: no viaduct user or group, $conf and /etc/viaduct gone, programs and units gone"
step "PASS"
