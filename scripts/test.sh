#!/usr/bin/env bash
# Command 2: installs and starts RabbitMQ, PostgreSQL 15 + RDKit and Orthanc (+ DICOMweb) on loopback
# in a temporary directory, runs every test, and stops the services even when tests fail.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/install-deps.sh"

source "$ROOT/scripts/services.sh"

if [[ -f "$ROOT/tools/jsref/package-lock.json" ]]; then
  echo "== npm ci (transformers.js reference)"
  (cd "$ROOT/tools/jsref" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [[ -f "$ROOT/tools/metricsref/package-lock.json" ]]; then
  echo "== npm ci (metric references: edit-distance, js-rouge)"
  (cd "$ROOT/tools/metricsref" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "== npm ci (deploy tests: kubernetes-models, @kubernetes-models/keda)"
(cd "$ROOT/tools/k8scheck" && npm ci --no-audit --no-fund --loglevel=error)
echo "== npm ci (review page: verovio served by the Api; playwright-core for its browser tests)"
(cd "$ROOT/src/Api/wwwroot/review/vendor" && npm ci --no-audit --no-fund --loglevel=error)
(cd "$ROOT/tests/ui" && npm ci --no-audit --no-fund --loglevel=error)

echo "== dotnet test"
cd "$ROOT"
dotnet tool restore >/dev/null
results=$(mktemp -d)
status=0
dotnet test PaliGemma2.DocPipeline.sln -c Release --logger "console;verbosity=normal" --logger trx --results-directory "$results" "$@" || status=$?
# The log above is long and interleaved across projects: repeat each failed test with its message last, where a
# reader of the log's tail (or of CI's) sees it.
if [[ $status -ne 0 ]]; then
  echo "== dotnet test failed (exit $status); failed tests:"
  /usr/bin/python3 "$ROOT/scripts/failed-tests.py" "$results"/*.trx || true
fi
rm -rf "$results"
exit $status
