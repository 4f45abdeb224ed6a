#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Hostile and ordinary DNS messages for a DNS server, one case per
line of output: "CASE RESULT", where RESULT is the answer's rcode
(NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP) and, for NOERROR, the
addresses answered; "none" if nothing came back within a second (env
DNSPROBE_TIMEOUT);
"closed" if a TCP server closed the connection without an answer.

  dnsprobe.py ADDR PORT NAME     every case (NAME: one the server knows)
  dnsprobe.py flood ADDR PORT NAME SECONDS
                                 queries for NAME as fast as they go,
                                 answers unread; prints "sent N"
"""
import random
import socket
import struct
import os
import sys
import time

# How long an answer may take: a second, more under valgrind.
TIMEOUT = float(os.environ.get("DNSPROBE_TIMEOUT", "1"))

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
          4: "NOTIMP", 5: "REFUSED"}


def header(qid=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def qname(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(name, qtype=1):
    return header() + qname(name) + struct.pack("!HH", qtype, 1)


def result(msg):
    if msg is None:
        return "none"
    if len(msg) < 12:
        return "short"
    flags, qd, an = struct.unpack("!HHH", msg[2:8])
    rcode = RCODES.get(flags & 0xF, str(flags & 0xF))
    if rcode != "NOERROR":
        return rcode
    off = 12
    for _ in range(qd):  # skip the question(s)
        while msg[off] != 0 and msg[off] & 0xC0 != 0xC0:
            off += 1 + msg[off]
        off += 2 if msg[off] & 0xC0 == 0xC0 else 1
        off += 4
    addrs = []
    for _ in range(an):
        off += 2  # the pointer to the question
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        if rtype == 1:
            addrs.append(socket.inet_ntoa(msg[off:off + 4]))
        off += rdlen
    return " ".join(["NOERROR"] + addrs)


def udp(addr, port, msg, tries=1):
    """The answer to msg, asked up to tries times; None if none came."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    try:
        for _ in range(tries):
            s.sendto(msg, (addr, port))
            try:
                return s.recv(65535)
            except socket.timeout:
                pass
        return None
    finally:
        s.close()


def tcp(addr, port, raw):
    """Send raw bytes (length prefixes included), half-close, read."""
    s = socket.create_connection((addr, port), timeout=5 + TIMEOUT)
    buf = b""
    try:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        while True:
            data = s.recv(65535)
            if not data:
                break
            buf += data
    except OSError:
        pass  # reset or shut by the server: what it answered counts
    finally:
        s.close()
    if len(buf) < 2:
        return "closed"
    return result(buf[2:2 + struct.unpack("!H", buf[:2])[0]])


def flood(addr, port, name, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((addr, port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    msgs = [header(qid=i) + qname(name) + struct.pack("!HH", 1, 1)
            for i in range(256)]
    sent, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        for m in msgs:
            try:
                s.send(m)
                sent += 1
            except OSError:
                pass  # ECONNREFUSED from an answer we never read, ENOBUFS
    print("sent %d" % sent, flush=True)


def main():
    if sys.argv[1] == "flood":
        flood(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
        return
    addr, port, known = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    q = query(known)
    long63 = "a" * 63
    cases = [
        ("ok", q),
        ("loop", header() + b"\xc0\x0c" + struct.pack("!HH", 1, 1)),
        ("past_end", header() + b"\xc0\xff" + struct.pack("!HH", 1, 1)),
        ("forward_ptr", header() + b"\xc0\x10\0\0" + qname("x") +
         struct.pack("!HH", 1, 1)),
        ("label64", header() + b"\x40" + b"a" * 64 + b"\0" +
         struct.pack("!HH", 1, 1)),
        ("name256", header() + qname(".".join([long63] * 5)) +
         struct.pack("!HH", 1, 1)),
        ("counts_lie", header(an=5) + qname(known) +
         struct.pack("!HH", 1, 1)),
        ("trailing", q + b"junk"),
        ("two_questions", header(qd=2) + qname(known) +
         struct.pack("!HH", 1, 1) + qname(known) +
         struct.pack("!HH", 1, 1)),
        ("question_cut", header() + qname(known)),
        ("notimp", header(flags=0x1100) + qname(known) +
         struct.pack("!HH", 1, 1)),
        ("response", header(flags=0x8180) + qname(known) +
         struct.pack("!HH", 1, 1)),
        ("short", b"\x12\x34\x01"),
    ]
    for name, msg in cases:
        print("udp_%s %s" % (name, result(udp(addr, port, msg))), flush=True)
    # Random bytes, and random damage to a good query: nothing to see
    # but that the server still answers afterwards.
    rng = random.Random(1337)
    for _ in range(2000):
        if rng.random() < 0.5:
            msg = bytes(rng.getrandbits(8)
                        for _ in range(rng.randrange(0, 80)))
        else:
            b = bytearray(q)
            for _ in range(rng.randrange(1, 4)):
                b[rng.randrange(len(b))] = rng.getrandbits(8)
            msg = bytes(b)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(msg, (addr, port))
        s.close()
    # The server may still be busy with them: asked again until a
    # deadline, not once against a clock.
    print("udp_after_random %s" % result(udp(addr, port, q, tries=30)),
          flush=True)
    tcp_cases = [
        ("ok", struct.pack("!H", len(q)) + q),
        ("two_in_one", (struct.pack("!H", len(q)) + q) * 2),
        ("prefix_cut", b"\x00"),
        ("length_lies", struct.pack("!H", 100) + q),
        ("zero_length", b"\x00\x00" + struct.pack("!H", len(q)) + q),
        ("too_long", struct.pack("!H", 65535) + b"\0" * 5000),
        ("loop", struct.pack("!H", 18) + header() + b"\xc0\x0c" +
         struct.pack("!HH", 1, 1)),
    ]
    for name, raw in tcp_cases:
        print("tcp_%s %s" % (name, tcp(addr, port, raw)), flush=True)


if __name__ == "__main__":
    main()
