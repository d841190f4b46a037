#!/usr/bin/env bash
# Aggregate decode throughput of N sequences decoding together: llama.cpp's
# llama-batched-bench (full caches, unified KV) against `vatp bench --parallel` with full
# caches and with a KV policy, on the same GGUF and thread count, at each depth (prompt
# tokens per sequence before decoding). Single repetitions alternate between the engines
# so that drift in machine load hits both alike; prints a markdown table of mean ± sd
# aggregate decode tokens/s and the ratios vatp / llama.cpp.
#
#   scripts/bench/compare_batched.sh -m MODEL.gguf [-t 2] [-r 3] [-N 1,4,8,16] [-d 0,3072] [-n 32]
#       [--policy vatp] [--budget 0.25] [--vatp build/vatp] [--batched-bench PATH]
#
# llama-batched-bench comes from scripts/bench/build-llamacpp.sh unless given.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
MODEL="" THREADS=2 REPS=3 NS=1,4,8,16 DEPTHS=0,3072 NG=32 POLICY=vatp BUDGET=0.25
VATP="$REPO/build/vatp" BB=""
while [ $# -gt 0 ]; do
  case "$1" in
    -m) MODEL="$2"; shift 2 ;;
    -t) THREADS="$2"; shift 2 ;;
    -r) REPS="$2"; shift 2 ;;
    -N) NS="$2"; shift 2 ;;
    -d) DEPTHS="$2"; shift 2 ;;
    -n) NG="$2"; shift 2 ;;
    --policy) POLICY="$2"; shift 2 ;;
    --budget) BUDGET="$2"; shift 2 ;;
    --vatp) VATP="$2"; shift 2 ;;
    --batched-bench) BB="$2"; shift 2 ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "compare_batched.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$MODEL" ] && [ -f "$MODEL" ] || { echo "compare_batched.sh: -m MODEL.gguf (an existing file) is required" >&2; exit 2; }
[ -x "$VATP" ] || { echo "compare_batched.sh: vatp binary not found: $VATP (build it or pass --vatp)" >&2; exit 2; }
if [ -z "$BB" ]; then BB="$(dirname "$("$HERE/build-llamacpp.sh")")/llama-batched-bench"; fi
[ -x "$BB" ] || { echo "compare_batched.sh: llama-batched-bench not found: $BB" >&2; exit 2; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for rep in $(seq 1 "$REPS"); do
  for d in ${DEPTHS//,/ }; do
    npp=$(( d > 0 ? d : 1 ))
    for n in ${NS//,/ }; do
      ctx=$(( n * (npp + NG) + 64 ))
      "$BB" -m "$MODEL" -t "$THREADS" -c "$ctx" -b 2048 -ub 512 -npp "$npp" -ntg "$NG" -npl "$n" \
        >"$tmp/bb.txt" 2>/dev/null || { echo "llama-batched-bench failed (N=$n d=$d)" >&2; exit 1; }
      # | PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s |
      awk -F'|' -v n="$n" -v d="$d" '$4+0==n && $2+0>0 {gsub(/ /,"",$9); print "llama", d, n, $9}' "$tmp/bb.txt" >>"$tmp/all.txt"
      for kv in full policy; do
        args=(--parallel "$n" -d "$d" -n "$NG" -r 1 -t "$THREADS" --json)
        [ "$kv" = policy ] && args+=(--kv-policy "$POLICY" --kv-budget "$BUDGET")
        [ "$kv" = policy ] && [ "$d" = 0 ] && continue
        "$VATP" bench -m "$MODEL" "${args[@]}" 2>/dev/null >"$tmp/v.json"
        python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))[0]; print(sys.argv[2], r["n_depth"], r["parallel"], r["avg_ts"])' \
          "$tmp/v.json" "vatp-$kv" >>"$tmp/all.txt"
      done
    done
  done
done
python3 - "$tmp/all.txt" "$POLICY $BUDGET" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    eng, d, n, ts = line.split()
    rows.setdefault((int(d), int(n)), {}).setdefault(eng, []).append(float(ts))
def ms(v):
    return (st.mean(v), st.stdev(v) if len(v) > 1 else 0.0) if v else None
print("| depth | N | llama.cpp t/s | vatp full t/s | ratio | vatp %s t/s | ratio |" % sys.argv[2])
print("|---:|---:|---:|---:|---:|---:|---:|")
for (d, n), e in sorted(rows.items()):
    l, f, p = ms(e.get("llama", [])), ms(e.get("vatp-full", [])), ms(e.get("vatp-policy", []))
    cell = lambda x: "%.2f ± %.2f" % x if x else "-"
    ratio = lambda x: "%.2fx" % (x[0] / l[0]) if x and l and l[0] > 0 else "-"
    print("| %d | %d | %s | %s | %s | %s | %s |" % (d, n, cell(l), cell(f), ratio(f), cell(p), ratio(p)))
PY
