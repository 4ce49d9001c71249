#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this file).
#
# On a fresh Debian machine it first installs what the live tests need: the
# PostgreSQL and MariaDB server binaries (the tests start their own throw-away
# instances on free loopback ports; they never touch a running service), their
# command-line clients, and OpenSSL headers for native-tls.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need+=(postgresql)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
{ command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; } || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
dpkg -s libssl-dev >/dev/null 2>&1 || need+=(libssl-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

export AWS_EC2_METADATA_DISABLED=true
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Each stage prints its name, then how long it took; the last line sums them up.
timings=()
stage() {
  local name=$1; shift
  echo "== $name"
  local start=$SECONDS
  "$@"
  timings+=("$(printf '%5ss  %s' $((SECONDS - start)) "$name")")
}
trap 'if [ ${#timings[@]} -gt 0 ]; then echo "== stage times"; printf "%s\n" "${timings[@]}"; fi' EXIT

stage "cargo fmt --check" cargo fmt --all -- --check
# `--all-features` cannot build: `mysql` and `mysql-rustls` exclude each other (as mysql_async's
# two TLS features do). Clippy and the suite run once per TLS stack: the whole workspace with
# the defaults (native-tls), then the library alone with rustls (a member depending on rds-iam
# with its default features would turn `mysql` on beside `mysql-rustls`).
# The pools (`deadpool`, `bb8`, `sqlx`) and `proxy` are off by default: both sets turn them on
# (with `--workspace`, named by package: rds-iam's features, not the other members').
NATIVE=(--locked --workspace --features rds-iam/deadpool,rds-iam/bb8,rds-iam/sqlx,rds-iam/proxy)
RUSTLS=(--locked -p rds-iam --no-default-features
  --features aws-config,postgres-rustls,mysql-rustls,deadpool,bb8,sqlx,proxy)
stage "cargo clippy, native-tls" cargo clippy "${NATIVE[@]}" --all-targets -- -D warnings
stage "cargo clippy, rustls" cargo clippy "${RUSTLS[@]}" --all-targets -- -D warnings
stage "every feature combination (scripts/check-features.sh)" ./scripts/check-features.sh
docs() {
  local flags=(--locked --no-deps --quiet)
  RUSTDOCFLAGS="-D warnings" cargo doc "${flags[@]}" "${NATIVE[@]:1}"
  RUSTDOCFLAGS="-D warnings" cargo doc "${flags[@]}" "${RUSTLS[@]:1}"
  RUSTDOCFLAGS="-D warnings" cargo doc "${flags[@]}" -p rds-iam --no-default-features
}
stage "cargo doc, warnings denied (native-tls workspace, rustls, lean)" docs
stage "cargo test, native-tls (unit, integration, live databases, doc tests)" \
  cargo test "${NATIVE[@]}"
stage "cargo test, rustls (unit, integration, live databases, doc tests)" \
  cargo test "${RUSTLS[@]}"
# An application using mysql_async with rustls (its own workspace, sharing the target dir).
stage "tests/rustls-app builds against the rustls features" \
  env CARGO_TARGET_DIR="$PWD/target" cargo build --locked --manifest-path tests/rustls-app/Cargo.toml
# The README's diesel-async recipe (its own workspace, so diesel stays out of rds-iam's graph),
# tested live: emulator + throw-away PostgreSQL, 16-minute clock jump, wrong secret key.
stage "examples/diesel-async tests (the README's diesel-async recipe, live)" \
  env CARGO_TARGET_DIR="$PWD/target" cargo test --locked --manifest-path examples/diesel-async/Cargo.toml
stage "cargo test --no-default-features (the lean core: given credentials, no aws-config)" \
  cargo test --locked -p rds-iam --no-default-features
stage "fuzz targets (scripts/fuzz.sh)" ./scripts/fuzz.sh
