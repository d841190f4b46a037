#!/usr/bin/env python3
"""Per-layer table of `vatp inspect`'s inspect_summary.json, as used in docs/inspect.md.

Usage: python3 scripts/inspect_table.py OUTDIR/inspect_summary.json [OUTDIR/inspect.csv]
Columns: the strongest sink of each KV head (top-1 by accumulated attention), its share
of the head's attention, its ||v||_1 over the head's median ||v||_1, its ||v||_1
percentile and its rank under acc x ||v||_1 (one value per KV head), then the strong-sink
counts and the top-K percentiles from the summary. With the CSV, a last column gives
each head's largest acc_attn over its median acc_attn.
"""
import collections
import csv
import json
import statistics
import sys


def acc_ratios(path):
    """(layer, head) -> max acc_attn / median acc_attn."""
    acc = collections.defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            acc[(int(row["layer"]), int(row["head"]))].append(float(row["acc_attn"]))
    return {k: max(v) / statistics.median(v) for k, v in acc.items()}


def main() -> None:
    j = json.load(open(sys.argv[1]))
    ratios = acc_ratios(sys.argv[2]) if len(sys.argv) > 2 else None
    n_kv = j["n_kv_heads"]
    print("| layer | top sink (pos `token`) | its share | its ‖v‖₁ / median ‖v‖₁ | its ‖v‖₁ percentile "
          "| its acc×‖v‖₁ rank | heads with strong sinks | … all strong sinks ≤ 25th pct "
          f"| top-{j['sinks_k']} ‖v‖₁ pct (mean / acc-weighted) |" + (" max acc / median acc |" if ratios else ""))
    print("|---|---|---|---|---|---|---|---|---|" + ("---|" if ratios else ""))
    for layer in j["layers"]:
        heads = layer["per_head"]
        top = [h["sinks"][0] for h in heads]
        names = sorted({(s["pos"], s["token"]) for s in top})
        name = ", ".join(f"{p} `{t.strip() or repr(t)}`" for p, t in names)
        share = "/".join(f"{s['share']:.3f}" for s in top)
        ratio = "/".join(f"{s['v_l1'] / h['v_l1_median']:.2f}" for s, h in zip(top, heads))
        pct = "/".join(f"{s['v_l1_percentile']:.1f}" for s in top)
        rank = "/".join(str(s["vatp_rank"]) for s in top)
        extra = ""
        if ratios:
            extra = " " + "/".join(f"{ratios[(layer['layer'], h['head'])]:.0f}" for h in heads) + " |"
        print(f"| {layer['layer']} | {name} | {share} | {ratio} | {pct} | {rank} "
              f"| {layer['heads_with_strong_sinks']}/{n_kv} | {layer['heads_with_small_v_strong_sinks']}/{n_kv} "
              f"| {layer['mean_sink_v_l1_percentile']:.1f} / {layer['mean_sink_v_l1_percentile_weighted']:.1f} |"
              + extra)
    o = j["overall"]
    print(f"\nall heads: {o['heads']}; with strong sinks: {o['heads_with_strong_sinks']}; "
          f"strong sinks all <= 25th percentile: {o['heads_with_small_v_strong_sinks']}; "
          f"all top-{j['sinks_k']} <= 25th percentile: {o['heads_with_small_v_sinks']}")


if __name__ == "__main__":
    main()
