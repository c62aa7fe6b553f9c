#!/usr/bin/env python3
"""HTTP tests of `ctrace view` with real clients over loopback (Python's
http.client and raw sockets): every route, every bad-request class, 100
concurrent keep-alive clients, clients that go away mid-answer; the server
must keep serving throughout.

Live views: `ctrace view --follow` of a trace the test writes piece by
piece (a record cut at the end is not a problem while following), the
/api/events stream (headers, retry hint, an update per rebuild, heartbeats,
the cap on streams, clients that go away), "ended" once the END record is
in; with PULSE_BIN (not in sanitizer builds: CTRACE_TEST_NO_RUN=1) also
`ctrace run --view`.

    test_http.py CTRACE_BIN PIPELINE_BIN WORKDIR [PULSE_BIN]
"""
import http.client
import gzip
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

CTRACE, PIPELINE, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
PULSE = sys.argv[4] if len(sys.argv) > 4 else None
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def start_server(trace, web_dir=None, extra=(), env_extra=None):
    env = dict(os.environ)
    if web_dir:
        env["CTRACE_WEB_DIR"] = web_dir
    env.update(env_extra or {})
    p = subprocess.Popen([CTRACE, "view", trace, "--port", "0", *extra], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, text=True)
    line = p.stdout.readline()
    if not line.startswith("timeline: http://"):
        err = p.stderr.read()
        p.kill()
        raise SystemExit("server did not start: %r %s" % (line, err))
    port = int(line.strip().rsplit(":", 1)[1].rstrip("/"))
    return p, port


