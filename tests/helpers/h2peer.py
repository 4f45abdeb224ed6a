#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""HTTP/2 peers for the HBONE tests: python3-h2 (Debian's, hence
/usr/bin/python3) as a stack that is not ours, and raw frames for what no
well-behaved stack would send.

  h2peer.py client HOST PORT AUTHORITY [N [SIZE [WINDOW]]]
      open N (default 1) CONNECT streams for AUTHORITY on one connection;
      on each, send "echo\\n" and a payload (SIZE random bytes: DATA
      frames as large as the server's MAX_FRAME_SIZE and the windows
      allow, sent as the windows open), then END_STREAM; print
      "status S" per stream, then "window updates: stream S (least L),
      connection C" (the WINDOW_UPDATEs that came for the streams, the
      smallest increment among them, and those for the connection), and
      "echoed N" when every 200 came back whole.
      With WINDOW: our SETTINGS give each stream a window of WINDOW bytes
      and allow frames of up to 1 MiB, and the connection is held open
      after "echoed N" until we are killed
  h2peer.py server PORT LOG [STATUS]
      an HBONE server standing in for a remote pod's 15008: answer every
      CONNECT with STATUS (default 200), echo its bytes back, END_STREAM
      for END_STREAM; one JSON line per request in LOG (its headers, our
      view of the client's settings and connection window)
  h2peer.py hold HOST PORT AUTHORITY
      one CONNECT stream, held open: print "open" once it is answered,
      then "goaway CODE" when the server says it is going away
  h2peer.py tcp HOST PORT TEXT
      plain TCP, as an app: send TEXT, FIN, print what comes back
  h2peer.py nostreams PORT refuse|hold
      an HTTP/2 server (raw frames) whose SETTINGS allow no stream
      (MAX_CONCURRENT_STREAMS 0): it refuses each stream it is sent
      (RST_STREAM REFUSED_STREAM), or holds it unanswered
  h2peer.py sink PORT
      a listener that never accepts: connections complete in the kernel
      and their bytes are never read (a target whose window cannot move)
  h2peer.py flood HOST PORT KIND TALLY
      flood HOST:PORT with frames of one KIND (see FLOODS) as fast as the
      socket takes them, connecting again each time the server hangs up,
      until killed; the bytes sent so far go to the file TALLY, and one
      line per connection ended to stdout: "goaway CODE after N answers"
      (N: the responses that came before it) or "closed"
  h2peer.py hostile HOST PORT CASE
      a peer that breaks the rules one way (see CASES); prints what came
      back: "goaway CODE", "status S", "rst CODE" (on the case's stream
      of interest), "alive" (a PING was answered after it), or "closed"

h2 4.1.0 wants :path on every request unless told not to check headers,
though RFC 9113 8.5 forbids it on CONNECT: hence the validate_* flags.
"""
import json
import os
import socket
import struct
import sys
import threading
import time

TIMEOUT = 20


def h2_modules():
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import h2.settings
    return h2


# ---- python3-h2 client ------------------------------------------------------

def h2_client(host, port, timeout=TIMEOUT):
    """A python3-h2 client connection to host:port, preface queued."""
    h2 = h2_modules()
    cfg = h2.config.H2Configuration(client_side=True,
                                    validate_outbound_headers=False,
                                    validate_inbound_headers=False,
                                    header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=cfg)
    sock = socket.create_connection((host, port), timeout=timeout)
    conn.initiate_connection()
    return h2, conn, sock


def send_more(conn, streams):
    """Each answered stream's payload, as far as the windows allow."""
    for sid, st in streams.items():
        while st["status"] == "200" and st["sent"] < len(st["payload"]):
            n = min(conn.local_flow_control_window(sid),
                    conn.max_outbound_frame_size,
                    len(st["payload"]) - st["sent"])
            if n <= 0:
                break
            end = st["sent"] + n == len(st["payload"])
            conn.send_data(sid, st["payload"][st["sent"]:st["sent"] + n],
                           end_stream=end)
            st["sent"] += n


def client(host, port, authority, n=1, size=0, window=0):
    h2, conn, sock = h2_client(host, port)
    if window:
        conn.update_settings({
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
            h2.settings.SettingCodes.MAX_FRAME_SIZE: 1 << 20})
    streams = {}
    for i in range(n):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "CONNECT"),
                                (":authority", authority)])
        payload = b"echo\n" + (os.urandom(size) if size else
                               (b"%d:" % i) * 50)
        streams[sid] = {"want": payload[5:], "got": b"", "status": None,
                        "done": False, "payload": payload, "sent": 0}
    sock.sendall(conn.data_to_send())
    ok = 0
    updates = [0, 0]                # the streams', the connection's
    least = 0                       # the streams' smallest increment
    deadline = time.monotonic() + TIMEOUT
    while not all(s["done"] for s in streams.values()):
        if time.monotonic() > deadline:
            print("timed out")
            return 1
        data = sock.recv(65536)
        if not data:
            print("connection closed")
            break
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                st = streams[ev.stream_id]
                hs = dict(ev.headers)
                st["status"] = hs[":status"]
                print(f"status {st['status']}")
                if "baggage" in hs:
                    print(f"baggage {hs['baggage']}")
            elif isinstance(ev, h2.events.DataReceived):
                streams[ev.stream_id]["got"] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length,
                                               ev.stream_id)
            elif isinstance(ev, (h2.events.StreamEnded,
                                 h2.events.StreamReset)):
                st = streams[ev.stream_id]
                st["done"] = True
                ok += st["status"] == "200" and st["got"] == st["want"]
            elif isinstance(ev, h2.events.ConnectionTerminated):
                print(f"goaway {ev.error_code}")
                for st in streams.values():
                    st["done"] = True
            elif isinstance(ev, h2.events.WindowUpdated):
                updates[ev.stream_id == 0] += 1
                if ev.stream_id != 0 and (least == 0 or ev.delta < least):
                    least = ev.delta
        send_more(conn, streams)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    print(f"window updates: stream {updates[0]} (least {least}), "
          f"connection {updates[1]}")
    print(f"echoed {ok}")
    sock.settimeout(None)
    while window:           # held, PINGs answered, until killed
        data = sock.recv(65536)
        if not data:
            break
        conn.receive_data(data)
        sock.sendall(conn.data_to_send())
    sock.close()
    return 0 if ok == n else 1


