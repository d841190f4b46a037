#!/usr/bin/env bash
# Builds llama.cpp (CPU only) from the source distribution of the PyPI package
# llama-cpp-python into a virtual environment outside the repository. Used only by the
# validation scripts in scripts/ref/; vatp's build and tests do not need it.
# Prints the venv's python path.
set -euo pipefail
VERSION=0.3.36
# Bump RECIPE when the build flags below change, so that an old venv is not reused.
RECIPE=2
CACHE="${VATP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vatp}"
VENV="$CACHE/llamacpp-venv-$VERSION-r$RECIPE"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "$VENV/bin/python"; exit 0
fi
mkdir -p "$CACHE"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >&2
# -march=native, but without AMX: on CPUs that report AMX but whose kernel/VM does not grant
# the tile state (as on the project's machines) ggml's AMX matmul segfaults, and AMX is a
# separate kernel path anyway. Explicit -mno-amx-* win over -march=native in gcc.
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_OPENMP=ON -DLLAMA_CURL=OFF \
-DCMAKE_C_FLAGS='$NO_AMX' -DCMAKE_CXX_FLAGS='$NO_AMX'" \
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
  "$VENV/bin/python" -m pip install -q --no-cache-dir --no-binary llama-cpp-python \
  "llama-cpp-python==$VERSION" numpy >&2
if "$VENV/bin/python" -c "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())" | grep -q "AMX_INT8 = 1"; then
  echo "setup-llamacpp.sh: the build still has AMX enabled; remove $VENV and check the flags" >&2
  exit 1
fi
echo "$VENV/bin/python"
