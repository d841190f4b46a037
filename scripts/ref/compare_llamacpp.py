#!/usr/bin/env python3
"""Compares vatp with llama.cpp (through llama-cpp-python) on one GGUF model.

  a. Perplexity with llama-perplexity's protocol (specs/gguf.md §6.1), re-implemented over
     llama.cpp's own forward pass: the text is tokenized once with add_special (BOS if the
     vocabulary asks for it), cut into chunks of n_ctx tokens, the KV cache is cleared per
     chunk, the first token of a chunk is overwritten with BOS when add_bos, and tokens
     t+1 are scored from the logits at t for t in [n_ctx/2, n_ctx-2] with a float max and a
     double sum of exp. vatp: `vatp ppl -m M -f TEXT -c N_CTX --json out.json`.
     Reported: |dPPL|/PPL (target < 1 %), top-1 agreement over the scored positions
     (target >= 98 %), and whether both sides scored the same targets.
  b. Greedy continuations of 10 fixed prompts (argmax each step, no penalties, stopping at
     an end-of-generation token) vs `vatp run -p PROMPT -n N --temp 0 --repeat-penalty 1
     --json out.json`. Reported: prompts whose N tokens are identical (target >= 8 of 10),
     the first divergence otherwise, and whether the prompt tokenizations agree.

For random-weight models (e.g. from `vatp synth`), whose text output is gibberish, give
--synthetic: the PPL text and the prompts are then strings of random vocabulary pieces
(fixed seed), so both sides see the same token streams without needing natural text.

llama.cpp settings: flash attention ON by default, which is what llama-perplexity and
llama-cli resolve their default (`-fa auto`) to on a CPU; --flash-attn off for the other
path. KV cache F16 (llama.cpp's default). The llama.cpp results are cached as JSON (keyed
by model, text, settings and versions); --llamacpp-only computes/refreshes just that half.

Run with the venv python printed by scripts/ref/setup-llamacpp.sh, e.g.
  PY=$(scripts/ref/setup-llamacpp.sh)
  $PY scripts/ref/compare_llamacpp.py --vatp build/vatp --threads 2 --out docs/llamacpp-agreement-run.md
"""
import argparse
import hashlib
import html
import json
import math
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llamacpp_common as lc  # noqa: E402

import llama_cpp  # noqa: E402

from ref_common import PROMPTS, run_cmd  # noqa: E402  (shared with noise_floor.py)
SYNTH_SEED = 1234
DEFAULT_TEXT = os.path.join(lc.REPO, "tests", "data", "jargon-4.4.7-prose.txt")
CACHE_FORMAT = 1


# ----------------------------------------------------------------------------- llama.cpp side


def synthetic_text(llm, seed, n_pieces):
    """A string of random vocabulary pieces (control/unused tokens excluded)."""
    vocab = lc.vocab_of(llm)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    normal = [i for i in range(n_vocab) if llama_cpp.llama_vocab_get_attr(vocab, i) & llama_cpp.LLAMA_TOKEN_ATTR_NORMAL]
    rng = random.Random(seed)
    out = bytearray()
    for _ in range(n_pieces):
        out += lc.detokenize(llm, [rng.choice(normal)], False)
    return out.decode("utf-8", errors="ignore")


