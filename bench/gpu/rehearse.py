#!/usr/bin/env python3
"""Rehearses the device-call sequence (.gpuxfer/plan-rehearsal.json from bench/gpu/pack.sh) against a local
folder standing in for the GPU machine, the way the device tool treats it: each call copies the working tree
(tracked + untracked-not-ignored files) and the call's carry paths over the machine's copy of the repository,
keeps the ignored files already there, empties $OUT, and runs the command from the repository root.
The rehearsal plan's final command runs the unpacked EngineBench on the CPU (toy checkpoint) instead of
run_gpu_bench.py. Prints a Markdown table (bytes sent, command length, copy and run seconds, exit code);
exit 1 if a call fails or breaks a limit (64 MiB sent, 2000-character command).

    python3 bench/gpu/rehearse.py [--machine /tmp/docpipe-fake-gpu]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIMIT_BYTES = 64 * 2**20


def tree_files():
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         check=True, capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p and os.path.lexists(os.path.join(ROOT, p))
            and not os.path.isdir(os.path.join(ROOT, p))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plan", default=os.path.join(ROOT, ".gpuxfer", "plan-rehearsal.json"))
    ap.add_argument("--machine", default="/tmp/docpipe-fake-gpu")
    args = ap.parse_args()
    with open(args.plan, encoding="utf-8") as f:
        plan = json.load(f)
    shutil.rmtree(args.machine, ignore_errors=True)
    shutil.rmtree("/tmp/gpuxfer", ignore_errors=True)  # the plan's second copy of each part
    repo = os.path.join(args.machine, "repo")
    os.makedirs(repo)
    rows, failed = [], False
    total0 = time.time()
    for i, call in enumerate(plan["calls"], 1):
        t0 = time.time()
        sent = 0
        for rel in tree_files():
            src, dst = os.path.join(ROOT, rel), os.path.join(repo, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.islink(src):  # the device tool sends a link as a link
                if os.path.lexists(dst):
                    os.remove(dst)
                os.symlink(os.readlink(src), dst)
                sent += len(os.readlink(src))
                continue
            shutil.copyfile(src, dst)
            shutil.copymode(src, dst)
            sent += os.path.getsize(dst)
        for rel in call["carry"]:
            dst = os.path.join(repo, rel)
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(os.path.join(ROOT, rel), dst)
            sent += sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(dst) for f in fs)
        copy_s = time.time() - t0
        out = os.path.join(args.machine, "OUT")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        t1 = time.time()
        proc = subprocess.run(["bash", "-c", call["command"]], cwd=repo, env=dict(os.environ, OUT=out),
                              capture_output=True, text=True, timeout=call["timeout_s"])
        run_s = time.time() - t1
        ok = proc.returncode == 0 and sent <= LIMIT_BYTES and len(call["command"]) <= 2000
        failed |= not ok
        rows.append((i, call["carry"], sent, len(call["command"]), copy_s, run_s, proc.returncode, sorted(os.listdir(out))))
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-6:]
        print(f"--- call {i} rc={proc.returncode}\n" + "\n".join(tail), file=sys.stderr)
    print(f"| call | carry | sent (MiB) | command chars | copy s | run s | exit | $OUT files |\n|---|---|---|---|---|---|---|---|")
    for i, carry, sent, chars, copy_s, run_s, rc, files in rows:
        print(f"| {i} | {' '.join(carry) or '-'} | {sent / 2**20:.1f} | {chars} | {copy_s:.1f} | {run_s:.1f} | {rc} | "
              f"{', '.join(files) or '-'} |")
    print(f"\narchive {plan['archive_bytes'] / 2**20:.1f} MiB (publish {plan['publish_bytes'] / 2**20:.1f} MiB) in "
          f"{plan['parts']} parts; working tree {plan['tree_bytes'] / 2**20:.1f} MiB per call; "
          f"rehearsal {time.time() - total0:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
