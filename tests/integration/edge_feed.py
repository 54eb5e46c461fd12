#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Datagrams for edge.sh, from one source address, with what came back.

  edge_feed.py garbage SRC TARGET_IP TARGET_PORT COUNT SIZE
      COUNT requests the scanner refuses (no CSeq), padded to SIZE bytes; prints
      "sent=N replies=R reply_bytes=B sent_bytes=S" after waiting 1 s for replies.
  edge_feed.py stall SRC TARGET_IP TARGET_PORT INVITES BYES PIDFILE
      sends the INVITEs (new dialogs) and BYEs (in a dialog) interleaved while the process
      whose pid is in PIDFILE is stopped (SIGSTOP), then SIGCONT; prints
      "invite_answers=I bye_answers=B" after the answers stop coming (2 s quiet, 20 s max).
"""
import os
import signal
import socket
import sys
import time


def sock_from(src):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.bind((src, 0))
    return s


def request(method, n, src, port, to_tag, pad=None):
    via = "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-edge-%s-%d;rport\r\n" % (src, port, method, n)
    head = ("%s sip:+1555%07d@ims.example.com SIP/2.0\r\n" % (method, n) + via +
            "Max-Forwards: 70\r\nFrom: <sip:ue%d@ims.example.com>;tag=f%d\r\n" % (n, n) +
            "To: <sip:+1555%07d@ims.example.com>%s\r\n" % (n, ";tag=t%d" % n if to_tag else "") +
            "Call-ID: edge-%s-%d@%s\r\n" % (method, n, src))
    if pad is not None:  # no CSeq: the scanner refuses it (400), padded to the size asked
        filler = "X-Pad: " + "p" * (pad - len(head) - 11) + "\r\n" if pad > len(head) + 11 else ""
        return (head + filler + "\r\n").encode()
    return (head + "CSeq: 1 %s\r\nContent-Length: 0\r\n\r\n" % method).encode()


def drain(s, quiet, limit):
    got, end, last = [], time.time() + limit, time.time()
    s.settimeout(0.2)
    while time.time() < end and time.time() - last < quiet:
        try:
            got.append(s.recv(65536))
            last = time.time()
        except socket.timeout:
            pass
    return got


def garbage(src, ip, port, count, size):
    s = sock_from(src)
    sent_bytes = 0
    for n in range(count):
        m = request("OPTIONS", n, src, s.getsockname()[1], False, pad=size)
        sent_bytes += len(m)
        s.sendto(m, (ip, port))
    got = drain(s, 1.0, 5.0)
    print("sent=%d replies=%d reply_bytes=%d sent_bytes=%d" %
          (count, len(got), sum(map(len, got)), sent_bytes))


def stall(src, ip, port, invites, byes, pidfile):
    s = sock_from(src)
    pid = int(open(pidfile).read().strip())
    msgs, i, b = [], 0, 0
    while i < invites or b < byes:  # interleaved: the BYEs are among the INVITEs
        if i < invites:
            msgs.append(request("INVITE", i, src, s.getsockname()[1], False))
            i += 1
        if b < byes and (i * byes >= b * invites or i == invites):
            msgs.append(request("BYE", b, src, s.getsockname()[1], True))
            b += 1
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(0.2)  # the process is stopped: nothing reads its sockets
        for m in msgs:
            s.sendto(m, (ip, port))
        time.sleep(0.2)
    finally:
        os.kill(pid, signal.SIGCONT)
    got = drain(s, 2.0, 20.0)
    inv = sum(1 for g in got if b"CSeq: 1 INVITE" in g)
    bye = sum(1 for g in got if b"CSeq: 1 BYE" in g)
    print("invite_answers=%d bye_answers=%d" % (inv, bye))


def main():
    mode = sys.argv[1]
    if mode == "garbage":
        garbage(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    elif mode == "stall":
        stall(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
              sys.argv[7])
    else:
        sys.exit("usage: see the docstring")


if __name__ == "__main__":
    main()
