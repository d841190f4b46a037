#!/usr/bin/env python3
"""Tensor-by-tensor comparison of vatp and llama.cpp on one prompt: where do the two
engines' numerics first differ, and by how much?

llama.cpp (through llama-cpp-python's low-level API) runs the prompt's tokens as one
batch with an eval callback that copies every f32 tensor of the graph; vatp runs
`vatp run -n 1 --dump-tensors FILE`, which records the same named steps (attn_norm,
Qcur/Kcur after RoPE, Vcur, kqv_out, attn_out, ffn_inp, ffn_norm, ffn_gate, ffn_up,
ffn_swiglu, ffn_out, l_out per layer; inp_embd, result_norm, result_output). For each
tensor the row of the prompt's last token is compared: largest |reference|, largest
|difference|, that relative to the largest |reference|, and how many elements differ
at all (0 = bit-identical).

  PY=$(scripts/ref/setup-llamacpp.sh)
  $PY scripts/ref/tensor_diff.py --vatp build/vatp [-p "Hello"] [--flash-attn on|off] [--kv-type f16|f32]
"""
import argparse
import ctypes
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llamacpp_common as lc  # noqa: E402

import llama_cpp as L  # noqa: E402

STEPS = ["attn_norm", "Qcur", "Kcur", "Vcur", "kqv_out", "attn_out", "ffn_inp", "ffn_norm", "ffn_gate", "ffn_up",
         "ffn_swiglu", "ffn_out", "l_out"]


class GgmlTensor(ctypes.Structure):  # ggml.h `struct ggml_tensor` (GGML_MAX_DIMS 4, MAX_SRC 10, MAX_NAME 64)
    _fields_ = [("type", ctypes.c_int), ("buffer", ctypes.c_void_p), ("ne", ctypes.c_int64 * 4),
                ("nb", ctypes.c_size_t * 4), ("op", ctypes.c_int), ("op_params", ctypes.c_int32 * 16),
                ("flags", ctypes.c_int32), ("src", ctypes.c_void_p * 10), ("view_src", ctypes.c_void_p),
                ("view_offs", ctypes.c_size_t), ("data", ctypes.c_void_p), ("name", ctypes.c_char * 64),
                ("extra", ctypes.c_void_p), ("padding", ctypes.c_char * 8)]


def llamacpp_tensors(args, ids):
    """name -> last token's row, for every contiguous f32 tensor (the last one of a name wins:
    Qcur/Kcur after RoPE)."""
    n_tok = len(ids)
    got = {}

    def cb(t, ask, _ud):
        if ask:
            return True
        tt = ctypes.cast(t, ctypes.POINTER(GgmlTensor)).contents
        if tt.type != 0 or not tt.data:  # GGML_TYPE_F32 only
            return True
        ne, nb = list(tt.ne), list(tt.nb)
        contiguous = nb[0] == 4 and all(nb[i] == nb[i - 1] * ne[i - 1] for i in range(1, 4))
        total = ne[0] * ne[1] * ne[2] * ne[3]
        dims = [d for d in ne if d != 1] or [1]
        name = tt.name.decode(errors="replace")
        if not contiguous:
            return True
        if name.startswith("result_") or total == ne[0]:  # the last layer keeps only the output rows
            row = ne[0]
        elif n_tok == 1 or dims[-1] == n_tok:
            row = total // n_tok
        else:
            return True
        arr = np.ctypeslib.as_array(ctypes.cast(tt.data, ctypes.POINTER(ctypes.c_float)), shape=(total,))
        got[name] = arr[total - row:].copy()
        return True

    cb_c = L.ggml_backend_sched_eval_callback(cb)
    L.llama_backend_init()
    model = L.llama_model_load_from_file(args.model.encode(), L.llama_model_default_params())
    cp = L.llama_context_default_params()
    cp.n_ctx = max(64, n_tok + 8)
    cp.n_batch = cp.n_ubatch = max(64, n_tok)
    cp.n_threads = cp.n_threads_batch = args.threads
    cp.cb_eval = cb_c
    cp.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_ENABLED if args.flash_attn == "on" else L.LLAMA_FLASH_ATTN_TYPE_DISABLED
    cp.type_k = cp.type_v = L.GGML_TYPE_F16 if args.kv_type == "f16" else L.GGML_TYPE_F32
    ctx = L.llama_init_from_model(model, cp)
    batch = L.llama_batch_init(n_tok, 0, 1)
    batch.n_tokens = n_tok
    for i, t in enumerate(ids):
        batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = t, i, 1, int(i == n_tok - 1)
        batch.seq_id[i][0] = 0
    if L.llama_decode(ctx, batch) != 0:
        raise SystemExit("llama_decode failed")
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    got["result_output"] = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, n_tok - 1), shape=(n_vocab,)).copy()
    if "inp_embd" not in got and "embd" in got:
        got["inp_embd"] = got["embd"]
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    L.llama_model_free(model)
    return got


