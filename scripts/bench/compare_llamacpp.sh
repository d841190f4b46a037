#!/usr/bin/env bash
# Runs llama.cpp's llama-bench and `vatp bench` on the same GGUF with the same thread
# count, alternating single repetitions (so that drift in machine load hits both
# engines alike), and prints a markdown table of mean ± sd tokens/s and the ratio
# vatp / llama.cpp for pp512, tg128 and, with a depth, tg128 at that depth — vatp both
# with the full cache and with a KV policy (default: vatp, budget 0.25) against
# llama.cpp's full cache.
#
#   scripts/bench/compare_llamacpp.sh -m MODEL.gguf [-t 2] [-r 3] [-d 8192] [-p 512] [-n 128]
#       [--policy vatp] [--budget 0.25] [--vatp build-bench/vatp] [--llama-bench PATH] [--keep DIR]
#
# llama-bench comes from scripts/bench/build-llamacpp.sh unless --llama-bench is given.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
MODEL="" THREADS=2 REPS=3 DEPTH=0 NP=512 NG=128 POLICY=vatp BUDGET=0.25
VATP="$REPO/build-bench/vatp" LB="" KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    -m) MODEL="$2"; shift 2 ;;
    -t) THREADS="$2"; shift 2 ;;
    -r) REPS="$2"; shift 2 ;;
    -d) DEPTH="$2"; shift 2 ;;
    -p) NP="$2"; shift 2 ;;
    -n) NG="$2"; shift 2 ;;
    --policy) POLICY="$2"; shift 2 ;;
    --budget) BUDGET="$2"; shift 2 ;;
    --vatp) VATP="$2"; shift 2 ;;
    --llama-bench) LB="$2"; shift 2 ;;
    --keep) KEEP="$2"; shift 2 ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "compare_llamacpp.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$MODEL" ] || { echo "compare_llamacpp.sh: -m MODEL.gguf is required" >&2; exit 2; }
[ -f "$MODEL" ] || { echo "compare_llamacpp.sh: model file not found: $MODEL" >&2; exit 2; }
[ -x "$VATP" ] || { echo "compare_llamacpp.sh: vatp binary not found: $VATP (build it or pass --vatp)" >&2; exit 2; }
[ -n "$LB" ] || LB="$("$HERE/build-llamacpp.sh")"
[ -x "$LB" ] || { echo "compare_llamacpp.sh: llama-bench not found: $LB" >&2; exit 2; }

OUT="${KEEP:-$(mktemp -d)}"
mkdir -p "$OUT"
echo "raw results in $OUT" >&2
lb() { "$LB" -m "$MODEL" -t "$THREADS" -r 1 -o json "$@" 2>>"$OUT/llama-bench.log"; }
vb() { "$VATP" bench -m "$MODEL" -t "$THREADS" -r 1 --json "$@" 2>>"$OUT/vatp.log"; }

# Bandwidth roofline: measured once by vatp (its streaming-read test).
"$VATP" bench -m "$MODEL" -t "$THREADS" -r 1 -p 0 -n 1 --json > "$OUT/bandwidth.json" 2>>"$OUT/vatp.log"

for rep in $(seq 1 "$REPS"); do
  echo "rep $rep/$REPS" >&2
  if [ "$NP" -gt 0 ]; then
    lb -p "$NP" -n 0 > "$OUT/lb-pp-$rep.json"
    vb --no-bw-test -p "$NP" -n 0 > "$OUT/vatp-pp-$rep.json"
  fi
  if [ "$NG" -gt 0 ]; then
    lb -p 0 -n "$NG" > "$OUT/lb-tg-$rep.json"
    vb --no-bw-test -p 0 -n "$NG" > "$OUT/vatp-tg-$rep.json"
    if [ "$DEPTH" -gt 0 ]; then
      lb -p 0 -n "$NG" -d "$DEPTH" > "$OUT/lb-tgd-$rep.json"
      vb --no-bw-test -p 0 -n "$NG" --depth "$DEPTH" > "$OUT/vatp-tgd-$rep.json"
      vb --no-bw-test -p 0 -n "$NG" --depth "$DEPTH" --kv-policy "$POLICY" --kv-budget "$BUDGET" \
        > "$OUT/vatp-tgdp-$rep.json"
    fi
  fi
done

python3 - "$OUT" "$NP" "$NG" "$DEPTH" "$POLICY" "$BUDGET" "$THREADS" <<'PY'
import glob, json, math, os, sys
out, np_, ng, depth, policy, budget, threads = sys.argv[1:]
def samples(prefix):
    v = []
    for f in sorted(glob.glob(os.path.join(out, prefix + "-*.json"))):
        with open(f) as fh:
            rows = json.load(fh)
        for r in rows:
            v += r["samples_ts"]
    return v
def ms(v):
    if not v: return (float("nan"), 0.0)
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, sd
bw = json.load(open(os.path.join(out, "bandwidth.json")))[0]["bandwidth_gbs"]
print(f"threads {threads}; memory bandwidth (vatp streaming-read test) {bw:.1f} GB/s\n")
print("| test | llama.cpp t/s | vatp t/s | vatp / llama.cpp | vatp decode GB/s (% of bandwidth) |")
print("|---|---:|---:|---:|---:|")
rows = []
if int(np_) > 0: rows.append((f"pp{np_}", "lb-pp", "vatp-pp"))
if int(ng) > 0:
    rows.append((f"tg{ng}", "lb-tg", "vatp-tg"))
    if int(depth) > 0:
        rows.append((f"tg{ng} @ d{depth} (both full cache)", "lb-tgd", "vatp-tgd"))
        rows.append((f"tg{ng} @ d{depth} (vatp --kv-policy {policy} --kv-budget {budget} vs llama.cpp full)",
                     "lb-tgd", "vatp-tgdp"))
for name, a, b in rows:
    la, va = ms(samples(a)), ms(samples(b))
    gb = ""
    if "tg" in b:
        g = []
        for f in sorted(glob.glob(os.path.join(out, b + "-*.json"))):
            for r in json.load(open(f)):
                g += r["samples_gbs"]
        gm = sum(g) / len(g)
        gb = f"{gm:.2f} ({100 * gm / bw:.0f}%)" if bw > 0 else f"{gm:.2f}"
    print(f"| {name} | {la[0]:.2f} ± {la[1]:.2f} | {va[0]:.2f} ± {va[1]:.2f} | {va[0] / la[0]:.2f} | {gb} |")
PY