def hold(host, port, authority):
    h2, conn, sock = h2_client(host, port, timeout=None)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "CONNECT"), (":authority", authority)])
    sock.sendall(conn.data_to_send())
    buf = b""
    while True:
        data = sock.recv(65536)
        if not data:
            print("closed")
            return 0
        # One frame at a time: h2 raises on any frame after a GOAWAY
        # (a graceful drain sends a PING with it), and would lose the
        # GOAWAY's event with the rest of the batch.
        buf += data
        evs = []
        try:
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                n = 9 + int.from_bytes(buf[:3], "big")
                f, buf = buf[:n], buf[n:]
                evs += conn.receive_data(f)
        except h2.exceptions.ProtocolError:
            pass
        for ev in evs:
            if isinstance(ev, h2.events.ResponseReceived):
                print("open" if dict(ev.headers)[":status"] == "200"
                      else "refused")
            elif isinstance(ev, h2.events.ConnectionTerminated):
                print(f"goaway {ev.error_code}")
        out = conn.data_to_send()
        if out:
            sock.sendall(out)


def tcp(host, port, text):
    c = socket.create_connection((host, port), timeout=TIMEOUT)
    c.sendall(text.encode())
    c.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        d = c.recv(65536)
        if not d:
            break
        got += d
    print(got.decode(errors="replace") if got else "(nothing)")
    return 0


# ---- python3-h2 server ------------------------------------------------------