def get(port, path, headers=None, method="GET", conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    if not conn:
        c.close()
    return r, body


def raw(port, data, read_all=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
            if not read_all and b"\r\n\r\n" in out:
                break
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


def status_of(resp_bytes):
    try:
        return int(resp_bytes.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def main():
    os.makedirs(WORK, exist_ok=True)
    trace = os.path.join(WORK, "http.ctrace")
    env = dict(os.environ, CTRACE_OUT=trace)
    subprocess.run([PIPELINE, "-n", "400", "-w", "3"], env=env, check=True, stdout=subprocess.DEVNULL)

    # A web root of our own with a symlink that points out of it.
    web = os.path.join(WORK, "web")
    shutil.rmtree(web, ignore_errors=True)
    os.makedirs(os.path.join(web, "sub"))
    with open(os.path.join(web, "index.html"), "w") as f:
        f.write("<!doctype html><title>t</title>")
    with open(os.path.join(web, "app.js"), "w") as f:
        f.write("export const x = 1;\n" * 200)
    with open(os.path.join(web, "sub", "a.css"), "w") as f:
        f.write("body{}")
    os.symlink("/etc/passwd", os.path.join(web, "escape.txt"))
    os.symlink("/etc", os.path.join(web, "etcdir"))

    server, port = start_server(trace, web)
    try:
        # ---- routes
        r, b = get(port, "/")
        check(r.status == 200 and b.startswith(b"<!doctype html>"), "GET / serves index.html")
        check(r.getheader("Content-Type", "").startswith("text/html"), "index.html is text/html")
        r, b = get(port, "/app.js")
        check(r.status == 200 and r.getheader("Content-Type", "").startswith("text/javascript"),
              "app.js served as JavaScript")
        r, b = get(port, "/sub/a.css")
        check(r.status == 200 and b == b"body{}", "a file in a subdirectory")
        r, b = get(port, "/api/meta")
        meta = json.loads(b)
        check(r.status == 200 and meta["events"] > 1000 and meta["sources"][0]["complete"],
              "GET /api/meta")
        names = {t["name"] for t in meta["tracks"]}
        check({"producer", "writer", "worker-0", "main"} <= names, "meta lists the named threads")
        t0, t1 = meta["t0"], meta["t1"]
        r, b = get(port, "/api/slices?t0=%d&t1=%d&px=800" % (t0, t1))
        win = json.loads(b)
        check(r.status == 200 and win["window"]["px"] == 800, "GET /api/slices")
        phs = {e["ph"] for e in win["traceEvents"]}
        check({"X", "C", "b", "e", "s", "f", "i"} <= phs, "window holds slices, counters, tasks, flows, instants: %s" % phs)
        # level of detail: never more than ~2 slices per pixel per depth per thread
        per = {}
        for e in win["traceEvents"]:
            if e["ph"] == "X":
                k = (e["tid"], e["args"]["depth"])
                per[k] = per.get(k, 0) + 1
        check(max(per.values()) <= 2 * 800 + 2, "LOD bound: %d slices on one row" % max(per.values()))
        merged = sum(e["args"].get("merged", 1) for e in win["traceEvents"] if e["ph"] == "X")
        total = sum(t.get("slices", 0) for t in meta["tracks"])
        check(merged == total, "merged counts add up to every slice: %d vs %d" % (merged, total))
        r, b = get(port, "/api/slices?t0=%d&t1=%d&px=10" % (t0, t1))
        few = json.loads(b)["traceEvents"]
        inst = sum(e["args"].get("merged", 1) for e in few if e["ph"] == "i")
        check(inst == sum(t.get("instants", 0) for t in meta["tracks"]),
              "merged counts add up to every instant at 10 px: %d" % inst)
        check(all(e["args"]["track"] >= 0 for e in few if e["ph"] in "Xi"), "X and i carry args.track")
        sid = next(e["args"]["id"] for e in win["traceEvents"] if e["ph"] == "X" and e["name"] == "process")
        r, b = get(port, "/api/slice?id=" + sid)
        d = json.loads(b)
        check(r.status == 200 and d["name"] == "process" and d["self"] <= d["dur"] and d["site"]["line"] > 0,
              "GET /api/slice: details with call site and self time")
        r, b = get(port, "/api/search?q=PARSE&limit=5")
        s = json.loads(b)
        check(r.status == 200 and s["total"] == 400 and len(s["results"]) == 5 and
              all(x["name"] == "parse" for x in s["results"]), "GET /api/search (case-insensitive)")
        starts = [x["start"] for x in s["results"]]
        check(starts == sorted(starts), "search results in time order")
        # ---- analyses of a window, and a pprof profile over HTTP
        r, b = get(port, "/api/analysis")
        an = json.loads(b)
        regs = {x["name"]: x for x in an["regions"]}
        check(r.status == 200 and regs["process"]["count"] == 400 and
              sum(h["count"] for h in regs["process"]["hist"]) == 400,
              "GET /api/analysis: regions with a histogram of every slice")
        check(an["tasks"]["by_name"] and any(t["name"] == "item" and t["count"] == 400
                                             for t in an["tasks"]["by_name"]),
              "GET /api/analysis: tasks by name")
        check(set(an["profiles"]) == {"sync", "syscall", "sched", "io"}, "analysis lists the four profiles")
        mid = t0 + (t1 - t0) // 2
        r, b = get(port, "/api/analysis?t0=%d&t1=%d&thread=writer&top=3" % (t0, mid))
        half = json.loads(b)
        check(r.status == 200 and half["window"]["until_ns"] == mid - t0 and
              [t["name"] for t in half["threads"]] == ["writer"] and len(half["regions"]) <= 3 and
              0 < half["window"]["events"] < an["window"]["events"],
              "GET /api/analysis of a window and one thread")
        r, b = get(port, "/api/pprof?type=sync&t0=%d&t1=%d" % (t0, t1))
        check(r.status == 200 and r.getheader("Content-Type") == "application/octet-stream" and
              gzip.decompress(b)[:1] in (b"\x0a", b"\x12", b"\x1a", b"\x32"),
              "GET /api/pprof: a gzipped protobuf")
        r, b = get(port, "/api/trace.json")
        tj = json.loads(b)
        check(r.status == 200 and r.getheader("Transfer-Encoding") == "chunked" and
              len(tj["traceEvents"]) > 1000, "GET /api/trace.json, streamed")
        r, b = get(port, "/api/meta", {"Accept-Encoding": "gzip, zstd"})
        check(r.getheader("Content-Encoding") == "zstd" and b[:4] == b"\x28\xb5\x2f\xfd",
              "zstd when accepted")
        r, b = get(port, "/api/meta", {"Accept-Encoding": "zstd;q=0"})
        check(r.getheader("Content-Encoding") is None, "no zstd when q=0")
        r, b = get(port, "/api/trace.json", {"Accept-Encoding": "zstd"})
        check(r.status == 200 and r.getheader("Content-Encoding") == "zstd" and b[:4] == b"\x28\xb5\x2f\xfd",
              "streamed trace.json compressed with zstd")
        r, b = get(port, "/api/meta", method="HEAD")
        check(r.status == 200 and b == b"" and int(r.getheader("Content-Length")) > 100, "HEAD: headers only")
        check(r.getheader("Server-Timing", "").startswith("handler;dur="), "Server-Timing header")

        # ---- bad requests
        for path, st in [("/nope", 404), ("/api/nope", 404), ("/../etc/passwd", 404),
                         ("/%2e%2e/%2e%2e/etc/passwd", 404), ("/sub/../../etc/passwd", 404),
                         ("/escape.txt", 404), ("/etcdir/passwd", 404), ("//etc/passwd", 404),
                         ("/sub", 404), ("/index.html%00.js", 400),
                         ("/api/slices?t0=abc", 400), ("/api/slices?px=0", 400),
                         ("/api/slices?t0=10&t1=5", 400), ("/api/slices?tracks=999999", 400),
                         ("/api/slice?id=s.999.0.0", 404), ("/api/slice", 400),
                         ("/api/search", 400), ("/api/search?q=x&limit=0", 400),
                         ("/api/analysis?t0=-1", 400), ("/api/analysis?t0=5&t1=1", 400),
                         ("/api/analysis?thread=nobody", 400), ("/api/analysis?sort=nope", 400),
                         ("/api/analysis?top=x", 400), ("/api/pprof", 400),
                         ("/api/pprof?type=heap", 400), ("/api/events", 404)]:
            r, b = get(port, path)
            body = json.loads(b) if b.startswith(b"{") else {}
            check(r.status == st and body.get("status") == st,
                  "%s -> %d (got %d %s)" % (path, st, r.status, b[:80]))
        for method in ("POST", "PUT", "DELETE", "OPTIONS"):
            r, b = get(port, "/api/meta", method=method)
            check(r.status == 405 and r.getheader("Allow") == "GET, HEAD", method + " -> 405 with Allow")
        check(status_of(raw(port, b"garbage\r\n\r\n")) == 400, "malformed request line -> 400")
        check(status_of(raw(port, b"GET / HTTP/1.1\r\nHost x\r\n\r\n")) == 400, "malformed header -> 400")
        big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (20 << 10) + b"\r\n\r\n"
        check(status_of(raw(port, big)) == 431, "headers over 16 KiB -> 431")
        many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(200)) + b"\r\n"
        check(status_of(raw(port, many)) == 431, "too many header bytes -> 431")
        check(status_of(raw(port, b"GET /" + b"a" * (9 << 10) + b" HTTP/1.1\r\n\r\n")) == 414, "URL over 8 KiB -> 414")
        body = b"POST /api/meta HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
        check(status_of(raw(port, body)) == 413, "body over 64 KiB -> 413")
        chunked = b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + b"20000\r\n" + b"x" * 140000
        check(status_of(raw(port, chunked)) == 413, "chunked body over 64 KiB -> 413")

        # ---- keep-alive and pipelining on one connection
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(20):
            r, b = get(port, "/api/meta", conn=c)
            check(r.status == 200, "keep-alive request %d" % i)
        c.close()
        piped = raw(port, b"GET /api/meta HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                          b"GET /api/meta HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        check(piped.count(b"HTTP/1.1 200") == 2 and piped.count(b"HTTP/1.1 404") == 1,
              "three pipelined requests answered in order")

        # ---- 100 concurrent keep-alive clients
        errors = []

        def client(i):
            try:
                cc = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                for k in range(10):
                    path = ["/api/meta", "/api/slices?px=300", "/api/search?q=write", "/"][(i + k) % 4]
                    r, b = get(port, path, conn=cc)
                    if r.status != 200:
                        errors.append((i, k, r.status))
                cc.close()
            except Exception as e:  # noqa: BLE001
                errors.append((i, repr(e)))

        t = time.time()
        ts = [threading.Thread(target=client, args=(i,)) for i in range(100)]
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        check(not errors, "100 concurrent keep-alive clients x 10 requests: %s" % errors[:5])
        print("100 clients x 10 requests in %.2f s" % (time.time() - t), flush=True)

        # ---- clients that go away mid-answer
        for i in range(20):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /api/trace.json HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(1000)  # some of the answer, then gone
            s.close()
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /api/slices?px=20000 HTTP/1.1\r\nHost: x\r\n\r\n")
            s.close()  # before reading anything
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /api/me")  # half a request
            s.close()
        r, b = get(port, "/api/meta")
        check(r.status == 200 and server.poll() is None, "still serving after 60 abandoned clients")
        r, b = get(port, "/api/trace.json")
        check(r.status == 200 and len(json.loads(b)["traceEvents"]) > 1000, "a whole trace.json after them")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    check(server.returncode == 0, "server exits 0 on SIGTERM (got %s)" % server.returncode)

    # ---- a trace that cannot be read: error before listening, exit 1
    bad = os.path.join(WORK, "bad.ctrace")
    with open(bad, "wb") as f:
        f.write(b"\x89CTRACE\n" + b"\0" * 10)
    p = subprocess.run([CTRACE, "view", bad, "--port", "0"], capture_output=True, text=True, timeout=20)
    check(p.returncode == 1 and "truncated at byte 18" in p.stderr and "timeline:" not in p.stdout,
          "unreadable trace: error, exit 1, no listening (%d %r)" % (p.returncode, p.stderr))
    badjson = os.path.join(WORK, "bad.json")
    with open(badjson, "w") as f:
        f.write('{"traceEvents": [\n  {"ph": "B", "ts": 1,}\n]}')
    p = subprocess.run([CTRACE, "view", badjson, "--port", "0"], capture_output=True, text=True, timeout=20)
    check(p.returncode == 1 and "malformed JSON at line 2, column" in p.stderr, "malformed JSON: line and column (%r)" % p.stderr)
    p = subprocess.run([CTRACE, "view", trace, "--port", "http"], capture_output=True, text=True, timeout=20)
    check(p.returncode == 2 and "not a port number" in p.stderr, "bad --port -> usage error")

    # ---- a Chrome JSON file from another tool is viewable
    other = os.path.join(WORK, "other.json")
    with open(other, "w") as f:
        json.dump({"traceEvents": [
            {"ph": "M", "name": "thread_name", "pid": 1, "tid": 2, "args": {"name": "render"}},
            {"ph": "X", "name": "frame", "pid": 1, "tid": 2, "ts": 100, "dur": 50},
            {"ph": "X", "name": "draw", "pid": 1, "tid": 2, "ts": 110, "dur": 20},
            {"ph": "B", "name": "io", "pid": 1, "tid": 3, "ts": 120},
            {"ph": "E", "pid": 1, "tid": 3, "ts": 140},
            {"ph": "C", "name": "mem", "pid": 1, "ts": 100, "args": {"value": 5}}]}, f)
    server, port = start_server(other, web)
    try:
        r, b = get(port, "/api/slices?px=100")
        evs = json.loads(b)["traceEvents"]
        xs = sorted((e["name"], e["args"]["depth"]) for e in evs if e["ph"] == "X")
        check(xs == [("draw", 1), ("frame", 0), ("io", 0)], "JSON import: nesting from X events %s" % xs)
        meta = json.loads(get(port, "/api/meta")[1])
        check("render" in {t["name"] for t in meta["tracks"]}, "JSON import: thread names")
    finally:
        server.terminate()
        server.wait(10)

    follow_tests(trace)
    if PULSE and os.environ.get("CTRACE_TEST_NO_RUN") != "1":
        run_view_tests()
    else:
        print("(ctrace run --view not tested: %s)" % ("no PULSE_BIN" if not PULSE else "sanitizer build"))

    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("ok: all HTTP checks passed")


# ---- Live views ------------------------------------------------------------------------

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


class Events:
    """A raw /api/events client: the status line and headers, then events as they come."""

    def __init__(self, port, path="/api/events"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n" % path).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            b = self.s.recv(4096)
            if not b:
                break
            self.buf += b
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else None
        self.headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.comments = 0
        self.retry = None

    def body(self, timeout=5):
        """The rest of a non-stream answer (until the server closes)."""
        self.s.settimeout(timeout)
        try:
            while True:
                b = self.s.recv(65536)
                if not b:
                    break
                self.buf += b
        except OSError:
            pass
        return self.buf

    def next(self, timeout=5):
        """The next event as {"event", "id", "data"}, or None on timeout/close."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n\n" in self.buf:
                block, _, self.buf = self.buf.partition(b"\n\n")
                ev = {}
                for line in block.decode().split("\n"):
                    if line.startswith(":"):
                        self.comments += 1
                        continue
                    k, _, v = line.partition(":")
                    v = v[1:] if v.startswith(" ") else v
                    if k == "retry":
                        self.retry = int(v)
                    elif k in ("event", "id", "data"):
                        ev[k] = v
                if "data" in ev:
                    ev["json"] = json.loads(ev["data"])
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return None
            try:
                b = self.s.recv(65536)
            except OSError:
                return None
            if not b:
                return None
            self.buf += b

    def until(self, cond, timeout=10):
        """Events until one whose JSON data satisfies cond; that one, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ev = self.next(deadline - time.monotonic())
            if ev is None:
                return None
            if cond(ev["json"]):
                return ev
        return None

    def close(self):
        self.s.close()


def follow_tests(complete_trace):
    """ctrace view --follow of a trace written here piece by piece."""
    with open(complete_trace, "rb") as f:
        whole = bytearray(f.read())
    # The trace's writer is this process now (alive while it is followed).
    struct.pack_into("<I", whole, 20, os.getpid())
    struct.pack_into("<I", whole, 60, crc32c(bytes(whole[:60])))
    grow = os.path.join(WORK, "grow.ctrace")
    for f in (grow, grow + ".kernel"):
        if os.path.exists(f):
            os.unlink(f)
    server, port = start_server(grow, extra=("--follow",), env_extra={"CTRACE_EVENTS_HEARTBEAT_MS": "300"})
    try:
        meta = json.loads(get(port, "/api/meta")[1])
        check(meta["live"]["state"] == "following" and meta["live"]["mode"] == "follow" and
              meta["events"] == 0 and meta["sources"] == [],
              "--follow of a trace not written yet: following, empty (%s)" % meta.get("live"))
        ev = Events(port)
        h = ev.headers
        check(ev.status == 200 and h.get("content-type") == "text/event-stream" and
              "content-length" not in h and "transfer-encoding" not in h and
              h.get("cache-control") == "no-store",
              "/api/events: 200 text/event-stream, no length, not chunked, no-store (%s %s)" % (ev.status, h))
        first = ev.next()
        check(first is not None and first.get("event") == "update" and ev.retry == 2000 and
              first["json"]["state"] == "following" and first["id"] == str(first["json"]["generation"]),
              "/api/events: a retry hint, then the current state at once (%s)" % (first and first["data"]))
        gen0 = first["json"]["generation"] if first else 0

        # a first part, cut in the middle of a record
        with open(grow, "wb") as f:
            f.write(whole[:len(whole) * 2 // 5])
        t = time.monotonic()
        up = ev.until(lambda d: d["events"] > 0)
        took = time.monotonic() - t
        check(up is not None and up["json"]["generation"] > gen0 and up["json"]["state"] == "following",
              "an update is pushed when the file grows (%.0f ms: %s)" % (took * 1e3, up and up["data"]))
        meta = json.loads(get(port, "/api/meta")[1])
        src = meta["sources"][0] if meta["sources"] else {}
        check(src.get("problem") is None and src.get("writing") is True and not src.get("complete") and
              meta["live"]["problem"] is None,
              "a record cut at the end is not a problem while following (%s)" % src)
        n1 = up["json"]["events"] if up else 0

        with open(grow, "ab") as f:
            f.write(whole[len(whole) * 2 // 5:len(whole) * 4 // 5])
        up = ev.until(lambda d: d["events"] > n1)
        check(up is not None, "another update as it grows again (%s events, then %s)"
              % (n1, up and up["json"]["events"]))
        r, b = get(port, "/api/slices?px=500")
        check(r.status == 200 and len(json.loads(b)["traceEvents"]) > 10, "the timeline of the part written so far")
        c0 = ev.comments
        ev.next(0.8)
        check(ev.comments > c0, "heartbeat comments on an idle stream (%d)" % (ev.comments - c0))

        # the cap: 32 streams at once, the 33rd gets a 503
        more = [Events(port) for _ in range(31)]
        check(all(m.status == 200 for m in more), "32 streams open at once")
        extra = Events(port)
        body = extra.body()
        err = json.loads(body) if body.startswith(b"{") else {}
        check(extra.status == 503 and err.get("status") == 503 and "too many" in err.get("error", ""),
              "a 33rd stream: 503 with a clear message (%s %r)" % (extra.status, body[:120]))
        extra.close()
        for m in more[:10]:
            m.close()  # clients going away: their places are freed
        time.sleep(0.3)
        again = Events(port)
        check(again.status == 200, "streams that went away are dropped: a new one is accepted (%s)" % again.status)
        again.close()
        r, b = get(port, "/api/meta")
        check(r.status == 200, "still serving with 22 streams open")
        r, b = get(port, "/api/events", method="HEAD")
        check(r.status == 200 and r.getheader("Content-Type") == "text/event-stream" and b == b"",
              "HEAD /api/events: headers only")

        # the rest, END record included: "ended"
        with open(grow, "ab") as f:
            f.write(whole[len(whole) * 4 // 5:])
        t = time.monotonic()
        end = ev.until(lambda d: d["state"] == "ended")
        check(end is not None and end["json"]["events"] > n1,
              "\"ended\" once the END record is in (%.0f ms, %s)" % ((time.monotonic() - t) * 1e3, end and end["data"]))
        meta = json.loads(get(port, "/api/meta")[1])
        full = json.loads(get(port, "/api/analysis?top=0")[1])
        check(meta["sources"][0]["complete"] and meta["sources"][0]["problem"] is None and
              {x["name"]: x["count"] for x in full["regions"]}.get("process") == 400,
              "the whole trace once ended (400 'process' regions)")
        others = [m for m in more[10:]]
        got = sum(1 for m in others if m.until(lambda d: d["state"] == "ended", 3))
        check(got == len(others), "every open stream got the end (%d of %d)" % (got, len(others)))
        for m in others:
            m.close()
        ev.close()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    check(server.returncode == 0, "--follow server exits 0 on SIGTERM (got %s)" % server.returncode)

    # a trace already complete: ended at once; usage errors
    server, port = start_server(complete_trace, extra=("--follow",))
    try:
        deadline = time.monotonic() + 5
        state = None
        while time.monotonic() < deadline and state != "ended":
            state = json.loads(get(port, "/api/meta")[1])["live"]["state"]
            time.sleep(0.1)
        check(state == "ended", "--follow of a complete trace: ended at once")
    finally:
        server.terminate()
        server.wait(10)
    p = subprocess.run([CTRACE, "view", "--follow", "--lttng-live", "net://localhost/host/h/s"],
                       capture_output=True, text=True, timeout=20)
    check(p.returncode == 2 and "on its own" in p.stderr, "--follow with --lttng-live: usage error")
    p = subprocess.run([CTRACE, "view", "--follow", "/nonexistent-dir/t.ctrace", "--port", "0"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 2 and "no directory /nonexistent-dir" in p.stderr,
          "--follow in a directory that does not exist: an error, not a wait (%r)" % p.stderr)


def run_view_tests():
    """ctrace run --view -- PULSE: the URL at once, updates, ended, serving until SIGTERM, PROG's status."""
    trace = os.path.join(WORK, "runview.ctrace")
    p = subprocess.Popen([CTRACE, "run", "--view", "--port", "0", "-o", trace, "--", PULSE, "1.5", "100", "7"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        m = re.match(r"timeline: http://127\.0\.0\.1:(\d+)/", line)
        check(m is not None, "ctrace run --view prints the URL (%r)" % line)
        if not m:
            return
        port = int(m.group(1))
        ev = Events(port)
        first = ev.next()
        check(ev.status == 200 and first is not None and first["json"]["mode"] == "follow",
              "ctrace run --view: the event stream")
        grew = ev.until(lambda d: d["events"] > 0 and d["state"] == "following", 5)
        check(grew is not None, "updates while the program runs (%s)" % (grew and grew["data"]))
        end = ev.until(lambda d: d["state"] == "ended", 10)
        check(end is not None, "\"ended\" after the program exits (%s)" % (end and end["data"]))
        ev.close()
        meta = json.loads(get(port, "/api/meta")[1])
        names = {t["name"] for t in meta["tracks"]}
        check({"pulse", "late"} <= names and meta["sources"] and meta["sources"][0]["complete"],
              "the whole run is shown (threads %s, sources %s)" % (sorted(names), [s["path"] for s in meta["sources"]]))
        time.sleep(0.3)
        check(p.poll() is None, "ctrace run keeps serving after the program exited")
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
        err = p.stderr.read()
        check(rc == 7, "ctrace run --view exits with the program's status (7, got %s)" % rc)
        check("the live view stays at http://127.0.0.1:%d/" % port in err, "it said the view stays (%r)" % err[-400:])
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = subprocess.run([CTRACE, "run", "--port", "1", "--", PULSE, "0.1"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 2 and "--port goes with --view" in r.stderr, "--port without --view: usage error")


main()
