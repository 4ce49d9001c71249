#!/usr/bin/env bash
# The fuzz targets in fuzz/: over their seeds on stable (always), then each one fuzzed for
# FUZZ_SECONDS (default 30) with cargo-fuzz when a nightly toolchain is installed. A crash fails
# the run; cargo-fuzz leaves the input under fuzz/artifacts/TARGET/ to reproduce it with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}

echo "-- the targets over their seeds (stable)"
# The root target directory: most of the fuzz crate's dependencies are built there already.
cargo test --locked --manifest-path fuzz/Cargo.toml --target-dir target

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "-- fuzzing skipped: no nightly toolchain (rustup toolchain install nightly runs it)"
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "-- installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
cargo run --quiet --locked --manifest-path fuzz/Cargo.toml --target-dir target --example seeds -- fuzz/corpus
for target in $(cargo fuzz list --fuzz-dir fuzz); do
  echo "-- cargo +nightly fuzz run $target (${seconds} s)"
  # Corpus entries found while fuzzing go to a scratch copy: the committed tree stays clean.
  corpus=$(mktemp -d)
  log=$(mktemp)
  cp -r "fuzz/corpus/$target/." "$corpus/"
  if ! cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$corpus" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    cat "$log"
    echo "-- $target FAILED: reproduce with the artifact named above (fuzz/artifacts/$target/)"
    exit 1
  fi
  grep -E '^Done|stat::number_of_executed_units' "$log" || tail -n 3 "$log"
  rm -rf "$corpus" "$log"
done
