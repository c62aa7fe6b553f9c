#!/usr/bin/env python3
"""The layout stays true (docs/architecture.md): every room of tracer/ and
viewer/ includes only its own headers, the public ones (ctrace/*.h), and the
one interface header of each room it may use; no source file is compiled
into two targets; libctrace is built from the runtime's sources alone;
libbabeltrace2 is used by the LTTng reader alone (viewer/read/ctf_events.c,
built as libctrace-ctf.so), which the ctrace executable loads only when it
reads an LTTng trace.

usage: check_layout.py SOURCE_DIR [BUILD_DIR]    check the tree (and the build)
       check_layout.py --selftest SOURCE_DIR     the check catches a wrong include
Exits 1, naming each file, include and rule broken, when something is off.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# room -> (its interface header, the rooms it may use). A room's own files
# include its headers by name; other rooms' files only its interface.
ROOMS = {
    "tracer/common": ("common.h", []),
    "tracer/lttng": ("tracepoints.h", []),
    "tracer/runtime": ("record_fast.h", ["tracer/common", "tracer/lttng", "tracer/cpu"]),
    "tracer/preload": (None, ["tracer/runtime", "tracer/common", "tracer/lttng"]),
    "tracer/capture": ("capture.h", ["tracer/common"]),
    "tracer/cpu": ("cpu_module.h", ["tracer/capture", "tracer/common"]),
    "viewer/read": ("read.h", ["tracer/common"]),
    "viewer/export": ("export.h", ["viewer/read", "tracer/common"]),
    "viewer/analysis": ("analysis.h", ["viewer/read", "tracer/common"]),
    "viewer/server": ("server.h", ["viewer/analysis", "viewer/export", "viewer/read",
                                   "tracer/common"]),
    "viewer/cli": (None, ["viewer/server", "viewer/analysis", "viewer/export", "viewer/read",
                          "tracer/capture", "tracer/common"]),
}
# Files generated into the build tree, by the room that owns them.
GENERATED = {"profile.pb-c.h": "viewer/analysis"}
# The runtime's headers that the preload wrappers may read beyond its
# interface: record_fast.h includes internal.h (the state the fast path reads).
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# libbabeltrace2 (with glib and pcre2: ~1.7 ms to load) only in the module
# that the tools load on the first LTTng trace read, target ctrace_ctf.
BT_RE = re.compile(r'^\s*#\s*include\s+<babeltrace2/', re.M)
BT_FILE, BT_TARGET = "viewer/read/ctf_events.c", "ctrace_ctf"


def room_of(path):
    for r in ROOMS:
        if path.startswith(r + "/"):
            return r
    return None


def sources(src):
    out = []
    for top in ("tracer", "viewer"):
        for d, _, files in os.walk(os.path.join(src, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(d, f), src))
    return sorted(out)


def check_includes(src):
    problems = []
    headers = {}  # header name -> room
    for p in sources(src):
        r = room_of(p)
        if r is None:
            problems.append("%s: a file outside every room (the rooms: %s)" % (p, ", ".join(ROOMS)))
            continue
        if p.endswith(".h"):
            headers.setdefault(os.path.basename(p), []).append(r)
    for name, rooms in headers.items():
        if len(rooms) > 1:
            problems.append("header %s is in several rooms (%s): names must say whose" %
                            (name, ", ".join(rooms)))
    for p in sources(src):
        r = room_of(p)
        if r is None:
            continue
        text = open(os.path.join(src, p), encoding="utf-8", errors="replace").read()
        for m in BT_RE.finditer(text) if p != BT_FILE else ():
            problems.append("%s:%d: includes babeltrace2: only %s (libctrace-ctf.so, loaded "
                            "on the first LTTng trace read) may use libbabeltrace2" %
                            (p, text.count("\n", 0, m.start()) + 1, BT_FILE))
        for m in INCLUDE_RE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            where = "%s:%d: #include \"%s\"" % (p, line, inc)
            if inc.startswith("ctrace/"):
                if not os.path.exists(os.path.join(src, "include", inc)):
                    problems.append("%s: no such public header" % where)
                continue
            if "/" in inc:
                problems.append("%s: include by name, not by path (the build gives each room "
                                "the rooms it may use)" % where)
                continue
            owner = GENERATED.get(inc)
            if owner is None:
                owners = headers.get(inc, [])
                owner = owners[0] if owners else None
            if owner is None:
                problems.append("%s: no room has this header" % where)
            elif owner == r:
                continue
            elif owner not in ROOMS[r][1]:
                problems.append("%s: %s may not use %s (it may use: %s)" %
                                (where, r, owner, ", ".join(ROOMS[r][1]) or "nothing"))
            elif inc != ROOMS[owner][0] and not (inc in GENERATED and GENERATED[inc] == owner
                                                 and r == owner):
                problems.append("%s: %s's interface is %s; %s is private to it" %
                                (where, owner, ROOMS[owner][0], inc))
    return problems


def check_build(src, build):
    """No source of tracer/ or viewer/ in two targets; libctrace from the
    runtime's sources only."""
    problems = []
    path = os.path.join(build, "compile_commands.json")
    if not os.path.exists(path):
        return ["%s: missing (configure with CMAKE_EXPORT_COMPILE_COMMANDS)" % path]
    seen = {}
    for e in json.load(open(path)):
        f = os.path.relpath(os.path.realpath(e["file"]), os.path.realpath(src))
        out = e.get("output") or re.search(r"-o\s+(\S+)", e.get("command", "")).group(1)
        target = re.search(r"CMakeFiles/([^/]+)\.dir/", out)
        target = target.group(1) if target else out
        if f.startswith("..") or not f.startswith(("tracer/", "viewer/")):
            continue  # generated in the build tree; tests and samples build as they like
        seen.setdefault(f, set()).add(target)
        if target == "ctrace" and not f.startswith(("tracer/runtime/",)):
            problems.append("%s: compiled into libctrace (target ctrace), which is built from "
                            "tracer/runtime alone" % f)
        if f == BT_FILE and target != BT_TARGET:
            problems.append("%s: compiled into %s: it links libbabeltrace2, and is built alone "
                            "as libctrace-ctf.so (target %s)" % (f, target, BT_TARGET))
    for f, targets in sorted(seen.items()):
        if len(targets) > 1:
            problems.append("%s: compiled into %d targets (%s): build it once, in one library" %
                            (f, len(targets), ", ".join(sorted(targets))))
    return problems


