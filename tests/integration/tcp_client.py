#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""
tcp_client.py: a SIP-over-TCP client that does what sipp cannot, to check viaduct's stream
handling on the wire (RFC 3261 18.3, RFC 5626 3.5.1). Each check prints one line
"CHECK name ok|FAIL detail" and the script exits 1 if any failed.

usage: tcp_client.py HOST PORT CHECK...
checks:
  ping        CRLFCRLF gets exactly CRLF back, the connection stays open
  batch       three MESSAGEs in one segment, then one sent a byte at a time, then one split
              across two segments with a CRLF keepalive between: five 200 OK in order
  nolength    a MESSAGE without Content-Length: 400 Missing Content-Length, then closed
  badlength   Content-Length: abc: 400 Bad Content-Length, then closed
  toolarge    a 20 kB MESSAGE: 513, then closed
  slowloris   half a request, then nothing: closed by viaduct within 10 s (tcp.header_timeout_ms)
"""
import socket
import sys
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])
FAMILY = socket.AF_INET6 if ":" in HOST else socket.AF_INET
failed = False


def report(name, ok, detail=""):
    global failed
    print(f"CHECK {name} {'ok' if ok else 'FAIL'} {detail}".rstrip(), flush=True)
    failed |= not ok


def connect():
    s = socket.socket(FAMILY, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(10)
    s.connect((HOST, PORT))
    return s


def message(s, n, body="hello", length=True, clen=None):
    lhost, lport = s.getsockname()[:2]
    sent_by = f"[{lhost}]:{lport}" if FAMILY == socket.AF_INET6 else f"{lhost}:{lport}"
    lines = [
        "MESSAGE sip:bob@example.com SIP/2.0",
        f"Via: SIP/2.0/TCP {sent_by};branch=z9hG4bK-tcpc-{n}-{time.time_ns()};rport",
        "Max-Forwards: 70",
        f"From: <sip:alice@example.com>;tag=a{n}",
        "To: <sip:bob@example.com>",
        f"Call-ID: tcpc-{n}-{time.time_ns()}@{lhost}",
        f"CSeq: {n} MESSAGE",
        "Content-Type: text/plain",
    ]
    if length:
        lines.append(f"Content-Length: {clen if clen is not None else len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


class Reader:
    """Reads framed SIP messages (and bare CRLFs) from a stream."""

    def __init__(self, s):
        self.s, self.buf = s, b""

    def more(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def closed(self, secs):
        """True when the peer closes within secs (anything it sends first is kept)."""
        self.s.settimeout(secs)
        try:
            while True:
                self.more()
        except EOFError:
            return True
        except (socket.timeout, ConnectionResetError):
            return isinstance(sys.exc_info()[1], ConnectionResetError)

    def message(self):
        while True:
            while self.buf.startswith(b"\r\n"):
                self.buf = self.buf[2:]
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = self.buf[:end].decode(errors="replace")
                clen = 0
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() in ("content-length", "l"):
                        clen = int(value.strip())
                total = end + 4 + clen
                if len(self.buf) >= total:
                    msg, self.buf = self.buf[:total], self.buf[total:]
                    return msg.decode(errors="replace")
            self.more()


def status(msg):
    return msg.split("\r\n", 1)[0]


def check_ping():
    s = connect()
    s.sendall(b"\r\n\r\n")
    s.settimeout(5)
    got = s.recv(16)
    report("ping", got == b"\r\n", repr(got))
    # still usable afterwards
    s.sendall(message(s, 1))
    r = Reader(s)
    st = status(r.message())
    report("ping-then-message", st.startswith("SIP/2.0 200"), st)
    s.close()


def check_batch():
    s = connect()
    r = Reader(s)
    s.sendall(message(s, 1) + message(s, 2) + message(s, 3))
    m4 = message(s, 4)
    for i in range(len(m4)):
        s.send(m4[i:i + 1])
    s.sendall(b"\r\n\r\n")  # a keepalive between messages: answered with CRLF, skipped
    m5 = message(s, 5, body="x" * 600)
    s.send(m5[:100])
    time.sleep(0.05)  # two segments on purpose (not a synchronisation)
    s.sendall(m5[100:])
    seqs = []
    for _ in range(5):
        m = r.message()
        if not status(m).startswith("SIP/2.0 200"):
            report("batch", False, status(m))
            return
        cseq = [line for line in m.split("\r\n") if line.lower().startswith("cseq:")][0]
        seqs.append(int(cseq.split()[1]))
    report("batch", sorted(seqs) == [1, 2, 3, 4, 5], f"cseqs {seqs}")
    s.close()


def check_refused(name, payload_fn, want):
    s = connect()
    r = Reader(s)
    s.sendall(payload_fn(s))
    try:
        st = status(r.message())
    except EOFError:
        report(name, False, "closed without a reply")
        return
    closed = r.closed(5)
    report(name, st.startswith(want) and closed, f"{st!r}, closed={closed}")
    s.close()


def check_slowloris():
    s = connect()
    whole = message(s, 9)
    s.sendall(whole[:60])
    t0 = time.monotonic()
    closed = Reader(s).closed(10)
    report("slowloris", closed, f"closed after {time.monotonic() - t0:.1f} s")
    s.close()


CHECKS = {
    "ping": check_ping,
    "batch": check_batch,
    "nolength": lambda: check_refused("nolength", lambda s: message(s, 1, length=False),
                                      "SIP/2.0 400 Missing Content-Length"),
    "badlength": lambda: check_refused("badlength", lambda s: message(s, 1, clen="abc"),
                                       "SIP/2.0 400 Bad Content-Length"),
    "toolarge": lambda: check_refused("toolarge", lambda s: message(s, 1, body="x" * 20000),
                                      "SIP/2.0 513"),
    "slowloris": check_slowloris,
}

for c in sys.argv[3:]:
    try:
        CHECKS[c]()
    except Exception as e:  # a check that cannot complete has failed, with its reason
        report(c, False, f"{type(e).__name__}: {e}")
sys.exit(1 if failed else 0)
