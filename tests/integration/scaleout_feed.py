#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""
scaleout_feed.py: the client and the pool of tests/integration/scaleout.sh, run inside one
namespace: N messages derived from the corpus (each message's Call-ID made unique per copy)
sent in order from CLIENT to VIADUCT over UDP, paced; every datagram that reaches a member
address, and every reply that comes back to the client, written in arrival order to
OUT/<address>.bin as length-prefixed records.

usage: scaleout_feed.py CORPUS_DIR N CLIENT_IP:PORT VIADUCT_IP:PORT OUT_DIR MEMBER_IP:PORT...
prints "fed N, received R" and exits 0 when every socket went quiet for 1 s.
"""
import os
import re
import select
import socket
import struct
import sys
import time

corpus_dir, n = sys.argv[1], int(sys.argv[2])
client, viaduct, out = sys.argv[3], sys.argv[4], sys.argv[5]
members = sys.argv[6:]


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


msgs = []
for name in sorted(os.listdir(corpus_dir)):
    if name.endswith(".sip"):
        with open(os.path.join(corpus_dir, name), "rb") as f:
            msgs.append(f.read())
callid = re.compile(rb"(?im)^(call-id|i)([ \t]*:[ \t]*)([^\r\n]*)")

socks = {}
for m in members + [client]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(addr(m))
    socks[s] = open(os.path.join(out, m.replace(":", "_") + ".bin"), "wb")
tx = [s for s, f in socks.items() if s.getsockname() == addr(client)][0]

received = 0


def drain(timeout):
    global received
    while True:
        r, _, _ = select.select(list(socks), [], [], timeout)
        if not r:
            return
        for s in r:
            data = s.recv(70000)
            socks[s].write(struct.pack(">I", len(data)) + data)
            received += 1


for i in range(n):
    m = msgs[i % len(msgs)]
    m = callid.sub(lambda g: g.group(1) + g.group(2) + g.group(3) + b"-" + str(i).encode(), m,
                   count=1)
    tx.sendto(m, addr(viaduct))
    if i % 50 == 49:
        drain(0.002)  # paced: the sockets' buffers never overflow
drain(1.0)
for f in socks.values():
    f.close()
print(f"fed {n}, received {received}")
