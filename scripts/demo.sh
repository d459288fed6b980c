#!/usr/bin/env bash
# `npm run demo`: set everything up (idempotent), then build the reference example on an eStargz
# golang base that is lazily pulled from a loopback registry.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx bun scripts/demo.ts "$@"
