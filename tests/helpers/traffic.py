#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Apps and clients for the traffic tests: what a pod runs, and what it sends.

  traffic.py serve PORT            an app: each connection's first line says
                                   what it wants ("peer", "echo", "stream",
                                   "hold": read to the end, then keep the
                                   connection open, never closing it)
  traffic.py peer HOST PORT        print the address the app saw us from
  traffic.py bulk HOST PORT MIB    send MIB MiB through "echo", read it back
                                   at the same time; byte-identical both ways
  traffic.py halfclose HOST PORT   send, shut down our side, then read: the
                                   echo must come after our FIN
  traffic.py closed HOST PORT      expect the connection to end, cleanly or
                                   refused, never to hang
  traffic.py closed_many HOST PORT N
                                   the same for N connections at once
  traffic.py many HOST PORT N      N connections at once, each echoed
  traffic.py seq HOST PORT N       N connections one after the other
  traffic.py stream HOST PORT      read an endless stream; print when it ends
  traffic.py hold HOST PORT N [MS] open N connections (MS apart) and hold
                                   them open
  traffic.py halfopen HOST PORT [S]
                                   ask for "hold", send our FIN, wait (at most
                                   S seconds, default 30) for the end:
                                   "ended after MS ms" or "still open"
  traffic.py idle HOST PORT [S]    the same without our FIN
  traffic.py probe HOST PORT N     N round trips of 64 bytes on one "echo"
                                   connection, one after the other; print
                                   "probe N p50 MS p99 MS max MS"
  traffic.py churn HOST PORT STOP  new "echo" connections one after the
                                   other from 4 threads until the file STOP
                                   exists ("ok N" every 100); print "churn OK
                                   ok FAILED failed (errors)"; exit 0 if none
                                   failed
  traffic.py longs HOST PORT N STOP
                                   N "echo" connections, each sending 4 KiB
                                   every 10 ms and checking what comes back,
                                   until STOP exists, then a FIN and the rest
                                   of the echo; print "longs N: I intact, E
                                   ended early, R reset, D different, B bytes"
                                   (ended early: a clean FIN before ours)
  traffic.py sustain HOST PORT N RATE HOLD_MS
                                   N "echo" connections, RATE a second, each
                                   held HOLD_MS after its first echo came
                                   back; print "sustain N: F failed, open
                                   p50 MS p99 MS max MS" (open: connect to
                                   first echo; failed: an error, or no echo
                                   within 30 s); exit 0 if none failed
Each client prints one line the test checks; exit 0 means it held.
"""

import hashlib
import os
import selectors
import socket
import sys
import threading
import time

TIMEOUT = 30


def family(host):
    """The socket family of an address: IPv6 if it has a colon."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def serve(port):
    # Both families on one socket, as a dual-stack app; IPv4 alone where
    # the pod has no IPv6.
    try:
        s = socket.socket(socket.AF_INET6)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", port))
    except OSError:
        s = socket.socket(family(host))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
    s.listen(1024)
    print("listening", flush=True)
    while True:
        c, addr = s.accept()
        threading.Thread(target=handle, args=(c, addr), daemon=True).start()


def readline(c):
    line = b""
    while not line.endswith(b"\n"):
        b = c.recv(1)
        if not b:
            break
        line += b
    return line.strip()


def handle(c, addr):
    try:
        what = readline(c)
        if what == b"peer":
            who = addr[0]
            if who.startswith("::ffff:") and "." in who:
                who = who[len("::ffff:"):]  # an IPv4 client, as IPv4
            c.sendall(f"{who}\n".encode())
        elif what == b"echo":
            while True:
                d = c.recv(1 << 16)
                if not d:
                    break
                c.sendall(d)
        elif what == b"hold":
            while c.recv(1 << 16):
                pass
            time.sleep(3600)
        elif what == b"stream":
            chunk = b"x" * 65536
            while True:
                c.sendall(chunk)
                time.sleep(0.01)
        c.shutdown(socket.SHUT_WR)
        while c.recv(1 << 16):
            pass
    except OSError:
        pass
    finally:
        c.close()


def connect(host, port):
    c = socket.create_connection((host, port), timeout=TIMEOUT)
    return c


