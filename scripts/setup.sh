#!/usr/bin/env bash
# One-time set-up from nothing: npm packages, the kernels and bindings build, the models. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
npm run build --silent
bash scripts/fetch-models.sh ${LOWBIT_TP_MODELS:-smollm2 gemma3}
