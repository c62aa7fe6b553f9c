#!/usr/bin/env python3
"""`ctrace view --lttng-live` against a real LTTng live session: a program
records a region and a counter every millisecond for ~3 s (tests/progs/
ticker.c, about 3000 events a second) while /api/meta is polled every 50 ms;
the timeline must show events, follow them with a lag (now - meta.t1, both
CLOCK_MONOTONIC) of at most 1 s, say "ended" once the session is destroyed,
and a session that does not exist must make the viewer exit non-zero. The
page's push channel is checked too: /api/events must deliver an update per
new index generation while following, and "ended" at the end.

    test_live.py CTRACE_BIN TICKER_BIN

Starts lttng-sessiond / lttng-relayd if they are not running, and leaves
them running (other LTTng tests use them). Python 3 standard library only.

The index is rebuilt whole at every generation: at a heavy rate (the
pipeline sample run every 300 ms, ~150 000 events a second) the lag grows
past 1 s once a few 100 000 events are shown (measured: median 0.8-1.1 s,
max 1.4-2.0 s at 300 000 events).
"""
import glob
import http.client
import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

CTRACE, TICKER = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
SESSION = "ctrace-live-test-%d" % os.getpid()
HOST = socket.gethostname()
MAX_LAG_MS = 1000
RUN_S = 3.0
POLL_S = 0.05

passed, failed = 0, 0
started_daemons = []  # pids of the daemons this test started
viewers = []          # viewer processes
session_live = False


def ok(what):
    global passed
    passed += 1
    print("ok", what, flush=True)


def fail(what):
    global failed
    failed += 1
    print("FAIL:", what, flush=True)


def check(cond, what, why=""):
    if cond:
        ok(what)
    else:
        fail(what + (": " + why if why else ""))
    return cond


