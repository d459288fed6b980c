#!/usr/bin/env bash
# `npm test`: set up (idempotent), run every test with bun:test, and end with `N passed, N failed`.
# EDGEBUILD_FAST=1 skips tests tagged [slow] (registries, mounts, containers).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
filter=()
[ "${EDGEBUILD_FAST:-}" = 1 ] && filter=(--test-name-pattern '^(?!.*\[slow\])')
npx bun test "${filter[@]}" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
rm -f "$log"
# A run that crashed before bun printed its summary still counts as failed.
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "${passed} passed, ${failed} failed"
exit "$rc"
