#!/usr/bin/env python3
"""Makes the golden bad traces of tests/data from good.ctrace.

good.ctrace was recorded with:
    CTRACE_OUT=tests/data/good.ctrace build/samples/pipeline -n 20 -w 2
Re-run this script after re-recording it (python3 tests/data/make_golden.py).
heap-samples.ctrace (heap samples with their stacks and mappings, a seed of
the reader's fuzzing in .ci/run) was recorded with:
    CTRACE_LTTNG=0 build/ctrace run --heap-rate 65536 --no-sched \
        -o tests/data/heap-samples.ctrace -- build/tests/progs/heap_sites 10
Each file below is what test_cli.c expects a clear error or warning for.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FILE_HEADER = 64
RECORD_HEADER = 32


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def records(buf):
    """(offset, type, stored) of every record."""
    off, out = FILE_HEADER, []
    while off + RECORD_HEADER <= len(buf):
        _sync, rtype, _codec, _flags, stored = struct.unpack_from("<IBBHI", buf, off)
        out.append((off, rtype, stored))
        off += RECORD_HEADER + stored
    return out


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(bytes(data))


def main():
    good = bytearray(open(os.path.join(HERE, "good.ctrace"), "rb").read())
    recs = records(good)
    batches = [r for r in recs if r[1] == 2]
    end = [r for r in recs if r[1] == 4][0]

    write("empty.ctrace", b"")
    write("not-a-trace.ctrace", b"hello, this is not a trace\n")
    write("header-cut.ctrace", good[:40])

    v2 = bytearray(good)
    struct.pack_into("<H", v2, 8, 2)  # format major version 2
    struct.pack_into("<I", v2, 60, crc32c(v2[:60]))
    write("bad-version.ctrace", v2)

    hc = bytearray(good)
    hc[20] ^= 0x01  # pid changed, CRC not updated
    write("header-crc.ctrace", hc)

    last = batches[-1]
    write("record-cut.ctrace", good[: last[0] + RECORD_HEADER + last[2] // 2])

    flip = bytearray(good)
    mid = batches[len(batches) // 2]
    flip[mid[0] + RECORD_HEADER + mid[2] // 2] ^= 0x10  # inside a batch payload
    write("batch-bitflip.ctrace", flip)

    sync = bytearray(good)
    sync[mid[0]] ^= 0xFF  # a record's sync word
    write("bad-sync.ctrace", sync)

    write("killed.ctrace", good[: end[0]])  # everything but the END record

    first = bytearray(good)
    first[recs[0][0] + RECORD_HEADER] ^= 0x01  # the first record (DEFS) is damaged
    write("first-record-corrupt.ctrace", first)


if __name__ == "__main__":
    main()