def peer(host, port):
    c = connect(host, port)
    c.sendall(b"peer\n")
    print(readline(c).decode())


def bulk(host, port, mib):
    total = mib << 20
    c = connect(host, port)
    c.sendall(b"echo\n")
    sent_hash, got_hash = hashlib.sha256(), hashlib.sha256()
    block = os.urandom(1 << 16)
    got = 0

    def reader():
        nonlocal got
        while True:
            d = c.recv(1 << 20)
            if not d:
                return
            got_hash.update(d)
            got += len(d)

    t = threading.Thread(target=reader)
    t.start()
    left = total
    while left > 0:
        piece = block[:min(left, len(block))]
        c.sendall(piece)
        sent_hash.update(piece)
        left -= len(piece)
    c.shutdown(socket.SHUT_WR)
    t.join()
    same = got == total and got_hash.digest() == sent_hash.digest()
    print(f"{'identical' if same else 'DIFFERENT'} {got} of {total}")
    sys.exit(0 if same else 1)


def halfclose(host, port):
    c = connect(host, port)
    c.sendall(b"echo\nafter our fin")
    c.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        data += d
    ok = data == b"after our fin"
    print("half-close carried" if ok else f"got {data!r}")
    sys.exit(0 if ok else 1)


def closed(host, port):
    start = time.monotonic()
    try:
        c = connect(host, port)
        c.sendall(b"echo\nanyone?")
        d = c.recv(4096)
        how = "reset" if d is None else ("eof" if not d else f"data {d!r}")
    except ConnectionResetError:
        how = "reset"
    except ConnectionRefusedError:
        how = "refused"
    except socket.timeout:
        how = "hung"
    ms = int((time.monotonic() - start) * 1000)
    print(f"{how} after {ms} ms")
    sys.exit(0 if how in ("eof", "refused") else 1)


def closed_many(host, port, n):
    def one(out):
        try:
            c = connect(host, port)
            c.sendall(b"echo\n")
            while c.recv(1 << 16):
                pass
            c.close()
        except ConnectionRefusedError:
            pass
        except OSError as e:
            out.append(e)
    errs = []
    ts = [threading.Thread(target=one, args=(errs,)) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"{n - len(errs)} of {n} ended" + (f" ({errs[0]})" if errs else ""))
    sys.exit(1 if errs else 0)


def many(host, port, n):
    sel = selectors.DefaultSelector()
    want = b"x" * 1024
    socks = []
    for _ in range(n):
        c = socket.socket(family(host))
        c.setblocking(False)
        c.connect_ex((host, port))
        socks.append(c)
        sel.register(c, selectors.EVENT_WRITE, [b"echo\n" + want, b""])
    ok = 0
    errs = {}
    deadline = time.monotonic() + 60
    while sel.get_map() and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=1):
            c, st = key.fileobj, key.data
            if ev & selectors.EVENT_WRITE and st[0]:
                try:
                    k = c.send(st[0])
                except BlockingIOError:
                    continue
                except OSError as e:
                    errs[e.errno] = errs.get(e.errno, 0) + 1
                    sel.unregister(c)
                    continue
                st[0] = st[0][k:]
                if not st[0]:
                    c.shutdown(socket.SHUT_WR)
                    sel.modify(c, selectors.EVENT_READ, st)
                continue
            try:
                d = c.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                errs[e.errno] = errs.get(e.errno, 0) + 1
                d = b""
            if d:
                st[1] += d
                continue
            sel.unregister(c)
            ok += st[1] == want
    for c in socks:
        c.close()
    why = ", ".join(f"{os.strerror(e)}: {k}" for e, k in errs.items())
    print(f"{ok} of {n} echoed" + (f" ({why})" if why else ""))
    sys.exit(0 if ok == n else 1)


def seq(host, port, n):
    ok, errs = 0, {}
    for i in range(n):
        try:
            c = connect(host, port)
            c.sendall(b"echo\n%d" % i)
            c.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                d = c.recv(64)
                if not d:
                    break
                data += d
            c.close()
            ok += data == b"%d" % i
        except OSError as e:
            errs[e.strerror] = errs.get(e.strerror, 0) + 1
    why = ", ".join(f"{e}: {k}" for e, k in errs.items())
    print(f"{ok} of {n} echoed" + (f" ({why})" if why else ""))
    sys.exit(0 if ok == n else 1)


