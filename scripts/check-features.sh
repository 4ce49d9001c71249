#!/usr/bin/env bash
# Every combination of the crate's features builds warning-free on its own (clippy, all
# targets, -D warnings); scripts/test.sh checks --all-features itself.
set -euo pipefail
cd "$(dirname "$0")/.."

for features in "" postgres mysql postgres,mysql; do
  echo "== cargo clippy --no-default-features --features '$features'"
  cargo clippy --quiet --all-targets --no-default-features --features "$features" -- -D warnings
done