def llamacpp_ppl(llm, tokens, n_ctx, max_chunks, want_logprobs):
    vocab = lc.vocab_of(llm)
    add_bos = llama_cpp.llama_vocab_get_add_bos(vocab)
    bos = llama_cpp.llama_vocab_bos(vocab)
    if len(tokens) < 2 * n_ctx:
        raise SystemExit(f"text has {len(tokens)} tokens; llama-perplexity needs at least 2*n_ctx = {2 * n_ctx}")
    n_chunk = len(tokens) // n_ctx
    if max_chunks > 0:
        n_chunk = min(n_chunk, max_chunks)
    first = n_ctx // 2
    nll = nll2 = 0.0
    count = 0
    top1, targets, nlls, chunk_ppl = [], [], [], []
    logprobs = []  # per scored position: the full log-softmax (float16), only when asked
    t0 = time.time()
    for c in range(n_chunk):
        start = c * n_ctx
        batch = list(tokens[start:start + n_ctx])
        if add_bos:
            batch[0] = bos
        llm.reset()
        llm.eval(batch)
        rows = np.asarray(llm.scores[first:n_ctx - 1], dtype=np.float32)  # [n_ctx-first-1, n_vocab]
        tgt = np.asarray(tokens[start + first + 1:start + n_ctx], dtype=np.int64)
        mx = rows.max(axis=1)
        sum_exp = np.exp(rows - mx[:, None]).sum(axis=1, dtype=np.float64)
        lp = rows[np.arange(len(tgt)), tgt].astype(np.float64) - mx.astype(np.float64) - np.log(sum_exp)
        for v in -lp:
            nll += v
            nll2 += v * v
        count += len(tgt)
        nlls.extend((-lp).tolist())
        top1.extend(rows.argmax(axis=1).tolist())
        targets.extend(tgt.tolist())
        chunk_ppl.append(math.exp(nll / count))
        if want_logprobs:
            logprobs.append((rows - mx[:, None] - np.log(sum_exp)[:, None].astype(np.float32)).astype(np.float16))
        print(f"  llama.cpp ppl chunk {c + 1}/{n_chunk}: running ppl {chunk_ppl[-1]:.4f}", file=sys.stderr)
    mean = nll / count
    mean2 = nll2 / count
    ppl = math.exp(mean)
    var = mean2 - mean * mean
    stderr = math.sqrt(var / (count - 1)) * ppl if var > 0 and count > 1 else 0.0
    res = {"ppl": ppl, "ppl_stderr": stderr, "n_scored": count, "n_chunks": n_chunk, "n_tokens": len(tokens),
           "top1": top1, "targets": targets, "nll": nlls, "chunk_ppl": chunk_ppl, "seconds": time.time() - t0,
           "add_bos": bool(add_bos)}
    return res, (np.concatenate(logprobs) if want_logprobs else None)


def llamacpp_greedy(llm, prompt, n_gen):
    vocab = lc.vocab_of(llm)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    ids = lc.tokenize(llm, prompt, True, False)
    llm.reset()
    llm.eval(ids)
    out = []
    for _ in range(n_gen):
        ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)  # noqa: SLF001
        logits = np.ctypeslib.as_array(ptr, shape=(n_vocab,))
        nxt = int(np.argmax(logits))
        out.append(nxt)
        if llama_cpp.llama_vocab_is_eog(vocab, nxt):
            break
        llm.eval([nxt])
    return ids, out


def run_llamacpp(args, text, prompts, cache_path):
    flash = args.flash_attn == "on"
    kv = llama_cpp.GGML_TYPE_F16 if args.kv_type == "f16" else llama_cpp.GGML_TYPE_F32
    common = dict(model_path=args.model, n_threads=args.threads, n_threads_batch=args.threads, flash_attn=flash,
                  type_k=kv, type_v=kv, verbose=False, seed=0)
    res = {"format": CACHE_FORMAT, "llama_cpp_python": lc.llamacpp_version(),
           "llama_cpp_commit": lc.llamacpp_vendor_commit(), "flash_attn": args.flash_attn, "n_ctx": args.ctx,
           "kv_type": args.kv_type, "threads": args.threads, "repack": not args.no_repack, "system_info": llama_cpp.llama_print_system_info().decode(errors="replace")}
    llm = llama_cpp.Llama(n_ctx=args.ctx, n_batch=args.ctx, n_ubatch=args.ctx, logits_all=True, **common)
    tokens = lc.tokenize(llm, text, True, False)
    res["ppl"], logprobs = llamacpp_ppl(llm, tokens, args.ctx, args.chunks, args.kl)
    del llm
    llm = llama_cpp.Llama(n_ctx=max(512, args.gen_ctx), n_batch=512, n_ubatch=512, logits_all=False, **common)
    res["greedy"] = []
    t0 = time.time()
    for p in prompts:
        ids, gen = llamacpp_greedy(llm, p, args.n_gen)
        res["greedy"].append({"prompt": p, "prompt_ids": ids, "generated_ids": gen,
                              "text": lc.detokenize(llm, gen, False).decode("utf-8", errors="replace")})
    res["greedy_seconds"] = time.time() - t0
    with open(cache_path, "w") as f:
        json.dump(res, f)
    if logprobs is not None:
        np.save(cache_path[:-5] + ".logprobs.npy", logprobs)
    return res


