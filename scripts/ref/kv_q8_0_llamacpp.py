#!/usr/bin/env python3
"""How much a q8_0 K/V cache moves llama.cpp's next-token logits on the prompt of
tests/runtime/kv_options_test.cc (KvOptions.Q8_0CacheTracksF32), against an f32 cache
without flash attention. Run with the llama-cpp-python venv of scripts/ref:

  ~/.cache/vatp/llamacpp-venv-0.3.36-r2/bin/python scripts/ref/kv_q8_0_llamacpp.py MODEL.gguf

vatp's own figure for the same prompt is printed by that test (docs/policies.md).
"""
import sys

import llama_cpp
import numpy as np

PROMPT = ("The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
          "combined movable metal type, oil-based ink and a screw press. Within decades, presses spread "
          "across Europe, and the price of books fell sharply. Literacy rose, and with it")
# name, K type, V type (ggml type ids: 0 f32, 1 f16, 8 q8_0), flash attention
CONFIGS = [("f32", 0, 0, False), ("f16", 1, 1, True), ("q8_0", 8, 8, True), ("k q8_0, v f16", 8, 1, True),
           ("k f16, v q8_0", 1, 8, True)]


def main():
    model = sys.argv[1]
    logits = {}
    for name, tk, tv, fa in CONFIGS:
        llm = llama_cpp.Llama(model_path=model, n_ctx=256, logits_all=True, verbose=False, n_threads=2,
                              flash_attn=fa, type_k=tk, type_v=tv)
        toks = llm.tokenize(PROMPT.encode(), add_bos=True)
        llm.eval(toks)
        logits[name] = np.array(llm.scores[len(toks) - 1]).copy()
        del llm
    ref = logits["f32"]
    print(f"llama-cpp-python {llama_cpp.__version__}, {len(toks)} prompt tokens; next-token logits vs the f32 cache")
    for name, *_ in CONFIGS[1:]:
        d = np.abs(logits[name] - ref)
        print(f"  {name:14s} mean |diff| {d.mean():.4f}  max {d.max():.4f}  same argmax {logits[name].argmax() == ref.argmax()}")


if __name__ == "__main__":
    main()
