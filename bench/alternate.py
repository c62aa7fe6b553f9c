#!/usr/bin/env python3
"""Wall time of commands run in turn, RUNS times each, for the benchmarks.

    alternate.py RUNS LABEL=CMD [LABEL=CMD ...]

CMD is split by the shell's rules (shlex); VAR=value words before it set its
environment. Each round runs every command once, in the order given, so a
slow spell of the machine touches all of them alike. Prints one line per
command: "LABEL median_ms=X min_ms=Y left_running=N", N the rounds in which
a process of the command's process group (it leads its own) was still
running the moment it exited (what a harness that waits for the group would
wait for). A command that fails is an error (exit 1, its stderr shown)."""
import os
import shlex
import statistics
import subprocess
import sys
import time


def parse(spec):
    label, cmd = spec.split("=", 1)
    words = shlex.split(cmd)
    env = dict(os.environ)
    while words and "=" in words[0] and not words[0].startswith("/"):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    return label, words, env


def run_once(words, env):
    t = time.perf_counter()
    p = subprocess.Popen(words, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    _, err = p.communicate()
    ms = (time.perf_counter() - t) * 1000
    try:
        os.killpg(p.pid, 0)
        left = 1
    except ProcessLookupError:
        left = 0
    if p.returncode != 0:
        sys.stderr.write(f"alternate.py: {' '.join(words)}: exit {p.returncode}\n{err.decode()}")
        sys.exit(1)
    return ms, left


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    runs = int(sys.argv[1])
    cmds = [parse(s) for s in sys.argv[2:]]
    times = {c[0]: [] for c in cmds}
    left = {c[0]: 0 for c in cmds}
    for _ in range(runs):
        for label, words, env in cmds:
            ms, lr = run_once(words, env)
            times[label].append(ms)
            left[label] += lr
    for label, _, _ in cmds:
        v = times[label]
        print(f"{label} median_ms={statistics.median(v):.2f} min_ms={min(v):.2f} left_running={left[label]}")


main()