def llamacpp_results(args, text, prompts):
    """llama.cpp's results for these settings, from the cache when present."""
    key = json.dumps({"f": CACHE_FORMAT, "model": lc.sha256_file(args.model),
                      "text": hashlib.sha256(text.encode()).hexdigest(), "prompts": prompts, "ctx": args.ctx,
                      "chunks": args.chunks, "n_gen": args.n_gen, "gen_ctx": args.gen_ctx, "fa": args.flash_attn,
                      "kv": args.kv_type, "threads": args.threads, "v": lc.llamacpp_version(), "kl": args.kl,
                      "no_repack": args.no_repack}, sort_keys=True)
    cache_path = os.path.join(args.cache_dir, "llamacpp-" + hashlib.sha256(key.encode()).hexdigest()[:16] + ".json")
    if os.path.exists(cache_path) and not args.refresh:
        with open(cache_path) as f:
            ref = json.load(f)
        print(f"llama.cpp results (flash attention {args.flash_attn}) from cache {cache_path}", file=sys.stderr)
    else:
        ref = run_llamacpp(args, text, prompts, cache_path)
        print(f"llama.cpp results (flash attention {args.flash_attn}) cached in {cache_path}", file=sys.stderr)
    logprobs = None
    if args.kl and os.path.exists(cache_path[:-5] + ".logprobs.npy"):
        logprobs = np.load(cache_path[:-5] + ".logprobs.npy")
    return ref, logprobs


# ----------------------------------------------------------------------------- vatp side


def run_vatp(args, text_path, prompts, tmp):
    out = {}
    ppl_json = os.path.join(tmp, "ppl.json")
    cmd = [args.vatp, "ppl", "-m", args.model, "-f", text_path, "-c", str(args.ctx), "-t", str(args.threads),
           "--kv-type", args.kv_type,
           "--json", ppl_json]
    if args.chunks > 0:
        cmd += ["--chunks", str(args.chunks)]
    out["ppl_cmd"] = shlex.join(cmd)
    out["ppl_seconds"] = run_cmd(cmd)
    with open(ppl_json) as f:
        out["ppl"] = json.load(f)
    out["greedy"] = []
    for i, p in enumerate(prompts):
        j = os.path.join(tmp, f"run{i}.json")
        cmd = [args.vatp, "run", "-m", args.model, "-p", p, "-n", str(args.n_gen), "--temp", "0",
               "--repeat-penalty", "1", "-t", str(args.threads), "--kv-type", args.kv_type, "--no-stats", "--json", j]
        if i == 0:
            out["run_cmd"] = shlex.join(cmd[:5] + ["PROMPT"] + cmd[6:])
        run_cmd(cmd)
        with open(j) as f:
            out["greedy"].append(json.load(f))
    return out


# ----------------------------------------------------------------------------- comparison


def strip_eog(ids, eog):
    return ids[:-1] if ids and ids[-1] in eog else ids


