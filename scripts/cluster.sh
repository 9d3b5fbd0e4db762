#!/usr/bin/env bash
# The distributed mode on one machine, without Docker: RabbitMQ (+ management), PostgreSQL 15 + RDKit and Orthanc on
# loopback (scripts/services.sh), then every role as its own process from the Release build:
#   api, intake (drop folder), prepare (Worker), one infer-<task> InferenceWorker per demo checkpoint in models/demo/<task>,
#   writeback (CLUSTER_WRITEBACK=1: SRs go to the loopback Orthanc over STOW-RS),
# and a Prometheus scraping every process's /metrics each second. Prints the URLs and an upload example, then runs
# until Ctrl-C or SIGTERM, which stops every process (workers finish their batch) and the services, and deletes the state.
#
# Ports: API_PORT (5080), PROM_PORT (9090), ROLE_PORT_BASE (5081: the roles' probe/metrics ports count up from it),
# and services.sh's PG_PORT, AMQP_PORT, RABBIT_MGMT_PORT, ORTHANC_HTTP_PORT, ORTHANC_DICOM_PORT (defaults below).
# CONFIGURATION=Debug runs the Debug build; DOCPIPE_API_KEY sets the API key (a random one otherwise).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

CONFIGURATION=${CONFIGURATION:-Release}
API_PORT=${API_PORT:-5080}
PROM_PORT=${PROM_PORT:-9090}
ROLE_PORT_BASE=${ROLE_PORT_BASE:-5081}
# Not the test suite's defaults (55432, ...), so the cluster and scripts/test.sh can run side by side.
export PG_PORT=${PG_PORT:-56432} AMQP_PORT=${AMQP_PORT:-56672} RABBIT_MGMT_PORT=${RABBIT_MGMT_PORT:-56673}
export ORTHANC_HTTP_PORT=${ORTHANC_HTTP_PORT:-56042} ORTHANC_DICOM_PORT=${ORTHANC_DICOM_PORT:-56242}
API_KEY=${DOCPIPE_API_KEY:-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')}

API_DLL="src/Api/bin/$CONFIGURATION/net10.0/PaliGemma2.DocPipeline.Api.dll"
WORKER_DLL="src/Worker/bin/$CONFIGURATION/net10.0/PaliGemma2.DocPipeline.Worker.dll"
INFERENCE_DLL="src/InferenceWorker/bin/$CONFIGURATION/net10.0/PaliGemma2.DocPipeline.InferenceWorker.dll"
if [[ ! -f "$API_DLL" || ! -f "$WORKER_DLL" || ! -f "$INFERENCE_DLL" ]]; then
  echo "== Building ($CONFIGURATION)"
  dotnet build src/Api -c "$CONFIGURATION" -v q -nologo >/dev/null
  dotnet build src/Worker -c "$CONFIGURATION" -v q -nologo >/dev/null
  dotnet build src/InferenceWorker -c "$CONFIGURATION" -v q -nologo >/dev/null
fi
command -v prometheus >/dev/null || { echo "prometheus is not installed: run scripts/install-deps.sh"; exit 1; }

# shellcheck source=services.sh
source "$ROOT/scripts/services.sh"
STATE="$WORK/cluster"
mkdir -p "$STATE/logs" "$STATE/inbox" "$STATE/shared"

PIDS=()
NAMES=()
SLEEP_PID=""
stopping=0
stop_all() {
  ((stopping)) && return
  stopping=1
  set +e
  echo
  echo "== Stopping"
  # SIGTERM first: the workers stop fetching and finish the batch in hand (Pipeline:StopTimeout).
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  [[ -n "$SLEEP_PID" ]] && kill "$SLEEP_PID" 2>/dev/null
  cleanup
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "CREATE DATABASE docpipe" >/dev/null
COMMON=(
  Pipeline__Transport=RabbitMq
  "ConnectionStrings__RabbitMq=amqp://guest:guest@127.0.0.1:$AMQP_PORT/"
  Storage__Provider=Postgres
  "ConnectionStrings__Postgres=Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=docpipe"
  "Storage__BlobRoot=$STATE/blobs"
  "Intake__SharedRoot=$STATE/shared"
  Intake__DropFolder=
  # The demo checkpoints read 224 px pages.
  Preparation__DefaultResolution=224
  DOTNET_ENVIRONMENT=Production
  # Ctrl-C waits at most this long for a batch in hand.
  Pipeline__StopTimeout=00:00:30
  Logging__LogLevel__Default=Warning
  Logging__LogLevel__PaliGemma2.DocPipeline=Information
)

TARGETS=()
# start NAME PORT DLL ENV...: one process, its log in $STATE/logs/NAME.log.
start() {
  local name=$1 port=$2 dll=$3
  shift 3
  # From its output folder: the Api's content root (wwwroot, the review page) is the working directory.
  (cd "$ROOT/$(dirname "$dll")" && exec env "${COMMON[@]}" "ASPNETCORE_URLS=http://127.0.0.1:$port" "$@" dotnet "$ROOT/$dll") \
    >"$STATE/logs/$name.log" 2>&1 &
  PIDS+=($!)
  NAMES+=("$name")
  TARGETS+=("\"127.0.0.1:$port\"")
  echo "   $name (pid $!, http://127.0.0.1:$port/health/ready)"
}

echo "== Roles"
start api "$API_PORT" "$API_DLL" Roles=api "Api__Keys__0=$API_KEY"
port=$ROLE_PORT_BASE
# Intake first: it applies the database migrations before the others need them.
start intake "$port" "$WORKER_DLL" Roles=intake "Intake__DropFolder=$STATE/inbox"; port=$((port + 1))
start prepare "$port" "$WORKER_DLL" Roles=prepare; port=$((port + 1))
for dir in models/demo/*/; do
  task=$(basename "$dir")
  [[ -f "$dir/checkpoint.json" ]] || continue
  start "infer-$task" "$port" "$INFERENCE_DLL" Roles=infer "Inference__Tasks__$task=$ROOT/$dir" "Inference__WorkerName=infer-$task" \
    Inference__IntraOpThreads=1; port=$((port + 1))
done
if [[ "${CLUSTER_WRITEBACK:-0}" == 1 ]]; then
  start writeback "$port" "$WORKER_DLL" Roles=writeback Pacs__WriteBack__Enabled=true Pacs__WriteBack__Mode=DicomWeb \
    "Pacs__WriteBack__StowUrl=http://127.0.0.1:$ORTHANC_HTTP_PORT/dicom-web/studies" \
    Pacs__WriteBack__Username=docpipe Pacs__WriteBack__Password=docpipe-test; port=$((port + 1))
fi

echo "== Prometheus on 127.0.0.1:$PROM_PORT"
cat >"$STATE/prometheus.yml" <<CONF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: docpipe
    static_configs: [ { targets: [ $(IFS=,; echo "${TARGETS[*]}") ] } ]
CONF
prometheus --config.file="$STATE/prometheus.yml" --storage.tsdb.path="$STATE/prometheus" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$STATE/logs/prometheus.log" 2>&1 &
PIDS+=($!)
NAMES+=(prometheus)

echo "== Waiting for every role to be ready (models loaded and warm)"
for i in "${!NAMES[@]}"; do
  [[ "${NAMES[$i]}" == prometheus ]] && continue
  url="http://${TARGETS[$i]//\"/}/health/ready"
  for _ in $(seq 1 240); do
    curl -sf -o /dev/null "$url" && break
    kill -0 "${PIDS[$i]}" 2>/dev/null || { echo "${NAMES[$i]} exited:"; tail -n 30 "$STATE/logs/${NAMES[$i]}.log"; exit 1; }
    sleep 0.5
  done
  curl -sf -o /dev/null "$url" || { echo "${NAMES[$i]} is not ready:"; tail -n 30 "$STATE/logs/${NAMES[$i]}.log"; exit 1; }
done

SAMPLE=$(find samples -maxdepth 1 -name '*.pdf' | sort | head -n 1)
cat <<EOF

Cluster running. Logs: $STATE/logs
  API:                  http://127.0.0.1:$API_PORT  (review page: /review/, key below)
  RabbitMQ management:  http://127.0.0.1:$RABBIT_MGMT_PORT  (guest / guest)
  Prometheus:           http://127.0.0.1:$PROM_PORT  (try: sum by (task) (docpipe_pages_processed_total))
  Drop folder:          $STATE/inbox/<task>/
Upload:
  curl -H "X-Api-Key: $API_KEY" -F "file=@$SAMPLE" "http://127.0.0.1:$API_PORT/v1/documents?task=table"
Ctrl-C stops everything.
EOF

# Until a signal, or until a process dies (then everything stops and the exit code says so).
while true; do
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
      echo "${NAMES[$i]} exited unexpectedly; its log:"
      tail -n 30 "$STATE/logs/${NAMES[$i]}.log"
      exit 1
    fi
  done
  sleep 1 &
  SLEEP_PID=$!
  wait "$SLEEP_PID" || true
done
