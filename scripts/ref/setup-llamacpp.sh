#!/usr/bin/env bash
# Builds llama.cpp (CPU only) from the source distribution of the PyPI package
# llama-cpp-python into a virtual environment outside the repository. Used only by the
# validation scripts in scripts/ref/; vatp's build and tests do not need it.
# Prints the venv's python path.
set -euo pipefail
VERSION=0.3.36
CACHE="${VATP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vatp}"
VENV="$CACHE/llamacpp-venv-$VERSION"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "$VENV/bin/python"; exit 0
fi
mkdir -p "$CACHE"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >&2
CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_OPENMP=ON -DLLAMA_CURL=OFF" \
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
  "$VENV/bin/python" -m pip install -q --no-binary llama-cpp-python "llama-cpp-python==$VERSION" numpy >&2
echo "$VENV/bin/python"
