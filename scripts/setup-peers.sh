#!/usr/bin/env bash
# Installs the peers of bench/peers.bench.ts into bench/peers/node_modules: node-llama-cpp (native llama.cpp, with
# only the prebuilt CPU binary of this platform, never a build or a download at run time) and @wllama/wllama
# (llama.cpp in WebAssembly, run in headless Chromium). Not part of the main set-up: only this bench needs them.
set -euo pipefail
cd "$(dirname "$0")/../bench/peers"
export NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
npm install --omit=optional --no-package-lock --no-audit --no-fund  # no lock: npm cannot lock the unpublished optional builds
platform=$(node -p 'process.platform + "-" + process.arch')
npm install --no-save --no-package-lock --omit=optional --no-audit --no-fund "@node-llama-cpp/$platform@$(node -p 'require("./node_modules/node-llama-cpp/package.json").version')"