def serve_one(sock, log, status):
    h2 = h2_modules()
    cfg = h2.config.H2Configuration(client_side=False,
                                    validate_inbound_headers=False,
                                    validate_outbound_headers=False,
                                    header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=cfg)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    pending = {}        # stream -> bytes to echo, [ended]
    while True:
        try:
            data = sock.recv(1 << 20)
        except OSError:
            return
        if not data:
            return
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                s = conn.remote_settings
                rec = {"headers": ev.headers,
                       "settings": {
                           "enable_push": s.enable_push,
                           "initial_window_size": s.initial_window_size,
                           "max_frame_size": s.max_frame_size,
                           "max_header_list_size": s.max_header_list_size},
                       "conn_window": conn.outbound_flow_control_window,
                       "stream": ev.stream_id}
                with open(log, "a") as f:
                    f.write(json.dumps(rec) + "\n")
                if status == 200:
                    conn.send_headers(ev.stream_id, [(":status", "200")])
                    pending[ev.stream_id] = [b"", False]
                else:
                    conn.send_headers(ev.stream_id,
                                      [(":status", str(status))],
                                      end_stream=True)
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length,
                                               ev.stream_id)
                if ev.stream_id in pending:
                    pending[ev.stream_id][0] += ev.data
            elif isinstance(ev, h2.events.StreamEnded):
                if ev.stream_id in pending:
                    pending[ev.stream_id][1] = True
            elif isinstance(ev, h2.events.StreamReset):
                pending.pop(ev.stream_id, None)
        for sid in list(pending):
            buf, ended = pending[sid]
            while buf:
                room = min(conn.local_flow_control_window(sid),
                           conn.max_outbound_frame_size)
                if room <= 0:
                    break
                conn.send_data(sid, buf[:room])
                buf = buf[room:]
            pending[sid][0] = buf
            if ended and not buf:
                conn.end_stream(sid)
                del pending[sid]
        out = conn.data_to_send()
        if out:
            sock.sendall(out)


def server(port, log, status=200):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(64)
    print("listening", flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve_one, args=(c, log, status),
                         daemon=True).start()


# ---- raw frames -------------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def settings(pairs=()):
    return frame(4, 0, 0, b"".join(struct.pack(">HI", k, v)
                                   for k, v in pairs))


def lit(name, value):
    """An HPACK literal without indexing, new name, raw strings (both
    shorter than 127 bytes, or with multi-byte lengths)."""
    def s(b):
        n = len(b)
        if n < 127:
            return bytes([n]) + b
        out = bytearray([127])
        n -= 127
        while n >= 128:
            out.append(n % 128 | 128)
            n //= 128
        out.append(n)
        return bytes(out) + b
    return b"\x00" + s(name) + s(value)


def connect_block(authority):
    # :method CONNECT (name index 2), :authority (name index 1): literals
    # without indexing, names from the static table.
    a = authority.encode()
    return b"\x02\x07CONNECT" + b"\x01" + bytes([len(a)]) + a


def headers(stream, block, end_headers=True, end_stream=False):
    return frame(1, (4 if end_headers else 0) | (1 if end_stream else 0),
                 stream, block)


CASES = {}


def case(f):
    CASES[f.__name__] = f
    return f


@case
def bad_preface(a):
    return b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


@case
def split_preface(a):
    # The preface in two pieces (RFC 9113 3.4: wait for all 24 bytes).
    return [PREFACE[:16], PREFACE[16:] + settings()]


@case
def get_request(a):
    # :method GET, :scheme http, :path / (static 2, 6, 4), :authority
    return PREFACE + settings() + headers(1, b"\x82\x86\x84" +
                                          connect_block(a)[9:],
                                          end_stream=True)


@case
def first_frame_not_settings(a):
    return PREFACE + frame(6, 0, 0, b"12345678")


@case
def oversized_frame(a):
    # 2 MiB announced, past our MAX_FRAME_SIZE of 1 MiB.
    return PREFACE + settings() + b"\x20\x00\x00\x00\x00\x00\x00\x00\x01"


