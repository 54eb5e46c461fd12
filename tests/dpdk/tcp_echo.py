#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""tcp_echo.py: a TCP connection through viaduct's exception path (the host's kernel).

usage: tcp_echo.py serve ADDRESS PORT
       tcp_echo.py echo TARGET PORT SOURCE BYTES
       tcp_echo.py udp-refused TARGET PORT SOURCE

  serve  listen on ADDRESS:PORT (inside the "host" namespace, behind the exception port),
         print "listening" once bound, echo every connection's bytes back until EOF; runs
         until killed.
  echo   connect from SOURCE to TARGET:PORT, send BYTES bytes of a counting pattern while
         reading the echo, and check that exactly those bytes came back. Prints one line and
         exits 0 on success, 1 on any mismatch, error or timeout (TIMEOUT_S per socket call).
  udp-refused  send a UDP datagram to TARGET:PORT, where no listener is: the datapath gives
         it to the host's kernel, whose ICMP port unreachable must come back (a connected
         socket's recv raises ECONNREFUSED). Exits 0 when it does, 1 otherwise.
"""
import socket
import sys
import threading
import time

TIMEOUT_S = 10.0
CHUNK = 65536


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(addr, port):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(8)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=echo_back, args=(c,), daemon=True).start()


def echo_back(c):
    with c:
        c.settimeout(TIMEOUT_S)
        while True:
            data = c.recv(CHUNK)
            if not data:
                return
            c.sendall(data)


def pattern(n):
    block = bytes(range(256))
    return (block * (n // 256 + 1))[:n]


def echo(target, port, source, nbytes):
    want = pattern(nbytes)
    start = time.monotonic()
    s = socket.socket(family(target), socket.SOCK_STREAM)
    s.settimeout(TIMEOUT_S)
    s.bind((source, 0))
    s.connect((target, port))
    errors = []

    def send():
        try:
            s.sendall(want)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    got = bytearray()
    while len(got) < nbytes:
        data = s.recv(CHUNK)
        if not data:
            break
        got += data
    t.join(TIMEOUT_S)
    s.close()
    secs = time.monotonic() - start
    if errors or bytes(got) != want:
        print("tcp echo FAILED: sent %d, got %d bytes back%s" %
              (nbytes, len(got), ", " + str(errors[0]) if errors else ""))
        return 1
    print("tcp echo %d bytes ok in %.3f s" % (nbytes, secs))
    return 0


def udp_refused(target, port, source):
    s = socket.socket(family(target), socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT_S / 5)
    s.bind((source, 0))
    s.connect((target, port))
    for _ in range(3):  # the first may race the kernel's neighbour resolution
        s.send(b"not SIP")
        try:
            s.recv(CHUNK)
        except ConnectionRefusedError:
            print("udp port unreachable from the kernel")
            return 0
        except socket.timeout:
            continue
    print("udp FAILED: no port unreachable came back")
    return 1


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return 0
    if len(sys.argv) == 6 and sys.argv[1] == "echo":
        try:
            return echo(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
        except OSError as e:
            print("tcp echo FAILED: %s" % e)
            return 1
    if len(sys.argv) == 5 and sys.argv[1] == "udp-refused":
        return udp_refused(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
