#!/usr/bin/env python3
"""Golden outputs: `ctrace export` (and `ctrace stats --json`) of committed
traces must stay byte for byte what goldens.sha256 says.

The traces in data/ were recorded on this project's CI kind of machine:
  pipeline.ctrace(.kernel)   ctrace run -- samples/pipeline   (wrappers + kernel switches)
  workpool.ctrace(.kernel)   ctrace run -- samples/workpool   (work items, sched)
  pipeline-plain.ctrace      CTRACE_OUT=... samples/pipeline  (instrumentation only)
  contend.ctrace             ctrace run -- tests/progs/contend 50
  lttng-workpool.tar.zst     LTTng session, ctrace:* + vpid/vtid/procname, samples/workpool
  lttng-wrappers.tar.zst     LTTng session, lttng_ust_libc:* and lttng_ust_pthread:*,
                             tests/progs/contend 100 under LTTng's own wrappers
  lttng-run.tar.zst          LTTng session, ctrace:*, ctrace run -- tests/progs/contend 50
and tests/data/*.ctrace (the hand-made good and broken files).

Every command runs in a scratch directory holding copies of the files under
relative names, so the outputs do not depend on where the tree is.

usage: test_golden.py CTRACE SCRATCH [--ctf] [--update]
  --ctf     babeltrace2 is built in: check the LTTng cases too
  --update  rewrite goldens.sha256 from what this build prints (after a
            change that is meant to change the output; say why in the commit)
"""
import hashlib
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
BAD = os.path.join(HERE, "..", "data")
GOLDEN = os.path.join(HERE, "goldens.sha256")

# name -> (needs CTF, ctrace arguments)
CASES = [
    ("export-pipeline", 0, ["export", "pipeline.ctrace", "-o", "-"]),  # .kernel found beside it
    ("export-pipeline-only", 0, ["export", "pipeline-only.ctrace", "-o", "-"]),
    ("export-workpool", 0, ["export", "workpool.ctrace", "workpool.ctrace.kernel", "-o", "-"]),
    ("export-kernel-first", 0, ["export", "workpool.ctrace.kernel", "workpool.ctrace", "-o", "-"]),
    ("export-plain", 0, ["export", "pipeline-plain.ctrace", "-o", "-"]),
    ("export-two-processes", 0, ["export", "pipeline-plain.ctrace", "contend.ctrace", "-o", "-"]),
    ("export-contend", 0, ["export", "contend.ctrace", "-o", "-"]),
    ("export-lttng-workpool", 1, ["export", "lttng-workpool", "-o", "-"]),
    ("export-lttng-wrappers", 1, ["export", "lttng-wrappers", "-o", "-"]),
    ("export-lttng-run", 1, ["export", "lttng-run", "-o", "-"]),
    ("stats-pipeline", 0, ["stats", "pipeline.ctrace", "--json"]),
    ("stats-workpool", 0, ["stats", "workpool.ctrace", "--json"]),
    ("stats-plain", 0, ["stats", "pipeline-plain.ctrace", "--json"]),
    ("stats-pipeline-window", 0, ["stats", "pipeline.ctrace", "--since", "10ms", "--until",
                                  "30ms", "--thread", "worker-1", "--json"]),
    ("stats-lttng-workpool", 1, ["stats", "lttng-workpool", "--json"]),
    ("stats-lttng-wrappers", 1, ["stats", "lttng-wrappers", "--json"]),
    ("stats-lttng-run", 1, ["stats", "lttng-run", "--json"]),
]
for f in sorted(os.listdir(BAD)):
    if f.endswith(".ctrace"):
        CASES.append(("export-data-" + f[:-7], 0, ["export", f, "-o", "-"]))


def stage(scratch):
    """Copies the traces into scratch under the names the cases use."""
    if os.path.exists(scratch):
        shutil.rmtree(scratch)
    os.makedirs(scratch)
    for f in os.listdir(DATA):
        src = os.path.join(DATA, f)
        if f.endswith(".tar.zst"):
            subprocess.run("zstd -dc '%s' | tar -xf -" % src, shell=True, check=True, cwd=scratch)
        else:
            shutil.copy(src, scratch)
    shutil.copy(os.path.join(DATA, "pipeline.ctrace"), os.path.join(scratch, "pipeline-only.ctrace"))
    for f in os.listdir(BAD):
        if f.endswith(".ctrace"):
            shutil.copy(os.path.join(BAD, f), scratch)


def digest(ctrace, scratch, args):
    p = subprocess.run([ctrace] + args, cwd=scratch, capture_output=True, timeout=300)
    return "%s rc=%d" % (hashlib.sha256(p.stdout).hexdigest(), p.returncode), p


def main():
    ctrace, scratch = os.path.abspath(sys.argv[1]), sys.argv[2]
    ctf, update = "--ctf" in sys.argv, "--update" in sys.argv
    stage(scratch)
    want = {}
    if os.path.exists(GOLDEN):
        for line in open(GOLDEN):
            if line.strip() and not line.startswith("#"):
                name, rest = line.split(" ", 1)
                want[name] = rest.strip()
    got, failed = {}, []
    for name, needs_ctf, args in CASES:
        if needs_ctf and not ctf:
            print("skip %s (no babeltrace2 in this build)" % name)
            if name in want:
                got[name] = want[name]
            continue
        d, p = digest(ctrace, scratch, args)
        got[name] = d
        if update:
            continue
        if name not in want:
            failed.append("%s: no golden (run with --update)" % name)
        elif want[name] != d:
            failed.append("%s: `ctrace %s` printed %s, golden %s; stderr: %s" % (
                name, " ".join(args), d, want[name], p.stderr.decode(errors="replace")[:400]))
        else:
            print("ok %s" % name)
    if update:
        with open(GOLDEN, "w") as f:
            f.write("# sha256 of stdout and exit status of each case of test_golden.py\n")
            for name, _, _ in CASES:
                f.write("%s %s\n" % (name, got[name]))
        print("wrote %s (%d cases)" % (GOLDEN, len(got)))
        return 0
    for m in failed:
        print("FAIL " + m)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