@case
def unknown_frame_ignored(a):
    return PREFACE + settings() + frame(0xfa, 0xff, 7, b"whatever")


@case
def huge_header_list(a):
    block = connect_block(a) + b"".join(
        lit(b"x-pad-%d" % i, b"v" * 1000) for i in range(80))
    return PREFACE + settings() + headers(1, block)


@case
def table_size_over_limit(a):
    # A dynamic table size update to 8192, past the 4096 we allow.
    return PREFACE + settings() + headers(1, b"\x3f\xe1\x3f" +
                                          connect_block(a))


@case
def index_past_table(a):
    return PREFACE + settings() + headers(1, b"\xff\x80\x01")


@case
def endless_continuation(a):
    out = PREFACE + settings() + headers(1, connect_block(a), False)
    for i in range(64):
        out += frame(9, 0, 1, lit(b"x-c%d" % i, b"y" * 4000))
    return out


@case
def even_stream_id(a):
    return PREFACE + settings() + headers(2, connect_block(a))


@case
def stream_id_goes_down(a):
    return PREFACE + settings() + headers(5, connect_block(a)) + \
        headers(3, connect_block(a))


@case
def data_on_idle_stream(a):
    return PREFACE + settings() + frame(0, 0, 9, b"hello")


@case
def connection_window_overflow(a):
    return PREFACE + settings() + frame(8, 0, 0, struct.pack(">I", 0x7fffffff))


@case
def zero_window_update(a):
    return PREFACE + settings() + frame(8, 0, 0, struct.pack(">I", 0))


@case
def rapid_reset(a):
    out = PREFACE + settings()
    for i in range(400):
        sid = 2 * i + 1
        out += headers(sid, connect_block(a)) + \
            frame(3, 0, sid, struct.pack(">I", 8))
    return out


@case
def settings_flood(a):
    return PREFACE + settings() + settings() * 20000


@case
def ping_flood(a):
    return PREFACE + settings() + frame(6, 0, 0, b"flooding") * 20000


@case
def too_many_streams(a):
    # 201 streams at once; we allow 200 (MAX_CONCURRENT_STREAMS).  The
    # app (port 8080) answers, so the first 200 stay open.
    out = PREFACE + settings()
    for i in range(201):
        out += headers(2 * i + 1, connect_block(a))
    return out


@case
def stream_window_overrun(a):
    # DATA past the stream's window, to a target that never reads (the
    # sink on port 9000): flow control is the peer's to keep.
    host = a.rsplit(":", 1)[0]
    out = PREFACE + settings() + headers(1, connect_block(host + ":9000"))
    chunk = frame(0, 0, 1, b"w" * 16384)
    return out + chunk * 1536      # 24 MiB: past 4 MiB and any buffer


@case
def stream_window_overrun_big(a):
    # The same in frames of 1 MiB (our MAX_FRAME_SIZE), each arriving in
    # pieces: the payloads the server splices, until the target's pipe
    # is full and the rest is kept, up to the window.
    host = a.rsplit(":", 1)[0]
    out = PREFACE + settings() + headers(1, connect_block(host + ":9000"))
    chunk = frame(0, 0, 1, b"w" * 1048576)
    return out + chunk * 24


@case
def rst_flood_closed_streams(a):
    # RST_STREAM on a stream already closed is legal and ignored, one by
    # one; twenty thousand of them is a flood.
    return PREFACE + settings() + headers(1, connect_block(a)) + \
        frame(3, 0, 1, struct.pack(">I", 8)) * 20000


# The stream whose RST_STREAM a case is about (0: none, only the GOAWAY).
# A stream may be answered 200 before the server reads the frame that
# breaks the rules (it serves others between its turns): a rapid reset's
# streams, stream 5 before stream 3's HEADERS, stream 1 before the flood
# of resets that follows it.  Not the point.
WATCH = {"too_many_streams": 401, "stream_window_overrun": 1,
         "stream_window_overrun_big": 1,
         "rapid_reset": 0, "stream_id_goes_down": 0,
         "rst_flood_closed_streams": 0}


