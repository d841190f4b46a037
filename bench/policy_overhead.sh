#!/usr/bin/env bash
# VATP's decode cost over its host policy H2O (issue target: ≤ 3 % of decode time).
#   bench/policy_overhead.sh [VATP_BIN] [DEPTH=8192] [BUDGET=0.25] [ROUNDS=4] [N_GEN=128]
# Alternates `vatp bench --kv-policy h2o` and `--kv-policy vatp` (tg at DEPTH, the
# policy evicting every decode step, sinks as in the presets) ROUNDS times, A B B A ...,
# so drift on a noisy machine hits both alike; prints every run and the ratio of the
# medians. Nothing else should run on the machine meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/vatp}"; depth="${2:-8192}"; budget="${3:-0.25}"; rounds="${4:-4}"; ngen="${5:-128}"
model="${VATP_MODEL:-$(bash scripts/fetch-model.sh)}"
threads=$(nproc)
echo "policy overhead: $(basename "$model"), tg$ngen @ d$depth, budget $budget, $threads threads, $rounds rounds," \
  "$(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), git $(git rev-parse --short HEAD)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
one() {  # policy → appends tok/s to $tmp/$policy
  "$bin" bench -m "$model" -p 0 -n "$ngen" --depth "$depth" -r 1 -t "$threads" --no-bw-test --json \
    --kv-policy "$1" --kv-budget "$budget" |
    python3 -c "import json,sys; print([x for x in json.load(sys.stdin) if x[\"n_gen\"] > 0][0][\"samples_ts\"][0])" \
    >> "$tmp/$1"
  echo "  $1: $(tail -1 "$tmp/$1") tok/s"
}
for ((i = 0; i < rounds; i++)); do
  if ((i % 2 == 0)); then one h2o; one vatp; else one vatp; one h2o; fi
done
python3 - "$tmp" <<'EOF'
import statistics, sys
d = sys.argv[1]
h = [float(x) for x in open(f"{d}/h2o")]
v = [float(x) for x in open(f"{d}/vatp")]
mh, mv = statistics.median(h), statistics.median(v)
print(f"median tok/s: h2o {mh:.3f}, vatp {mv:.3f}; vatp decode time / h2o = {mh / mv:.4f} "
      f"(overhead {100 * (mh / mv - 1):+.2f} %)")
EOF
