#!/usr/bin/env bash
# Sourced by test.sh and the benchmarks: starts RabbitMQ (+ management), PostgreSQL 15 + RDKit and Orthanc
# (+ DICOMweb) on loopback in a temporary directory, exports DOCPIPE_TEST_* for the code that uses them,
# and installs an EXIT trap that stops them and removes the directory, whatever happens.
# Ports can be moved with PG_PORT, AMQP_PORT, RABBIT_MGMT_PORT, ORTHANC_HTTP_PORT, ORTHANC_DICOM_PORT.
WORK=$(mktemp -d /tmp/docpipe-test.XXXXXX)
chmod 755 "$WORK"
PG_PORT=${PG_PORT:-55432}
AMQP_PORT=${AMQP_PORT:-55672}
RABBIT_MGMT_PORT=${RABBIT_MGMT_PORT:-55673}
ORTHANC_HTTP_PORT=${ORTHANC_HTTP_PORT:-58042}
ORTHANC_DICOM_PORT=${ORTHANC_DICOM_PORT:-54242}
PGBIN=/usr/lib/postgresql/15/bin
as_postgres() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

export HOME_RABBIT="$WORK/rabbit"
rabbit_env() {
  env HOME="$HOME_RABBIT" RABBITMQ_NODENAME="docpipe-test-$AMQP_PORT@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$AMQP_PORT" RABBITMQ_DIST_PORT=$((AMQP_PORT + 10)) \
    RABBITMQ_MNESIA_BASE="$HOME_RABBIT/mnesia" RABBITMQ_LOG_BASE="$HOME_RABBIT/log" \
    RABBITMQ_CONFIG_FILE="$HOME_RABBIT/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$HOME_RABBIT/enabled_plugins" \
    RABBITMQ_PID_FILE="$HOME_RABBIT/rabbit.pid" "$@"
}

ORTHANC_PID=""
cleanup() {
  set +e
  [[ -n "$ORTHANC_PID" ]] && kill "$ORTHANC_PID" 2>/dev/null && wait "$ORTHANC_PID" 2>/dev/null
  rabbit_env /usr/lib/rabbitmq/bin/rabbitmqctl -q stop >/dev/null 2>&1
  [[ -d "$WORK/pg/data" ]] && as_postgres "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "== PostgreSQL 15 + RDKit on 127.0.0.1:$PG_PORT"
mkdir -p "$WORK/pg" && chown postgres "$WORK/pg" 2>/dev/null || true
as_postgres "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
as_postgres "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w start \
  -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" >/dev/null

echo "== RabbitMQ on 127.0.0.1:$AMQP_PORT (management $RABBIT_MGMT_PORT)"
mkdir -p "$HOME_RABBIT"
cat > "$HOME_RABBIT/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $RABBIT_MGMT_PORT
CONF
echo "[rabbitmq_management]." > "$HOME_RABBIT/enabled_plugins"
rabbit_env /usr/lib/rabbitmq/bin/rabbitmq-server > "$WORK/rabbit.log" 2>&1 &
rabbit_env /usr/lib/rabbitmq/bin/rabbitmqctl -q --timeout 120 wait "$HOME_RABBIT/rabbit.pid" >/dev/null

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

