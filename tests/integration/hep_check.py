#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Compare viaduct's HEP copies with the SIP traffic on the wire (tests/integration/hep.sh).

usage: hep_check.py WIRE.pcap HEP_PORT DECODED.pcap key=value...
  WIRE.pcap     dumpcap's capture of loopback: the SIP traffic and the HEP datagrams
  HEP_PORT      the collector's UDP port (its datagrams are the copies)
  DECODED.pcap  what sngrep (-I HEP.pcap -E -O DECODED.pcap) decoded from those datagrams: a
                real HEP3 decoder, independent of viaduct's encoder
  keys: sent=N (viaduct's hep_sent: the datagrams on the wire must be exactly these),
        id=N (capture id), auth=TEXT, sample=P (percent), calls=N (calls the UAC made),
        v4=1 (sngrep's pcap writer keeps IPv4 addresses only: compare them too),
        family=N (2 or 10 on every copy)

Each HEP datagram is also walked chunk by chunk here (the spec's table, not viaduct's code)
for what sngrep does not write out: the capture id, the protocol, the correlation id, the
authentication key, IPv6 addresses. TCP legs on the wire are reassembled per direction and
cut into messages by Content-Length. One line per check, "ok ..." or "FAIL ...";
exit 1 on any failure.
"""
import collections
import re
import socket
import struct
import subprocess
import sys

FAILED = []
SIP_START = re.compile(rb'SIP/2\.0 \d{3} |[A-Za-z!%*_+`\'~.-]+ [^ \r\n]+ SIP/2\.0\r\n')
MARKER_PORT = 9  # hep.sh's datagrams that show the capture has started: not SIP


def check(ok, what):
    print(('ok   ' if ok else 'FAIL ') + what)
    if not ok:
        FAILED.append(what)


def tshark(pcap, fields, filt=None):
    cmd = ['tshark', '-r', pcap, '-T', 'fields', '-E', 'separator=|']
    if filt:
        cmd += ['-Y', filt]
    for f in fields:
        cmd += ['-e', f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split('|') for line in out.splitlines() if line]


def hep_walk(data):
    """One HEP3 datagram -> dict of its chunks (generic vendor only), or raise."""
    assert data[:4] == b'HEP3', 'no HEP3 header'
    total = struct.unpack('!H', data[4:6])[0]
    assert total == len(data), 'total length %d, datagram %d' % (total, len(data))
    pos, c = 6, {}
    while pos < total:
        vendor, typ, ln = struct.unpack('!HHH', data[pos:pos + 6])
        assert ln >= 6 and pos + ln <= total, 'bad chunk length'
        if vendor == 0:
            c[typ] = data[pos + 6:pos + ln]
        pos += ln
    fam = c[1][0]
    alen, (s, d) = (4, (3, 4)) if fam == socket.AF_INET else (16, (5, 6))
    return {
        'family': fam, 'proto': c[2][0],
        'src': socket.inet_ntop(fam, c[s]), 'dst': socket.inet_ntop(fam, c[d]),
        'sport': struct.unpack('!H', c[7])[0], 'dport': struct.unpack('!H', c[8])[0],
        'ts': struct.unpack('!I', c[9])[0] + struct.unpack('!I', c[10])[0] / 1e6,
        'ptype': c[11][0], 'id': struct.unpack('!I', c[12])[0],
        'corr': c.get(0x11), 'auth': c.get(0x0e), 'payload': c[15], 'alen': len(c[s]) == alen,
    }


def call_id(msg):
    m = re.search(rb'\r\n(?:Call-ID|i)[ \t]*:[ \t]*([^\r\n]*)', msg, re.I)
    return m.group(1).strip() if m else None


def split_stream(data, times):
    """A TCP direction's bytes -> (SIP message, time of the segment it starts in); messages
    are framed by headers + Content-Length; times: (offset, time) of each segment."""
    out, off = [], 0
    while off < len(data):
        end = data.find(b'\r\n\r\n', off)
        if end < 0:
            break
        m = re.search(rb'\r\n(?:Content-Length|l)[ \t]*:[ \t]*(\d+)', data[off:end + 2], re.I)
        n = end + 4 + (int(m.group(1)) if m else 0)
        t = max((t for o, t in times if o <= off), default=times[0][1])
        out.append((data[off:n], t))
        off = n
    return out


def wire_messages(wire, hep_port):
    """(proto, src, sport, dst, dport, payload, time) of every SIP message on the wire."""
    msgs = []
    for t, s4, d4, s6, d6, sp, dp, pl in tshark(
            wire, ['frame.time_epoch', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst',
                   'udp.srcport', 'udp.dstport', 'udp.payload'],
            'udp and not udp.port==%d and not udp.port==%d and not icmp and not icmpv6' %
            (hep_port, MARKER_PORT)):
        msgs.append((17, s4 or s6, int(sp), d4 or d6, int(dp), bytes.fromhex(pl), float(t)))
    streams = collections.OrderedDict()
    for t, s4, d4, s6, d6, sp, dp, pl in tshark(
            wire, ['frame.time_epoch', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst',
                   'tcp.srcport', 'tcp.dstport', 'tcp.payload'], 'tcp.len > 0'):
        k = (s4 or s6, int(sp), d4 or d6, int(dp))
        b, times = streams.get(k, (b'', []))
        times.append((len(b), float(t)))
        streams[k] = (b + bytes.fromhex(pl), times)
    for (s, sp, d, dp), (data, times) in streams.items():
        for m, t in split_stream(data, times):
            if SIP_START.match(m):  # not the admin API's HTTP
                msgs.append((6, s, sp, d, dp, m, t))
    return msgs


def main():
    wire, hep_port, decoded = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    opt = dict(a.split('=', 1) for a in sys.argv[4:])
    heps = [hep_walk(bytes.fromhex(r[0])) for r in
            tshark(wire, ['udp.payload'], 'udp.dstport==%d' % hep_port)]
    print('%d HEP datagrams on the wire' % len(heps))
    if 'sent' in opt:
        check(len(heps) == int(opt['sent']),
              'HEP datagrams on the wire (%d) = viaduct hep_sent (%s)' % (len(heps), opt['sent']))
    check(all(h['ptype'] == 1 and h['alen'] for h in heps), 'every copy is SIP (type 1), '
          'addresses of its family')
    if 'family' in opt:
        check(all(h['family'] == int(opt['family']) for h in heps),
              'IP family %s on every copy' % opt['family'])
    if 'id' in opt:
        check(all(h['id'] == int(opt['id']) for h in heps), 'capture id %s on every copy' % opt['id'])
    want_auth = opt.get('auth', '').encode() or None
    check(all(h['auth'] == want_auth for h in heps), 'authentication key %r on every copy' % want_auth)
    check(all(h['corr'] == call_id(h['payload']) for h in heps),
          'correlation id = the Call-ID of the payload, on every copy')

    # sngrep's decoding of the same datagrams: payload bytes, ports, time (and IPv4 addresses)
    dec = tshark(decoded, ['frame.time_epoch', 'ip.src', 'udp.srcport', 'ip.dst', 'udp.dstport',
                           'udp.payload'])
    # sngrep 1.6 writes every packet it decodes twice, one after the other: take one of each
    dec = [r for i, r in enumerate(dec) if i == 0 or r != dec[i - 1]]
    v4 = opt.get('v4') == '1'
    key = (lambda src, sp, dst, dp, pl: (src, sp, dst, dp, pl)) if v4 else \
        (lambda src, sp, dst, dp, pl: (sp, dp, pl))
    by_sngrep = collections.Counter(key(r[1], int(r[2]), r[3], int(r[4]), bytes.fromhex(r[5]))
                                    for r in dec)
    by_walk = collections.Counter(key(h['src'], h['sport'], h['dst'], h['dport'], h['payload'])
                                  for h in heps)
    check(by_sngrep == by_walk and len(dec) == len(heps),
          'sngrep decoded %d copies, the same %s and payloads as the chunks say' %
          (len(dec), 'addresses, ports' if v4 else 'ports'))
    ts_ok = all(abs(float(r[0]) - h['ts']) < 1e-5 for r, h in zip(dec, heps))
    check(ts_ok and len(dec) == len(heps), 'sngrep read the same timestamps (first copy at %.6f)' %
          (heps[0]['ts'] if heps else 0))

    # the copies against the wire: every captured message was on the wire, once, with its
    # addresses, ports and protocol; at 100% every message on the wire was captured
    on_wire = wire_messages(wire, hep_port)
    wkey = collections.Counter((p, s, sp, d, dp, pl) for p, s, sp, d, dp, pl, _ in on_wire)
    hkey = collections.Counter((h['proto'], h['src'], h['sport'], h['dst'], h['dport'],
                                h['payload']) for h in heps)
    extra = hkey - wkey
    check(not extra, 'every copy is a message seen on the wire: protocol, addresses, ports, '
          'bytes (%d copies not on the wire)' % sum(extra.values()))
    wire_time = {}
    for p, s, sp, d, dp, pl, t in on_wire:
        wire_time.setdefault((p, s, sp, d, dp, pl), t)
    late = [h for h in heps if abs(h['ts'] - wire_time.get(
        (h['proto'], h['src'], h['sport'], h['dst'], h['dport'], h['payload']), h['ts'])) > 1.0]
    check(not late, 'timestamps within 1 s of the wire (%d off)' % len(late))
    sample = int(opt.get('sample', '100'))
    if sample == 100:
        missing = wkey - hkey
        check(not missing, 'every one of the %d SIP messages on the wire was captured (%d '
              'missing)' % (len(on_wire), sum(missing.values())))
        for k in list(missing)[:3]:
            print('     missing: %s %s:%d -> %s:%d %r' % (k[0], k[1], k[2], k[3], k[4], k[5][:80]))
        protos = collections.Counter(h['proto'] for h in heps)
        print('copies by protocol: %s' % dict(protos))
    else:
        ids_wire = collections.Counter(call_id(pl) for _, _, _, _, _, pl, _ in on_wire)
        ids_hep = collections.Counter(call_id(h['payload']) for h in heps)
        partial = [c for c in ids_hep if ids_hep[c] != ids_wire[c]]
        check(not partial, 'whole calls: each of the %d captured Call-IDs has all its %d '
              'messages (%d partial)' % (len(ids_hep), sum(ids_hep.values()), len(partial)))
        calls = int(opt.get('calls', len(ids_wire)))
        share = 100.0 * len(ids_hep) / max(calls, 1)
        check(abs(share - sample) <= 15, 'captured calls %d of %d (%.0f%%), sample %d%%' %
              (len(ids_hep), calls, share, sample))
    if FAILED:
        print('FAILED: %d check(s)' % len(FAILED))
        sys.exit(1)


if __name__ == '__main__':
    main()
