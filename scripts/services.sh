#!/usr/bin/env bash
# Sourced by test.sh and the benchmarks: starts RabbitMQ (+ management), PostgreSQL 15 + RDKit and Orthanc
# (+ DICOMweb) on loopback in a temporary directory, exports DOCPIPE_TEST_* for the code that uses them,
# and installs an EXIT trap that stops them and removes the directory, whatever happens.
# Ports can be moved with PG_PORT, AMQP_PORT, RABBIT_MGMT_PORT, ORTHANC_HTTP_PORT, ORTHANC_DICOM_PORT.
#
# Sourced, it also defines restart_postgres and restart_rabbitmq for these services. Run (not sourced) with
# arguments, it controls one private instance in a folder of its own, which is how the chaos test stops and
# restarts a database and a broker without touching the ones other tests share:
#   services.sh postgres start|stop|restart|kill DIR PORT
#   services.sh rabbitmq start|stop|restart DIR AMQP_PORT MGMT_PORT
# (kill is an immediate shutdown: no checkpoint, crash recovery at the next start.)
PGBIN=/usr/lib/postgresql/15/bin
as_postgres() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# postgres_start DIR PORT: creates the cluster under DIR on first use, then starts it and waits until it accepts connections.
postgres_start() {
  local dir=$1 port=$2
  if [[ ! -d "$dir/data" ]]; then
    mkdir -p "$dir" && chown postgres "$dir" 2>/dev/null || true
    as_postgres "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" >/dev/null
}

# postgres_stop DIR [fast|immediate]
postgres_stop() { as_postgres "$PGBIN/pg_ctl" -D "$1/data" -m "${2:-fast}" -w stop >/dev/null; }

# rabbit_env DIR AMQP_PORT cmd...: runs cmd with the environment of the RabbitMQ node kept under DIR.
rabbit_env() {
  local dir=$1 port=$2
  shift 2
  env HOME="$dir" RABBITMQ_NODENAME="docpipe-test-$port@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT=$((port + 10)) \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    RABBITMQ_PID_FILE="$dir/rabbit.pid" "$@"
}

# rabbit_start DIR AMQP_PORT MGMT_PORT: starts the node (its data survives restarts) and waits until it serves.
rabbit_start() {
  local dir=$1 port=$2 mgmt=$3
  mkdir -p "$dir"
  cat > "$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$port
management.tcp.ip = 127.0.0.1
management.tcp.port = $mgmt
CONF
  echo "[rabbitmq_management]." > "$dir/enabled_plugins"
  rm -f "$dir/rabbit.pid"
  # setsid: the node outlives the shell that started it (a test's control call returns at once).
  rabbit_env "$dir" "$port" setsid /usr/lib/rabbitmq/bin/rabbitmq-server >> "$dir/server.log" 2>&1 < /dev/null &
  # Polled with curl rather than `rabbitmqctl wait`: each rabbitmqctl boots an Erlang VM, minutes on a loaded machine.
  for _ in $(seq 1 600); do
    curl -sf -u guest:guest "http://127.0.0.1:$mgmt/api/overview" >/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.5
  done
  echo "RabbitMQ did not start; see $dir/server.log" >&2
  return 1
}

# rabbit_stop DIR AMQP_PORT: SIGTERM to the node (a graceful stop, like `rabbitmqctl stop` without its VM), waits for it to end.
rabbit_stop() {
  local pid
  pid=$(cat "$1/rabbit.pid" 2>/dev/null) || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null
}

if [[ "${BASH_SOURCE[0]}" == "$0" && $# -gt 0 ]]; then
  set -euo pipefail
  service=$1 action=$2 dir=$3 port=$4
  case "$service:$action" in
    postgres:start) postgres_start "$dir" "$port" ;;
    postgres:stop) postgres_stop "$dir" fast ;;
    postgres:kill) postgres_stop "$dir" immediate ;;
    postgres:restart) postgres_stop "$dir" fast && postgres_start "$dir" "$port" ;;
    rabbitmq:start) rabbit_start "$dir" "$port" "$5" ;;
    rabbitmq:stop) rabbit_stop "$dir" "$port" ;;
    rabbitmq:restart) rabbit_stop "$dir" "$port" && rabbit_start "$dir" "$port" "$5" ;;
    *) echo "usage: services.sh postgres start|stop|restart|kill DIR PORT | rabbitmq start|stop|restart DIR AMQP_PORT MGMT_PORT" >&2; exit 2 ;;
  esac
  exit 0
