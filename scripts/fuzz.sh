#!/usr/bin/env bash
# Builds the libFuzzer targets (src/**/*_fuzz.cc) with clang (ASan+UBSan) and runs each in
# turn for SECONDS (default 60), each from its own seed corpus:
#   gguf_fuzz            GGUF reader: the shared vocab-only files and synthetic files
#   vocab_fuzz           tokenizer vocabulary loading + tokenize/detokenize (no seeds: its
#                        input is a packed token/merge/text layout, see vocab_fuzz.cc)
#   longbench_data_fuzz  LongBench data files (eval longbench --data): tests/data/fuzz/longbench_data
#   predictions_fuzz     prediction files (eval score-longbench --pred): tests/data/fuzz/predictions
#   run_log_fuzz         sweep run logs (OUT/runs.jsonl on resume): tests/data/fuzz/run_log
#   request_fuzz         generation requests (a vatp batch line, a server body): tests/data/fuzz/request
#   openai_request_fuzz  the server's OpenAI bodies, both endpoints: tests/data/fuzz/openai_request
# The JSONL targets also get the first lines of tests/data/longbench/metric_golden.jsonl.
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]   (7 targets × SECONDS in all)
# Exits non-zero if a fuzzer finds a crash, leak, hang or sanitizer error; its input is
# left as build-fuzz/<target>-crash-* (or leak-/timeout-).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf_fuzz vocab_fuzz longbench_data_fuzz predictions_fuzz run_log_fuzz request_fuzz openai_request_fuzz)
bdir=build-fuzz
CC=clang CXX=clang++ cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVATP_FUZZ=ON \
  -DVATP_BUILD_TESTS=OFF -DVATP_BUILD_BENCH=OFF >/dev/null
cmake --build "$bdir" --target "${targets[@]}"

gguf_seeds() {
  # The shared vocab-only files (small) and synthetic files written below.
  local shared="${VATP_SHARED_DIR:-../shared}"
  for f in "$shared"/fixtures/tokenizer/*.gguf; do [ -f "$f" ] && cp -f "$f" "$1/" || true; done
  python3 - "$1" <<'PY'
import struct, sys, os
def s(b): return struct.pack('<Q', len(b)) + b
def kv_u32(k, v): return s(k) + struct.pack('<II', 4, v)
def kv_str(k, v): return s(k) + struct.pack('<I', 8) + s(v)
def kv_arr_str(k, vs): return s(k) + struct.pack('<IIQ', 9, 8, len(vs)) + b''.join(s(v) for v in vs)
kvs = [kv_str(b'general.architecture', b'llama'), kv_u32(b'llama.block_count', 1), kv_arr_str(b'tokenizer.ggml.tokens', [b'a', b'b'])]
t = s(b'w') + struct.pack('<I', 2) + struct.pack('<qq', 32, 2) + struct.pack('<I', 8) + struct.pack('<Q', 0)
head = b'GGUF' + struct.pack('<IQQ', 3, 1, len(kvs)) + b''.join(kvs) + t
head += b'\0' * ((32 - len(head) % 32) % 32)
open(os.path.join(sys.argv[1], 'seed_q8_0.gguf'), 'wb').write(head + b'\1' * 68)
open(os.path.join(sys.argv[1], 'seed_meta.gguf'), 'wb').write(b'GGUF' + struct.pack('<IQQ', 3, 0, len(kvs)) + b''.join(kvs))
PY
}

status=0
for t in "${targets[@]}"; do
  corpus="$bdir/corpus/$t"
  mkdir -p "$corpus"
  if [ "$t" = gguf_fuzz ]; then
    gguf_seeds "$corpus"
  elif [ "$t" != vocab_fuzz ]; then
    cp -f tests/data/fuzz/"${t%_fuzz}"/* "$corpus/"
    head -n 40 tests/data/longbench/metric_golden.jsonl >"$corpus/metric_golden_head.jsonl"
  fi
  echo "== $t: ${secs}s"
  # JSONL inputs beyond 64 KiB only repeat what shorter ones exercise and slow the metrics.
  max_len=65536
  [ "$t" = gguf_fuzz ] || [ "$t" = vocab_fuzz ] || max_len=16384
  if ! "$bdir/$t" "$corpus" -artifact_prefix="$bdir/$t-" -max_total_time="$secs" -max_len="$max_len" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$bdir/$t.log" 2>&1; then
    status=1
    echo "$t: FAILED (see $bdir/$t.log)"
  fi
  tail -n 12 "$bdir/$t.log"
done
exit "$status"
