#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A HEP collector for tests/integration/hep.sh: a UDP socket that takes every datagram.

usage: hep_collector.py ADDR PORT COUNT_FILE [--stall]
  Binds ADDR:PORT (IPv4 or IPv6), prints "listening" once bound, and counts the datagrams it
  reads into COUNT_FILE (rewritten after each read, so a test can poll it). What arrives is
  also on the wire: the test captures loopback with dumpcap and decodes that capture.
  --stall: bind and never read, a collector that is there but too slow to keep up (its
  receive buffer fills and the kernel drops the rest).
Stops on SIGTERM.
"""
import os
import signal
import socket
import sys


def main():
    addr, port, count_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    stall = '--stall' in sys.argv[4:]
    fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16 if stall else 1 << 22)
    s.bind((addr, port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print('listening', flush=True)
    if stall:
        signal.pause()
    n = 0
    while True:
        s.recv(65535)
        n += 1
        try:  # what else is waiting, then one write of the count
            while True:
                s.recv(65535, socket.MSG_DONTWAIT)
                n += 1
        except BlockingIOError:
            pass
        with open(count_file + '.tmp', 'w') as f:
            f.write('%d\n' % n)
        os.replace(count_file + '.tmp', count_file)


if __name__ == '__main__':
    main()
