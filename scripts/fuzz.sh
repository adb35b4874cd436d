#!/usr/bin/env bash
# Runs every fuzz target for a bounded time each (drill 4 of docs/RELIABILITY.md).
# BOTHSIDES_FUZZTIME sets the time per target (default 10s); a failure
# leaves the crashing input under the package's testdata/fuzz/ and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${BOTHSIDES_FUZZTIME:-10s}
targets=(
  "./digest/ FuzzParseImport"
  "./subscribers/ FuzzParseCSV"
  "./subscribers/ FuzzNormalizeAddress"
  "./subscribers/ FuzzCleanName"
  "./subscribers/ FuzzVerify"
  "./subscribers/ FuzzVerify_Tamper"
  "./schedule/ FuzzParse"
)
for tg in "${targets[@]}"; do
  read -r pkg name <<<"$tg"
  echo "fuzz $name ($pkg) for $t"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" "$pkg" || { echo "fuzz $name failed" >&2; exit 1; }
done
