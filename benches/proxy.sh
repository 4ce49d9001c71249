#!/usr/bin/env bash
# The proxy's cost, measured: pgbench -S through proxy -> emulator -> PostgreSQL against
# pgbench straight to the emulator with a token as the password, in one run; connection set-up
# (the median of CONNECTS logins each way); and the proxy's resident memory with IDLE_SESSIONS
# idle proxied sessions.
#
#   cargo build --release -p rds-iam-cli && benches/proxy.sh [SECONDS] [IDLE_SESSIONS] [CONNECTS]
#
# Everything runs on loopback: a throw-away PostgreSQL (as the system user postgres), the
# emulator, the proxy. Credentials are made-up static keys (the emulator checks them; nothing
# leaves the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${1:-30}
IDLE=${2:-1000}
CONNECTS=${3:-300}
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

# The runs alternate in ROUNDS rounds (the machine's speed drifts; a side measured in one
# stretch would carry the drift). For scale, when socat is installed, a plain TCP forwarder in
# front of the emulator (TLS end to end, socat only copies bytes): what one more hop costs on
# this machine whatever the hop does.
ROUNDS=3
EACH=$((SECONDS_RUN / ROUNDS > 0 ? SECONDS_RUN / ROUNDS : 1))
SIDES=(direct proxy)
if command -v socat >/dev/null; then
  FORWARD=$(free_port)
  socat "TCP-LISTEN:$FORWARD,bind=127.0.0.1,reuseaddr,fork,nodelay" "TCP:127.0.0.1:$EMU,nodelay" &
  PIDS+=($!)
  SIDES+=(socat)
fi
pgbench_s() { # side -> tps of one round
  local conninfo
  case $1 in
    direct) conninfo=$DIRECT ;;
    proxy) conninfo=$PROXIED ;;
    socat) conninfo="${DIRECT/port=$EMU/port=$FORWARD}" ;;
  esac
  PGPASSWORD=$([ "$1" = proxy ] || echo "$TOKEN") pgbench -n -S -c 8 -j 2 -T "$EACH" "$conninfo" 2>&1 | tps
}
echo "== pgbench -S -c 8 -j 2 (select-only, scale 10): $ROUNDS rounds of $EACH s per side, alternated"
declare -A TOTAL
for round in $(seq "$ROUNDS"); do
  line="round $round:"
  for side in "${SIDES[@]}"; do
    tps=$(pgbench_s "$side")
    TOTAL[$side]=$(python3 -c "print(${TOTAL[$side]:-0} + $tps)")
    line+=" $side $tps"
  done
  echo "$line"
done
ratio() { python3 -c "print(round(${TOTAL[$1]} / ${TOTAL[direct]}, 3))"; }
echo "direct to the emulator (token as password, TLS): $(python3 -c "print(round(${TOTAL[direct]} / $ROUNDS))") tps"
echo "through the proxy (plaintext, no password):      $(python3 -c "print(round(${TOTAL[proxy]} / $ROUNDS))") tps, ratio $(ratio proxy)"
if [ -n "${FORWARD:-}" ]; then
  echo "through socat (a plain forwarder, TLS end to end): $(python3 -c "print(round(${TOTAL[socat]} / $ROUNDS))") tps, ratio $(ratio socat)"
fi

echo "== connection set-up: $CONNECTS logins each way, alternated (a new connection, login, close)"
# pgbench -C reports only an average; this times each login and takes the medians. The direct
# side is TLS (verify-full, the context built once) with the token as the password; through
# the proxy, plaintext and no password. The token goes by the environment, not argv.
TOKEN=$TOKEN python3 - "$EMU" "$ENDPOINT" "$DIR/ca.pem" "$PROXY" "$CONNECTS" <<'PY'
import os, socket, ssl, statistics, struct, sys, time
emu, host, ca, proxy, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
token = os.environ["TOKEN"].encode()
tls = ssl.create_default_context(cafile=ca)

def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SystemExit("the server closed the connection during the login")
        data += chunk
    return data

def login(sock, password):
    body = struct.pack("!I", 196608) + b"user\0bench_user\0database\0postgres\0\0"
    sock.sendall(struct.pack("!I", len(body) + 4) + body)
    while True:
        kind, length = struct.unpack("!cI", read_exact(sock, 5))
        body = read_exact(sock, length - 4)
        if kind == b"R" and body[:4] == struct.pack("!I", 3) and password:
            sock.sendall(b"p" + struct.pack("!I", len(password) + 5) + password + b"\0")
        elif kind == b"E" or (kind == b"R" and body[:4] not in (struct.pack("!I", 0),)):
            raise SystemExit(f"login failed: {kind} {body[:200]!r}")
        elif kind == b"Z":
            sock.sendall(b"X\0\0\0\4")
            sock.close()
            return

def direct():
    sock = socket.create_connection(("127.0.0.1", emu))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(struct.pack("!II", 8, 80877103))
    if read_exact(sock, 1) != b"S":
        raise SystemExit("the emulator refused TLS")
    login(tls.wrap_socket(sock, server_hostname=host), token)

def proxied():
    sock = socket.create_connection(("127.0.0.1", proxy))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    login(sock, None)

times = {direct: [], proxied: []}
for _ in range(n):
    for way in (direct, proxied):
        start = time.perf_counter()
        way()
        times[way].append((time.perf_counter() - start) * 1000)
d, p = statistics.median(times[direct]), statistics.median(times[proxied])
print(f"median login, direct: {d:.2f} ms; through the proxy: {p:.2f} ms; added: {p - d:+.2f} ms")
PY

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

if grep -q "X-Amz-Signature" "$DIR/proxy.err"; then
  echo "a signature in the proxy's log!"
  exit 1
fi
echo "no token in the proxy's log"
