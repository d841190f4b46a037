#!/usr/bin/env bash
# Installs the build and test dependencies of vatp (Debian packages + PyPI).
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config git \
  libpcre2-dev libxxhash-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev \
  libgtest-dev libgmock-dev libbenchmark-dev \
  clang clang-format libclang-rt-14-dev python3-pip >/dev/null
# Headless Chromium drives vatp serve's chat page in tests/server/test_web.py.
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
# numpy: scripts; the rest: the vatp serve tests (tests/server; websocket-client speaks
# the DevTools protocol to Chromium).
python3 -m pip install -q --disable-pip-version-check numpy pytest openai httpx prometheus-client websocket-client
