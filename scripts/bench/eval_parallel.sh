#!/usr/bin/env bash
# vatp eval ruler with --parallel 1 and --parallel N on the same slice of the
# docs/results.md protocol, in one run: wall time of each, their ratio, and whether the
# runs.jsonl records (prediction, tokens, KV fraction, score) are identical.
#   scripts/bench/eval_parallel.sh [-m MODEL.gguf] [-n 8] [--samples 2] [--tasks niah_single_1,vt]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
model=${VATP_MODEL:-$HOME/.cache/vatp/SmolLM2-135M-Instruct.Q4_1.gguf}
vatp=${VATP_BIN:-$here/build/vatp}
n=8 samples=2 tasks=niah_single_1,vt length=4096 threads=2
while [[ $# -gt 0 ]]; do
  case $1 in
    -m) model=$2; shift 2 ;;
    -n) n=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --length) length=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    *) echo "eval_parallel.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -f $model ]] || { echo "eval_parallel.sh: no model at $model (scripts/fetch-model.sh)" >&2; exit 1; }
[[ -x $vatp ]] || { echo "eval_parallel.sh: no vatp binary at $vatp (build first)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
policies=full,streaming,h2o,scissorhands,tova,snapkv,knorm,vatp,vatp-scissorhands
declare -A secs
for p in 1 "$n"; do
  start=$(date +%s.%N)
  "$vatp" eval ruler -m "$model" -t "$threads" --samples "$samples" --seed 42 --tasks "$tasks" \
    --length "$length" --policies "$policies" --budgets 0.5,0.25,0.1 -o "$out/p$p" --parallel "$p" -q >/dev/null
  secs[$p]=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
done
python3 - "$out/p1/runs.jsonl" "$out/p$n/runs.jsonl" "${secs[1]}" "${secs[$n]}" "$n" <<'PY'
import json, sys
def load(p):
    out = {}
    for line in open(p):
        j = json.loads(line)
        out[(j["task"], j["id"], j["policy"], j["budget"])] = {k: j[k] for k in ("pred", "n_generated", "kv_fraction", "score")}
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
same = a == b
t1, tn, n = float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
print(f"runs: {len(a)}  --parallel 1: {t1:.1f} s  --parallel {n}: {tn:.1f} s  ratio {t1 / tn:.2f}x  "
      f"records identical: {same}")
sys.exit(0 if same else 1)
PY
