#!/usr/bin/env bash
# The proxy's cost, measured: pgbench -S through proxy -> emulator -> PostgreSQL against
# pgbench straight to the emulator with a token as the password, in one run; connection set-up
# (pgbench -C); and the proxy's resident memory with N idle proxied sessions.
#
#   cargo build --release -p rds-iam-cli && benches/proxy.sh [SECONDS] [IDLE_SESSIONS]
#
# Everything runs on loopback: a throw-away PostgreSQL (as the system user postgres), the
# emulator, the proxy. Credentials are made-up static keys (the emulator checks them; nothing
# leaves the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${1:-30}
IDLE=${2:-1000}
BIN=${RDS_IAM_BIN:-target/release/rds-iam}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
ENDPOINT=mydb.cluster-abc123.us-east-1.rds.amazonaws.com
export AWS_ACCESS_KEY_ID=AKIDBENCHPROXY AWS_SECRET_ACCESS_KEY=bench/proxy/secret AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN PGPASSWORD PGSSLMODE

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DIR=$(mktemp -d /tmp/rds-iam-proxy-bench.XXXXXX)
chmod 755 "$DIR"; chown postgres "$DIR"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "${PG_STARTED:-}" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

PG=$(free_port); EMU=$(free_port); PROXY=$(free_port)
runuser -u postgres -- "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync --no-instructions >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/pg.log" -w \
  -o "-p $PG -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DIR -c fsync=off -c max_connections=$((IDLE + 50))" start >/dev/null
PG_STARTED=1
psql -X -q -h 127.0.0.1 -p "$PG" -U postgres -c "CREATE ROLE bench_user LOGIN SUPERUSER" postgres
pgbench -q -i -s 10 -h 127.0.0.1 -p "$PG" -U bench_user postgres 2>/dev/null

"$BIN" emulator --engine postgres --listen "127.0.0.1:$EMU" --backend "127.0.0.1:$PG" \
  --endpoint "$ENDPOINT:5432" --region us-east-1 --write-ca "$DIR/ca.pem" \
  --max-connections $((IDLE + 50)) >"$DIR/emulator.out" 2>"$DIR/emulator.err" &
PIDS+=($!)
until grep -q listening "$DIR/emulator.out" 2>/dev/null; do sleep 0.1; done
URL="jdbc:aws-wrapper:postgresql://127.0.0.1:$EMU/postgres?wrapperPlugins=iam&user=bench_user&iamHost=$ENDPOINT&iamDefaultPort=5432&sslrootcert=$DIR/ca.pem"
"$BIN" proxy "$URL" --listen "127.0.0.1:$PROXY" >"$DIR/proxy.out" 2>"$DIR/proxy.err" &
PROXY_PID=$!
PIDS+=($PROXY_PID)
until grep -q listening "$DIR/proxy.out" 2>/dev/null; do sleep 0.1; done
TOKEN=$("$BIN" token "$URL")

DIRECT="host=$ENDPOINT hostaddr=127.0.0.1 port=$EMU sslmode=verify-full sslrootcert=$DIR/ca.pem user=bench_user dbname=postgres"
PROXIED="host=127.0.0.1 port=$PROXY sslmode=disable user=bench_user dbname=postgres"
tps() { grep -Eo 'tps = [0-9.]+' | head -1 | cut -d' ' -f3; }
conn_ms() { grep -Eo 'average connection time = [0-9.]+' | grep -Eo '[0-9.]+$'; }

echo "== pgbench -S -c 8 -j 2 -T $SECONDS_RUN (select-only, scale 10)"
direct=$(PGPASSWORD=$TOKEN pgbench -n -S -c 8 -j 2 -T "$SECONDS_RUN" "$DIRECT" 2>&1 | tps)
proxied=$(pgbench -n -S -c 8 -j 2 -T "$SECONDS_RUN" "$PROXIED" 2>&1 | tps)
echo "direct to the emulator (token as password, TLS): $direct tps"
echo "through the proxy:                               $proxied tps"
echo "ratio: $(python3 -c "print(round($proxied / $direct, 3))")"

echo "== pgbench -S -C -c 1 -T $((SECONDS_RUN / 3 + 1)) (a new connection per transaction)"
direct=$(PGPASSWORD=$TOKEN pgbench -n -S -C -c 1 -T $((SECONDS_RUN / 3 + 1)) "$DIRECT" 2>&1 | conn_ms)
proxied=$(pgbench -n -S -C -c 1 -T $((SECONDS_RUN / 3 + 1)) "$PROXIED" 2>&1 | conn_ms)
echo "average connection time, direct: $direct ms; through the proxy: $proxied ms; added: $(python3 -c "print(round($proxied - $direct, 3))") ms"

echo "== $IDLE idle proxied sessions"
rss() { grep VmRSS "/proc/$PROXY_PID/status" | awk '{print $2}'; }
before=$(rss)
python3 - "$PROXY" "$IDLE" "$PROXY_PID" <<'PY'
import socket, struct, sys
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def startup():
    body = struct.pack("!I", 196608) + b"user\0bench_user\0database\0postgres\0\0"
    return struct.pack("!I", len(body) + 4) + body
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(startup())
    buf = b""
    while not (len(buf) >= 6 and buf[-6:-5] == b"Z"):
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("the proxy closed a session: " + repr(buf[:200]))
        buf += chunk
    socks.append(s)
rss = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]
print(f"{n} sessions logged in and idle; proxy VmRSS {int(rss) / 1024:.1f} MiB")
PY
echo "(before: $((before / 1024)) MiB)"
grep -c "X-Amz-Signature" "$DIR/proxy.err" && echo "a signature in the proxy's log!" && exit 1
echo "no token in the proxy's log"
