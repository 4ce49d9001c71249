#!/usr/bin/env bash
# Every combination of the crate's features builds warning-free on its own (clippy, all
# targets, -D warnings); scripts/test.sh checks --all-features itself. The connectors are
# checked with and without `aws-config`, and the lean core (no features) must not pull an
# HTTP client or a TLS stack (scripts/check-lean-tree.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/check-lean-tree.sh

for features in "" aws-config postgres mysql postgres,mysql aws-config,postgres aws-config,mysql; do
  echo "== cargo clippy --no-default-features --features '$features'"
  cargo clippy --quiet --all-targets --no-default-features --features "$features" -- -D warnings
done
