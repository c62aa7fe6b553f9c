#!/usr/bin/env python3
"""HTTP tests of `ctrace view` with real clients over loopback (Python's
http.client and raw sockets): every route, every bad-request class, 100
concurrent keep-alive clients, clients that go away mid-answer; the server
must keep serving throughout.

    test_http.py CTRACE_BIN PIPELINE_BIN WORKDIR
"""
import http.client
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

CTRACE, PIPELINE, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def start_server(trace, web_dir=None, extra=()):
    env = dict(os.environ)
    if web_dir:
        env["CTRACE_WEB_DIR"] = web_dir
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
        r, b = get(port, "/api/summary")
        summ = {x["name"]: x for x in json.loads(b)["regions"]}
        check(r.status == 200 and summ["process"]["count"] == 400 and
              summ["process"]["p50_ns"] <= summ["process"]["p99_ns"] <= summ["process"]["max_ns"],
              "GET /api/summary")
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
                         ("/api/summary?t0=-1", 400), ("/api/analysis?t0=5&t1=1", 400),
                         ("/api/analysis?thread=nobody", 400), ("/api/analysis?sort=nope", 400),
                         ("/api/analysis?top=x", 400), ("/api/pprof", 400),
                         ("/api/pprof?type=heap", 400)]:
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

    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("ok: all HTTP checks passed")


main()