def compare(ref, vt, eog, logprobs):
    r = {}
    a, b = ref["ppl"], vt["ppl"]
    r["ppl_rel"] = abs(a["ppl"] - b["ppl"]) / a["ppl"]
    n = min(len(a["top1"]), len(b.get("top1", [])))
    r["top1_n"] = n
    r["top1_agree"] = sum(1 for i in range(n) if a["top1"][i] == b["top1"][i]) / n if n else float("nan")
    r["targets_equal"] = a["targets"] == b.get("targets")
    r["n_scored_equal"] = a["n_scored"] == b.get("n_scored")
    if "nll" in b and len(b["nll"]) == len(a["nll"]):
        d = np.abs(np.asarray(a["nll"]) - np.asarray(b["nll"]))
        r["nll_absdiff_mean"], r["nll_absdiff_max"] = float(d.mean()), float(d.max())
    if logprobs is not None and "logprobs" in b:
        # KL(llama.cpp || vatp) per position when vatp dumps full log-probs.
        q = np.asarray(b["logprobs"], dtype=np.float64)
        p = logprobs.astype(np.float64)
        r["kl_mean"] = float((np.exp(p) * (p - q)).sum(axis=1).mean())
    rows = []
    for g_ref, g_v in zip(ref["greedy"], vt["greedy"]):
        x, y = strip_eog(g_ref["generated_ids"], eog), strip_eog(g_v.get("generated_ids", []), eog)
        div = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]), None)
        if div is None and len(x) != len(y):
            div = min(len(x), len(y))
        rows.append({"prompt": g_ref["prompt"], "prompt_equal": g_ref["prompt_ids"] == g_v.get("prompt_ids"),
                     "n_ref": len(g_ref["generated_ids"]), "n_vatp": len(g_v.get("generated_ids", [])),
                     "identical": div is None, "first_divergence": div})
    r["greedy"] = rows
    r["greedy_identical"] = sum(1 for x in rows if x["identical"])
    return r


def md_code(s, limit=48):
    """Text as an inline <code> cell: newlines shown as ↵, HTML-escaped, '|' and '`' as
    entities so that neither the table nor a code span breaks."""
    s = s.replace("\n", "↵")
    s = s if len(s) <= limit else s[:limit - 1] + "…"
    s = html.escape(s).replace("|", "&#124;").replace("`", "&#96;")
    return f"<code>{s}</code>"


