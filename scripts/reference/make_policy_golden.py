#!/usr/bin/env python3
"""Writes tests/data/policy/*.json: small random cases run through the numpy reference of
the official VATP/H2O masking code (vatp_reference.py), with the kept token sets per step.

  python3 scripts/reference/make_policy_golden.py [--out tests/data/policy] [--check]

Fixed seeds; a case whose top-k has a near-tie at some step (relative gap < MIN_MARGIN
between the last kept and the first dropped score) is redrawn with the next seed, so an
fp32 engine must reproduce the sets exactly. --check regenerates in memory and compares
with the committed files (exit 1 on a difference).
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vatp_reference as ref  # noqa: E402

MIN_MARGIN = 1e-4
GRID = 16.0  # inputs are multiples of 1/16: exact in binary, so C++ reads the same numbers

# name, variant, clone_mask, heavy_ratio, sink_len, Hq, Hkv, d, prompt_len, decode_steps
CASES = [
    ("h2o_mha", "h2o", False, 0.25, 0, 2, 2, 8, 96, 12),
    ("h2o_original_mha", "h2o", True, 0.25, 0, 2, 2, 8, 96, 12),
    ("h2o_ratio_half_even", "h2o", False, 0.5, 0, 2, 2, 8, 64, 8),  # budget == L: first eviction at decode
    ("h2o_ratio_half_odd", "h2o", False, 0.5, 0, 2, 2, 8, 65, 8),
    ("vatp_mha", "vatp", False, 0.25, 20, 2, 2, 8, 160, 16),
    ("vatp_sink8", "vatp", False, 0.2, 8, 3, 3, 8, 120, 12),
    ("scissorhands_mha", "scissorhands", False, 0.25, 0, 2, 2, 8, 128, 16),
    ("vatp_scissorhands_mha", "vatp-scissorhands", False, 0.25, 20, 2, 2, 8, 128, 16),
    ("scissorhands_window400", "scissorhands", False, 0.2, 0, 2, 2, 4, 520, 8),
    ("vatp_scissorhands_window400", "vatp-scissorhands", False, 0.2, 20, 2, 2, 4, 520, 8),
    ("vatp_gqa", "vatp", False, 0.25, 8, 4, 2, 8, 100, 10),  # extension: group sum
    ("h2o_gqa", "h2o", False, 0.25, 0, 6, 2, 8, 90, 10),  # extension: group sum
]


def draw(rng, hq, hkv, d, n):
    """Random Q/K/V with some structure: a shared query direction, a sink-like first key
    that attends strongly but carries a small value, and per-token value scales spread over
    roughly e^±1 so that value weighting changes the ranking."""
    mu = rng.normal(size=(hkv, 1, d))
    q = np.repeat(mu, hq // hkv, axis=0) * 0.8 + rng.normal(size=(hq, n, d))
    k = rng.normal(size=(hkv, n, d))
    k[:, 0, :] += 1.5 * mu[:, 0, :]
    scale = np.exp(rng.normal(scale=0.7, size=(hkv, n, 1)))
    v = rng.normal(size=(hkv, n, d)) * scale
    v[:, 0, :] *= 0.1
    g = lambda x: np.round(x * GRID) / GRID  # noqa: E731
    return g(q), g(k), g(v)


def layer_kwargs(variant, clone, ratio, sinks, group, half=False):
    return dict(heavy_ratio=ratio, h2o=variant in ("h2o", "vatp"), applyval=variant.startswith("vatp"),
                sink_len=sinks, clone_mask=clone, group=group, half=half)


def check_invariants(steps, budget, sinks, applyval):
    for i, s in enumerate(steps):
        for h, kept in enumerate(s["kept"]):
            if s["kv_len"] > budget:
                assert len(kept) == budget, (i, h, len(kept), budget)
            else:
                assert kept == list(range(s["kv_len"]))
            if applyval:
                assert all(p in kept for p in range(min(sinks, s["kv_len"]))), "a sink was dropped"
            if i > 0:  # a decode call never brings back an evicted token
                prev = set(steps[i - 1]["kept"][h]) | {s["kv_len"] - 1}
                assert set(kept) <= prev, (i, h, sorted(set(kept) - prev))


def make_case(spec, seed0):
    name, variant, clone, ratio, sinks, hq, hkv, d, L, T = spec
    for seed in range(seed0, seed0 + 200):
        rng = np.random.default_rng(seed)
        q, k, v = draw(rng, hq, hkv, d, L + T)
        kw = layer_kwargs(variant, clone, ratio, sinks, hq // hkv)
        layer, steps = ref.run(q, k, v, L, **kw)
        margins = [s["margin"] for s in steps if s["margin"] is not None]
        if margins and min(margins) < MIN_MARGIN:
            continue
        check_invariants(steps, layer.cache_budget, sinks, kw["applyval"])
        _, half_steps = ref.run(q, k, v, L, **layer_kwargs(variant, clone, ratio, sinks, hq // hkv, half=True))
        fp16_diff = sum(a["kept"] != b["kept"] for a, b in zip(steps, half_steps))
        return dict(
            name=name, variant=variant, clone_mask=clone, heavy_ratio=ratio, sink_len=sinks,
            n_head=hq, n_head_kv=hkv, head_dim=d, prompt_len=L, decode_steps=T, seed=seed,
            heavy=layer.heavy, recent=layer.recent, cache_budget=layer.cache_budget,
            min_margin=min(margins) if margins else None, fp16_steps_differing=fp16_diff,
            q=q.tolist(), k=k.tolist(), v=v.tolist(),
            steps=[dict(kv_len=s["kv_len"], kept=s["kept"], attended_next=s["attended_next"]) for s in steps],
        )
    raise RuntimeError(f"{name}: no seed without near-ties")


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "data", "policy"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    bad = 0
    for i, spec in enumerate(CASES):
        case = make_case(spec, 1000 * (i + 1))
        text = json.dumps(case, separators=(",", ":")) + "\n"
        path = os.path.join(args.out, f"{case['name']}.json")
        if args.check:
            same = os.path.exists(path) and open(path).read() == text
            bad += not same
            print(f"{case['name']}: {'ok' if same else 'DIFFERS'}")
            continue
        with open(path, "w") as f:
            f.write(text)
        print(f"{case['name']}: seed {case['seed']} heavy {case['heavy']} recent {case['recent']} "
              f"min_margin {case['min_margin']:.2e} fp16 steps differing {case['fp16_steps_differing']}"
              f"/{len(case['steps'])} ({len(text)} bytes)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
