#!/usr/bin/env bash
# Benchmark: pages/s through the distributed pipeline with 1 and 2 inference worker processes.
# Starts the same loopback services as the tests, prints a Markdown table naming the machine.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$ROOT/scripts/install-deps.sh"
source "$ROOT/scripts/services.sh"
cd "$ROOT"
dotnet build bench/pipeline/PipelineBench -c Release -v q -nologo >/dev/null
dotnet bench/pipeline/PipelineBench/bin/Release/net10.0/PaliGemma2.DocPipeline.PipelineBench.dll "$@"
