#!/usr/bin/env python3
"""Lists, or blanks, the per-architecture GPU code inside a CUDA shared library's .nv_fatbin section
(bench/gpu/README.md, "Shrinking what travels").

    python3 bench/gpu/fatbin_keep.py LIB.so                      # table: MiB of SASS/PTX per sm_XX
    python3 bench/gpu/fatbin_keep.py LIB.so --keep 90 --out COPY.so

--keep writes a copy in which the payload of every cubin for another architecture is zeroed, but only in
fat binaries that also hold one for the kept architecture; headers, offsets and the file size stay as they
are, so nothing is relinked. Zeros compress to almost nothing, which is the point: the file still has the
same size on disk, the archive that travels does not. UNTESTED ON A GPU: the CUDA driver loads the entry
matching the device and should never read the blanked ones, but nobody has run the result yet. pack.sh
uses it only with SM90_ONLY=1.

Format (as read by cuobjdump; not a public spec): a fat binary header {u32 magic 0xBA55ED50, u16 version,
u16 header size, u64 payload size} followed by entries {u16 kind (1 PTX, 2 cubin), u16, u32 header size,
u64 payload size, ..., u32 sm at +28}.
"""
from __future__ import annotations

import argparse
import collections
import struct
import subprocess
import sys

MAGIC = 0xBA55ED50


def section(path: str):
    out = subprocess.run(["readelf", "-S", "-W", path], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if ".nv_fatbin" in line:
            parts = line.split("]", 1)[1].split()
            return int(parts[3], 16), int(parts[4], 16)  # file offset, size
    raise SystemExit(f"error: {path} has no .nv_fatbin section")


def entries(data: bytes):
    """Yields (fatbin index, kind, sm, payload start, payload end) over the section."""
    i, fb = 0, 0
    while i + 16 <= len(data):
        magic, _, hsize, fsize = struct.unpack_from("<IHHQ", data, i)
        if magic != MAGIC:
            i += 8
            continue
        j, end = i + hsize, i + hsize + fsize
        while j + 32 <= end:
            kind, _, ehsize, psize = struct.unpack_from("<HHIQ", data, j)
            sm = struct.unpack_from("<I", data, j + 28)[0]
            yield fb, kind, sm, j + ehsize, j + ehsize + psize
            j += ehsize + psize
        i, fb = end, fb + 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lib")
    ap.add_argument("--keep", type=int, help="sm number to keep, e.g. 90 for H100/H200")
    ap.add_argument("--out")
    args = ap.parse_args()
    off, size = section(args.lib)
    with open(args.lib, "rb") as f:
        blob = bytearray(f.read())
    data = bytes(blob[off:off + size])
    found = list(entries(data))
    per = collections.Counter()
    for _, kind, sm, a, b in found:
        per[("ptx" if kind == 1 else "cubin", sm)] += b - a
    print(f"{args.lib}: .nv_fatbin {size / 2**20:.1f} MiB, {len(found)} entries")
    for (kind, sm), n in sorted(per.items(), key=lambda kv: -kv[1]):
        print(f"  {kind} sm_{sm}: {n / 2**20:.1f} MiB")
    if args.keep is None:
        return 0
    if not args.out:
        raise SystemExit("error: --keep needs --out")
    has_kept = {fb for fb, kind, sm, _, _ in found if kind == 2 and sm == args.keep}
    blanked = 0
    for fb, kind, sm, a, b in found:
        if fb in has_kept and sm != args.keep:
            blob[off + a:off + b] = bytes(b - a)
            blanked += b - a
    missing = {fb for fb, *_ in found} - has_kept
    with open(args.out, "wb") as f:
        f.write(blob)
    print(f"blanked {blanked / 2**20:.1f} MiB; {len(missing)} fat binaries have no sm_{args.keep} cubin and were left whole")
    return 0


if __name__ == "__main__":
    sys.exit(main())
