#!/usr/bin/env bash
# Runs the vatp test suite: installs dependencies if missing, fetches the default model
# (cached outside the repo), builds in build/ and runs every test with ctest.
#   scripts/test.sh            release build + all tests
#   VATP_SANITIZE=1 scripts/test.sh   ASan+UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cmake >/dev/null || ! pkg-config --exists libpcre2-8 2>/dev/null || [ ! -f /usr/include/CLI/CLI.hpp ] \
   || [ ! -d /usr/include/gtest ] || [ ! -d /usr/include/nlohmann ] || [ ! -f /usr/include/httplib.h ] \
   || ! python3 -c 'import pytest, openai, httpx, prometheus_client, websocket' 2>/dev/null \
   || ! command -v chromium >/dev/null; then
  bash scripts/install-deps.sh
fi
VATP_MODEL="${VATP_MODEL:-$(bash scripts/fetch-model.sh)}"
export VATP_MODEL
jobs=$(nproc)
if [ "${VATP_SANITIZE:-0}" = 1 ]; then
  bdir=build-asan
  cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVATP_SANITIZE=ON -DVATP_BUILD_BENCH=OFF >/dev/null
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  bdir=build
  cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$bdir" -j "$jobs"
ctest --test-dir "$bdir" --output-on-failure -j "$jobs" ${VATP_CTEST_ARGS:-}
