#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""probe.py: ask viaduct's DPDK datapath two things the sipp calls do not exercise.

usage: probe.py {ping|options|orphan-frag} TARGET_IP SOURCE_IP

  ping     ICMP / ICMPv6 echo request to TARGET_IP (raw socket, needs root); the datapath
           answers echo for its listener addresses itself.
  options  SIP OPTIONS to TARGET_IP:5060 whose Request-URI is the proxy itself: the core
           answers 200 OK (a locally built reply, the REPLY verdict of the datapath).
  orphan-frag  the first fragment of a UDP datagram to TARGET_IP:5060 whose other fragments
           never come (raw socket): the datapath's reassembly must give it up after its
           timeout and count it (drop_reassembly). Prints "sent"; no answer is expected.

Prints one line and exits 0 on an answer, 1 when three tries (1 s each) got none.
"""
import os
import socket
import struct
import sys
import time

TRIES = 3
WAIT_S = 1.0
SIP_PORT = 5060
ICMP_ECHO, ICMP_ECHO_REPLY = 8, 0
ICMP6_ECHO, ICMP6_ECHO_REPLY = 128, 129


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping(target, source):
    v6 = ":" in target
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    s = socket.socket(fam, socket.SOCK_RAW, proto)
    s.bind((source, 0))
    s.settimeout(WAIT_S)
    ident = os.getpid() & 0xFFFF
    for seq in range(TRIES):
        hdr = struct.pack("!BBHHH", ICMP6_ECHO if v6 else ICMP_ECHO, 0, 0, ident, seq)
        payload = b"viaduct-dpdk-probe"
        if not v6:  # the kernel fills in the ICMPv6 checksum, not the ICMP one
            hdr = hdr[:2] + struct.pack("!H", checksum(hdr + payload)) + hdr[4:]
        s.sendto(hdr + payload, (target, 0))
        deadline = time.time() + WAIT_S
        while time.time() < deadline:
            try:
                data, addr = s.recvfrom(2048)
            except socket.timeout:
                break
            icmp = data if v6 else data[(data[0] & 0x0F) * 4:]
            t, _, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if t == (ICMP6_ECHO_REPLY if v6 else ICMP_ECHO_REPLY) and rid == ident and addr[0] == target:
                print("echo reply from %s seq %d" % (target, rseq))
                return 0
    print("no echo reply from %s" % target)
    return 1


def options(target, source):
    v6 = ":" in target
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.settimeout(WAIT_S)
    port = s.getsockname()[1]
    host, me = ("[%s]" % target, "[%s]" % source) if v6 else (target, source)
    msg = ("OPTIONS sip:%s:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bKprobe%d;rport\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:probe@%s>;tag=p1\r\nTo: <sip:%s:%d>\r\n"
           "Call-ID: probe-%d@%s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
           % (host, SIP_PORT, me, port, os.getpid(), me, host, SIP_PORT, os.getpid(), me))
    for _ in range(TRIES):
        s.sendto(msg.encode(), (target, SIP_PORT))
        try:
            line = s.recv(4096).decode(errors="replace").split("\r\n", 1)[0]
        except socket.timeout:
            continue
        print(line)
        return 0 if line.startswith("SIP/2.0 200") else 1
    print("no answer to OPTIONS from %s:%d" % (target, SIP_PORT))
    return 1


ORPHAN_DATA = 1000       # bytes after the UDP header in the fragment (8 + 1000: a multiple of 8)
ORPHAN_DGRAM = 2 * 1008  # the UDP length the fragment announces: the rest never comes
IP_MF = 0x2000           # IPv4 "more fragments"
IP6_MF = 1               # IPv6 fragment header "more fragments"
PROTO_FRAGMENT = 44      # IPv6 fragment header


def orphan_frag(target, source):
    udp = struct.pack("!HHHH", 40000, SIP_PORT, ORPHAN_DGRAM, 0) + b"x" * ORPHAN_DATA
    ident = os.getpid() & 0xFFFF
    if ":" in target:
        # the kernel writes the IPv6 header (next header 44); we write the fragment header
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, PROTO_FRAGMENT)
        s.bind((source, 0))
        frag = struct.pack("!BBHI", socket.IPPROTO_UDP, 0, IP6_MF, ident)
        s.sendto(frag + udp, (target, 0))
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident, IP_MF, 64,
                          socket.IPPROTO_UDP, 0, socket.inet_aton(source),
                          socket.inet_aton(target))
        hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
        s.sendto(hdr + udp, (target, 0))
    print("sent")
    return 0


if __name__ == "__main__":
    CMDS = {"ping": ping, "options": options, "orphan-frag": orphan_frag}
    if len(sys.argv) != 4 or sys.argv[1] not in CMDS:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(CMDS[sys.argv[1]](sys.argv[2], sys.argv[3]))