def report(args, ref, vt, cmp_, vatp_error, text_desc, calib=None):
    L = []
    L.append(f"## vatp vs llama.cpp: `{os.path.basename(args.model)}`\n")
    L.append(f"- date: {lc.today()}; machine: {lc.cpu_name()}, {os.cpu_count()} logical CPUs; threads: {args.threads}")
    L.append(f"- llama.cpp: llama-cpp-python {ref['llama_cpp_python']} (llama.cpp {ref['llama_cpp_commit'][:12]}), "
             f"CPU build, flash attention {ref['flash_attn']}, KV cache {ref.get('kv_type', 'f16').upper()}, "
             f"weight repacking {'on (default)' if ref.get('repack', True) else 'off (--no-repack)'}")
    L.append(f"- vatp: git {lc.git_revision()}, binary `{args.vatp}`")
    L.append(f"- model sha256: {lc.sha256_file(args.model)[:16]}…; text: {text_desc}")
    p = ref["ppl"]
    L.append(f"- perplexity protocol: n_ctx {args.ctx}, {p['n_chunks']} chunks (text: {p['n_tokens']} tokens), "
             f"{p['n_scored']} scored positions, BOS overwrite {'on' if p['add_bos'] else 'off (vocab add_bos=false)'}")
    if vt is not None:
        L.append(f"- vatp commands: `{vt['ppl_cmd']}`; `{vt['run_cmd']}`")
    L.append("")
    L.append("| metric | llama.cpp | vatp | agreement | target | ok |")
    L.append("|---|---|---|---|---|---|")
    if vt is None:
        L.append(f"| PPL | {p['ppl']:.4f} ± {p['ppl_stderr']:.4f} | n/a | | < 1 % | |")
        L.append(f"| time (s) PPL / greedy | {p['seconds']:.1f} / {ref['greedy_seconds']:.1f} | | | | |")
    else:
        b = vt["ppl"]
        ok = lambda c: "yes" if c else "**NO**"  # noqa: E731
        L.append(f"| PPL | {p['ppl']:.4f} ± {p['ppl_stderr']:.4f} | {b['ppl']:.4f} ± {b.get('ppl_stderr', 0):.4f} | "
                 f"\\|ΔPPL\\|/PPL = {100 * cmp_['ppl_rel']:.3f} % | < 1 % | {ok(cmp_['ppl_rel'] < 0.01)} |")
        L.append(f"| top-1 over scored positions | | | {100 * cmp_['top1_agree']:.2f} % of {cmp_['top1_n']} | ≥ 98 % "
                 f"| {ok(cmp_['top1_agree'] >= 0.98 and cmp_['top1_n'] >= 2000)} |")
        L.append(f"| scored targets identical (tokenization) | {p['n_scored']} | {b.get('n_scored')} | "
                 f"{'yes' if cmp_['targets_equal'] else 'no'} | equal | {ok(cmp_['targets_equal'])} |")
        if "nll_absdiff_mean" in cmp_:
            L.append(f"| per-token NLL \\|Δ\\| mean / max | | | {cmp_['nll_absdiff_mean']:.2e} / "
                     f"{cmp_['nll_absdiff_max']:.2e} | | |")
        if "kl_mean" in cmp_:
            L.append(f"| KL(llama.cpp ‖ vatp) mean | | | {cmp_['kl_mean']:.2e} | | |")
        n_g = len(cmp_["greedy"])
        L.append(f"| greedy {args.n_gen} tokens identical | | | {cmp_['greedy_identical']} / {n_g} | ≥ 8 / 10 | "
                 f"{ok(cmp_['greedy_identical'] >= 8)} |")
        pe = sum(1 for g in cmp_["greedy"] if g["prompt_equal"])
        L.append(f"| prompt tokenizations identical | | | {pe} / {n_g} | all | {ok(pe == n_g)} |")
        L.append(f"| time (s) PPL / greedy | {p['seconds']:.1f} / {ref['greedy_seconds']:.1f} | "
                 f"{vt['ppl_seconds']:.1f} / – | | | |")
    if calib is not None:
        other = "off" if args.flash_attn == "on" else "on"
        L.append(f"| *calibration: llama.cpp FA {args.flash_attn} vs FA {other}* | | | "
                 f"\\|ΔPPL\\|/PPL {100 * calib['ppl_rel']:.3f} %; top-1 {100 * calib['top1_agree']:.2f} %; "
                 f"greedy identical {calib['greedy_identical']} / {len(calib['greedy'])} | | |")
    if vatp_error:
        L.append(f"\nvatp half not run: {vatp_error}")
    L.append("")
    L.append("| # | prompt | llama.cpp continuation | tokens (ref/vatp) | prompt ids equal | first divergence |")
    L.append("|---|---|---|---|---|---|")
    for i, g in enumerate(ref["greedy"]):
        c = cmp_["greedy"][i] if cmp_ else None
        L.append(f"| {i + 1} | {md_code(g['prompt'], 40)} | {md_code(g['text'], 60)} | "
                 + (f"{c['n_ref']}/{c['n_vatp']} | {'yes' if c['prompt_equal'] else '**no**'} | "
                    f"{'identical' if c['identical'] else c['first_divergence']} |" if c else
                    f"{len(g['generated_ids'])}/– | | |"))
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=lc.default_model())
    ap.add_argument("--vatp", default=os.path.join(lc.REPO, "build", "vatp"))
    ap.add_argument("--text", default=DEFAULT_TEXT, help="evaluation text (ignored with --synthetic)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=512, help="perplexity chunk size n_ctx (default 512)")
    ap.add_argument("--chunks", type=int, default=16, help="max chunks, <= 0: all (default 16: 4080 positions)")
    ap.add_argument("--n-gen", type=int, default=32)
    ap.add_argument("--gen-ctx", type=int, default=512, help="llama.cpp context for greedy runs")
    ap.add_argument("--flash-attn", choices=["on", "off"], default="on")
    ap.add_argument("--kv-type", choices=["f16", "f32"], default="f16", help="llama.cpp KV cache type (default f16)")
    ap.add_argument("--calibrate", action="store_true",
                    help="also run llama.cpp with flash attention flipped and report how far llama.cpp moves itself")
    ap.add_argument("--no-repack", action="store_true",
                    help="llama.cpp without extra buffer types (repacked weights), like llama-perplexity --no-repack")
    ap.add_argument("--synthetic", action="store_true", help="random-weight model: random-piece text and prompts")
    ap.add_argument("--synthetic-pieces", type=int, default=6000, help="vocabulary pieces in the synthetic text")
    ap.add_argument("--kl", action="store_true", help="keep llama.cpp log-probs to compute KL if vatp dumps them")
    ap.add_argument("--llamacpp-only", action="store_true", help="compute (or refresh) only the llama.cpp cache")
    ap.add_argument("--refresh", action="store_true", help="recompute llama.cpp results even if cached")
    ap.add_argument("--cache-dir", default=os.path.join(
        os.environ.get("VATP_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "vatp")), "ref"))
    ap.add_argument("--out", help="also write the Markdown report here")
    ap.add_argument("--json-out", help="write all raw results (both sides, comparison) here")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()

    if args.no_repack:
        lc.disable_extra_buffer_types()
    os.makedirs(args.cache_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="vatp-ref-")
    vocab_llm = llama_cpp.Llama(model_path=args.model, vocab_only=True, verbose=False)
    vocab = lc.vocab_of(vocab_llm)
    eog = {i for i in range(llama_cpp.llama_vocab_n_tokens(vocab)) if llama_cpp.llama_vocab_is_eog(vocab, i)}
    if args.synthetic:
        text = synthetic_text(vocab_llm, SYNTH_SEED, args.synthetic_pieces)
        prompts = [synthetic_text(vocab_llm, SYNTH_SEED + 1 + i, 8 + 3 * i) for i in range(10)]
        text_path = os.path.join(tmp, "synthetic.txt")
        with open(text_path, "w", encoding="utf-8") as f:
            f.write(text)
        text_desc = f"synthetic: {args.synthetic_pieces} random vocabulary pieces, seed {SYNTH_SEED}"
    else:
        text_path = args.text
        with open(text_path, encoding="utf-8") as f:
            text = f.read()
        prompts = PROMPTS
        text_desc = f"`{os.path.relpath(text_path, lc.REPO)}`"
    del vocab_llm

    ref, logprobs = llamacpp_results(args, text, prompts)
    calib = None
    if args.calibrate:
        alt = argparse.Namespace(**vars(args))
        alt.flash_attn = "off" if args.flash_attn == "on" else "on"
        alt.kl = False
        other, _ = llamacpp_results(alt, text, prompts)
        calib = compare(ref, other, eog, None)

    vt = cmp_ = None
    vatp_error = None
    if args.llamacpp_only:
        vatp_error = "--llamacpp-only"
    elif not os.path.exists(args.vatp):
        vatp_error = f"binary {args.vatp} not found"
    else:
        try:
            vt = run_vatp(args, text_path, prompts, tmp)
            cmp_ = compare(ref, vt, eog, logprobs)
        except (RuntimeError, OSError, KeyError, ValueError, json.JSONDecodeError) as e:
            vatp_error = str(e)
            vt = cmp_ = None
    md = report(args, ref, vt, cmp_, vatp_error, text_desc, calib)
    print(md)
    if args.out:
        with open(args.out, "w") as f:
            f.write(md)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"llamacpp": ref, "vatp": vt, "compare": cmp_, "calibration": calib, "vatp_error": vatp_error}, f)
    if args.check:
        if cmp_ is None:
            return 1
        good = (cmp_["ppl_rel"] < 0.01 and cmp_["top1_agree"] >= 0.98 and cmp_["top1_n"] >= 2000
                and cmp_["greedy_identical"] >= 8)
        return 0 if good else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