def lttng(*args, check_rc=True):
    r = subprocess.run(["lttng", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    if check_rc and r.returncode:
        raise RuntimeError("lttng %s failed (%d): %s" % (" ".join(args), r.returncode, r.stdout.strip()))
    return r


def pids_of(name):
    """Live processes of that name (a killed daemon nobody reaped stays a
    zombie: it serves nothing)."""
    r = subprocess.run(["pgrep", "-x", name], stdout=subprocess.PIPE, text=True)
    live = set()
    for p in r.stdout.split():
        try:
            with open("/proc/%s/stat" % p) as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    live.add(int(p))
        except OSError:
            pass
    return live


def ensure_daemon(name, cmd):
    """Starts the daemon if none runs; remembers its pid if this test started it."""
    if pids_of(name):
        return
    before = pids_of(name)
    subprocess.run(cmd, check=True, timeout=30, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        new = pids_of(name) - before
        if new:
            started_daemons.extend(sorted(new))
            return
        time.sleep(0.05)
    raise RuntimeError("%s did not start" % name)


def stop_daemons():  # (not called: the other LTTng tests share the daemons)
    for pid in reversed(started_daemons):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)


class Viewer:
    """`ctrace view --lttng-live URL --port 0`; stderr is collected by a thread."""

    def __init__(self, url):
        self.url = url
        self.p = subprocess.Popen([CTRACE, "view", "--lttng-live", url, "--port", "0"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        viewers.append(self)
        self.err = b""
        self.t = threading.Thread(target=self._drain, daemon=True)
        self.t.start()
        self.base = None

    def _drain(self):
        for chunk in iter(lambda: self.p.stderr.read1(4096), b""):
            self.err += chunk

    def stderr(self):
        return self.err.decode(errors="replace")

    def wait_listening(self, timeout=20):
        """The base URL from "timeline: http://HOST:PORT/", or None if the viewer exits first."""
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            r, _, _ = select.select([self.p.stdout], [], [], 0.1)
            if r:
                b = os.read(self.p.stdout.fileno(), 1)
                if not b:
                    break
                line += b
        text = line.decode(errors="replace").strip()
        if text.startswith("timeline: http://"):
            self.base = text[len("timeline: "):].rstrip("/")
        return self.base

    def meta(self):
        with urllib.request.urlopen(self.base + "/api/meta", timeout=5) as r:
            return json.load(r)

    def events(self):
        """Reads /api/events on a thread: self.pushed gets (seconds, data) per update event."""
        self.pushed = []
        host, port = self.base[len("http://"):].rsplit(":", 1)
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        c.request("GET", "/api/events")
        r = c.getresponse()
        self.events_status = (r.status, r.getheader("Content-Type"))

        def read():
            ev = None
            try:
                for raw in iter(r.fp.readline, b""):
                    line = raw.decode().rstrip("\n")
                    if line.startswith("event:"):
                        ev = line[6:].strip()
                    elif line.startswith("data:") and ev == "update":
                        self.pushed.append((time.monotonic(), json.loads(line[5:])))
                    elif not line:
                        ev = None
            except (OSError, ValueError):
                pass

        threading.Thread(target=read, daemon=True).start()
        self.events_conn = c

    def kill(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def follow(v):
    """Runs the ticker for RUN_S while polling meta; returns what was seen."""
    env = dict(os.environ, CTRACE_LTTNG="1")
    env.pop("CTRACE_OUT", None)
    runs, lags, states, first_event_at = [], [], set(), None
    gens = []  # (seconds since start, generation, events) at each new generation
    errors = []
    t_start = time.monotonic()
    meta = None
    runs.append(subprocess.Popen([TICKER, str(RUN_S), "1000"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL))
    time.sleep(0.3)  # (the lag counts once the program records)
    while time.monotonic() - t_start < RUN_S:
        try:
            meta = v.meta()
        except OSError as e:
            errors.append(str(e))
            time.sleep(POLL_S)
            continue
        t = time.monotonic_ns()
        live = meta.get("live") or {}
        states.add(live.get("state"))
        if not gens or gens[-1][1] != live.get("generation"):
            gens.append((time.monotonic() - t_start, live.get("generation"), meta.get("events", 0)))
        if meta.get("events", 0) > 0:
            if first_event_at is None:
                first_event_at = time.monotonic() - t_start
            lags.append((t - meta["t1"]) / 1e6)
        time.sleep(POLL_S)
    codes = [p.wait(30) for p in runs]
    return {"runs": len(runs), "codes": codes, "lags": lags, "states": states,
            "first": first_event_at, "errors": errors, "meta": meta, "gens": gens}


def main():
    global session_live
    ensure_daemon("lttng-sessiond", ["lttng-sessiond", "--daemonize"])
    ensure_daemon("lttng-relayd", ["lttng-relayd", "-d"])
    lttng("create", SESSION, "--live=100000")
    session_live = True
    lttng("enable-event", "-u", "ctrace:*", "-s", SESSION)
    lttng("start", SESSION)
    url = "net://localhost/host/%s/%s" % (HOST, SESSION)

    v = Viewer(url)
    if not v.wait_listening():
        v.kill()
        fail("viewer started on %s (stderr: %s)" % (url, v.stderr().strip()))
        return
    v.events()
    seen = follow(v)
    if seen["errors"]:
        print("  (%d meta requests failed, first: %s)" % (len(seen["errors"]), seen["errors"][0]))
    if any(seen["codes"]):
        print("  (the program exited with %s)" % seen["codes"])
    states = seen["states"]
    lags = seen["lags"]
    events_shown = seen["first"] is not None
    check(events_shown and states == {"following"},
          "events shown while following (%d program runs, first event after %.0f ms, states %s)"
          % (seen["runs"], (seen["first"] or 0) * 1e3, sorted(map(str, states))),
          "no event was ever shown" if not events_shown else "live.state was %s" % sorted(map(str, states)))
    if lags:
        med, mx = statistics.median(lags), max(lags)
        print("  lag over %d polls: median %.0f ms, max %.0f ms, min %.0f ms"
              % (len(lags), med, mx, min(lags)), flush=True)
        gens = seen["gens"]
        gaps = [b[0] - a[0] for a, b in zip(gens, gens[1:])]
        print("  %d index generations seen, last %d events; longest wait for a new one %.0f ms%s"
              % (len(gens), gens[-1][2], max(gaps, default=0) * 1e3,
                 " (still waiting at the end: %.0f ms)" % ((RUN_S - gens[-1][0]) * 1e3) if gens else ""),
              flush=True)
        check(mx <= MAX_LAG_MS, "lag median %.0f ms, max %.0f ms (<= %d ms)" % (med, mx, MAX_LAG_MS),
              "max lag %.0f ms exceeds %d ms (median %.0f ms)" % (mx, MAX_LAG_MS, med))
    else:
        fail("lag: no event was ever shown, so no lag could be measured")

    lttng("stop", SESSION)
    lttng("destroy", SESSION)
    session_live = False
    t_destroyed = time.monotonic()
    deadline = t_destroyed + 10
    meta, state = None, None
    while time.monotonic() < deadline:
        try:
            meta = v.meta()
            state = (meta.get("live") or {}).get("state")
            if state == "ended":
                break
        except OSError:
            pass
        time.sleep(0.05)
    n = meta.get("events", 0) if meta else 0
    time.sleep(0.2)
    pushed = [d for _, d in v.pushed]
    gens = [d["generation"] for d in pushed if d["state"] == "following"]
    check(v.events_status == (200, "text/event-stream") and len(set(gens)) >= 3 and gens == sorted(gens) and
          pushed and pushed[-1]["state"] == "ended" and pushed[-1]["events"] == n,
          "/api/events pushed %d updates (%d generations while following), then \"ended\""
          % (len(pushed), len(set(gens))),
          "status %s, states %s" % (v.events_status, [d["state"] for d in pushed][-5:]))
    check(state == "ended" and n > 0,
          "state \"ended\" %.1f s after destroy (<= 10 s), %d events"
          % (time.monotonic() - t_destroyed, n),
          "state %r, %d events (viewer stderr: %s)" % (state, n, v.stderr().strip()))
    v.kill()

    bad = "net://localhost/host/%s/no-such-session-XYZ" % HOST
    b = Viewer(bad)
    t = time.monotonic()
    try:
        rc = b.p.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    b.t.join(2)
    err = b.stderr()
    check(rc not in (None, 0) and bad in err,
          "unknown session: exit %s after %.1f s, stderr names the URL" % (rc, time.monotonic() - t),
          "exit %s, stderr %r" % ("(still running after 10 s)" if rc is None else rc, err.strip()))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a setup step failed: one failure, with why
        fail("setup: %s" % e)
    finally:
        for v in viewers:
            v.kill()
        if session_live:
            lttng("destroy", SESSION, check_rc=False)
        # what lttng-relayd wrote for this session (its default output directory)
        for d in glob.glob(os.path.expanduser("~/lttng-traces/%s/%s-*" % (HOST, SESSION))):
            shutil.rmtree(d, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
