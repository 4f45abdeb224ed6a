#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""An upstream DNS server for the tests, run inside a namespace of the
test's own: UDP and TCP on port 53 of every address there.

  NAME.example.test  A      192.0.2.7
  big.example.test   TXT    40 records: too big for UDP, so the UDP
                            answer is truncated (TC) and the full one
                            comes over TCP
  slow.example.test  any    never answered
  anything else             NXDOMAIN

Each query is logged on stdout as "udp|tcp SOURCE NAME TYPE".  Prints
"listening" once both sockets are bound.
"""
import socket
import struct
import sys
import threading


def parse_question(msg):
    """(id, name, qtype, end of question) of a query."""
    qid = struct.unpack("!H", msg[:2])[0]
    off, labels = 12, []
    while msg[off] != 0:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode("ascii").lower())
        off += 1 + n
    off += 1
    qtype = struct.unpack("!H", msg[off:off + 2])[0]
    return qid, ".".join(labels), qtype, off + 4


def answer(msg, tcp):
    qid, name, qtype, end = parse_question(msg)
    question = msg[12:end]
    flags = 0x8180  # QR, RD, RA
    records = []
    if name == "slow.example.test":
        return None, name, qtype
    if name == "big.example.test" and qtype == 16:
        for i in range(40):
            text = ("record %02d " % i + "x" * 40).encode()
            rdata = bytes([len(text)]) + text
            records.append(struct.pack("!HHHIH", 0xC00C, 16, 1, 30,
                                       len(rdata)) + rdata)
        if not tcp:
            flags |= 0x0200  # TC: ask again over TCP
            records = []
    elif name.endswith(".example.test") and qtype == 1:
        records.append(struct.pack("!HHHIH", 0xC00C, 1, 1, 30, 4) +
                       socket.inet_aton("192.0.2.7"))
    elif not name.endswith(".example.test"):
        flags |= 3  # NXDOMAIN
    header = struct.pack("!HHHHHH", qid, flags, 1, len(records), 0, 0)
    return header + question + b"".join(records), name, qtype


def log(proto, src, name, qtype):
    sys.stdout.write("%s %s %s %d\n" % (proto, src, name, qtype))
    sys.stdout.flush()


def serve_udp(sock):
    while True:
        msg, peer = sock.recvfrom(4096)
        try:
            out, name, qtype = answer(msg, False)
        except (IndexError, struct.error, UnicodeDecodeError):
            continue
        log("udp", peer[0], name, qtype)
        if out is not None:
            sock.sendto(out, peer)


def serve_tcp_conn(conn, peer):
    with conn:
        buf = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while len(buf) >= 2:
                n = struct.unpack("!H", buf[:2])[0]
                if len(buf) < 2 + n:
                    break
                msg, buf = buf[2:2 + n], buf[2 + n:]
                out, name, qtype = answer(msg, True)
                log("tcp", peer[0], name, qtype)
                if out is not None:
                    conn.sendall(struct.pack("!H", len(out)) + out)


def serve_tcp(sock):
    while True:
        conn, peer = sock.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn, peer),
                         daemon=True).start()


def main():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 53))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("0.0.0.0", 53))
    t.listen(16)
    threading.Thread(target=serve_tcp, args=(t,), daemon=True).start()
    print("listening", flush=True)
    serve_udp(u)


if __name__ == "__main__":
    main()
