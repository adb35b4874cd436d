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
  "./subscribers/ FuzzVerifyDelivery"
  "./subscribers/ FuzzVerifyDelivery_Tamper"
  "./schedule/ FuzzParse"
  "./bounce/ FuzzParseDSN"
  "./bounce/ FuzzParseARF"
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for tg in "${targets[@]}"; do
  read -r pkg name <<<"$tg"
  echo "fuzz $name ($pkg) for $t"
  touch "$work/start"
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" "$pkg" 2>&1 | tee "$work/log"; then
    continue
  fi
  # Go's fuzzing engine sometimes ends a run whose time is up with "context
  # deadline exceeded" although no input failed. A real finding always
  # writes the failing input under testdata/fuzz/NAME/: only that fails.
  found=$(find "$pkg/testdata/fuzz/$name" -type f -newer "$work/start" 2>/dev/null | head -1 || true)
  if [ -z "$found" ] && grep -q "context deadline exceeded" "$work/log"; then
    echo "fuzz $name: the engine stopped with 'context deadline exceeded' at the end of its time and wrote no failing input; not a finding"
    continue
  fi
  echo "fuzz $name failed${found:+: failing input $found}" >&2
  exit 1
done