fi

WORK=$(mktemp -d /tmp/docpipe-test.XXXXXX)
chmod 755 "$WORK"
PG_PORT=${PG_PORT:-55432}
AMQP_PORT=${AMQP_PORT:-55672}
RABBIT_MGMT_PORT=${RABBIT_MGMT_PORT:-55673}
ORTHANC_HTTP_PORT=${ORTHANC_HTTP_PORT:-58042}
ORTHANC_DICOM_PORT=${ORTHANC_DICOM_PORT:-54242}
export HOME_RABBIT="$WORK/rabbit"

restart_postgres() { postgres_stop "$WORK/pg" fast && postgres_start "$WORK/pg" "$PG_PORT"; }
restart_rabbitmq() { rabbit_stop "$HOME_RABBIT" "$AMQP_PORT" && rabbit_start "$HOME_RABBIT" "$AMQP_PORT" "$RABBIT_MGMT_PORT"; }

ORTHANC_PID=""
cleanup() {
  set +e
  [[ -n "$ORTHANC_PID" ]] && kill "$ORTHANC_PID" 2>/dev/null && wait "$ORTHANC_PID" 2>/dev/null
  rabbit_stop "$HOME_RABBIT" "$AMQP_PORT"
  [[ -d "$WORK/pg/data" ]] && postgres_stop "$WORK/pg" immediate 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "== PostgreSQL 15 + RDKit on 127.0.0.1:$PG_PORT"
postgres_start "$WORK/pg" "$PG_PORT"

echo "== RabbitMQ on 127.0.0.1:$AMQP_PORT (management $RABBIT_MGMT_PORT)"
rabbit_start "$HOME_RABBIT" "$AMQP_PORT" "$RABBIT_MGMT_PORT"

echo "== Orthanc on 127.0.0.1:$ORTHANC_HTTP_PORT (DICOM $ORTHANC_DICOM_PORT)"
mkdir -p "$WORK/orthanc/db"
cat > "$WORK/orthanc/orthanc.json" <<CONF
{
  "Name": "DOCPIPE-TEST", "StorageDirectory": "$WORK/orthanc/db", "IndexDirectory": "$WORK/orthanc/db",
  "HttpPort": $ORTHANC_HTTP_PORT, "DicomPort": $ORTHANC_DICOM_PORT, "DicomAet": "ORTHANC",
  "RemoteAccessAllowed": false, "AuthenticationEnabled": true, "RegisteredUsers": { "docpipe": "docpipe-test" },
  "Plugins": [ "/usr/share/orthanc/plugins" ], "DicomWeb": { "Enable": true, "Root": "/dicom-web/" },
  "StableAge": 2, "DicomModalities": {}
}
CONF
Orthanc "$WORK/orthanc/orthanc.json" > "$WORK/orthanc.log" 2>&1 &
ORTHANC_PID=$!
for _ in $(seq 1 60); do
  curl -sf -u docpipe:docpipe-test "http://127.0.0.1:$ORTHANC_HTTP_PORT/system" >/dev/null && break
  sleep 0.5
done
curl -sf -u docpipe:docpipe-test "http://127.0.0.1:$ORTHANC_HTTP_PORT/system" >/dev/null || { echo "Orthanc did not start"; cat "$WORK/orthanc.log"; exit 1; }

export DOCPIPE_TEST_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres;Pooling=true;Maximum Pool Size=50"
export DOCPIPE_TEST_RABBITMQ="amqp://guest:guest@127.0.0.1:$AMQP_PORT/"
export DOCPIPE_TEST_RABBITMQ_MANAGEMENT="http://guest:guest@127.0.0.1:$RABBIT_MGMT_PORT/"
export DOCPIPE_TEST_ORTHANC="http://docpipe:docpipe-test@127.0.0.1:$ORTHANC_HTTP_PORT/"
export DOCPIPE_TEST_ORTHANC_DICOM_PORT="$ORTHANC_DICOM_PORT"
