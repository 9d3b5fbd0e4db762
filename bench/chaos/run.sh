#!/usr/bin/env bash
# Chaos harness (issue 12), the longer setting: tests/EndToEnd/ChaosTests with more pages and rounds of faults.
# The test starts a PostgreSQL and a RabbitMQ of its own (scripts/services.sh in control mode), the Api, a
# preparation worker and two inference workers (demo table checkpoint) as processes, and during the run kills -9
# the preparation worker and an inference worker mid-batch, restarts RabbitMQ and PostgreSQL and SIGTERMs a
# worker, once per round. It prints the figures (documents, pages, faults, lost, duplicated, recovery times).
# The test command runs the short setting (300 pages, 1 round, no content bomb).
# Settings: DOCPIPE_CHAOS_PAGES (default here 1500), DOCPIPE_CHAOS_ROUNDS (3), DOCPIPE_CHAOS_BOMB (1: adds the
# 1.5 GiB content-bomb PDF of tools/hostile/generate.py).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$ROOT/scripts/install-deps.sh"
cd "$ROOT"
dotnet build tests/EndToEnd -c Release -v q -nologo >/dev/null
REPORT=$(mktemp /tmp/docpipe-chaos-report.XXXXXX)
trap 'rm -f "$REPORT"' EXIT
DOCPIPE_CHAOS_PAGES=${DOCPIPE_CHAOS_PAGES:-1500} DOCPIPE_CHAOS_ROUNDS=${DOCPIPE_CHAOS_ROUNDS:-3} DOCPIPE_CHAOS_BOMB=${DOCPIPE_CHAOS_BOMB:-1} \
DOCPIPE_CHAOS_REPORT="$REPORT" \
  dotnet test tests/EndToEnd -c Release --no-build --filter "FullyQualifiedName~ChaosTests" --logger "console;verbosity=normal" "$@"
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
cat "$REPORT"
