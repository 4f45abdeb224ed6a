#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A scriptable ZDS peer, for tests: the raw datagrams our programs never send.

  zds.py agent SOCK STEP...      listen on SOCK (SOCK_SEQPACKET) as a node agent
  zds.py ztunnel SOCK STEP...    connect to SOCK as a ztunnel
  zds.py encode-add UID NAME NAMESPACE SA   print an Add's bytes in hex

Steps, run in order, each printing one line the test can grep:
  accept                     (agent) take the next ztunnel connection
  hello                      (agent) read its hello: "hello HEX"
  send:HEX[:fd=PATH...]      send a datagram with descriptors, read the ack:
                             "ack ok" or "ack error: TEXT"
  add:UID:NAME[:fd=PATH...]  Add with WorkloadInfo{NAME, default, sa}
  add-noinfo:UID[:fd=PATH]   Add without workload_info
  keep:UID  del:UID  snapshot       (fd=PATH attaches descriptors to any)
  push:HEX[:fd=PATH...]      send, do not wait (ztunnel side: a raw hello...)
  recv                       read one datagram: "recv HEX fds=N" or "closed"
  expect-close               read until EOF: "closed", or "open" on timeout
  sleep:S
Prints "done" after the last step, then holds its connection until killed.
"""

import os
import socket
import sys
import time

TIMEOUT = 10


def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def field(num, payload):
    """A length-delimited field: strings and messages."""
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def string(num, s):
    return field(num, s.encode()) if s else b""


def request(kind, body):
    return field({"add": 1, "del": 2, "snapshot": 3, "keep": 5}[kind], body)


def parse_ack(data):
    """WorkloadResponse{ack{error}} -> error text ("" for success)."""
    i, err = 0, None

    def rd_varint():
        nonlocal i
        shift = val = 0
        while True:
            b = data[i]
            i += 1
            val |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return val

    while i < len(data):
        key = rd_varint()
        ln = rd_varint()
        body = data[i:i + ln]
        i += ln
        if key == 0x0A:
            err = ""
            j = 0
            while j < len(body):
                if body[j] == 0x0A:
                    n = body[j + 1]
                    err = body[j + 2:j + 2 + n].decode(errors="replace")
                    j += 2 + n
                else:
                    break
    return err


def send(sock, data, paths):
    fds = [os.open(p, os.O_RDONLY) for p in paths]
    try:
        if fds:
            socket.send_fds(sock, [data], fds)
        else:
            sock.send(data)
    finally:
        for fd in fds:
            os.close(fd)


def recv(sock):
    data, fds, _, _ = socket.recv_fds(sock, 65536, 4)
    for fd in fds:
        os.close(fd)
    return data, len(fds)


def say(line):
    print(line, flush=True)


def run(sock, steps, listener=None):
    for step in steps:
        parts = step.split(":")
        op = parts[0]
        paths = [p[3:] for p in parts if p.startswith("fd=")]
        if op == "accept":
            sock, _ = listener.accept()
            sock.settimeout(TIMEOUT)
            say("accepted")
            continue
        if op == "hello":
            data, _ = recv(sock)
            say("hello " + data.hex() if data else "closed")
            continue
        if op == "sleep":
            time.sleep(float(parts[1]))
            continue
        if op == "recv":
            try:
                data, n = recv(sock)
                say(f"recv {data.hex()} fds={n}" if data else "closed")
            except socket.timeout:
                say("timeout")
            continue
        if op == "expect-close":
            try:
                while True:
                    data, _ = recv(sock)
                    if not data:
                        break
                say("closed")
            except socket.timeout:
                say("open")
            except ConnectionResetError:
                say("closed")
            continue
        if op in ("send", "push"):
            data = bytes.fromhex(parts[1])
        elif op == "add":
            data = encode_add(parts[1], parts[2], "default", "sa")
        elif op == "add-noinfo":
            data = request("add", string(1, parts[1]))
        elif op == "keep":
            data = request("keep", string(1, parts[1]))
        elif op == "del":
            data = request("del", string(2, parts[1]))
        elif op == "snapshot":
            data = request("snapshot", b"")
        else:
            sys.exit(f"zds.py: unknown step {step}")
        try:
            send(sock, data, paths)
        except (BrokenPipeError, ConnectionResetError):
            say("closed")
            continue
        if op == "push":
            continue
        try:
            reply, _ = recv(sock)
        except socket.timeout:
            say("timeout")
            continue
        if not reply:
            say("closed")
            continue
        err = parse_ack(reply)
        say("ack ok" if err == "" else f"ack error: {err}")
    return sock


def encode_add(uid, name, ns, sa):
    info = string(1, name) + string(2, ns) + string(3, sa)
    return request("add", string(1, uid) + field(2, info))


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "encode-add":
        print(encode_add(*sys.argv[2:6]).hex())
        return
    if len(sys.argv) < 3 or sys.argv[1] not in ("agent", "ztunnel"):
        sys.exit(__doc__)
    role, path, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
    if role == "agent":
        if os.path.exists(path):
            os.unlink(path)
        lst = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        lst.bind(path)
        lst.listen(4)
        lst.settimeout(TIMEOUT)
        say("listening")
        conn = run(None, steps, lst)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(path)
        s.settimeout(TIMEOUT)
        conn = run(s, steps)
    # Hold the connection until killed: the peer sees no hang-up.
    say("done")
    while conn is not None:
        time.sleep(3600)


if __name__ == "__main__":
    main()
