#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""
gen_config.py: the large configs of the control-plane benchmarks (bench_memory.sh,
bench_metrics_reload.sh, bench_member_down.sh): POOLS pools of MEMBERS members and RULES
number-prefix rules on the Request-URI spread over the pools, plus a default rule.

usage: gen_config.py OUT [--pools 64] [--members 32] [--rules 10000] [--workers 2]
                     [--port 25560] [--admin PORT] [--tcp-members BASE_PORT] [--extra YAML]
  members are 127.0.P.M+1:5060+P over UDP, or with --tcp-members 127.0.0.1:BASE+P*MEMBERS+M
  over TCP (one address: a benchmark's listening sockets); --extra: top-level YAML lines.
"""
import argparse

a = argparse.ArgumentParser()
a.add_argument("out")
a.add_argument("--pools", type=int, default=64)
a.add_argument("--members", type=int, default=32)
a.add_argument("--rules", type=int, default=10000)
a.add_argument("--workers", type=int, default=2)
a.add_argument("--port", type=int, default=25560)
a.add_argument("--admin", type=int)
a.add_argument("--tcp-members", type=int)
a.add_argument("--extra", default="")
o = a.parse_args()
with open(o.out, "w") as f:
    f.write(f"workers: {o.workers}\nlisteners: [{{address: 127.0.0.1, port: {o.port}}}]\n")
    if o.admin:
        f.write(f"admin: {{address: 127.0.0.1, port: {o.admin}}}\n")
    if o.extra:
        f.write(o.extra.rstrip("\n") + "\n")
    f.write("pools:\n")
    for p in range(o.pools):
        f.write(f"  - name: pool{p}\n")
        if o.tcp_members:
            f.write("    transport: tcp\n")
        f.write("    members:\n")
        for m in range(o.members):
            if o.tcp_members:
                f.write(f"      - {{host: 127.0.0.1, port: {o.tcp_members + p * o.members + m}}}\n")
            else:
                f.write(f"      - {{host: 127.0.{p % 250}.{m + 1}, port: {5060 + p}}}\n")
    f.write("rules:\n")
    for r in range(o.rules - 1):
        f.write(f"  - {{name: r{r}, ruri: '^sip:\\+1{r:05d}', route: pool{r % o.pools}}}\n")
    f.write("  - {name: default, route: pool0}\n")
