#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Seed inputs of the fuzz targets that the SIP corpus (tests/corpus) does not give.

    make_seeds.py small        rewrite tests/fuzz/seeds-{proxy-rules,frame,config}/ (committed)
    make_seeds.py large DIR    write the large messages (30-64 kB) into DIR (scripts/fuzz.sh
                               does this at each run: they are too large to keep in git)

The input formats are described at the top of each target (fuzz_proxy_rules.c: payload, then
FUZZ_MARK and control bytes; fuzz_frame.c: read sizes, then the stream; fuzz_config.c: YAML
parts split by a "#@@" line). Deterministic: the same files every run.
"""
import os
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
MARK = b"\xff\xffVD"  # fuzz_proxy_rules.c FUZZ_MARK

# fuzz_proxy_rules.c source classes and setup/step bits
UE, ACL, MEMBER, TRUSTED, EXEMPT, UE6, ACL6, MAPPED = range(8)
OVER_REPLY, SHED_REPLY, SHED_OFF, STREAM, NO_GUARD, TRUNCATED = 4, 1 << 3, 2 << 3, 0x20, 0x40, 0x80
BEHIND, FULL = 0x10, 0x80
CLOCK = {0: 0, 1: 1, 5: 3, 50: 4, 200: 5, 499: 6, 501: 7, 1000: 8, 2001: 9, 5000: 10}
REPEAT = {1: 0, 3: 1 << 5, 10: 2 << 5, 40: 3 << 5}


def src(cls, host=0):
    return cls | (host << 3)


def step(ms=None, behind=False, times=1, full=False):
    """ms None: no tick; else a tick after advancing the clock by ms (a key of CLOCK); full:
    the datagram is the payload repeated to max_message_size bytes."""
    b = 0 if ms is None else (CLOCK[ms] if ms else 1)
    return b | (BEHIND if behind else 0) | REPEAT[times] | (FULL if full else 0)


def ctl(setup, *steps):
    out = bytes([setup])
    for s, t in steps:
        out += bytes([s, t])
    return MARK + out


def request(method, ruri, frm, to, extra=(), body=b"", via="192.168.1.15:5060", cseq=1,
            call_id="fz1@192.168.1.15", transport="UDP", to_tag=None):
    to_hdr = to + (";tag=" + to_tag if to_tag else "")
    lines = [
        "%s %s SIP/2.0" % (method, ruri),
        "Via: SIP/2.0/%s %s;branch=z9hG4bK%08xfz;rport"
        % (transport, via, zlib.crc32(call_id.encode())),
        "Max-Forwards: 70",
        "Route: <sip:192.168.1.2:5060;lr>",
        "From: %s;tag=fz%d" % (frm, cseq),
        "To: %s" % to_hdr,
        "Call-ID: %s" % call_id,
        "CSeq: %d %s" % (cseq, method),
        "Contact: <sip:ue@%s>" % via,
    ] + list(extra)
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sdp(n_media=2, pad_attrs=0):
    s = ["v=0", "o=ue 2890844526 2890842807 IN IP4 192.168.1.15", "s=-",
         "c=IN IP4 192.168.1.15", "t=0 0"]
    for i in range(n_media):
        s.append("m=audio %d RTP/AVP 0 8 96 97 98 101" % (49170 + 2 * i))
        s += ["a=rtpmap:96 AMR-WB/16000/1", "a=fmtp:96 mode-change-capability=2;max-red=0",
              "a=rtpmap:101 telephone-event/8000", "a=curr:qos local none",
              "a=des:qos mandatory local sendrecv", "a=sendrecv"]
    s += ["a=x-pad-%05d:%s" % (i, "0123456789abcdef" * 3) for i in range(pad_attrs)]
    return ("\r\n".join(s) + "\r\n").encode()


UE_FROM = "<sip:+11234567890@ims.example.com>"
UE_TO = "<sip:+10123456789@ims.example.com>"


def proxy_rules_seeds():
    inv = lambda ruri, **kw: request("INVITE", ruri, kw.pop("frm", UE_FROM), kw.pop("to", UE_TO),
                                     body=sdp(), **kw)
    reg = request("REGISTER", "sip:ims.example.com", UE_FROM, UE_FROM,
                  extra=["P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=001",
                         "Expires: 600", "Supported: path,gruu"])
    opt = request("OPTIONS", "sip:192.168.1.2", UE_FROM, "<sip:192.168.1.2>")
    once = ctl(0, (src(UE), step()))
    return {
        "emergency.sip": inv("sip:911@ims.example.com") + once,
        "emergency-urn.sip": inv("urn:service:sos") + once,
        "premium.sip": inv("sip:+10123456789@ims.example.com",
                           frm="<sip:+19005550100@ims.example.com>") + once,
        "enterprise.sip": inv("sip:alice@corp.example.com", to="<sip:alice@corp.example.com>")
        + once,
        "numbers-down.sip": inv("sip:+12125551234@ims.example.com") + once,
        "scanner.sip": request("OPTIONS", "sip:100@192.168.1.2", "<sip:100@1.2.3.4>",
                               "<sip:100@192.168.1.2>", extra=["User-Agent: friendly-scanner"])
        + ctl(0, (src(UE, 7), step())),
        "ua-callee.sip": request("MESSAGE", "sip:+10123456789@ims.example.com", UE_FROM, UE_TO,
                                 extra=["User-Agent: IM-client/OMA1.0", "Supported: timer"],
                                 body=b"hello") + once,
        "v6-subscribe.sip": request("SUBSCRIBE", "sip:+11234567890@ims.example.com", UE_FROM,
                                    UE_FROM, via="[2001:db8:1:5::15]:5060",
                                    extra=["Event: reg", "Expires: 600"])
        + ctl(0, (src(UE6, 5), step())),
        "mapped-notify.sip": request("NOTIFY", "sip:+11234567890@192.168.1.15", UE_FROM, UE_TO,
                                     to_tag="x1", extra=["Event: reg",
                                                         "Subscription-State: active"])
        + ctl(0, (src(MAPPED, 2), step())),
        "tcp-message.sip": request("MESSAGE", "sip:+10123456789@ims.example.com", UE_FROM, UE_TO,
                                   transport="TCP", body=b"over tcp")
        + b"\r\n\r\n" + opt + b"\r\n" + ctl(STREAM, (src(UE), step())),
        "tcp-no-length.sip": b"OPTIONS sip:192.168.1.2 SIP/2.0\r\nVia: SIP/2.0/TCP "
        b"192.168.1.15:5060;branch=z9hG4bKnl\r\nCall-ID: nl\r\n\r\n"
        + ctl(STREAM, (src(UE), step())),
        "register-flood-ban.sip": reg + ctl(0, (src(UE, 3), step(0, times=40)),
                                            (src(UE, 3), step(1000, times=3)),
                                            (src(UE, 3), step(2001, times=3))),
        "register-method-limit.sip": reg + ctl(0, (src(UE, 1), step(0, times=10)),
                                               (src(UE, 2), step(0, times=10)),
                                               (src(UE6, 1), step(5, times=3))),
        "options-flood-reply.sip": opt + ctl(OVER_REPLY, (src(UE, 4), step(0, times=40)),
                                             (src(EXEMPT, 1), step(0, times=10)),
                                             (src(TRUSTED, 1), step(0, times=10))),
        "invite-shed.sip": inv("sip:+10123456789@ims.example.com")
        + ctl(SHED_REPLY, (src(UE), step(0, behind=True, times=3)),
              (src(UE, 1), step(0, behind=True)), (src(UE, 2), step(501, behind=True)),
              (src(UE, 3), step(1, behind=False))),
        "acl.sip": opt + ctl(0, (src(ACL, 5), step()), (src(ACL, 20), step()),
                             (src(ACL6, 1), step()), (src(UE6, 9), step())),
        "garbage-replies.sip": b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.15;branch=z9"
        b"hG4bKg\r\n\r\n"
        + ctl(0, (src(UE, 6), step(0, times=10)), (src(UE, 6), step(200, times=3))),
        "clock-wrap.sip": reg + ctl(3, (src(UE, 8), step(0, times=40)),
                                    (src(UE, 8), step(1000, times=3)),
                                    (src(UE, 8), step(2001, times=3))),
        "truncated.sip": inv("sip:+10123456789@ims.example.com")
        + ctl(TRUNCATED, (src(UE), step())),
        "full-datagram.sip": inv("sip:+10123456789@ims.example.com")
        + ctl(0, (src(UE), step(full=True)), (src(UE6, 3), step(5, full=True))),
        "member-request.sip": request("INVITE", "sip:+11234567890@192.168.1.15:5060", UE_TO,
                                      UE_FROM, via="127.0.0.1:5070", body=sdp())
        + ctl(NO_GUARD, (src(MEMBER, 0), step())),
    }


def frame_seed(sizes, stream):
    return bytes([len(sizes) - 1, 3]) + bytes(sizes) + stream  # max 1300


def frame_seeds():
    opt = request("OPTIONS", "sip:192.168.1.2", UE_FROM, "<sip:192.168.1.2>", transport="TCP")
    msg = request("MESSAGE", "sip:b@ims.example.com", UE_FROM, UE_TO, transport="TCP",
                  body=b"x" * 200)
    compact = opt.replace(b"Content-Length: 0", b"l: 0")
    nolen = opt.replace(b"Content-Length: 0\r\n", b"")
    badlen = opt.replace(b"Content-Length: 0", b"Content-Length: 0\r\nContent-Length: 7")
    return {
        "pipelined.bin": frame_seed([0, 4, 13, 0xff], opt + msg + b"\r\n\r\n" + b"\r\n" + opt),
        "pings.bin": frame_seed([0, 1, 2], b"\r\n\r\n\r\n\r\n\r\n" + opt + b"\n" + opt),
        "compact.bin": frame_seed([6, 0xff], compact + msg),
        "no-length.bin": frame_seed([9], opt + nolen + opt),
        "bad-length.bin": frame_seed([30, 1], msg + badlen),
        "too-large.bin": bytes([0, 2]) + bytes([0xff]) + msg + msg + msg,  # max 512
        "endless-headers.bin": frame_seed([99, 0xff], b"OPTIONS sip:x SIP/2.0\r\n"
                                          + b"X-Long: " + b"a" * 1400 + b"\r\n"),
    }


BASE = "listeners: [{address: 127.0.0.1}]\n"


def config_seeds():
    ds = open(os.path.join(HERE, "..", "..", "rules", "dispatcher.list"), "rb").read()
    split = b"\n#@@\n"
    return {
        "dispatcher.yaml": (BASE + "pool: {name: ds, hash: call-id, dispatcher_list: "
                            "dispatcher.list, setid: 1}\n").encode() + split + ds,
        "dispatcher-v6.yaml": (BASE + "pools:\n  - {name: a, members: [{host: 127.0.0.1}]}\n"
                               "  - {name: b, transport: tcp, dispatcher_list: dispatcher.list,"
                               " setid: 7}\n").encode() + split
        + b"# comment\n7 sip:[::1]:5082 0 5 weight=3;duid=x\n7 sips:user@host.example:5061"
          b";transport=tls 8 10\n\n7 sip:127.0.0.2 0 10 weight=1000\n",
        "include.yaml": (BASE + "pool: {name: p, members: [{host: 127.0.0.1}]}\n"
                         "include: [pools/*.yaml, inc.yaml, 'missing/*.yaml']\n").encode()
        + split + ds + split
        + b"pools: [{name: i, dispatcher_list: dispatcher.list, setid: 2}]\n"
          b"rules: [{name: to-i, ruri: '^sip:i@', route: i}]\n",
        "include-self.yaml": (BASE + "pool: {name: p, members: [{host: 127.0.0.1}]}\n"
                              "include: [main.yaml]\n").encode(),
        "include-main-only.yaml": (BASE + "pool: {name: p, members: [{host: 127.0.0.1}]}\n"
                                   "include: [inc.yaml]\n").encode() + split + split
        + b"rate_limit: {rate: 5}\n",
        "guard.yaml": (BASE + "pool: {name: p, members: [{host: 127.0.0.1}]}\n"
                       "acl: {default: deny, allow: [10.0.0.0/8, '2001:db8::/32'],"
                       " deny: [10.66.0.0/16, 192.0.2.7]}\n"
                       "rate_limit: {rate: 50, burst: 80, over: reply, ban_after: 500,"
                       " ban_seconds: 120, sources: 1048576, exempt: [203.0.113.0/24],"
                       " methods: [{method: REGISTER, rate: 2000, burst: 5000},"
                       " {method: INVITE, rate: 300}]}\n"
                       "replies: {rate: 20, burst: 40}\noverload: {shed: reply}\n").encode(),
        "policy.yaml": (BASE + "pool: {name: p, members: [{host: sbc.example.net, port: 5070},"
                        " {host: localhost, port: 5071}]}\n"
                        "proxy_require: [sec-agree]\nserver_header: ''\n"
                        "trusted_next_hops: [127.0.0.0/28, scscf.example.net, '::1']\n"
                        "untrusted_route: reject\nbranch_key: k\n").encode(),
        "sections.yaml": (BASE.replace("}]", "}, {address: '::', advertise: 'sip.example.com',"
                                       " transport: tcp}]")
                          + "pool: {name: p, members: [{host: 127.0.0.1, transport: tls}]}\n"
                          "tls_client: {ca: ca.pem, verify_server: true}\n"
                          "health: {interval_ms: 500, timeout_ms: 200, down_after: 2,"
                          " up_after: 1}\n"
                          "admin: {address: 127.0.0.1, port: 8080}\n"
                          "tcp: {max_connections: 10, max_connections_per_ip: 2,"
                          " header_timeout_ms: 100, idle_timeout_ms: 1000,"
                          " write_queue_bytes: 4096, connect_timeout_ms: 50}\n"
                          "dpdk: {enabled: false, eal: ['-l', '0-1'], port: '0000:00:08.0',"
                          " networks: [192.0.2.0/24], gateway: 192.0.2.1}\n").encode(),
        "tls-listener.yaml": (b"listeners: [{address: 127.0.0.1, port: 5061, transport: tls,"
                              b" tls: {certificate: c.pem, key: k.pem, verify_client: true}}]\n"
                              b"pool: {name: p, members: [{host: 127.0.0.1}]}\n"),
        "rules-all.yaml": (BASE + "pools: [{name: a, members: [{host: 127.0.0.1}]},"
                           " {name: b, hash: 'header:X-Key', members: [{host: 127.0.0.2}]}]\n"
                           "rules:\n"
                           "  - {name: r1, methods: [INVITE, other], ruri: '^sip:\\+1', from: x,"
                           " to: y, route: b}\n"
                           "  - {headers: [{name: User-Agent, regex: '(?i)scan'}],"
                           " source: [198.51.100.0/24, '2001:db8::/48'], listeners: [0],"
                           " reject: 403 Go Away}\n"
                           "  - {name: d, drop: 'true'}\n").encode(),
    }


def large_seeds():
    """30-64 kB messages: a big SDP, many headers, a big body; raw (fuzz_proxy) and with
    control bytes (fuzz_proxy_rules: two sources, a stream)."""
    big_sdp = request("INVITE", "sip:+10123456789@ims.example.com", UE_FROM, UE_TO,
                      body=sdp(n_media=8, pad_attrs=520))
    many = request("INVITE", "sip:+10123456789@ims.example.com", UE_FROM, UE_TO,
                   extra=["X-Hdr-%03d: %s" % (i, "v" * 300) for i in range(150)]
                   + ["User-Agent: IM-client/OMA1.0", "Supported: timer"])
    vias = ("Via: SIP/2.0/UDP 10.9.%d.%d:5060;branch=z9hG4bKhop%d;received=10.9.0.1;rport=5060"
            % (i // 250, i % 250, i) for i in range(69))
    multivia = request("MESSAGE", "sip:+10123456789@ims.example.com", UE_FROM, UE_TO,
                       extra=list(vias), body=b"m" * 40000)
    body = request("MESSAGE", "sip:+10123456789@ims.example.com", UE_FROM, UE_TO,
                   body=b"B" * 64800)
    out = {}
    for name, m in (("large-invite-sdp", big_sdp), ("large-invite-headers", many),
                    ("large-message-vias", multivia), ("large-message-body", body)):
        assert 30000 <= len(m) <= 65507, (name, len(m))
        out[name + ".sip"] = m
        out[name + "-ctl.sip"] = m + ctl(0, (src(UE), step(0, times=3)), (src(UE6, 2), step(1)))
    out["large-stream-ctl.sip"] = big_sdp.replace(b"UDP", b"TCP") + ctl(STREAM, (src(UE), step()))
    return out


def write(d, files):
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "small":
        write(os.path.join(HERE, "seeds-proxy-rules"), proxy_rules_seeds())
        write(os.path.join(HERE, "seeds-frame"), frame_seeds())
        write(os.path.join(HERE, "seeds-config"), config_seeds())
    elif len(sys.argv) == 3 and sys.argv[1] == "large":
        write(sys.argv[2], large_seeds())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
