#!/usr/bin/env bash
# Builds llama.cpp's llama-bench, llama-batched-bench and llama-server (CPU only) from the source distribution of the PyPI package
# llama-cpp-python, which vendors llama.cpp under vendor/llama.cpp, into a directory outside
# the repository. Used by scripts/bench/compare_llamacpp.sh, compare_batched.sh and
# compare_server.py; vatp's build does not need it.
# Prints the path of the llama-bench binary (the other two are in the same folder).
set -euo pipefail
VERSION=0.3.36
# Bump RECIPE when the build flags below change, so that an old build is not reused.
RECIPE=3
CACHE="${VATP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vatp}"
ROOT="$CACHE/llamacpp-src-build"
STAMP="$ROOT/.built-$VERSION-r$RECIPE"
BIN="$ROOT/build/bin/llama-bench"
if [ -f "$STAMP" ] && [ -x "$BIN" ] && [ -x "$ROOT/build/bin/llama-batched-bench" ] \
  && [ -x "$ROOT/build/bin/llama-server" ]; then
  echo "$BIN"; exit 0
fi
mkdir -p "$ROOT/dl"
PY="${PYTHON:-python3}"
if ! ls "$ROOT"/dl/llama_cpp_python-"$VERSION".tar.gz >/dev/null 2>&1; then
  "$PY" -m pip download -q --no-binary :all: --no-deps -d "$ROOT/dl" \
    "llama-cpp-python==$VERSION" >&2
fi
rm -rf "$ROOT/src"
mkdir -p "$ROOT/src"
tar -xzf "$ROOT"/dl/llama_cpp_python-"$VERSION".tar.gz -C "$ROOT/src" --strip-components=1
SRC="$ROOT/src/vendor/llama.cpp"
[ -f "$SRC/CMakeLists.txt" ] || { echo "build-llamacpp.sh: no llama.cpp under $SRC" >&2; exit 1; }
# -march=native, but without AMX: on CPUs that report AMX but whose kernel/VM does not grant
# the tile state (as on the project's machines) ggml's AMX matmul segfaults. Explicit
# -mno-amx-* win over -march=native in gcc.
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S "$SRC" -B "$ROOT/build" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_OPENMP=ON -DLLAMA_CURL=OFF \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=ON \
  -DCMAKE_C_FLAGS="$NO_AMX" -DCMAKE_CXX_FLAGS="$NO_AMX" >&2
cmake --build "$ROOT/build" --target llama-bench llama-batched-bench llama-server -j "${BUILD_JOBS:-2}" >&2
[ -x "$BIN" ] || { echo "build-llamacpp.sh: $BIN was not built" >&2; exit 1; }
touch "$STAMP"
echo "$BIN"
