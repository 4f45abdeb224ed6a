#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Peers that the real client would never be: for tests only.

  peer.py send SOCK [--hex HEX] [--fd PATH]... [--hangup] [--timeout S]
      connect, send the bytes with the descriptors attached in one
      message, print the reply (until EOF), or hang up at once
  peer.py hold SOCK [--hex HEX] [--count N] --seconds S
      open N connections (default 1), send the bytes (maybe none) on
      each, print "holding N" once all are open, hold them
  peer.py flood SOCK --count N
      open N connections at once and hold them until stdin closes
  peer.py seed-daemon SOCK
      the seed's daemon: accept one client, read one message, never answer
  peer.py hold-port PORT
      listen on 127.0.0.1:PORT (run it inside a namespace) until killed
"""

import argparse
import os
import socket
import sys
import time


def connect(path, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_UNIX, kind)
    s.connect(path)
    return s


def cmd_send(a):
    fds = [os.open(p, os.O_RDONLY) for p in a.fd]
    s = connect(a.sock)
    data = bytes.fromhex(a.hex)
    if fds:
        socket.send_fds(s, [data], fds)
    else:
        s.sendall(data)
    for fd in fds:
        os.close(fd)
    if a.hangup:
        s.close()
        return 0
    s.settimeout(a.timeout)
    reply = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    except socket.timeout:
        print("peer.py: timed out waiting for the reply", file=sys.stderr)
        return 2
    sys.stdout.write(reply.decode(errors="replace"))
    return 0


def cmd_hold(a):
    conns = []
    for _ in range(a.count):
        s = connect(a.sock)
        if a.hex:
            s.sendall(bytes.fromhex(a.hex))
        conns.append(s)
    print(f"holding {len(conns)}", flush=True)
    time.sleep(a.seconds)
    return 0


def cmd_flood(a):
    conns = []
    for _ in range(a.count):
        try:
            conns.append(connect(a.sock))
        except OSError as e:
            print(f"peer.py: connection {len(conns)}: {e}", file=sys.stderr)
            break
    print(f"opened {len(conns)}", flush=True)
    sys.stdin.read()
    return 0


def cmd_seed_daemon(a):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(a.sock)
    srv.listen(16)
    print("listening", flush=True)
    conn, _ = srv.accept()
    msg, fds, _, _ = socket.recv_fds(conn, 1, 1)
    print(f"received {msg.hex()} with {len(fds)} fd", flush=True)
    while True:  # like the seed: never answers, never closes
        time.sleep(3600)


def cmd_hold_port(a):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", a.port))
    s.listen()
    print("listening", flush=True)
    while True:
        time.sleep(3600)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("sock")
    s.add_argument("--hex", default="01")
    s.add_argument("--fd", action="append", default=[])
    s.add_argument("--hangup", action="store_true")
    s.add_argument("--timeout", type=float, default=5)
    s.set_defaults(fn=cmd_send)
    s = sub.add_parser("hold")
    s.add_argument("sock")
    s.add_argument("--hex", default="")
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--seconds", type=float, required=True)
    s.set_defaults(fn=cmd_hold)
    s = sub.add_parser("flood")
    s.add_argument("sock")
    s.add_argument("--count", type=int, required=True)
    s.set_defaults(fn=cmd_flood)
    s = sub.add_parser("seed-daemon")
    s.add_argument("sock")
    s.set_defaults(fn=cmd_seed_daemon)
    s = sub.add_parser("hold-port")
    s.add_argument("port", type=int)
    s.set_defaults(fn=cmd_hold_port)
    a = p.parse_args()
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
