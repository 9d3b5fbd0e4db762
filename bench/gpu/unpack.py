#!/usr/bin/env python3
"""Reassembles the EngineBench publish on the GPU machine from the parts bench/gpu/pack.sh made
(bench/gpu/README.md, "Getting the engine there"). Standard library only (the machine has no xz/zstd
guarantee and no .NET).

    python3 bench/gpu/unpack.py --status --parts N            # which parts are there (after each send)
    python3 bench/gpu/unpack.py --parts N --sha256 HEX        # join, verify, extract to bench/gpu/out

Parts are looked for where the sends left them: .gpuxfer/pNN/part-NN in the repository (an ignored path the
device tool keeps between back-to-back calls) and /tmp/gpuxfer/part-NN (a second copy each send makes).
Exit 0 done, 1 a part missing or the checksum wrong (the message names which), 2 usage.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLACES = (os.path.join(ROOT, ".gpuxfer", "p{n:02d}", "part-{n:02d}"), "/tmp/gpuxfer/part-{n:02d}")


def find(n: int):
    for pattern in PLACES:
        p = pattern.format(n=n)
        if os.path.isfile(p):
            return p
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", type=int, required=True)
    ap.add_argument("--sha256", help="of the whole archive (pack.sh prints it)")
    ap.add_argument("--status", action="store_true")
    ap.add_argument("--dest", default=os.path.join(ROOT, "bench", "gpu"))
    args = ap.parse_args()
    found = {n: find(n) for n in range(args.parts)}
    for n, p in found.items():
        print(f"part {n:02d}: {p + ' (' + str(os.path.getsize(p)) + ' bytes)' if p else 'MISSING'}")
    if args.status:
        return 0
    missing = [n for n, p in found.items() if p is None]
    if missing:
        print(f"error: parts {missing} are not on this machine (were the sends back to back? rerun those)")
        return 1
    if not args.sha256:
        print("error: --sha256 is required to unpack")
        return 2
    t0 = time.time()
    joined = "/tmp/gpuxfer/enginebench.tar.xz"
    os.makedirs(os.path.dirname(joined), exist_ok=True)
    h = hashlib.sha256()
    with open(joined, "wb") as out:
        for n in range(args.parts):
            with open(found[n], "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
                    out.write(block)
    if h.hexdigest() != args.sha256.lower():
        print(f"error: sha256 {h.hexdigest()} != expected {args.sha256}")
        return 1
    target = os.path.join(args.dest, "out")
    if os.path.isdir(target):
        shutil.rmtree(target)
    with tarfile.open(joined, "r:xz") as tar:
        tar.extractall(args.dest)  # archive written by pack.sh from bench/gpu: only out/...
    exe = os.path.join(target, "PaliGemma2.DocPipeline.EngineBench")
    ok = os.access(exe, os.X_OK)
    print(f"unpacked {os.path.getsize(joined)} bytes, sha256 ok, to {target} in {time.time() - t0:.1f}s; "
          f"EngineBench executable: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
