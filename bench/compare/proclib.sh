# SPDX-License-Identifier: BSD-3-Clause
#
# proclib.sh: what the side-by-side benchmarks (compare.sh, streams.sh) read of a proxy's
# processes: the process tree (Kamailio forks its workers) and their CPU time. Sourced.

# proc_tree PID: PID and all its descendants (Kamailio forks its workers from the main process).
proc_tree() {
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			q[1] = root; n = 1
			for (i = 1; i <= n; i++) {
				printf "%s%s", (i > 1 ? " " : ""), q[i]
				m = split(kids[q[i]], k, " ")
				for (j = 1; j <= m; j++) q[++n] = k[j]
			}
			print ""
		}'
}

# cpu_ticks PID...: utime+stime summed over the processes (a process's stat counts all threads).
cpu_ticks() {
	local pid stat sum=0
	for pid in "$@"; do
		read -r stat 2>/dev/null <"/proc/$pid/stat" || continue
		stat=${stat##*) }
		# fields after "comm)": state=1 ... utime=12 stime=13
		read -r -a f <<<"$stat"
		sum=$((sum + f[11] + f[12]))
	done
	echo "$sum"
}