def selftest(src):
    """Copies the rooms, plants wrong includes one at a time, and checks that
    each is reported (and that the clean copy passes)."""
    tmp = tempfile.mkdtemp(prefix="ctrace-layout-")
    try:
        for top in ("tracer", "viewer", "include"):
            shutil.copytree(os.path.join(src, top), os.path.join(tmp, top))
        base = check_includes(tmp)
        if base:
            print("the clean copy does not pass:\n  " + "\n  ".join(base))
            return 1
        plants = [
            ("viewer/read/set.c", '#include "analysis.h"', "viewer/read may not use viewer/analysis"),
            ("viewer/analysis/stats.c", '#include "server.h"', "viewer/analysis may not use viewer/server"),
            ("viewer/export/chrome_json.c", '#include "index_internal.h"', "may not use viewer/analysis"),
            ("viewer/server/routes.c", '#include "read_internal.h"', "private to it"),
            ("tracer/runtime/writer.c", '#include "read.h"', "tracer/runtime may not use viewer/read"),
            ("tracer/common/io.c", '#include "internal.h"', "tracer/common may not use tracer/runtime"),
            ("viewer/cli/main.c", '#include "../read/read.h"', "not by path"),
            ("viewer/read/set.c", "#include <babeltrace2/babeltrace.h>", "may use libbabeltrace2"),
        ]
        failed = 0
        for f, line, want in plants:
            p = os.path.join(tmp, f)
            keep = open(p).read()
            open(p, "w").write(line + "\n" + keep)
            got = check_includes(tmp)
            open(p, "w").write(keep)
            hit = [g for g in got if want in g and f in g]
            print("%s %s in %s -> %s" % ("ok" if hit else "MISSED", line, f,
                                         hit[0] if hit else "; ".join(got) or "nothing reported"))
            failed += not hit
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--selftest":
        return selftest(sys.argv[2])
    src = sys.argv[1]
    problems = check_includes(src)
    if len(sys.argv) > 2:
        problems += check_build(src, sys.argv[2])
    for p in problems:
        print(p)
    if not problems:
        print("layout ok: %d files in %d rooms" % (len(sources(src)), len(ROOMS)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