def vatp_tensors(path):
    """name -> row of the last forward call in a --dump-tensors file."""
    calls = {}
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off < len(data):
        call, ln = struct.unpack_from("<II", data, off)
        off += 8
        name = data[off:off + ln].decode()
        off += ln
        (n,) = struct.unpack_from("<Q", data, off)
        off += 8
        calls.setdefault(call, {})[name] = np.frombuffer(data, dtype=np.float32, count=n, offset=off)
        off += 4 * n
    return calls[max(calls)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=lc.default_model())
    ap.add_argument("--vatp", default=os.path.join(lc.REPO, "build", "vatp"))
    ap.add_argument("-p", "--prompt", default="Hello")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--flash-attn", choices=["on", "off"], default="on")
    ap.add_argument("--kv-type", choices=["f16", "f32"], default="f16")
    ap.add_argument("--all", action="store_true", help="print identical tensors too")
    args = ap.parse_args()

    tok = subprocess.run([args.vatp, "tokenize", "-m", args.model, "-p", args.prompt, "--ids"], capture_output=True,
                         text=True, check=True).stdout
    ids = [int(x) for x in tok.strip().strip("[]").split(",") if x.strip()]
    dump = os.path.join(tempfile.mkdtemp(prefix="vatp-tdiff-"), "tensors.bin")
    subprocess.run([args.vatp, "run", "-m", args.model, "-p", args.prompt, "-n", "1", "--temp", "0", "-t",
                    str(args.threads), "--kv-type", args.kv_type, "--no-stats", "--dump-tensors", dump],
                   check=True, capture_output=True)
    v = vatp_tensors(dump)
    r = llamacpp_tensors(args, ids)
    n_layers = 1 + max(int(k.rsplit("-", 1)[1]) for k in v if k.startswith("l_out-"))
    names = ["inp_embd"] + [f"{s}-{i}" for i in range(n_layers) for s in STEPS] + ["result_norm", "result_output"]
    print(f"prompt {args.prompt!r}: {len(ids)} tokens; llama.cpp flash attention {args.flash_attn}, KV {args.kv_type}; "
          f"last token's row compared\n")
    print("| tensor | max \\|ref\\| | max \\|Δ\\| | relative | elements differing |")
    print("|---|---:|---:|---:|---:|")
    first = None
    for n in names:
        if n not in v or n not in r or v[n].size != r[n].size:
            print(f"| {n} | (not comparable: {'missing' if n not in v or n not in r else 'shape'}) | | | |")
            continue
        d = np.abs(v[n].astype(np.float64) - r[n].astype(np.float64))
        ref = float(np.abs(r[n]).max()) or 1.0
        nz = int(np.count_nonzero(d))
        if nz and first is None:
            first = n
        if nz or args.all:
            print(f"| {n} | {ref:.4g} | {d.max():.3g} | {d.max() / ref:.3g} | {nz} / {d.size} |")
    print(f"\nfirst tensor that differs: {first or 'none (bit-identical)'}")


if __name__ == "__main__":
    main()
