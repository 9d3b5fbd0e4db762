#!/usr/bin/env bash
# Scale-out benchmark: pages/s through the distributed pipeline with 1, 2 and 3 CPU inference worker processes
# (InferenceWorker, demo checkpoint models/demo/table), median of 3 runs each, ratio vs 1 worker measured in the
# same run; prints a Markdown table naming the machine. Arguments: pages (24), runs (3), worker counts (1,2,3).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
exec bash "$ROOT/bench/pipeline/run.sh" "${1:-24}" "${2:-3}" "${3:-1,2,3}"