def nostreams_one(c, refuse):
    c.sendall(settings([(3, 0)]))
    buf = b""
    preface = False
    while True:
        try:
            d = c.recv(65536)
        except OSError:
            return
        if not d:
            return
        buf += d
        if not preface:
            if len(buf) < len(PREFACE):
                continue
            buf = buf[len(PREFACE):]
            preface = True
        out = b""
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            n = int.from_bytes(buf[:3], "big")
            t, fl, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big")
            p, buf = buf[9:9 + n], buf[9 + n:]
            if t == 4 and not fl & 1:
                out += frame(4, 1, 0)
            elif t == 6 and not fl & 1:
                out += frame(6, 1, 0, p)
            elif t == 1 and refuse:
                out += frame(3, 0, sid, struct.pack(">I", 7))
        if out:
            c.sendall(out)


def nostreams(port, mode):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(256)
    print("listening", flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=nostreams_one, args=(c, mode == "refuse"),
                         daemon=True).start()


def sink(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(64)
    print("listening", flush=True)
    while True:
        time.sleep(3600)


def read_frames(sock, until):
    buf = b""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            t, fl, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big")
            p = buf[9:9 + n]
            buf = buf[9 + n:]
            r = until(t, fl, sid, p)
            if r is not None:
                return r
        try:
            d = sock.recv(65536)
        except ConnectionResetError:
            return "closed"
        if not d:
            return "closed"
        buf += d
    return "timed out"


def hostile(host, port, name):
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    authority = f"{host}:8080"
    out = CASES[name](authority)
    try:
        # A list: pieces sent apart, each its own segment.
        for i, piece in enumerate(out if isinstance(out, list) else [out]):
            if i:
                time.sleep(0.2)
            sock.sendall(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass            # it hung up on us mid-way: what came back says why
    got = {}

    def until(t, fl, sid, p):
        if t == 7:
            return f"goaway {int.from_bytes(p[4:8], 'big')}"
        # Indexed :status from the static table (RFC 7541 Appendix A).
        static = {0x88: "200", 0x89: "204", 0x8a: "206", 0x8b: "304",
                  0x8c: "400", 0x8d: "404", 0x8e: "500"}
        if name in WATCH:
            pass            # only its RST_STREAM (or a GOAWAY) counts
        elif t == 1 and sid and p[:1] and p[0] in static:
            return f"status {static[p[0]]}"
        elif t == 1 and sid and "status" not in got:
            # A response's first field: an indexed :status, or a literal
            # with the :status name (index 8) and a 3-digit raw value.
            if p[:1] == b"\x08" and len(p) >= 5:
                got["status"] = p[2:5].decode()
                return f"status {got['status']}"
        if t == 3 and sid == WATCH.get(name):
            return f"rst {int.from_bytes(p[:4], 'big')}"
        if t == 6 and fl & 1 and p == b"alive?!!":
            return "alive"
        if t == 4 and fl & 1 and "pinged" not in got:
            got["pinged"] = 1
            try:
                sock.sendall(frame(4, 1, 0) + frame(6, 0, 0, b"alive?!!"))
            except OSError:
                return "closed"
        return None
    print(read_frames(sock, until))
    sock.close()
    return 0


# ---- floods -----------------------------------------------------------------
# Frames a peer may send any number of, each costing the server work: the
# server must charge them (or refuse them) and, meanwhile, serve others.

def lit_indexed(name, value):
    """An HPACK literal with incremental indexing, new name, raw strings."""
    return b"\x40" + lit(name, value)[1:]


def flood_hpack_400(a):
    # One 4 KiB entry in the dynamic table, then requests that name it 15
    # times each: 27 bytes on the wire, 60 KB of header list to decode,
    # answered 400 (an authority that is not this pod).
    first = headers(1, connect_block("no.such.pod:1") +
                    lit_indexed(b"x-big", b"b" * 4000) + b"\xbe" * 14)
    sid = 3
    frames = [first]
    while len(frames) < 2000:
        frames.append(headers(sid, connect_block("no.such.pod:1") +
                              b"\xbe" * 15))
        sid += 2
    return b"".join(frames), sid


FLOODS = {
    "settings_ack": lambda a: (frame(4, 1, 0) * 20000, None),
    "ping_ack": lambda a: (frame(6, 1, 0, b"notasked") * 20000, None),
    "window_update": lambda a: (frame(8, 0, 0, struct.pack(">I", 1)) * 20000,
                                None),
    "hpack_400": flood_hpack_400,
}


def flood(host, port, kind, tally):
    sent = [0]
    last = [0.0]

    def note(force=False):
        now = time.monotonic()
        if force or now - last[0] > 0.1:
            last[0] = now
            with open(tally + ".tmp", "w") as f:
                f.write(f"{sent[0]}\n")
            os.replace(tally + ".tmp", tally)

    def drain(sock, out):
        # Read what comes back (so the server's output never fills), and
        # note how the connection ended.
        buf = b""
        code = None
        answers = 0
        try:
            while True:
                d = sock.recv(1 << 16)
                if not d:
                    break
                buf += d
                while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                    n = 9 + int.from_bytes(buf[:3], "big")
                    if buf[3] == 7 and code is None:
                        code = int.from_bytes(buf[13:17], "big")
                    elif buf[3] == 1 and code is None:
                        answers += 1
                    buf = buf[n:]
        except OSError:
            pass
        out.append((code, answers))

    note(True)
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=TIMEOUT)
        except OSError:
            time.sleep(0.01)
            continue
        ended = []
        t = threading.Thread(target=drain, args=(sock, ended), daemon=True)
        t.start()
        try:
            sock.sendall(PREFACE + settings() + frame(4, 1, 0))
            if kind == "hpack_400":
                chunk, sid = flood_hpack_400(None)
                sock.sendall(chunk)
                sent[0] += len(chunk)
                while True:
                    more = b"".join(headers(sid + 2 * i,
                                            connect_block("no.such.pod:1") +
                                            b"\xbe" * 15) for i in range(2000))
                    sid += 4000
                    sock.sendall(more)
                    sent[0] += len(more)
                    note()
            else:
                chunk, _ = FLOODS[kind](None)
                while True:
                    sock.sendall(chunk)
                    sent[0] += len(chunk)
                    note()
        except OSError:
            pass
        note(True)
        t.join(TIMEOUT)
        sock.close()
        code, answers = ended[0] if ended else (None, 0)
        print("closed" if code is None else
              f"goaway {code} after {answers} answers", flush=True)


def main():
    a = sys.argv[1:]
    if a and a[0] == "client" and len(a) in (4, 5, 6, 7):
        return client(a[1], int(a[2]), a[3], int(a[4]) if len(a) >= 5 else 1,
                      int(a[5]) if len(a) >= 6 else 0,
                      int(a[6]) if len(a) == 7 else 0)
    if a and a[0] == "server" and len(a) in (3, 4):
        return server(int(a[1]), a[2], int(a[3]) if len(a) == 4 else 200)
    if a and a[0] == "hold" and len(a) == 4:
        return hold(a[1], int(a[2]), a[3])
    if a and a[0] == "tcp" and len(a) == 4:
        return tcp(a[1], int(a[2]), a[3])
    if a and a[0] == "nostreams" and len(a) == 3:
        return nostreams(int(a[1]), a[2])
    if a and a[0] == "sink" and len(a) == 2:
        return sink(int(a[1]))
    if a and a[0] == "flood" and len(a) == 5 and a[3] in FLOODS:
        return flood(a[1], int(a[2]), a[3], a[4])
    if a and a[0] == "hostile" and len(a) == 4 and a[3] in CASES:
        return hostile(a[1], int(a[2]), a[3])
    if a and a[0] == "cases":
        print(" ".join(CASES))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
