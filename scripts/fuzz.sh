#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS
# (default 60): gguf_fuzz (the GGUF reader, seeded with real and hand-made GGUF files)
# and vocab_fuzz (tokenizer vocabulary loading + tokenize/detokenize). FUZZ_TARGETS
# overrides the list.
# Exits non-zero if the fuzzer finds a crash, leak, hang or sanitizer error.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
bdir=build-fuzz
CC=clang CXX=clang++ cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVATP_FUZZ=ON \
  -DVATP_BUILD_TESTS=OFF -DVATP_BUILD_BENCH=OFF >/dev/null
targets="${FUZZ_TARGETS:-gguf_fuzz vocab_fuzz}"
# shellcheck disable=SC2086
cmake --build "$bdir" --target $targets
corpus="$bdir/corpus"
mkdir -p "$corpus"
# Seeds: the shared vocab-only files (small) and synthetic files written below.
shared="${VATP_SHARED_DIR:-../shared}"
for f in "$shared"/fixtures/tokenizer/*.gguf; do [ -f "$f" ] && cp -f "$f" "$corpus/" || true; done
python3 - "$corpus" <<'PY'
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
for t in $targets; do
  c="$corpus"
  [ "$t" = gguf_fuzz ] || { c="$bdir/corpus_$t"; mkdir -p "$c"; }
  echo "== $t"
  "$bdir/$t" "$c" -artifact_prefix="$bdir/$t-" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 2>&1 | tail -20
  [ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
done
