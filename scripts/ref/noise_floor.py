#!/usr/bin/env python3
"""How far float summation order alone moves vatp: the same model, text and prompts run
with two kernel tables of vatp itself (default: the scalar reference kernels vs the
best SIMD ones, `--isa`), reporting the metrics of compare_llamacpp.py — top-1 agreement
over the perplexity positions and greedy continuations identical for N tokens.

The two runs differ only in the order in which float sums are taken (the integer
block sums, the quantizers and every other op are identical), so this is the noise
floor of those metrics on a given model: a reference implementation that is not bit-for-
bit identical cannot be expected to agree more closely than this.

  python3 scripts/ref/noise_floor.py --vatp build/vatp [--isa-a scalar --isa-b avx512]
      [--chunks 16] [--kv-type f16] [--out report.md]
Needs only python3 and a vatp binary (no llama.cpp).
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from ref_common import PROMPTS, run_cmd  # noqa: E402  (shared with compare_llamacpp.py)


def side(args, isa, tmp):
    out = {"isa": isa}
    j = os.path.join(tmp, f"ppl-{isa}.json")
    cmd = [args.vatp, "ppl", "-m", args.model, "-f", args.text, "-c", str(args.ctx), "-t", str(args.threads),
           "--kv-type", args.kv_type, "--isa", isa, "--chunks", str(args.chunks), "--json", j]
    out["ppl_cmd"] = shlex.join(cmd)
    out["ppl_seconds"] = run_cmd(cmd)
    with open(j) as f:
        out["ppl"] = json.load(f)
    out["greedy"] = []
    for i, p in enumerate(PROMPTS):
        j = os.path.join(tmp, f"run-{isa}-{i}.json")
        run_cmd([args.vatp, "run", "-m", args.model, "-p", p, "-n", str(args.n_gen), "--temp", "0", "--repeat-penalty",
             "1", "-t", str(args.threads), "--kv-type", args.kv_type, "--isa", isa, "--no-stats", "--json", j])
        with open(j) as f:
            out["greedy"].append(json.load(f))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vatp", default=os.path.join(REPO, "build", "vatp"))
    ap.add_argument("--model", default=os.environ.get("VATP_MODEL") or os.path.join(
        os.path.expanduser("~"), ".cache", "vatp", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--text", default=os.path.join(REPO, "tests", "data", "jargon-4.4.7-prose.txt"))
    ap.add_argument("--isa-a", default="scalar")
    ap.add_argument("--isa-b", default="avx512")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=16)
    ap.add_argument("--n-gen", type=int, default=32)
    ap.add_argument("--kv-type", default="f16")
    ap.add_argument("--out", help="also write the Markdown report here")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="vatp-noise-")
    a, b = side(args, args.isa_a, tmp), side(args, args.isa_b, tmp)
    if a["ppl"]["targets"] != b["ppl"]["targets"]:
        raise SystemExit("the two runs scored different targets")
    t1a, t1b = a["ppl"]["top1"], b["ppl"]["top1"]
    agree = sum(x == y for x, y in zip(t1a, t1b))
    same, firsts = 0, []
    for ga, gb in zip(a["greedy"], b["greedy"]):
        ta, tb = ga["generated_ids"], gb["generated_ids"]
        if ta == tb:
            same += 1
            firsts.append("–")
        else:
            firsts.append(str(next((k for k, (x, y) in enumerate(zip(ta, tb)) if x != y), min(len(ta), len(tb)))))
    pa, pb = a["ppl"]["ppl"], b["ppl"]["ppl"]
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
    md = [f"## vatp `--isa {args.isa_a}` vs `--isa {args.isa_b}`: `{os.path.basename(args.model)}`", "",
          f"- date: {time.strftime('%Y-%m-%d')}; vatp git {rev}; threads {args.threads}; KV cache {args.kv_type}; "
          f"text `{os.path.relpath(args.text, REPO)}`, n_ctx {args.ctx}, {args.chunks} chunks",
          f"- commands: `{a['ppl_cmd']}` and the same with `--isa {args.isa_b}`; greedy: `vatp run -p PROMPT -n "
          f"{args.n_gen} --temp 0 --repeat-penalty 1 --isa ISA` on the 10 prompts of compare_llamacpp.py", "",
          "| metric | value |", "|---|---|",
          f"| PPL {args.isa_a} / {args.isa_b} | {pa:.4f} / {pb:.4f} (\\|Δ\\|/PPL = {abs(pa - pb) / pb * 100:.3f} %) |",
          f"| top-1 agreement | {agree / len(t1a) * 100:.2f} % of {len(t1a)} |",
          f"| greedy {args.n_gen} tokens identical | {same} / {len(PROMPTS)} (first divergences: {', '.join(firsts)}) |",
          f"| time (s) PPL {args.isa_a} / {args.isa_b} | {a['ppl_seconds']:.1f} / {b['ppl_seconds']:.1f} |", ""]
    text = "\n".join(md)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
