#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""sip_member.py ADDR PORT CODE [RETRY_AFTER]: a pool member for tests/observability.

A UDP SIP endpoint that answers viaduct's OPTIONS health probes with 200 and every other
request but ACK with CODE (with Retry-After: RETRY_AFTER when given: what makes passive
health eject it). The response copies the request's Via lines, From, To (adding a tag),
Call-ID and CSeq, as RFC 3261 8.2.6 wants. It prints "ready PORT" once bound, counts what it
answered on stderr when it stops, and stops on SIGTERM or after MAX_SECONDS whatever happens:
nothing it does is unbounded.
"""
import signal
import socket
import sys
import time

MAX_SECONDS = 300  # a test that forgets to stop it does not leave it behind for long
POLL_SECONDS = 0.5  # how often the deadline is looked at while nothing arrives
COPIED = ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")
REASONS = {200: "OK", 486: "Busy Here", 500: "Server Internal Error", 503: "Service Unavailable"}

stop = False


def on_term(_sig, _frame):
    global stop
    stop = True


def answer(req: bytes, code: int, retry_after: str):
    """The response to one datagram, or None (not a request, an ACK, no headers)."""
    head = req.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("SIP/2.0") or parts[0] == "ACK":
        return None
    if parts[0] == "OPTIONS":
        code, retry_after = 200, ""
    out = ["SIP/2.0 %d %s" % (code, REASONS.get(code, "Unknown"))]
    for line in lines[1:]:
        name = line.split(":", 1)[0].strip().lower()
        if name in COPIED:
            if name in ("to", "t") and ";tag=" not in line:
                line += ";tag=obs%d" % code
            out.append(line)
    if retry_after:
        out.append("Retry-After: " + retry_after)
    out.append("Content-Length: 0")
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__.splitlines()[0])
    addr, port, code = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    retry_after = sys.argv[4] if len(sys.argv) == 5 else ""
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, port))
    s.settimeout(POLL_SECONDS)
    print("ready", port, flush=True)
    counts = {}
    deadline = time.monotonic() + MAX_SECONDS
    while not stop and time.monotonic() < deadline:
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        resp = answer(data, code, retry_after)
        if resp is None:
            continue
        method = data.split(b" ", 1)[0].decode("latin-1", "replace")
        counts[method] = counts.get(method, 0) + 1
        s.sendto(resp, peer)
    print("answered", " ".join("%s=%d" % kv for kv in sorted(counts.items())), file=sys.stderr)


if __name__ == "__main__":
    main()
