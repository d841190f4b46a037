#!/usr/bin/env python3
"""Assembles docs/results.md from the summaries that scripts/results.sh's runs wrote.

Tables come from the runs' own summary.json / fidelity.json files (nothing is typed by
hand); the plots are copied next to the document. The hand-written conclusions live in
docs/results-conclusions.md and are included verbatim.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def times(out):
    t = {}
    p = os.path.join(out, "times.env")
    if os.path.exists(p):
        for line in open(p, encoding="utf-8"):
            k, _, v = line.strip().partition("=")
            if k:
                t[k] = int(v)
    return t


def fmt_s(s):
    return f"{s // 60} min {s % 60:02d} s" if s is not None else "?"


def budget_table(cells, task, policies, budgets):
    at = {(c["policy"], c["budget"]): c for c in cells if c["task"] == task}
    lines = ["| policy | " + " | ".join(f"budget {b}" for b in budgets) + " |",
             "|---|" + "---:|" * len(budgets)]
    for p in policies:
        row = []
        for b in budgets:
            c = at.get((p, "1" if p == "full" else b))
            row.append("–" if c is None or c["n"] == 0 else f"{c['score']:.2f}")
        lines.append(f"| {p} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def logged_seconds(out, key):
    """Sum of the per-run `seconds` in OUT/KEY/runs.jsonl (None if absent)."""
    path = os.path.join(out, key, "runs.jsonl")
    if not os.path.exists(path):
        return None
    total = 0.0
    seen = {}  # run key -> line, as vatp's run log checks: a duplicate would be counted twice
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: invalid JSON: {e}")
            key = tuple(str(rec.get(k)) for k in ("task", "id", "segment", "policy", "budget"))
            if key in seen:
                sys.exit(f"{path}: lines {seen[key]} and {n} hold the same run {key}")
            seen[key] = n
            total += float(rec.get("seconds", 0.0))
    return int(round(total))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--img", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", required=True)
    a = ap.parse_args()

    os.makedirs(a.img, exist_ok=True)
    rel_img = os.path.relpath(a.img, os.path.dirname(a.doc))
    # VATP_REV: the revision of a build made from an export (no .git there).
    rev = os.environ.get("VATP_REV") or subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                                       capture_output=True, text=True).stdout.strip()
    dirty = "" if os.environ.get("VATP_REV") else subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    t = times(a.out)
    md = []
    md.append("# What each KV policy costs in quality: SmolLM2-135M-Instruct\n")
    md.append(f"Produced by `{a.command}` (this file is generated; conclusions are in "
              "docs/results-conclusions.md and included below).\n")
    md.append(f"- revision {rev}{' (with uncommitted changes)' if dirty else ''}, "
              f"{datetime.date.today().isoformat()}, {cpu_name()}, {a.threads} threads")
    md.append(f"- model `{os.path.basename(a.model)}`; f16 KV cache; greedy decoding")
    md.append(f"- runtime of the last invocation: fidelity {fmt_s(t.get('fidelity_seconds'))}, "
              f"RULER {fmt_s(t.get('ruler_seconds'))}, passkey {fmt_s(t.get('passkey_seconds'))}, "
              f"total {fmt_s(t.get('total_seconds'))} (a resumed run counts only its last part); "
              f"summed over every run in the logs (prefill shares included): fidelity "
              f"{fmt_s(logged_seconds(a.out, 'fidelity'))}, RULER {fmt_s(logged_seconds(a.out, 'ruler'))}, "
              f"passkey {fmt_s(logged_seconds(a.out, 'passkey'))}")
    md.append("- budgets are fractions of each prompt (fidelity: of the 1024-token context); "
              "`full` keeps everything and appears once per row.\n")

    conc = os.path.join(os.path.dirname(a.doc), "results-conclusions.md")
    if os.path.exists(conc):
        md.append(open(conc, encoding="utf-8").read().rstrip() + "\n")

    # Fidelity.
    fid = load(os.path.join(a.out, "fidelity", "fidelity.json"))
    md.append("## Fidelity to the full cache (teacher-forced)\n")
    md.append(f"`{fid['command']}` — {fid['segments']} segment(s) of the Jargon File text: "
              f"{fid['context']} tokens prefilled and compressed, then {fid['tokens']} tokens teacher-forced "
              "with each policy evicting on its schedule. KL in nats over the whole vocabulary.\n")
    md.append("| policy | budget | KV kept | positions | mean KL(full‖policy) | ± stderr | max KL | top-1 % | ΔPPL |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in fid["cells"]:
        md.append(f"| {c['policy']} | {c['budget']} | {100 * c['kv_fraction']:.1f}% | {c['positions']} | "
                  f"{c['kl_mean']:.4f} | {c['kl_stderr']:.4f} | {c['kl_max']:.3f} | {c['top1']:.2f} | "
                  f"{c['ppl'] - c['ppl_full']:+.3f} |")
    ppl_full = fid["cells"][0]["ppl_full"] if fid["cells"] else 0
    md.append(f"\nPPL of the full cache over these positions: {ppl_full:.3f}.\n")
    for name in ("fidelity_kl.svg", "fidelity_top1.svg"):
        src = os.path.join(a.out, "fidelity", name)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(a.img, name))
            md.append(f"![{name}]({rel_img}/{name})")
    md.append("")

    # Generation tasks.
    for key, title in (("ruler", "RULER (string_match_all × 100)"), ("passkey", "Passkey retrieval (accuracy %)")):
        s = load(os.path.join(a.out, key, "summary.json"))
        cells = s["cells"]
        tasks, policies, budgets = [], [], []
        for c in cells:
            if c["task"] not in tasks:
                tasks.append(c["task"])
            if c["policy"] not in policies:
                policies.append(c["policy"])
            if c["policy"] != "full" and c["budget"] not in budgets:
                budgets.append(c["budget"])
        n = max((c["n"] for c in cells), default=0)
        md.append(f"## {title}\n")
        md.append(f"`{s['command']}` — {n} samples per task.\n")
        if len(tasks) > 1:
            mean_cells = []
            for p in policies:
                for b in (["1"] if p == "full" else budgets):
                    vals = [c["score"] for c in cells if c["policy"] == p and c["budget"] == b and c["n"] > 0]
                    if len(vals) == len(tasks):
                        mean_cells.append({"task": "mean", "policy": p, "budget": b, "n": 1,
                                           "score": sum(vals) / len(vals)})
            md.append("Mean over the tasks:\n")
            md.append(budget_table(mean_cells, "mean", policies, budgets) + "\n")
        for task in tasks:
            md.append(f"### {task}\n")
            md.append(budget_table(cells, task, policies, budgets) + "\n")
            svg = os.path.join(a.out, key, f"score_{task}.svg")
            if os.path.exists(svg):
                name = f"{key}_{task}.svg"
                shutil.copy(svg, os.path.join(a.img, name))
                md.append(f"![{task}]({rel_img}/{name})\n")

    with open(a.doc, "w", encoding="utf-8") as f:
        f.write("\n".join(md).rstrip() + "\n")


if __name__ == "__main__":
    sys.exit(main())