def hold(host, port, n, ms=0):
    socks = []
    for _ in range(n):
        time.sleep(ms / 1000)
        c = connect(host, port)
        c.sendall(b"echo\n")
        socks.append(c)
    print(f"held {n}", flush=True)
    while True:
        time.sleep(3600)


def stream(host, port):
    c = connect(host, port)
    c.settimeout(None)
    c.sendall(b"stream\n")
    got = 0
    print("streaming", flush=True)
    try:
        while True:
            d = c.recv(1 << 16)
            if not d:
                break
            got += len(d)
    except OSError:
        pass
    print(f"ended after {got} bytes", flush=True)


def halfopen(host, port, s=30, fin=True):
    c = connect(host, port)
    c.sendall(b"hold\n")
    if fin:
        c.shutdown(socket.SHUT_WR)
    print("open", flush=True)
    start = time.monotonic()
    c.settimeout(s)
    try:
        while c.recv(1 << 16):
            pass
        print(f"ended after {int((time.monotonic() - start) * 1000)} ms",
              flush=True)
    except socket.timeout:
        print("still open", flush=True)
    except OSError as e:
        print(f"ended after {int((time.monotonic() - start) * 1000)} ms "
              f"({e})", flush=True)


def idle(host, port, s=30):
    halfopen(host, port, s, fin=False)


def probe(host, port, n):
    c = connect(host, port)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(b"echo\n")
    msg = b"p" * 64
    took = []
    for _ in range(n):
        t0 = time.monotonic()
        c.sendall(msg)
        got = b""
        while len(got) < len(msg):
            d = c.recv(len(msg) - len(got))
            if not d:
                print(f"closed after {len(took)} round trips", flush=True)
                sys.exit(1)
            got += d
        took.append((time.monotonic() - t0) * 1000)
    took.sort()
    print(f"probe {n} p50 {took[n // 2]:.2f} p99 {took[(n * 99) // 100]:.2f} "
          f"max {took[-1]:.2f}", flush=True)
    c.close()


def churn(host, port, stop):
    ok, failed, errs = 0, 0, {}
    lock = threading.Lock()

    def one(i):
        c = connect(host, port)
        try:
            msg = b"%d" % i
            c.sendall(b"echo\n" + msg)
            c.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                d = c.recv(64)
                if not d:
                    break
                data += d
            if data != msg:
                raise OSError(0, "echo different")
        finally:
            c.close()

    def worker(k):
        nonlocal ok, failed
        i = k
        while not os.path.exists(stop):
            try:
                one(i)
                with lock:
                    ok += 1
                    if ok % 100 == 0:
                        print(f"ok {ok}", flush=True)
            except OSError as e:
                with lock:
                    failed += 1
                    if e.strerror not in errs:
                        # The first of each kind now: a test that
                        # times out waiting shows why.
                        print(f"error {e.strerror}", flush=True)
                    errs[e.strerror] = errs.get(e.strerror, 0) + 1
            i += 4

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    print("churning", flush=True)
    for t in threads:
        t.join()
    why = ", ".join(f"{e}: {k}" for e, k in errs.items())
    print(f"churn {ok} ok {failed} failed" + (f" ({why})" if why else ""),
          flush=True)
    sys.exit(0 if failed == 0 and ok > 0 else 1)


