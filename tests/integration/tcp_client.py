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
  hugeheader  20 kB of header lines and no end to them: closed without a reply (counted)
  slowloris   half a request, then nothing: closed by viaduct within 10 s (tcp.header_timeout_ms)
  idle        a connection that sends nothing: closed by viaduct (tcp.idle_timeout_ms)
  halfclose   three OPTIONS to viaduct itself, then shutdown(SHUT_WR): its three 200 OK
              still come back, then it closes
  perip N     N+2 connections from one address: N served, the 2 over tcp.max_connections_per_ip
              closed at once
  backlog N   tcp.max_connections = N: N connections served, one more waits (no answer within
              1 s) until one of the N closes, then it is served
  slowreader  a peer that sends OPTIONS to viaduct itself (answered locally) and never reads,
              with a 4 kB receive buffer: closed
              when its write queue passes tcp.write_queue_bytes; a second connection meanwhile
              is served normally
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


def message(s, n, body="hello", length=True, clen=None, method="MESSAGE"):
    lhost, lport = s.getsockname()[:2]
    sent_by = f"[{lhost}]:{lport}" if FAMILY == socket.AF_INET6 else f"{lhost}:{lport}"
    me = f"[{HOST}]" if FAMILY == socket.AF_INET6 else HOST
    # OPTIONS to the proxy itself: answered by viaduct, no pool member involved
    ruri = f"sip:{me}:{PORT}" if method == "OPTIONS" else "sip:bob@example.com"
    lines = [
        f"{method} {ruri} SIP/2.0",
        f"Via: SIP/2.0/TCP {sent_by};branch=z9hG4bK-tcpc-{n}-{time.time_ns()};rport",
        "Max-Forwards: 70",
        f"From: <sip:alice@example.com>;tag=a{n}",
        "To: <sip:bob@example.com>",
        f"Call-ID: tcpc-{n}-{time.time_ns()}@{lhost}",
        f"CSeq: {n} {method}",
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


def check_hugeheader():
    s = connect()
    head = message(s, 1).split(b"\r\n\r\n")[0] + b"\r\n"
    try:
        s.sendall(head + b"".join(
            b"X-Pad: " + b"x" * 100 + b"\r\n" for _ in range(200)))
    except OSError:
        pass  # closed while we were still sending: what we check
    r = Reader(s)
    closed = r.closed(5)
    report("hugeheader", closed and r.buf == b"", f"closed={closed}, got {r.buf[:40]!r}")
    s.close()


def check_slowloris():
    s = connect()
    whole = message(s, 9)
    s.sendall(whole[:60])
    t0 = time.monotonic()
    closed = Reader(s).closed(10)
    report("slowloris", closed, f"closed after {time.monotonic() - t0:.1f} s")
    s.close()


def served(s, n=1, timeout=5, method="MESSAGE"):
    """Send a request on s and wait for its 200 (True) or for the timeout / close (False)."""
    s.settimeout(timeout)
    try:
        s.sendall(message(s, n, method=method))
        return status(Reader(s).message()).startswith("SIP/2.0 200")
    except (socket.timeout, EOFError, OSError):
        return False


def check_halfclose():
    s = connect()
    s.sendall(b"".join(message(s, n, method="OPTIONS") for n in (1, 2, 3)))
    s.shutdown(socket.SHUT_WR)
    r = Reader(s)
    got = []
    try:
        for _ in range(3):
            got.append(status(r.message()))
    except (EOFError, socket.timeout) as e:
        got.append(type(e).__name__)
    closed = r.closed(5)
    report("halfclose", got == ["SIP/2.0 200 OK"] * 3 and closed, f"{got}, closed={closed}")
    s.close()


def check_idle():
    # the connections of the check before may still count against max_connections_per_ip
    # until viaduct has seen them close (a refused one would look closed at once): poll,
    # bounded, until a connection is served, then leave it idle
    for _ in range(50):
        s = connect()
        if served(s, 1, 2, method="OPTIONS"):
            break
        s.close()
        time.sleep(0.1)
    else:
        report("idle", False, "no connection was served in 50 tries")
        return
    t0 = time.monotonic()
    closed = Reader(s).closed(10)
    took = time.monotonic() - t0
    # idle_timeout_ms is 500: closed before 0.4 s would be some other reason
    report("idle", closed and took >= 0.4, f"closed after {took:.1f} s")


def check_perip(n):
    conns = [connect() for _ in range(n + 2)]
    # which ones are refused is the kernel's accept order across the workers, not ours
    ok = [served(c, i + 1, 3) for i, c in enumerate(conns)]
    report("perip", ok.count(True) == n, f"served {ok}")
    for c in conns:
        c.close()


def check_backlog(n):
    conns = [connect() for _ in range(n)]
    first = [served(c, i + 1) for i, c in enumerate(conns)]
    extra = connect()  # the kernel completes the handshake: it waits in the backlog
    waiting = not served(extra, 99, 1)
    conns[0].close()
    later = False
    extra.settimeout(5)
    try:  # the request sent above is read once viaduct accepts again
        later = status(Reader(extra).message()).startswith("SIP/2.0 200")
    except (socket.timeout, EOFError, OSError):
        pass
    report("backlog", all(first) and waiting and later,
           f"first {first}, the extra one waited: {waiting}, then served: {later}")
    for c in conns[1:] + [extra]:
        c.close()


def check_slowreader():
    s = socket.socket(FAMILY, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect((HOST, PORT))
    other = connect()
    t0 = time.monotonic()
    closed = False
    sent = 0
    other_ok = True
    try:
        while time.monotonic() - t0 < 20:
            s.sendall(b"".join(message(s, sent + i, method="OPTIONS") for i in range(200)))
            sent += 200
            other_ok &= served(other, sent, method="OPTIONS")  # all along (never idle)
    except OSError:
        closed = True  # reset: viaduct closed it with our requests unread
    if not closed:
        closed = Reader(s).closed(5)
    report("slowreader", closed, f"closed after {sent} requests unread")
    report("slowreader-other", other_ok and served(other, method="OPTIONS"),
           "another connection meanwhile")


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
    "hugeheader": check_hugeheader,
    "idle": check_idle,
    "halfclose": check_halfclose,
    "slowreader": check_slowreader,
}

args = sys.argv[3:]
while args:
    c = args.pop(0)
    try:
        if c in ("perip", "backlog"):
            n = int(args.pop(0))
            (check_perip if c == "perip" else check_backlog)(n)
            continue
        CHECKS[c]()
    except Exception as e:  # a check that cannot complete has failed, with its reason
        report(c, False, f"{type(e).__name__}: {e}")
sys.exit(1 if failed else 0)
