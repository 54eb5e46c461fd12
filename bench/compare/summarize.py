#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""summarize.py: turn the raw runs of compare.sh into summary.md and PNG plots (stdlib only).

usage: summarize.py OUT          write OUT/summary.md, OUT/*.dat, OUT/plot.gp, run gnuplot
       summarize.py --check OUT  the smoke-test assertions of compare.sh --quick (no speed)

Inputs in OUT, all written by compare.sh:
  results.csv   one row per loadgen step: rep, proxy (viaduct|kamailio|direct), phase (ramp,
                at50, at90), offered rate (0 = flat out), loadgen's numbers, the proxy's CPU
                seconds over the step, CPU cores (CPU s / step s), CPU us per request (a request
                and its reply: two messages through the proxy), summed VmRSS and Pss
  sipp.csv      one row per sipp UAC run: proxy, target cps, calls, successful, failed, cps, ok
  machine.txt   key=value: cpu, kernel, versions, pinning, parameters, runtime
  commands.txt  the exact commands run (deduplicated here)
  proxies.txt   each proxy run's exit line (viaduct's "stats total ... drops=")

Per proxy and repetition: max_ok = the highest achieved rate of a ramp step with <= 0.1% loss;
the at50/at90 steps were run at 50%/90% of that repetition's max_ok. The table shows the median
over repetitions of each figure.
"""
import csv
import os
import statistics
import subprocess
import sys

PROXIES = ("viaduct", "kamailio")
LOSS_OK = 0.1  # percent: the throughput criterion


def num(s, default=0.0):
    try:
        return float(s)
    except (TypeError, ValueError):
        return default


def read_rows(out):
    with open(os.path.join(out, "results.csv"), newline="") as f:
        return list(csv.DictReader(f))


def read_kv(path):
    kv = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, sep, v = line.rstrip("\n").partition("=")
                if sep:
                    kv[k] = v
    return kv


def per_rep(rows, proxy):
    """{rep: {max_ok, flat, at50, at90, cpu_cores_max, cpu_us_req, rss, pss}} for one proxy."""
    reps = {}
    for r in rows:
        if r["proxy"] != proxy:
            continue
        d = reps.setdefault(r["rep"], {"ramp": [], "search": [], "at50": None, "at90": None,
                                       "all": []})
        d["all"].append(r)
        if r["phase"] in ("ramp", "refine"):
            d["search"].append(r)
            if r["phase"] == "ramp":
                d["ramp"].append(r)
        else:
            d[r["phase"]] = r
    res = {}
    for rep, d in reps.items():
        ok = [r for r in d["search"] if num(r["loss_pct"], 100) <= LOSS_OK]
        best = max(ok, key=lambda r: num(r["achieved_msgs_per_s"]), default=None)
        flat = [r for r in d["ramp"] if num(r["offered_rate"]) == 0]
        res[rep] = {
            "max_ok": num(best["achieved_msgs_per_s"]) if best else 0.0,
            "best": best,
            "flat": flat[0] if flat else None,
            "at50": d["at50"],
            "at90": d["at90"],
            "rss": max(num(r["proxy_rss_kb"]) for r in d["all"]),
            "pss": max(num(r["proxy_pss_kb"]) for r in d["all"]),
            "procs": max(num(r["proxy_procs"]) for r in d["all"]),
        }
    return res


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def harness(reps, key):
    out = []
    for d in reps.values():
        r = d[key]
        if r is None:
            out.append(None)
            continue
        wall = wall_s(r)
        out.append((num(r.get("responder_cpu_s")) + num(r.get("loadgen_cpu_s"))) / wall if wall else None)
    return out


def wall_s(r):
    """Wall time of a step, recovered from the proxy CPU columns (cores = s / wall), else loadgen's."""
    c, s = num(r.get("proxy_cpu_cores")), num(r.get("proxy_cpu_s"))
    return s / c if c > 0 else num(r.get("duration_s"))


def loss_places(rows, proxy):
    """Over the steps of a proxy with loss > 0.1%: lost replies, and receive-buffer drops at the
    proxy's sockets, the pool's sockets, and machine-wide (which includes loadgen's sockets)."""
    tot = {"steps": 0, "lost": 0, "px": 0, "pool": 0, "all": 0}
    for r in rows:
        if r["proxy"] == proxy and num(r["loss_pct"]) > LOSS_OK:
            tot["steps"] += 1
            tot["lost"] += int(num(r["lost"]))
            tot["px"] += int(num(r.get("rcvbuf_drops_proxy")))
            tot["pool"] += int(num(r.get("rcvbuf_drops_pool")))
            tot["all"] += int(num(r.get("rcvbuf_drops_all")))
    return tot


def same_rate_cpu(rows, col="proxy_cpu_us_per_req"):
    """[(rate, viaduct, kamailio)] medians of column col at the ramp rates that both proxies
    carried at <= 0.1% loss in every repetition: CPU efficiency (or latency) at the same load,
    where batching helps neither more than the other."""
    out = []
    rates = sorted({int(num(r["offered_rate"])) for r in rows if r["phase"] == "ramp"} - {0})
    for rate in rates:
        vals = {}
        for p in PROXIES:
            rs = [r for r in rows if r["proxy"] == p and r["phase"] == "ramp"
                  and int(num(r["offered_rate"])) == rate]
            if not rs or any(num(r["loss_pct"], 100) > LOSS_OK for r in rs):
                break
            vals[p] = med([num(r[col]) for r in rs])
        if len(vals) == len(PROXIES) and all(vals.values()):
            out.append((rate, vals["viaduct"], vals["kamailio"]))
    return out


def metrics(reps):
    """The table's figures for one proxy: (name, median, unit/format) in order."""
    def field(key, col):
        return [num(d[key][col]) if d[key] else None for d in reps.values()]

    return [
        ("max throughput at <= 0.1% loss (msgs/s)", med([d["max_ok"] for d in reps.values()]), "{:,.0f}"),
        ("flat out: achieved (msgs/s)", med(field("flat", "achieved_msgs_per_s")), "{:,.0f}"),
        ("flat out: loss (%)", med(field("flat", "loss_pct")), "{:.2f}"),
        ("p50 latency at 50% of max (us)", med(field("at50", "p50_us")), "{:,.0f}"),
        ("p99 latency at 50% of max (us)", med(field("at50", "p99_us")), "{:,.0f}"),
        ("p50 latency at 90% of max (us)", med(field("at90", "p50_us")), "{:,.0f}"),
        ("p99 latency at 90% of max (us)", med(field("at90", "p99_us")), "{:,.0f}"),
        ("loss at 90% of max (%)", med(field("at90", "loss_pct")), "{:.3f}"),
        ("proxy CPU at max (cores busy)", med(field("best", "proxy_cpu_cores")), "{:.2f}"),
        ("harness CPU at max: loadgen + responder (cores)", med(harness(reps, "best")), "{:.2f}"),
        ("proxy CPU per request+reply at 90% (us)", med(field("at90", "proxy_cpu_us_per_req")), "{:.1f}"),
        ("proxy RSS, summed over processes (MiB)", med([d["rss"] / 1024 for d in reps.values()]), "{:.1f}"),
        ("proxy PSS, summed over processes (MiB)", med([d["pss"] / 1024 for d in reps.values()]), "{:.1f}"),
        ("processes", med([d["procs"] for d in reps.values()]), "{:.0f}"),
    ]


def n_cpus(spec):
    """Number of cpus in a taskset list such as "0", "2-3" or "0,2"."""
    n = 0
    for part in spec.split(","):
        a, _, b = part.partition("-")
        if a.strip().isdigit():
            n += (int(b) - int(a) + 1) if b.strip().isdigit() else 1
    return n or "?"


def fmt(v, f):
    return "n/a" if v is None else f.format(v)


def sipp_ceilings(out):
    path = os.path.join(out, "sipp.csv")
    res = {}
    if not os.path.exists(path):
        return res
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            d = res.setdefault(r["proxy"], {"ok": None, "fail": None, "unexpected": 0, "calls": 0})
            d["unexpected"] += int(num(r.get("unexpected")))
            d["calls"] += int(num(r.get("calls")))
            if r["ok"] == "1":
                if d["ok"] is None or int(r["target_cps"]) > int(d["ok"]["target_cps"]):
                    d["ok"] = r
            elif d["fail"] is None:
                d["fail"] = r
    return res


def curves(rows, proxy):
    """Ramp medians over repetitions: [(offered, achieved, p99)] sorted by offered. The flat-out
    step is placed at the rate loadgen actually sent (sent / duration)."""
    by = {}
    for r in rows:
        if r["proxy"] != proxy or r["phase"] != "ramp":
            continue
        by.setdefault(int(num(r["offered_rate"])), []).append(r)
    pts = []
    for rate, rs in by.items():
        if rate == 0:
            x = med([num(r["sent"]) / max(num(r["duration_s"]), 1e-9) for r in rs])
        else:
            x = rate
        pts.append((x, med([num(r["achieved_msgs_per_s"]) for r in rs]),
                    med([num(r["p99_us"]) for r in rs]), rate == 0))
    return sorted(pts)


def plots(out, rows):
    series = [p for p in ("viaduct", "kamailio", "direct") if any(r["proxy"] == p for r in rows)]
    for p in series:
        with open(os.path.join(out, f"{p}.dat"), "w") as f:
            f.write("# offered_msgs_per_s achieved_msgs_per_s p99_us flat_out\n")
            for x, a, p99, flat in curves(rows, p):
                f.write(f"{x:.0f} {a:.0f} {max(p99, 1):.0f} {int(flat)}\n")
    style = {"viaduct": "lw 2 pt 7 lc rgb '#1f77b4'", "kamailio": "lw 2 pt 5 lc rgb '#d62728'",
             "direct": "lw 1 dt 2 pt 1 lc rgb '#7f7f7f'"}
    title = {"viaduct": "viaduct", "kamailio": "kamailio 5.6 (stateless)",
             "direct": "direct (no proxy: harness ceiling)"}

    def plot_cmd(col):
        return ", ".join(f"'{p}.dat' using 1:{col} with linespoints {style[p]} title '{title[p]}'"
                         for p in series)

    gp = f"""# generated by summarize.py; run in {out}
set terminal pngcairo size 900,600 font ',10'
set grid
set logscale x
set key top left
set xlabel 'offered load (msgs/s; the last point is flat out, at the rate actually sent)'
set output 'achieved.png'
set title 'Achieved throughput vs offered load (median over repetitions)'
set ylabel 'achieved (msgs/s answered)'
set logscale y
plot x with lines lc rgb '#999999' dt 2 title 'achieved = offered', {plot_cmd(2)}
set output 'p99.png'
set title 'p99 latency vs offered load (median over repetitions; replies later than the timeout are lost)'
set ylabel 'p99 latency (us)'
set logscale y
plot {plot_cmd(3)}
"""
    with open(os.path.join(out, "plot.gp"), "w") as f:
        f.write(gp)
    subprocess.run(["gnuplot", "plot.gp"], cwd=out, check=True)


def commands(out):
    path = os.path.join(out, "commands.txt")
    seen, lines = set(), []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if line and line not in seen:
                    seen.add(line)
                    lines.append(line)
    return lines


def summary(out):
    rows = read_rows(out)
    m = read_kv(os.path.join(out, "machine.txt"))
    table = {p: metrics(per_rep(rows, p)) for p in PROXIES}
    direct = per_rep(rows, "direct")
    plots(out, rows)

    L = ["# viaduct vs Kamailio: stateless SIP load balancing, side by side", ""]
    L.append(f"Generated by `{m.get('command', 'bench/compare/compare.sh')}` on {m.get('date', '?')} "
             f"in {m.get('runtime_s', '?')} s. Raw runs: `results.csv` (loadgen) and `sipp.csv`; "
             "plots: `achieved.png`, `p99.png`.")
    L.append("")
    L.append(f"Both proxies: {m.get('workers', '?')} workers (viaduct threads, Kamailio UDP receiver "
             f"processes: cores given), Kamailio with `-x {m.get('kamailio_mem', 'qm')}`, pinned to cpus {m.get('proxy_cpus', '?')}; the pool (one responder "
             f"process, 2 UDP ports) and the load generator pinned to cpus {m.get('load_cpus', '?')}. "
             f"Medians over {m.get('reps', '?')} repetitions run in A B order; ramp "
             f"{m.get('ramp', '?')} msgs/s (0 = flat out), {m.get('step_secs', '?')} s per step; "
             "request mix invite=30, register=30, bye=20, options=10, message=10, each a new "
             "transaction answered 200 by the pool.")
    L.append("")
    L.append("| median over repetitions | viaduct | kamailio | viaduct / kamailio |")
    L.append("|---|---:|---:|---:|")
    for i, (name, v, f) in enumerate(table["viaduct"]):
        k = table["kamailio"][i][1]
        ratio = f"{v / k:.2f}" if v is not None and k else "n/a"
        L.append(f"| {name} | {fmt(v, f)} | {fmt(k, f)} | {ratio} |")
    L.append("| **at the same offered load** (ramp steps both carried loss-free) | | | |")
    for rate, v, k in same_rate_cpu(rows):
        L.append(f"| proxy CPU per request+reply at {rate:,} msgs/s (us) | "
                 f"{v:.1f} | {k:.1f} | {v / k:.2f} |")
    for col, what in (("p50_us", "p50"), ("p99_us", "p99")):
        for rate, v, k in same_rate_cpu(rows, col):
            L.append(f"| {what} latency at {rate:,} msgs/s (us) | {v:,.0f} | {k:,.0f} | {v / k:.2f} |")
    if direct:
        d = metrics(direct)
        L.append("")
        L.append(f"Harness ceiling (loadgen straight to one responder port, same cpus, no proxy): "
                 f"{fmt(d[0][1], d[0][2])} msgs/s at <= 0.1% loss, {fmt(d[1][1], d[1][2])} msgs/s "
                 "flat out. With a proxy in the path the harness does the same work per request but "
                 "more expensively (every datagram now arrives from the other cpu: a cross-cpu wake-up "
                 "each, and smaller batches), so its ceiling is lower than this. The row *harness CPU "
                 f"at max* shows it: near {n_cpus(m.get('load_cpus', ''))} (all of the load cpus) the "
                 "load side was saturated and the proxy's maximum is a lower bound, limited by the "
                 "harness, not by the proxy.")
    L.append("")
    L.append("Definitions: *max throughput* is the highest achieved rate (replies received per "
             "second) of a ramp or bisection (refine) step with <= 0.1% loss; the latency points are "
             "extra steps at 50% and 90% of it, in the same run. Latency is loadgen's request-to-reply time. CPU is "
             "utime+stime from /proc/PID/stat over the step (all of Kamailio's processes summed), "
             "per request+reply or per second of load; RSS sums VmRSS over processes (counting "
             "Kamailio's shared memory once per process), PSS splits shared pages between them.")
    L.append("")

    L.append("## sipp calls-per-second ceiling")
    L.append("")
    L.append("`sipp -sn uac` (INVITE, 180, 200, ACK, BYE, 200: 6 messages through the proxy per call) "
             "to two `sipp -sn uas`, retransmissions off (`-nr`: one lost message fails the call), "
             "increasing `-r`, each rate for a few seconds; the ceiling is the highest rate with 0 "
             "failed calls that sipp achieved (>= 95% of the target). sipp is single-threaded and "
             "shares the load cpus with both UAS, so the direct figure is sipp's own ceiling. "
             "A response that arrives out of order (the 200 before the 180 of the same INVITE) is "
             "ignored and counted instead of failing the call (`-default_behaviors all,-abortunexp`): "
             "Kamailio's receivers share one socket, so two back-to-back responses of one call can "
             "be relayed by two processes in the other order; viaduct's SO_REUSEPORT sockets keep "
             "each flow on one worker. With sipp's default, those calls fail.")
    L.append("")
    L.append("| path | ceiling (calls/s) | achieved there | reordered responses (all rates) | first failing rate |")
    L.append("|---|---:|---:|---:|---|")
    for p, d in sipp_ceilings(out).items():
        ok = d["ok"]
        fail = d["fail"]
        failtxt = (f"{fail['target_cps']}: {fail['failed']} failed of {fail['calls']}, "
                   f"{fail['achieved_cps']} cps achieved" if fail else "none (all rates passed)")
        L.append(f"| {p} | {ok['target_cps'] if ok else 'none'} | "
                 f"{ok['achieved_cps'] if ok else 'n/a'} | {d['unexpected']} of {d['calls']} calls | {failtxt} |")
    L.append("")

    L.append("## Per repetition (max throughput at <= 0.1% loss, msgs/s)")
    L.append("")
    for p in PROXIES + ("direct",):
        reps = per_rep(rows, p)
        if reps:
            L.append(f"- {p}: " + ", ".join(f"{reps[r]['max_ok']:,.0f}" for r in sorted(reps)))
    L.append("")
    L.append("## Where the loss happened (steps with > 0.1% loss)")
    L.append("")
    L.append("Receive-buffer drops (kernel, full socket buffer) summed over the lossy steps: at the "
             "proxy's listening socket(s), at the pool's sockets, and machine-wide "
             "(`RcvbufErrors`: includes loadgen's own sockets and other jobs on the machine).")
    L.append("")
    L.append("| proxy | lossy steps | replies lost | drops at proxy socket | at pool sockets | machine-wide |")
    L.append("|---|---:|---:|---:|---:|---:|")
    for p in PROXIES + ("direct",):
        t = loss_places(rows, p)
        if any(r["proxy"] == p for r in rows):
            L.append(f"| {p} | {t['steps']} | {t['lost']:,} | {t['px']:,} | {t['pool']:,} | {t['all']:,} |")
    other = [num(r.get("other_cores")) for r in rows if r.get("other_cores") not in (None, "")]
    steal = [num(r.get("machine_steal_cores")) for r in rows if r.get("machine_steal_cores") not in (None, "")]
    if other:
        L.append("")
        L.append(f"CPU used by anything else on the machine during the steps (other jobs, kernel "
                 f"threads): median {statistics.median(other):.2f} cores, max {max(other):.2f}; "
                 f"stolen by the hypervisor: median {statistics.median(steal):.2f}, max {max(steal):.2f}. "
                 f"Load average at start {m.get('loadavg_start', '?')}, at end {m.get('loadavg_end', '?')}; "
                 f"the machine was {m.get('busy_before', '?')} cores busy in the 2 s before the run. "
                 "(Softirq work that the kernel does outside our processes' context, e.g. in "
                 "ksoftirqd, also lands in this figure.)")
    L.append("")
    pt = os.path.join(out, "proxies.txt")
    if os.path.exists(pt):
        L.append("Exit lines of every proxy run (viaduct: its counters; `drops` must be 0):")
        L.append("")
        L.append("```")
        with open(pt) as f:
            L.extend(line.rstrip("\n") for line in f)
        L.append("```")
        L.append("")

    L.append("## Machine")
    L.append("")
    for k in ("cpu_model", "cpus", "hypervisor", "kernel", "os", "kamailio", "sipp", "gcc", "viaduct",
              "rmem_max"):
        if k in m:
            L.append(f"- {k}: {m[k]}")
    L.append("")
    L.append("## Noise and what the pinning implies")
    L.append("")
    spread = []
    for p in PROXIES:
        v = [d["max_ok"] for d in per_rep(rows, p).values()]
        if v:
            spread.append(f"{p} {min(v):,.0f} to {max(v):,.0f} msgs/s")
    L.append(f"The load generator, the responder (the pool) and sipp share cpus {m.get('load_cpus', '?')}; "
             f"the proxy under test has cpus {m.get('proxy_cpus', '?')} to itself (both proxies the "
             "same, checked per thread). On a 2-core machine that is one core each: the proxy gets a "
             "whole core for its workers, and the harness (loadgen sending and receiving every "
             "message, the responder receiving and answering every request) gets the other. The "
             "harness does about as many system calls per request as the proxy, so a fast proxy "
             "meets the harness's limit near its own: when the *harness CPU at max* row is close to "
             "the number of load cpus, the proxy's maximum is a lower bound and the ratio "
             "understates the difference. The CPU-per-request rows at the same offered load do not "
             "depend on who saturates first. Run-to-run spread of the maximum over the repetitions: "
             + "; ".join(spread) + ". Other jobs on the machine are not kept off these cpus: the "
             "*CPU used by anything else* figure above says how much they took; runs where it is "
             "high are not comparable with quiet ones.")
    L.append("")
    L.append("## Exact commands")
    L.append("")
    L.append("Every process started, in order (ports are picked free per run; loadgen is shown for "
             "the ramp of repetition 1, the other steps differ only in `--rate` and `--count`):")
    L.append("")
    L.append("```sh")
    L.extend(commands(out))
    L.append("```")
    L.append("")
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(L))


def check(out):
    """Smoke assertions: both proxies carried traffic with (near) zero loss, sipp calls went
    through both, viaduct dropped nothing, every output exists. No speed is asserted."""
    errors = []
    rows = read_rows(out)
    for p in PROXIES:
        ramp = [r for r in rows if r["proxy"] == p and r["phase"] == "ramp"]
        recv = sum(num(r["received"]) for r in ramp)
        if not ramp or recv <= 0:
            errors.append(f"{p}: no traffic carried")
            continue
        low = min(ramp, key=lambda r: num(r["offered_rate"]) or float("inf"))
        if num(low["loss_pct"], 100) > LOSS_OK:
            errors.append(f"{p}: {low['loss_pct']}% loss at {low['offered_rate']} msgs/s (> {LOSS_OK}%)")
        worst = max(num(r["loss_pct"], 100) for r in ramp)
        if worst > 1.0:
            errors.append(f"{p}: {worst}% loss in a quick step (> 1%)")
    ceil = sipp_ceilings(out)
    for p in PROXIES:
        if not ceil.get(p, {}).get("ok"):
            errors.append(f"{p}: sipp calls failed at the lowest rate")
    with open(os.path.join(out, "proxies.txt")) as f:
        for line in f:
            if " viaduct " in f" {line}" and "stats total" in line:
                drops = line.split("drops=")[1].split()[0] if "drops=" in line else "?"
                if drops != "0":
                    errors.append(f"viaduct dropped messages: {line.strip()}")
            elif " viaduct " in f" {line}":
                errors.append(f"viaduct: no stats line at exit: {line.strip()}")
    for name in ("results.csv", "sipp.csv", "summary.md", "achieved.png", "p99.png"):
        path = os.path.join(out, name)
        if not os.path.exists(path) or os.path.getsize(path) == 0:
            errors.append(f"{name} missing or empty")
        elif name.endswith(".png"):
            with open(path, "rb") as f:
                if f.read(8) != b"\x89PNG\r\n\x1a\n":
                    errors.append(f"{name} is not a PNG")
    for e in errors:
        print(f"compare-smoke: FAIL: {e}", file=sys.stderr)
    if not errors:
        print("compare-smoke: PASS: both proxies carried traffic with <= 0.1% loss at the low "
              "rate, sipp calls passed through both, viaduct dropped nothing, outputs written")
    return 1 if errors else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        return check(argv[2])
    if len(argv) == 2:
        summary(argv[1])
        return 0
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
