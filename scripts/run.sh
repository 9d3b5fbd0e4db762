#!/usr/bin/env bash
# Command 1: the main job in embedded mode (one process, in-memory bus, SQLite file, local blob folder).
# Installs the runtime tools it shells out to (PDF renderer, GDCM), then processes the shipped samples.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/install-deps.sh" --runtime-only
cd "$ROOT"
dotnet run --project src/Cli -c Release -- process "${@:-samples}" --task "${DOCPIPE_TASK:-table}"
