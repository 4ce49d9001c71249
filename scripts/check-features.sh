#!/usr/bin/env bash
# The crate's features build warning-free alone and in the combinations users pick (clippy, all
# targets, -D warnings); scripts/test.sh checks the two full sets (native-tls and rustls) itself.
# `mysql` and `mysql-rustls` never together: they exclude each other. Features starting with `_`
# are internal (turned on by the others). The connectors are checked without `aws-config` here
# (the full sets have it), each pool alone with `postgres`, both with `mysql` alone, sqlx with
# each engine alone (postgres on native-tls, mysql on rustls), the proxy on each TLS stack, and
# the lean core (no features) must not pull an HTTP client or a TLS stack
# (scripts/check-lean-tree.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/check-lean-tree.sh

for features in "" aws-config postgres mysql postgres-rustls mysql-rustls postgres,mysql \
  postgres-rustls,mysql-rustls postgres,postgres-rustls postgres-rustls,mysql postgres,mysql-rustls \
  postgres,deadpool postgres,bb8 mysql,deadpool,bb8 postgres,sqlx mysql-rustls,sqlx \
  postgres,proxy postgres-rustls,proxy mysql,proxy mysql-rustls,proxy; do
  echo "== cargo clippy --no-default-features --features '$features'"
  cargo clippy --quiet --all-targets --no-default-features --features "$features" -- -D warnings
done