def longs(host, port, n, stop):
    res = {"intact": 0, "ended": 0, "reset": 0, "different": 0}
    total = 0
    lock = threading.Lock()

    def one(k):
        nonlocal total
        block = bytes((k + i) % 251 for i in range(4096))
        sent = bytearray()
        got = bytearray()
        outcome = "intact"
        ours = False    # our FIN came first
        eof = threading.Event()
        c = connect(host, port)
        c.settimeout(None)
        c.sendall(b"echo\n")

        def reader():
            nonlocal outcome
            try:
                while True:
                    d = c.recv(1 << 16)
                    if not d:
                        eof.set()
                        return
                    got.extend(d)
            except OSError:
                outcome = "reset"

        t = threading.Thread(target=reader)
        t.start()
        try:
            while not os.path.exists(stop) and t.is_alive():
                c.sendall(block)
                sent.extend(block)
                time.sleep(0.01)
            if t.is_alive() and not eof.is_set():
                ours = True
                c.shutdown(socket.SHUT_WR)
        except OSError:
            # Sending after the other end closed (a clean FIN already
            # read) is our doing, not a reset.
            t.join(TIMEOUT)
            if not eof.is_set():
                outcome = "reset"
        t.join(TIMEOUT)
        c.close()
        if outcome == "intact":
            if bytes(got) != bytes(sent[:len(got)]):
                outcome = "different"
            elif not ours or len(got) < len(sent):
                outcome = "ended"
        with lock:
            res[outcome] += 1
            total += len(got)

    threads = [threading.Thread(target=one, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    print("longs open", flush=True)
    for t in threads:
        t.join()
    print(f"longs {n}: {res['intact']} intact, {res['ended']} ended early, "
          f"{res['reset']} reset, {res['different']} different, "
          f"{total} bytes", flush=True)
    sys.exit(0 if res["reset"] == 0 and res["different"] == 0 else 1)


def sustain(host, port, n, rate, hold_ms):
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    opened = 0
    failed = 0
    errs = {}
    times = []
    closing = []            # (when, socket), in order of when
    done = 0

    def fail(c, why):
        nonlocal failed, done
        failed += 1
        done += 1
        errs[why] = errs.get(why, 0) + 1
        sel.unregister(c)
        c.close()

    while done < n:
        now = time.monotonic()
        # Open what is due: connection i at start + i / rate.
        while opened < n and start + opened / rate <= now:
            c = socket.socket(family(host))
            c.setblocking(False)
            c.connect_ex((host, port))
            sel.register(c, selectors.EVENT_WRITE, [now, b"echo\nx", 0])
            opened += 1
        while closing and closing[0][0] <= now:
            closing.pop(0)[1].close()
            done += 1
        wait = 0.05
        if opened < n:
            wait = min(wait, max(0, start + opened / rate - now))
        for key, ev in sel.select(timeout=wait):
            c, st = key.fileobj, key.data
            try:
                if ev & selectors.EVENT_WRITE:
                    err = c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        fail(c, os.strerror(err))
                        continue
                    c.send(st[1])
                    sel.modify(c, selectors.EVENT_READ, st)
                    continue
                d = c.recv(64)
            except OSError as e:
                fail(c, e.strerror or str(e))
                continue
            st[2] += len(d)
            if not d:
                fail(c, "closed before the echo")
            elif st[2] >= 1:
                times.append((time.monotonic() - st[0]) * 1000)
                sel.unregister(c)
                closing.append((time.monotonic() + hold_ms / 1000, c))
        for key in list(sel.get_map().values()):
            if now - key.data[0] > 30:
                fail(key.fileobj, "no echo within 30 s")
    times.sort()

    def pct(p):
        return times[min(len(times) - 1, int(len(times) * p))] if times else 0
    print(f"sustain {n}: {failed} failed, open p50 {pct(0.5):.1f} "
          f"p99 {pct(0.99):.1f} max {times[-1] if times else 0:.1f}"
          + (f" ({errs})" if errs else ""), flush=True)
    sys.exit(1 if failed else 0)


def main():
    a = sys.argv[1:]
    try:
        if a[0] == "serve":
            serve(int(a[1]))
        elif a[0] in ("peer", "halfclose", "closed", "stream"):
            globals()[a[0]](a[1], int(a[2]))
        elif a[0] in ("bulk", "many", "seq", "hold", "probe", "closed_many",
                      "halfopen", "idle"):
            globals()[a[0]](a[1], int(a[2]), *map(int, a[3:]))
        elif a[0] == "churn":
            churn(a[1], int(a[2]), a[3])
        elif a[0] == "sustain":
            sustain(a[1], int(a[2]), int(a[3]), float(a[4]), int(a[5]))
        elif a[0] == "longs":
            longs(a[1], int(a[2]), int(a[3]), a[4])
        else:
            sys.exit(__doc__)
    except IndexError:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
