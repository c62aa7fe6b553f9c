"""The measurements of bench/scale.sh on one trace (see there).

python3 bench/scale_measure.py CTRACE TRACE EVENTS MEM_CAP_MB TIME_CAP_S

Every process runs under a watchdog thread that samples RssAnon and VmHWM
from /proc/PID/status every 20 ms and kills the process (SIGKILL) when
RssAnon passes the cap or the time limit is reached. Prints one table.
"""
import json
import os
import signal
import statistics
import sys
import threading
import time
import urllib.request

SAMPLE_S = 0.02
LEVELS = (1, 10, 100, 1000, 10000)
POSITIONS = 5
SEARCHES = ("checkpoint", "step")  # gen_trace's rarest (searched to the end) and commonest region names


def mib(kib):
    return "%d MiB" % round(kib / 1024)


class Watched:
    """A process under the watchdog: peak RssAnon / VmHWM, killed over a cap."""

    def __init__(self, argv, out, err, mem_cap_mb, time_cap_s):
        self.out, self.err = out, err
        actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
                   (os.POSIX_SPAWN_OPEN, 2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
        self.cap_kib = mem_cap_mb * 1024
        self.time_cap = time_cap_s
        self.peak_anon = self.hwm = self.last_anon = 0
        self.killed = None  # "killed at N MiB / S s"
        self.exited = False  # exited (not yet reaped: the pid stays ours)
        self.status = None
        self.maxrss = 0
        self.lock = threading.Lock()
        self.start = time.monotonic()
        self.pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def elapsed(self):
        return time.monotonic() - self.start

    def _sample(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        self.last_anon = int(line.split()[1])
                        self.peak_anon = max(self.peak_anon, self.last_anon)
                    elif line.startswith("VmHWM:"):
                        self.hwm = max(self.hwm, int(line.split()[1]))
        except (OSError, ValueError):
            pass

    def _watch(self):
        while True:
            with self.lock:
                if self.exited:
                    return
                self._sample()
                over_mem = self.last_anon > self.cap_kib
                if over_mem or self.elapsed() > self.time_cap:
                    self.killed = "killed at %d MiB / %.1f s" % (-(-self.last_anon // 1024), self.elapsed())
                    os.kill(self.pid, signal.SIGKILL)
                    return
            time.sleep(SAMPLE_S)

    def running(self):
        """False once the process has exited (it is then reaped by wait())."""
        info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return info is None

    def wait(self):
        """Waits for the exit: wall seconds; status and maxrss (KiB) set."""
        os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
        secs = self.elapsed()
        with self.lock:
            self._sample()  # a zombie has no memory left: this keeps what was seen
            self.exited = True
        _, self.status, usage = os.wait4(self.pid, 0)
        self.maxrss = usage.ru_maxrss
        return secs

    def stop(self):
        with self.lock:
            if self.exited:
                return
            if self.killed is None:
                os.kill(self.pid, signal.SIGTERM)
        self.wait()

    def failure(self):
        """None if it ran fine, else what to print instead of a figure."""
        if self.killed:
            return "over the cap (%s)" % self.killed
        if self.status is not None and self.status != 0:
            if os.WIFSIGNALED(self.status):
                why = "signal %d" % os.WTERMSIG(self.status)
            else:
                why = "exit %d" % os.WEXITSTATUS(self.status)
            return "failed (%s: %s)" % (why, last_line(self.err))
        return None


def last_line(path):
    try:
        with open(path) as f:
            lines = [l.strip() for l in f if l.strip()]
        return lines[-1] if lines else "no message"
    except OSError:
        return "no message"


def get(url, timeout, zstd=False):
    """GET: the body (zstd-encoded if asked, as the page asks) and Server-Timing."""
    req = urllib.request.Request(url, headers={"Accept-Encoding": "zstd"} if zstd else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body = r.read()
        timing = r.headers.get("Server-Timing", "")
    return body, timing


class View:
    """`ctrace view TRACE --port 0` under the watchdog, until it is ready."""

    def __init__(self, ctrace, trace, base, caps):
        self.w = Watched([ctrace, "view", trace, "--port", "0"], base + ".out", base + ".err", *caps)
        self.url = self.meta = None
        self.ready_s = None
        self.error = None
        self._wait_ready()

    def _wait_ready(self):
        w = self.w
        while True:
            if not w.running():
                w.wait()
                self.error = w.failure() or "failed (exited: %s)" % last_line(w.err)
                return
            if self.url is None:
                with open(w.out) as f:
                    for line in f:
                        if line.startswith("timeline: "):
                            self.url = line.split(" ", 1)[1].strip()
            if self.url is not None:
                try:
                    body, _ = get(self.url + "api/meta", max(1.0, w.time_cap - w.elapsed()))
                    self.meta = json.loads(body)
                    self.ready_s = w.elapsed()
                    return
                except (OSError, ValueError):
                    pass
            time.sleep(0.01)

    def windows(self):
        """({level: [server ms]}, None), or with the levels measured before a
        failure and the failure."""
        t0, t1 = self.meta["t0"], self.meta["t1"]
        out = {}
        for frac in LEVELS:
            span = max(1, (t1 - t0) // frac)
            times = []
            for k in range(POSITIONS):
                a = t0 + (t1 - t0 - span) * k // (POSITIONS - 1)
                url = "%sapi/slices?t0=%d&t1=%d&px=2000" % (self.url, a, a + span)
                try:
                    _, timing = get(url, max(1.0, self.w.time_cap - self.w.elapsed() + 5), zstd=True)
                except OSError as e:
                    time.sleep(2 * SAMPLE_S)  # let the watchdog say why
                    return out, self.w.failure() or ("failed (%s)" % e)
                if "dur=" not in timing:
                    return out, "failed (no Server-Timing header)"
                times.append(float(timing.split("dur=")[1].split(",")[0]))
            out[frac] = times
        return out, None

    def search(self, q, to_end):
        """/api/search?q= (to_end: page by page, from = searched_until, to the
        trace's end): (first page's server ms, its JSON, all pages' ms,
        pages), or a failure string."""
        t1, frm, times, first = self.meta["t1"], self.meta["t0"], [], None
        while frm <= t1 and (to_end or not times) and len(times) < 1000:
            url = "%sapi/search?q=%s&limit=1000&from=%d" % (self.url, q, frm)
            try:
                body, timing = get(url, max(1.0, self.w.time_cap - self.w.elapsed() + 5))
            except OSError as e:
                return "failed (%s)" % e
            if "dur=" not in timing:
                return "failed (no Server-Timing header)"
            times.append(float(timing.split("dur=")[1].split(",")[0]))
            a = json.loads(body)
            first = first or a
            frm = a.get("searched_until", t1 + 1)
        return times[0], first, sum(times), len(times)
    def analysis(self, t0=None, t1=None):
        """/api/analysis (of the window [t0, t1] if given): its wall time and
        the parts it computed (scale.computed, or "all": the full index)."""
        url = self.url + "api/analysis"
        if t0 is not None:
            url += "?t0=%d&t1=%d" % (t0, t1)
        start = time.monotonic()
        try:
            body, _ = get(url, max(1.0, self.w.time_cap - self.w.elapsed() + 5))
        except OSError as e:
            time.sleep(2 * SAMPLE_S)
            return self.w.failure() or ("failed (%s)" % e)
        secs = time.monotonic() - start
        sc = json.loads(body).get("scale")
        return "%.2f s (computed: %s)" % (secs, sc.get("computed", "?") if sc else "all")

    def stop(self):
        """Stops the view; error says if it was killed or failed meanwhile."""
        if self.error is None:
            self.w.stop()
            self.error = self.w.failure()


def run(argv, base, caps):
    """A command to its end: (seconds, Watched); failure() says if it failed."""
    w = Watched(argv, base + ".out", base + ".err", *caps)
    return w.wait(), w


def figure_run(secs, w, extra=""):
    bad = w.failure()
    if bad:
        return bad
    return "%.2f s%s, peak RssAnon %s, max RSS %s" % (secs, extra, mib(w.peak_anon), mib(w.maxrss))


def trace_span(meta, ctrace, trace, logs, caps):
    """The trace's span in seconds: from the view's /api/meta, else `ctrace info`."""
    if meta:
        return (meta["t1"] - meta["t0"]) / 1e9
    _, w = run([ctrace, "info", trace], os.path.join(logs, "info"), caps)
    if w.failure() is None:
        with open(w.out) as f:
            for line in f:
                if line.startswith("span:"):
                    return float(line.split()[1])
    return None


def stats_parts(path):
    """The tables `ctrace stats` printed (and what it said it did not compute)."""
    heads = (("threads", "threads"), ("top regions", "regions"), ("tasks by name", "tasks"),
             ("top blocking: waits", "blocking"), ("syscalls (", "syscalls"))
    have, missing = [], ""
    with open(path) as f:
        for line in f:
            for h, name in heads:
                if line.startswith(h) and name not in have:
                    have.append(name)
            if line.startswith("not computed"):
                missing = "; not: " + line.split(": ", 1)[1].split(" (")[0].strip()
    return ", ".join(have) + missing


def side_files(trace):
    """Files next to the trace (its directory holds nothing else of ours)."""
    d = os.path.dirname(trace)
    return sorted(n for n in os.listdir(d) if n != os.path.basename(trace))


def open_view(ctrace, trace, logs, tag, caps):
    """A view opened, its windows served, stopped: a dict of its figures."""
    v = View(ctrace, trace, os.path.join(logs, tag), caps)
    r = {"opened": v.error is None}
    if v.error:
        r["ready"] = v.error
    else:
        r["ready"] = "%.2f s" % v.ready_s
        r["windows"], r["windows_error"] = v.windows()
        r["searches"] = {q: v.search(q, q == SEARCHES[0]) for q in SEARCHES}
        t0, t1 = v.meta["t0"], v.meta["t1"]
        mid = max(t0, (t0 + t1) // 2 - 500000000)
        r["analysis"] = v.analysis()
        r["analysis_range"] = v.analysis(mid, min(t1, mid + 1000000000))
        v.stop()
    r["memory"] = v.error or "peak RssAnon %s (VmHWM %s)" % (mib(v.w.peak_anon), mib(v.w.hwm))
    r["meta"] = v.meta
    return r


def window_cell(r, frac):
    ws = r.get("windows")
    if ws is None:
        return "not measured (view did not open)"
    if frac not in ws:
        return r["windows_error"]
    t = ws[frac]
    return "median %7.1f ms, max %7.1f ms" % (statistics.median(t), max(t))


def search_cell(r, q):
    got = (r.get("searches") or {}).get(q)
    if got is None:
        return "not measured (view did not open)"
    if isinstance(got, str):
        return got
    ms, a, all_ms, pages = got
    end = "; to the end: %d pages, %.0f ms" % (pages, all_ms) if pages > 1 else ""
    return "%.1f ms: %d results, %.2fM events decoded%s%s" % (
        ms, len(a.get("results", [])), a.get("events_decoded", 0) / 1e6,
        ", cut by the budget" if a.get("truncated") else "", end)


def main():
    ctrace, trace, events = sys.argv[1], sys.argv[2], int(sys.argv[3])
    caps = (int(sys.argv[4]), float(sys.argv[5]))
    logs = os.path.dirname(trace) + ".logs"
    os.makedirs(logs, exist_ok=True)
    small = events <= 10000000
    for name in side_files(trace):  # an index left by an earlier open
        os.remove(os.path.join(os.path.dirname(trace), name))
    first = open_view(ctrace, trace, logs, "view1", caps)
    idx_note = ", ".join("%s (%.1f MB)" % (n, os.path.getsize(os.path.join(os.path.dirname(trace), n)) / 1e6)
                         for n in side_files(trace)) or "none"
    if first["opened"]:
        again = open_view(ctrace, trace, logs, "view2", caps)
    else:
        again = {"ready": "not measured (the first open failed)", "memory": "not measured", "meta": None}
    span = trace_span(first["meta"] or again["meta"], ctrace, trace, logs, caps)
    secs, st = run([ctrace, "stats", trace], os.path.join(logs, "stats"), caps)
    stats_all = figure_run(secs, st)
    parts = stats_parts(st.out) if st.failure() is None else "not measured"
    if span is None:
        stats_range = "not measured (the trace's span is unknown)"
        range_label = "ctrace stats, 1 s range"
    else:
        a = max(0.0, span / 2 - 0.5)
        b = a + 1.0
        range_label = "ctrace stats --since %.3f --until %.3f" % (a, b)
        secs, st = run([ctrace, "stats", trace, "--since", "%.3f" % a, "--until", "%.3f" % b],
                       os.path.join(logs, "stats_range"), caps)
        stats_range = figure_run(secs, st, "" if span > 1 else " (the trace is shorter than 1 s)")
    secs, ex = run([ctrace, "export", trace, "-o", "/dev/null"], os.path.join(logs, "export"), caps)
    export = figure_run(secs, ex, ", %.1fM events/s" % (events / secs / 1e6))

    ready_t = "<= 0.5 s (10M)" if small else "<= 60 s"
    win_t = "<= 50 ms (10M)" if small else "<= 100 ms"
    rows = [
        ("trace span", "%.2f s" % span if span is not None else "unknown", ""),
        ("first open (URL + /api/meta)", first["ready"], ready_t),
        ("  its peak memory", first["memory"], "<= 1 GiB RssAnon"),
        ("  files left next to the trace", idx_note, "an index (FILE.idx)"),
        ("reopen", again["ready"], "<= 2 s"),
        ("  its peak memory", again["memory"], "<= 1 GiB RssAnon"),
    ]
    for tag, r in (("first view", first), ("reopened", again)):
        for frac in LEVELS:
            lvl = "whole trace" if frac == 1 else "1/%d" % frac
            rows.append(("window %s, %s" % (lvl, tag), window_cell(r, frac), win_t))
    for q in SEARCHES:
        rows.append(("search q=%s, reopened" % q, search_cell(again, q), "bounded (<= 100 ms a page)"))
    for tag, r in (("first view", first), ("reopened", again)):
        if "analysis" in r:
            rows.append(("/api/analysis whole trace, %s" % tag, r["analysis"], "<= 60 s"))
            rows.append(("/api/analysis 1 s range, %s" % tag, r["analysis_range"], "<= 1 s"))
    rows += [
        ("ctrace stats (whole trace)", stats_all, "<= 60 s, <= 1 GiB"),
        ("  its tables", parts, "all of ctrace stats'"),
        (range_label, stats_range, "<= 1 s"),
        ("ctrace export -o /dev/null", export, "memory flat in length"),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print("%-*s  %-*s  %s" % (w0, "figure (%d events)" % events, w1, "measured", "target (issue 15)"))
    for a, b, c in rows:
        print("%-*s  %-*s  %s" % (w0, a, w1, b, c))


if __name__ == "__main__":
    main()
