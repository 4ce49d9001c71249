#!/usr/bin/env bash
# The lean core (`--no-default-features`) builds no HTTP client and no TLS stack: none of these
# crates may be in its normal dependency graph (dev-dependencies, which tests unify in, do not
# count: they are not built for users).
set -euo pipefail
cd "$(dirname "$0")/.."

forbidden='aws-config|hyper|rustls|native-tls|openssl|aws-lc-rs|aws-lc-sys|ring'
tree=$(cargo tree --quiet -e normal --no-default-features -p rds-iam --prefix none)
found=$(printf '%s\n' "$tree" | awk '{print $1}' | grep -E -x "($forbidden)" | sort -u || true)
if [ -n "$found" ]; then
  echo "error: \`cargo tree -e normal --no-default-features -p rds-iam\` has crates the lean core must not build:" >&2
  printf '  %s\n' $found >&2
  echo "an HTTP client or a TLS stack came in through a normal dependency: make it optional, behind the \`aws-config\` feature or a connector feature (\`cargo tree -e normal,features --no-default-features -i CRATE\` shows who pulls it)" >&2
  exit 1
fi
count=$(printf '%s\n' "$tree" | awk '{print $1" "$2}' | sort -u | wc -l)
echo "lean core: $count crates in the normal graph, none of: ${forbidden//|/, }"
