#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""DNS load for make bench-dns: A queries for NAME to ADDR:PORT over UDP.

  dnsload.py lat ADDR PORT NAME COUNT     one at a time: "p50_us P p99_us P"
  dnsload.py qps ADDR PORT NAME SECONDS   WINDOW queries kept in flight
                                          (env WINDOW, default 32):
                                          "qps Q lost L"

Every answer is checked (its id, NOERROR, at least one record).  The
client is Python: its own cost per query is in every figure, the same
for each path measured, so compare paths, not absolute rates.
"""
import os
import select
import socket
import struct
import sys
import time


def query(qid, name):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", 1, 1)


def good(msg):
    return (len(msg) >= 12 and msg[3] & 0xF == 0 and
            struct.unpack("!H", msg[6:8])[0] >= 1)


def lat(sock, name, count):
    samples = []
    for i in range(count):
        qid = i & 0xFFFF
        t0 = time.perf_counter()
        sock.send(query(qid, name))
        msg = sock.recv(4096)
        samples.append(time.perf_counter() - t0)
        if struct.unpack("!H", msg[:2])[0] != qid or not good(msg):
            sys.exit("dnsload: a bad answer")
    samples.sort()
    print("p50_us %.0f p99_us %.0f" % (samples[len(samples) // 2] * 1e6,
                                       samples[len(samples) * 99 // 100] * 1e6))


def qps(sock, name, seconds, window):
    sock.setblocking(False)
    msgs = [query(i, name) for i in range(65536)]
    nxt, inflight, done, lost = 0, 0, 0, 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        while inflight < window:
            sock.send(msgs[nxt])
            nxt = (nxt + 1) & 0xFFFF
            inflight += 1
        r, _, _ = select.select([sock], [], [], 0.2)
        if not r:
            # Nothing for 200 ms: what is in flight is lost.
            lost += inflight
            inflight = 0
            continue
        while True:
            try:
                msg = sock.recv(4096)
            except BlockingIOError:
                break
            inflight -= 1
            if good(msg):
                done += 1
    print("qps %.0f lost %d" % (done / seconds, lost))


def main():
    mode, addr, port, name, n = sys.argv[1:6]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((addr, int(port)))
    if mode == "lat":
        lat(sock, name, int(n))
    else:
        qps(sock, name, float(n), int(os.environ.get("WINDOW", "32")))


if __name__ == "__main__":
    main()
