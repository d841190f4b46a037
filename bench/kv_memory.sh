#!/usr/bin/env bash
# KV memory and decode speed with and without a KV budget on a long input.
#   bench/kv_memory.sh [VATP_BIN] [N_TOKENS≈8000] [BUDGET=512] [CHUNK=256]
# Runs `vatp run` on the first ~N tokens of tests/data/jargon-4.4.7-prose.txt with the
# full cache and with h2o/vatp under the chunked schedule; prints the stats lines and
# peak RSS (GNU time). Same machine, same run: the ratios are what to read.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/vatp}"; n="${2:-8000}"; budget="${3:-512}"; chunk="${4:-256}"
model="${VATP_MODEL:-$(bash scripts/fetch-model.sh)}"
txt=$(mktemp); trap 'rm -f "$txt"' EXIT
# ~3.7 characters per token for this text; trim to n tokens with the tokenizer.
head -c $((n * 4)) tests/data/jargon-4.4.7-prose.txt > "$txt"
ids=$("$bin" tokenize -m "$model" --ids < "$txt" | tr -cd ',' | wc -c)
echo "input: $((ids + 1)) tokens; budget $budget, chunk $chunk; $(nproc) threads; $(date -u +%F)"
run() {
  local label="$1"; shift
  echo "== $label"
  /usr/bin/time -f "peak RSS %M KiB, wall %e s" "$bin" run -m "$model" -f "$txt" -n 64 --temp 0 -c 8192 -b 256 "$@" \
    > /dev/null 2> >(grep -E 'prompt|kv policy|peak RSS' >&2)
}
run "full cache" 2>&1
run "h2o, chunked, budget $budget" --kv-policy h2o --kv-budget "$budget" --kv-schedule chunked --kv-chunk "$chunk" 2>&1
run "vatp, chunked, budget $budget" --kv-policy vatp --kv-budget "$budget" --kv-schedule chunked --kv-chunk "$chunk" 2>&1
