#!/usr/bin/env bash
# Produces docs/results.md: fidelity, RULER and passkey for the nine policies at three
# budgets on the default model. Resumable: rerunning continues where it stopped (the
# run logs live in $OUT, default ~/.cache/vatp/results).
#
#   bash scripts/results.sh                 # the documented protocol (RULER-4k, 20 samples/task)
#   RULER_SAMPLES=5 PASSKEY_SAMPLES=10 bash scripts/results.sh   # a shorter run
set -euo pipefail
cd "$(dirname "$0")/.."
VATP=${VATP:-build/vatp}
MODEL=${VATP_MODEL:-$HOME/.cache/vatp/SmolLM2-135M-Instruct.Q4_1.gguf}
OUT=${OUT:-$HOME/.cache/vatp/results}
THREADS=${THREADS:-2}
POLICIES=${POLICIES:-full,streaming,h2o,scissorhands,tova,snapkv,knorm,vatp,vatp-scissorhands}
BUDGETS=${BUDGETS:-0.5,0.25,0.1}
RULER_LENGTH=${RULER_LENGTH:-4096}
RULER_SAMPLES=${RULER_SAMPLES:-20}
PASSKEY_LENGTH=${PASSKEY_LENGTH:-2048}
PASSKEY_SAMPLES=${PASSKEY_SAMPLES:-20}
FID_CONTEXT=${FID_CONTEXT:-1024}
FID_TOKENS=${FID_TOKENS:-128}
FID_SEGMENTS=${FID_SEGMENTS:-2}
TEXT=tests/data/jargon-4.4.7-prose.txt

[ -x "$VATP" ] || { echo "results: $VATP not built (run scripts/test.sh or cmake --build build)" >&2; exit 1; }
[ -f "$MODEL" ] || bash scripts/fetch-model.sh
mkdir -p "$OUT"
common=(-m "$MODEL" -t "$THREADS" --policies "$POLICIES" --budgets "$BUDGETS")
start=$(date +%s)

t0=$(date +%s)
"$VATP" eval fidelity "${common[@]}" -f "$TEXT" --context "$FID_CONTEXT" --tokens "$FID_TOKENS" \
  --segments "$FID_SEGMENTS" -o "$OUT/fidelity" > /dev/null
echo "fidelity_seconds=$(( $(date +%s) - t0 ))" > "$OUT/times.env"
t0=$(date +%s)
"$VATP" eval ruler "${common[@]}" --tasks niah_single_1,niah_multikey_2,niah_multikey_3,vt,cwe,fwe \
  --length "$RULER_LENGTH" --samples "$RULER_SAMPLES" --seed 42 -o "$OUT/ruler" > /dev/null
echo "ruler_seconds=$(( $(date +%s) - t0 ))" >> "$OUT/times.env"
t0=$(date +%s)
"$VATP" eval passkey "${common[@]}" --length "$PASSKEY_LENGTH" --samples "$PASSKEY_SAMPLES" --seed 42 \
  -o "$OUT/passkey" > /dev/null
echo "passkey_seconds=$(( $(date +%s) - t0 ))" >> "$OUT/times.env"
echo "total_seconds=$(( $(date +%s) - start ))" >> "$OUT/times.env"

python3 scripts/results_md.py --out "$OUT" --doc docs/results.md --img docs/img/results \
  --command "RULER_SAMPLES=$RULER_SAMPLES PASSKEY_SAMPLES=$PASSKEY_SAMPLES RULER_LENGTH=$RULER_LENGTH PASSKEY_LENGTH=$PASSKEY_LENGTH FID_CONTEXT=$FID_CONTEXT FID_TOKENS=$FID_TOKENS FID_SEGMENTS=$FID_SEGMENTS bash scripts/results.sh" \
  --model "$MODEL" --threads "$THREADS"
echo "results: wrote docs/results.md"
