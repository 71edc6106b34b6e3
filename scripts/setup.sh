#!/usr/bin/env bash
# One-time set-up from nothing: npm packages, the kernels and bindings build, the models. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
npm run build --silent
bash scripts/fetch-models.sh ${LOWBIT_TP_MODELS:-smollm2 gemma3}
# From Debian: the calibration and evaluation text (English prose of the Python documentation) and Chromium
# for the browser test.
need=()
[ -d /usr/share/doc/python3.11/html/_sources ] || need+=(python3.11-doc)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
