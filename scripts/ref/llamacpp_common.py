"""Helpers shared by the llama.cpp reference scripts (run them with the venv python that
scripts/ref/setup-llamacpp.sh prints). Only the validation scripts use llama-cpp-python;
vatp's build and tests never do."""
import ctypes
import datetime
import hashlib
import os
import platform
import subprocess

import llama_cpp

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))


def default_model():
    return os.environ.get("VATP_MODEL") or os.path.join(
        os.path.expanduser("~"), ".cache", "vatp", "SmolLM2-135M-Instruct.Q4_1.gguf"
    )


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def llamacpp_version():
    return llama_cpp.__version__


# The llama.cpp commit each llama-cpp-python release vendors (read from the source
# distribution's vendor/llama.cpp when the release was pinned in setup-llamacpp.sh).
VENDORED_LLAMACPP = {"0.3.36": "0c1e57098bba43ac29e6e3b677cdceebdd22334f"}


def llamacpp_vendor_commit():
    return VENDORED_LLAMACPP.get(llama_cpp.__version__, "unknown")


def today():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_revision(repo=REPO):
    try:
        rev = subprocess.run(["git", "-C", repo, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def disable_extra_buffer_types():
    """Like llama.cpp's --no-repack: load weights without extra buffer types (no repacked
    Q4_0/Q4_K layouts, no AMX), i.e. the plain vec_dot/llamafile paths. llama-cpp-python
    has no argument for it, so the default model parameters it starts from are patched."""
    import llama_cpp.llama_cpp as raw

    orig = raw.llama_model_default_params

    def patched():
        p = orig()
        p.use_extra_bufts = False
        return p

    raw.llama_model_default_params = patched


def vocab_of(llm):
    return llm._model.vocab  # noqa: SLF001 (llama-cpp-python keeps the vocab pointer there)


def tokenize(llm, text, add_special, parse_special):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return llm.tokenize(data, add_bos=add_special, special=parse_special)


def detokenize(llm, ids, special):
    """llama_detokenize(remove_special=false, unparse_special=special): the whole-sequence
    detokenizer of llama.cpp (not llama-cpp-python's per-piece Llama.detokenize, which
    strips a leading space after BOS on its own)."""
    vocab = vocab_of(llm)
    arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
    cap = 64 + 64 * len(ids)
    while True:
        buf = ctypes.create_string_buffer(cap)
        n = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, cap, False, special)
        if n >= 0:
            return buf.raw[:n]
        cap = -n + 1
