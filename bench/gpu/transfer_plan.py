#!/usr/bin/env python3
"""Writes the sequence of device-tool calls that carries the packed EngineBench to the GPU machine and runs
the checks there (called by bench/gpu/pack.sh; read by bench/gpu/rehearse.py). Output: .gpuxfer/plan.json
(a list of {"carry": [...], "timeout_s": N, "command": "..."}) and .gpuxfer/plan.md (the same, to paste).

Call 1 sends part 00 and runs the tiny HF parity check (tools/hf_parity.py --skip-full, ~1-2 min) while
the machine is up anyway; calls 2..N-1 send one part each; call N sends the last part, reassembles,
verifies the sha256 and runs run_gpu_bench.py. An optional last call runs the full-size parity. Every part
is copied to /tmp/gpuxfer as well, so the final call finds it whether the device tool kept the ignored
.gpuxfer/ folder or /tmp (call 1 records which survive: compare `unpack.py --status` across calls).
"""
from __future__ import annotations

import argparse
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_COMMAND = 2000
BENCH = ("PYTHONUNBUFFERED=1 timeout 540 python3 bench/gpu/run_gpu_bench.py --batches 1,4,16 --max-new-tokens 512 "
         "2>&1 | tee $OUT/bench.log; cp bench/gpu/results/*.md bench/gpu/results/*.json $OUT/ 2>/dev/null; true")
BENCH_REHEARSAL = ("bench/gpu/out/PaliGemma2.DocPipeline.EngineBench models/test-checkpoint/224 --cpu --batches 1 "
                   "--max-new-tokens 4 2>&1 | tee $OUT/bench.log")


def send(n: int) -> str:
    return (f"mkdir -p /tmp/gpuxfer && cp .gpuxfer/p{n:02d}/part-{n:02d} /tmp/gpuxfer/ && "
            f"echo part {n:02d} stored; ")


def plan(parts: int, sha: str, rehearsal: bool):
    status = f"python3 bench/gpu/unpack.py --status --parts {parts}; ls -la .gpuxfer /tmp/gpuxfer; df -h /tmp . | tail -2"
    calls = []
    first = (send(0) + "date -u > /tmp/gpuxfer/first-call; nvidia-smi --query-gpu=name,memory.total,driver_version "
             "--format=csv 2>&1 | tee $OUT/gpu.txt; python3 -c 'import torch,transformers,onnxruntime as o;"
             "print(torch.__version__,transformers.__version__,o.__version__,o.get_available_providers())' 2>&1 | tee -a $OUT/gpu.txt; "
             "PYTHONUNBUFFERED=1 timeout 300 python3 tools/hf_parity.py --skip-full --out $OUT/parity-tiny.md "
             "2>&1 | tee $OUT/parity-tiny.log; echo parity exit ${PIPESTATUS[0]}; " + status)
    calls.append({"carry": [".gpuxfer/p00"], "timeout_s": 420, "command": first})
    for n in range(1, parts - 1):
        calls.append({"carry": [f".gpuxfer/p{n:02d}"], "timeout_s": 120, "command": send(n) + status})
    last = parts - 1
    final = "set -o pipefail; " + (send(last) if last > 0 else "") + (
        f"python3 bench/gpu/unpack.py --parts {parts} --sha256 {sha} 2>&1 | tee $OUT/unpack.log && "
        + (BENCH_REHEARSAL if rehearsal else BENCH))
    calls.append({"carry": [f".gpuxfer/p{last:02d}"] if last > 0 else [], "timeout_s": 600, "command": final})
    if not rehearsal:
        calls.append({"carry": [], "timeout_s": 420, "optional": True,
                      "command": "PYTHONUNBUFFERED=1 timeout 400 python3 tools/hf_parity.py --only-full "
                                 "--out $OUT/parity-full.md 2>&1 | tee $OUT/parity-full.log"})
    for c in calls:
        assert len(c["command"]) <= MAX_COMMAND, f"command of {len(c['command'])} characters"
    return calls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", type=int, required=True)
    ap.add_argument("--sha256", required=True)
    ap.add_argument("--tree-bytes", type=int, default=0)
    ap.add_argument("--archive-bytes", type=int, default=0)
    ap.add_argument("--publish-bytes", type=int, default=0)
    ap.add_argument("--dir", default=os.path.join(ROOT, ".gpuxfer"))
    args = ap.parse_args()
    for rehearsal, name in ((False, "plan"), (True, "plan-rehearsal")):
        calls = plan(args.parts, args.sha256, rehearsal)
        for c in calls:
            c["sends_bytes"] = args.tree_bytes + sum(
                os.path.getsize(os.path.join(ROOT, p, f)) for p in c["carry"] for f in os.listdir(os.path.join(ROOT, p)))
        meta = {"parts": args.parts, "sha256": args.sha256, "tree_bytes": args.tree_bytes,
                "archive_bytes": args.archive_bytes, "publish_bytes": args.publish_bytes, "calls": calls}
        with open(os.path.join(args.dir, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
        with open(os.path.join(args.dir, name + ".md"), "w", encoding="utf-8") as f:
            f.write(f"# Device calls ({'local rehearsal' if rehearsal else 'GPU machine'}): {len(calls)} calls, "
                    f"archive {args.archive_bytes / 2**20:.1f} MiB in {args.parts} parts, sha256 {args.sha256}\n\n")
            for i, c in enumerate(calls, 1):
                f.write(f"## Call {i}{' (optional)' if c.get('optional') else ''}: carry {json.dumps(c['carry'])}, "
                        f"timeout_s {c['timeout_s']}, sends {c['sends_bytes'] / 2**20:.1f} MiB, "
                        f"{len(c['command'])} characters\n\n```bash\n{c['command']}\n```\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
